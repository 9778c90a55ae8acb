// One run of an EMM study: trains the study's network on the training set of
// size N through training::TrainNetwork (the entry point //tools:train uses),
// probes its memorization ratio every `probe_every` steps (stopping early
// when DecideEarlyStop says so), then measures the final ratio on `samples`
// seeds and the empirical optimum's ratio on the same seeds, and writes the
// run's record (emm_result.json) last. Resumable at every point: a finished
// run returns its stored record; a killed run resumes from its checkpoint; a
// run killed after training but before its measurement resumes at the stored
// step and trains no further.
//
//   LoadEmmRunDataset(c, n), EmmRunNetwork(c, ds)  — what the run at N trains on, and with what network
//   CheckEmmStudyCanStart(c)                       — the checks before a study writes anything
//   RunEmmTrainingRun(study_dir, c, n, ctx, log)   — the run, to completion
//   RunEmmTrainingRunOnRanks(..., replicas, ...)   — the same, as one rank of a data-parallel job
//
// Example:
//   absl::StatusOr<EmmRunRecord> r = RunEmmTrainingRun("/tmp/study", config, 40, {1, 6, 0}, Log);

#ifndef DIFFMEM_STUDY_TRAINING_RUN_H_
#define DIFFMEM_STUDY_TRAINING_RUN_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/data_factors.h"
#include "data/dataset.h"
#include "networks/network.h"
#include "parallel/replicas.h"
#include "study/emm_early_stop.h"
#include "study/final_measurement.h"
#include "study/probe.h"
#include "study/run_layout.h"
#include "study/run_record.h"
#include "study/sample_and_score.h"
#include "study/study_config.h"
#include "training/train_network.h"
#include "training/train_options.h"
#include "util/atomic_file.h"
#include "util/enum_names.h"
#include "util/json_file.h"
#include "util/progress.h"

namespace diffmem {
namespace study {

// The data set of the run at N.
inline absl::StatusOr<data::Dataset> LoadEmmRunDataset(const EmmStudyConfig& c, int64_t n) {
  data::DataFactors f = c.data;
  f.n = n;
  return data::LoadDataset(c.data_spec, f);
}

// The network of a run: sizes and label_dim follow its data set.
inline networks::NetworkConfig EmmRunNetwork(const EmmStudyConfig& c, const data::Dataset& ds) {
  networks::NetworkConfig net = c.network;
  net.unet.img_resolution(ds.height()).in_channels(ds.channels()).out_channels(ds.channels());
  net.unet.label_dim(ds.has_labels() ? ds.num_classes : 0);
  return net;
}

// What a study checks before it writes anything, and all that its dry run
// checks: the configuration, the device, and the data set and network of the
// smallest and the largest N the search may ask for. Every N between is a
// multiple of the granularity, and a data set that gives both ends gives
// every N between them (the subsets only grow with N), except a
// class-balanced one, whose N must also be multiples of the class count.
inline absl::Status CheckEmmStudyCanStart(const EmmStudyConfig& c) {
  if (absl::Status s = ValidateEmmStudyConfig(c); !s.ok()) return s;
  if (absl::StatusOr<torch::Device> d = training::ResolveDevice(c.train.device); !d.ok()) return d.status();
  const EmmSearchOptions& o = c.search;
  for (const auto& [flag, n] : {std::pair<const char*, int64_t>{"n_min", o.n_min}, {"n_max", o.n_max}}) {
    auto at_n = [&, flag = flag, n = n](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("--", flag, "=", n, ": the search may train on N=", n,
                                                 " images, but ", s.message()));
    };
    absl::StatusOr<data::Dataset> ds = LoadEmmRunDataset(c, n);
    if (!ds.ok()) return at_n(ds.status());
    const networks::NetworkConfig net = EmmRunNetwork(c, *ds);
    if (absl::Status s = networks::ValidateNetworkConfig(net); !s.ok()) {
      return at_n(absl::InvalidArgumentError(absl::StrCat("the network for its ", ds->height(), "x", ds->width(),
                                                          " images is not valid: ", s.message())));
    }
    if (absl::Status s = training::CheckDatasetForNetwork(*ds, net); !s.ok()) return at_n(s);
    if (c.data.subset == "balanced" && ds->num_classes > 0 && o.granularity % ds->num_classes != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--granularity=", o.granularity, ": a class-balanced subset (--subset=balanced) needs every N to be a "
          "multiple of the class count ", ds->num_classes, "; use a multiple of it"));
    }
  }
  return absl::OkStatus();
}

