// Distance metrics between images (flattened to rows of D values) as policy
// types, for nearest-neighbour search and the memorization ratio:
//   L2Distance         ‖a − b‖₂ (default; the paper's pixel-space L2)
//   SquaredL2Distance  ‖a − b‖₂²
//   L1Distance         Σ|a − b|
//   CosineDistance     1 − a·b / (‖a‖‖b‖)  (a zero vector has cosine 0 to everything)
//   LInfDistance       max|a − b|
// plus PairwiseDistances<M>(x, y), the batched Q×N form of any of them.
//
// METRIC interface (checked by IsDistanceMetric<M>, static_assert in users).
// Every metric orders pairs by a "key", a non-decreasing function of the
// distance (squared L2 for the L2 family, the distance itself otherwise):
//   static constexpr const char* kName;          // "l2", "sql2", "l1", "cosine", "linf"
//   static torch::Tensor RowStats(const torch::Tensor& a);
//       per-row statistics of a float32 R×D matrix (‖a‖² or ‖a‖), float32 R;
//       cached for references, so each search computes them once.
//   static torch::Tensor RankKeys(q, q_stats, r, r_stats);
//       float32 Q×R keys of query rows q against reference rows r, each row
//       possibly shifted by a per-query constant (the L2 family drops ‖q‖²:
//       it does not change a query's ranking). GEMM-based where possible.
//   static torch::Tensor KeyLowerBound(rank_key, q_stats, max_r_stat, dim);
//       float64 Q: a lower bound on the exact key of any reference whose
//       RankKeys value was ≥ rank_key (float64 Q): undoes the shift and
//       subtracts a worst-case float32 rounding bound. Search uses it to prove
//       its candidate set holds the true top-k.
//   static torch::Tensor Keys(q, q_stats, r, r_stats);
//       float32 Q×R keys with no shift (RankKeys plus the per-query constant).
//   static torch::Tensor ExactKeys(a, b);
//       float64 keys of a and b (broadcast, rows over the last dim), computed
//       directly from the differences in float64 (no GEMM identity).
//   static torch::Tensor KeyToDistance(const torch::Tensor& key);
//       the metric value from its key (sqrt for L2); keeps the dtype.
//
// Example:
//   torch::Tensor d = diffmem::memorization::PairwiseDistances<L2Distance>(x, y);  // Q×N float32
//   torch::Tensor e = L1Distance::KeyToDistance(L1Distance::ExactKeys(a, b));     // float64

#ifndef DIFFMEM_MEMORIZATION_DISTANCE_H_
#define DIFFMEM_MEMORIZATION_DISTANCE_H_

#include <torch/types.h>

#include <limits>
#include <type_traits>
#include <utility>

namespace diffmem {
namespace memorization {
namespace internal_distance {

// Unit roundoff of float32 and γ_n = n·u / (1 − n·u) (Higham, Accuracy and
// Stability of Numerical Algorithms, Sec. 3.1): the worst-case relative error
// of an n-term float32 sum or dot product.
inline double Gamma32(int64_t n) {
  const double u = std::numeric_limits<float>::epsilon() / 2;
  const double nu = static_cast<double>(n) * u;
  return nu < 0.5 ? nu / (1 - nu) : std::numeric_limits<double>::infinity();
}

inline torch::Tensor AsFloatRows(const torch::Tensor& a) {
  return a.reshape({a.size(0), -1}).to(torch::kFloat32).contiguous();
}

}  // namespace internal_distance

// ‖a − b‖² through the GEMM identity ‖a‖² − 2a·b + ‖b‖² (one torch::addmm
// per block), clamped at 0.
struct SquaredL2Distance {
  static constexpr const char* kName = "sql2";
  static torch::Tensor RowStats(const torch::Tensor& a) { return a.square().sum(1); }
  // ‖r‖² − 2q·r: the per-query ‖q‖² is left out.
  static torch::Tensor RankKeys(const torch::Tensor& q, const torch::Tensor& /*q_stats*/, const torch::Tensor& r,
                                const torch::Tensor& r_stats) {
    return torch::addmm(r_stats.unsqueeze(0), q, r.t(), /*beta=*/1, /*alpha=*/-2);
  }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor& q_stats, const torch::Tensor& r,
                            const torch::Tensor& r_stats) {
    return RankKeys(q, q_stats, r, r_stats).add_(q_stats.unsqueeze(1)).clamp_min_(0);
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor& q_stats, double max_r_stat,
                                     int64_t dim) {
    // |error| ≤ γ_{D+2}(‖q‖² + ‖r‖² + 2‖q‖‖r‖), doubled for the final additions.
    torch::Tensor qs = q_stats.to(torch::kFloat64);
    torch::Tensor bound = (qs.sqrt() + std::sqrt(max_r_stat)).square() * (2 * internal_distance::Gamma32(dim + 2));
    return rank_key + qs - bound;
  }
  static torch::Tensor ExactKeys(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).square().sum(-1);
  }
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key.clamp_min(0); }
};

// ‖a − b‖₂: ranks and bounds exactly as SquaredL2Distance, reports the root.
struct L2Distance : SquaredL2Distance {
  static constexpr const char* kName = "l2";
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key.clamp_min(0).sqrt(); }
};

