// Line charts as PNG files, drawn with cairo: the figures of an EMM study
// (memorization ratio vs N, EMM vs a factor, ratio vs training images).
//
//   LinePlot          — title, axis titles, linear or log x axis (or custom ticks), series
//                       (lines and/or markers, optional error bars), horizontal
//                       and vertical reference lines, highlighted markers, a legend
//   PlotLayout        — where data coordinates land in pixels (for tests and overlays)
//   RenderLinePlotPng — the PNG file contents
//   WriteLinePlotPng  — renders and writes atomically
//
// Example:
//   LinePlot p;
//   p.title = "Memorization vs N"; p.x_label = "N"; p.y_label = "ratio"; p.log_x = true;
//   p.y_min = 0; p.y_max = 1;
//   p.series.push_back({"trained", {{100, 0.98}, {200, 0.7}}, kPlotBlue});
//   p.hlines.push_back({0.9, "1 - epsilon", kPlotGray, true});
//   absl::Status s = WriteLinePlotPng("/tmp/ratio.png", p);

#ifndef DIFFMEM_MEMORIZATION_LINE_PLOT_H_
#define DIFFMEM_MEMORIZATION_LINE_PLOT_H_

#include <cairo/cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/atomic_file.h"

namespace diffmem {
namespace memorization {

struct PlotColor {
  double r = 0, g = 0, b = 0;
};
// A palette that stays distinct for colour-blind readers (Okabe–Ito).
inline constexpr PlotColor kPlotBlue{0.0, 0.447, 0.698};
inline constexpr PlotColor kPlotOrange{0.902, 0.624, 0.0};
inline constexpr PlotColor kPlotGreen{0.0, 0.620, 0.451};
inline constexpr PlotColor kPlotVermillion{0.835, 0.369, 0.0};
inline constexpr PlotColor kPlotPurple{0.800, 0.475, 0.655};
inline constexpr PlotColor kPlotGray{0.45, 0.45, 0.45};
inline constexpr PlotColor kPlotBlack{0, 0, 0};

struct PlotSeries {
  std::string name;                               // legend entry ("" = none)
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in the given order
  PlotColor color = kPlotBlue;
  bool line = true;
  bool markers = true;
  bool dashed = false;
  // Optional error bars: (low, high) per point, same length as `points`.
  std::vector<std::pair<double, double>> y_error;
};

struct PlotRule {  // a horizontal (hlines) or vertical (vlines) reference line
  double at = 0;
  std::string label;  // legend entry ("" = none)
  PlotColor color = kPlotGray;
  bool dashed = true;
};

struct PlotHighlight {  // a large marker, a dotted drop line to the x axis, a label by its foot
  double x = 0, y = 0;
  std::string label;
  PlotColor color = kPlotVermillion;
};

struct LinePlot {
  std::string title, x_label, y_label;
  bool log_x = false;
  std::optional<double> x_min, x_max, y_min, y_max;  // default: the data's range, padded
  std::vector<std::pair<double, std::string>> x_ticks;  // custom x ticks (e.g. categories); empty: automatic
  std::vector<PlotSeries> series;
  std::vector<PlotRule> hlines, vlines;
  std::vector<PlotHighlight> highlights;
  int width = 900, height = 560;
};

// Data → pixel mapping of a plot (the frame is fixed by the image size; the
// ranges by the data and the options).
class PlotLayout {
 public:
  explicit PlotLayout(const LinePlot& p) : log_x_(p.log_x) {
    left_ = 80;
    legend_width_ = LegendWidth(p);
    right_ = p.width - 24 - (legend_width_ > 0 ? legend_width_ + 14 : 0);
    top_ = p.title.empty() ? 20 : 48;
    bottom_ = p.height - 64;
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    auto take_x = [&](double x) {
      if (std::isfinite(x) && (!log_x_ || x > 0)) x0 = std::min(x0, x), x1 = std::max(x1, x);
    };
    auto take_y = [&](double y) {
      if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
    };
    for (const PlotSeries& s : p.series) {
      for (const auto& [x, y] : s.points) take_x(x), take_y(y);
      for (const auto& [lo, hi] : s.y_error) take_y(lo), take_y(hi);
    }
    for (const PlotRule& r : p.hlines) take_y(r.at);
    for (const PlotRule& r : p.vlines) take_x(r.at);
    for (const PlotHighlight& h : p.highlights) take_x(h.x), take_y(h.y);
    if (!std::isfinite(x0)) x0 = log_x_ ? 1 : 0, x1 = log_x_ ? 10 : 1;
    if (!std::isfinite(y0)) y0 = 0, y1 = 1;
    // Pad the data range by 5% on each side (in the axis' own scale).
    double a = Scale(x0), b = Scale(x1);
    if (b - a < 1e-12) a -= 0.5, b += 0.5;
    const double px = 0.05 * (b - a);
    x_lo_ = p.x_min ? Scale(*p.x_min) : a - px;
    x_hi_ = p.x_max ? Scale(*p.x_max) : b + px;
    if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
    const double py = 0.05 * (y1 - y0);
    y_lo_ = p.y_min ? *p.y_min : y0 - py;
    y_hi_ = p.y_max ? *p.y_max : y1 + py;
  }

