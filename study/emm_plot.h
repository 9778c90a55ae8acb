// The figures of an EMM study, built from its report:
//
//   RatioVsNPlot(report)      — memorization ratio vs N (log axis) with CIs, the
//                               theoretical optimum's ratio for the same N, the
//                               1 − ε line, the EMM marker, and open markers for
//                               runs still rising when training ended (ratio_vs_n.png)
//   RatioCurvesPlot(report)   — per-run ratio vs training images (curves.png)
//   EmmVsFactorPlot(rows)     — EMM (and the interpolated crossing) vs the
//                               value of a varied factor (emm_vs_FACTOR.png)
//
// Example:
//   absl::Status s = plot::WriteLinePlotFigures(dir + "/ratio_vs_n", RatioVsNPlot(report));  // .png .svg .pdf

#ifndef DIFFMEM_STUDY_EMM_PLOT_H_
#define DIFFMEM_STUDY_EMM_PLOT_H_

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "plot/line_plot.h"
#include "study/emm_report.h"
#include "study/factor_table.h"
#include "util/enum_names.h"

namespace diffmem {
namespace study {

inline plot::LinePlot RatioVsNPlot(const EmmReport& r) {
  plot::LinePlot p;
  p.title = "Memorization ratio vs training-set size";
  p.x_label = "training-set size N (log scale)";
  p.y_label = "memorization ratio";
  p.log_x = true;
  p.y_min = 0;
  p.y_max = 1.05;
  plot::PlotSeries model{"trained model (95% CI)", {}, plot::kPlotBlue};
  plot::PlotSeries optimum{"theoretical optimum", {}, plot::kPlotGreen, true, true, true};
  for (const EmmRunRecord& run : r.runs) {
    model.points.push_back({static_cast<double>(run.n), run.ratio});
    model.y_error.push_back({run.ci_low, run.ci_high});
    if (run.optimum_ratio) optimum.points.push_back({static_cast<double>(run.n), *run.optimum_ratio});
  }
  p.series.push_back(model);
  if (!optimum.points.empty()) p.series.push_back(optimum);
  // Runs cut short by their duration while still rising: open markers over the model's.
  plot::PlotSeries rising{"still rising when training ended", {}, plot::kPlotBlue, /*line=*/false, /*markers=*/true,
                         /*dashed=*/false, /*hollow=*/true};
  for (const EmmRunRecord& run : r.runs) {
    if (run.still_rising) rising.points.push_back({static_cast<double>(run.n), run.ratio});
  }
  if (!rising.points.empty()) p.series.push_back(rising);
  p.hlines.push_back({r.search.memorization_threshold(),
                      absl::StrFormat("1 − ε = %g", r.search.memorization_threshold()), plot::kPlotGray, true});
  if (r.estimate.emm) {
    double ratio = 0;
    for (const EmmRunRecord& run : r.runs) {
      if (run.n == *r.estimate.emm) ratio = run.ratio;
    }
    std::string label = absl::StrCat("EMM = ", *r.estimate.emm);
    if (r.estimate.interpolated) absl::StrAppend(&label, absl::StrFormat(" (interp. %.0f)", *r.estimate.interpolated));
    p.highlights.push_back({static_cast<double>(*r.estimate.emm), ratio, label, plot::kPlotVermillion});
  }
  if (r.estimate.interpolated) {
    p.vlines.push_back({*r.estimate.interpolated, "interpolated crossing", plot::kPlotVermillion, true});
  }
  return p;
}

inline plot::LinePlot RatioCurvesPlot(const EmmReport& r) {
  plot::LinePlot p;
  p.title = "Memorization ratio during training (small sample batch)";
  p.x_label = "training images";
  p.y_label = "memorization ratio";
  p.y_min = 0;
  p.y_max = 1.05;
  const plot::PlotColor palette[] = {plot::kPlotBlue, plot::kPlotOrange, plot::kPlotGreen, plot::kPlotVermillion, plot::kPlotPurple, plot::kPlotBlack, plot::kPlotGray};
  size_t k = 0;
  for (const EmmRunRecord& run : r.runs) {
    plot::PlotSeries s{absl::StrCat("N = ", run.n, " (", EnumName(run.stop), run.still_rising ? ", still rising" : "", ")"),
                       {},
                       palette[k++ % 7]};
    for (const RatioCurvePoint& c : run.curve) s.points.push_back({static_cast<double>(c.images), c.ratio});
    if (!s.points.empty()) p.series.push_back(s);
  }
  p.hlines.push_back({r.search.memorization_threshold(), "1 − ε", plot::kPlotGray, true});
  return p;
}

// A numeric axis when every value is a number (log when all are positive and
// span a factor of 4 or more), else evenly spaced; one tick per value.
inline plot::LinePlot EmmVsFactorPlot(const std::vector<EmmFactorRow>& rows) {
  plot::LinePlot p;
  const std::string factor = rows.empty() ? "factor" : rows.front().factor;
  p.title = absl::StrCat("EMM vs ", factor);
  p.x_label = factor;
  p.y_label = "EMM (largest N with ratio ≥ 1 − ε)";
  p.y_min = 0;
  bool numeric = !rows.empty();
  std::vector<double> xs;
  for (const EmmFactorRow& row : rows) {
    char* end = nullptr;
    const double v = std::strtod(row.value.c_str(), &end);
    numeric = numeric && end != row.value.c_str() && *end == '\0';
    xs.push_back(v);
  }
  if (numeric) {
    double lo = xs.front(), hi = xs.front();
    for (double x : xs) lo = std::min(lo, x), hi = std::max(hi, x);
    p.log_x = lo > 0 && hi >= 4 * lo;
    for (size_t i = 0; i < rows.size(); ++i) p.x_ticks.push_back({xs[i], rows[i].value});
  } else {
    for (size_t i = 0; i < rows.size(); ++i) {
      xs[i] = static_cast<double>(i);
      p.x_ticks.push_back({xs[i], rows[i].value});
    }
    p.x_min = -0.5;
    p.x_max = rows.size() - 0.5;
  }
  plot::PlotSeries emm{"EMM, bar to N_hi", {}, plot::kPlotBlue};
  plot::PlotSeries interp{"interpolated crossing", {}, plot::kPlotOrange, false, true, false};
  for (size_t i = 0; i < rows.size(); ++i) {
    const EmmEstimate& e = rows[i].estimate;
    if (e.emm) {
      emm.points.push_back({xs[i], static_cast<double>(*e.emm)});
      emm.y_error.push_back({static_cast<double>(*e.emm), static_cast<double>(e.n_hi ? *e.n_hi : *e.emm)});
    }
    if (e.interpolated) interp.points.push_back({xs[i], *e.interpolated});
  }
  p.series.push_back(emm);
  if (!interp.points.empty()) p.series.push_back(interp);
  return p;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_EMM_PLOT_H_
