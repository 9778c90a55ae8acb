// End-to-end test of //tools:make_dataset: the binary's zip reads back as the
// same data set the library builds in-process, and bad flags fail cleanly
// without leaving an output file. The binary's path is the first argument.

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "data/zip_dataset.h"
#include "gtest/gtest.h"

namespace {

std::string g_tool;  // set by main

int RunTool(const std::string& flags) {
  const std::string cmd = absl::StrCat(g_tool, " --threads=2 ", flags, " 2>/dev/null");
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

TEST(MakeDatasetTest, WritesAZipThatReadsBackAsTheSameDataSet) {
  const std::string out = ::testing::TempDir() + "/fm200.zip";
  ASSERT_EQ(RunTool("--data=fashion-mnist:t10k --n=200 --subset=balanced --pad=2 --resolution=8 --labels=random "
                    "--label_classes=4 --data_seed=3 --out=" + out),
            0);
  absl::StatusOr<diffmem::data::Dataset> back = diffmem::data::ReadZipDataset(out);
  ASSERT_TRUE(back.ok()) << back.status();
  diffmem::data::DataFactors f;
  f.n = 200;
  f.subset = "balanced";
  f.pad = 2;
  f.resolution = 8;
  f.labels = "random";
  f.label_classes = 4;
  f.seed = 3;
  absl::StatusOr<diffmem::data::Dataset> ref = diffmem::data::LoadDataset("fashion-mnist:t10k", f);
  ASSERT_TRUE(ref.ok()) << ref.status();
  ASSERT_EQ(back->images.sizes(), ref->images.sizes());
  EXPECT_TRUE(torch::equal(back->images, ref->images));
  EXPECT_TRUE(torch::equal(back->labels, ref->labels));
  EXPECT_EQ(back->num_classes, 4);
}

TEST(MakeDatasetTest, BadFlagsExitNonZeroAndWriteNothing) {
  const std::string dir = ::testing::TempDir();
  const std::string cases[] = {
      "--subset=bogus --out=" + dir + "/bad1.zip",
      "--no_such_flag=1 --out=" + dir + "/bad2.zip",
      "--data=fashion-mnist:t10k --n=10010 --subset=balanced --out=" + dir + "/bad3.zip",  // 1001 per class
      "--data=fashion-mnist:t10k --resolution=5 --out=" + dir + "/bad4.zip",
      "--data=" + dir + "/missing.zip --out=" + dir + "/bad5.zip",
      "--labels=random --out=" + dir + "/bad6.zip",  // no --label_classes
  };
  for (int i = 0; i < 6; ++i) {
    EXPECT_NE(RunTool(cases[i]), 0) << cases[i];
    EXPECT_FALSE(Exists(absl::StrCat(dir, "/bad", i + 1, ".zip"))) << cases[i];
  }
  EXPECT_NE(RunTool("--data=fashion-mnist:t10k --n=10 --out=" + dir + "/not_a_zip.png"), 0);
  EXPECT_FALSE(Exists(dir + "/not_a_zip.png"));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_dataset_test PATH_TO_MAKE_DATASET\n");
    return 2;
  }
  g_tool = argv[1];
  return RUN_ALL_TESTS();
}
