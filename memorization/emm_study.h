// An EMM study on disk: the search of emm_search.h driving real training runs,
// one run directory per N, resumable at every level, executable locally or as
// a plan of independent commands for a cluster.
//
// Study directory layout:
//   study.json               the full configuration (EmmStudyConfig as JSON);
//                            later invocations must agree with it
//   runs/n000040/            one //tools:train-style run directory per N
//                            (config.json, checkpoint.pt, loss.csv, result.json),
//                            plus emm_probe.json (the ratio-vs-images curve so
//                            far), samples.png (final samples) and
//                            emm_result.json (the EmmRunRecord, written last:
//                            a run with it is finished and never recomputed)
//   report.json, ratio_vs_n.png, curves.png   built by CollectEmmStudy
//
// Each run trains with a periodic hook that samples a small fixed batch
// (probe_samples seeds) with the scored weights, measures its memorization
// ratio and stops once DecideEarlyStop says so; the final ratio is measured on
// `samples` seeds, and the empirical optimum's ratio on the same seeds is the
// reference. A killed run resumes from its checkpoint (the curve is cut back
// to the checkpoint); a killed study resumes from its finished runs.
//
//   EmmStudyConfig                 — data, network, training, evaluation, early stop, search
//   EmmStudyConfigToJson/FromJson  — study.json
//   PrepareEmmStudy(dir, config)   — creates dir and study.json, or checks it agrees
//   RunEmmTrainingRun(dir, c, n)   — one N, to completion (or its stored result)
//   CollectEmmStudy(dir, c)        — report.json and figures from finished runs
//   RunEmmStudy(dir, c)            — the search, locally, then Collect
//   PlanEmmStudy(dir, c, binary)   — the next wave of runs as shell commands
//
// Example:
//   EmmStudyConfig c = FashionCpuPreset();
//   absl::StatusOr<EmmReport> r = RunEmmStudy("/tmp/study", c, [](const std::string& line) {
//     std::fprintf(stderr, "%s\n", line.c_str());
//   });

#ifndef DIFFMEM_MEMORIZATION_EMM_STUDY_H_
#define DIFFMEM_MEMORIZATION_EMM_STUDY_H_

#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/atomic_file.h"
#include "data/data_factors.h"
#include "data/dataset.h"
#include "data/image_grid.h"
#include "data/pixels.h"
#include "diffusion/edm_sampler.h"
#include "diffusion/network.h"
#include "diffusion/train.h"
#include "diffusion/train_options.h"
#include "memorization/distance.h"
#include "memorization/emm_early_stop.h"
#include "memorization/emm_plot.h"
#include "memorization/emm_report.h"
#include "memorization/emm_search.h"
#include "memorization/line_plot.h"
#include "memorization/memorization_ratio.h"
#include "memorization/optimal_denoiser.h"
#include "memorization/top_memorized.h"

