#include "data/cifar10.h"

#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::data {
namespace {

// Pixel byte of record `r` (global index), channel c, row y, column x.
uint8_t PixelOf(int r, int c, int y, int x) { return static_cast<uint8_t>(r * 31 + c * 101 + y * 7 + x * 3); }

// Writes CIFAR-10 binary records by hand: label byte, then R, G, B planes.
std::string Records(int first, const std::vector<int>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back(static_cast<char>(labels[i]));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) out.push_back(static_cast<char>(PixelOf(first + i, c, y, x)));
  }
  return out;
}

std::string NewDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void ExpectRecords(const Dataset& ds, int first, const std::vector<int>& labels) {
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{static_cast<int64_t>(labels.size()), 3, 32, 32}));
  ASSERT_EQ(ds.labels.size(0), static_cast<int64_t>(labels.size()));
  EXPECT_EQ(ds.num_classes, 10);
  auto img = ds.images.accessor<uint8_t, 4>();
  for (size_t i = 0; i < labels.size(); ++i) {
    EXPECT_EQ(ds.labels[i].item<int64_t>(), labels[i]);
    int wrong = 0;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) wrong += img[i][c][y][x] != PixelOf(first + i, c, y, x);
    EXPECT_EQ(wrong, 0) << "record " << i;
  }
  EXPECT_TRUE(ValidateDataset(ds).ok());
}

TEST(Cifar10Test, ReadsHandMadeBatchFile) {
  const std::string path = NewDir("one") + "/data_batch_1.bin";
  ASSERT_TRUE(util::WriteFileAtomically(path, Records(0, {0, 9, 4})).ok());
  absl::StatusOr<Dataset> ds = ReadCifar10Batch(path);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ExpectRecords(*ds, 0, {0, 9, 4});
}

TEST(Cifar10Test, ReadsTrainBatchesInOrderAndTheTestBatch) {
  const std::string dir = NewDir("split");
  const std::vector<std::vector<int>> batches = {{1, 2}, {3}, {4, 5, 6}, {7}, {8, 9}};
  std::vector<int> all;
  int first = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    ASSERT_TRUE(
        util::WriteFileAtomically(absl::StrCat(dir, "/data_batch_", b + 1, ".bin"), Records(first, batches[b])).ok());
    first += batches[b].size();
    all.insert(all.end(), batches[b].begin(), batches[b].end());
  }
  ASSERT_TRUE(util::WriteFileAtomically(dir + "/test_batch.bin", Records(100, {5, 0})).ok());
  absl::StatusOr<Dataset> train = ReadCifar10(dir);
  ASSERT_TRUE(train.ok()) << train.status();
  ExpectRecords(*train, 0, all);
  absl::StatusOr<Dataset> test = ReadCifar10(dir, "test");
  ASSERT_TRUE(test.ok()) << test.status();
  ExpectRecords(*test, 100, {5, 0});
  EXPECT_FALSE(ReadCifar10(dir, "validation").ok());
}

void ExpectError(const absl::StatusOr<Dataset>& ds, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(ds.ok());
  for (const std::string& f : fragments) {
    EXPECT_NE(ds.status().message().find(f), std::string::npos) << "missing '" << f << "' in " << ds.status();
  }
}

TEST(Cifar10Test, BadFilesGiveClearErrors) {
  const std::string dir = NewDir("bad");
  const std::string short_path = dir + "/short.bin";
  ASSERT_TRUE(util::WriteFileAtomically(short_path, Records(0, {1, 2}).substr(0, 3073 + 100)).ok());
  ExpectError(ReadCifar10Batch(short_path), {short_path, "3173", "multiple of 3073"});
  const std::string empty = dir + "/empty.bin";
  ASSERT_TRUE(util::WriteFileAtomically(empty, "").ok());
  ExpectError(ReadCifar10Batch(empty), {empty, "multiple of 3073"});
  const std::string label = dir + "/label.bin";
  ASSERT_TRUE(util::WriteFileAtomically(label, Records(0, {3, 10, 1})).ok());
  ExpectError(ReadCifar10Batch(label), {label, "record 1", "label 10"});
  ExpectError(ReadCifar10Batch(dir + "/absent.bin"), {dir + "/absent.bin", "cannot open"});
  // A training directory missing one batch names the missing file.
  for (int b : {1, 2, 4, 5}) {
    ASSERT_TRUE(util::WriteFileAtomically(absl::StrCat(dir, "/data_batch_", b, ".bin"), Records(0, {1})).ok());
  }
  ExpectError(ReadCifar10(dir), {dir + "/data_batch_3.bin", "cannot open"});
}

}  // namespace
}  // namespace diffmem::data
