#include "study/emm_early_stop.h"

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

// Wilson score interval at 95% for k of n (the test's own reference).
RatioCurvePoint Point(int64_t images, int k, int n) {
  const double z = 1.959963984540054, p = static_cast<double>(k) / n;
  const double den = 1 + z * z / n, mid = (p + z * z / (2 * n)) / den;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / den;
  return {images, p, std::max(0.0, mid - half), std::min(1.0, mid + half), n};
}

// Feeds the curve one evaluation at a time; returns the index where it stops (or -1).
int StopIndex(const EarlyStopOptions& o, const std::vector<RatioCurvePoint>& curve, EarlyStop* verdict = nullptr) {
  std::vector<RatioCurvePoint> seen;
  for (size_t i = 0; i < curve.size(); ++i) {
    seen.push_back(curve[i]);
    const EarlyStopDecision d = DecideEarlyStop(o, seen);
    if (d.stop()) {
      if (verdict) *verdict = d.verdict;
      EXPECT_FALSE(d.reason.empty());
      return static_cast<int>(i);
    }
  }
  if (verdict) *verdict = EarlyStop::kContinue;
  return -1;
}

std::vector<RatioCurvePoint> Curve(int evaluations, int64_t images_per_eval, int samples,
                                   const std::function<int(int)>& memorized_at) {
  std::vector<RatioCurvePoint> c;
  for (int i = 0; i < evaluations; ++i) c.push_back(Point((i + 1) * images_per_eval, memorized_at(i), samples));
  return c;
}

TEST(EarlyStop, PassesAtTheFirstEvaluationWhoseIntervalClearsTheTarget) {
  EarlyStopOptions o;
  o.min_images = 1000000;  // no plateau verdicts here
  // 64 samples; memorized count rises 0, 8, 16, ... up to 64.
  const auto c = Curve(12, 6400, 64, [](int i) { return std::min(64, 8 * i); });
  int truth = -1;
  for (size_t i = 0; i < c.size() && truth < 0; ++i) {
    if (c[i].ci_low >= 0.9) truth = static_cast<int>(i);
  }
  ASSERT_GT(truth, 0);
  EXPECT_LT(c[truth - 1].ci_low, 0.9);
  EarlyStop v;
  EXPECT_EQ(StopIndex(o, c, &v), truth);
  EXPECT_EQ(v, EarlyStop::kPassed);
  // 58/64 = 0.906 is above 0.9 as a point estimate but not with confidence.
  EXPECT_FALSE(DecideEarlyStop(o, {Point(1, 58, 64)}).stop());
  EXPECT_TRUE(DecideEarlyStop(o, {Point(1, 64, 64)}).stop());
}

TEST(EarlyStop, ConfirmationsIgnoreASingleLuckyBatch) {
  EarlyStopOptions o;
  o.min_images = 1000000;
  o.confirmations = 2;
  const std::vector<RatioCurvePoint> c = {Point(1, 40, 64), Point(2, 64, 64), Point(3, 50, 64), Point(4, 64, 64),
                                          Point(5, 64, 64)};
  EarlyStop v;
  EXPECT_EQ(StopIndex(o, c, &v), 4);
  EXPECT_EQ(v, EarlyStop::kPassed);
}

TEST(EarlyStop, FlatStartIsNotAPlateauBeforeMinImages) {
  EarlyStopOptions o;
  o.patience = 3;
  o.min_images = 10 * 6400;
  // Nothing memorized for 14 evaluations, then the model memorizes.
  const auto late = Curve(20, 6400, 64, [](int i) { return i < 14 ? 0 : 64; });
  EarlyStop v;
  const int at = StopIndex(o, late, &v);
  // Flat at zero: the first evaluation at >= min_images with a full patience window stops it.
  EXPECT_EQ(at, 9);
  EXPECT_EQ(v, EarlyStop::kPlateaued);
  // With min_images past the flat start the same curve runs until it passes.
  o.min_images = 16 * 6400;
  EXPECT_EQ(StopIndex(o, late, &v), 14);
  EXPECT_EQ(v, EarlyStop::kPassed);
}

TEST(EarlyStop, SteadyRiseIsNotAPlateauButAFlatTopIs) {
  EarlyStopOptions o;
  o.patience = 3;
  o.min_improvement = 0.05;
  // +5 of 64 per evaluation (0.078 > 0.05) to 40/64, then flat.
  const auto c = Curve(20, 1000, 64, [](int i) { return std::min(40, 5 * i); });
  EarlyStop v;
  const int at = StopIndex(o, c, &v);
  EXPECT_EQ(v, EarlyStop::kPlateaued);
  // The count reaches 40 at i = 8; three evaluations later nothing has improved.
  EXPECT_EQ(at, 8 + 3);
  for (int i = 0; i <= 8; ++i) {
    std::vector<RatioCurvePoint> prefix(c.begin(), c.begin() + i + 1);
    EXPECT_FALSE(DecideEarlyStop(o, prefix).stop()) << i;
  }
}