namespace diffmem {
namespace memorization {

struct EmmStudyConfig {
  // Data: the source and the paper's data factors; `data.n` is set per run.
  std::string data_spec = "fashion-mnist";
  data::DataFactors data;
  // Model and training. The network's resolution, channels and label_dim
  // follow each run's data set (label_dim = its class count when it has labels).
  diffusion::NetworkConfig network;
  diffusion::TrainOptions train;
  // Evaluation.
  std::string metric = "l2";             // l2 | sql2 | l1 | linf | cosine
  double ratio_threshold = 1.0 / 3.0;    // memorized when d1/d2 < this
  int64_t samples = 256;                 // final measurement per run
  int64_t probe_samples = 64;            // the periodic small batch
  int64_t probe_every = 250;             // steps between probes (0: none, no early stop)
  std::string weights = "raw";           // scored weights: raw | ema
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

// ---- JSON -------------------------------------------------------------------

inline nlohmann::json DataFactorsToJson(const data::DataFactors& f) {
  return {{"subset", f.subset},     {"classes", f.classes},         {"mix_data", f.mix_data},
          {"mix_fraction", f.mix_fraction}, {"pad", f.pad}, {"resolution", f.resolution}, {"labels", f.labels},
          {"label_classes", f.label_classes}, {"seed", f.seed}};
}

inline nlohmann::json EmmStudyConfigToJson(const EmmStudyConfig& c) {
  return {{"format", "diffmem.emm_study.v1"},
          {"data_spec", c.data_spec},
          {"data", DataFactorsToJson(c.data)},
          {"network", diffusion::NetworkConfigToJson(c.network)},
          {"training", diffusion::TrainOptionsToJson(c.train)},
          {"evaluation",
           {{"metric", c.metric},
            {"ratio_threshold", c.ratio_threshold},
            {"samples", c.samples},
            {"probe_samples", c.probe_samples},
            {"probe_every", c.probe_every},
            {"weights", c.weights},
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

inline absl::Status ValidateEmmStudyConfig(const EmmStudyConfig& c) {
  auto bad = [](const char* flag, const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", why));
  };
  if (absl::Status s = data::ValidateDataFactors(c.data); !s.ok()) return s;
  if (absl::Status s = diffusion::ValidateTrainOptions(c.train); !s.ok()) return s;
  if (absl::Status s = ValidateEmmSearchOptions(c.search); !s.ok()) return s;
  if (c.metric != "l2" && c.metric != "sql2" && c.metric != "l1" && c.metric != "linf" && c.metric != "cosine") {
    return bad("metric", absl::StrCat("'", c.metric, "': expected l2, sql2, l1, linf or cosine"));
  }
  if (!(c.ratio_threshold > 0 && c.ratio_threshold <= 1)) return bad("ratio_threshold", "must be in (0, 1]");
  if (c.samples < 1) return bad("samples", "must be >= 1");
  if (c.probe_samples < 1) return bad("probe_samples", "must be >= 1");
  if (c.probe_every < 0) return bad("probe_every", "must be >= 0");
  if (c.weights != "raw" && c.weights != "ema") return bad("weights", absl::StrCat("'", c.weights, "': expected raw or ema"));
  if (c.sampler_steps < 1) return bad("sampler_steps", "must be >= 1");
  if (!(c.early_stop_min_fraction >= 0 && c.early_stop_min_fraction <= 1)) {
    return bad("early_stop_min_fraction", "must be in [0, 1]");
  }
  if (c.early_stop_patience < 1) return bad("early_stop_patience", "must be >= 1");
  if (c.early_stop_confirmations < 1) return bad("early_stop_confirmations", "must be >= 1");
  if (!(c.early_stop_min_improvement >= 0)) return bad("early_stop_min_improvement", "must be >= 0");
  return absl::OkStatus();
}

inline absl::StatusOr<EmmStudyConfig> EmmStudyConfigFromJson(const nlohmann::json& j, const std::string& where) {
  EmmStudyConfig c;
  try {
    if (j.at("format") != "diffmem.emm_study.v1") {
      return absl::InvalidArgumentError(absl::StrCat(where, ": not a diffmem EMM study (format ", j.at("format").dump(), ")"));
    }
    c.data_spec = j.at("data_spec").get<std::string>();
    const nlohmann::json& d = j.at("data");
    c.data.subset = d.at("subset").get<std::string>();
    c.data.classes = d.at("classes").get<int64_t>();
    c.data.mix_data = d.at("mix_data").get<std::string>();
    c.data.mix_fraction = d.at("mix_fraction").get<double>();
    c.data.pad = d.at("pad").get<int64_t>();
    c.data.resolution = d.at("resolution").get<int64_t>();
    c.data.labels = d.at("labels").get<std::string>();
    c.data.label_classes = d.at("label_classes").get<int64_t>();
    c.data.seed = d.at("seed").get<uint64_t>();
    absl::StatusOr<diffusion::NetworkConfig> net = diffusion::NetworkConfigFromJson(j.at("network"));
    if (!net.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": network: ", net.status().message()));
    c.network = *net;
    absl::StatusOr<diffusion::TrainOptions> train = diffusion::TrainOptionsFromJson(j.at("training"));
    if (!train.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": training: ", train.status().message()));
    c.train = *train;
    const nlohmann::json& e = j.at("evaluation");
    c.metric = e.at("metric").get<std::string>();
    c.ratio_threshold = e.at("ratio_threshold").get<double>();
    c.samples = e.at("samples").get<int64_t>();
    c.probe_samples = e.at("probe_samples").get<int64_t>();
    c.probe_every = e.at("probe_every").get<int64_t>();
    c.weights = e.at("weights").get<std::string>();
    c.sampler_steps = e.at("sampler_steps").get<int>();
    c.sample_seed = e.at("sample_seed").get<uint64_t>();
    c.optimum_reference = e.at("optimum_reference").get<bool>();
    const nlohmann::json& s = j.at("early_stop");
    c.early_stop = s.at("enabled").get<bool>();
    c.early_stop_min_fraction = s.at("min_fraction").get<double>();
    c.early_stop_patience = s.at("patience").get<int>();
    c.early_stop_min_improvement = s.at("min_improvement").get<double>();
    c.early_stop_confirmations = s.at("confirmations").get<int>();
    const nlohmann::json& o = j.at("search");
    c.search.epsilon = o.at("epsilon").get<double>();
    c.search.n_min = o.at("n_min").get<int64_t>();
    c.search.n_max = o.at("n_max").get<int64_t>();
    c.search.n_start = o.at("n_start").get<int64_t>();
    c.search.granularity = o.at("granularity").get<int64_t>();
    c.search.growth = o.at("growth").get<double>();
    c.search.precision = o.at("precision").get<double>();
    c.search.max_runs = o.at("max_runs").get<int>();
    c.search.parallel = o.at("parallel").get<int>();
    if (o.contains("extra_n")) c.search.extra_n = o.at("extra_n").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& ex) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", ex.what()));
  }
  if (absl::Status s = ValidateEmmStudyConfig(c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
  }
  return c;
}

// ---- Paths ----------------------------------------------------------------

inline std::string EmmRunDirName(int64_t n) { return absl::StrFormat("runs/n%06d", n); }
inline std::string EmmStudyConfigPath(const std::string& dir) { return dir + "/study.json"; }
inline std::string EmmRunResultPath(const std::string& run_dir) { return run_dir + "/emm_result.json"; }
inline std::string EmmProbePath(const std::string& run_dir) { return run_dir + "/emm_probe.json"; }

namespace emm_study_internal {

inline bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

inline std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  return s >= 3600 ? absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60) : absl::StrFormat("%dm%02ds", s / 60, s % 60);
}

// The first difference between two JSON objects, as "key: was X, now Y" ("" if equal).
inline std::string FirstDifference(const nlohmann::json& was, const nlohmann::json& now, const std::string& prefix = "") {
  if (was.is_object() && now.is_object()) {
    for (const auto& [k, v] : now.items()) {
      if (!was.contains(k)) return absl::StrCat(prefix, k, ": absent before, now ", v.dump());
      if (std::string d = FirstDifference(was.at(k), v, absl::StrCat(prefix, k, ".")); !d.empty()) return d;
    }
    for (const auto& [k, v] : was.items()) {
      if (!now.contains(k)) return absl::StrCat(prefix, k, ": was ", v.dump(), ", now absent");
    }
    return "";
  }
  if (was != now) {
    std::string key = prefix.empty() ? "value" : prefix.substr(0, prefix.size() - 1);
    return absl::StrCat(key, ": was ", was.dump(), ", now ", now.dump());
  }
  return "";
}

// Calls f(TypeTag<Metric>{}) for a metric name (checked by ValidateEmmStudyConfig).
template <class F>
auto VisitMetric(const std::string& name, F&& f) {
  using diffusion::TypeTag;
  if (name == "sql2") return f(TypeTag<SquaredL2Distance>{});
  if (name == "l1") return f(TypeTag<L1Distance>{});
  if (name == "linf") return f(TypeTag<LInfDistance>{});
  if (name == "cosine") return f(TypeTag<CosineDistance>{});
  return f(TypeTag<L2Distance>{});
}

inline std::vector<uint64_t> Seeds(uint64_t first, int64_t count) {
  std::vector<uint64_t> s(count);
  for (int64_t i = 0; i < count; ++i) s[i] = first + static_cast<uint64_t>(i);
  return s;
}

// Probe seeds never overlap the final samples' seeds.
inline constexpr uint64_t kProbeSeedOffset = 1000000007ull;

struct Scored {
  MemorizationReport report;
  torch::Tensor pixels;  // uint8 S×C×H×W
};

// Samples `seeds` from `denoiser` and scores them against the training images
// (in pixel space, as the samples would be saved).
template <class D>
Scored SampleAndScore(const EmmStudyConfig& c, D& denoiser, const data::Dataset& train,
                      const std::vector<uint64_t>& seeds, torch::Device device) {
  diffusion::SamplerOptions so;
  so.num_steps = c.sampler_steps;
  diffusion::EdmSampler<diffusion::HeunSolver, diffusion::EdmRhoSteps> sampler(so);
  torch::Tensor labels;
  if (train.has_labels()) {
    // Class labels cycle through the training labels, so every label is asked for.
    torch::Tensor idx = torch::arange(static_cast<int64_t>(seeds.size()), torch::kInt64).remainder(train.size());
    labels = train.labels.index_select(0, idx).to(device);
  }
  torch::Tensor x = sampler.SampleFromSeeds(denoiser, seeds, {train.channels(), train.height(), train.width()}, labels,
                                            device);
  Scored out;
  out.pixels = data::FloatToPixels(x.cpu());
  MemorizationOptions mo;
  mo.threshold = c.ratio_threshold;
  out.report = VisitMetric(c.metric, [&](auto metric) {
    using Metric = typename decltype(metric)::type;
    return MemorizationRatio<Metric>(out.pixels.to(torch::kFloat32), train.images.to(torch::kFloat32), mo);
  });
  return out;
}

struct ProbeState {
  std::vector<RatioCurvePoint> curve;
  std::vector<int64_t> steps;  // training step of each curve point
  double train_seconds = 0;    // accumulated over sessions, up to the last probe
};

inline nlohmann::json ProbeStateToJson(const ProbeState& p) {
  return {{"curve", RatioCurveToJson(p.curve)}, {"steps", p.steps}, {"train_seconds", p.train_seconds}};
}

inline ProbeState ReadProbeState(const std::string& path) {
  ProbeState p;
  absl::StatusOr<nlohmann::json> j = ReadJsonFile(path);
  if (!j.ok() || !j->is_object() || !j->contains("curve")) return p;
  absl::StatusOr<std::vector<RatioCurvePoint>> curve = RatioCurveFromJson(j->at("curve"), path);
  if (!curve.ok()) return p;
  try {
    p.steps = j->at("steps").get<std::vector<int64_t>>();
    p.train_seconds = j->at("train_seconds").get<double>();
  } catch (const nlohmann::json::exception&) {
    return ProbeState();
  }
  if (p.steps.size() != curve->size()) return ProbeState();
  p.curve = std::move(*curve);
  return p;
}

}  // namespace emm_study_internal

// The data set of the run at N.
inline absl::StatusOr<data::Dataset> LoadEmmRunDataset(const EmmStudyConfig& c, int64_t n) {
  data::DataFactors f = c.data;
  f.n = n;
  return data::LoadDataset(c.data_spec, f);
}

// The network config of a run: sizes follow the data set.
inline diffusion::NetworkConfig EmmRunNetwork(const EmmStudyConfig& c, const data::Dataset& ds) {
  diffusion::NetworkConfig net = c.network;
  net.unet.img_resolution(ds.height()).in_channels(ds.channels()).out_channels(ds.channels());
  net.unet.label_dim(ds.has_labels() ? ds.num_classes : 0);
  return net;
}

// Creates the study directory and study.json, or checks that an existing
// study.json holds the same configuration (so a rerun continues the same study).
inline absl::Status PrepareEmmStudy(const std::string& dir, const EmmStudyConfig& c) {
  if (absl::Status s = ValidateEmmStudyConfig(c); !s.ok()) return s;
  const nlohmann::json now = EmmStudyConfigToJson(c);
  const std::string path = EmmStudyConfigPath(dir);
  if (emm_study_internal::Exists(path)) {
    absl::StatusOr<nlohmann::json> was = ReadJsonFile(path);
    if (!was.ok()) return was.status();
    if (std::string d = emm_study_internal::FirstDifference(*was, now); !d.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir, ": holds a study with another configuration (", d,
          "); use another --out, or the same flags to continue it"));
    }
    return absl::OkStatus();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir + "/runs", ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  return WriteJsonFile(path, now);
}

// Reads study.json of an existing study.
inline absl::StatusOr<EmmStudyConfig> ReadEmmStudyConfig(const std::string& dir) {
  absl::StatusOr<nlohmann::json> j = ReadJsonFile(EmmStudyConfigPath(dir));
  if (!j.ok()) return j.status();
  return EmmStudyConfigFromJson(*j, EmmStudyConfigPath(dir));
}

// Where a run stands, for progress lines.
struct EmmRunContext {
  int index = 1;       // 1-based position of this run in the study
  int max_runs = 1;    // the budget
  double study_elapsed_s = 0;  // wall time of the runs finished before this one
};

using EmmLog = std::function<void(const std::string&)>;

// Trains (or resumes) the run at N and measures it; returns the stored
// record when the run finished earlier.
inline absl::StatusOr<EmmRunRecord> RunEmmTrainingRun(const std::string& study_dir, const EmmStudyConfig& c,
                                                      int64_t n, const EmmRunContext& ctx = {},
                                                      const EmmLog& log = nullptr) {
  namespace in = emm_study_internal;
  using Clock = std::chrono::steady_clock;
  const std::string rel = EmmRunDirName(n), run_dir = absl::StrCat(study_dir, "/", rel);
  if (in::Exists(EmmRunResultPath(run_dir))) return ReadEmmRunRecord(EmmRunResultPath(run_dir));
  const auto t0 = Clock::now();
  auto since = [](Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); };

