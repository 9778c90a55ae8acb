// A picture of images with a caption under each: tiles upscaled (nearest
// neighbour) to at least `min_tile` pixels like data/image_grid.h, on white,
// captions drawn with cairo, written as a PNG (atomically). For pictures a
// person reads, such as the most memorized samples with their d1/d2.
//
// Example:
//   absl::Status s = diffmem::data::WriteLabeledGrid("top.png", pairs, {"d1/d2 0.05", "d1/d2 0.08"});

#ifndef DIFFMEM_DATA_LABELED_GRID_H_
#define DIFFMEM_DATA_LABELED_GRID_H_

#include <cairo/cairo.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/image_grid.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace data {

struct LabeledGridOptions {
  int64_t columns = 4;
  int64_t padding = 8;    // pixels between and around tiles
  int64_t min_tile = 64;  // tiles smaller than this are upscaled (nearest)
  double font_size = 13;  // caption size in pixels
};

namespace internal_labeled_grid {

inline cairo_status_t Append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace internal_labeled_grid

// The PNG bytes: N×C×H×W uint8 tiles (C = 1 or 3), one caption per tile.
inline absl::StatusOr<std::string> RenderLabeledGrid(const torch::Tensor& tiles, const std::vector<std::string>& captions,
                                                     const LabeledGridOptions& o = {}) {
  if (tiles.dim() != 4 || tiles.size(0) < 1 || (tiles.size(1) != 1 && tiles.size(1) != 3) ||
      tiles.scalar_type() != torch::kUInt8) {
    return absl::InvalidArgumentError(
        absl::StrCat("labeled grid: need uint8 N×C×H×W tiles with C = 1 or 3, got ", c10::str(tiles.sizes())));
  }
  if (static_cast<int64_t>(captions.size()) != tiles.size(0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("labeled grid: ", captions.size(), " captions for ", tiles.size(0), " tiles"));
  }
  const torch::Tensor up = UpscaleNearest(tiles, GridScale(tiles.size(2), tiles.size(3), o.min_tile))
                               .expand({tiles.size(0), 3, -1, -1})
                               .contiguous();
  const int64_t n = up.size(0), h = up.size(2), w = up.size(3);
  const int64_t cols = std::min(o.columns, n), rows = (n + cols - 1) / cols;
  const int64_t caption_h = static_cast<int64_t>(std::ceil(o.font_size * 1.6));
  const int64_t cell_w = w + o.padding, cell_h = h + caption_h + o.padding;
  const int width = static_cast<int>(cols * cell_w + o.padding), height = static_cast<int>(rows * cell_h + o.padding);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t* cr = cairo_create(surface);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_surface_flush(surface);
  // Tiles straight into the surface's pixels (0x00RRGGBB per pixel).
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  const torch::Tensor hwc = up.permute({0, 2, 3, 1}).contiguous();
  const uint8_t* px = hwc.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = o.padding + (i % cols) * cell_w, y0 = o.padding + (i / cols) * cell_h;
    for (int64_t y = 0; y < h; ++y) {
      auto* row = reinterpret_cast<uint32_t*>(data + (y0 + y) * stride) + x0;
      const uint8_t* src = px + ((i * h + y) * w) * 3;
      for (int64_t x = 0; x < w; ++x) {
        row[x] = (uint32_t{src[3 * x]} << 16) | (uint32_t{src[3 * x + 1]} << 8) | src[3 * x + 2];
      }
    }
  }
  cairo_surface_mark_dirty(surface);
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, o.font_size);
  cairo_set_source_rgb(cr, 0, 0, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = o.padding + (i % cols) * cell_w, y0 = o.padding + (i / cols) * cell_h;
    cairo_text_extents_t ext;
    cairo_text_extents(cr, captions[i].c_str(), &ext);
    cairo_move_to(cr, x0 + (w - ext.x_advance) / 2, y0 + h + o.font_size * 1.15);
    cairo_show_text(cr, captions[i].c_str());
  }
  cairo_surface_flush(surface);
  std::string png;
  cairo_status_t st = cairo_status(cr);
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png_stream(surface, internal_labeled_grid::Append, &png);
  cairo_destroy(cr);
  cairo_surface_destroy(surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(absl::StrCat("labeled grid: cairo: ", cairo_status_to_string(st)));
  }
  return png;
}

inline absl::Status WriteLabeledGrid(const std::string& path, const torch::Tensor& tiles,
                                     const std::vector<std::string>& captions, const LabeledGridOptions& o = {}) {
  absl::StatusOr<std::string> png = RenderLabeledGrid(tiles, captions, o);
  if (!png.ok()) return absl::Status(png.status().code(), absl::StrCat(path, ": ", png.status().message()));
  return util::WriteFileAtomically(path, *png);
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_LABELED_GRID_H_
