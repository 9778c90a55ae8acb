// Where a LinePlot's data lands in pixels, and its axis ticks: the frame is
// fixed by the image size and the legend, the ranges by the data and the
// plot's options. Shared by the renderer and by tests and overlays.
//
//   PlotLayout(p)                  — PixelX/PixelY, frame, axis ranges, legend width
//   LinearTicks, LogTicks, TickLabel — "nice" ticks and compact labels (1.5k, 3M)
//
// Example:
//   diffmem::plot::PlotLayout L(p);
//   double x = L.PixelX(100), y = L.PixelY(0.9);   // where (100, 0.9) is drawn

#ifndef DIFFMEM_PLOT_PLOT_LAYOUT_H_
#define DIFFMEM_PLOT_PLOT_LAYOUT_H_

#include <cairo/cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "plot/line_plot.h"

namespace diffmem {
namespace plot {

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

}  // namespace plot
}  // namespace diffmem

#endif  // DIFFMEM_PLOT_PLOT_LAYOUT_H_
