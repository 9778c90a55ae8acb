// Exact k-nearest-neighbour search (k = 2 for the memorization criterion) of
// Q query rows among N reference rows under any METRIC of
// memorization/distance.h, blocked over queries and references so memory
// stays bounded, multi-threaded through LibTorch (at::get_num_threads()).
// It runs on the device of the references (CPU or CUDA; queries are moved
// there) and returns its results on that device.
//
//   NearestNeighborsOptions  — k, block sizes, float32 candidates per query
//   Neighbors                — distances (float64 Q×k, ascending) and indices (int64 Q×k)
//   NearestNeighbors<M>      — an index over the references (caches their row statistics)
//   FindNearestNeighbors<M>  — one-shot search
//
// How it stays exact. A first pass ranks every reference with the metric's
// fast float32 key (a GEMM for L2 and cosine) and keeps the best `candidates`
// per query (a streaming top-k over reference blocks). Their distances are
// then recomputed directly in float64 from the differences and re-ranked by
// (distance, index), so reported distances are exact and exact ties go to the
// lower index. Finally each query checks with the metric's worst-case
// rounding bound that no reference left out could beat its k-th candidate;
// queries that cannot prove it (near-ties, many duplicates) are searched again
// with 4× the candidates, up to all N. The float64 re-ranking is a parallel
// loop over candidate pairs on the CPU; on another device the same float64
// arithmetic runs as tensor ops (Metric::ExactRowKeys) on gathered rows, in
// chunks of at most 8M values, so the exactness argument is the same: only
// the order of the float64 additions differs (distances agree with the CPU's
// to ~1e-15 relative; exact ties are still broken by index).
//
// Memory: besides the references (float32 N×D, one copy; none if given
// float32 contiguous) and the queries, one float32 buffer of
// query_block × (reference_block + candidates) keys that every block's GEMM
// writes into (≈ 34 MB with the defaults) plus O(query_block·candidates)
// bookkeeping, whatever Q and N are: 10k × 60k × 3072 runs in about 1 GiB,
// of which 0.85 GiB are the inputs. The block sizes are the knobs.
//
// Example:
//   diffmem::memorization::NearestNeighbors<> index(train_images);   // N×C×H×W, L2
//   diffmem::memorization::Neighbors nn = index.Search(samples);      // k = 2
//   double d1 = nn.distances[i][0].item<double>(), d2 = nn.distances[i][1].item<double>();
//   int64_t nearest = nn.indices[i][0].item<int64_t>();

#ifndef DIFFMEM_MEMORIZATION_NEAREST_NEIGHBORS_H_
#define DIFFMEM_MEMORIZATION_NEAREST_NEIGHBORS_H_

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

#include "memorization/distance.h"

namespace diffmem {
namespace memorization {

struct NearestNeighborsOptions {
  int64_t k = 2;                    // neighbours per query (≤ N)
  int64_t query_block = 1024;       // queries ranked together (rows of one GEMM)
  int64_t reference_block = 8192;   // references ranked together (columns of one GEMM)
  int64_t candidates = 8;           // float32 candidates kept per query before the exact re-ranking (≥ k)
};

struct Neighbors {
  torch::Tensor distances;  // float64 Q×k, ascending, exact metric values (L2: not squared)
  torch::Tensor indices;    // int64 Q×k into the references; equal distances: lower index first
};

namespace internal_nearest_neighbors {

// Exact float64 keys of query rows q (len×D float32) against their candidate
// references cand (len×kk indices into refs, N×D float32) by tensor ops, on
// their device: the candidates' rows are gathered and compared in float64
// (Metric::ExactRowKeys), a chunk of query rows at a time so that no gathered
// block holds more than max_values values.
template <class Metric>
torch::Tensor GatheredExactKeys(const torch::Tensor& q, const torch::Tensor& refs, const torch::Tensor& cand,
                                int64_t max_values = int64_t{8} << 20) {
  const int64_t rows = cand.size(0), kk = cand.size(1), d = refs.size(1);
  torch::Tensor keys = torch::empty({rows, kk}, q.options().dtype(torch::kFloat64));
  const int64_t chunk = std::max<int64_t>(1, max_values / std::max<int64_t>(1, kk * d));
  for (int64_t start = 0; start < rows; start += chunk) {
    const int64_t len = std::min(chunk, rows - start);
    torch::Tensor r = refs.index_select(0, cand.narrow(0, start, len).reshape({-1})).to(torch::kFloat64);
    torch::Tensor a = q.narrow(0, start, len).to(torch::kFloat64).unsqueeze(1).expand({len, kk, d}).reshape({-1, d});
    keys.narrow(0, start, len).copy_(Metric::ExactRowKeys(a, r).view({len, kk}));
  }
  return keys;
}

}  // namespace internal_nearest_neighbors

template <class Metric = L2Distance>
class NearestNeighbors {
  static_assert(IsDistanceMetric<Metric>::value, "Metric must offer the METRIC interface of memorization/distance.h");