  absl::StatusOr<data::Dataset> loaded = LoadEmmRunDataset(c, n);
  if (!loaded.ok()) return loaded.status();
  const data::Dataset ds = *std::move(loaded);
  const diffusion::NetworkConfig net = EmmRunNetwork(c, ds);
  diffusion::TrainOptions opts = c.train;
  if (opts.checkpoint_every == 0 || (c.probe_every > 0 && opts.checkpoint_every > c.probe_every)) {
    opts.checkpoint_every = c.probe_every;  // a killed run loses at most one probe interval
  }
  // Training already ended (finished or stopped early), but the run was killed
  // before its measurement: resume at the stored step, train no further.
  const std::string train_result = diffusion::RunResultPath(run_dir);
  if (in::Exists(train_result)) {
    absl::StatusOr<nlohmann::json> r = ReadJsonFile(train_result);
    if (!r.ok()) return r.status();
    opts.steps = r->value("steps", int64_t{0});
    opts.kimg = opts.epochs = 0;
    if (opts.steps < 1) return absl::DataLossError(absl::StrCat(train_result, ": no step count"));
  }
  const int64_t total_steps = diffusion::TotalSteps(opts, ds.size());
  EarlyStopOptions es;
  es.epsilon = c.search.epsilon;
  es.confirmations = c.early_stop_confirmations;
  es.patience = c.early_stop_patience;
  es.min_improvement = c.early_stop_min_improvement;
  es.min_images = static_cast<int64_t>(c.early_stop_min_fraction * total_steps * opts.batch_size);