// Simulated batches: binomial noise around a saturating true ratio curve
// p(i) = top * (1 - exp(-i / 4)). Every run stops, never before its true
// ratio is within 0.15 of its top, and only a run that truly memorizes can
// stop as "passed".
TEST(EarlyStop, SimulatedNoisyRunsStopNearTheirTopForTheRightReason) {
  std::mt19937 rng(11);
  EarlyStopOptions o;
  o.min_images = 10 * 1000;
  o.patience = 4;
  o.min_improvement = 0.1;
  for (int trial = 0; trial < 100; ++trial) {
    for (double top : {1.0, 0.5, 0.0}) {
      std::vector<RatioCurvePoint> c;
      auto truth = [&](int i) { return top * (1 - std::exp(-i / 4.0)); };
      for (int i = 0; i < 60; ++i) {
        c.push_back(Point((i + 1) * 1000, std::binomial_distribution<int>(64, truth(i))(rng), 64));
      }
      EarlyStop v;
      const int at = StopIndex(o, c, &v);
      SCOPED_TRACE(::testing::Message() << "trial " << trial << " top " << top << " stopped at " << at);
      ASSERT_GE(at, 0);
      EXPECT_GE(truth(at), top - 0.15);
      if (top < 0.9) EXPECT_EQ(v, EarlyStop::kPlateaued);
      if (top == 0.0) EXPECT_EQ(at, 9);  // the first evaluation at min_images
    }
  }
}

// The default study's probe curves at the end of 1200 steps (fashion_cpu,
// 64-sample probes every 150 steps): N = 30, 40 and 60 were still rising;
// a curve that has flattened is not.
TEST(EarlyStop, StillRisingWhenTheLastProbesGainedEnough) {
  EarlyStopOptions o;  // patience 3, min_improvement 0.05
  auto curve = [](std::vector<double> ratios) {
    std::vector<RatioCurvePoint> c;
    for (size_t i = 0; i < ratios.size(); ++i) c.push_back({static_cast<int64_t>(i + 1) * 9600, ratios[i], 0, 1, 64});
    return c;
  };
  EXPECT_TRUE(StillRising(o, curve({0.016, 0.109, 0.328, 0.359, 0.625, 0.703, 0.906, 0.906})));
  EXPECT_TRUE(StillRising(o, curve({0.0, 0.031, 0.094, 0.297, 0.297, 0.391, 0.562, 0.609})));
  EXPECT_TRUE(StillRising(o, curve({0.0, 0.016, 0.016, 0.109, 0.125, 0.219, 0.25, 0.266})));
  EXPECT_FALSE(StillRising(o, curve({0.0, 0.0, 0.0, 0.0})));
  EXPECT_FALSE(StillRising(o, curve({0.2, 0.5, 0.7, 0.72, 0.71, 0.74})));  // +0.04 < 0.05 over the last 3
  EXPECT_FALSE(StillRising(o, curve({0.5})));
  EXPECT_TRUE(StillRising(o, curve({0.1, 0.4})));  // fewer evaluations than the patience: first to last
  // Exactly the converse of the plateau rule once min_images has passed.
  for (const auto& c : {curve({0.2, 0.5, 0.7, 0.72, 0.71, 0.74}), curve({0.0, 0.1, 0.3, 0.5, 0.7})}) {
    EXPECT_EQ(StillRising(o, c), DecideEarlyStop(o, c).verdict != EarlyStop::kPlateaued) << c.back().ratio;
  }
}

TEST(EarlyStop, ValidatesOptions) {
  EarlyStopOptions o;
  EXPECT_TRUE(ValidateEarlyStopOptions(o).ok());
  o.patience = 0;
  EXPECT_FALSE(ValidateEarlyStopOptions(o).ok());
  o = {};
  o.confirmations = 0;
  EXPECT_FALSE(ValidateEarlyStopOptions(o).ok());
  o = {};
  o.epsilon = 1;
  EXPECT_FALSE(ValidateEarlyStopOptions(o).ok());
  EXPECT_FALSE(DecideEarlyStop(EarlyStopOptions{}, {}).stop());
}

}  // namespace
}  // namespace study
}  // namespace diffmem
