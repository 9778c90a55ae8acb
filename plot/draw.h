// Draws a LinePlot with cairo on any surface (image, SVG, PDF): grid and
// ticks, reference lines, series with error bars, highlighted markers, frame,
// titles and a legend outside the frame on the right. plot/render.h picks the
// surface; this file only draws.
//
// Example:
//   cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p.width, p.height);
//   cairo_t* cr = cairo_create(s);
//   diffmem::plot::DrawLinePlot(cr, p);   // p validated by ValidateLinePlot

#ifndef DIFFMEM_PLOT_DRAW_H_
#define DIFFMEM_PLOT_DRAW_H_

#include <cairo/cairo.h>

#include <cmath>
#include <string>
#include <vector>

#include "plot/line_plot.h"
#include "plot/plot_layout.h"

namespace diffmem {
namespace plot {
namespace internal_draw {

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

inline void Marker(cairo_t* cr, double x, double y, double r) {
  cairo_new_sub_path(cr);
  cairo_arc(cr, x, y, r, 0, 2 * M_PI);
}

// Fills the current path, or for open markers paints it white and strokes a ring.
inline void HollowOrFilled(cairo_t* cr, bool hollow, const PlotColor& color) {
  if (!hollow) {
    cairo_fill(cr);
    return;
  }
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_fill_preserve(cr);
  SetColor(cr, color);
  cairo_set_line_width(cr, 2);
  cairo_stroke(cr);
}

}  // namespace internal_draw

// Draws `p` on `cr` (a surface of p.width × p.height units).
inline void DrawLinePlot(cairo_t* cr, const LinePlot& p) {
  using namespace internal_draw;
  const PlotLayout L(p);
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
      for (const auto& [x, y] : s.points) Marker(cr, L.PixelX(x), L.PixelY(y), s.hollow ? 5.5 : 4.5);
      HollowOrFilled(cr, s.hollow, s.color);
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
    bool dashed, marker, hollow;
  };
  std::vector<Entry> entries;
  for (const PlotSeries& s : p.series) {
    if (!s.name.empty()) entries.push_back({s.name, s.color, s.dashed || !s.line, s.markers, s.hollow});
  }
  for (const PlotRule& r : p.hlines) {
    if (!r.label.empty()) entries.push_back({r.label, r.color, r.dashed, false, false});
  }
  for (const PlotRule& r : p.vlines) {
    if (!r.label.empty()) entries.push_back({r.label, r.color, r.dashed, false, false});
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
      if (!entries[i].hollow) {  // a series of open markers alone has no line
        cairo_move_to(cr, bx + 8, y);
        cairo_line_to(cr, bx + 38, y);
        cairo_stroke(cr);
      }
      SetDash(cr, false);
      if (entries[i].marker) {
        Marker(cr, bx + 23, y, entries[i].hollow ? 5.5 : 4.5);
        HollowOrFilled(cr, entries[i].hollow, entries[i].color);
      }
      SetColor(cr, kPlotBlack);
      Text(cr, entries[i].name, bx + 46, y + 4, Align::kLeft, 12);
    }
  }

}

}  // namespace plot
}  // namespace diffmem

#endif  // DIFFMEM_PLOT_DRAW_H_
