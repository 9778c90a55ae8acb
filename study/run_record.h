// What one training run of an EMM study records (runs/nNNNNNN/emm_result.json):
// the final memorization ratio with its confidence interval, the theoretical
// optimum's ratio for the same training set, which weights were scored, how
// long it trained, why it stopped, and the probe curve (ratio vs training
// images). Readers check the schema and name the file and the field.
//
//   RunStop                        — duration | passed | plateaued (why training ended)
//   EmmRunRecord                   — one N (still_rising: cut short by its duration
//                                    while the probe ratio was still rising)
//   RatioCurveToJson / FromJson    — the probe curve
//   EmmRunRecordToJson / FromJson, ReadEmmRunRecord
//
// Example:
//   EmmRunRecord r;  r.n = 40;  r.ratio = 0.95;  ...
//   absl::Status s = util::WriteJsonFile(run_dir + "/emm_result.json", EmmRunRecordToJson(r));
//   absl::StatusOr<EmmRunRecord> back = ReadEmmRunRecord(run_dir + "/emm_result.json");

#ifndef DIFFMEM_STUDY_RUN_RECORD_H_
#define DIFFMEM_STUDY_RUN_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "study/emm_early_stop.h"
#include "study/emm_search.h"
#include "study/emm_search_json.h"
#include "training/weights.h"
#include "util/enum_names.h"
#include "util/json_fields.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {

// Why a run's training ended: its full duration, or an early-stop verdict.
enum class RunStop { kDuration, kPassed, kPlateaued };

// Which weights give a run's ratio: the final ones, or the best of the
// snapshot series after the first (the paper authors' rule).
enum class Scoring { kFinal, kMaxOverSnapshots };

}  // namespace study

template <>
struct EnumNames<study::Scoring> {
  static constexpr std::pair<study::Scoring, const char*> kNames[] = {
      {study::Scoring::kFinal, "final"}, {study::Scoring::kMaxOverSnapshots, "max_over_snapshots"}};
};

template <>
struct EnumNames<study::RunStop> {
  static constexpr std::pair<study::RunStop, const char*> kNames[] = {
      {study::RunStop::kDuration, "duration"}, {study::RunStop::kPassed, "passed"},
      {study::RunStop::kPlateaued, "plateaued"}};
};

namespace study {

// The RunStop of an early-stop verdict that stopped a run.
inline RunStop RunStopOf(EarlyStop verdict) {
  return verdict == EarlyStop::kPassed ? RunStop::kPassed
         : verdict == EarlyStop::kPlateaued ? RunStop::kPlateaued
                                            : RunStop::kDuration;
}

inline constexpr char kEmmRunFormat[] = "diffmem.emm_run.v1";

// One snapshot's measurement (kimg: thousands of training images it had seen).
struct SnapshotScore {
  int64_t kimg = 0;
  double ratio = 0, ci_low = 0, ci_high = 1;
  int64_t memorized = 0, samples = 0;
};

struct EmmRunRecord {
  int64_t n = 0;
  std::string run_dir;                  // relative to the study directory
  double ratio = 0, ci_low = 0, ci_high = 1;
  int64_t samples = 0, memorized = 0;   // the final measurement
  std::optional<double> optimum_ratio;  // the empirical optimum's ratio for the same training set
  int64_t optimum_samples = 0;
  training::Weights weights = training::Weights::kRaw;  // which weights were scored
  int64_t train_steps = 0, train_images = 0;
  RunStop stop = RunStop::kDuration;
  std::string stop_reason;
  bool still_rising = false;            // the duration ended it while its probe ratio was still rising
  double train_seconds = 0, evaluate_seconds = 0;  // wall time
  std::vector<RatioCurvePoint> curve;   // periodic small-batch evaluations
  Scoring scored_by = Scoring::kFinal;  // what decided the ratio above
  std::vector<SnapshotScore> snapshots; // with kMaxOverSnapshots: every snapshot scored
  std::optional<int64_t> best_snapshot_kimg;  // ... and the one the ratio is from

