#include "data/labeled_grid.h"

#include <string>
#include <vector>

#include "data/png.h"
#include "gtest/gtest.h"

namespace diffmem::data {
namespace {

TEST(LabeledGridTest, TilesUpscaledOnWhiteWithCaptionsBelow) {
  // Two 1×4×4 tiles of constant gray 40 and 200; the second has no caption.
  torch::Tensor tiles = torch::stack({torch::full({1, 4, 4}, 40, torch::kUInt8), torch::full({1, 4, 4}, 200, torch::kUInt8)});
  LabeledGridOptions o;
  o.columns = 2;
  o.padding = 8;
  o.min_tile = 64;  // 4 px → ×16 = 64 px
  o.font_size = 13;
  const std::string path = ::testing::TempDir() + "/labeled.png";
  ASSERT_TRUE(WriteLabeledGrid(path, tiles, {"d1/d2 0.050", ""}, o).ok());
  absl::StatusOr<torch::Tensor> png = ReadPng(path);
  ASSERT_TRUE(png.ok()) << png.status();
  const int64_t caption_h = 21;  // ceil(13 × 1.6)
  ASSERT_EQ(png->sizes(), (std::vector<int64_t>{3, 8 + 64 + caption_h + 8, 8 + 2 * (64 + 8)}));
  const torch::Tensor img = png->to(torch::kInt32);
  // Tile pixels, nearest-upscaled, in gray (R = G = B).
  EXPECT_TRUE(torch::all(img.narrow(1, 8, 64).narrow(2, 8, 64) == 40).item<bool>());
  EXPECT_TRUE(torch::all(img.narrow(1, 8, 64).narrow(2, 80, 64) == 200).item<bool>());
  EXPECT_EQ(img[0][0][0].item<int>(), 255);  // white around
  // Caption under the first tile: dark text pixels; none under the second.
  const torch::Tensor under_first = img.narrow(1, 72, caption_h).narrow(2, 8, 64);
  const torch::Tensor under_second = img.narrow(1, 72, caption_h).narrow(2, 80, 64);
  EXPECT_GT((under_first < 128).sum().item<int64_t>(), 20);
  EXPECT_EQ((under_second < 255).sum().item<int64_t>(), 0);
}

TEST(LabeledGridTest, BadInputIsAnErrorAndWritesNothing) {
  const std::string path = ::testing::TempDir() + "/bad_labeled.png";
  torch::Tensor tiles = torch::zeros({2, 1, 4, 4}, torch::kUInt8);
  EXPECT_FALSE(WriteLabeledGrid(path, tiles, {"only one"}).ok());
  EXPECT_FALSE(WriteLabeledGrid(path, torch::zeros({2, 2, 4, 4}, torch::kUInt8), {"a", "b"}).ok());
  EXPECT_FALSE(WriteLabeledGrid(path, torch::zeros({2, 1, 4, 4}), {"a", "b"}).ok());  // float
  EXPECT_FALSE(util::FileExists(path));
}

}  // namespace
}  // namespace diffmem::data
