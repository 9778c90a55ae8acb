// The weighted denoising score-matching loss of EDM (Karras et al. 2022,
// Eq. 8 / Table 1 "Training"): for clean images y in [−1, 1],
//   σ ~ p_train(σ) (the preconditioner's distribution),  n ~ N(0, σ²I),
//   loss(y) = λ(σ) · ‖D(y + n; σ, labels) − y‖²   (sum over C×H×W).
// kPerSample returns the N per-sample losses; kMean their batch mean, whose
// gradient equals EDM's training step (loss.sum() / batch_size).
// Randomness: σ (N draws) then n (N×C×H×W) from the one generator passed,
// so the loss is deterministic given the generator's seed. DrawTrainingNoise
// and DenoisingLossWithNoise are the two halves: a data-parallel rank draws
// the whole global batch's σ and noise and trains on its rows of them, so
// image i gets the same σ and noise whatever rank trains it.
//
// Example:
//   diffmem::diffusion::Denoiser<diffmem::diffusion::EdmPreconditioner, MyUNet> d(net);
//   at::Generator gen = at::detail::createCPUGenerator(/*seed=*/7);
//   torch::Tensor loss = diffmem::diffusion::DenoisingLoss(d, images, labels, gen);
//   loss.backward();
//   // Any DENOISER with an explicit preconditioner (training σ and λ(σ)):
//   torch::Tensor per = diffmem::diffusion::DenoisingLoss(
//       precond, my_denoiser, images, labels, gen, diffmem::diffusion::LossReduction::kPerSample);

#ifndef DIFFMEM_DIFFUSION_LOSS_H_
#define DIFFMEM_DIFFUSION_LOSS_H_

#include <torch/types.h>

#include <stdexcept>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/preconditioning.h"

namespace diffmem {
namespace diffusion {

enum class LossReduction { kPerSample, kMean };

// `precond` supplies p_train(σ) and λ(σ); `denoiser` is any DENOISER.
// images: float32 N×C×H×W in model space; labels: int64 N or undefined.
// σ (N) and unit noise (N×C×H×W) for a batch of `shape`, in the order
// DenoisingLoss draws them (on the CPU, so a seed gives the same loss on
// every device). Rows of a larger draw are the draws of those images.
struct TrainingNoise {
  torch::Tensor sigma;  // N
  torch::Tensor noise;  // N×C×H×W, standard normal (scaled by σ in the loss)
};

template <class Precond>
TrainingNoise DrawTrainingNoise(const Precond& precond, at::IntArrayRef shape, c10::optional<at::Generator> gen) {
  static_assert(CheckPreconditioner<Precond>(), "");
  if (shape.size() < 2) throw std::invalid_argument("DrawTrainingNoise: shape must be N×...");
  TrainingNoise t;
  t.sigma = precond.sample_training_sigma(shape[0], gen, torch::kFloat32);
  t.noise = torch::randn(shape, gen, torch::kFloat32);
  return t;
}

// The loss with σ and noise given (rows matching `images`).
template <class Precond, class D>
torch::Tensor DenoisingLossWithNoise(const Precond& precond, D& denoiser, const torch::Tensor& images,
                                     const torch::Tensor& labels, const TrainingNoise& drawn,
                                     LossReduction reduction = LossReduction::kMean) {
  static_assert(CheckPreconditioner<Precond>(), "");
  static_assert(IsDenoiser<D>::value,
                "denoiser must be callable as d(x, sigma, labels) -> torch::Tensor (see denoiser.h)");
  if (images.dim() < 2) throw std::invalid_argument("DenoisingLoss: images must be N×...");
  const torch::Tensor y = images.to(torch::kFloat32);
  const int64_t n = y.size(0);
  if (drawn.sigma.size(0) != n || drawn.noise.sizes() != y.sizes()) {
    throw std::invalid_argument("DenoisingLossWithNoise: σ and noise must match the images' shape");
  }
  torch::Tensor sigma = drawn.sigma.to(y.device());
  torch::Tensor noise = drawn.noise.to(y.device());
  std::vector<int64_t> shape(y.dim(), 1);
  shape[0] = n;
  torch::Tensor denoised = denoiser(y + noise * sigma.reshape(shape), sigma, labels);
  torch::Tensor per_sample = precond.loss_weight(sigma) * (denoised - y).square().reshape({n, -1}).sum(1);
  return reduction == LossReduction::kMean ? per_sample.mean() : per_sample;
}

// `precond` supplies p_train(σ) and λ(σ); `denoiser` is any DENOISER.
// images: float32 N×C×H×W in model space; labels: int64 N or undefined.
template <class Precond, class D>
torch::Tensor DenoisingLoss(const Precond& precond, D& denoiser, const torch::Tensor& images,
                            const torch::Tensor& labels, c10::optional<at::Generator> gen,
                            LossReduction reduction = LossReduction::kMean) {
  if (images.dim() < 2) throw std::invalid_argument("DenoisingLoss: images must be N×...");
  return DenoisingLossWithNoise(precond, denoiser, images, labels, DrawTrainingNoise(precond, images.sizes(), gen),
                                reduction);
}

// The preconditioned network's own loss: precond taken from the denoiser.
template <class Precond, class Net>
torch::Tensor DenoisingLoss(const Denoiser<Precond, Net>& denoiser, const torch::Tensor& images,
                            const torch::Tensor& labels, c10::optional<at::Generator> gen,
                            LossReduction reduction = LossReduction::kMean) {
  return DenoisingLoss(denoiser.precond(), denoiser, images, labels, gen, reduction);
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_LOSS_H_
