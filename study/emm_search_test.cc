#include "study/emm_search.h"

#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

using RatioFn = std::function<double(int64_t)>;

// Runs the search on a noiseless synthetic ratio function, recording every N it asks for.
struct Trace {
  EmmEstimate estimate;
  std::vector<int64_t> asked;
};

Trace Search(const EmmSearchOptions& o, const RatioFn& ratio, std::vector<EmmMeasurement> done = {}) {
  Trace t;
  absl::StatusOr<EmmEstimate> e = RunEmmSearch(
      o,
      [&](int64_t n) -> absl::StatusOr<EmmMeasurement> {
        t.asked.push_back(n);
        const double r = ratio(n);
        return EmmMeasurement{n, r, std::max(0.0, r - 0.05), std::min(1.0, r + 0.05)};
      },
      std::move(done));
  EXPECT_TRUE(e.ok()) << e.status();
  if (e.ok()) t.estimate = *e;
  return t;
}

// Logistic in log N, decreasing, crossing `level` at n_cross.
RatioFn Logistic(double n_cross, double slope, double level) {
  const double c = std::log(n_cross) + std::log(level / (1 - level)) / slope;
  return [=](int64_t n) { return 1.0 / (1.0 + std::exp(slope * (std::log(static_cast<double>(n)) - c))); };
}

TEST(EmmSearch, LogisticInLogNIsBracketedAroundItsCrossing) {
  EmmSearchOptions o;
  o.n_min = 1;
  o.n_max = 100000;
  o.n_start = 16;
  o.precision = 1.05;
  o.max_runs = 30;
  const double cross = 700.0;  // ratio(700) = 0.9 exactly
  const RatioFn r = Logistic(cross, 3.0, 0.9);
  ASSERT_NEAR(r(700), 0.9, 1e-12);
  const Trace t = Search(o, r);
  const EmmEstimate& e = t.estimate;
  EXPECT_EQ(e.status, EmmSearchStatus::kConverged);
  ASSERT_TRUE(e.emm && e.n_hi && e.interpolated);
  EXPECT_EQ(*e.emm, *e.n_lo);
  EXPECT_LE(*e.n_lo, 700);  // r(700) = 0.9 to rounding, so 700 may or may not count
  EXPECT_GT(*e.n_hi, 699);
  EXPECT_LE(static_cast<double>(*e.n_hi), 1.05 * static_cast<double>(*e.n_lo));
  EXPECT_GE(*e.interpolated, static_cast<double>(*e.n_lo));
  EXPECT_LE(*e.interpolated, static_cast<double>(*e.n_hi));
  EXPECT_NEAR(*e.interpolated, cross, 0.02 * cross);
  // Doubling from 16 brackets at 512 | 1024, then bisection: few runs in all.
  EXPECT_EQ(std::vector<int64_t>(t.asked.begin(), t.asked.begin() + 8),
            (std::vector<int64_t>{16, 32, 64, 128, 256, 512, 1024, 724}));
  EXPECT_LE(t.asked.size(), 14u);
}

