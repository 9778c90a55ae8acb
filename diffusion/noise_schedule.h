// Noise schedules σ(t) of the EDM framework (Karras et al. 2022, Table 1).
//
// Offers:
//   VpSchedule     σ(t) = sqrt(exp(½β_d t² + β_min t) − 1) and its inverse
//                  (variance preserving, Song et al. 2021), β_d = 19.9,
//                  β_min = 0.1 by default.
//   VeSchedule     σ(t) = sqrt(t) and its inverse (variance exploding).
//   IddpmSigmas()  the discrete noise levels u_0 > … > u_M = 0 of improved
//                  DDPM (Nichol & Dhariwal 2021) as EDM re-expresses them.
//
// Each schedule works on doubles and on tensors (in the tensor's dtype).
//
// Example:
//   diffmem::diffusion::VpSchedule vp;            // EDM defaults
//   double s = vp.sigma(1.0);                     // ≈ 152.17
//   double t = vp.sigma_inv(s);                   // ≈ 1.0
//   std::vector<double> u = diffmem::diffusion::IddpmSigmas();  // 1001 levels

#ifndef DIFFMEM_DIFFUSION_NOISE_SCHEDULE_H_
#define DIFFMEM_DIFFUSION_NOISE_SCHEDULE_H_

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace diffmem {
namespace diffusion {

// Variance-preserving schedule: σ(t) = sqrt(exp(½β_d t² + β_min t) − 1).
struct VpSchedule {
  double beta_d = 19.9;
  double beta_min = 0.1;

  double sigma(double t) const { return std::sqrt(std::expm1(0.5 * beta_d * t * t + beta_min * t)); }
  torch::Tensor sigma(const torch::Tensor& t) const {
    return (0.5 * beta_d * t * t + beta_min * t).expm1().sqrt();
  }
  // t(σ) = (sqrt(β_min² + 2β_d ln(1 + σ²)) − β_min) / β_d, the root t ≥ 0.
  double sigma_inv(double sigma) const {
    return (std::sqrt(beta_min * beta_min + 2 * beta_d * std::log1p(sigma * sigma)) - beta_min) / beta_d;
  }
  torch::Tensor sigma_inv(const torch::Tensor& sigma) const {
    return ((beta_min * beta_min + 2 * beta_d * (sigma * sigma).log1p()).sqrt() - beta_min) / beta_d;
  }
};

// Variance-exploding schedule: σ(t) = sqrt(t).
struct VeSchedule {
  double sigma(double t) const { return std::sqrt(t); }
  torch::Tensor sigma(const torch::Tensor& t) const { return t.sqrt(); }
  double sigma_inv(double sigma) const { return sigma * sigma; }
  torch::Tensor sigma_inv(const torch::Tensor& sigma) const { return sigma * sigma; }
};

// iDDPM's noise levels as a decreasing table u_0 > u_1 > … > u_M = 0:
//   u_{j−1} = sqrt((u_j² + 1) / max(ᾱ_{j−1}/ᾱ_j, C_1) − 1),
//   ᾱ_j = sin²(π/2 · j / (M (C_2 + 1)))                 (EDM, Table 1).
// Computed in double precision; index j corresponds to c_noise = M − 1 − j.
inline std::vector<double> IddpmSigmas(int m = 1000, double c_1 = 0.001, double c_2 = 0.008) {
  constexpr double kPi = 3.14159265358979323846;
  auto alpha_bar = [&](int j) {
    const double s = std::sin(0.5 * kPi * j / m / (c_2 + 1));
    return s * s;
  };
  std::vector<double> u(m + 1, 0.0);
  for (int j = m; j > 0; --j) {
    u[j - 1] = std::sqrt((u[j] * u[j] + 1) / std::max(alpha_bar(j - 1) / alpha_bar(j), c_1) - 1);
  }
  return u;
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_NOISE_SCHEDULE_H_
