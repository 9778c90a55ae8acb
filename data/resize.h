// Resizing images as PIL's Image.resize(..., LANCZOS) does — the resampling
// the paper's authors use to lower CIFAR-10's resolution — so diffmem's data
// at 16×16 and 8×8 are their data. PIL's algorithm: a separable Lanczos-3
// filter (sinc(x)·sinc(x/3), |x| < 3) stretched by the reduction factor
// (antialiasing), weights normalized per output pixel, applied in 8-bit fixed
// point (22 fractional bits, rounded) horizontally, then vertically, with the
// intermediate rows clipped to uint8. Any output size (not only integer factors).
//
// Example:
//   absl::StatusOr<torch::Tensor> small = diffmem::data::ResizeLanczos(images, 16, 16);  // uint8 N×C×16×16

#ifndef DIFFMEM_DATA_RESIZE_H_
#define DIFFMEM_DATA_RESIZE_H_

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace diffmem {
namespace data {
namespace internal_resize {

inline constexpr int kPrecisionBits = 32 - 8 - 2;

inline double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= 3.14159265358979323846;
  return std::sin(x) / x;
}

inline double Lanczos3(double x) { return (-3.0 <= x && x < 3.0) ? Sinc(x) * Sinc(x / 3) : 0.0; }

// Per output pixel: the first input index and fixed-point weights.
struct Coefficients {
  std::vector<int64_t> first;
  std::vector<std::vector<int64_t>> weights;
};

inline Coefficients Precompute(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 3.0 * filter_scale;
  Coefficients c;
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(center - support + 0.5));  // truncation, as C's (int)
    const int64_t hi = std::min<int64_t>(in_size, static_cast<int64_t>(center + support + 0.5));
    std::vector<double> w;
    double sum = 0;
    for (int64_t x = lo; x < hi; ++x) {
      w.push_back(Lanczos3((x - center + 0.5) / filter_scale));
      sum += w.back();
    }
    std::vector<int64_t> fixed;
    for (double v : w) {
      const double k = sum != 0.0 ? v / sum : v;
      fixed.push_back(static_cast<int64_t>(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits)));
    }
    c.first.push_back(lo);
    c.weights.push_back(std::move(fixed));
  }
  return c;
}

// Resamples the last axis of a contiguous uint8 R×L array to `out` values.
inline torch::Tensor ResampleRows(const torch::Tensor& rows, int64_t out) {
  const int64_t r = rows.size(0), in = rows.size(1);
  const Coefficients c = Precompute(in, out);
  torch::Tensor result = torch::empty({r, out}, torch::kUInt8);
  const uint8_t* src = rows.data_ptr<uint8_t>();
  uint8_t* dst = result.data_ptr<uint8_t>();
  for (int64_t i = 0; i < r; ++i) {
    for (int64_t x = 0; x < out; ++x) {
      int64_t acc = int64_t{1} << (kPrecisionBits - 1);
      const std::vector<int64_t>& w = c.weights[x];
      for (size_t k = 0; k < w.size(); ++k) acc += src[i * in + c.first[x] + static_cast<int64_t>(k)] * w[k];
      dst[i * out + x] = static_cast<uint8_t>(std::clamp<int64_t>(acc >> kPrecisionBits, 0, 255));
    }
  }
  return result;
}

}  // namespace internal_resize

// uint8 N×C×H×W → N×C×height×width, as PIL's LANCZOS resize.
inline absl::StatusOr<torch::Tensor> ResizeLanczos(const torch::Tensor& images, int64_t height, int64_t width) {
  if (images.dim() != 4 || images.scalar_type() != torch::kUInt8) {
    return absl::InvalidArgumentError("Lanczos resizing needs uint8 N×C×H×W images");
  }
  if (height < 1 || width < 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resize to ", height, "x", width));
  }
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  torch::Tensor x = images.contiguous();
  if (width != w) x = internal_resize::ResampleRows(x.reshape({n * c * h, w}), width).reshape({n, c, h, width});
  if (height != h) {
    torch::Tensor columns = x.transpose(2, 3).contiguous().reshape({n * c * width, h});
    x = internal_resize::ResampleRows(columns, height).reshape({n, c, width, height}).transpose(2, 3).contiguous();
  }
  return x;
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_RESIZE_H_
