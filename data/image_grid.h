// Tiles a batch of images into one picture, the view researchers look at first.
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
  int64_t columns = 0;   // 0: ceil(sqrt(N)).
  int64_t padding = 2;   // pixels between tiles and around the border
  uint8_t pad_value = 0;
};

// N×C×H×W uint8 → C×H'×W' uint8, row-major tiles. N must be ≥ 1.
inline torch::Tensor MakeImageGrid(const torch::Tensor& batch, const GridOptions& options = {}) {
  TORCH_CHECK(batch.dim() == 4 && batch.size(0) > 0, "MakeImageGrid: need N×C×H×W with N ≥ 1, got ",
              batch.sizes());
  const int64_t n = batch.size(0), c = batch.size(1), h = batch.size(2), w = batch.size(3);
  int64_t cols = options.columns;
  if (cols <= 0) cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  cols = std::min(cols, n);
  const int64_t rows = (n + cols - 1) / cols, p = options.padding;
  torch::Tensor grid = torch::full({c, rows * (h + p) + p, cols * (w + p) + p}, options.pad_value, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = p + (i / cols) * (h + p), x = p + (i % cols) * (w + p);
    grid.narrow(1, y, h).narrow(2, x, w).copy_(batch[i]);
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
