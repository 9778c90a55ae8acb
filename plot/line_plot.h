// A line chart as data: title, axis titles, a linear or log x axis (or custom
// ticks), series (lines and/or markers, optional error bars), horizontal and
// vertical reference lines, highlighted markers. plot/render.h draws it with
// cairo as PNG, SVG or PDF; plot/plot_layout.h says where data lands in pixels.
//
//   LinePlot, PlotSeries, PlotRule, PlotHighlight, PlotColor (+ an Okabe–Ito palette)
//   ValidateLinePlot(p)   — size limits, one error bar per point
//
// Example:
//   diffmem::plot::LinePlot p;
//   p.title = "Memorization vs N"; p.x_label = "N"; p.y_label = "ratio"; p.log_x = true;
//   p.y_min = 0; p.y_max = 1;
//   p.series.push_back({"trained", {{100, 0.98}, {200, 0.7}}, diffmem::plot::kPlotBlue});
//   p.hlines.push_back({0.9, "1 - epsilon", diffmem::plot::kPlotGray, true});
//   absl::Status s = diffmem::plot::WriteLinePlot("/tmp/ratio.svg", p);   // plot/render.h

#ifndef DIFFMEM_PLOT_LINE_PLOT_H_
#define DIFFMEM_PLOT_LINE_PLOT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace diffmem {
namespace plot {

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
  bool hollow = false;  // open markers (a white disc with a coloured ring), drawn over what lies below
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

// Checks what the renderer relies on: a sane size, one error bar per point.
inline absl::Status ValidateLinePlot(const LinePlot& p) {
  if (p.width < 200 || p.height < 150 || p.width > 8192 || p.height > 8192) {
    return absl::InvalidArgumentError(absl::StrCat("plot size ", p.width, "x", p.height, " outside [200..8192]x[150..8192]"));
  }
  for (const PlotSeries& s : p.series) {
    if (!s.y_error.empty() && s.y_error.size() != s.points.size()) {
      return absl::InvalidArgumentError(absl::StrCat("plot series '", s.name, "': ", s.y_error.size(),
                                                     " error bars for ", s.points.size(), " points"));
    }
  }
  return absl::OkStatus();
}

}  // namespace plot
}  // namespace diffmem

#endif  // DIFFMEM_PLOT_LINE_PLOT_H_