  double PixelX(double x) const { return left_ + (Scale(x) - x_lo_) / (x_hi_ - x_lo_) * (right_ - left_); }
  double PixelY(double y) const { return bottom_ - (y - y_lo_) / (y_hi_ - y_lo_) * (bottom_ - top_); }
  // Frame of the plotting area in pixels.
  double left() const { return left_; }
  double right() const { return right_; }
  double top() const { return top_; }
  double bottom() const { return bottom_; }
  // Axis range in data units.
  double x_min() const { return Unscale(x_lo_); }
  double x_max() const { return Unscale(x_hi_); }
  double y_min() const { return y_lo_; }
  double y_max() const { return y_hi_; }
  bool log_x() const { return log_x_; }
  double legend_width() const { return legend_width_; }  // 0: no legend

 private:
  // Width of the legend box: the longest entry plus the line sample.
  static double LegendWidth(const LinePlot& p) {
    std::vector<const std::string*> names;
    for (const PlotSeries& s : p.series) names.push_back(&s.name);
    for (const PlotRule& r : p.hlines) names.push_back(&r.label);
    for (const PlotRule& r : p.vlines) names.push_back(&r.label);
    cairo_surface_t* scratch = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t* cr = cairo_create(scratch);
    cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    double w = 0;
    for (const std::string* n : names) {
      if (n->empty()) continue;
      cairo_text_extents_t ext;
      cairo_text_extents(cr, n->c_str(), &ext);
      w = std::max(w, ext.x_advance + 56);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(scratch);
    return std::min(w, p.width / 3.0);
  }

  double Scale(double x) const { return log_x_ ? std::log10(x) : x; }
  double Unscale(double s) const { return log_x_ ? std::pow(10.0, s) : s; }

  bool log_x_;
  double legend_width_;
  double left_, right_, top_, bottom_;
  double x_lo_, x_hi_, y_lo_, y_hi_;  // x in the axis' scale (log10 for a log axis)
};

namespace plot_internal {

// "Nice" ticks (1, 2, 5 × 10^k steps) covering [lo, hi], about `target` of them.
inline std::vector<double> LinearTicks(double lo, double hi, int target = 6) {
  std::vector<double> ticks;
  if (!(hi > lo)) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  const int64_t first = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
  const int64_t last = static_cast<int64_t>(std::floor(hi / step + 1e-9));
  for (int64_t k = first; k <= last; ++k) ticks.push_back(static_cast<double>(k) * step);
  return ticks;
}

// Ticks of a log axis over [lo, hi]: decades, or 1-2-5 per decade when the
// range spans few decades.
inline std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(hi > lo) || lo <= 0) return ticks;
  const double decades = std::log10(hi / lo);
  const std::vector<double> mantissas =
      decades > 4 ? std::vector<double>{1} : decades > 1.5 ? std::vector<double>{1, 2, 5}
                                                           : std::vector<double>{1, 1.5, 2, 3, 5, 7};
  for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= static_cast<int>(std::ceil(std::log10(hi))); ++e) {
    for (double m : mantissas) {
      const double t = m * std::pow(10.0, e);
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
    }
  }
  return ticks;
}

// Compact tick labels: 0.25, 40, 1.5k, 20k, 3M.
inline std::string TickLabel(double v) {
  const double a = std::abs(v);
  if (a >= 1e6 && std::abs(v / 1e6 - std::round(v / 1e5) / 10) < 1e-9) return absl::StrFormat("%gM", v / 1e6);
  if (a >= 1e3 && std::abs(v / 1e3 - std::round(v / 1e2) / 10) < 1e-9) return absl::StrFormat("%gk", v / 1e3);
  return absl::StrFormat("%g", std::abs(v) < 1e-12 ? 0.0 : v);
}

inline void SetColor(cairo_t* cr, const PlotColor& c, double alpha = 1.0) {
  cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

inline void SetDash(cairo_t* cr, bool dashed) {
  static const double kDash[] = {7.0, 5.0};
  cairo_set_dash(cr, kDash, dashed ? 2 : 0, 0);
}

enum class Align { kLeft, kCenter, kRight };

inline void Text(cairo_t* cr, const std::string& s, double x, double y, Align align, double size, bool bold = false,
                 double angle = 0) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  const double dx = align == Align::kLeft ? 0 : align == Align::kCenter ? -ext.width / 2 - ext.x_bearing
                                                                         : -ext.width - ext.x_bearing;
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, dx, 0);
  cairo_show_text(cr, s.c_str());
  cairo_restore(cr);
}

