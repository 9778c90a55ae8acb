// Time-step discretizations σ_0 > σ_1 > … > σ_{N−1} > σ_N = 0 of the EDM
// framework (Karras et al. 2022, Table 1, "Time steps" row), as policy types:
//   EdmRhoSteps   σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ  (Eq. 5)
//   VpSteps       σ_i = σ_VP(t_i), t_i = 1 + i/(N−1)·(ε_s − 1)
//   VeSteps       σ_i = σ_VE(t_i), t_i = σ_max²·(σ_min²/σ_max²)^{i/(N−1)}
//   IddpmSteps    σ_i = u_{⌊j_0 + (j_1−j_0)/(N−1)·i + ½⌋}
// Each policy has a name (kName: edm, vp, ve, iddpm), an `Options` struct
// (defaults as in the EDM paper) and
//   static std::vector<double> Sigmas(int num_steps, const Options&);
// returning N + 1 values, the last one 0 (the final denoising step); and,
// so a sampler can be set by a σ range as EDM's ablation sampler is,
//   static double DefaultSigmaMin(), DefaultSigmaMax();   // the range it covers by default
//   static Options ForRange(double sigma_min, double sigma_max, double rho);
// (VP derives β_d and β_min from the range; ρ is EDM's alone.)
// IsStepSchedule<S>::value checks a policy.
//
// Example:
//   std::vector<double> s = diffmem::diffusion::EdmRhoSteps::Sigmas(18, {});
//   // s[0] = 80, s[17] = 0.002, s[18] = 0

#ifndef DIFFMEM_DIFFUSION_STEP_SCHEDULES_H_
#define DIFFMEM_DIFFUSION_STEP_SCHEDULES_H_

#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffusion/noise_schedule.h"
#include "util/type_registry.h"

