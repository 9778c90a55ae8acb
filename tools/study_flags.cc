#include "tools/study_flags.h"

#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "memorization/distance.h"
#include "networks/network.h"
#include "study/presets.h"
#include "tools/data_flags.h"
#include "tools/network_flags.h"
#include "tools/train_flags.h"
#include "util/enum_names.h"
#include "util/type_registry.h"

using diffmem::tools::Given;

ABSL_FLAG(std::string, preset, "fashion_cpu",
          absl::StrCat("starting configuration: ", absl::StrJoin(diffmem::RegistryNames<diffmem::study::StudyPresets>(), ", "),
                       " (fashion_cpu: small UNet on 8x8 Fashion-MNIST, ~8 min on 2 idle cores; paper_cifar10: the "
                       "paper's CIFAR-10 setup, for GPUs; none: generic defaults); flags given override it"));
// Evaluation.
ABSL_FLAG(Given<double>, epsilon, {}, "a model memorizes at N when its ratio >= 1 - epsilon (paper: 0.1)");
ABSL_FLAG(Given<double>, ratio_threshold, {}, "a sample is memorized when d(x,NN1)/d(x,NN2) < this (paper: 1/3)");
ABSL_FLAG(Given<std::string>, metric, {},
          absl::StrCat("distance: ", absl::StrJoin(diffmem::RegistryNames<diffmem::memorization::DistanceMetrics>(), ", ")));
ABSL_FLAG(Given<int64_t>, samples, {}, "samples per final measurement of a run");
ABSL_FLAG(Given<int64_t>, probe_samples, {}, "samples per periodic probe during training");
ABSL_FLAG(Given<int64_t>, probe_every, {}, "steps between probes (0: none, no early stopping)");
ABSL_FLAG(Given<std::string>, weights, {}, "weights scored: raw or ema (--scoring=final)");
ABSL_FLAG(Given<std::string>, scoring, {},
          "what gives a run's ratio: final (its final --weights) or max_over_snapshots (the highest over its EMA "
          "snapshots after the first, as the paper's authors; needs --snapshot_kimg)");
ABSL_FLAG(Given<int>, sampler_steps, {}, "EDM Heun sampler steps");
ABSL_FLAG(Given<uint64_t>, sample_seed, {}, "first seed of the generated samples");
ABSL_FLAG(Given<bool>, optimum_reference, {}, "also measure the theoretical optimum's ratio at each N (true/false)");
ABSL_FLAG(Given<bool>, early_stop, {},
          "stop a run when its ratio passed 1 - epsilon with confidence or plateaued (true/false)");
ABSL_FLAG(Given<double>, early_stop_min_fraction, {}, "no plateau verdict before this fraction of the duration");
ABSL_FLAG(Given<int>, early_stop_patience, {}, "probes without a gain of --early_stop_min_improvement = plateau");
ABSL_FLAG(Given<double>, early_stop_min_improvement, {}, "smallest ratio gain that counts");
// Search.
ABSL_FLAG(Given<int64_t>, n_min, {}, "smallest N tried");
ABSL_FLAG(Given<int64_t>, n_max, {}, "largest N tried");
ABSL_FLAG(Given<int64_t>, n_start, {}, "first N (0: --n_min)");
ABSL_FLAG(Given<int64_t>, granularity, {}, "every N is a multiple of this (the class count for balanced subsets)");
ABSL_FLAG(Given<double>, growth, {}, "bracketing factor");
ABSL_FLAG(Given<double>, search_precision, {}, "bisection stops when N_hi / N_lo <= this");
ABSL_FLAG(Given<int>, max_runs, {}, "budget of training runs per study");
ABSL_FLAG(Given<std::string>, extra_n, {},
          "N values measured first in addition to the search (comma list; empty: none), e.g. n_max to show the ratio "
          "far above EMM");
