#include "util/progress.h"

#include "gtest/gtest.h"

namespace diffmem::util {
namespace {

TEST(FormatDurationTest, MinutesBelowAnHourHoursAbove) {
  EXPECT_EQ(FormatDuration(0), "0m00s");
  EXPECT_EQ(FormatDuration(-3), "0m00s");
  EXPECT_EQ(FormatDuration(65.4), "1m05s");
  EXPECT_EQ(FormatDuration(59.6), "1m00s");  // rounded to the second
  EXPECT_EQ(FormatDuration(3599), "59m59s");
  EXPECT_EQ(FormatDuration(3600), "1h00m");
  EXPECT_EQ(FormatDuration(7380), "2h03m");
}

TEST(ProgressLineTest, RateAndEtaFromElapsedTime) {
  EXPECT_EQ(FormatProgressLine(640, 10000, "images", 5.0), "640/10000 images (6.4%)  128 images/s  ETA 1m13s");
  EXPECT_EQ(FormatProgressLine(0, 10, "images", 0.0), "0/10 images (0.0%)  0 images/s  ETA ?");
  EXPECT_EQ(FormatProgressLine(10, 10, "files", 2.0), "10/10 files (100.0%)  5 files/s  ETA 0m00s");
  ProgressMeter meter(100, "runs");
  EXPECT_EQ(meter.Line(0).rfind("0/100 runs (0.0%)", 0), 0u);
  EXPECT_GE(meter.elapsed_s(), 0.0);
}

}  // namespace
}  // namespace diffmem::util
