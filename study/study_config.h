// What an EMM study is: the data source and factors, the network and its
// training, how runs are evaluated (metric, threshold, samples, probes,
// scored weights), early stopping and the search over N. Stored as
// study.json (format "diffmem.emm_study.v1"); errors name the flag of the
// same name.
//
//   EmmStudyConfig
//   ValidateEmmStudyConfig(c)
//   EmmStudyConfigToJson(c) / EmmStudyConfigFromJson(j, where)
//
// Example:
//   EmmStudyConfig c = FashionCpuPreset();            // study/presets.h
//   c.search.max_runs = 4;
//   if (absl::Status s = ValidateEmmStudyConfig(c); !s.ok()) return s;
//   absl::Status w = util::WriteJsonFile(dir + "/study.json", EmmStudyConfigToJson(c));

#ifndef DIFFMEM_STUDY_STUDY_CONFIG_H_
#define DIFFMEM_STUDY_STUDY_CONFIG_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "data/data_factors.h"
#include "memorization/metric_registry.h"
#include "networks/network.h"
#include "study/emm_search.h"
#include "study/emm_search_json.h"
#include "study/run_record.h"
#include "training/train_options.h"
#include "training/weights.h"
#include "util/enum_names.h"
#include "util/json_fields.h"
#include "util/type_registry.h"