// Σ|a − b|, computed directly (torch::cdist with p = 1).
struct L1Distance {
  static constexpr const char* kName = "l1";
  static torch::Tensor RowStats(const torch::Tensor& a) { return torch::Tensor(); }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor&, const torch::Tensor& r,
                            const torch::Tensor&) {
    return torch::cdist(q, r, /*p=*/1);
  }
  static torch::Tensor RankKeys(const torch::Tensor& q, const torch::Tensor& qs, const torch::Tensor& r,
                                const torch::Tensor& rs) {
    return Keys(q, qs, r, rs);
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t dim) {
    // Each |q_i − r_i| carries one rounding, the D-term sum γ_{D−1} more.
    return rank_key * (1 - 2 * internal_distance::Gamma32(dim + 1));
  }
  static torch::Tensor ExactKeys(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().sum(-1);
  }
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key; }
};

// max|a − b|, computed directly (torch::cdist with p = ∞).
struct LInfDistance {
  static constexpr const char* kName = "linf";
  static torch::Tensor RowStats(const torch::Tensor& a) { return torch::Tensor(); }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor&, const torch::Tensor& r,
                            const torch::Tensor&) {
    return torch::cdist(q, r, /*p=*/std::numeric_limits<double>::infinity());
  }
  static torch::Tensor RankKeys(const torch::Tensor& q, const torch::Tensor& qs, const torch::Tensor& r,
                                const torch::Tensor& rs) {
    return Keys(q, qs, r, rs);
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t) {
    return rank_key * (1 - 4 * internal_distance::Gamma32(1));  // one rounding per difference
  }
  static torch::Tensor ExactKeys(const torch::Tensor& a, const torch::Tensor& b) {
    return std::get<0>((a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max(-1));
  }
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key; }
};

// 1 − cos(a, b) through one GEMM of the normalized queries against the
// references, scaled by the cached 1/‖r‖.
struct CosineDistance {
  static constexpr const char* kName = "cosine";
  static torch::Tensor RowStats(const torch::Tensor& a) { return a.square().sum(1).sqrt(); }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor& q_stats, const torch::Tensor& r,
                            const torch::Tensor& r_stats) {
    torch::Tensor q_hat = q * InverseNorm(q_stats).unsqueeze(1);
    return torch::mm(q_hat, r.t()).mul_(InverseNorm(r_stats).unsqueeze(0)).neg_().add_(1);
  }
  static torch::Tensor RankKeys(const torch::Tensor& q, const torch::Tensor& qs, const torch::Tensor& r,
                                const torch::Tensor& rs) {
    return Keys(q, qs, r, rs);
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t dim) {
    // |q̂·r|/‖r‖ ≤ 1: the dot product errs by γ_D, the normalizations by a few u.
    return rank_key - 2 * internal_distance::Gamma32(dim + 8);
  }
  static torch::Tensor ExactKeys(const torch::Tensor& a, const torch::Tensor& b) {
    torch::Tensor a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
    torch::Tensor norms = a64.square().sum(-1).sqrt() * b64.square().sum(-1).sqrt();
    torch::Tensor cos = (a64 * b64).sum(-1) / norms;
    return 1 - torch::where(norms > 0, cos, torch::zeros_like(cos));
  }
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key; }

 private:
  static torch::Tensor InverseNorm(const torch::Tensor& norms) {
    return torch::where(norms > 0, norms.reciprocal(), torch::zeros_like(norms));
  }
};

// IsDistanceMetric<M>::value: M offers the METRIC interface above.
template <class M, class = void>
struct IsDistanceMetric : std::false_type {};
template <class M>
struct IsDistanceMetric<
    M, std::void_t<decltype(static_cast<const char*>(M::kName)),
                   decltype(M::RowStats(std::declval<const torch::Tensor&>())),
                   decltype(M::RankKeys(std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>(),
                                        std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>())),
                   decltype(M::Keys(std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>(),
                                    std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>())),
                   decltype(M::KeyLowerBound(std::declval<const torch::Tensor&>(),
                                             std::declval<const torch::Tensor&>(), 1.0, int64_t{1})),
                   decltype(M::ExactKeys(std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>())),
                   decltype(M::KeyToDistance(std::declval<const torch::Tensor&>()))>> : std::true_type {};

// All Q×N distances between the rows of x (Q×…) and y (N×…), float32,
// through the metric's batched (GEMM where it can) form. Memory Q×N: for
// large sets use NearestNeighbors, which is blocked.
template <class Metric = L2Distance>
torch::Tensor PairwiseDistances(const torch::Tensor& x, const torch::Tensor& y) {
  static_assert(IsDistanceMetric<Metric>::value, "Metric must offer the METRIC interface of memorization/distance.h");
  torch::Tensor q = internal_distance::AsFloatRows(x), r = internal_distance::AsFloatRows(y);
  TORCH_CHECK(q.size(1) == r.size(1), "PairwiseDistances: dimensions differ: ", q.size(1), " vs ", r.size(1));
  return Metric::KeyToDistance(Metric::Keys(q, Metric::RowStats(q), r, Metric::RowStats(r)));
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_DISTANCE_H_
