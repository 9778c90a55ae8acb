// PerSeedNoise: one random generator per sample, so that sample i of a batch
// depends only on seed i (not on the batch it was drawn in or its position).
// Generation runs on the CPU generators and the result moves to the
// requested device, so a seed gives the same numbers on every device.
//
// Each generator is torch's CPU generator (mt19937) seeded with the seed,
// which it truncates to 32 bits: generator i is Python's
// torch.Generator().manual_seed(seed % 2**32), the one EDM's generate.py
// makes per seed, and Randn / RandInt draw what torch.randn / torch.randint
// with that generator draw (checked against Python in edm_seeds_test).
// The order of draws is the caller's: diffusion/edm_seeds.h follows EDM's.
//
// Example:
//   diffmem::diffusion::PerSeedNoise noise({0, 1, 2, 3});
//   torch::Tensor z = noise.Randn({3, 32, 32});                     // 4×3×32×32 float32
//   torch::Tensor e = noise.Randn({3, 32, 32}, torch::kFloat64);     // continues each stream
//   torch::Tensor c = noise.RandInt(10);                            // 4 int64 in [0, 10)

#ifndef DIFFMEM_DIFFUSION_SEEDED_NOISE_H_
#define DIFFMEM_DIFFUSION_SEEDED_NOISE_H_

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace diffmem {
namespace diffusion {

class PerSeedNoise {
 public:
  explicit PerSeedNoise(const std::vector<uint64_t>& seeds) {
    generators_.reserve(seeds.size());
    for (uint64_t seed : seeds) generators_.push_back(at::detail::createCPUGenerator(seed));
  }

  int64_t size() const { return static_cast<int64_t>(generators_.size()); }

  // size()×sample_shape standard normal values; row i advances generator i.
  torch::Tensor Randn(torch::IntArrayRef sample_shape, torch::TensorOptions options = torch::kFloat32) {
    std::vector<int64_t> shape = {size()};
    shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
    torch::Tensor out = torch::empty(shape, options.device(torch::kCPU));
    for (int64_t i = 0; i < size(); ++i) {
      out[i].normal_(0.0, 1.0, generators_[i]);
    }
    return out.to(options.device());
  }

  // One int64 per generator, uniform in [0, high): torch.randint(high, size=[]).
  torch::Tensor RandInt(int64_t high) {
    TORCH_CHECK(high > 0, "PerSeedNoise::RandInt: high must be positive, got ", high);
    torch::Tensor out = torch::empty({size()}, torch::kInt64);
    for (int64_t i = 0; i < size(); ++i) out[i] = torch::randint(high, {}, generators_[i], torch::kInt64).item();
    return out;
  }

 private:
  std::vector<at::Generator> generators_;
};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_SEEDED_NOISE_H_
