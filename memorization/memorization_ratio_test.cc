#include "memorization/memorization_ratio.h"

#include <torch/types.h>

#include <cmath>
#include <string>

#include "gtest/gtest.h"
#include "memorization/distance.h"

namespace diffmem {
namespace memorization {
namespace {

TEST(WilsonIntervalTest, ClosedFormValues) {
  // z = 1.959964 at 95%: 0/10 → [0, z²/(n+z²)] = [0, 0.2775]; 5/10 → 0.5 ± 0.2634.
  EXPECT_NEAR(TwoSidedNormalQuantile(0.95), 1.959963985, 1e-8);
  EXPECT_NEAR(TwoSidedNormalQuantile(0.99), 2.575829304, 1e-8);
  const double z2 = 1.959963985 * 1.959963985;
  BinomialInterval none = WilsonInterval(0, 10);
  EXPECT_DOUBLE_EQ(none.low, 0);
  EXPECT_NEAR(none.high, z2 / (10 + z2), 1e-9);
  BinomialInterval all = WilsonInterval(10, 10);
  EXPECT_NEAR(all.low, 10 / (10 + z2), 1e-9);
  EXPECT_DOUBLE_EQ(all.high, 1);
  BinomialInterval half = WilsonInterval(5, 10);
  EXPECT_NEAR(half.low, 0.236593, 1e-6);
  EXPECT_NEAR(half.high, 0.763407, 1e-6);
  BinomialInterval empty = WilsonInterval(0, 0);
  EXPECT_EQ(empty.low, 0);
  EXPECT_EQ(empty.high, 1);
  // Contains the estimate and narrows with n.
  for (int64_t n : {7, 100, 10000}) {
    BinomialInterval ci = WilsonInterval(n / 3, n);
    EXPECT_LE(ci.low, double(n / 3) / n);
    EXPECT_GE(ci.high, double(n / 3) / n);
  }
  EXPECT_LT(WilsonInterval(3333, 10000).high - WilsonInterval(3333, 10000).low,
            WilsonInterval(33, 100).high - WilsonInterval(33, 100).low);
}

TEST(MemorizationRatioTest, CopiesAreMemorizedAndMidpointsAreNot) {
  torch::manual_seed(30);
  torch::Tensor train = torch::rand({200, 1, 8, 8}) * 2 - 1;
  // 6 near-copies, 4 midpoints of two training images (d1 ≈ d2), 1 exact copy.
  torch::Tensor samples = torch::empty({11, 1, 8, 8});
  for (int64_t i = 0; i < 6; ++i) samples[i] = train[10 * i + 3] + 0.01 * torch::randn({1, 8, 8});
  for (int64_t i = 0; i < 4; ++i) samples[6 + i] = 0.5 * (train[i] + train[100 + i]);
  samples[10] = train[42];
  MemorizationReport r = MemorizationRatio(samples, train);
  ASSERT_EQ(r.samples.size(), 11u);
  EXPECT_EQ(r.metric, "l2");
  EXPECT_DOUBLE_EQ(r.threshold, 1.0 / 3.0);
  EXPECT_EQ(r.memorized, 7);
  EXPECT_DOUBLE_EQ(r.ratio, 7.0 / 11.0);
  const BinomialInterval ci = WilsonInterval(7, 11);
  EXPECT_DOUBLE_EQ(r.ci_low, ci.low);
  EXPECT_DOUBLE_EQ(r.ci_high, ci.high);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_TRUE(r.samples[i].memorized);
    EXPECT_EQ(r.samples[i].nearest, 10 * i + 3);
  }
  for (int64_t i = 6; i < 10; ++i) {
    EXPECT_FALSE(r.samples[i].memorized);
    EXPECT_GT(r.samples[i].ratio, 0.9);
  }
  EXPECT_EQ(r.samples[10].nearest, 42);
  EXPECT_EQ(r.samples[10].d1, 0.0);
  // d1, d2 and the ratio against a direct float64 computation.
  torch::Tensor s64 = samples.reshape({11, -1}).to(torch::kFloat64), t64 = train.reshape({200, -1}).to(torch::kFloat64);
  for (int64_t i = 0; i < 11; ++i) {
    const SampleMemorization& m = r.samples[i];
    const double d1 = (s64[i] - t64[m.nearest]).square().sum().sqrt().item<double>();
    const double d2 = (s64[i] - t64[m.second]).square().sum().sqrt().item<double>();
    const double min_d = (t64 - s64[i]).square().sum(1).sqrt().min().item<double>();
    EXPECT_DOUBLE_EQ(m.d1, d1);
    EXPECT_DOUBLE_EQ(m.d2, d2);
    EXPECT_DOUBLE_EQ(m.d1, min_d);
    EXPECT_LE(m.d1, m.d2);
    EXPECT_DOUBLE_EQ(m.ratio, d1 / d2);
  }
}

TEST(MemorizationRatioTest, ThresholdMetricAndDuplicateTrainingImages) {
  torch::manual_seed(31);
  torch::Tensor train = torch::rand({50, 16});
  train[20] = train[5];  // a duplicated training image
  torch::Tensor samples = torch::stack({train[5], train[7] + 0.05 * torch::randn({16})});
  MemorizationOptions o;
  o.threshold = 1e-9;
  MemorizationReport strict = MemorizationRatio<L1Distance>(samples, train, o);
  EXPECT_EQ(strict.metric, "l1");
  // The copy of a duplicated image: d1 = d2 = 0, ratio 0, memorized at any threshold.
  EXPECT_EQ(strict.samples[0].nearest, 5);
  EXPECT_EQ(strict.samples[0].second, 20);
  EXPECT_EQ(strict.samples[0].ratio, 0.0);
  EXPECT_TRUE(strict.samples[0].memorized);
  EXPECT_FALSE(strict.samples[1].memorized);
  // A reusable index gives the same report.
  NearestNeighbors<L1Distance> index(train);
  MemorizationReport again = MemorizationRatio(index, samples, o);
  EXPECT_EQ(again.memorized, strict.memorized);
  EXPECT_EQ(again.samples[1].d1, strict.samples[1].d1);
}

TEST(MemorizationRatioTest, RandomNoiseIsNotMemorized) {
  torch::manual_seed(32);
  torch::Tensor train = torch::rand({500, 1, 12, 12}) * 2 - 1;
  torch::Tensor noise = torch::rand({200, 1, 12, 12}) * 2 - 1;
  MemorizationReport r = MemorizationRatio(noise, train);
  EXPECT_EQ(r.memorized, 0);
  EXPECT_EQ(r.ratio, 0.0);
  EXPECT_LT(r.ci_high, 0.03);
}

// Progress in blocks changes nothing but the calls: the same per-sample rows.
TEST(MemorizationRatioTest, ProgressBlocksGiveTheSameReport) {
  torch::manual_seed(7);
  torch::Tensor train = torch::rand({300, 1, 6, 6});
  torch::Tensor samples = torch::cat({train.narrow(0, 0, 40) + 0.001 * torch::rand({40, 1, 6, 6}), torch::rand({37, 1, 6, 6})});
  const MemorizationReport whole = MemorizationRatio(samples, train);
  MemorizationOptions o;
  o.progress_block = 16;
  std::vector<std::pair<int64_t, int64_t>> calls;
  o.progress = [&](int64_t done, int64_t total) { calls.push_back({done, total}); };
  const MemorizationReport blocked = MemorizationRatio(samples, train, o);
  ASSERT_EQ(calls.size(), 5u);  // 16, 32, 48, 64, 77
  EXPECT_EQ(calls.front(), (std::pair<int64_t, int64_t>{16, 77}));
  EXPECT_EQ(calls.back(), (std::pair<int64_t, int64_t>{77, 77}));
  ASSERT_EQ(blocked.samples.size(), whole.samples.size());
  for (size_t i = 0; i < whole.samples.size(); ++i) {
    EXPECT_EQ(blocked.samples[i].nearest, whole.samples[i].nearest) << i;
    EXPECT_EQ(blocked.samples[i].second, whole.samples[i].second) << i;
    EXPECT_EQ(blocked.samples[i].d1, whole.samples[i].d1) << i;
    EXPECT_EQ(blocked.samples[i].d2, whole.samples[i].d2) << i;
  }
  EXPECT_EQ(blocked.memorized, whole.memorized);
  EXPECT_GE(whole.memorized, 40);
}

}  // namespace
}  // namespace memorization
}  // namespace diffmem