  in::ProbeState probe = in::ReadProbeState(EmmProbePath(run_dir));
  EmmRunRecord rec;
  rec.n = n;
  rec.run_dir = rel;
  rec.weights = c.weights;
  double session_start_s = probe.train_seconds;
  std::string stop = "duration", stop_reason;

  const nlohmann::json data_config = {{"spec", c.data_spec}, {"factors", DataFactorsToJson(c.data)}, {"n", n}};
  absl::Status visited = diffusion::VisitNetwork(net, [&](auto spec, auto precond) -> absl::Status {
    using Spec = typename decltype(spec)::type;
    using Precond = typename decltype(precond)::type;
    using Net = diffusion::UNet<Spec>;
    torch::manual_seed(opts.seed);
    Net unet(net.unet);
    data::Dataset train_ds = net.unet.label_dim() > 0 ? ds : data::WithoutLabels(ds);
    nlohmann::json config = {{"network", diffusion::NetworkConfigToJson(net)}, {"data", data_config}};
    diffusion::Trainer<Precond, Net> trainer(unet, Precond(), train_ds, opts, run_dir, std::move(config));
    if (absl::Status s = trainer.Start(/*resume=*/true); !s.ok()) return s;
    // Cut the curve back to the checkpoint (probes after it will be redone).
    while (!probe.steps.empty() && probe.steps.back() > trainer.step()) {
      probe.steps.pop_back();
      probe.curve.pop_back();
    }
    if (log && trainer.step() > 0) {
      log(absl::StrFormat("[run %d/%d] N=%d: resuming at step %d/%d", ctx.index, ctx.max_runs, n, trainer.step(),
                          total_steps));
    }
    const auto session = Clock::now();
    const std::vector<uint64_t> probe_seeds = in::Seeds(c.sample_seed + in::kProbeSeedOffset, c.probe_samples);
    diffusion::TrainCallbacks cb;
    cb.progress = [&](const diffusion::TrainProgress& p) {
      if (!log) return;
      std::string last;
      if (!probe.curve.empty()) {
        const RatioCurvePoint& q = probe.curve.back();
        last = absl::StrFormat("  probe ratio %.2f [%.2f, %.2f]", q.ratio, q.ci_low, q.ci_high);
      }
      // Upper bound for the study: the remaining budget at this run's length.
      const double run_total = session_start_s + p.wall_s + p.eta_s;
      const double study_eta = p.eta_s + (ctx.max_runs - ctx.index) * run_total;
      log(absl::StrFormat("[run %d/%d] N=%d  step %d/%d  %.0f img/s  loss %.4f%s  run ETA %s  study ETA <= %s",
                          ctx.index, ctx.max_runs, n, p.step, p.total_steps, p.images_per_s, p.loss, last,
                          in::Duration(p.eta_s), in::Duration(study_eta)));
    };
    if (c.probe_every > 0) {
      cb.hook_every = c.probe_every;
      cb.hook = [&](const diffusion::TrainProgress& p, diffusion::TrainedModels& m) {
        in::Scored s = c.weights == "ema" ? in::SampleAndScore(c, m.ema, train_ds, probe_seeds, m.device)
                                          : in::SampleAndScore(c, m.raw, train_ds, probe_seeds, m.device);
        probe.curve.push_back({p.nimg, s.report.ratio, s.report.ci_low, s.report.ci_high,
                               static_cast<int64_t>(s.report.samples.size())});
        probe.steps.push_back(p.step);
        probe.train_seconds = session_start_s + since(session);
        (void)WriteJsonFile(EmmProbePath(run_dir), in::ProbeStateToJson(probe));
        if (!c.early_stop) return diffusion::TrainControl::kContinue;
        const EarlyStopDecision d = DecideEarlyStop(es, probe.curve);
        if (!d.stop()) return diffusion::TrainControl::kContinue;
        stop = EarlyStopName(d.verdict);
        stop_reason = d.reason;
        if (log) log(absl::StrFormat("[run %d/%d] N=%d: early stop at step %d: %s", ctx.index, ctx.max_runs, n, p.step, d.reason));
        return diffusion::TrainControl::kStop;
      };
    }
    absl::StatusOr<diffusion::TrainResult> result = trainer.Run(cb);
    if (!result.ok()) return result.status();
    rec.train_steps = result->steps;
    rec.train_images = result->nimg;
    rec.train_seconds = session_start_s + since(session);
    if (stop == "duration" && result->steps < diffusion::TotalSteps(c.train, train_ds.size())) {
      // Resumed after an early stop that was recorded before the kill.
      const EarlyStopDecision d = DecideEarlyStop(es, probe.curve);
      stop = d.stop() ? EarlyStopName(d.verdict) : "duration";
      stop_reason = d.reason;
    }
    rec.stop = stop;
    rec.stop_reason = stop_reason.empty() ? absl::StrCat("trained the full ", result->steps, " steps") : stop_reason;
    rec.curve = probe.curve;

    // The final measurement on the full sample count.
    const auto eval_start = Clock::now();
    if (log) log(absl::StrFormat("[run %d/%d] N=%d: measuring %d samples (%s weights)", ctx.index, ctx.max_runs, n, c.samples, c.weights));
    trainer.net()->eval();  // no dropout while sampling (Run leaves the net in training mode)
    trainer.ema_net()->eval();
    diffusion::TrainedModels m = trainer.Models();
    const std::vector<uint64_t> seeds = in::Seeds(c.sample_seed, c.samples);
    in::Scored s = c.weights == "ema" ? in::SampleAndScore(c, m.ema, train_ds, seeds, m.device)
                                      : in::SampleAndScore(c, m.raw, train_ds, seeds, m.device);
    rec.samples = static_cast<int64_t>(s.report.samples.size());
    rec.memorized = s.report.memorized;
    rec.ratio = s.report.ratio;
    rec.ci_low = s.report.ci_low;
    rec.ci_high = s.report.ci_high;
    data::GridOptions grid;
    grid.columns = 16;
    if (absl::Status w = data::WriteImageGrid(run_dir + "/samples.png",
                                              s.pixels.narrow(0, 0, std::min<int64_t>(256, s.pixels.size(0))), grid);
        !w.ok()) {
      return w;
    }
    if (absl::Status w = WriteTopMemorized(run_dir + "/top_memorized.png", s.report, s.pixels, train_ds.images, 16);
        !w.ok()) {
      return w;
    }
    if (c.optimum_reference) {
      EmpiricalOptimalDenoiser optimum(data::PixelsToFloat(train_ds.images),
                                       train_ds.has_labels() ? train_ds.labels : torch::Tensor());
      in::Scored o = in::SampleAndScore(c, optimum, train_ds, seeds, torch::kCPU);
      rec.optimum_ratio = o.report.ratio;
      rec.optimum_samples = static_cast<int64_t>(o.report.samples.size());
    }
    rec.evaluate_seconds = since(eval_start);
    return absl::OkStatus();
  });
  if (!visited.ok()) return visited;
  if (log) {
    log(absl::StrFormat("[run %d/%d] N=%d: ratio %.3f [%.3f, %.3f] (%d/%d memorized)%s after %d steps, %s (%s)",
                        ctx.index, ctx.max_runs, n, rec.ratio, rec.ci_low, rec.ci_high, rec.memorized, rec.samples,
                        rec.optimum_ratio ? absl::StrFormat("; optimum %.3f", *rec.optimum_ratio) : "",
                        rec.train_steps, rec.stop, in::Duration(since(t0))));
  }
  if (absl::Status s = WriteJsonFile(EmmRunResultPath(run_dir), EmmRunRecordToJson(rec)); !s.ok()) return s;
  return rec;
}

// The finished runs of a study (those with emm_result.json), ascending N.
inline absl::StatusOr<std::vector<EmmRunRecord>> ReadFinishedEmmRuns(const std::string& study_dir) {
  std::vector<EmmRunRecord> runs;
  std::error_code ec;
  const std::string root = study_dir + "/runs";
  if (!std::filesystem::is_directory(root, ec)) return runs;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string path = EmmRunResultPath(entry.path().string());
    if (!emm_study_internal::Exists(path)) continue;
    absl::StatusOr<EmmRunRecord> r = ReadEmmRunRecord(path);
    if (!r.ok()) return r.status();
    runs.push_back(std::move(*r));
  }
  if (ec) return absl::UnavailableError(absl::StrCat(root, ": cannot list: ", ec.message()));
  std::sort(runs.begin(), runs.end(), [](const EmmRunRecord& a, const EmmRunRecord& b) { return a.n < b.n; });
  return runs;
}

