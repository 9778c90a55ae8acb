// Distance metrics between images (flattened to rows of D values) as policy
// types, for nearest-neighbour search and the memorization ratio:
//   L2Distance         ‖a − b‖₂ (default; the paper's pixel-space L2)
//   SquaredL2Distance  ‖a − b‖₂²
//   L1Distance         Σ|a − b|
//   CosineDistance     1 − a·b / (‖a‖‖b‖)  (a zero vector has cosine 0 to everything)
//   LInfDistance       max|a − b|
// plus PairwiseDistances<M>(x, y), the batched Q×N form of any of them, and
// DistanceMetrics, the registry of metrics a tool or study can name
// (util/type_registry.h: a new metric is one type plus one line there).
//
// METRIC interface (checked by IsDistanceMetric<M>, static_assert in users).
// Every metric orders pairs by a "key", a non-decreasing function of the
// distance (squared L2 for the L2 family, the distance itself otherwise):
//   static constexpr const char* kName;          // "l2", "sql2", "l1", "cosine", "linf"
//   static torch::Tensor RowStats(const torch::Tensor& a);
//       per-row statistics of a float32 R×D matrix (‖a‖² or ‖a‖), float32 R;
//       cached for references, so each search computes them once.
//   static void RankKeys(torch::Tensor out, q, q_stats, r, r_stats);
//       writes into `out` (a float32 Q×R matrix or a row-strided view of one)
//       the keys of query rows q against reference rows r, each row possibly
//       shifted by a per-query constant (the L2 family drops ‖q‖²: it does
//       not change a query's ranking). GEMM-based where possible, with the
//       GEMM writing straight into `out`.
//   static torch::Tensor KeyLowerBound(rank_key, q_stats, max_r_stat, dim);
//       float64 Q: a lower bound on the exact key of any reference whose
//       RankKeys value was ≥ rank_key (float64 Q): undoes the shift and
//       subtracts a worst-case float32 rounding bound. Search uses it to prove
//       its candidate set holds the true top-k.
//   static torch::Tensor Keys(q, q_stats, r, r_stats);
//       float32 Q×R keys with no shift (RankKeys plus the per-query constant).
//   static double ExactKey(const float* a, const float* b, int64_t dim);
//       the key of two rows, computed directly from the differences in
//       float64 (no GEMM identity, no temporaries); ExactKeys<M>(a, b) applies
//       it to paired rows in parallel on the CPU.
//   static torch::Tensor ExactRowKeys(const torch::Tensor& a, const torch::Tensor& b);
//       the same float64 arithmetic as tensor ops, for paired float64 rows
//       K×D on any device (how ExactKeys<M> computes off the CPU); equal to
//       ExactKey up to the order of the float64 additions.
//   static torch::Tensor KeyToDistance(const torch::Tensor& key);
//       the metric value from its key (sqrt for L2); keeps the dtype.
//
// Device: every function computes on the device of its inputs (CPU or CUDA).
//
// Example:
//   torch::Tensor d = diffmem::memorization::PairwiseDistances<L2Distance>(x, y);  // Q×N float32
//   torch::Tensor e = L1Distance::KeyToDistance(ExactKeys<L1Distance>(a, b));      // float64, paired rows

#ifndef DIFFMEM_MEMORIZATION_DISTANCE_H_
#define DIFFMEM_MEMORIZATION_DISTANCE_H_

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "util/type_registry.h"

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

// Σ_j a_ij² per row of a float32 R×D matrix, in row blocks so that no R×D
// temporary is made.
inline torch::Tensor RowSquaredNorms(const torch::Tensor& a) {
  torch::Tensor out = torch::empty({a.size(0)}, a.options());
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, a.size(1)));
  for (int64_t start = 0; start < a.size(0); start += block) {
    const int64_t len = std::min(block, a.size(0) - start);
    out.narrow(0, start, len).copy_(a.narrow(0, start, len).square().sum(1));
  }
  return out;
}

