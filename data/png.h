// PNG images ↔ uint8 C×H×W tensors, through libpng.
//
// Reading accepts any PNG (gray, gray+alpha, RGB, RGBA, palette, 1–16 bit)
// and returns the samples as stored: colour and paletted images become 3
// channels and gray images 1; alpha (and tRNS transparency) is dropped, as
// PIL's convert('RGB') / convert('L') do; 1/2/4-bit gray is scaled to 0..255;
// 16-bit samples become round(v·255/65535). Colour-space chunks (gAMA, sRGB,
// cHRM, iCCP) and bKGD are ignored: training data is read as its writer
// stored it. Writing takes 1 (gray) or 3 (RGB) channels.
//
// PeekPngHeader reads the IHDR from a file's first 33 bytes, and MaxPngBytes
// bounds the size of a PNG of those dimensions, so a reader of archives can
// refuse an entry that is not a PNG, or that inflates past its bound, before
// holding all of it.
//
// Example:
//   absl::StatusOr<torch::Tensor> img = diffmem::data::ReadPng("cat.png");
//   if (!img.ok()) return img.status();  // "cat.png: not a PNG file ..."
//   absl::Status s = diffmem::data::WritePng("copy.png", *img);

#ifndef DIFFMEM_DATA_PNG_H_
#define DIFFMEM_DATA_PNG_H_

#include <png.h>
#include <torch/types.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "util/atomic_file.h"

namespace diffmem {
namespace data {

// Largest side accepted when decoding; guards against absurd headers.
inline constexpr uint32_t kMaxPngSide = 1 << 14;

// Bytes of a PNG's signature and IHDR chunk: what PeekPngHeader needs.
inline constexpr size_t kPngHeaderBytes = 33;

// What a PNG's IHDR declares.
struct PngHeader {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 0;
  int color_type = 0;  // PNG_COLOR_TYPE_*
  bool interlaced = false;
};

namespace internal_png {

inline uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Samples per pixel of a colour type (palette: one index).
inline int SamplesPerPixel(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    case PNG_COLOR_TYPE_PALETTE: return 1;
    default: return 0;
  }
}

// The bit depths the PNG specification allows for a colour type.
inline bool ValidDepth(int color_type, int depth) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case PNG_COLOR_TYPE_PALETTE: return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: return depth == 8 || depth == 16;
    default: return false;
  }
}

// libpng reports errors through a callback that must not return; it stores
// the message here and jumps back to the setjmp of the phase that failed.
struct Reader {
  absl::string_view bytes;
  size_t pos = 0;
  char message[200] = "";
};

inline void ReadBytes(png_structp png, png_bytep out, png_size_t n) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (n > r->bytes.size() - r->pos) png_error(png, "file ends early");
  std::memcpy(out, r->bytes.data() + r->pos, n);
  r->pos += n;
}

inline void OnError(png_structp png, png_const_charp message) {
  auto* r = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof(r->message), "%s", message);
  png_longjmp(png, 1);
}

inline void OnWarning(png_structp, png_const_charp) {}

struct ReadStruct {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~ReadStruct() { png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr); }
};

// Reads the header and sets the transforms to 8-bit gray/RGB(+alpha), as
// stored (no gamma). The setjmp phases hold no objects with destructors.
inline bool ReadInfo(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  if (png_get_color_type(png, info) == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (png_get_color_type(png, info) == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) {
    png_set_expand_gray_1_2_4_to_8(png);
  }
  if (png_get_bit_depth(png, info) == 16) png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

inline bool ReadRows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);
  return true;
}

}  // namespace internal_png

// Parses the signature and IHDR at the start of a PNG (its first
// kPngHeaderBytes bytes suffice); refuses other data, and sizes beyond
// kMaxPngSide, naming `name`.
inline absl::StatusOr<PngHeader> PeekPngHeader(absl::string_view bytes, absl::string_view name) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 8 || png_sig_cmp(p, 0, 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a PNG file (bad signature)"));
  }
  if (bytes.size() < kPngHeaderBytes || internal_png::BigEndian32(p + 8) != 13 || std::memcmp(p + 12, "IHDR", 4) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": corrupt PNG: no IHDR chunk after the signature"));
  }
  PngHeader h;
  h.width = internal_png::BigEndian32(p + 16);
  h.height = internal_png::BigEndian32(p + 20);
  h.bit_depth = p[24];
  h.color_type = p[25];
  h.interlaced = p[28] != 0;
  if (!internal_png::ValidDepth(h.color_type, h.bit_depth)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": corrupt PNG: colour type ", h.color_type,
                                                   " with bit depth ", h.bit_depth));
  }
  if (h.width == 0 || h.height == 0 || h.width > kMaxPngSide || h.height > kMaxPngSide) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": unsupported PNG size ", h.width, "x", h.height));
  }
  return h;
}

// Most bytes a PNG with this header can reasonably take: twice its raw
// (filtered, interlaced) pixel data — deflate's worst case and IDAT framing
// are far below that — plus 1 MiB of metadata chunks (text, ICC profile).
inline int64_t MaxPngBytes(const PngHeader& h) {
  const int64_t bits_per_row = int64_t{h.width} * internal_png::SamplesPerPixel(h.color_type) * h.bit_depth;
  // Adam7 adds at most 7 filter bytes and 7 partial bytes per row.
  const int64_t raw = int64_t{h.height} * (1 + (bits_per_row + 7) / 8) + (h.interlaced ? 14 * int64_t{h.height} : 0);
  return 2 * raw + (int64_t{1} << 20);
}

// Decodes PNG bytes; `name` (a path or zip entry) prefixes every error.
inline absl::StatusOr<torch::Tensor> DecodePng(absl::string_view bytes, absl::string_view name) {
  if (absl::StatusOr<PngHeader> header = PeekPngHeader(bytes, name); !header.ok()) return header.status();
  internal_png::Reader reader;
  reader.bytes = bytes;
  internal_png::ReadStruct rs;
  rs.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, internal_png::OnError, internal_png::OnWarning);
  if (rs.png != nullptr) rs.info = png_create_info_struct(rs.png);
  if (rs.info == nullptr) return absl::ResourceExhaustedError(absl::StrCat(name, ": out of memory for libpng"));
  png_set_read_fn(rs.png, &reader, internal_png::ReadBytes);
  if (!internal_png::ReadInfo(rs.png, rs.info)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": corrupt PNG: ", reader.message));
  }
  const int64_t h = png_get_image_height(rs.png, rs.info), w = png_get_image_width(rs.png, rs.info);
  const int64_t stored = png_get_channels(rs.png, rs.info);  // after the transforms: 1–4 samples of 8 bits
  const int64_t channels = stored >= 3 ? 3 : 1;
  if (png_get_bit_depth(rs.png, rs.info) != 8 || stored < 1 || stored > 4) {
    return absl::InternalError(absl::StrCat(name, ": PNG decodes to ", stored, " samples of ",
                                            int{png_get_bit_depth(rs.png, rs.info)}, " bits"));
  }
  torch::Tensor hwc = torch::empty({h, w, stored}, torch::kUInt8);
  std::vector<png_bytep> rows(static_cast<size_t>(h));
  for (int64_t y = 0; y < h; ++y) rows[y] = hwc.data_ptr<uint8_t>() + y * w * stored;
  if (!internal_png::ReadRows(rs.png, rows.data())) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": corrupt or truncated PNG: ", reader.message));
  }
  return hwc.narrow(2, 0, channels).permute({2, 0, 1}).contiguous();
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