// Brute force over every allowed N: a step function memorizing iff N <= T is
// found exactly when precision allows no slack.
TEST(EmmSearch, StepFunctionsMatchBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    EmmSearchOptions o;
    o.granularity = 1 + rng() % 10;
    o.n_min = o.granularity * (1 + rng() % 3);
    o.n_max = o.n_min + o.granularity * (rng() % 400);
    o.n_start = o.n_min + o.granularity * (rng() % ((o.n_max - o.n_min) / o.granularity + 1));
    o.growth = 1.5 + (rng() % 3);
    o.precision = 1.0 + 1e-9;
    o.max_runs = 1000;
    o.parallel = 1 + rng() % 3;
    const int64_t threshold = static_cast<int64_t>(rng() % (o.n_max + 2 * o.granularity));
    const RatioFn step = [&](int64_t n) { return n <= threshold ? 0.95 : 0.5; };
    const Trace t = Search(o, step);
    const EmmEstimate& e = t.estimate;

    std::optional<int64_t> lo, hi;
    for (int64_t n = o.n_min; n <= o.n_max; n += o.granularity) {
      if (n <= threshold) lo = n;
      if (n > threshold && !hi) hi = n;
    }
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " q=" << o.granularity << " range=[" << o.n_min
                                      << "," << o.n_max << "] start=" << o.n_start << " T=" << threshold);
    EXPECT_EQ(e.emm, lo);
    if (!lo) {
      EXPECT_EQ(e.status, EmmSearchStatus::kMemorizesNowhere);
      EXPECT_EQ(e.n_hi, std::optional<int64_t>(o.n_min));
    } else if (!hi) {
      EXPECT_EQ(e.status, EmmSearchStatus::kMemorizesEverywhere);
      EXPECT_FALSE(e.n_hi.has_value());
    } else {
      EXPECT_EQ(e.status, EmmSearchStatus::kConverged);
      EXPECT_EQ(e.n_hi, hi);
    }
    std::set<int64_t> seen;
    for (int64_t n : t.asked) {
      EXPECT_TRUE(seen.insert(n).second) << "N=" << n << " measured twice";
      EXPECT_EQ(n % o.granularity, 0);
      EXPECT_GE(n, o.n_min);
      EXPECT_LE(n, o.n_max);
    }
    // Bracketing then bisection needs O(log range) runs, not a scan.
    EXPECT_LE(t.asked.size(), 4u * (2 + static_cast<size_t>(std::log2(o.n_max / o.granularity + 1))) + 3u);
  }
}

TEST(EmmSearch, MemorizesAtEveryNInRange) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 640;
  o.n_start = 40;
  o.granularity = 10;
  const Trace t = Search(o, [](int64_t) { return 1.0; });
  EXPECT_EQ(t.estimate.status, EmmSearchStatus::kMemorizesEverywhere);
  EXPECT_EQ(t.estimate.emm, std::optional<int64_t>(640));
  EXPECT_FALSE(t.estimate.n_hi.has_value());
  EXPECT_FALSE(t.estimate.interpolated.has_value());
  EXPECT_EQ(t.asked, (std::vector<int64_t>{40, 80, 160, 320, 640}));
}

TEST(EmmSearch, MemorizesAtNoNInRange) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 640;
  o.n_start = 160;
  o.granularity = 10;
  const Trace t = Search(o, [](int64_t) { return 0.0; });
  EXPECT_EQ(t.estimate.status, EmmSearchStatus::kMemorizesNowhere);
  EXPECT_FALSE(t.estimate.emm.has_value());
  EXPECT_EQ(t.estimate.n_hi, std::optional<int64_t>(10));
  EXPECT_FALSE(t.estimate.interpolated.has_value());
  EXPECT_EQ(t.asked, (std::vector<int64_t>{160, 80, 40, 20, 10}));
}

TEST(EmmSearch, BudgetExhaustedKeepsTheBestBracketSoFar) {
  EmmSearchOptions o;
  o.n_min = 1;
  o.n_max = 1 << 20;
  o.n_start = 8;
  o.max_runs = 3;
  const Trace t = Search(o, [](int64_t n) { return n <= 5000 ? 1.0 : 0.0; });
  EXPECT_EQ(t.estimate.status, EmmSearchStatus::kBudgetExhausted);
  EXPECT_EQ(t.asked, (std::vector<int64_t>{8, 16, 32}));
  EXPECT_EQ(t.estimate.emm, std::optional<int64_t>(32));
  EXPECT_FALSE(t.estimate.n_hi.has_value());

  // Budget runs out during bisection: the bracket is still valid, not converged.
  o.max_runs = 12;
  const Trace u = Search(o, [](int64_t n) { return n <= 5000 ? 1.0 : 0.0; });
  EXPECT_EQ(u.estimate.status, EmmSearchStatus::kBudgetExhausted);
  EXPECT_EQ(u.asked.size(), 12u);
  ASSERT_TRUE(u.estimate.n_lo && u.estimate.n_hi);
  EXPECT_LE(*u.estimate.n_lo, 5000);
  EXPECT_GT(*u.estimate.n_hi, 5000);
  EXPECT_GT(static_cast<double>(*u.estimate.n_hi), o.precision * static_cast<double>(*u.estimate.n_lo));
}

