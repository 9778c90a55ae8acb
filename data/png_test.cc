#include "data/png.h"

#include <string>

#include "data/image_grid.h"
#include "data/pixels.h"
#include "data/testing/crafted_png.h"
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

using testing::CraftedPng;
using testing::CraftPng;

// Decodes crafted bytes, failing the test on an error.
torch::Tensor Decode(const CraftedPng& p) {
  const std::string bytes = CraftPng(p);
  EXPECT_FALSE(bytes.empty()) << "libpng refused the crafted PNG";
  absl::StatusOr<torch::Tensor> img = DecodePng(bytes, "crafted.png");
  EXPECT_TRUE(img.ok()) << img.status();
  return img.ok() ? *img : torch::Tensor();
}

// 16-bit samples are scaled, not gamma-corrected: v → round(v·255/65535),
// computed here in integers (v·255/65535 is never exactly halfway).
TEST(PngTest, SixteenBitGrayIsScaledAsStored) {
  CraftedPng p;
  p.width = 256;
  p.height = 256;
  p.bit_depth = 16;
  for (uint32_t v = 0; v < 65536; ++v) p.samples.push_back(static_cast<uint16_t>(v));
  torch::Tensor img = Decode(p);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{1, 256, 256}));
  const uint8_t* got = img.data_ptr<uint8_t>();
  int wrong = 0;
  for (uint32_t v = 0; v < 65536; ++v) wrong += got[v] != (v * 255 + 32767) / 65535;
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(got[32809], 128);  // the values a gamma curve turned into 186 and 175
  EXPECT_EQ(got[28767], 112);
}

TEST(PngTest, GammaAndSrgbChunksAreIgnored) {
  CraftedPng p;
  p.width = 256;
  for (int v = 0; v < 256; ++v) p.samples.push_back(v);
  torch::Tensor expected = torch::arange(256, torch::kInt64).to(torch::kUInt8).reshape({1, 1, 256});
  for (double gamma : {1.0, 0.45455, 2.2}) {
    p.gamma = gamma;
    EXPECT_TRUE(torch::equal(Decode(p), expected)) << "gAMA " << gamma;
  }
  p.gamma.reset();
  p.srgb = true;
  EXPECT_TRUE(torch::equal(Decode(p), expected)) << "sRGB";

  CraftedPng rgb;  // 16-bit RGB with gAMA 1.0
  rgb.width = 2;
  rgb.color_type = PNG_COLOR_TYPE_RGB;
  rgb.bit_depth = 16;
  rgb.gamma = 1.0;
  rgb.samples = {32809, 28767, 65535, 0, 257, 384};
  torch::Tensor img = Decode(rgb);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_TRUE(torch::equal(img.permute({1, 2, 0}).reshape({6}),
                           torch::tensor({128, 112, 255, 0, 1, 1}, torch::kInt64).to(torch::kUInt8)));
}

// Alpha is dropped: the stored colour comes back, not the colour on black.
TEST(PngTest, AlphaIsDroppedNotComposited) {
  CraftedPng ga;
  ga.width = 2;
  ga.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  ga.samples = {200, 0, 100, 128};
  torch::Tensor gray = Decode(ga);
  EXPECT_TRUE(torch::equal(gray, torch::tensor({200, 100}, torch::kInt64).to(torch::kUInt8).reshape({1, 1, 2})));

  CraftedPng rgba;
  rgba.width = 2;
  rgba.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  rgba.bit_depth = 16;
  rgba.samples = {65535, 32809, 0, 0, 257, 514, 771, 65535};
  torch::Tensor rgb = Decode(rgba);
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_TRUE(torch::equal(rgb.permute({1, 2, 0}).reshape({6}),
                           torch::tensor({255, 128, 0, 1, 2, 3}, torch::kInt64).to(torch::kUInt8)));
}

TEST(PngTest, PalettesBecomeRgbAndTransparencyIsDropped) {
  CraftedPng p;
  p.width = 4;
  p.color_type = PNG_COLOR_TYPE_PALETTE;
  p.bit_depth = 2;
  p.palette = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}, {255, 0, 128}};
  p.palette_alpha = {0, 128};
  p.samples = {3, 0, 1, 2};
  torch::Tensor img = Decode(p);
  ASSERT_EQ(img.sizes(), (std::vector<int64_t>{3, 1, 4}));
  EXPECT_TRUE(torch::equal(img.permute({1, 2, 0}).reshape({12}),
                           torch::tensor({255, 0, 128, 10, 20, 30, 40, 50, 60, 70, 80, 90}, torch::kInt64)
                               .to(torch::kUInt8)));
}

TEST(PngTest, LowBitGrayIsScaledToFullRange) {
  for (int depth : {1, 2, 4}) {
    CraftedPng p;
    const int top = (1 << depth) - 1;
    p.width = top + 1;
    p.bit_depth = depth;
    for (int v = 0; v <= top; ++v) p.samples.push_back(v);
    torch::Tensor img = Decode(p);
    ASSERT_EQ(img.numel(), top + 1);
    for (int v = 0; v <= top; ++v) EXPECT_EQ(img.flatten()[v].item<uint8_t>(), v * 255 / top) << depth << "-bit " << v;
  }
}

TEST(PngTest, InterlacedImagesDecodeLikeProgressiveOnes) {
  CraftedPng p;
  p.width = 13;
  p.height = 11;
  p.color_type = PNG_COLOR_TYPE_RGB;
  for (int i = 0; i < 13 * 11 * 3; ++i) p.samples.push_back((i * 37) % 256);
  torch::Tensor plain = Decode(p);
  p.interlaced = true;
  EXPECT_TRUE(torch::equal(Decode(p), plain));
}

TEST(PngTest, PeekReadsTheHeaderAndBoundsTheFileSize) {
  CraftedPng p;
  p.width = 28;
  p.height = 20;
  p.bit_depth = 16;
  p.samples.assign(28 * 20, 1000);
  const std::string bytes = CraftPng(p);
  absl::StatusOr<PngHeader> h = PeekPngHeader(bytes.substr(0, kPngHeaderBytes), "a.png");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->width, 28u);
  EXPECT_EQ(h->height, 20u);
  EXPECT_EQ(h->bit_depth, 16);
  EXPECT_EQ(h->color_type, PNG_COLOR_TYPE_GRAY);
  EXPECT_EQ(MaxPngBytes(*h), 2 * 20 * (1 + 28 * 2) + (1 << 20));
  EXPECT_LE(static_cast<int64_t>(bytes.size()), MaxPngBytes(*h));

  EXPECT_NE(PeekPngHeader(std::string(40, '\0'), "zeros.png").status().message().find("zeros.png: not a PNG file"),
            std::string::npos);
  std::string bad_depth = bytes;
  bad_depth[24] = 3;  // IHDR bit depth 3
  EXPECT_NE(PeekPngHeader(bad_depth, "d.png").status().message().find("d.png: corrupt PNG: colour type 0 with bit depth 3"),
            std::string::npos);
  EXPECT_FALSE(DecodePng(bad_depth, "d.png").ok());
  std::string huge = bytes;
  huge[16] = 0x7f;  // width 2^30 + …
  EXPECT_NE(PeekPngHeader(huge, "h.png").status().message().find("h.png: unsupported PNG size"), std::string::npos);
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
