// The sampler flags of //tools:sample and //tools:optimum, and where their
// samples go:
//   --solver --discretization --steps --sigma_min --sigma_max --rho
//   --S_churn --S_min --S_max --S_noise   (diffusion/sampler_config.h; EDM's names)
//   --seeds (0-9999, 0,5,10-19)  --batch  --subdirs  --grid
//   --noise=diffmem|edm   (whose per-seed draws: diffusion/edm_seeds.h)
// Samples are OUT/000042.png (EDM's naming), or OUT/000000/000042.png with
// --subdirs (a folder per 1000 seeds, as EDM's generate.py); the preview grid
// of the first 256 goes beside the sample folder (OUT_grid.png) or to --grid,
// never among the samples that other tools read.
//
// Example:
//   absl::StatusOr<diffmem::diffusion::SamplerConfig> c = diffmem::tools::SamplerConfigFromFlags();
//   absl::StatusOr<std::vector<uint64_t>> seeds = diffmem::tools::SeedsFromFlags();
//   diffmem::tools::SampleOutput out = diffmem::tools::SampleOutputFromFlags(out_dir);

#ifndef DIFFMEM_TOOLS_SAMPLER_FLAGS_H_
#define DIFFMEM_TOOLS_SAMPLER_FLAGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "diffusion/sampler_config.h"
#include "tools/given_flag.h"
#include "util/enum_names.h"

ABSL_DECLARE_FLAG(std::string, seeds);
ABSL_DECLARE_FLAG(int64_t, batch);

namespace diffmem {
namespace tools {

absl::StatusOr<diffusion::SamplerConfig> SamplerConfigFromFlags();

// "0-3,7" → {0, 1, 2, 3, 7}; errors name --seeds.
absl::StatusOr<std::vector<uint64_t>> ParseSeeds(absl::string_view text);
absl::StatusOr<std::vector<uint64_t>> SeedsFromFlags();

// Whose random draws a seed makes: diffmem's (latents, then churn noise only
// where a step churns) or EDM generate.py's on the CPU (noise at every step).
enum class Noise { kDiffmem, kEdm };
absl::StatusOr<Noise> NoiseFromFlags();

}  // namespace tools

template <>
struct EnumNames<tools::Noise> {
  static constexpr std::pair<tools::Noise, const char*> kNames[] = {{tools::Noise::kDiffmem, "diffmem"},
                                                                    {tools::Noise::kEdm, "edm"}};
};

namespace tools {

struct SampleOutput {
  std::string dir;   // the sample folder
  bool subdirs = false;
  std::string grid;  // the preview grid's path

  // DIR/000042.png, or DIR/000000/000042.png with subdirs.
  std::string PathOf(uint64_t seed) const;
};

// --out's folder, --subdirs, --grid (default: beside the folder, DIR_grid.png).
SampleOutput SampleOutputFromFlags(const std::string& dir);

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_SAMPLER_FLAGS_H_
