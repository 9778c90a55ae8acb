// The order a run visits its training images in: epoch e follows a
// Fisher–Yates permutation drawn from std::mt19937_64 seeded by
// seed_seq{seed, e} (fixed by the C++ standard, so a seed gives the same order
// everywhere), or — fixed — epoch 0's permutation every epoch (the authors'
// sampler with window size 0). Batches run across epoch boundaries, and the
// images of any batch are a pure function of (seed, images seen), so a
// resumed run continues bit for bit.
//
// Example:
//   DataStream order(/*seed=*/0, /*n=*/1000);
//   torch::Tensor idx = order.Batch(/*nimg=*/6400, /*batch=*/64);   // int64 64

#ifndef DIFFMEM_TRAINING_DATA_STREAM_H_
#define DIFFMEM_TRAINING_DATA_STREAM_H_

#include <torch/types.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "data/subsets.h"

namespace diffmem {
namespace training {

// The order of epoch `epoch` over n images.
inline std::vector<int64_t> EpochPermutation(uint64_t seed, int64_t epoch, int64_t n) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(epoch),
                    static_cast<uint32_t>(static_cast<uint64_t>(epoch) >> 32)};
  std::mt19937_64 rng(seq);
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(data::UniformBelow(rng, static_cast<uint64_t>(i + 1)));
    std::swap(p[i], p[j]);
  }
  return p;
}

// Indices of images nimg … nimg+batch−1 of the endless seeded stream: a new
// permutation every epoch, or (fixed) epoch 0's permutation every epoch.
class DataStream {
 public:
  DataStream(uint64_t seed, int64_t n, bool fixed = false) : seed_(seed), n_(n), fixed_(fixed) {}
  torch::Tensor Batch(int64_t nimg, int64_t batch) {
    torch::Tensor out = torch::empty({batch}, torch::kInt64);
    int64_t* o = out.data_ptr<int64_t>();
    for (int64_t k = 0; k < batch; ++k) {
      const int64_t g = nimg + k, epoch = fixed_ ? 0 : g / n_;
      if (epoch != epoch_) {
        perm_ = EpochPermutation(seed_, epoch, n_);
        epoch_ = epoch;
      }
      o[k] = perm_[g % n_];
    }
    return out;
  }

 private:
  uint64_t seed_;
  int64_t n_;
  bool fixed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_DATA_STREAM_H_
