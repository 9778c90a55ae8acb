// The DENOISER concept and Denoiser<Precond, Net>, the preconditioned
// network D(x;σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ), labels)
// (Karras et al. 2022, Eq. 7).
//
// DENOISER concept (what samplers and losses call; the preconditioned
// network and memorization's empirical optimum both satisfy it):
//   torch::Tensor operator()(const torch::Tensor& x,       // float32 N×C×H×W
//                            const torch::Tensor& sigma,   // float32 N (per sample)
//                            const torch::Tensor& labels)  // int64 N, or undefined
//   returning D(x;σ) as float32 N×C×H×W.
// Optionally a denoiser offers `double round_sigma(double) const`; samplers
// then snap their noise levels to it (needed where σ is discrete, iDDPM).
// IsDenoiser<D>::value checks the concept, HasRoundSigma<D>::value the option;
// HasSigmaRange<D>::value whether it offers sigma_min()/sigma_max().
// AnyDenoiser holds any denoiser behind std::function (MakeAnyDenoiser).
//
// NETWORK concept (the raw F): anything with
//   net->forward(torch::Tensor x, torch::Tensor c_noise /*float32 N*/,
//                torch::Tensor labels /*int64 N or undefined*/) -> torch::Tensor
// e.g. a TORCH_MODULE holder. IsNetwork<Net>::value checks it.
//
// Example:
//   MyUNet net(MyUNetOptions(...));                        // a NETWORK
//   diffmem::diffusion::Denoiser<diffmem::diffusion::EdmPreconditioner, MyUNet> d(net);
//   torch::Tensor x0 = d(x, sigma, labels);               // D(x;σ)
//   auto sampler_sigma = d.round_sigma(80.0);

#ifndef DIFFMEM_DIFFUSION_DENOISER_H_
#define DIFFMEM_DIFFUSION_DENOISER_H_

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <functional>
#include <type_traits>
#include <utility>

#include "diffusion/preconditioning.h"

namespace diffmem {
namespace diffusion {

template <class D, class = void>
struct IsDenoiser : std::false_type {};
template <class D>
struct IsDenoiser<D, std::enable_if_t<std::is_convertible<
                         decltype(std::declval<D&>()(std::declval<const torch::Tensor&>(),
                                                     std::declval<const torch::Tensor&>(),
                                                     std::declval<const torch::Tensor&>())),
                         torch::Tensor>::value>> : std::true_type {};

template <class D, class = void>
struct HasRoundSigma : std::false_type {};
template <class D>
struct HasRoundSigma<D, std::enable_if_t<std::is_convertible<
                            decltype(std::declval<const D&>().round_sigma(1.0)), double>::value>>
    : std::true_type {};

// A denoiser that offers its σ range (`sigma_min()`, `sigma_max()`): samplers
// then clamp their noise levels to it.
template <class D, class = void>
struct HasSigmaRange : std::false_type {};
template <class D>
struct HasSigmaRange<D, std::enable_if_t<std::is_convertible<decltype(std::declval<const D&>().sigma_min()),
                                                             double>::value &&
                                         std::is_convertible<decltype(std::declval<const D&>().sigma_max()),
                                                             double>::value>> : std::true_type {};

template <class Net, class = void>
struct IsNetwork : std::false_type {};
template <class Net>
struct IsNetwork<Net, std::enable_if_t<std::is_convertible<
                          decltype(std::declval<Net&>()->forward(std::declval<torch::Tensor>(),
                                                                 std::declval<torch::Tensor>(),
                                                                 std::declval<torch::Tensor>())),
                          torch::Tensor>::value>> : std::true_type {};

// σ snapped by the denoiser when it offers round_sigma, else unchanged.
template <class D>
double RoundSigma(const D& denoiser, double sigma) {
  if constexpr (HasRoundSigma<D>::value) {
    return denoiser.round_sigma(sigma);
  } else {
    return sigma;
  }
}

template <class Precond, class Net>
class Denoiser {
  static_assert(CheckPreconditioner<Precond>(), "");
  static_assert(IsNetwork<Net>::value,
                "Net must offer net->forward(torch::Tensor x, torch::Tensor c_noise, "
                "torch::Tensor labels) -> torch::Tensor");

 public:
  explicit Denoiser(Net net, Precond precond = Precond()) : net_(std::move(net)), precond_(std::move(precond)) {}

  // D(x;σ): x float N×C×H×W (any float dtype, computed in float32), σ one
  // value per sample (N, N×1×1×1 or a scalar), labels int64 N or undefined.
  // σ is first snapped with round_sigma.
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma,
                           const torch::Tensor& labels) const {
    torch::Tensor x32 = x.to(torch::kFloat32);
    torch::Tensor s = precond_.round_sigma(sigma.to(x32.options()).reshape({-1}));
    if (s.size(0) == 1 && x32.size(0) != 1) s = s.expand({x32.size(0)});
    torch::Tensor s4 = s.reshape({-1, 1, 1, 1});
    torch::Tensor f = net_->forward(precond_.c_in(s4) * x32, precond_.c_noise(s).reshape({-1}), labels);
    return precond_.c_skip(s4) * x32 + precond_.c_out(s4) * f.to(torch::kFloat32);
  }

  double round_sigma(double sigma) const { return precond_.round_sigma(sigma); }
  double sigma_min() const { return precond_.sigma_min(); }
  double sigma_max() const { return precond_.sigma_max(); }

  Net& net() const { return net_; }
  const Precond& precond() const { return precond_; }

 private:
  mutable Net net_;  // forward() of a torch module is non-const
  Precond precond_;
};

// A DENOISER behind std::function, so callbacks need no template: also
// forwards the σ range and round_sigma of the denoiser it wraps.
struct AnyDenoiser {
  std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)> fn;
  double min_sigma = 0;
  double max_sigma = INFINITY;
  std::function<double(double)> round;

  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) const {
    return fn(x, sigma, labels);
  }
  double sigma_min() const { return min_sigma; }
  double sigma_max() const { return max_sigma; }
  double round_sigma(double sigma) const { return round ? round(sigma) : sigma; }
};

// Wraps a Denoiser<Precond, Net>: evaluation runs without gradients.
template <class Precond, class Net>
AnyDenoiser MakeAnyDenoiser(Denoiser<Precond, Net> d) {
  AnyDenoiser a;
  a.min_sigma = d.sigma_min();
  a.max_sigma = d.sigma_max();
  a.round = [d](double s) { return d.round_sigma(s); };
  a.fn = [d](const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) {
    torch::NoGradGuard no_grad;
    return d(x, sigma, labels);
  };
  return a;
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_DENOISER_H_