// report.json, ratio_vs_n.png and curves.png from the finished runs.
inline absl::StatusOr<EmmReport> CollectEmmStudy(const std::string& study_dir, const EmmStudyConfig& c) {
  absl::StatusOr<std::vector<EmmRunRecord>> runs = ReadFinishedEmmRuns(study_dir);
  if (!runs.ok()) return runs.status();
  EmmReport r = MakeEmmReport(EmmStudyConfigToJson(c), c.search, c.ratio_threshold, *std::move(runs));
  if (absl::Status s = WriteJsonFile(study_dir + "/report.json", EmmReportToJson(r)); !s.ok()) return s;
  if (!r.runs.empty()) {
    if (absl::Status s = WriteLinePlotPng(study_dir + "/ratio_vs_n.png", RatioVsNPlot(r)); !s.ok()) return s;
    if (absl::Status s = WriteLinePlotPng(study_dir + "/curves.png", RatioCurvesPlot(r)); !s.ok()) return s;
  }
  // The most memorized samples beside their nearest training images, at the
  // largest N that still memorizes (runs from before this picture existed lack it).
  if (r.estimate.emm) {
    absl::StatusOr<std::string> top =
        data::ReadFileToString(absl::StrCat(study_dir, "/", EmmRunDirName(*r.estimate.emm), "/top_memorized.png"));
    if (top.ok()) {
      if (absl::Status s = data::WriteFileAtomically(study_dir + "/top_memorized.png", *top); !s.ok()) return s;
    }
  }
  return r;
}

