#include "util/atomic_file.h"

#include <dirent.h>

#include <string>

#include "gtest/gtest.h"

namespace diffmem::util {
namespace {

int CountEntries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
  closedir(d);
  return n;
}

TEST(AtomicFileTest, WritesAndReplaces) {
  const std::string dir = ::testing::TempDir() + "/atomic_replace";
  ASSERT_EQ(::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()), 0);
  const std::string path = dir + "/f.bin";
  ASSERT_TRUE(util::WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(util::WriteFileAtomically(path, std::string("sec\0ond", 7)).ok());
  absl::StatusOr<std::string> got = util::ReadFileToString(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::string("sec\0ond", 7));
  EXPECT_EQ(CountEntries(dir), 1) << "a temporary file was left behind";
}

TEST(AtomicFileTest, MissingDirectoryIsAClearError) {
  absl::Status s = util::WriteFileAtomically("/nonexistent_dir_for_diffmem/x.png", "data");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent_dir_for_diffmem/x.png"), std::string::npos) << s;
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s;
}

TEST(AtomicFileTest, MissingFileReadIsNotFound) {
  absl::StatusOr<std::string> got = util::ReadFileToString("/nonexistent_dir_for_diffmem/x.png");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace diffmem::data
