#include "data/idx.h"

#include <zlib.h>

#include <string>

#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::data {
namespace {

std::string IdxBytes(std::vector<uint32_t> dims, const std::string& payload, uint8_t type = 0x08) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return out + payload;
}

std::string WritePlain(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  EXPECT_TRUE(util::WriteFileAtomically(path, bytes).ok());
  return path;
}

std::string WriteGzip(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(gzwrite(f, bytes.data(), bytes.size()), static_cast<int>(bytes.size()));
  gzclose(f);
  return path;
}

TEST(IdxTest, ReadsPlainAndGzipImagesAndLabels) {
  std::string pixels;
  for (int i = 0; i < 2 * 3 * 4; ++i) pixels.push_back(static_cast<char>(i * 10));
  for (bool gz : {false, true}) {
    const std::string img = IdxBytes({2, 3, 4}, pixels), lab = IdxBytes({2}, std::string{"\x07\x02", 2});
    const std::string ip = gz ? WriteGzip("i.gz", img) : WritePlain("i.idx", img);
    const std::string lp = gz ? WriteGzip("l.gz", lab) : WritePlain("l.idx", lab);
    absl::StatusOr<Dataset> ds = ReadIdxDataset(ip, lp);
    ASSERT_TRUE(ds.ok()) << ds.status();
    ASSERT_EQ(ds->images.sizes(), (std::vector<int64_t>{2, 1, 3, 4}));
    EXPECT_EQ(ds->images[1][0][2][3].item<uint8_t>(), 230);  // element 23
    EXPECT_EQ(ds->labels[0].item<int64_t>(), 7);
    EXPECT_EQ(ds->num_classes, 8);
    EXPECT_TRUE(ValidateDataset(*ds).ok());
  }
}

void ExpectError(const std::string& path, const std::string& fragment) {
  absl::StatusOr<IdxArray> a = ReadIdx(path);
  ASSERT_FALSE(a.ok()) << path;
  EXPECT_NE(a.status().message().find(path), std::string::npos) << a.status();
  EXPECT_NE(a.status().message().find(fragment), std::string::npos) << a.status();
}

TEST(IdxTest, CorruptFilesGiveClearErrors) {
  ExpectError(::testing::TempDir() + "/missing.idx", "cannot open");
  ExpectError(WritePlain("magic.idx", "\x01\x02\x08\x01\x00\x00\x00\x01x"), "wrong magic");
  ExpectError(WritePlain("type.idx", IdxBytes({1}, "abcd", 0x0d)), "element type");
  ExpectError(WritePlain("short_header.idx", std::string("\0\0\x08", 3)), "truncated");
  ExpectError(WritePlain("short_dims.idx", std::string("\0\0\x08\x03\0\0\0\x02", 8)), "truncated");
  ExpectError(WritePlain("short_data.idx", IdxBytes({2, 3, 4}, "only a few")),
              "file too short for its header's counts (2x3x4 = 24 bytes of data, the file has 10)");
  ExpectError(WriteGzip("short_data.gz", IdxBytes({2, 3, 4}, "only a few")), "file too short");
  ExpectError(WritePlain("extra.idx", IdxBytes({2}, "abc")), "trailing bytes");
  ExpectError(WritePlain("zero.idx", IdxBytes({0, 3}, "")), "IDX dimension 0 (axis 0)");
  // A header that claims 2^31 images of 28×28 in a 100-byte file: the file is short, whatever the counts.
  ExpectError(WritePlain("claims.idx", IdxBytes({0x80000000u, 28, 28}, std::string(100 - 16, 'x'))),
              "file too short for its header's counts (2147483648x28x28 = 1683627180032 bytes of data, the file has 84)");
  ExpectError(WritePlain("huge.idx", IdxBytes({0xffffffff, 0xffffffff, 0xffffffff}, "")), "over 2^64");
  // A gzip stream whose compressed bytes are damaged.
  const std::string good = WriteGzip("damaged.gz", IdxBytes({64, 64}, std::string(4096, 'z')));
  absl::StatusOr<std::string> bytes = util::ReadFileToString(good);
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  for (size_t i = 12; i < damaged.size() - 8; ++i) damaged[i] ^= 0x33;
  const std::string bad = WritePlain("damaged2.gz", damaged);
  EXPECT_FALSE(ReadIdx(bad).ok());
}

TEST(IdxTest, WrongRankForRole) {
  const std::string p = WritePlain("labels_as_images.idx", IdxBytes({3}, "abc"));
  absl::StatusOr<torch::Tensor> img = ReadIdxImages(p);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.status().message().find("expected 3 dimensions"), std::string::npos);
  const std::string q = WritePlain("img3.idx", IdxBytes({3, 1, 1}, "abc"));
  const std::string l2 = WritePlain("lab2.idx", IdxBytes({2}, "ab"));
  absl::StatusOr<Dataset> ds = ReadIdxDataset(q, l2);
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("2 labels for 3 images"), std::string::npos) << ds.status();
}

TEST(IdxTest, RealFashionMnist) {
  absl::StatusOr<Dataset> train = ReadFashionMnist("train");
  ASSERT_TRUE(train.ok()) << train.status() << " (run ./setup.sh: dataset-fashion-mnist)";
  ASSERT_EQ(train->images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train->num_classes, 10);
  torch::Tensor counts = torch::bincount(train->labels);
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c].item<int64_t>(), 6000) << "class " << c;
  // Known facts of the data: the first training label is 9 (ankle boot), and
  // pixels span the full range.
  EXPECT_EQ(train->labels[0].item<int64_t>(), 9);
  EXPECT_EQ(train->images.max().item<uint8_t>(), 255);
  EXPECT_EQ(train->images.min().item<uint8_t>(), 0);
  absl::StatusOr<Dataset> test = ReadFashionMnist("t10k");
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->size(), 10000);
  EXPECT_FALSE(ReadFashionMnist("validation").ok());
}

}  // namespace
}  // namespace diffmem::data
