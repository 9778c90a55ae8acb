// PNG images ↔ uint8 C×H×W tensors, through libpng's simplified API.
//
// Reading accepts any PNG (gray, gray+alpha, RGB, RGBA, palette, 1–16 bit):
// colour images become 3 channels and gray images 1, alpha is composited away
// (dropped), 16-bit samples are reduced to 8. Writing takes 1 (gray) or 3
// (RGB) channels.
//
// Example:
//   absl::StatusOr<torch::Tensor> img = diffmem::data::ReadPng("cat.png");
//   if (!img.ok()) return img.status();  // "cat.png: not a PNG file ..."
//   absl::Status s = diffmem::data::WritePng("copy.png", *img);

#ifndef DIFFMEM_DATA_PNG_H_
#define DIFFMEM_DATA_PNG_H_

#include <png.h>
#include <torch/types.h>

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace data {

// Largest side accepted when decoding; guards against absurd headers.
inline constexpr uint32_t kMaxPngSide = 1 << 14;

// Decodes PNG bytes; `name` (a path or zip entry) prefixes every error.
inline absl::StatusOr<torch::Tensor> DecodePng(absl::string_view bytes, absl::string_view name) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a PNG file (bad signature)"));
  }
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": corrupt PNG: ", image.message));
  }
  if (image.width == 0 || image.height == 0 || image.width > kMaxPngSide || image.height > kMaxPngSide) {
    png_image_free(&image);
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": unsupported PNG size ", image.width, "x", image.height));
  }
  const bool color = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  image.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  const int64_t channels = color ? 3 : 1;
  const int64_t h = image.height, w = image.width;
  torch::Tensor hwc = torch::empty({h, w, channels}, torch::kUInt8);
  // Alpha is composited onto black; for opaque images this is the identity.
  png_color background{0, 0, 0};
  if (!png_image_finish_read(&image, &background, hwc.data_ptr<uint8_t>(), 0, nullptr)) {
    png_image_free(&image);
    return absl::InvalidArgumentError(absl::StrCat(name, ": corrupt or truncated PNG: ", image.message));
  }
  return hwc.permute({2, 0, 1}).contiguous();
}

// Reads a PNG file as uint8 C×H×W (C = 1 or 3).
inline absl::StatusOr<torch::Tensor> ReadPng(const std::string& path) {
  absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  return DecodePng(*bytes, path);
}

// Encodes a uint8 C×H×W tensor (C = 1 or 3) as PNG bytes.
inline absl::StatusOr<std::string> EncodePng(const torch::Tensor& chw, absl::string_view name = "image") {
  if (chw.dim() != 3 || (chw.size(0) != 1 && chw.size(0) != 3) || chw.scalar_type() != torch::kUInt8) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": PNG needs a uint8 C×H×W tensor with C = 1 or 3, got ",
                                                   chw.toString(), " of shape ", c10::str(chw.sizes())));
  }
  if (chw.size(1) == 0 || chw.size(2) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": cannot write an empty image"));
  }
  torch::Tensor hwc = chw.permute({1, 2, 0}).contiguous().cpu();
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(chw.size(2));
  image.height = static_cast<png_uint_32>(chw.size(1));
  image.format = chw.size(0) == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, hwc.data_ptr<uint8_t>(), 0, nullptr)) {
    return absl::InternalError(absl::StrCat(name, ": PNG encoding failed: ", image.message));
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, hwc.data_ptr<uint8_t>(), 0, nullptr)) {
    return absl::InternalError(absl::StrCat(name, ": PNG encoding failed: ", image.message));
  }
  out.resize(size);
  return out;
}

// Writes a uint8 C×H×W tensor as a PNG file, atomically.
inline absl::Status WritePng(const std::string& path, const torch::Tensor& chw) {
  absl::StatusOr<std::string> bytes = EncodePng(chw, path);
  if (!bytes.ok()) return bytes.status();
  return util::WriteFileAtomically(path, *bytes);
}

}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_PNG_H_
