// Conversions between stored pixels and the values networks see.
//
// Images are stored as uint8 C×H×W (or N×C×H×W) tensors in [0, 255]; models
// work on float32 in [−1, 1] (x = p/127.5 − 1, as in EDM's training code).
//
// Example:
//   torch::Tensor x = diffmem::data::PixelsToFloat(images);   // [-1, 1]
//   torch::Tensor p = diffmem::data::FloatToPixels(samples);  // uint8, rounded, clamped

#ifndef DIFFMEM_DATA_PIXELS_H_
#define DIFFMEM_DATA_PIXELS_H_

#include <torch/types.h>

namespace diffmem {
namespace data {

// uint8 [0, 255] → float32 [−1, 1].
inline torch::Tensor PixelsToFloat(const torch::Tensor& pixels) {
  return pixels.to(torch::kFloat32).div(127.5).sub(1.0);
}

// float [−1, 1] → uint8 [0, 255], rounding to nearest and clamping outliers.
inline torch::Tensor FloatToPixels(const torch::Tensor& x) {
  return x.to(torch::kFloat32).add(1.0).mul(127.5).round().clamp(0, 255).to(torch::kUInt8);
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_PIXELS_H_
