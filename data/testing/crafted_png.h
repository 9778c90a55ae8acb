// PNG files of any colour type, bit depth and ancillary chunk, written with
// libpng's low-level API for tests of the reader (data/png.h writes only
// 8-bit gray and RGB). Samples are given as stored, row-major, one value per
// sample (palette images: one index per pixel).
//
// Example:
//   CraftedPng p;
//   p.width = 2; p.height = 1; p.bit_depth = 16;
//   p.samples = {0, 65535};
//   p.gamma = 1.0;                       // a gAMA chunk the reader must ignore
//   std::string bytes = CraftPng(p);     // empty if libpng refused the spec

#ifndef DIFFMEM_DATA_TESTING_CRAFTED_PNG_H_
#define DIFFMEM_DATA_TESTING_CRAFTED_PNG_H_

#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace diffmem {
namespace data {
namespace testing {

struct CraftedPng {
  uint32_t width = 1;
  uint32_t height = 1;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<uint16_t> samples;         // width·height·samples-per-pixel values
  std::vector<png_color> palette;        // PNG_COLOR_TYPE_PALETTE only
  std::vector<png_byte> palette_alpha;   // a tRNS chunk for the palette
  std::optional<double> gamma;           // a gAMA chunk
  bool srgb = false;                     // an sRGB chunk
};

namespace internal_crafted {

inline int Samples(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;
  }
}

inline void Append(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

inline void Flush(png_structp) {}

inline bool Write(png_structp png, png_infop info, const CraftedPng& p, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, p.width, p.height, p.bit_depth, p.color_type,
               p.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!p.palette.empty()) png_set_PLTE(png, info, p.palette.data(), static_cast<int>(p.palette.size()));
  if (!p.palette_alpha.empty()) {
    png_set_tRNS(png, info, p.palette_alpha.data(), static_cast<int>(p.palette_alpha.size()), nullptr);
  }
  if (p.gamma) png_set_gAMA(png, info, *p.gamma);
  if (p.srgb) png_set_sRGB(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace internal_crafted

// Encodes `p`; returns "" when libpng refuses it (an invalid depth, say).
inline std::string CraftPng(const CraftedPng& p) {
  const int per_pixel = internal_crafted::Samples(p.color_type);
  const size_t row_bytes = (size_t{p.width} * per_pixel * p.bit_depth + 7) / 8;
  std::vector<png_byte> packed(row_bytes * p.height, 0);
  for (uint32_t y = 0; y < p.height; ++y) {
    png_bytep row = packed.data() + y * row_bytes;
    for (size_t i = 0; i < size_t{p.width} * per_pixel; ++i) {
      const uint16_t v = p.samples.at(y * size_t{p.width} * per_pixel + i);
      if (p.bit_depth == 16) {
        row[2 * i] = static_cast<png_byte>(v >> 8);
        row[2 * i + 1] = static_cast<png_byte>(v & 0xff);
      } else if (p.bit_depth == 8) {
        row[i] = static_cast<png_byte>(v);
      } else {  // 1, 2 or 4 bits, most significant first
        const size_t bit = i * p.bit_depth;
        row[bit / 8] |= static_cast<png_byte>(v << (8 - p.bit_depth - bit % 8));
      }
    }
  }
  std::vector<png_bytep> rows(p.height);
  for (uint32_t y = 0; y < p.height; ++y) rows[y] = packed.data() + y * row_bytes;
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  bool ok = info != nullptr;
  if (ok) {
    png_set_write_fn(png, &out, internal_crafted::Append, internal_crafted::Flush);
    ok = internal_crafted::Write(png, info, p, rows.data());
  }
  png_destroy_write_struct(&png, info != nullptr ? &info : nullptr);
  return ok ? out : std::string();
}

}  // namespace testing
}  // namespace data
}  // namespace diffmem

#endif  // DIFFMEM_DATA_TESTING_CRAFTED_PNG_H_