TEST(EmmSearch, ResumesFromMeasuredPointsWithoutRemeasuring) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 20480;
  o.n_start = 20;
  o.granularity = 10;
  o.precision = 1.02;
  o.max_runs = 20;
  const RatioFn r = Logistic(1234.0, 4.0, 0.9);
  const Trace full = Search(o, r);
  ASSERT_GE(full.asked.size(), 8u);

  // Kill after k runs (the measure fails), then resume from what finished.
  for (size_t k = 0; k <= full.asked.size(); ++k) {
    std::vector<EmmMeasurement> done;
    size_t calls = 0;
    absl::StatusOr<EmmEstimate> killed = RunEmmSearch(o, [&](int64_t n) -> absl::StatusOr<EmmMeasurement> {
      if (calls++ == k) return absl::AbortedError("killed");
      done.push_back({n, r(n), 0, 1});
      return done.back();
    });
    EXPECT_EQ(killed.ok(), k == full.asked.size());
    const Trace resumed = Search(o, r, done);
    std::vector<int64_t> sequence;
    for (const EmmMeasurement& m : done) sequence.push_back(m.n);
    sequence.insert(sequence.end(), resumed.asked.begin(), resumed.asked.end());
    EXPECT_EQ(sequence, full.asked) << "k=" << k;
    EXPECT_EQ(resumed.estimate.emm, full.estimate.emm);
    EXPECT_EQ(resumed.estimate.n_hi, full.estimate.n_hi);
    EXPECT_EQ(resumed.estimate.interpolated, full.estimate.interpolated);
  }
}

TEST(EmmSearch, ParallelWavesSplitTheBracketInLogN) {
  EmmSearchOptions o;
  o.n_min = 1;
  o.n_max = 4096;
  o.n_start = 1;
  o.parallel = 4;
  o.precision = 1.2;
  o.max_runs = 100;
  std::vector<EmmMeasurement> done;
  const RatioFn step = [](int64_t n) { return n <= 300 ? 1.0 : 0.2; };
  std::vector<std::vector<int64_t>> waves;
  for (std::vector<int64_t> w = NextEmmRuns(o, done); !w.empty(); w = NextEmmRuns(o, done)) {
    waves.push_back(w);
    for (int64_t n : w) done.push_back({n, step(n), 0, 1});
  }
  ASSERT_GE(waves.size(), 3u);
  EXPECT_EQ(waves[0], (std::vector<int64_t>{1, 2, 4, 8}));
  EXPECT_EQ(waves[1], (std::vector<int64_t>{16, 32, 64, 128}));
  EXPECT_EQ(waves[2], (std::vector<int64_t>{256, 512, 1024, 2048}));
  // Bracket [256, 512]: four points at 256 * 2^(k/5), k = 1..4.
  ASSERT_GE(waves.size(), 4u);
  EXPECT_EQ(waves[3], (std::vector<int64_t>{294, 338, 388, 446}));
  const EmmEstimate e = SummarizeEmmSearch(o, done);
  EXPECT_EQ(e.status, EmmSearchStatus::kConverged);
  EXPECT_LE(*e.n_lo, 300);
  EXPECT_GT(*e.n_hi, 300);
}

