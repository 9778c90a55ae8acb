// Time-step discretizations σ_0 > σ_1 > … > σ_{N−1} > σ_N = 0 of the EDM
// framework (Karras et al. 2022, Table 1, "Time steps" row), as policy types:
//   EdmRhoSteps   σ_i = (σ_max^{1/ρ} + i/(N−1)·(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ  (Eq. 5)
//   VpSteps       σ_i = σ_VP(t_i), t_i = 1 + i/(N−1)·(ε_s − 1)
//   VeSteps       σ_i = σ_VE(t_i), t_i = σ_max²·(σ_min²/σ_max²)^{i/(N−1)}
//   IddpmSteps    σ_i = u_{⌊j_0 + (M−1−j_0)/(N−1)·i + ½⌋}
// Each policy has an `Options` struct (defaults as in the EDM paper) and
//   static std::vector<double> Sigmas(int num_steps, const Options&);
// returning N + 1 values, the last one 0 (the final denoising step).
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
};

// iDDPM's discretization: evenly spaced indices into the table u_j.
struct IddpmSteps {
  static constexpr const char* kName = "iddpm";
  struct Options {
    int m = 1000;
    double c_1 = 0.001;
    double c_2 = 0.008;
    int j_0 = 8;  // u_8 ≈ 80.2, the first level below EDM's σ_max ≈ 80
  };
  static std::vector<double> Sigmas(int num_steps, const Options& o) {
    internal_step_schedules::CheckNumSteps(num_steps);
    const std::vector<double> u = IddpmSigmas(o.m, o.c_1, o.c_2);
    std::vector<double> s;
    for (int i = 0; i < num_steps; ++i) {
      const double j = o.j_0 + internal_step_schedules::Fraction(i, num_steps) * (o.m - 1 - o.j_0);
      s.push_back(u[static_cast<size_t>(std::floor(j + 0.5))]);
    }
    s.push_back(0.0);
    return s;
  }
};

template <class S, class = void>
struct IsStepSchedule : std::false_type {};
template <class S>
struct IsStepSchedule<
    S, std::enable_if_t<std::is_same<decltype(S::Sigmas(1, std::declval<const typename S::Options&>())),
                                     std::vector<double>>::value>> : std::true_type {};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_STEP_SCHEDULES_H_
