#include "data/png.h"

#include <string>

#include "data/image_grid.h"
#include "data/pixels.h"
#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::data {
namespace {

torch::Tensor RandomPixels(std::vector<int64_t> shape, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, 256, shape, torch::kUInt8);
}

TEST(PngTest, RoundTripGrayAndRgb) {
  for (int64_t c : {1, 3}) {
    torch::Tensor img = RandomPixels({c, 17, 23}, 7 + c);
    const std::string path = ::testing::TempDir() + "/rt" + std::to_string(c) + ".png";
    ASSERT_TRUE(WritePng(path, img).ok());
    absl::StatusOr<torch::Tensor> back = ReadPng(path);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(torch::equal(*back, img)) << "channels " << c;
  }
}

TEST(PngTest, EncodeDecodeInMemory) {
  torch::Tensor img = RandomPixels({3, 5, 4}, 3);
  absl::StatusOr<std::string> bytes = EncodePng(img);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->substr(1, 3), "PNG");
  absl::StatusOr<torch::Tensor> back = DecodePng(*bytes, "mem");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(torch::equal(*back, img));
}

TEST(PngTest, PixelFloatRoundTrip) {
  torch::Tensor img = torch::arange(256, torch::kInt64).to(torch::kUInt8).reshape({1, 16, 16});
  torch::Tensor x = PixelsToFloat(img);
  EXPECT_FLOAT_EQ(x.min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(x.max().item<float>(), 1.0f);
  EXPECT_TRUE(torch::equal(FloatToPixels(x), img));
  EXPECT_EQ(FloatToPixels(torch::full({1}, 7.0f)).item<uint8_t>(), 255);  // clamps
}

TEST(PngTest, ErrorsNameTheFile) {
  const std::string dir = ::testing::TempDir();
  absl::StatusOr<torch::Tensor> missing = ReadPng(dir + "/does_not_exist.png");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("does_not_exist.png"), std::string::npos);

  ASSERT_TRUE(util::WriteFileAtomically(dir + "/text.png", "hello, not a png").ok());
  absl::StatusOr<torch::Tensor> bad = ReadPng(dir + "/text.png");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("text.png: not a PNG"), std::string::npos) << bad.status();

  // A valid file cut short: header intact, image data missing.
  absl::StatusOr<std::string> bytes = EncodePng(RandomPixels({3, 32, 32}, 1));
  ASSERT_TRUE(bytes.ok());
  for (size_t keep : {size_t{8}, size_t{40}, bytes->size() / 2, bytes->size() - 13}) {
    absl::StatusOr<torch::Tensor> cut = DecodePng(bytes->substr(0, keep), "cut.png");
    EXPECT_FALSE(cut.ok()) << "kept " << keep << " of " << bytes->size();
    if (!cut.ok()) {
      EXPECT_NE(cut.status().message().find("cut.png"), std::string::npos);
    }
  }
  // Corrupted data: flip bytes inside the IDAT chunk (CRC then fails).
  std::string corrupt = *bytes;
  for (size_t i = 60; i < 70; ++i) corrupt[i] ^= 0x5a;
  EXPECT_FALSE(DecodePng(corrupt, "corrupt.png").ok());
}

TEST(PngTest, RejectsWrongTensors) {
  const std::string path = ::testing::TempDir() + "/never_written.png";
  EXPECT_FALSE(WritePng(path, torch::zeros({2, 4, 4}, torch::kUInt8)).ok());
  EXPECT_FALSE(WritePng(path, torch::zeros({3, 4, 4}, torch::kFloat32)).ok());
  EXPECT_FALSE(WritePng(path, torch::zeros({4, 4}, torch::kUInt8)).ok());
  EXPECT_EQ(util::ReadFileToString(path).status().code(), absl::StatusCode::kNotFound) << "partial output left behind";
}

TEST(ImageGridTest, TilesInRowMajorOrder) {
  torch::Tensor batch = torch::empty({5, 1, 2, 3}, torch::kUInt8);
  for (int i = 0; i < 5; ++i) batch[i].fill_(10 * (i + 1));
  GridOptions opt;
  opt.columns = 3;
  opt.padding = 1;
  opt.pad_value = 255;
  opt.min_tile = 0;
  torch::Tensor grid = MakeImageGrid(batch, opt);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{1, 2 * 3 + 1, 3 * 4 + 1}));
  EXPECT_EQ(grid[0][1][1].item<uint8_t>(), 10);   // tile 0 at (1,1)
  EXPECT_EQ(grid[0][1][5].item<uint8_t>(), 20);   // tile 1 at (1,5)
  EXPECT_EQ(grid[0][4][5].item<uint8_t>(), 50);   // tile 4: row 1, col 1
  EXPECT_EQ(grid[0][4][9].item<uint8_t>(), 255);  // empty slot is padding
  EXPECT_EQ(grid[0][0][0].item<uint8_t>(), 255);

  const std::string path = ::testing::TempDir() + "/grid.png";
  ASSERT_TRUE(WriteImageGrid(path, batch, opt).ok());
  absl::StatusOr<torch::Tensor> back = ReadPng(path);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(torch::equal(*back, grid));
}

// Small tiles are upscaled by an integer factor, nearest neighbour, so a
// person can see them: 8×8 → 64×64, 28×28 → 84×84, 64×64 as it is.
TEST(ImageGridTest, SmallTilesAreUpscaledNearest) {
  EXPECT_EQ(GridScale(8, 8, 64), 8);
  EXPECT_EQ(GridScale(28, 28, 64), 3);
  EXPECT_EQ(GridScale(64, 64, 64), 1);
  EXPECT_EQ(GridScale(16, 33, 64), 4);  // the shorter side counts
  EXPECT_EQ(GridScale(8, 8, 0), 1);
  torch::Tensor batch = torch::arange(2 * 4, torch::kUInt8).reshape({2, 1, 2, 2});
  GridOptions opt;
  opt.columns = 2;
  opt.padding = 0;
  opt.min_tile = 6;  // 2×2 tiles → 6×6
  torch::Tensor grid = MakeImageGrid(batch, opt);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{1, 6, 12}));
  for (int64_t y = 0; y < 6; ++y) {
    for (int64_t x = 0; x < 12; ++x) {
      const int64_t tile = x / 6, src_y = y / 3, src_x = (x % 6) / 3;
      EXPECT_EQ(grid[0][y][x].item<uint8_t>(), batch[tile][0][src_y][src_x].item<uint8_t>()) << y << "," << x;
    }
  }
}

}  // namespace
}  // namespace diffmem::data
