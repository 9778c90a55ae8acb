// The memorization ratio (paper, Sec. 3): a generated sample x is memorized
// when d(x, NN1) / d(x, NN2) < threshold (1/3), NN1 and NN2 its nearest and
// second-nearest training images (L2 in pixel space by default; any METRIC of
// memorization/distance.h as a template parameter); the ratio is the
// memorized fraction of the samples, reported with a Wilson binomial
// confidence interval.
//
//   MemorizationOptions          — threshold, confidence level, search blocks
//   SampleMemorization           — one sample: nearest/second indices, d1, d2, d1/d2, memorized
//   MemorizationReport           — all samples, count, ratio, interval
//   MemorizationRatio<M>(...)    — computes a report (from an index or a training tensor)
//   WilsonInterval(k, n, level)  — the binomial interval on its own
//
// A sample that equals a training image present twice (d1 = d2 = 0) has
// d1/d2 := 0: it is a copy of training data, so it counts as memorized.
//
// Device: the search runs where the training images (or the index) are, CPU
// or CUDA; samples are moved there.
//
// Example:
//   using diffmem::memorization::MemorizationRatio;
//   MemorizationReport r = MemorizationRatio(samples, train_images);  // L2, threshold 1/3
//   std::printf("%.3f [%.3f, %.3f]\n", r.ratio, r.ci_low, r.ci_high);
//   int64_t nn = r.samples[0].nearest;  // index into train_images

#ifndef DIFFMEM_MEMORIZATION_MEMORIZATION_RATIO_H_
#define DIFFMEM_MEMORIZATION_MEMORIZATION_RATIO_H_

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <string>
#include <vector>

#include "memorization/distance.h"
#include "memorization/nearest_neighbors.h"

namespace diffmem {
namespace memorization {

struct MemorizationOptions {
  double threshold = 1.0 / 3.0;  // memorized when d1/d2 < threshold
  double confidence = 0.95;      // level of the Wilson interval
  NearestNeighborsOptions search;  // blocks of the exact search (its k is forced to 2)
  // Called with (samples done, samples in all) after each block of
  // `progress_block` samples (the results do not depend on the blocks).
  std::function<void(int64_t, int64_t)> progress;
  int64_t progress_block = 1024;
};

struct SampleMemorization {
  int64_t nearest = -1;  // index of NN1 in the training set
  int64_t second = -1;   // index of NN2
  double d1 = 0;         // d(x, NN1)
  double d2 = 0;         // d(x, NN2) ≥ d1
  double ratio = 0;      // d1/d2 (0/0 := 0)
  bool memorized = false;
};

struct MemorizationReport {
  std::vector<SampleMemorization> samples;
  int64_t memorized = 0;  // count of memorized samples
  double ratio = 0;       // memorized / samples.size()
  double ci_low = 0;      // Wilson interval of the ratio at `confidence`
  double ci_high = 1;
  double threshold = 1.0 / 3.0;
  double confidence = 0.95;
  std::string metric;     // Metric::kName
};

struct BinomialInterval {
  double low = 0;
  double high = 1;
};

// The standard normal quantile z with P(|Z| ≤ z) = level, by bisection on erfc.
inline double TwoSidedNormalQuantile(double level) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (std::erfc(mid / std::sqrt(2.0)) > 1 - level ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Wilson score interval for `successes` out of `trials` (Wilson 1927);
// [0, 1] when trials = 0.
inline BinomialInterval WilsonInterval(int64_t successes, int64_t trials, double level = 0.95) {
  if (trials <= 0) return {0, 1};
  const double n = static_cast<double>(trials), p = successes / n;
  const double z = TwoSidedNormalQuantile(level), z2 = z * z;
  const double center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const double half = z / (1 + z2 / n) * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n));
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

// The report for `samples` (S×…) against an index over the training set.
template <class Metric>
MemorizationReport MemorizationRatio(const NearestNeighbors<Metric>& train, const torch::Tensor& samples,
                                     const MemorizationOptions& options = {}) {
  TORCH_CHECK(train.size() >= 2, "MemorizationRatio: needs at least 2 training images, got ", train.size());
  NearestNeighborsOptions search = options.search;
  search.k = 2;
  torch::Tensor d, idx;
  if (!options.progress) {
    Neighbors nn = train.Search(samples, search);  // on the training images' device
    d = nn.distances.cpu().contiguous();
    idx = nn.indices.cpu().contiguous();
  } else {
    std::vector<torch::Tensor> ds, is;
    const int64_t total = samples.size(0), block = std::max<int64_t>(1, options.progress_block);
    for (int64_t first = 0; first < total; first += block) {
      Neighbors nn = train.Search(samples.narrow(0, first, std::min(block, total - first)), search);
      ds.push_back(nn.distances);
      is.push_back(nn.indices);
      options.progress(std::min(total, first + block), total);
    }
    d = torch::cat(ds).cpu().contiguous();
    idx = torch::cat(is).cpu().contiguous();
  }
  const double* dp = d.data_ptr<double>();
  const int64_t* ip = idx.data_ptr<int64_t>();
  MemorizationReport report;
  report.threshold = options.threshold;
  report.confidence = options.confidence;
  report.metric = Metric::kName;
  report.samples.resize(d.size(0));
  for (int64_t i = 0; i < d.size(0); ++i) {
    SampleMemorization& s = report.samples[i];
    s.nearest = ip[2 * i];
    s.second = ip[2 * i + 1];
    s.d1 = dp[2 * i];
    s.d2 = dp[2 * i + 1];
    s.ratio = s.d2 > 0 ? s.d1 / s.d2 : 0.0;
    s.memorized = s.ratio < options.threshold;
    report.memorized += s.memorized;
  }
  const int64_t n = static_cast<int64_t>(report.samples.size());
  report.ratio = n > 0 ? static_cast<double>(report.memorized) / n : 0.0;
  const BinomialInterval ci = WilsonInterval(report.memorized, n, options.confidence);
  report.ci_low = ci.low;
  report.ci_high = ci.high;
  return report;
}

// The report for `samples` (S×…) against training images `train` (N×…, same
// per-image size; compare both in the same space, e.g. pixels or [−1, 1]).
template <class Metric = L2Distance>
MemorizationReport MemorizationRatio(const torch::Tensor& samples, const torch::Tensor& train,
                                     const MemorizationOptions& options = {}) {
  return MemorizationRatio(NearestNeighbors<Metric>(train), samples, options);
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_MEMORIZATION_RATIO_H_