ABSL_FLAG(Given<int>, parallel, {}, "runs per wave (what --plan lists at once; local runs go one after another)");

namespace diffmem {
namespace tools {

absl::StatusOr<study::EmmStudyConfig> StudyConfigFromFlags(const memorization::MetricRegistry& metrics) {
  absl::StatusOr<study::EmmStudyConfig> preset = study::PresetConfig(absl::GetFlag(FLAGS_preset));
  if (!preset.ok()) return absl::InvalidArgumentError(absl::StrCat("--preset: ", preset.status().message()));
  study::EmmStudyConfig c = *std::move(preset);
  c.metrics = metrics;
  OverlayDataFlags(c.data_spec, c.data);
  if (absl::Status s = OverlayNetworkFlags(c.network); !s.ok()) return s;
  if (absl::Status s = OverlayTrainingFlags(c.train); !s.ok()) return s;
  Overlay(absl::GetFlag(FLAGS_ratio_threshold), c.ratio_threshold);
  Overlay(absl::GetFlag(FLAGS_metric), c.metric);
  Overlay(absl::GetFlag(FLAGS_samples), c.samples);
  Overlay(absl::GetFlag(FLAGS_probe_samples), c.probe_samples);
  Overlay(absl::GetFlag(FLAGS_probe_every), c.probe_every);
  if (auto w = absl::GetFlag(FLAGS_weights).value) {
    absl::StatusOr<training::Weights> weights = ParseEnum<training::Weights>(*w, "weights");
    if (!weights.ok()) return absl::InvalidArgumentError(absl::StrCat("--weights: ", weights.status().message()));
    c.weights = *weights;
  }
  if (auto v = absl::GetFlag(FLAGS_scoring).value) {
    absl::StatusOr<study::Scoring> scoring = ParseEnum<study::Scoring>(*v, "scoring");
    if (!scoring.ok()) return absl::InvalidArgumentError(absl::StrCat("--scoring: ", scoring.status().message()));
    c.scoring = *scoring;
  }
  Overlay(absl::GetFlag(FLAGS_sampler_steps), c.sampler_steps);
  Overlay(absl::GetFlag(FLAGS_sample_seed), c.sample_seed);
  Overlay(absl::GetFlag(FLAGS_optimum_reference), c.optimum_reference);
  Overlay(absl::GetFlag(FLAGS_early_stop), c.early_stop);
  Overlay(absl::GetFlag(FLAGS_early_stop_min_fraction), c.early_stop_min_fraction);
  Overlay(absl::GetFlag(FLAGS_early_stop_patience), c.early_stop_patience);
  Overlay(absl::GetFlag(FLAGS_early_stop_min_improvement), c.early_stop_min_improvement);
  Overlay(absl::GetFlag(FLAGS_epsilon), c.search.epsilon);
  Overlay(absl::GetFlag(FLAGS_n_min), c.search.n_min);
  Overlay(absl::GetFlag(FLAGS_n_max), c.search.n_max);
  Overlay(absl::GetFlag(FLAGS_n_start), c.search.n_start);
  Overlay(absl::GetFlag(FLAGS_granularity), c.search.granularity);
  Overlay(absl::GetFlag(FLAGS_growth), c.search.growth);
  Overlay(absl::GetFlag(FLAGS_search_precision), c.search.precision);
  Overlay(absl::GetFlag(FLAGS_max_runs), c.search.max_runs);
  Overlay(absl::GetFlag(FLAGS_parallel), c.search.parallel);
  if (auto v = absl::GetFlag(FLAGS_extra_n).value) {
    absl::StatusOr<std::vector<int64_t>> extra = networks::ParseIntList(*v, "--extra_n");
    if (!extra.ok()) return extra.status();
    c.search.extra_n = *extra;
  }
  if (absl::Status s = study::ValidateEmmStudyConfig(c); !s.ok()) return s;
  return c;
}

}  // namespace tools
}  // namespace diffmem
