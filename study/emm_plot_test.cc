#include "study/emm_plot.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "plot/render.h"

namespace diffmem {
namespace study {
namespace {

using plot::LinePlot;

EmmReport Report() {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 640;
  o.n_start = 20;
  o.granularity = 10;
  std::vector<EmmRunRecord> runs;
  const double ratios[] = {1.0, 0.95, 0.55, 0.1};
  const int64_t ns[] = {20, 40, 80, 160};
  for (int i = 0; i < 4; ++i) {
    EmmRunRecord r;
    r.n = ns[i];
    r.ratio = ratios[i];
    r.ci_low = std::max(0.0, r.ratio - 0.06);
    r.ci_high = std::min(1.0, r.ratio + 0.06);
    r.optimum_ratio = 0.99;
    for (int k = 1; k <= 6; ++k) r.curve.push_back({k * 1000, r.ratio * k / 6, 0, 1, 64});
    runs.push_back(r);
  }
  return MakeEmmReport({}, o, 1.0 / 3, runs);
}

TEST(EmmPlot, RatioVsNShowsTheModelTheOptimumTheThresholdAndTheEmm) {
  const EmmReport r = Report();
  ASSERT_EQ(r.estimate.emm, std::optional<int64_t>(40));
  const LinePlot p = RatioVsNPlot(r);
  EXPECT_TRUE(p.log_x);
  ASSERT_EQ(p.series.size(), 2u);
  EXPECT_EQ(p.series[0].points.size(), 4u);
  EXPECT_EQ(p.series[0].y_error.size(), 4u);
  EXPECT_EQ(p.series[1].points.size(), 4u);  // the optimum's reference curve
  ASSERT_EQ(p.hlines.size(), 1u);
  EXPECT_DOUBLE_EQ(p.hlines[0].at, 0.9);
  ASSERT_EQ(p.highlights.size(), 1u);
  EXPECT_EQ(p.highlights[0].x, 40);
  EXPECT_EQ(p.highlights[0].y, 0.95);
  EXPECT_NE(p.highlights[0].label.find("EMM = 40"), std::string::npos);
  ASSERT_EQ(p.vlines.size(), 1u);
  EXPECT_NEAR(p.vlines[0].at, *r.estimate.interpolated, 1e-12);
  absl::StatusOr<std::string> png = plot::RenderLinePlot(p, plot::PlotFormat::kPng);
  ASSERT_TRUE(png.ok()) << png.status();
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    EXPECT_TRUE(plot::WriteLinePlot(std::string(dir) + "/ratio_vs_n.png", p).ok());
    EXPECT_TRUE(plot::WriteLinePlot(std::string(dir) + "/curves.png", RatioCurvesPlot(r)).ok());
  }
}

TEST(EmmPlot, StillRisingRunsAreOpenMarkers) {
  EmmReport r = Report();
  r.runs[2].still_rising = true;  // N = 80
  const LinePlot p = RatioVsNPlot(r);
  ASSERT_EQ(p.series.size(), 3u);
  EXPECT_TRUE(p.series[2].hollow);
  EXPECT_FALSE(p.series[2].line);
  EXPECT_EQ(p.series[2].points, (std::vector<std::pair<double, double>>{{80, 0.55}}));
  EXPECT_NE(RatioCurvesPlot(r).series[2].name.find("still rising"), std::string::npos);
  EXPECT_EQ(RatioVsNPlot(Report()).series.size(), 2u);  // none rising: no such series
}

TEST(EmmPlot, CurvesHaveOneSeriesPerRun) {
  const LinePlot p = RatioCurvesPlot(Report());
  ASSERT_EQ(p.series.size(), 4u);
  EXPECT_EQ(p.series[2].points.size(), 6u);
  EXPECT_EQ(p.series[2].points.back().first, 6000);
  EXPECT_NE(p.series[2].name.find("N = 80"), std::string::npos);
}

TEST(EmmPlot, FactorAxisIsNumericLogOrCategorical) {
  EmmSearchOptions o;
  auto row = [&](std::string value, int64_t lo, int64_t hi) {
    return EmmFactorRow{"x", value, "", SummarizeEmmSearch(o, {{lo, 1, 1, 1}, {hi, 0, 0, 0.1}}), 2, 1};
  };
  const LinePlot numeric = EmmVsFactorPlot({row("8", 400, 800), row("16", 100, 200), row("32", 20, 40)});
  EXPECT_TRUE(numeric.log_x);
  ASSERT_EQ(numeric.x_ticks.size(), 3u);
  EXPECT_EQ(numeric.x_ticks[1], (std::pair<double, std::string>{16, "16"}));
  ASSERT_EQ(numeric.series[0].points.size(), 3u);
  EXPECT_EQ(numeric.series[0].points[1], (std::pair<double, double>{16, 100}));
  EXPECT_EQ(numeric.series[0].y_error[1], (std::pair<double, double>{100, 200}));
  const LinePlot linear = EmmVsFactorPlot({row("0.1", 400, 800), row("0.2", 100, 200)});
  EXPECT_FALSE(linear.log_x);
  const LinePlot cat = EmmVsFactorPlot({row("positional", 400, 800), row("fourier", 100, 200)});
  ASSERT_EQ(cat.x_ticks.size(), 2u);
  EXPECT_EQ(cat.x_ticks[1], (std::pair<double, std::string>{1, "fourier"}));
  EXPECT_EQ(cat.series[0].points[1].first, 1);
  absl::StatusOr<std::string> png = plot::RenderLinePlot(cat, plot::PlotFormat::kPng);
  ASSERT_TRUE(png.ok()) << png.status();
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
    EXPECT_TRUE(plot::WriteLinePlot(std::string(dir) + "/emm_vs_factor.png", numeric).ok());
  }
}

}  // namespace
}  // namespace study
}  // namespace diffmem
