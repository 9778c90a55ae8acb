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
// Update: p_ema ← β·p_ema + (1 − β)·p, computed as LibTorch's
// p.lerp(p_ema, β). Non-floating buffers are copied.
// Net is a TORCH_MODULE holder whose Impl derives from torch::nn::Cloneable.
//
// The copy's parameters live in flat buffers (training/flat_parameters.h).
// When the trained network's parameters are flat in the same layout (e.g.
// under a FlatOptimizer), an update is one fused pass over all parameters
// (training/flat_update.h); otherwise one per tensor. Both give the values
// of the per-tensor lerp bit for bit.
//
// Example:
//   MyUNet net(options);
//   diffmem::training::Ema<MyUNet> ema(net);          // deep copy, no grad
//   diffmem::training::EmaHalfLife half_life;         // 500 kimg, ramp-up 0.05
//   ... optimizer step ...
//   ema.UpdateHalfLife(net, batch_size, cur_nimg, half_life);
//   diffmem::diffusion::Denoiser<EdmPreconditioner, MyUNet> d(ema.model());

#ifndef DIFFMEM_TRAINING_EMA_H_
#define DIFFMEM_TRAINING_EMA_H_

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

#include "training/ema_schedule.h"
#include "training/flat_parameters.h"
#include "training/flat_update.h"

namespace diffmem {
namespace training {

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
    flat_ = FlatParameters(model_->parameters(), /*with_gradients=*/false);
  }

  // p_ema ← β·p_ema + (1 − β)·p for every parameter and floating buffer.
  void Update(const Net& net, double beta) {
    if (!(beta >= 0 && beta <= 1)) throw std::invalid_argument("Ema::Update: beta must be in [0, 1]");
    torch::NoGradGuard no_grad;
    flat_.Reattach();  // the copy was moved (model().to(...)): flat again
    const std::vector<torch::Tensor> cur = net.ptr()->parameters();
    if (cur.size() != flat_.parameters().size()) throw std::invalid_argument("Ema::Update: network structure differs");
    const std::vector<torch::Tensor> source = flat_.BuffersOf(cur);
    if (!source.empty()) {
      for (size_t k = 0; k < source.size(); ++k) LerpUpdate(flat_.groups()[k].values, source[k], beta);
    } else {
      for (size_t i = 0; i < cur.size(); ++i) {
        torch::Tensor e = flat_.parameters()[i];
        if (e.sizes() != cur[i].sizes()) throw std::invalid_argument("Ema::Update: network structure differs");
        LerpUpdate(e, cur[i].detach().to(e.options()).contiguous(), beta);
      }
    }
    flat_.BumpVersions();
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
  // Its parameters' flat buffers.
  const FlatParameters& flat() const { return flat_; }

 private:
  // Floating buffers blend like parameters (per tensor: networks have few
  // and small ones); other buffers are copied.
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
  FlatParameters flat_;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_EMA_H_
