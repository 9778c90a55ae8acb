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

}  // namespace
}  // namespace diffmem::util
