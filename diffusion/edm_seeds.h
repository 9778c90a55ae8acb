// Sampling with the random draws of EDM's generate.py (Karras et al. 2022,
// NVlabs/edm), so that seed s gives the image EDM's code gives for seed s
// when it runs on the CPU. Per seed, one CPU generator (PerSeedNoise: torch's
// mt19937 seeded with s mod 2^32) draws, in this order:
//   1. the latents, randn([C, H, W]) in float32;
//   2. for a conditional network, the class label randint(label_dim), drawn
//      even when a fixed class replaces it;
//   3. at every sampler step, randn([C, H, W]) in float64: the churn noise
//      where the step churns (S_churn > 0 and S_min <= σ_i <= S_max), drawn
//      and multiplied by zero otherwise.
// diffmem's own convention (EdmSampler::SampleFromSeeds) draws the same
// latents but takes labels from the caller and draws step noise only on
// churning steps, so the two agree on unconditional deterministic sampling
// and part ways on labels and on churn restricted to some steps.
// With EdmRhoSteps the noise levels also follow EDM's edm_sampler, which
// narrows [σ_min, σ_max] to the network's range before discretizing, where
// EdmSampler discretizes and then clamps each level (they differ for VE and
// iDDPM networks, whose σ_min exceeds 0.002).
// EDM's generate.py draws on the device it samples on (CUDA by default),
// whose generator is another algorithm (Philox): those images are not these.
//
// SeedLabels gives the class EDM draws for each seed (step 2 alone), so that
// diffmem's own convention, //tools:sample, //tools:optimum and the EMM study
// ask conditional networks for the same uniformly random, seeded classes.
//
// Example:
//   using namespace diffmem::diffusion;
//   EdmSampler<HeunSolver, EdmRhoSteps> sampler;
//   EdmSeedSample s = SampleWithEdmSeeds(sampler, denoiser, {0, 1, 2}, {3, 32, 32}, /*label_dim=*/10);
//   // s.images: float32 3×3×32×32; s.labels: int64 3 (EDM's random classes)
//   torch::Tensor y = SeedLabels({0, 1, 2}, {3, 32, 32}, 10);   // == s.labels

#ifndef DIFFMEM_DIFFUSION_EDM_SEEDS_H_
#define DIFFMEM_DIFFUSION_EDM_SEEDS_H_

#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "diffusion/edm_sampler.h"
#include "diffusion/seeded_noise.h"
#include "diffusion/step_schedules.h"

namespace diffmem {
namespace diffusion {

struct EdmSeedSample {
  torch::Tensor images;  // float32 N×C×H×W
  torch::Tensor labels;  // int64 N (conditional networks), else undefined
};

// The class EDM's generate.py draws for each seed: randint(label_dim) from the
// seed's generator right after the latents of `sample_shape`.
inline torch::Tensor SeedLabels(const std::vector<uint64_t>& seeds, torch::IntArrayRef sample_shape, int64_t label_dim) {
  PerSeedNoise noise(seeds);
  noise.Randn(sample_shape);  // the latents come first
  return noise.RandInt(label_dim);
}

// Samples one image per seed with EDM's draws. `class_label` >= 0 fixes the
// class of a conditional network (EDM's --class); `label_dim` 0 means
// unconditional. Latents and noise are drawn on the CPU, then moved to `device`.
template <class Solver, class Steps, class D>
EdmSeedSample SampleWithEdmSeeds(const EdmSampler<Solver, Steps>& sampler, D& denoiser,
                                 const std::vector<uint64_t>& seeds, torch::IntArrayRef sample_shape,
                                 int64_t label_dim = 0, int64_t class_label = -1, torch::Device device = torch::kCPU,
                                 const StepCallback& callback = StepCallback()) {
  if constexpr (std::is_same<Steps, EdmRhoSteps>::value && HasSigmaRange<D>::value) {
    EdmRhoSteps::Options range = sampler.step_options();
    range.sigma_min = std::max(range.sigma_min, static_cast<double>(denoiser.sigma_min()));
    range.sigma_max = std::min(range.sigma_max, static_cast<double>(denoiser.sigma_max()));
    if (range.sigma_min != sampler.step_options().sigma_min || range.sigma_max != sampler.step_options().sigma_max) {
      return SampleWithEdmSeeds(EdmSampler<Solver, Steps>(sampler.options(), range), denoiser, seeds, sample_shape,
                                label_dim, class_label, device, callback);
    }
  }
  torch::NoGradGuard no_grad;
  PerSeedNoise noise(seeds);
  EdmSeedSample out;
  torch::Tensor latents = noise.Randn(sample_shape, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  if (label_dim > 0) {
    out.labels = noise.RandInt(label_dim);
    if (class_label >= 0) out.labels.fill_(class_label);
    out.labels = out.labels.to(device);
  }
  const std::vector<double> t = sampler.SigmasFor(denoiser);
  const SamplerOptions& o = sampler.options();
  typename EdmSampler<Solver, Steps>::Workspace workspace;
  torch::Tensor x = latents.to(torch::kFloat64) * t[0];
  for (int i = 0; i < sampler.num_steps(); ++i) {
    // The same condition as EdmSampler's γ_i > 0; without churn, EDM still draws.
    const bool churns = o.s_churn > 0 && o.s_min <= t[i] && t[i] <= o.s_max;
    if (!churns) noise.Randn(sample_shape, torch::kFloat64);
    x = sampler.Step(denoiser, x, i, out.labels, &noise, &workspace);
    if (callback) callback(i, t[i + 1]);
  }
  out.images = x.to(torch::kFloat32);
  return out;
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_EDM_SEEDS_H_