namespace diffmem {
namespace study {

struct EmmStudyConfig {
  // Data: the source and the paper's data factors; `data.n` is set per run.
  std::string data_spec = "fashion-mnist";
  data::DataFactors data;
  // Model and training. The network's resolution, channels and label_dim
  // follow each run's data set (label_dim = its class count when it has labels).
  networks::NetworkConfig network;
  training::TrainOptions train;
  // Evaluation.
  std::string metric = "l2";             // a name in `metrics`
  // The metrics this binary offers (not stored: a study.json names its metric,
  // the binary that reads it supplies the implementations).
  memorization::MetricRegistry metrics = memorization::MetricRegistryOf<>();
  double ratio_threshold = 1.0 / 3.0;    // memorized when d1/d2 < this
  int64_t samples = 256;                 // final measurement per run
  int64_t probe_samples = 64;            // the periodic small batch
  int64_t probe_every = 250;             // steps between probes (0: none, no early stop)
  training::Weights weights = training::Weights::kRaw;  // the weights scored (final scoring)
  Scoring scoring = Scoring::kFinal;     // or the best snapshot after the first (EMA weights; needs snapshot_kimg)
  int sampler_steps = 18;                // EDM Heun steps (2·steps − 1 evaluations)
  uint64_t sample_seed = 0;              // final samples use seeds sample_seed, +1, …
  bool optimum_reference = true;         // also measure the empirical optimum per N
  // Early stopping (epsilon comes from the search).
  bool early_stop = true;
  double early_stop_min_fraction = 0.3;  // no plateau verdict before this fraction of the duration
  int early_stop_patience = 3;
  double early_stop_min_improvement = 0.05;
  int early_stop_confirmations = 1;
  // The search over N.
  EmmSearchOptions search;
};

// How to get the paper's data, for the message when a study names none.
inline constexpr char kNeedCifar10[] =
    "The paper's studies need CIFAR-10: --data=cifar10:DIR, DIR holding the binary batches (data_batch_1.bin ... "
    "test_batch.bin, from cifar-10-binary.tar.gz at https://www.cs.toronto.edu/~kriz/cifar.html), or an EDM "
    "dataset zip made by EDM's dataset_tool.py: --data=cifar10-32x32.zip";

inline absl::Status ValidateEmmStudyConfig(const EmmStudyConfig& c) {
  auto bad = [](const char* flag, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
  };
  if (c.data_spec.empty()) {
    return bad("data", absl::StrCat("no training data given. ", kNeedCifar10));
  }
  if (absl::Status s = data::ValidateDataFactors(c.data); !s.ok()) return s;
  if (absl::Status s = training::ValidateTrainOptions(c.train); !s.ok()) return s;
  if (absl::Status s = ValidateEmmSearchOptions(c.search); !s.ok()) return s;
  if (absl::Status s = c.metrics.Check(c.metric); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--metric: ", s.message()));
  }
  if (!(c.ratio_threshold > 0 && c.ratio_threshold <= 1)) return bad("ratio_threshold", "must be in (0, 1]");
  if (c.samples < 1) return bad("samples", "must be >= 1");
  if (c.probe_samples < 1) return bad("probe_samples", "must be >= 1");
  if (c.probe_every < 0) return bad("probe_every", "must be >= 0");
  if (c.sampler_steps < 1) return bad("sampler_steps", "must be >= 1");
  if (c.scoring == Scoring::kMaxOverSnapshots && !(c.train.snapshot_kimg > 0)) {
    return bad("scoring", "max_over_snapshots needs snapshots: set --snapshot_kimg");
  }
  if (!(c.early_stop_min_fraction >= 0 && c.early_stop_min_fraction <= 1)) {
    return bad("early_stop_min_fraction", "must be in [0, 1]");
  }
  if (c.early_stop_patience < 1) return bad("early_stop_patience", "must be >= 1");
  if (c.early_stop_confirmations < 1) return bad("early_stop_confirmations", "must be >= 1");
  if (!(c.early_stop_min_improvement >= 0)) return bad("early_stop_min_improvement", "must be >= 0");
  return absl::OkStatus();
}

inline nlohmann::json EmmStudyConfigToJson(const EmmStudyConfig& c) {
  return {{"format", "diffmem.emm_study.v1"},
          {"data_spec", c.data_spec},
          {"data", data::DataFactorsToJson(c.data)},
          {"network", networks::NetworkConfigToJson(c.network)},
          {"training", training::TrainOptionsToJson(c.train)},
          {"evaluation",
           {{"metric", c.metric},
            {"ratio_threshold", c.ratio_threshold},
            {"samples", c.samples},
            {"probe_samples", c.probe_samples},
            {"probe_every", c.probe_every},
            {"weights", EnumName(c.weights)},
            {"scoring", EnumName(c.scoring)},
            {"sampler_steps", c.sampler_steps},
            {"sample_seed", c.sample_seed},
            {"optimum_reference", c.optimum_reference}}},
          {"early_stop",
           {{"enabled", c.early_stop},
            {"min_fraction", c.early_stop_min_fraction},
            {"patience", c.early_stop_patience},
            {"min_improvement", c.early_stop_min_improvement},
            {"confirmations", c.early_stop_confirmations}}},
          {"search", EmmSearchOptionsToJson(c.search)}};
}

// `metrics`: what the reading binary offers (its metric must be among them).
inline absl::StatusOr<EmmStudyConfig> EmmStudyConfigFromJson(
    const nlohmann::json& j, const std::string& where,
    const memorization::MetricRegistry& metrics = memorization::MetricRegistryOf<>()) {
  EmmStudyConfig c;
  c.metrics = metrics;
  util::JsonFields top(j, where);
  top.Check(top.String("format") == "diffmem.emm_study.v1", "format", "must be \"diffmem.emm_study.v1\" (not a diffmem EMM study)");
  c.data_spec = top.String("data_spec");
  const nlohmann::json* data = top.Object("data");
  const nlohmann::json* network = top.Object("network");
  const nlohmann::json* training = top.Object("training");
  const nlohmann::json* evaluation = top.Object("evaluation");
  const nlohmann::json* early_stop = top.Object("early_stop");
  const nlohmann::json* search = top.Object("search");
  if (!top.status().ok()) return top.status();
  absl::StatusOr<data::DataFactors> factors = data::DataFactorsFromJson(*data, absl::StrCat(where, ": data"));
  if (!factors.ok()) return factors.status();
  c.data = *factors;
  absl::StatusOr<networks::NetworkConfig> net = networks::NetworkConfigFromJson(*network);
  if (!net.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": network: ", net.status().message()));
  c.network = *net;
  absl::StatusOr<training::TrainOptions> train = training::TrainOptionsFromJson(*training);
  if (!train.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": training: ", train.status().message()));
  c.train = *train;
  util::JsonFields e(*evaluation, absl::StrCat(where, ": evaluation"));
  c.metric = e.String("metric");
  c.ratio_threshold = e.Number("ratio_threshold");
  c.samples = e.Integer("samples");
  c.probe_samples = e.Integer("probe_samples");
  c.probe_every = e.Integer("probe_every");
  absl::StatusOr<training::Weights> weights = ParseEnum<training::Weights>(e.String("weights"), "weights");
  e.Check(weights.ok(), "weights", "must be \"raw\" or \"ema\"");
  c.sampler_steps = static_cast<int>(e.Integer("sampler_steps"));
  c.sample_seed = static_cast<uint64_t>(e.Integer("sample_seed"));
  c.optimum_reference = e.Bool("optimum_reference");
  absl::StatusOr<Scoring> scoring =
      ParseEnum<Scoring>(e.Get("scoring", /*required=*/false) ? e.String("scoring") : std::string("final"), "scoring");
  e.Check(scoring.ok(), "scoring", "must be final or max_over_snapshots");
  if (!e.status().ok()) return e.status();
  c.weights = *weights;
  c.scoring = *scoring;
  util::JsonFields s(*early_stop, absl::StrCat(where, ": early_stop"));
  c.early_stop = s.Bool("enabled");
  c.early_stop_min_fraction = s.Number("min_fraction");
  c.early_stop_patience = static_cast<int>(s.Integer("patience"));
  c.early_stop_min_improvement = s.Number("min_improvement");
  c.early_stop_confirmations = static_cast<int>(s.Integer("confirmations"));
  if (!s.status().ok()) return s.status();
  absl::StatusOr<EmmSearchOptions> o = EmmSearchOptionsFromJson(*search, absl::StrCat(where, ": search"));
  if (!o.ok()) return o.status();
  c.search = *o;
  if (absl::Status v = ValidateEmmStudyConfig(c); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", v.message()));
  }
  return c;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_STUDY_CONFIG_H_
