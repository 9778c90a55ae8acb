// Preconditioners of the EDM framework (Karras et al. 2022, Table 1) as
// policy types: VpPreconditioner, VePreconditioner, IddpmPreconditioner,
// EdmPreconditioner, and the trait IsPreconditioner that checks a type.
//
// A preconditioner P turns a raw network F into the denoiser
//   D(x;σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x; c_noise(σ))
// and says how training draws σ and weights the loss. Its interface
// (all const members; σ tensors of any shape, results in σ's dtype):
//   static constexpr const char* kName;                            // "edm", "vp", ... (network.h's registry)
//   static constexpr const char* kEdmClass;                        // "EDMPrecond", "VPPrecond", ... (EDM's name)
//   torch::Tensor c_skip(const torch::Tensor& sigma) const;
//   torch::Tensor c_out(const torch::Tensor& sigma) const;
//   torch::Tensor c_in(const torch::Tensor& sigma) const;
//   torch::Tensor c_noise(const torch::Tensor& sigma) const;
//   torch::Tensor loss_weight(const torch::Tensor& sigma) const;   // λ(σ)
//   torch::Tensor sample_training_sigma(int64_t n, c10::optional<at::Generator> gen,
//                                       torch::TensorOptions options) const;  // n values
//   torch::Tensor round_sigma(const torch::Tensor& sigma) const;   // identity unless discrete
//   double round_sigma(double sigma) const;
//   double sigma_min() const;  double sigma_max() const;            // supported σ range
// Hyper-parameters are public fields (EDM's defaults), set per instance;
// IddpmPreconditioner takes its options in the constructor since it
// tabulates its discrete noise levels.
//
// Example:
//   diffmem::diffusion::EdmPreconditioner edm;        // σ_data = 0.5
//   edm.sigma_data = 0.6;                              // per instance
//   torch::Tensor s = edm.sample_training_sigma(512, gen, torch::kFloat32);
//   torch::Tensor w = edm.loss_weight(s);              // (σ²+σ_d²)/(σ σ_d)²
//   static_assert(diffmem::diffusion::IsPreconditioner<decltype(edm)>::value, "");

#ifndef DIFFMEM_DIFFUSION_PRECONDITIONING_H_
#define DIFFMEM_DIFFUSION_PRECONDITIONING_H_

#include <torch/types.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffusion/noise_schedule.h"

namespace diffmem {
namespace diffusion {

// Variance preserving (Song et al. 2021; EDM Table 1, "VP" column).
struct VpPreconditioner {
  static constexpr const char* kName = "vp";
  static constexpr const char* kEdmClass = "VPPrecond";  // its class in EDM's training/networks.py
  double beta_d = 19.9;
  double beta_min = 0.1;
  double m = 1000;           // c_noise spans [0, M − 1]
  double epsilon_t = 1e-5;   // training t ~ U(ε_t, 1)

  VpSchedule schedule() const { return VpSchedule{beta_d, beta_min}; }
  torch::Tensor c_skip(const torch::Tensor& sigma) const { return torch::ones_like(sigma); }
  torch::Tensor c_out(const torch::Tensor& sigma) const { return -sigma; }
  torch::Tensor c_in(const torch::Tensor& sigma) const { return (sigma * sigma + 1).rsqrt(); }
  torch::Tensor c_noise(const torch::Tensor& sigma) const { return (m - 1) * schedule().sigma_inv(sigma); }
  torch::Tensor loss_weight(const torch::Tensor& sigma) const { return (sigma * sigma).reciprocal(); }
  torch::Tensor sample_training_sigma(int64_t n, c10::optional<at::Generator> gen,
                                      torch::TensorOptions options = torch::kFloat32) const {
    torch::Tensor u = torch::rand({n}, gen, options);
    return schedule().sigma(epsilon_t + u * (1 - epsilon_t));
  }
  torch::Tensor round_sigma(const torch::Tensor& sigma) const { return sigma; }
  double round_sigma(double sigma) const { return sigma; }
  double sigma_min() const { return schedule().sigma(epsilon_t); }
  double sigma_max() const { return schedule().sigma(1.0); }
};

// Variance exploding (Song et al. 2021; EDM Table 1, "VE" column).
struct VePreconditioner {
  static constexpr const char* kName = "ve";
  static constexpr const char* kEdmClass = "VEPrecond";  // its class in EDM's training/networks.py
  double min_sigma = 0.02;   // training σ is log-uniform in [min_sigma, max_sigma]
  double max_sigma = 100;