TEST(EmmSearch, ExtraPointsComeFirstThenTheSearchFromN0) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 320;
  o.n_start = 10;
  o.granularity = 10;
  o.precision = 1.25;
  o.max_runs = 6;
  o.extra_n = {320};
  const Trace t = Search(o, [](int64_t n) { return n <= 30 ? 0.95 : 0.1; });
  // 320 first; N0 = 10 next; then bisection in log N inside the known bracket [10, 320].
  ASSERT_GE(t.asked.size(), 3u);
  EXPECT_EQ(t.asked[0], 320);
  EXPECT_EQ(t.asked[1], 10);
  EXPECT_EQ(t.asked[2], 60);  // sqrt(10 * 320) = 56.6
  EXPECT_EQ(t.estimate.emm, std::optional<int64_t>(30));
  EXPECT_EQ(t.estimate.n_hi, std::optional<int64_t>(40));
  EXPECT_LE(t.asked.size(), 6u);
  // An extra point that memorizes at n_max ends the search at once.
  o.extra_n = {320};
  const Trace all = Search(o, [](int64_t) { return 1.0; });
  EXPECT_EQ(all.asked, (std::vector<int64_t>{320}));
  EXPECT_EQ(all.estimate.status, EmmSearchStatus::kMemorizesEverywhere);
  // Resuming after the extra point alone continues at N0.
  EXPECT_EQ(NextEmmRuns(o, {{320, 0.1, 0, 1}}), (std::vector<int64_t>{10}));
  o.extra_n = {0};
  EXPECT_FALSE(ValidateEmmSearchOptions(o).ok());
}

TEST(EmmSearch, InterpolatesLinearlyInLogN) {
  EmmSearchOptions o;
  o.n_min = 100;
  o.n_max = 200;
  const EmmEstimate e = SummarizeEmmSearch(o, {{200, 0.8, 0, 1}, {100, 1.0, 0, 1}});
  EXPECT_EQ(e.status, EmmSearchStatus::kSearching);  // 200 / 100 > precision: bisection would go on
  ASSERT_TRUE(e.interpolated.has_value());
  EXPECT_NEAR(*e.interpolated, std::sqrt(100.0 * 200.0), 1e-9);  // halfway from 1.0 to 0.8 is 0.9
  EXPECT_EQ(e.measurements.front().n, 100);
}

TEST(EmmSearch, NoisyNonMonotoneRatiosUseTheLargestMemorizingN) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 1000;
  o.max_runs = 4;
  const EmmEstimate e = SummarizeEmmSearch(o, {{10, 0.99, 0, 1}, {20, 0.85, 0, 1}, {40, 0.91, 0, 1}, {80, 0.1, 0, 1}});
  EXPECT_EQ(e.emm, std::optional<int64_t>(40));
  EXPECT_EQ(e.n_hi, std::optional<int64_t>(80));
  EXPECT_EQ(e.status, EmmSearchStatus::kBudgetExhausted);
}

TEST(EmmSearch, RejectsBadOptions) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 100;
  o.granularity = 10;
  EXPECT_TRUE(ValidateEmmSearchOptions(o).ok());
  auto with = [&](auto edit) {
    EmmSearchOptions p = o;
    edit(p);
    return ValidateEmmSearchOptions(p);
  };
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.epsilon = 0; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.n_min = 15; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.n_max = 5; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.n_start = 200; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.growth = 1.0; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.precision = 1.0; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.max_runs = 0; }).ok());
  EXPECT_FALSE(with([](EmmSearchOptions& p) { p.parallel = 0; }).ok());
  absl::Status s = with([](EmmSearchOptions& p) { p.n_start = 25; });
  EXPECT_NE(s.message().find("n_start"), std::string::npos) << s;
  EmmSearchOptions bad = o;
  bad.epsilon = 2;
  absl::StatusOr<EmmEstimate> e =
      RunEmmSearch(bad, [](int64_t n) -> absl::StatusOr<EmmMeasurement> { return EmmMeasurement{n, 1, 0, 1}; });
  EXPECT_FALSE(e.ok());
}

}  // namespace
}  // namespace study
}  // namespace diffmem