 public:
  using metric_type = Metric;

  // references: N×… (any numeric dtype; rows are flattened and held as float32).
  explicit NearestNeighbors(const torch::Tensor& references)
      : refs_(internal_distance::AsFloatRows(references)), stats_(Metric::RowStats(refs_)) {
    TORCH_CHECK(refs_.size(0) > 0, "NearestNeighbors: no references");
    max_stat_ = stats_.defined() ? stats_.max().item<double>() : 0.0;
  }

  int64_t size() const { return refs_.size(0); }
  int64_t dim() const { return refs_.size(1); }
  const torch::Tensor& references() const { return refs_; }  // float32 N×D
  torch::Device device() const { return refs_.device(); }

  // The k nearest references of each query row (Q×…, same D as the
  // references; moved to their device), on the references' device.
  Neighbors Search(const torch::Tensor& queries, const NearestNeighborsOptions& options = {}) const {
    const NearestNeighborsOptions& o = options;
    TORCH_CHECK(o.k >= 1 && o.k <= size(), "NearestNeighbors: k = ", o.k, " must be in [1, N = ", size(), "]");
    TORCH_CHECK(o.query_block > 0 && o.reference_block > 0,
                "NearestNeighbors: block sizes must be positive");
    torch::Tensor q = internal_distance::AsFloatRows(queries.to(device()));
    TORCH_CHECK(q.size(1) == dim(), "NearestNeighbors: queries have ", q.size(1), " values per row, references ",
                dim());
    const int64_t num_queries = q.size(0);
    Neighbors out{torch::empty({num_queries, o.k}, refs_.options().dtype(torch::kFloat64)),
                  torch::empty({num_queries, o.k}, refs_.options().dtype(torch::kInt64))};
    for (int64_t start = 0; start < num_queries; start += o.query_block) {
      const int64_t len = std::min(o.query_block, num_queries - start);
      SearchBlock(q.narrow(0, start, len), o, out.distances.narrow(0, start, len), out.indices.narrow(0, start, len));
    }
    return out;
  }

 private:
  // Fills dist/idx (len×k views) for the queries q (len×D).
  void SearchBlock(const torch::Tensor& q_block, const NearestNeighborsOptions& o, torch::Tensor dist,
                   torch::Tensor idx) const {
    const int64_t n = size();
    torch::Tensor q = q_block;
    torch::Tensor q_stats = Metric::RowStats(q);
    torch::Tensor rows = torch::arange(q.size(0), q.options().dtype(torch::kInt64));  // rows of dist/idx still open
    int64_t kk = std::min(std::max(o.candidates, o.k), n);
    while (true) {
      torch::Tensor rank_keys, cand;
      std::tie(rank_keys, cand) = Candidates(q, q_stats, kk, o.reference_block);
      torch::Tensor exact = ExactKeys(q, cand);
      // Order by (exact key, index): sort by index, then stable sort by key.
      torch::Tensor perm;
      std::tie(cand, perm) = cand.sort(/*dim=*/1);
      exact = exact.gather(1, perm);
      std::tie(exact, perm) = exact.sort(c10::optional<bool>(true), /*dim=*/1);  // stable
      cand = cand.gather(1, perm);
      torch::Tensor done;
      if (kk >= n) {
        done = torch::ones({q.size(0)}, q.options().dtype(torch::kBool));
      } else {
        // Any reference left out ranked at or after the last kept one.
        torch::Tensor cutoff = std::get<0>(rank_keys.max(1)).to(torch::kFloat64);
        torch::Tensor lower = Metric::KeyLowerBound(cutoff, q_stats, max_stat_, dim());
        done = lower > exact.select(1, o.k - 1);
      }
      torch::Tensor done_rows = done.nonzero().reshape({-1});
      if (done_rows.numel() > 0) {
        torch::Tensor target = rows.index_select(0, done_rows);
        dist.index_copy_(0, target, Metric::KeyToDistance(exact.index_select(0, done_rows).narrow(1, 0, o.k)));
        idx.index_copy_(0, target, cand.index_select(0, done_rows).narrow(1, 0, o.k));
      }
      if (done_rows.numel() == q.size(0)) return;
      torch::Tensor open = done.logical_not().nonzero().reshape({-1});
      q = q.index_select(0, open);
      q_stats = q_stats.defined() ? q_stats.index_select(0, open) : q_stats;
      rows = rows.index_select(0, open);
      kk = std::min(kk * 4, n);
    }
  }