// Where a run stands in its study, for progress lines.
struct EmmRunContext {
  int index = 1;               // 1-based position of this run in the study
  int max_runs = 1;            // the budget
  double study_elapsed_s = 0;  // wall time of the runs finished before this one
};

// Trains (or resumes) the run at N as one rank of a data-parallel job
// (parallel/replicas.h): every rank trains its slice of each global batch;
// rank 0 alone probes, measures, logs and writes the record, and the others
// return nullopt once training has ended. A run that finished earlier
// returns its stored record on every rank.
inline absl::StatusOr<std::optional<EmmRunRecord>> RunEmmTrainingRunOnRanks(const std::string& study_dir,
                                                                            const EmmStudyConfig& c, int64_t n,
                                                                            const parallel::Replicas& replicas,
                                                                            const EmmRunContext& ctx = {},
                                                                            const EmmLog& log = nullptr) {
  using Clock = std::chrono::steady_clock;
  const std::string rel = EmmRunDirName(n), run_dir = absl::StrCat(study_dir, "/", rel);
  if (util::FileExists(EmmRunResultPath(run_dir))) {
    absl::StatusOr<EmmRunRecord> stored = ReadEmmRunRecord(EmmRunResultPath(run_dir));
    if (!stored.ok()) return stored.status();
    return std::optional<EmmRunRecord>(*std::move(stored));
  }
  const auto t0 = Clock::now();
  auto since = [](Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); };
  auto say = [&](const std::string& line) {
    if (log) log(absl::StrFormat("[run %d/%d] N=%d%s", ctx.index, ctx.max_runs, n, line));
  };

  absl::StatusOr<data::Dataset> loaded = LoadEmmRunDataset(c, n);
  if (!loaded.ok()) return loaded.status();
  const data::Dataset ds = *std::move(loaded);
  const networks::NetworkConfig net = EmmRunNetwork(c, ds);
  training::TrainOptions opts = c.train;
  if (opts.checkpoint_every == 0 || (c.probe_every > 0 && opts.checkpoint_every > c.probe_every)) {
    opts.checkpoint_every = c.probe_every;  // a killed run loses at most one probe interval
  }
  // Training already ended (finished or stopped early), but the run was killed
  // before its measurement: resume at the stored step, train no further.
  const std::string train_result = training::RunResultPath(run_dir);
  if (util::FileExists(train_result)) {
    absl::StatusOr<nlohmann::json> r = util::ReadJsonFile(train_result);
    if (!r.ok()) return r.status();
    opts.steps = r->value("steps", int64_t{0});
    opts.kimg = opts.epochs = 0;
    if (opts.steps < 1) return absl::DataLossError(absl::StrCat(train_result, ": no step count"));
  }
  const int64_t total_steps = training::TotalSteps(opts, ds.size());
  EarlyStopOptions es;
  es.epsilon = c.search.epsilon;
  es.confirmations = c.early_stop_confirmations;
  es.patience = c.early_stop_patience;
  es.min_improvement = c.early_stop_min_improvement;
  es.min_images = static_cast<int64_t>(c.early_stop_min_fraction * total_steps * opts.batch_size);

  ProbeState probe = ReadProbeState(EmmProbePath(run_dir));
  EmmRunRecord rec;
  rec.n = n;
  rec.run_dir = rel;
  rec.weights = c.weights;
  const double session_start_s = probe.train_seconds;
  std::optional<EarlyStopDecision> stopped;  // the verdict that ended training, if any
  auto session = Clock::now();
  absl::Status probe_error;
  const std::vector<uint64_t> probe_seeds = SeedRange(c.sample_seed + kProbeSeedOffset, c.probe_samples);

  training::TrainCallbacks cb;
  cb.started = [&](const training::TrainStart& s) {
    CutProbeStateAt(probe, s.step);  // probes after the checkpoint are redone
    if (s.step > 0) say(absl::StrFormat(": resuming at step %d/%d", s.step, total_steps));
    session = Clock::now();
  };
  cb.progress = [&](const training::TrainProgress& p) {
    if (!log) return;
    std::string last;
    if (!probe.curve.empty()) {
      const RatioCurvePoint& q = probe.curve.back();
      last = absl::StrFormat("  probe ratio %.2f [%.2f, %.2f]", q.ratio, q.ci_low, q.ci_high);
    }
    // Upper bound for the study: the remaining budget at this run's length.
    const double run_total = session_start_s + p.wall_s + p.eta_s;
    const double study_eta = p.eta_s + (ctx.max_runs - ctx.index) * run_total;
    say(absl::StrFormat("  step %d/%d  %.0f img/s  loss %.4f%s  run ETA %s  study ETA <= %s", p.step, p.total_steps,
                        p.images_per_s, p.loss, last, util::FormatDuration(p.eta_s), util::FormatDuration(study_eta)));
  };
  if (c.probe_every > 0) {
    cb.hook_every = c.probe_every;
    cb.hook = [&](const training::TrainProgress& p, training::TrainedModels& m) {
      absl::StatusOr<Scored> s = ScoreWeights(c, m, probe_seeds);
      if (!s.ok()) {
        probe_error = s.status();
        return training::TrainControl::kStop;
      }
      probe.curve.push_back({p.nimg, s->report.ratio, s->report.ci_low, s->report.ci_high,
                             static_cast<int64_t>(s->report.samples.size())});
      probe.steps.push_back(p.step);
      probe.train_seconds = session_start_s + since(session);
      (void)util::WriteJsonFile(EmmProbePath(run_dir), ProbeStateToJson(probe));
      if (!c.early_stop) return training::TrainControl::kContinue;
      const EarlyStopDecision d = DecideEarlyStop(es, probe.curve);
      if (!d.stop()) return training::TrainControl::kContinue;
      stopped = d;
      say(absl::StrFormat(": early stop at step %d: %s", p.step, d.reason));
      return training::TrainControl::kStop;
    };
  }
  cb.finished = [&](const training::TrainResult& result, training::TrainedModels& m) -> absl::Status {
    if (!probe_error.ok()) return probe_error;
    rec.train_steps = result.steps;
    rec.train_images = result.nimg;
    rec.train_seconds = session_start_s + since(session);
    if (!stopped && result.steps < training::TotalSteps(c.train, m.dataset->size())) {
      // Resumed after an early stop that was recorded before the kill.
      const EarlyStopDecision d = DecideEarlyStop(es, probe.curve);
      if (d.stop()) stopped = d;
    }
    rec.stop = stopped ? RunStopOf(stopped->verdict) : RunStop::kDuration;
    rec.still_rising = rec.stop == RunStop::kDuration && StillRising(es, probe.curve);
    rec.stop_reason = stopped ? stopped->reason : absl::StrCat("trained the full ", result.steps, " steps");
    rec.curve = probe.curve;

    const auto eval_start = Clock::now();
    if (absl::Status s = MeasureTrainedRun(c, run_dir, m, rec, say); !s.ok()) return s;
    rec.evaluate_seconds = since(eval_start);
    return absl::OkStatus();
  };
  absl::StatusOr<training::TrainResult> trained =
      training::TrainNetwork(net, ds, opts, run_dir, /*resume=*/true, cb, data::DataSourceToJson(c.data_spec, [&] {
                                data::DataFactors f = c.data;
                                f.n = n;
                                return f;
                              }()),
                              replicas);
  if (!trained.ok()) return trained.status();
  if (!replicas.writes()) return std::optional<EmmRunRecord>();
  say(absl::StrFormat(": ratio %.3f [%.3f, %.3f] (%d/%d memorized)%s after %d steps, %s (%s)", rec.ratio, rec.ci_low,
                      rec.ci_high, rec.memorized, rec.samples,
                      rec.optimum_ratio ? absl::StrFormat("; optimum %.3f", *rec.optimum_ratio) : "", rec.train_steps,
                      EnumName(rec.stop), util::FormatDuration(since(t0))));
  if (absl::Status s = util::WriteJsonFile(EmmRunResultPath(run_dir), EmmRunRecordToJson(rec)); !s.ok()) return s;
  return std::optional<EmmRunRecord>(std::move(rec));
}

// The run at N in this process alone; returns the stored record when the run
// finished earlier.
inline absl::StatusOr<EmmRunRecord> RunEmmTrainingRun(const std::string& study_dir, const EmmStudyConfig& c,
                                                      int64_t n, const EmmRunContext& ctx = {},
                                                      const EmmLog& log = nullptr) {
  absl::StatusOr<std::optional<EmmRunRecord>> r = RunEmmTrainingRunOnRanks(study_dir, c, n, parallel::Replicas(), ctx, log);
  if (!r.ok()) return r.status();
  return **std::move(r);
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_TRAINING_RUN_H_