inline torch::Tensor AsFloatRows(const torch::Tensor& a) {
  return a.reshape({a.size(0), -1}).to(torch::kFloat32).contiguous();
}

}  // namespace internal_distance

// ‖a − b‖² through the GEMM identity ‖a‖² − 2a·b + ‖b‖² (one torch::addmm
// per block), clamped at 0.
struct SquaredL2Distance {
  static constexpr const char* kName = "sql2";
  static torch::Tensor RowStats(const torch::Tensor& a) { return internal_distance::RowSquaredNorms(a); }
  // ‖r‖² − 2q·r: the per-query ‖q‖² is left out.
  static void RankKeys(torch::Tensor out, const torch::Tensor& q, const torch::Tensor& /*q_stats*/,
                       const torch::Tensor& r, const torch::Tensor& r_stats) {
    torch::addmm_out(out, r_stats.unsqueeze(0), q, r.t(), /*beta=*/1, /*alpha=*/-2);
  }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor& q_stats, const torch::Tensor& r,
                            const torch::Tensor& r_stats) {
    torch::Tensor out = torch::empty({q.size(0), r.size(0)}, q.options().dtype(torch::kFloat32));
    RankKeys(out, q, q_stats, r, r_stats);
    return out.add_(q_stats.unsqueeze(1)).clamp_min_(0);
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor& q_stats, double max_r_stat,
                                     int64_t dim) {
    // |error| ≤ γ_{D+2}(‖q‖² + ‖r‖² + 2‖q‖‖r‖), doubled for the final additions.
    torch::Tensor qs = q_stats.to(torch::kFloat64);
    torch::Tensor bound = (qs.sqrt() + std::sqrt(max_r_stat)).square() * (2 * internal_distance::Gamma32(dim + 2));
    return rank_key + qs - bound;
  }
  static double ExactKey(const float* a, const float* b, int64_t dim) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) {
      const double d = static_cast<double>(a[i]) - b[i];
      sum += d * d;
    }
    return sum;
  }
  static torch::Tensor ExactRowKeys(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).square_().sum(1); }
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
  static void RankKeys(torch::Tensor out, const torch::Tensor& q, const torch::Tensor& qs, const torch::Tensor& r,
                       const torch::Tensor& rs) {
    out.copy_(Keys(q, qs, r, rs));
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t dim) {
    // Each |q_i − r_i| carries one rounding, the D-term sum γ_{D−1} more.
    return rank_key * (1 - 2 * internal_distance::Gamma32(dim + 1));
  }
  static double ExactKey(const float* a, const float* b, int64_t dim) {
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += std::abs(static_cast<double>(a[i]) - b[i]);
    return sum;
  }
  static torch::Tensor ExactRowKeys(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs_().sum(1); }
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
  static void RankKeys(torch::Tensor out, const torch::Tensor& q, const torch::Tensor& qs, const torch::Tensor& r,
                       const torch::Tensor& rs) {
    out.copy_(Keys(q, qs, r, rs));
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t) {
    return rank_key * (1 - 4 * internal_distance::Gamma32(1));  // one rounding per difference
  }
  static double ExactKey(const float* a, const float* b, int64_t dim) {
    double m = 0;
    for (int64_t i = 0; i < dim; ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
    return m;
  }
  static torch::Tensor ExactRowKeys(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs_().amax(1); }
  static torch::Tensor KeyToDistance(const torch::Tensor& key) { return key; }
};