  double wall_seconds() const { return train_seconds + evaluate_seconds; }
  EmmMeasurement measurement() const { return {n, ratio, ci_low, ci_high}; }
};

inline nlohmann::json RatioCurveToJson(const std::vector<RatioCurvePoint>& curve) {
  nlohmann::json a = nlohmann::json::array();
  for (const RatioCurvePoint& p : curve) {
    a.push_back({{"images", p.images}, {"ratio", p.ratio}, {"ci_low", p.ci_low}, {"ci_high", p.ci_high},
                 {"samples", p.samples}});
  }
  return a;
}

inline absl::StatusOr<std::vector<RatioCurvePoint>> RatioCurveFromJson(const nlohmann::json& j,
                                                                       const std::string& where) {
  return util::ReadJsonArray<RatioCurvePoint>(j, where, "curve", [](util::JsonFields& f) {
    RatioCurvePoint p;
    p.images = f.Integer("images");
    p.ratio = f.Number("ratio");
    p.ci_low = f.Number("ci_low");
    p.ci_high = f.Number("ci_high");
    p.samples = f.Integer("samples");
    f.Check(p.ratio >= 0 && p.ratio <= 1, "ratio", "must be in [0, 1]");
    return p;
  });
}

inline nlohmann::json SnapshotScoresToJson(const std::vector<SnapshotScore>& scores) {
  nlohmann::json a = nlohmann::json::array();
  for (const SnapshotScore& s : scores) {
    a.push_back({{"kimg", s.kimg}, {"ratio", s.ratio}, {"ci_low", s.ci_low}, {"ci_high", s.ci_high},
                 {"memorized", s.memorized}, {"samples", s.samples}});
  }
  return a;
}

inline absl::StatusOr<std::vector<SnapshotScore>> SnapshotScoresFromJson(const nlohmann::json& j,
                                                                         const std::string& where) {
  return util::ReadJsonArray<SnapshotScore>(j, where, "snapshots", [](util::JsonFields& f) {
    SnapshotScore s;
    s.kimg = f.Integer("kimg");
    s.ratio = f.Number("ratio");
    s.ci_low = f.Number("ci_low");
    s.ci_high = f.Number("ci_high");
    s.memorized = f.Integer("memorized");
    s.samples = f.Integer("samples");
    f.Check(s.ratio >= 0 && s.ratio <= 1, "ratio", "must be in [0, 1]");
    return s;
  });
}

inline nlohmann::json EmmRunRecordToJson(const EmmRunRecord& r) {
  return {{"format", kEmmRunFormat},
          {"n", r.n},
          {"run_dir", r.run_dir},
          {"ratio", r.ratio},
          {"ci_low", r.ci_low},
          {"ci_high", r.ci_high},
          {"samples", r.samples},
          {"memorized", r.memorized},
          {"optimum_ratio", OptionalToJson(r.optimum_ratio)},
          {"optimum_samples", r.optimum_samples},
          {"weights", EnumName(r.weights)},
          {"train_steps", r.train_steps},
          {"train_images", r.train_images},
          {"stop", EnumName(r.stop)},
          {"stop_reason", r.stop_reason},
          {"still_rising", r.still_rising},
          {"train_seconds", r.train_seconds},
          {"evaluate_seconds", r.evaluate_seconds},
          {"wall_seconds", r.wall_seconds()},
          {"curve", RatioCurveToJson(r.curve)},
          {"scored_by", EnumName(r.scored_by)},
          {"snapshots", SnapshotScoresToJson(r.snapshots)},
          {"best_snapshot_kimg", OptionalToJson(r.best_snapshot_kimg)}};
}

inline absl::StatusOr<EmmRunRecord> EmmRunRecordFromJson(const nlohmann::json& j, const std::string& where) {
  util::JsonFields f(j, where);
  EmmRunRecord r;
  f.Check(f.String("format") == kEmmRunFormat, "format", absl::StrCat("must be \"", kEmmRunFormat, "\""));
  r.n = f.Integer("n");
  r.run_dir = f.String("run_dir");
  r.ratio = f.Number("ratio");
  r.ci_low = f.Number("ci_low");
  r.ci_high = f.Number("ci_high");
  r.samples = f.Integer("samples");
  r.memorized = f.Integer("memorized");
  r.optimum_ratio = f.OptionalNumber("optimum_ratio");
  r.optimum_samples = f.Integer("optimum_samples");
  absl::StatusOr<training::Weights> weights = ParseEnum<training::Weights>(f.String("weights"), "weights");
  f.Check(weights.ok(), "weights", "must be \"raw\" or \"ema\"");
  r.train_steps = f.Integer("train_steps");
  r.train_images = f.Integer("train_images");
  absl::StatusOr<RunStop> stop = ParseEnum<RunStop>(f.String("stop"), "stop");
  f.Check(stop.ok(), "stop", "must be duration, passed or plateaued");
  r.stop_reason = f.String("stop_reason");
  if (const nlohmann::json* rising = f.Get("still_rising", /*required=*/false)) {  // absent in older records
    f.Check(rising->is_boolean(), "still_rising", "must be true or false");
    r.still_rising = rising->is_boolean() && rising->get<bool>();
  }
  r.train_seconds = f.Number("train_seconds");
  r.evaluate_seconds = f.Number("evaluate_seconds");
  // Absent in records from before snapshot scoring: the final weights decided.
  absl::StatusOr<Scoring> scored_by = ParseEnum<Scoring>(
      f.Get("scored_by", /*required=*/false) ? f.String("scored_by") : std::string("final"), "scoring");
  f.Check(scored_by.ok(), "scored_by", "must be final or max_over_snapshots");
  r.best_snapshot_kimg = f.OptionalInteger("best_snapshot_kimg");
  f.Check(r.n >= 1, "n", "must be >= 1");
  f.Check(r.ratio >= 0 && r.ratio <= 1, "ratio", "must be in [0, 1]");
  f.Check(r.ci_low <= r.ratio + 1e-12 && r.ratio <= r.ci_high + 1e-12, "ci_low", "and ci_high must enclose ratio");
  f.Check(r.samples >= 1 && r.memorized >= 0 && r.memorized <= r.samples, "memorized",
          "must be in [0, samples] with samples >= 1");
  const nlohmann::json* curve = f.Array("curve");
  if (!f.status().ok()) return f.status();
  r.weights = *weights;
  r.stop = *stop;
  r.scored_by = *scored_by;
  if (const nlohmann::json* snapshots = j.is_object() && j.contains("snapshots") ? &j.at("snapshots") : nullptr) {
    absl::StatusOr<std::vector<SnapshotScore>> scores = SnapshotScoresFromJson(*snapshots, where);
    if (!scores.ok()) return scores.status();
    r.snapshots = *std::move(scores);
  }
  absl::StatusOr<std::vector<RatioCurvePoint>> c = RatioCurveFromJson(*curve, where);
  if (!c.ok()) return c.status();
  r.curve = std::move(*c);
  return r;
}

inline absl::StatusOr<EmmRunRecord> ReadEmmRunRecord(const std::string& path) {
  absl::StatusOr<nlohmann::json> j = util::ReadJsonFile(path);
  if (!j.ok()) return j.status();
  return EmmRunRecordFromJson(*j, path);
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_RUN_RECORD_H_
