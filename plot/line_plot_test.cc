#include "plot/line_plot.h"

#include <utility>

#include "gtest/gtest.h"

namespace diffmem {
namespace plot {
namespace {

TEST(LinePlotTest, ValidatesSizeAndErrorBars) {
  LinePlot p;
  p.series.push_back({"s", {{1, 0.5}, {2, 0.6}}, kPlotBlue});
  EXPECT_TRUE(ValidateLinePlot(p).ok());
  p.series[0].y_error = {{0.4, 0.6}};
  absl::Status bars = ValidateLinePlot(p);
  EXPECT_EQ(bars.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bars.message(), "plot series 's': 1 error bars for 2 points");
  p.series[0].y_error.push_back({0.5, 0.7});
  EXPECT_TRUE(ValidateLinePlot(p).ok());
  for (auto [w, h] : {std::pair{199, 560}, std::pair{900, 149}, std::pair{8193, 560}, std::pair{900, 8193}}) {
    p.width = w;
    p.height = h;
    EXPECT_FALSE(ValidateLinePlot(p).ok()) << w << "x" << h;
  }
}

}  // namespace
}  // namespace plot
}  // namespace diffmem