  torch::Tensor c_skip(const torch::Tensor& sigma) const { return torch::ones_like(sigma); }
  torch::Tensor c_out(const torch::Tensor& sigma) const { return sigma; }
  torch::Tensor c_in(const torch::Tensor& sigma) const { return torch::ones_like(sigma); }
  torch::Tensor c_noise(const torch::Tensor& sigma) const { return (0.5 * sigma).log(); }
  torch::Tensor loss_weight(const torch::Tensor& sigma) const { return (sigma * sigma).reciprocal(); }
  torch::Tensor sample_training_sigma(int64_t n, c10::optional<at::Generator> gen,
                                      torch::TensorOptions options = torch::kFloat32) const {
    torch::Tensor u = torch::rand({n}, gen, options);
    return min_sigma * torch::pow(max_sigma / min_sigma, u);
  }
  torch::Tensor round_sigma(const torch::Tensor& sigma) const { return sigma; }
  double round_sigma(double sigma) const { return sigma; }
  double sigma_min() const { return min_sigma; }
  double sigma_max() const { return max_sigma; }
};

// Improved DDPM (Nichol & Dhariwal 2021; EDM Table 1, "iDDPM" column): σ
// lives on the discrete table u_0 > … > u_M = 0 of IddpmSigmas().
class IddpmPreconditioner {
 public:
  static constexpr const char* kName = "iddpm";
  static constexpr const char* kEdmClass = "iDDPMPrecond";  // its class in EDM's training/networks.py
  struct Options {
    int m = 1000;
    double c_1 = 0.001;
    double c_2 = 0.008;
  };

  IddpmPreconditioner() : IddpmPreconditioner(Options()) {}
  explicit IddpmPreconditioner(const Options& options)
      : options_(options),
        u_(IddpmSigmas(options.m, options.c_1, options.c_2)),
        u_tensor_(torch::tensor(u_, torch::kFloat64)) {}

  const Options& options() const { return options_; }
  // u_0 … u_M (u_M = 0).
  const std::vector<double>& sigmas() const { return u_; }

  torch::Tensor c_skip(const torch::Tensor& sigma) const { return torch::ones_like(sigma); }
  torch::Tensor c_out(const torch::Tensor& sigma) const { return -sigma; }
  torch::Tensor c_in(const torch::Tensor& sigma) const { return (sigma * sigma + 1).rsqrt(); }
  // M − 1 − argmin_j |u_j − σ|.
  torch::Tensor c_noise(const torch::Tensor& sigma) const {
    return ((options_.m - 1) - NearestIndex(sigma)).to(sigma.dtype());
  }
  torch::Tensor loss_weight(const torch::Tensor& sigma) const { return (sigma * sigma).reciprocal(); }
  // σ = u_j with j ~ U{0, …, M − 1}.
  torch::Tensor sample_training_sigma(int64_t n, c10::optional<at::Generator> gen,
                                      torch::TensorOptions options = torch::kFloat32) const {
    torch::Tensor j = torch::randint(0, options_.m, {n}, gen, torch::kInt64);
    return u_tensor_.index_select(0, j).to(options.dtype().toScalarType()).to(options.device());
  }
  torch::Tensor round_sigma(const torch::Tensor& sigma) const {
    return u_tensor_.index_select(0, NearestIndex(sigma).reshape(-1).cpu())
        .reshape(sigma.sizes())
        .to(sigma.options());
  }
  double round_sigma(double sigma) const {
    size_t best = 0;
    for (size_t j = 1; j < u_.size(); ++j) {
      if (std::abs(u_[j] - sigma) < std::abs(u_[best] - sigma)) best = j;
    }
    return u_[best];
  }
  double sigma_min() const { return u_[options_.m - 1]; }
  double sigma_max() const { return u_[0]; }

 private:
  // Index (int64, σ's shape and device) of the nearest table entry.
  torch::Tensor NearestIndex(const torch::Tensor& sigma) const {
    torch::Tensor s = sigma.to(torch::kFloat64).cpu().reshape({-1, 1});
    torch::Tensor idx = (s - u_tensor_.reshape({1, -1})).abs().argmin(1);
    return idx.reshape(sigma.sizes()).to(sigma.device());
  }

  Options options_;
  std::vector<double> u_;
  torch::Tensor u_tensor_;
};

// EDM's own preconditioning (Karras et al. 2022, Table 1, "Ours" column).
struct EdmPreconditioner {
  static constexpr const char* kName = "edm";
  static constexpr const char* kEdmClass = "EDMPrecond";  // its class in EDM's training/networks.py
  double sigma_data = 0.5;
  double p_mean = -1.2;    // training ln σ ~ N(P_mean, P_std²)
  double p_std = 1.2;
  double min_sigma = 0;
  double max_sigma = std::numeric_limits<double>::infinity();