// 1 − cos(a, b) through one GEMM of the normalized queries against the
// references, scaled by the cached 1/‖r‖.
struct CosineDistance {
  static constexpr const char* kName = "cosine";
  static torch::Tensor RowStats(const torch::Tensor& a) { return internal_distance::RowSquaredNorms(a).sqrt_(); }
  static void RankKeys(torch::Tensor out, const torch::Tensor& q, const torch::Tensor& q_stats,
                       const torch::Tensor& r, const torch::Tensor& r_stats) {
    torch::mm_out(out, q * InverseNorm(q_stats).unsqueeze(1), r.t());
    out.mul_(InverseNorm(r_stats).unsqueeze(0)).neg_().add_(1);
  }
  static torch::Tensor Keys(const torch::Tensor& q, const torch::Tensor& q_stats, const torch::Tensor& r,
                            const torch::Tensor& r_stats) {
    torch::Tensor out = torch::empty({q.size(0), r.size(0)}, q.options().dtype(torch::kFloat32));
    RankKeys(out, q, q_stats, r, r_stats);
    return out;
  }
  static torch::Tensor KeyLowerBound(const torch::Tensor& rank_key, const torch::Tensor&, double, int64_t dim) {
    // |q̂·r|/‖r‖ ≤ 1: the dot product errs by γ_D, the normalizations by a few u.
    return rank_key - 2 * internal_distance::Gamma32(dim + 8);
  }
  static double ExactKey(const float* a, const float* b, int64_t dim) {
    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < dim; ++i) {
      const double x = a[i], y = b[i];
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    return na > 0 && nb > 0 ? 1 - dot / (std::sqrt(na) * std::sqrt(nb)) : 1.0;
  }
  static torch::Tensor ExactRowKeys(const torch::Tensor& a, const torch::Tensor& b) {
    torch::Tensor dot = (a * b).sum(1), na = a.square().sum(1), nb = b.square().sum(1);
    torch::Tensor both = na.gt(0).logical_and_(nb.gt(0));
    return torch::where(both, 1 - dot / (na.sqrt() * nb.sqrt()), torch::ones_like(dot));
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
                   decltype(M::RankKeys(std::declval<torch::Tensor>(), std::declval<const torch::Tensor&>(),
                                        std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>(),
                                        std::declval<const torch::Tensor&>())),
                   decltype(M::Keys(std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>(),
                                    std::declval<const torch::Tensor&>(), std::declval<const torch::Tensor&>())),
                   decltype(M::KeyLowerBound(std::declval<const torch::Tensor&>(),
                                             std::declval<const torch::Tensor&>(), 1.0, int64_t{1})),
                   decltype(static_cast<double>(M::ExactKey(std::declval<const float*>(),
                                                            std::declval<const float*>(), int64_t{1}))),
                   decltype(M::ExactRowKeys(std::declval<const torch::Tensor&>(),
                                            std::declval<const torch::Tensor&>())),
                   decltype(M::KeyToDistance(std::declval<const torch::Tensor&>()))>> : std::true_type {};

// Exact float64 keys of paired rows: a and b K×… (same shape, same device)
// → K, on their device: on the CPU by Metric::ExactKey, rows in parallel
// (at::parallel_for); elsewhere by Metric::ExactRowKeys.
template <class Metric>
torch::Tensor ExactKeys(const torch::Tensor& a, const torch::Tensor& b) {
  static_assert(IsDistanceMetric<Metric>::value, "Metric must offer the METRIC interface of memorization/distance.h");
  torch::Tensor x = internal_distance::AsFloatRows(a), y = internal_distance::AsFloatRows(b);
  TORCH_CHECK(x.sizes() == y.sizes(), "ExactKeys: row shapes differ: ", x.sizes(), " vs ", y.sizes());
  TORCH_CHECK(x.device() == y.device(), "ExactKeys: rows on different devices: ", x.device(), " vs ", y.device());
  if (!x.is_cpu()) return Metric::ExactRowKeys(x.to(torch::kFloat64), y.to(torch::kFloat64));
  const int64_t rows = x.size(0), dim = x.size(1);
  torch::Tensor keys = torch::empty({rows}, torch::kFloat64);
  const float* xp = x.data_ptr<float>();
  const float* yp = y.data_ptr<float>();
  double* kp = keys.data_ptr<double>();
  at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(dim, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) kp[i] = Metric::ExactKey(xp + i * dim, yp + i * dim, dim);
  });
  return keys;
}

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

// The metrics tools and studies choose by name (--metric), in the order --help lists them.
using DistanceMetrics = TypeList<L2Distance, SquaredL2Distance, L1Distance, CosineDistance, LInfDistance>;

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_DISTANCE_H_
