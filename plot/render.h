// A LinePlot as a file: PNG for a quick look, SVG and PDF as vectors for
// papers, all drawn by the same code (plot/draw.h) on cairo's image, SVG and
// PDF surfaces. Files are written atomically.
//
//   RenderLinePlot(p, format)     — the file contents
//   WriteLinePlot(path, p)        — the format from the extension (.png, .svg, .pdf)
//   WriteLinePlotFigures(base, p) — base.png, base.svg and base.pdf
//
// Example:
//   absl::Status s = diffmem::plot::WriteLinePlotFigures(dir + "/ratio_vs_n", p);

#ifndef DIFFMEM_PLOT_RENDER_H_
#define DIFFMEM_PLOT_RENDER_H_

#include <cairo/cairo-pdf.h>
#include <cairo/cairo-svg.h>
#include <cairo/cairo.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "plot/draw.h"
#include "plot/line_plot.h"
#include "util/atomic_file.h"
#include "util/enum_names.h"

namespace diffmem {
namespace plot {

enum class PlotFormat { kPng, kSvg, kPdf };

}  // namespace plot

template <>
struct EnumNames<plot::PlotFormat> {
  static constexpr std::pair<plot::PlotFormat, const char*> kNames[] = {
      {plot::PlotFormat::kPng, "png"}, {plot::PlotFormat::kSvg, "svg"}, {plot::PlotFormat::kPdf, "pdf"}};
};

namespace plot {
namespace internal_render {

inline cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace internal_render

// The format named by the file's extension.
inline absl::StatusOr<PlotFormat> PlotFormatOfPath(const std::string& path) {
  const size_t dot = path.rfind('.');
  const std::string ext = dot == std::string::npos || path.find('/', dot) != std::string::npos ? "" : path.substr(dot + 1);
  absl::StatusOr<PlotFormat> f = ParseEnum<PlotFormat>(ext, "plot file extension");
  if (!f.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", f.status().message()));
  return f;
}

// The contents of a `format` file showing `p`.
inline absl::StatusOr<std::string> RenderLinePlot(const LinePlot& p, PlotFormat format) {
  if (absl::Status s = ValidateLinePlot(p); !s.ok()) return s;
  std::string bytes;
  cairo_surface_t* surface = nullptr;
  switch (format) {
    case PlotFormat::kPng:
      surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p.width, p.height);
      break;
    case PlotFormat::kSvg:
      surface = cairo_svg_surface_create_for_stream(internal_render::AppendToString, &bytes, p.width, p.height);
      break;
    case PlotFormat::kPdf:
      surface = cairo_pdf_surface_create_for_stream(internal_render::AppendToString, &bytes, p.width, p.height);
      cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "diffmem");
      break;
  }
  cairo_t* cr = cairo_create(surface);
  DrawLinePlot(cr, p);
  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st == CAIRO_STATUS_SUCCESS) {
    if (format == PlotFormat::kPng) {
      cairo_surface_flush(surface);
      st = cairo_surface_write_to_png_stream(surface, internal_render::AppendToString, &bytes);
    } else {
      cairo_surface_finish(surface);  // vector surfaces write their stream here
      st = cairo_surface_status(surface);
    }
  }
  cairo_surface_destroy(surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(absl::StrCat("plot: cairo ", EnumName(format), ": ", cairo_status_to_string(st)));
  }
  return bytes;
}

// Renders `p` in the format of `path`'s extension and writes it atomically.
inline absl::Status WriteLinePlot(const std::string& path, const LinePlot& p) {
  absl::StatusOr<PlotFormat> format = PlotFormatOfPath(path);
  if (!format.ok()) return format.status();
  absl::StatusOr<std::string> bytes = RenderLinePlot(p, *format);
  if (!bytes.ok()) return absl::Status(bytes.status().code(), absl::StrCat(path, ": ", bytes.status().message()));
  return util::WriteFileAtomically(path, *bytes);
}

// Writes base.png, base.svg and base.pdf.
inline absl::Status WriteLinePlotFigures(const std::string& base, const LinePlot& p) {
  for (const char* ext : {".png", ".svg", ".pdf"}) {
    if (absl::Status s = WriteLinePlot(base + ext, p); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace plot
}  // namespace diffmem

#endif  // DIFFMEM_PLOT_RENDER_H_