inline double TextWidth(cairo_t* cr, const std::string& s, double size) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  return ext.x_advance;
}

inline cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

inline void Marker(cairo_t* cr, double x, double y, double r) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x, y, r, 0, 2 * M_PI);
}

}  // namespace plot_internal

// The PNG file contents of `p`.
inline absl::StatusOr<std::string> RenderLinePlotPng(const LinePlot& p) {
  using namespace plot_internal;
  if (p.width < 200 || p.height < 150 || p.width > 8192 || p.height > 8192) {
    return absl::InvalidArgumentError(absl::StrCat("plot size ", p.width, "x", p.height, " outside [200..8192]x[150..8192]"));
  }
  for (const PlotSeries& s : p.series) {
    if (!s.y_error.empty() && s.y_error.size() != s.points.size()) {
      return absl::InvalidArgumentError(absl::StrCat("plot series '", s.name, "': ", s.y_error.size(),
                                                     " error bars for ", s.points.size(), " points"));
    }
  }
  const PlotLayout L(p);
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, p.width, p.height), cairo_surface_destroy);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> ctx(cairo_create(surface.get()), cairo_destroy);
  cairo_t* cr = ctx.get();
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  // Grid and tick labels.
  std::vector<double> xt;
  std::vector<std::string> xt_labels;
  if (!p.x_ticks.empty()) {
    for (const auto& [x, label] : p.x_ticks) xt.push_back(x), xt_labels.push_back(label);
  } else {
    xt = L.log_x() ? LogTicks(L.x_min(), L.x_max()) : LinearTicks(L.x_min(), L.x_max());
    for (double t : xt) xt_labels.push_back(TickLabel(t));
  }
  const std::vector<double> yt = LinearTicks(L.y_min(), L.y_max());
  cairo_set_line_width(cr, 1);
  SetColor(cr, {0.88, 0.88, 0.88});
  for (double t : xt) {
    cairo_move_to(cr, std::round(L.PixelX(t)) + 0.5, L.top());
    cairo_line_to(cr, std::round(L.PixelX(t)) + 0.5, L.bottom());
  }
  for (double t : yt) {
    cairo_move_to(cr, L.left(), std::round(L.PixelY(t)) + 0.5);
    cairo_line_to(cr, L.right(), std::round(L.PixelY(t)) + 0.5);
  }
  cairo_stroke(cr);
  SetColor(cr, kPlotBlack);
  for (size_t i = 0; i < xt.size(); ++i) Text(cr, xt_labels[i], L.PixelX(xt[i]), L.bottom() + 18, Align::kCenter, 12);
  for (double t : yt) Text(cr, TickLabel(t), L.left() - 8, L.PixelY(t) + 4, Align::kRight, 12);

  // Everything inside the frame is clipped to it.
  cairo_save(cr);
  cairo_rectangle(cr, L.left(), L.top(), L.right() - L.left(), L.bottom() - L.top());
  cairo_clip(cr);
  for (const PlotRule& r : p.hlines) {
    SetColor(cr, r.color);
    SetDash(cr, r.dashed);
    cairo_set_line_width(cr, 1.5);
    cairo_move_to(cr, L.left(), L.PixelY(r.at));
    cairo_line_to(cr, L.right(), L.PixelY(r.at));
    cairo_stroke(cr);
  }
  for (const PlotRule& r : p.vlines) {
    SetColor(cr, r.color);
    SetDash(cr, r.dashed);
    cairo_set_line_width(cr, 1.5);
    cairo_move_to(cr, L.PixelX(r.at), L.top());
    cairo_line_to(cr, L.PixelX(r.at), L.bottom());
    cairo_stroke(cr);
  }
  for (const PlotSeries& s : p.series) {
    SetColor(cr, s.color);
    cairo_set_line_width(cr, 1.5);
    SetDash(cr, false);
    for (size_t i = 0; i < s.y_error.size(); ++i) {
      const double x = L.PixelX(s.points[i].first);
      const double lo = L.PixelY(s.y_error[i].first), hi = L.PixelY(s.y_error[i].second);
      cairo_move_to(cr, x, lo);
      cairo_line_to(cr, x, hi);
      cairo_move_to(cr, x - 4, lo);
      cairo_line_to(cr, x + 4, lo);
      cairo_move_to(cr, x - 4, hi);
      cairo_line_to(cr, x + 4, hi);
    }
    cairo_stroke(cr);
    if (s.line && s.points.size() > 1) {
      SetDash(cr, s.dashed);
      cairo_set_line_width(cr, 2.5);
      cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
      for (size_t i = 0; i < s.points.size(); ++i) {
        const double x = L.PixelX(s.points[i].first), y = L.PixelY(s.points[i].second);
        i == 0 ? cairo_move_to(cr, x, y) : cairo_line_to(cr, x, y);
      }
      cairo_stroke(cr);
    }
    if (s.markers) {
      for (const auto& [x, y] : s.points) Marker(cr, L.PixelX(x), L.PixelY(y), 4.5);
      cairo_fill(cr);
    }
  }
  SetDash(cr, false);
  for (const PlotHighlight& h : p.highlights) {
    const double x = L.PixelX(h.x), y = L.PixelY(h.y);
    static const double kDots[] = {2.0, 3.0};
    SetColor(cr, h.color);
    cairo_set_dash(cr, kDots, 2, 0);
    cairo_set_line_width(cr, 1.5);
    cairo_move_to(cr, x, y + 10);
    cairo_line_to(cr, x, L.bottom());
    cairo_stroke(cr);
    SetDash(cr, false);
    // A diamond, outlined in black so it stands out on top of a series.
    cairo_move_to(cr, x, y - 10);
    cairo_line_to(cr, x + 10, y);
    cairo_line_to(cr, x, y + 10);
    cairo_line_to(cr, x - 10, y);
    cairo_close_path(cr);
    cairo_fill_preserve(cr);
    SetColor(cr, kPlotBlack);
    cairo_set_line_width(cr, 1.5);
    cairo_stroke(cr);
    if (!h.label.empty()) {
      const bool room_right = x + 10 + TextWidth(cr, h.label, 13) < L.right();
      SetColor(cr, kPlotBlack);
      Text(cr, h.label, room_right ? x + 6 : x - 6, L.bottom() - 8, room_right ? Align::kLeft : Align::kRight, 13,
           true);
    }
  }
  cairo_restore(cr);

  // Frame, titles.
  SetColor(cr, kPlotBlack);
  cairo_set_line_width(cr, 1.2);
  cairo_rectangle(cr, L.left(), L.top(), L.right() - L.left(), L.bottom() - L.top());
  cairo_stroke(cr);
  if (!p.title.empty()) Text(cr, p.title, (L.left() + L.right()) / 2, 30, Align::kCenter, 16, true);
  if (!p.x_label.empty()) Text(cr, p.x_label, (L.left() + L.right()) / 2, p.height - 22, Align::kCenter, 14);
  if (!p.y_label.empty()) Text(cr, p.y_label, 24, (L.top() + L.bottom()) / 2, Align::kCenter, 14, false, -M_PI / 2);

  // Legend, in the top-right corner of the frame.
  struct Entry {
    std::string name;
    PlotColor color;
    bool dashed, marker;
  };
  std::vector<Entry> entries;
  for (const PlotSeries& s : p.series) {
    if (!s.name.empty()) entries.push_back({s.name, s.color, s.dashed || !s.line, s.markers});
  }
  for (const PlotRule& r : p.hlines) {
    if (!r.label.empty()) entries.push_back({r.label, r.color, r.dashed, false});
  }
  for (const PlotRule& r : p.vlines) {
    if (!r.label.empty()) entries.push_back({r.label, r.color, r.dashed, false});
  }
  if (!entries.empty()) {
    const double bw = L.legend_width(), bh = 20.0 * entries.size() + 10;
    // Outside the frame, on the right: it never hides a curve.
    const double bx = L.right() + 14, by = L.top();
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_fill_preserve(cr);
    SetColor(cr, kPlotGray);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (size_t i = 0; i < entries.size(); ++i) {
      const double y = by + 15 + 20.0 * i;
      SetColor(cr, entries[i].color);
      SetDash(cr, entries[i].dashed);
      cairo_set_line_width(cr, 2.5);
      cairo_move_to(cr, bx + 8, y);
      cairo_line_to(cr, bx + 38, y);
      cairo_stroke(cr);
      SetDash(cr, false);
      if (entries[i].marker) {
        Marker(cr, bx + 23, y, 4.5);
        cairo_fill(cr);
      }
      SetColor(cr, kPlotBlack);
      Text(cr, entries[i].name, bx + 46, y + 4, Align::kLeft, 12);
    }
  }

  cairo_surface_flush(surface.get());
  std::string png;
  if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(absl::StrCat("plot: cairo: ", cairo_status_to_string(cairo_status(cr))));
  }
  const cairo_status_t st = cairo_surface_write_to_png_stream(surface.get(), AppendToString, &png);
  if (st != CAIRO_STATUS_SUCCESS) {
    return absl::InternalError(absl::StrCat("plot: PNG encoding failed: ", cairo_status_to_string(st)));
  }
  return png;
}

// Renders `p` and writes it to `path` atomically.
inline absl::Status WriteLinePlotPng(const std::string& path, const LinePlot& p) {
  absl::StatusOr<std::string> png = RenderLinePlotPng(p);
  if (!png.ok()) return absl::Status(png.status().code(), absl::StrCat(path, ": ", png.status().message()));
  return data::WriteFileAtomically(path, *png);
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_LINE_PLOT_H_
