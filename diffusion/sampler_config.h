// The EDM sampler as data: solver, discretization, step count, σ range, ρ
// and churn, chosen at run time by name (the registries Solvers and
// StepSchedules) and turned into an EdmSampler<Solver, Steps> by
// VisitSampler. The σ range follows EDM's ablation sampler: when not given
// it is the discretization's own default, and it is clamped into the
// denoiser's supported range *before* the schedule is built (so a VE
// network, σ ≥ 0.02, gets N distinct levels over [0.02, σ_max], not levels
// that collapse onto 0.02).
//
//   SamplerConfig, ValidateSamplerConfig, SamplerConfigToJson
//   SamplerSigmaRange<Steps>(c, lo, hi)  — the range used with a denoiser of range [lo, hi]
//   VisitSampler(c, denoiser, f)         — f(const EdmSampler<Solver, Steps>&) → absl::Status
//
// Example:
//   SamplerConfig c;  c.solver = "euler";  c.discretization = "ve";  c.num_steps = 64;
//   absl::Status s = VisitSampler(c, denoiser, [&](const auto& sampler) {
//     images = sampler.SampleFromSeeds(denoiser, seeds, {3, 32, 32}, labels, device);
//     return absl::OkStatus();
//   });

#ifndef DIFFMEM_DIFFUSION_SAMPLER_CONFIG_H_
#define DIFFMEM_DIFFUSION_SAMPLER_CONFIG_H_

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "diffusion/edm_sampler.h"
#include "diffusion/step_schedules.h"
#include "util/type_registry.h"

namespace diffmem {
namespace diffusion {

struct SamplerConfig {
  std::string solver = "heun";          // a name of Solvers
  std::string discretization = "edm";   // a name of StepSchedules
  int num_steps = 18;                   // EDM: 18 steps, 35 Heun evaluations
  std::optional<double> sigma_min;      // unset: the discretization's default
  std::optional<double> sigma_max;
  double rho = 7;                       // the EDM discretization's exponent
  double s_churn = 0;                   // stochastic sampling (EDM Algorithm 2)
  double s_min = 0;
  double s_max = std::numeric_limits<double>::infinity();
  double s_noise = 1;
};

inline absl::Status ValidateSamplerConfig(const SamplerConfig& c) {
  auto bad = [](const char* flag, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
  };
  if (!InRegistry<Solvers>(c.solver)) return bad("solver", std::string(UnknownNameError<Solvers>(c.solver, "solver").message()));
  if (!InRegistry<StepSchedules>(c.discretization)) {
    return bad("discretization", std::string(UnknownNameError<StepSchedules>(c.discretization, "discretization").message()));
  }
  if (c.num_steps < 1) return bad("steps", absl::StrCat("must be >= 1, got ", c.num_steps));
  if (c.sigma_min && !(*c.sigma_min > 0)) return bad("sigma_min", "must be positive");
  if (c.sigma_max && !(*c.sigma_max > 0)) return bad("sigma_max", "must be positive");
  if (c.sigma_min && c.sigma_max && !(*c.sigma_min < *c.sigma_max)) return bad("sigma_min", "must be below --sigma_max");
  if (!(c.rho > 0)) return bad("rho", "must be positive");
  if (!(c.s_churn >= 0)) return bad("S_churn", "must be >= 0");
  if (!(c.s_min >= 0 && c.s_min <= c.s_max)) return bad("S_min", "need 0 <= S_min <= S_max");
  if (!(c.s_noise > 0)) return bad("S_noise", "must be positive");
  return absl::OkStatus();
}

inline nlohmann::json SamplerConfigToJson(const SamplerConfig& c) {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"solver", c.solver}, {"discretization", c.discretization}, {"num_steps", c.num_steps},
          {"sigma_min", opt(c.sigma_min)}, {"sigma_max", opt(c.sigma_max)}, {"rho", c.rho},
          {"S_churn", c.s_churn}, {"S_min", c.s_min}, {"S_max", std::isfinite(c.s_max) ? nlohmann::json(c.s_max) : nlohmann::json("inf")},
          {"S_noise", c.s_noise}};
}

// The σ range Steps uses with a denoiser supporting [lo, hi]: the config's
// range (or Steps' default), clamped into [lo, hi].
template <class Steps>
std::pair<double, double> SamplerSigmaRange(const SamplerConfig& c, double lo, double hi) {
  return {std::max(c.sigma_min.value_or(Steps::DefaultSigmaMin()), lo),
          std::min(c.sigma_max.value_or(Steps::DefaultSigmaMax()), hi)};
}

// Builds the EdmSampler `c` names for `denoiser` and calls f(sampler).
template <class D, class F>
absl::Status VisitSampler(const SamplerConfig& c, const D& denoiser, F&& f) {
  if (absl::Status s = ValidateSamplerConfig(c); !s.ok()) return s;
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  if constexpr (HasSigmaRange<D>::value) {
    lo = denoiser.sigma_min();
    hi = denoiser.sigma_max();
  }
  return VisitByName<Solvers>(c.solver, "solver", [&](auto solver) -> absl::Status {
    return VisitByName<StepSchedules>(c.discretization, "discretization", [&](auto steps) -> absl::Status {
      using Solver = typename decltype(solver)::type;
      using Steps = typename decltype(steps)::type;
      const auto [a, b] = SamplerSigmaRange<Steps>(c, lo, hi);
      if (!(a < b)) {
        return absl::InvalidArgumentError(absl::StrCat("sampler: the σ range [", a, ", ", b,
                                                       "] is empty after clamping to the network's [", lo, ", ", hi,
                                                       "]; check --sigma_min / --sigma_max"));
      }
      SamplerOptions o;
      o.num_steps = c.num_steps;
      o.s_churn = c.s_churn;
      o.s_min = c.s_min;
      o.s_max = c.s_max;
      o.s_noise = c.s_noise;
      const EdmSampler<Solver, Steps> sampler(o, Steps::ForRange(a, b, c.rho));
      return f(sampler);
    });
  });
}

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_SAMPLER_CONFIG_H_
