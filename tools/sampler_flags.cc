#include "tools/sampler_flags.h"

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "util/type_registry.h"

using diffmem::tools::Given;

ABSL_FLAG(std::string, solver, "heun",
          absl::StrCat("ODE solver: ", absl::StrJoin(diffmem::RegistryNames<diffmem::diffusion::Solvers>(), ", "),
                       " (heun: 2 evaluations per step but the last)"));
ABSL_FLAG(std::string, discretization, "edm",
          absl::StrCat("time-step discretization: ",
                       absl::StrJoin(diffmem::RegistryNames<diffmem::diffusion::StepSchedules>(), ", ")));
ABSL_FLAG(int, steps, 18, "sampler steps (EDM: 18; Heun evaluates the denoiser 2*steps-1 times)");
ABSL_FLAG(Given<double>, sigma_min, {},
          "smallest noise level (default: the discretization's, edm 0.002, ve 0.02, vp 0.01, iddpm 0.002; "
          "clamped to the network's range)");
ABSL_FLAG(Given<double>, sigma_max, {},
          "largest noise level (default: the discretization's, edm 80, ve 100, vp 152, iddpm 81; clamped to the "
          "network's range)");
ABSL_FLAG(double, rho, 7, "exponent of the edm discretization");
ABSL_FLAG(double, S_churn, 0, "stochasticity (EDM Algorithm 2; 0: deterministic)");
ABSL_FLAG(double, S_min, 0, "churn only for noise levels >= this");
ABSL_FLAG(double, S_max, std::numeric_limits<double>::infinity(), "churn only for noise levels <= this");
ABSL_FLAG(double, S_noise, 1, "scale of the churn noise");
ABSL_FLAG(std::string, seeds, "0-63", "seeds, e.g. 0-9999 or 0,5,10-19; one image per seed, named by seed");
ABSL_FLAG(int64_t, batch, 64, "images per sampler call");
ABSL_FLAG(bool, subdirs, false, "a folder per 1000 seeds (OUT/000000/000042.png), as EDM's generate.py");
ABSL_FLAG(std::string, noise, "diffmem",
          "per-seed draws: diffmem, or edm (EDM generate.py's on the CPU: latents, a random class per seed, "
          "noise at every step), so a network imported with import_edm gives EDM's image for each seed");
ABSL_FLAG(std::string, grid, "", "preview grid of the first 256 samples (default: beside the sample folder, OUT_grid.png)");

namespace diffmem {
namespace tools {

absl::StatusOr<diffusion::SamplerConfig> SamplerConfigFromFlags() {
  diffusion::SamplerConfig c;
  c.solver = absl::GetFlag(FLAGS_solver);
  c.discretization = absl::GetFlag(FLAGS_discretization);
  c.num_steps = absl::GetFlag(FLAGS_steps);
  c.sigma_min = absl::GetFlag(FLAGS_sigma_min).value;
  c.sigma_max = absl::GetFlag(FLAGS_sigma_max).value;
  c.rho = absl::GetFlag(FLAGS_rho);
  c.s_churn = absl::GetFlag(FLAGS_S_churn);
  c.s_min = absl::GetFlag(FLAGS_S_min);
  c.s_max = absl::GetFlag(FLAGS_S_max);
  c.s_noise = absl::GetFlag(FLAGS_S_noise);
  if (absl::Status s = diffusion::ValidateSamplerConfig(c); !s.ok()) return s;
  if (absl::GetFlag(FLAGS_batch) < 1) return absl::InvalidArgumentError("--batch: must be >= 1");
  return c;
}

absl::StatusOr<std::vector<uint64_t>> ParseSeeds(absl::string_view text) {
  std::vector<uint64_t> seeds;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    uint64_t lo = 0, hi = 0;
    if (!absl::SimpleAtoi(range[0], &lo) || !absl::SimpleAtoi(range.size() == 2 ? range[1] : range[0], &hi) ||
        hi < lo) {
      return absl::InvalidArgumentError(absl::StrCat("--seeds: '", part, "' is not a seed or a range A-B with A <= B"));
    }
    if (hi - lo >= (uint64_t{1} << 24) || seeds.size() + (hi - lo) >= (uint64_t{1} << 24)) {
      return absl::InvalidArgumentError("--seeds: more than 16M seeds");
    }
    for (uint64_t s = lo; s <= hi; ++s) seeds.push_back(s);
  }
  if (seeds.empty()) return absl::InvalidArgumentError("--seeds: no seeds given");
  return seeds;
}

absl::StatusOr<std::vector<uint64_t>> SeedsFromFlags() { return ParseSeeds(absl::GetFlag(FLAGS_seeds)); }

absl::StatusOr<Noise> NoiseFromFlags() {
  absl::StatusOr<Noise> noise = ParseEnum<Noise>(absl::GetFlag(FLAGS_noise), "noise");
  if (!noise.ok()) return absl::InvalidArgumentError(absl::StrCat("--noise: ", noise.status().message()));
  return noise;
}

std::string SampleOutput::PathOf(uint64_t seed) const {
  if (!subdirs) return absl::StrFormat("%s/%06d.png", dir, seed);
  return absl::StrFormat("%s/%06d/%06d.png", dir, seed - seed % 1000, seed);
}

SampleOutput SampleOutputFromFlags(const std::string& dir) {
  SampleOutput o;
  o.dir = dir;
  while (o.dir.size() > 1 && o.dir.back() == '/') o.dir.pop_back();
  o.subdirs = absl::GetFlag(FLAGS_subdirs);
  o.grid = absl::GetFlag(FLAGS_grid).empty() ? o.dir + "_grid.png" : absl::GetFlag(FLAGS_grid);
  return o;
}

}  // namespace tools
}  // namespace diffmem
