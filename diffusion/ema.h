// Ema<Net>: an exponential moving average of a network's parameters (and
// floating-point buffers), kept in a deep copy of the network that can be
// used as a network itself (e.g. wrapped in a Denoiser for sampling).
// Two conventions:
//   (a) a fixed decay per step:  ema.Update(net, /*beta=*/0.9999);
//   (b) EDM's half-life in images with ramp-up (Karras et al. 2022, training
//       loop): β = 0.5^(batch / halflife_nimg), where
//       halflife_nimg = min(halflife_kimg·1000, rampup_ratio·cur_nimg)
//       (ramp-up off when rampup_ratio ≤ 0); cur_nimg counts the images
//       seen before this step, so the first update copies the network.
// Update: p_ema ← β·p_ema + (1 − β)·p. Non-floating buffers are copied.
// Net is a TORCH_MODULE holder whose Impl derives from torch::nn::Cloneable.
//
// Example:
//   MyUNet net(options);
//   diffmem::diffusion::Ema<MyUNet> ema(net);          // deep copy, no grad
//   diffmem::diffusion::EmaHalfLife half_life;         // 500 kimg, ramp-up 0.05
//   ... optimizer step ...
//   ema.UpdateHalfLife(net, batch_size, cur_nimg, half_life);
//   diffmem::diffusion::Denoiser<EdmPreconditioner, MyUNet> d(ema.model());

#ifndef DIFFMEM_DIFFUSION_EMA_H_
#define DIFFMEM_DIFFUSION_EMA_H_

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "diffusion/ema_schedule.h"

namespace diffmem {
namespace diffusion {

template <class Net>
class Ema {
  using Impl = typename Net::ContainedType;
  static_assert(std::is_base_of<torch::nn::ModuleHolder<Impl>, Net>::value,
                "Ema<Net>: Net must be a TORCH_MODULE holder");
  static_assert(std::is_base_of<torch::nn::Cloneable<Impl>, Impl>::value,
                "Ema<Net>: Net's Impl must derive from torch::nn::Cloneable<Impl> (deep copy)");

 public:
  // Deep copy of `net` (same device), frozen: parameters need no gradient.
  explicit Ema(const Net& net) : model_(std::dynamic_pointer_cast<Impl>(net.ptr()->clone())) {
    for (torch::Tensor& p : model_->parameters()) p.set_requires_grad(false);
  }

  // p_ema ← β·p_ema + (1 − β)·p for every parameter and floating buffer.
  void Update(const Net& net, double beta) {
    if (!(beta >= 0 && beta <= 1)) throw std::invalid_argument("Ema::Update: beta must be in [0, 1]");
    torch::NoGradGuard no_grad;
    Blend(model_->parameters(), net.ptr()->parameters(), beta);
    Blend(model_->buffers(), net.ptr()->buffers(), beta);
  }

  // EDM's convention; returns the β used.
  double UpdateHalfLife(const Net& net, int64_t batch_size, int64_t cur_nimg,
                        const EmaHalfLife& half_life = EmaHalfLife()) {
    const double beta = HalfLifeBeta(batch_size, cur_nimg, half_life);
    Update(net, beta);
    return beta;
  }

  // The averaged network (a NETWORK; shares nothing with the trained one).
  Net& model() { return model_; }
  const Net& model() const { return model_; }

 private:
  static void Blend(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& cur, double beta) {
    if (ema.size() != cur.size()) throw std::invalid_argument("Ema::Update: network structure differs");
    for (size_t i = 0; i < ema.size(); ++i) {
      torch::Tensor e = ema[i];
      if (e.is_floating_point()) {
        e.copy_(cur[i].detach().to(e.options()).lerp(e, beta));
      } else {
        e.copy_(cur[i]);
      }
    }
  }

  Net model_;
};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_EMA_H_
