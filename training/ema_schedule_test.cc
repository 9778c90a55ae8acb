#include "training/ema_schedule.h"

#include <cmath>

#include "gtest/gtest.h"

namespace diffmem::training {
namespace {

// The authors' data-ratio EMA against its closed form. After the ramp-up,
// h = 500 kimg · N / 50 000 = 10·N images and β = 0.5^(512 / h / (50 000 / N))
// = 0.5^(512 / 500 000) ≈ 0.99929 for every N; during the ramp-up, h = 0.05 ·
// images seen and β = 0.5^(512 N / (50 000 · 0.05 · images)).
TEST(EmaScheduleTest, DataRatioBetaAgainstTheClosedForm) {
  const EmaDataRatio d;  // 500 kimg, ramp-up 0.05, reference 50k images and batch 512
  const double after = std::pow(0.5, 512.0 / 500000.0);
  EXPECT_NEAR(after, 0.99929, 1e-5);
  for (int64_t n : {500, 1000, 4000, 50000}) {
    // The ramp-up ends at 0.05 · images = 10 N, i.e. after 200 N images.
    EXPECT_DOUBLE_EQ(DataRatioBeta(n, 200 * n, d), after) << n;
    EXPECT_DOUBLE_EQ(DataRatioBeta(n, 1000 * n, d), after) << n;
    for (int64_t seen : {n, 10 * n, 100 * n}) {
      const double h = 0.05 * static_cast<double>(seen);
      EXPECT_NEAR(DataRatioBeta(n, seen, d), std::pow(0.5, 512.0 * n / (50000.0 * h)), 1e-15) << n << " " << seen;
      EXPECT_LT(DataRatioBeta(n, seen, d), after);
    }
    EXPECT_EQ(DataRatioBeta(n, 0, d), 0.0) << "the first update copies the network";
  }
  EmaDataRatio no_ramp = d;
  no_ramp.rampup_ratio = 0;
  EXPECT_DOUBLE_EQ(DataRatioBeta(1000, 0, no_ramp), after);
}

// EDM's half-life: β = 0.5^(batch / min(h, 0.05 · images seen)).
TEST(EmaScheduleTest, HalfLifeBetaAgainstTheClosedForm) {
  const EmaHalfLife h{10, 0.05};  // diffmem's first paper preset: a 10 kimg half-life
  EXPECT_NEAR(HalfLifeBeta(512, 10000000, h), std::pow(0.5, 512 / 10000.0), 1e-15);
  EXPECT_NEAR(HalfLifeBeta(512, 10000000, h), 0.965, 1e-3);  // ≈ 50× shorter than the authors' 0.99929
  EXPECT_NEAR(HalfLifeBeta(64, 100000, h), std::pow(0.5, 64 / 5000.0), 1e-15);  // ramping: h = 5000
}

TEST(EmaScheduleTest, NamesRoundTrip) {
  for (EmaSchedule s : {EmaSchedule::kFixed, EmaSchedule::kHalfLife, EmaSchedule::kDataRatio}) {
    EXPECT_EQ(*ParseEnum<EmaSchedule>(EnumName(s), "schedule"), s);
  }
  EXPECT_STREQ(EnumName(EmaSchedule::kDataRatio), "data_ratio");
}

}  // namespace
}  // namespace diffmem::training