namespace diffmem {
namespace diffusion {
namespace internal_step_schedules {

// i/(N−1), with a single step taken at the start of the range.
inline double Fraction(int i, int num_steps) { return num_steps > 1 ? double(i) / (num_steps - 1) : 0.0; }

inline void CheckNumSteps(int num_steps) {
  if (num_steps < 1) throw std::invalid_argument("step schedule: num_steps must be >= 1");
}

}  // namespace internal_step_schedules

// EDM's polynomial discretization (Eq. 5); 18 steps ⇒ 35 Heun NFE.
struct EdmRhoSteps {
  static constexpr const char* kName = "edm";
  struct Options {
    double sigma_min = 0.002;
    double sigma_max = 80;
    double rho = 7;
  };
  static std::vector<double> Sigmas(int num_steps, const Options& o) {
    internal_step_schedules::CheckNumSteps(num_steps);
    const double a = std::pow(o.sigma_max, 1 / o.rho), b = std::pow(o.sigma_min, 1 / o.rho);
    std::vector<double> s;
    for (int i = 0; i < num_steps; ++i) {
      s.push_back(std::pow(a + internal_step_schedules::Fraction(i, num_steps) * (b - a), o.rho));
    }
    s.push_back(0.0);
    return s;
  }
  static double DefaultSigmaMin() { return 0.002; }
  static double DefaultSigmaMax() { return 80; }
  static Options ForRange(double sigma_min, double sigma_max, double rho) { return {sigma_min, sigma_max, rho}; }
};

// Song et al.'s VP discretization: uniform t from 1 down to ε_s.
struct VpSteps {
  static constexpr const char* kName = "vp";
  struct Options {
    double beta_d = 19.9;
    double beta_min = 0.1;
    double epsilon_s = 1e-3;
  };
  static std::vector<double> Sigmas(int num_steps, const Options& o) {
    internal_step_schedules::CheckNumSteps(num_steps);
    const VpSchedule vp{o.beta_d, o.beta_min};
    std::vector<double> s;
    for (int i = 0; i < num_steps; ++i) {
      s.push_back(vp.sigma(1 + internal_step_schedules::Fraction(i, num_steps) * (o.epsilon_s - 1)));
    }
    s.push_back(0.0);
    return s;
  }
  static double DefaultSigmaMin() { return VpSchedule{}.sigma(Options().epsilon_s); }
  static double DefaultSigmaMax() { return VpSchedule{}.sigma(1.0); }
  // β_d, β_min such that σ_VP(ε_s) = σ_min and σ_VP(1) = σ_max (EDM's ablation sampler).
  static Options ForRange(double sigma_min, double sigma_max, double /*rho*/) {
    Options o;
    const double a = std::log1p(sigma_min * sigma_min), b = std::log1p(sigma_max * sigma_max);
    o.beta_d = 2 * (a / o.epsilon_s - b) / (o.epsilon_s - 1);
    o.beta_min = b - 0.5 * o.beta_d;
    return o;
  }
};

// Song et al.'s VE discretization: geometric σ from σ_max down to σ_min.
struct VeSteps {
  static constexpr const char* kName = "ve";
  struct Options {
    double sigma_min = 0.02;
    double sigma_max = 100;
  };
  static std::vector<double> Sigmas(int num_steps, const Options& o) {
    internal_step_schedules::CheckNumSteps(num_steps);
    const VeSchedule ve;
    std::vector<double> s;
    for (int i = 0; i < num_steps; ++i) {
      const double f = internal_step_schedules::Fraction(i, num_steps);
      s.push_back(ve.sigma(o.sigma_max * o.sigma_max *
                           std::pow(o.sigma_min * o.sigma_min / (o.sigma_max * o.sigma_max), f)));
    }
    s.push_back(0.0);
    return s;
  }
  static double DefaultSigmaMin() { return 0.02; }
  static double DefaultSigmaMax() { return 100; }
  static Options ForRange(double sigma_min, double sigma_max, double /*rho*/) { return {sigma_min, sigma_max}; }
};

// iDDPM's discretization: evenly spaced indices j_0 … j_1 into the table u_j.
struct IddpmSteps {
  static constexpr const char* kName = "iddpm";
  struct Options {
    int m = 1000;
    double c_1 = 0.001;
    double c_2 = 0.008;
    int j_0 = 8;   // u_8 ≈ 80.2, the first level below EDM's σ_max = 81 for iDDPM
    int j_1 = -1;  // the last index (-1: M − 1, the smallest nonzero level)
  };
  static std::vector<double> Sigmas(int num_steps, const Options& o) {
    internal_step_schedules::CheckNumSteps(num_steps);
    const std::vector<double> u = IddpmSigmas(o.m, o.c_1, o.c_2);
    const int j_1 = o.j_1 < 0 ? o.m - 1 : o.j_1;
    std::vector<double> s;
    for (int i = 0; i < num_steps; ++i) {
      const double j = o.j_0 + internal_step_schedules::Fraction(i, num_steps) * (j_1 - o.j_0);
      s.push_back(u[static_cast<size_t>(std::floor(j + 0.5))]);
    }
    s.push_back(0.0);
    return s;
  }
  static double DefaultSigmaMin() { return 0.002; }
  static double DefaultSigmaMax() { return 81; }
  // The table's levels inside [σ_min, σ_max] (EDM's ablation sampler).
  static Options ForRange(double sigma_min, double sigma_max, double /*rho*/) {
    Options o;
    const std::vector<double> u = IddpmSigmas(o.m, o.c_1, o.c_2);
    o.j_0 = 0;
    while (o.j_0 < o.m - 1 && u[o.j_0] > sigma_max) ++o.j_0;
    o.j_1 = o.m - 1;
    while (o.j_1 > o.j_0 && u[o.j_1] < sigma_min) --o.j_1;
    return o;
  }
};

// The discretizations a tool or study chooses by name (--discretization).
using StepSchedules = TypeList<EdmRhoSteps, VpSteps, VeSteps, IddpmSteps>;

template <class S, class = void>
struct IsStepSchedule : std::false_type {};
template <class S>
struct IsStepSchedule<
    S, std::enable_if_t<std::is_same<decltype(S::Sigmas(1, std::declval<const typename S::Options&>())),
                                     std::vector<double>>::value>> : std::true_type {};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_STEP_SCHEDULES_H_
