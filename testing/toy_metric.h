// A distance metric that diffmem does not ship, defined in a test: the
// Minkowski distance with p = 3, (Σ|a − b|³)^(1/3). It exists to show that a
// metric is one type with the METRIC interface of memorization/distance.h
// plus one line in a registry (testing/toy_metric_mem_ratio.cc).
//
// Example:
//   using Metrics = diffmem::Append<diffmem::memorization::DistanceMetrics, diffmem::testing::L3Distance>;

#ifndef DIFFMEM_TESTING_TOY_METRIC_H_
#define DIFFMEM_TESTING_TOY_METRIC_H_

#include <torch/types.h>

#include <cmath>
#include <cstdint>

#include "memorization/distance.h"

namespace diffmem {
namespace testing {

struct L3Distance {
  static constexpr const char* kName = "l3";
  static torch::Tensor RowStats(const torch::Tensor&) { return torch::Tensor(); }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor&, const torch::Tensor& r, const torch::Tensor&) {
    return torch::cdist(q, r, /*p=*/3);
  }
  static void RankKeys(torch::Tensor out, const torch::Tensor& q, const torch::Tensor& qs, const torch::Tensor& r,
                       const torch::Tensor& rs) {
    out.copy_(Keys(q, qs, r, rs));
  }
  // A loose bound (float32 cdist errs far less): a looser bound only widens
  // the candidate set that is re-ranked exactly.
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t) {
    return rank_key * (1 - 1e-4);
  }
  static double ExactKey(const float* a, const float* b, int64_t dim) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += std::pow(std::abs(static_cast<double>(a[i]) - b[i]), 3);
    return std::cbrt(sum);
  }
  static torch::Tensor ExactRowKeys(const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs_().pow_(3).sum(1).pow_(1.0 / 3);
  }
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key; }
};
static_assert(memorization::IsDistanceMetric<L3Distance>::value, "L3Distance offers the METRIC interface");

}  // namespace testing
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_TOY_METRIC_H_