  torch::Tensor c_skip(const torch::Tensor& sigma) const {
    const double sd2 = sigma_data * sigma_data;
    return sd2 / (sigma * sigma + sd2);
  }
  torch::Tensor c_out(const torch::Tensor& sigma) const {
    return sigma * sigma_data * (sigma * sigma + sigma_data * sigma_data).rsqrt();
  }
  torch::Tensor c_in(const torch::Tensor& sigma) const {
    return (sigma * sigma + sigma_data * sigma_data).rsqrt();
  }
  torch::Tensor c_noise(const torch::Tensor& sigma) const { return sigma.log() / 4; }
  torch::Tensor loss_weight(const torch::Tensor& sigma) const {
    const double sd2 = sigma_data * sigma_data;
    return (sigma * sigma + sd2) / (sigma * sigma * sd2);
  }
  torch::Tensor sample_training_sigma(int64_t n, c10::optional<at::Generator> gen,
                                      torch::TensorOptions options = torch::kFloat32) const {
    return (torch::randn({n}, gen, options) * p_std + p_mean).exp();
  }
  torch::Tensor round_sigma(const torch::Tensor& sigma) const { return sigma; }
  double round_sigma(double sigma) const { return sigma; }
  double sigma_min() const { return min_sigma; }
  double sigma_max() const { return max_sigma; }
};

// IsPreconditioner<P>::value: P offers the interface documented above.
namespace internal_preconditioning {

template <class P, class = void>
struct HasCoefficients : std::false_type {};
template <class P>
struct HasCoefficients<
    P, std::enable_if_t<
           std::is_convertible<decltype(std::declval<const P&>().c_skip(std::declval<torch::Tensor>())),
                               torch::Tensor>::value &&
           std::is_convertible<decltype(std::declval<const P&>().c_out(std::declval<torch::Tensor>())),
                               torch::Tensor>::value &&
           std::is_convertible<decltype(std::declval<const P&>().c_in(std::declval<torch::Tensor>())),
                               torch::Tensor>::value &&
           std::is_convertible<decltype(std::declval<const P&>().c_noise(std::declval<torch::Tensor>())),
                               torch::Tensor>::value>> : std::true_type {};

template <class P, class = void>
struct HasTraining : std::false_type {};
template <class P>
struct HasTraining<
    P, std::enable_if_t<
           std::is_convertible<decltype(std::declval<const P&>().loss_weight(std::declval<torch::Tensor>())),
                               torch::Tensor>::value &&
           std::is_convertible<decltype(std::declval<const P&>().sample_training_sigma(
                                   int64_t{1}, c10::optional<at::Generator>(), torch::TensorOptions())),
                               torch::Tensor>::value>> : std::true_type {};

template <class P, class = void>
struct HasSigmaRange : std::false_type {};
template <class P>
struct HasSigmaRange<
    P, std::enable_if_t<
           std::is_convertible<decltype(std::declval<const P&>().round_sigma(std::declval<torch::Tensor>())),
                               torch::Tensor>::value &&
           std::is_convertible<decltype(std::declval<const P&>().round_sigma(1.0)), double>::value &&
           std::is_convertible<decltype(std::declval<const P&>().sigma_min()), double>::value &&
           std::is_convertible<decltype(std::declval<const P&>().sigma_max()), double>::value>>
    : std::true_type {};

}  // namespace internal_preconditioning

template <class P>
struct IsPreconditioner
    : std::integral_constant<bool, internal_preconditioning::HasCoefficients<P>::value &&
                                       internal_preconditioning::HasTraining<P>::value &&
                                       internal_preconditioning::HasSigmaRange<P>::value> {};

// Fails to compile with a message naming what is missing.
template <class P>
constexpr bool CheckPreconditioner() {
  static_assert(internal_preconditioning::HasCoefficients<P>::value,
                "preconditioner needs const c_skip/c_out/c_in/c_noise(torch::Tensor) -> torch::Tensor");
  static_assert(internal_preconditioning::HasTraining<P>::value,
                "preconditioner needs const loss_weight(torch::Tensor) and "
                "sample_training_sigma(int64_t, c10::optional<at::Generator>, torch::TensorOptions)");
  static_assert(internal_preconditioning::HasSigmaRange<P>::value,
                "preconditioner needs const round_sigma(torch::Tensor), round_sigma(double), "
                "sigma_min(), sigma_max()");
  return true;
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_PRECONDITIONING_H_
