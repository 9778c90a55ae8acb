// The flags of an EMM study (//tools:estimate_emm): a preset, then every
// data, network, training (tools/data_flags.h, tools/train_flags.h),
// evaluation, early-stop and search flag given on the command line on top.
//   --preset
//   evaluation:  --epsilon --ratio_threshold --metric --samples --probe_samples
//                --probe_every --weights --sampler_steps --sample_seed --optimum_reference
//   early stop:  --early_stop --early_stop_min_fraction --early_stop_patience
//                --early_stop_min_improvement
//   search:      --n_min --n_max --n_start --granularity --growth --search_precision
//                --max_runs --extra_n --parallel
//
// Example:
//   absl::StatusOr<diffmem::study::EmmStudyConfig> c = diffmem::tools::StudyConfigFromFlags(metrics);

#ifndef DIFFMEM_TOOLS_STUDY_FLAGS_H_
#define DIFFMEM_TOOLS_STUDY_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "memorization/metric_registry.h"
#include "study/study_config.h"
#include "tools/given_flag.h"

ABSL_DECLARE_FLAG(std::string, preset);

namespace diffmem {
namespace tools {

// The --preset, with every study flag given overlaid; validated, its
// metric among `metrics` (what the tool offers).
absl::StatusOr<study::EmmStudyConfig> StudyConfigFromFlags(
    const memorization::MetricRegistry& metrics = memorization::MetricRegistryOf<>());

}  // namespace tools
}  // namespace diffmem

#endif  // DIFFMEM_TOOLS_STUDY_FLAGS_H_
