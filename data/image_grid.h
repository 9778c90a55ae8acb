// Tiles a batch of images into one picture, the view researchers look at first.
// Small images (8×8, 16×16) are upscaled by an integer factor, nearest
// neighbour, so each tile is at least `min_tile` pixels: a person can see them.
//
// Example:
//   torch::Tensor grid = diffmem::data::MakeImageGrid(batch, /*columns=*/8);
//   absl::Status s = diffmem::data::WriteImageGrid("grid.png", batch, 8);

#ifndef DIFFMEM_DATA_IMAGE_GRID_H_
#define DIFFMEM_DATA_IMAGE_GRID_H_

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/png.h"

namespace diffmem {
namespace data {

struct GridOptions {
  int64_t columns = 0;    // 0: ceil(sqrt(N)).
  int64_t padding = 2;    // pixels between tiles and around the border
  uint8_t pad_value = 0;
  int64_t min_tile = 64;  // smaller tiles are upscaled (nearest) to at least this (0: as they are)
};

// The integer factor that brings an h×w tile to at least `min_tile` pixels on its shorter side.
inline int64_t GridScale(int64_t h, int64_t w, int64_t min_tile) {
  const int64_t side = std::max<int64_t>(1, std::min(h, w));
  return std::max<int64_t>(1, (min_tile + side - 1) / side);
}

// Nearest-neighbour upscaling of N×C×H×W (or C×H×W) images by an integer factor.
inline torch::Tensor UpscaleNearest(const torch::Tensor& images, int64_t scale) {
  if (scale <= 1) return images;
  const int64_t d = images.dim();
  return images.repeat_interleave(scale, d - 2).repeat_interleave(scale, d - 1);
}

// N×C×H×W uint8 → C×H'×W' uint8, row-major tiles. N must be ≥ 1.
inline torch::Tensor MakeImageGrid(const torch::Tensor& batch, const GridOptions& options = {}) {
  TORCH_CHECK(batch.dim() == 4 && batch.size(0) > 0, "MakeImageGrid: need N×C×H×W with N ≥ 1, got ",
              batch.sizes());
  const torch::Tensor tiles = UpscaleNearest(batch, GridScale(batch.size(2), batch.size(3), options.min_tile));
  const int64_t n = tiles.size(0), c = tiles.size(1), h = tiles.size(2), w = tiles.size(3);
  int64_t cols = options.columns;
  if (cols <= 0) cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  cols = std::min(cols, n);
  const int64_t rows = (n + cols - 1) / cols, p = options.padding;
  torch::Tensor grid = torch::full({c, rows * (h + p) + p, cols * (w + p) + p}, options.pad_value, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = p + (i / cols) * (h + p), x = p + (i % cols) * (w + p);
    grid.narrow(1, y, h).narrow(2, x, w).copy_(tiles[i]);
  }
  return grid;
}

// Writes MakeImageGrid(batch) as a PNG (atomically).
inline absl::Status WriteImageGrid(const std::string& path, const torch::Tensor& batch,
                                   const GridOptions& options = {}) {
  if (batch.dim() != 4 || batch.size(0) == 0 || batch.scalar_type() != torch::kUInt8) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a grid needs a non-empty uint8 N×C×H×W batch, got shape ", c10::str(batch.sizes())));
  }
  return WritePng(path, MakeImageGrid(batch, options));
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_IMAGE_GRID_H_
