#include "plot/plot_layout.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace plot {
namespace {

TEST(PlotLayoutTest, TicksAndLabels) {
  EXPECT_EQ(LogTicks(16, 512), (std::vector<double>{20, 50, 100, 200, 500}));
  EXPECT_EQ(LogTicks(1, 1e6), (std::vector<double>{1, 10, 100, 1000, 1e4, 1e5, 1e6}));
  EXPECT_EQ(LogTicks(40, 90), (std::vector<double>{50, 70}));
  const std::vector<double> lin = LinearTicks(0, 1.05);
  ASSERT_EQ(lin.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(lin[i], 0.2 * i, 1e-12);
  const std::vector<double> wide = LinearTicks(-3, 47);
  ASSERT_EQ(wide.size(), 5u);
  EXPECT_EQ(wide.front(), 0);
  EXPECT_EQ(wide.back(), 40);
  EXPECT_EQ(TickLabel(1000), "1k");
  EXPECT_EQ(TickLabel(1500), "1.5k");
  EXPECT_EQ(TickLabel(20000), "20k");
  EXPECT_EQ(TickLabel(2e6), "2M");
  EXPECT_EQ(TickLabel(40), "40");
  EXPECT_EQ(TickLabel(0.25), "0.25");
  EXPECT_EQ(TickLabel(1234), "1234");
}

// Data ranges map onto the frame: padded by 5% unless given, log axes in log10.
TEST(PlotLayoutTest, DataMapsOntoTheFrame) {
  LinePlot p;
  p.series.push_back({"s", {{10, 0.0}, {1000, 1.0}}, kPlotBlue});
  p.log_x = true;
  p.y_min = 0;
  p.y_max = 1;
  const PlotLayout L(p);
  EXPECT_NEAR(L.PixelY(0), L.bottom(), 1e-9);
  EXPECT_NEAR(L.PixelY(1), L.top(), 1e-9);
  // 10 and 1000 are 2 decades apart; padding is 5% of that on each side.
  EXPECT_NEAR(L.x_min(), std::pow(10.0, 1 - 0.1), 1e-9);
  EXPECT_NEAR(L.x_max(), std::pow(10.0, 3 + 0.1), 1e-9);
  // 100 sits halfway between 10 and 1000 on a log axis.
  EXPECT_NEAR(L.PixelX(100) - L.PixelX(10), L.PixelX(1000) - L.PixelX(100), 1e-9);
  EXPECT_LT(L.right(), p.width - L.legend_width());  // the legend sits right of the frame
}

}  // namespace
}  // namespace plot
}  // namespace diffmem