// A one-line summary of an estimate: "EMM = 40 (bracket [40, 60], interpolated 47.3; converged)".
inline std::string EmmSummaryLine(const EmmReport& r) {
  const EmmEstimate& e = r.estimate;
  auto opt = [](const std::optional<int64_t>& v) { return v ? absl::StrCat(*v) : std::string("none"); };
  std::string s = absl::StrCat("EMM = ", opt(e.emm), " (bracket [", opt(e.n_lo), ", ", opt(e.n_hi), "]");
  if (e.interpolated) absl::StrAppend(&s, absl::StrFormat(", interpolated %.1f", *e.interpolated));
  absl::StrAppend(&s, "; ", EmmSearchStatusName(e.status), ")");
  return s;
}

// The search, run locally: every run the search asks for, in order; finished
// runs are reused. Ends with CollectEmmStudy.
inline absl::StatusOr<EmmReport> RunEmmStudy(const std::string& study_dir, const EmmStudyConfig& c,
                                             const EmmLog& log = nullptr) {
  if (absl::Status s = PrepareEmmStudy(study_dir, c); !s.ok()) return s;
  absl::StatusOr<std::vector<EmmRunRecord>> done = ReadFinishedEmmRuns(study_dir);
  if (!done.ok()) return done.status();
  std::vector<EmmMeasurement> ms;
  double elapsed = 0;
  for (const EmmRunRecord& r : *done) ms.push_back(r.measurement()), elapsed += r.wall_seconds();
  if (log && !ms.empty()) log(absl::StrCat("estimate_emm: ", ms.size(), " finished run(s) found in ", study_dir));
  if (log && c.early_stop && c.probe_every > 0 &&
      WilsonInterval(c.probe_samples, c.probe_samples).low < c.search.memorization_threshold()) {
    log(absl::StrFormat("estimate_emm: note: with %d probe samples even a fully memorized probe has a 95%% interval "
                        "below %.2f, so runs stop only on a plateau or at the end (raise --probe_samples)",
                        c.probe_samples, c.search.memorization_threshold()));
  }
  for (std::vector<int64_t> wave = NextEmmRuns(c.search, ms); !wave.empty(); wave = NextEmmRuns(c.search, ms)) {
    for (int64_t n : wave) {
      EmmRunContext ctx{static_cast<int>(ms.size()) + 1, c.search.max_runs, elapsed};
      absl::StatusOr<EmmRunRecord> r = RunEmmTrainingRun(study_dir, c, n, ctx, log);
      if (!r.ok()) return r.status();
      ms.push_back(r->measurement());
      elapsed += r->wall_seconds();
    }
  }
  return CollectEmmStudy(study_dir, c);
}

// The commands of the next wave: one shell line per run,
//   BINARY --out=STUDY --run_n=N  # run dir STUDY/runs/n000040
// (the run reads STUDY/study.json). Empty when the search has finished.
inline absl::StatusOr<std::vector<std::string>> PlanEmmStudy(const std::string& study_dir, const EmmStudyConfig& c,
                                                             const std::string& binary,
                                                             const std::string& extra_flags = "") {
  if (absl::Status s = PrepareEmmStudy(study_dir, c); !s.ok()) return s;
  absl::StatusOr<std::vector<EmmRunRecord>> done = ReadFinishedEmmRuns(study_dir);
  if (!done.ok()) return done.status();
  std::vector<EmmMeasurement> ms;
  for (const EmmRunRecord& r : *done) ms.push_back(r.measurement());
  std::vector<std::string> lines;
  for (int64_t n : NextEmmRuns(c.search, ms)) {
    lines.push_back(absl::StrCat(binary, " --out=", study_dir, " --run_n=", n, extra_flags.empty() ? "" : " ",
                                 extra_flags, "  # run dir ", study_dir, "/", EmmRunDirName(n)));
  }
  return lines;
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_EMM_STUDY_H_