  // Streaming top-kk by rank key over reference blocks: (rank keys float32
  // len×kk, reference indices int64 len×kk). One buffer holds the kept keys
  // and the current block's keys side by side (the block's GEMM writes into
  // it), so no large temporary is allocated per block.
  std::pair<torch::Tensor, torch::Tensor> Candidates(const torch::Tensor& q, const torch::Tensor& q_stats, int64_t kk,
                                                     int64_t reference_block) const {
    const int64_t n = size(), rows = q.size(0);
    const int64_t block = std::min(reference_block, n);
    torch::Tensor buffer = torch::empty({rows, kk + block}, refs_.options());
    torch::Tensor best_keys, best_idx;
    int64_t kept = 0;
    for (int64_t start = 0; start < n; start += block) {
      const int64_t len = std::min(block, n - start);
      torch::Tensor r_stats = stats_.defined() ? stats_.narrow(0, start, len) : stats_;
      torch::Tensor keys = buffer.narrow(1, kept, len);
      Metric::RankKeys(keys, q, q_stats, refs_.narrow(0, start, len), r_stats);
      if (kept > 0) buffer.narrow(1, 0, kept).copy_(best_keys);
      torch::Tensor pos;
      std::tie(best_keys, pos) =
          buffer.narrow(1, 0, kept + len).topk(std::min(kk, kept + len), /*dim=*/1, /*largest=*/false, /*sorted=*/false);
      torch::Tensor fresh = pos - kept + start;  // index of a reference of this block
      best_idx = kept > 0 ? torch::where(pos < kept, best_idx.gather(1, pos.clamp_max(kept - 1)), fresh) : fresh;
      kept = best_keys.size(1);
    }
    return {best_keys, best_idx};
  }

  // Exact float64 keys of q's rows against their candidates (len×kk).
  torch::Tensor ExactKeys(const torch::Tensor& q, const torch::Tensor& cand) const {
    if (!q.is_cpu()) return internal_nearest_neighbors::GatheredExactKeys<Metric>(q, refs_, cand);
    const int64_t rows = cand.size(0), kk = cand.size(1), d = dim();
    torch::Tensor c = cand.contiguous();
    torch::Tensor keys = torch::empty({rows, kk}, torch::kFloat64);
    const float* qp = q.data_ptr<float>();
    const float* rp = refs_.data_ptr<float>();
    const int64_t* cp = c.data_ptr<int64_t>();
    double* kp = keys.data_ptr<double>();
    at::parallel_for(0, rows * kk, std::max<int64_t>(1, 32768 / d), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) kp[p] = Metric::ExactKey(qp + (p / kk) * d, rp + cp[p] * d, d);
    });
    return keys;
  }

  torch::Tensor refs_;   // float32 N×D
  torch::Tensor stats_;  // Metric::RowStats(refs_), or undefined
  double max_stat_ = 0;
};

// One-shot search: the k nearest of `references` for each row of `queries`.
template <class Metric = L2Distance>
Neighbors FindNearestNeighbors(const torch::Tensor& queries, const torch::Tensor& references,
                               const NearestNeighborsOptions& options = {}) {
  return NearestNeighbors<Metric>(references).Search(queries, options);
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_NEAREST_NEIGHBORS_H_
