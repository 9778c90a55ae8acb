// What an EMM study records: one result per training run (a run directory's
// result.json) and the study's report.json, plus the EMM-vs-factor table of a
// factor study. JSON through nlohmann-json; every reader checks the schema and
// names the file and the field that is wrong.
//
//   EmmRunRecord      — one N: final ratio with CI (full sample count), the
//                       theoretical optimum's ratio for the same N, which
//                       weights were scored (raw/ema), training length, why it
//                       stopped, wall time, and the curve ratio vs training images
//   EmmReport         — config (the flags, as JSON), search options, runs
//                       (ascending N), the estimate (EMM, bracket, interpolated,
//                       status), the N values the search would measure next
//   EmmFactorRow      — one value of a varied factor and the EMM found with it
//   *ToJson / *FromJson, WriteJsonFile / ReadJsonFile, WriteEmmFactorTable
//
// Example:
//   EmmReport r = MakeEmmReport(config, options, ratio_threshold, runs);
//   absl::Status s = WriteJsonFile(study_dir + "/report.json", EmmReportToJson(r));
//   absl::StatusOr<EmmReport> back = ReadEmmReport(study_dir + "/report.json");

#ifndef DIFFMEM_MEMORIZATION_EMM_REPORT_H_
#define DIFFMEM_MEMORIZATION_EMM_REPORT_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/atomic_file.h"
#include "memorization/emm_early_stop.h"
#include "memorization/emm_search.h"

namespace diffmem {
namespace memorization {

inline constexpr char kEmmReportFormat[] = "diffmem.emm_report.v1";
inline constexpr char kEmmRunFormat[] = "diffmem.emm_run.v1";

struct EmmRunRecord {
  int64_t n = 0;
  std::string run_dir;               // relative to the study directory
  double ratio = 0, ci_low = 0, ci_high = 1;
  int64_t samples = 0, memorized = 0;  // the final measurement
  std::optional<double> optimum_ratio;  // the empirical optimum's ratio for the same training set
  int64_t optimum_samples = 0;
  std::string weights = "raw";       // which weights were scored: raw | ema
  int64_t train_steps = 0, train_images = 0;
  std::string stop = "duration";     // duration | passed | plateaued
  std::string stop_reason;
  double train_seconds = 0, evaluate_seconds = 0;  // wall time
  std::vector<RatioCurvePoint> curve;  // periodic small-batch evaluations

  double wall_seconds() const { return train_seconds + evaluate_seconds; }
  EmmMeasurement measurement() const { return {n, ratio, ci_low, ci_high}; }
};

struct EmmReport {
  nlohmann::json config = nlohmann::json::object();  // the study's settings, as given
  EmmSearchOptions search;
  double ratio_threshold = 1.0 / 3.0;  // d1/d2 below this counts as memorized
  std::vector<EmmRunRecord> runs;      // ascending N
  EmmEstimate estimate;
  std::vector<int64_t> next_runs;      // what the search would measure next (empty: finished)

  double wall_seconds() const {
    double s = 0;
    for (const EmmRunRecord& r : runs) s += r.wall_seconds();
    return s;
  }
};

// The report for `runs` under `search` (runs sorted, estimate and next runs computed).
inline EmmReport MakeEmmReport(nlohmann::json config, const EmmSearchOptions& search, double ratio_threshold,
                               std::vector<EmmRunRecord> runs) {
  std::sort(runs.begin(), runs.end(), [](const EmmRunRecord& a, const EmmRunRecord& b) { return a.n < b.n; });
  runs.erase(std::unique(runs.begin(), runs.end(), [](const EmmRunRecord& a, const EmmRunRecord& b) { return a.n == b.n; }),
             runs.end());
  EmmReport r;
  r.config = config.is_null() ? nlohmann::json::object() : std::move(config);
  r.search = search;
  r.ratio_threshold = ratio_threshold;
  r.runs = std::move(runs);
  std::vector<EmmMeasurement> ms;
  for (const EmmRunRecord& run : r.runs) ms.push_back(run.measurement());
  r.estimate = SummarizeEmmSearch(search, ms);
  r.next_runs = NextEmmRuns(search, ms);
  return r;
}

namespace emm_report_internal {

template <typename T>
nlohmann::json Optional(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Field access with errors that name the file and the field.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}

  absl::Status status() const { return status_; }

  const nlohmann::json* Get(const char* key, bool required = true) {
    if (!j_.is_object()) return Fail(key, "is not inside a JSON object"), nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || (it->is_null() && required)) {
      if (required) Fail(key, "is missing");
      return nullptr;
    }
    return &*it;
  }
  double Number(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return 0;
    if (!v->is_number()) return Fail(key, "must be a number"), 0;
    return v->get<double>();
  }
  int64_t Integer(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return 0;
    if (!v->is_number_integer()) return Fail(key, "must be an integer"), 0;
    return v->get<int64_t>();
  }
  std::string String(const char* key) {
    const nlohmann::json* v = Get(key);
    if (!v) return "";
    if (!v->is_string()) return Fail(key, "must be a string"), "";
    return v->get<std::string>();
  }
  std::optional<double> OptionalNumber(const char* key) {
    const nlohmann::json* v = Get(key, /*required=*/false);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number()) return Fail(key, "must be a number or null"), std::nullopt;
    return v->get<double>();
  }
  std::optional<int64_t> OptionalInteger(const char* key) {
    const nlohmann::json* v = Get(key, /*required=*/false);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_number_integer()) return Fail(key, "must be an integer or null"), std::nullopt;
    return v->get<int64_t>();
  }
  const nlohmann::json* Array(const char* key) {
    const nlohmann::json* v = Get(key);
    if (v && !v->is_array()) return Fail(key, "must be an array"), nullptr;
    return v;
  }
  void Check(bool ok, const char* key, const std::string& what) {
    if (!ok) Fail(key, what);
  }

 private:
  void Fail(const char* key, const std::string& what) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat(where_, ": field '", key, "' ", what));
  }
  const nlohmann::json& j_;
  std::string where_;
  absl::Status status_;
};

}  // namespace emm_report_internal

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
  if (!j.is_array()) return absl::InvalidArgumentError(absl::StrCat(where, ": curve must be an array"));
  std::vector<RatioCurvePoint> curve;
  for (size_t i = 0; i < j.size(); ++i) {
    emm_report_internal::Fields f(j[i], absl::StrCat(where, ": curve[", i, "]"));
    RatioCurvePoint p;
    p.images = f.Integer("images");
    p.ratio = f.Number("ratio");
    p.ci_low = f.Number("ci_low");
    p.ci_high = f.Number("ci_high");
    p.samples = f.Integer("samples");
    f.Check(p.ratio >= 0 && p.ratio <= 1, "ratio", "must be in [0, 1]");
    if (!f.status().ok()) return f.status();
    curve.push_back(p);
  }
  return curve;
}

inline nlohmann::json EmmRunRecordToJson(const EmmRunRecord& r) {
  using emm_report_internal::Optional;
  return {{"format", kEmmRunFormat},
          {"n", r.n},
          {"run_dir", r.run_dir},
          {"ratio", r.ratio},
          {"ci_low", r.ci_low},
          {"ci_high", r.ci_high},
          {"samples", r.samples},
          {"memorized", r.memorized},
          {"optimum_ratio", Optional(r.optimum_ratio)},
          {"optimum_samples", r.optimum_samples},
          {"weights", r.weights},
          {"train_steps", r.train_steps},
          {"train_images", r.train_images},
          {"stop", r.stop},
          {"stop_reason", r.stop_reason},
          {"train_seconds", r.train_seconds},
          {"evaluate_seconds", r.evaluate_seconds},
          {"wall_seconds", r.wall_seconds()},
          {"curve", RatioCurveToJson(r.curve)}};
}

inline absl::StatusOr<EmmRunRecord> EmmRunRecordFromJson(const nlohmann::json& j, const std::string& where) {
  emm_report_internal::Fields f(j, where);
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
  r.weights = f.String("weights");
  r.train_steps = f.Integer("train_steps");
  r.train_images = f.Integer("train_images");
  r.stop = f.String("stop");
  r.stop_reason = f.String("stop_reason");
  r.train_seconds = f.Number("train_seconds");
  r.evaluate_seconds = f.Number("evaluate_seconds");
  f.Check(r.n >= 1, "n", "must be >= 1");
  f.Check(r.ratio >= 0 && r.ratio <= 1, "ratio", "must be in [0, 1]");
  f.Check(r.ci_low <= r.ratio + 1e-12 && r.ratio <= r.ci_high + 1e-12, "ci_low", "and ci_high must enclose ratio");
  f.Check(r.samples >= 1 && r.memorized >= 0 && r.memorized <= r.samples, "memorized",
          "must be in [0, samples] with samples >= 1");
  f.Check(r.weights == "raw" || r.weights == "ema", "weights", "must be \"raw\" or \"ema\"");
  f.Check(r.stop == "duration" || r.stop == "passed" || r.stop == "plateaued", "stop",
          "must be duration, passed or plateaued");
  const nlohmann::json* curve = f.Array("curve");
  if (!f.status().ok()) return f.status();
  absl::StatusOr<std::vector<RatioCurvePoint>> c = RatioCurveFromJson(*curve, where);
  if (!c.ok()) return c.status();
  r.curve = std::move(*c);
  return r;
}

inline nlohmann::json EmmSearchOptionsToJson(const EmmSearchOptions& o) {
  return {{"epsilon", o.epsilon},         {"n_min", o.n_min},         {"n_max", o.n_max},
          {"n_start", o.start()},         {"granularity", o.granularity}, {"growth", o.growth},
          {"precision", o.precision},     {"max_runs", o.max_runs},   {"parallel", o.parallel},
          {"extra_n", o.extra_n}};
}

inline nlohmann::json EmmEstimateToJson(const EmmEstimate& e, const EmmSearchOptions& o) {
  using emm_report_internal::Optional;
  return {{"status", EmmSearchStatusName(e.status)},
          {"threshold", o.memorization_threshold()},
          {"emm", Optional(e.emm)},
          {"bracket", {Optional(e.n_lo), Optional(e.n_hi)}},
          {"interpolated", Optional(e.interpolated)}};
}

inline nlohmann::json EmmReportToJson(const EmmReport& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const EmmRunRecord& run : r.runs) runs.push_back(EmmRunRecordToJson(run));
  return {{"format", kEmmReportFormat},
          {"config", r.config},
          {"search", EmmSearchOptionsToJson(r.search)},
          {"ratio_threshold", r.ratio_threshold},
          {"estimate", EmmEstimateToJson(r.estimate, r.search)},
          {"next_runs", r.next_runs},
          {"wall_seconds", r.wall_seconds()},
          {"runs", runs}};
}

// Reads a report back; the estimate is recomputed from the runs and must
// agree with the one recorded (a hand-edited or truncated report fails).
inline absl::StatusOr<EmmReport> EmmReportFromJson(const nlohmann::json& j, const std::string& where) {
  emm_report_internal::Fields f(j, where);
  f.Check(f.String("format") == kEmmReportFormat, "format", absl::StrCat("must be \"", kEmmReportFormat, "\""));
  const nlohmann::json* config = f.Get("config");
  const nlohmann::json* search = f.Get("search");
  const nlohmann::json* estimate = f.Get("estimate");
  const nlohmann::json* runs = f.Array("runs");
  const double ratio_threshold = f.Number("ratio_threshold");
  f.Check(ratio_threshold > 0 && ratio_threshold <= 1, "ratio_threshold", "must be in (0, 1]");
  if (!f.status().ok()) return f.status();
  emm_report_internal::Fields s(*search, absl::StrCat(where, ": search"));
  EmmSearchOptions o;
  o.epsilon = s.Number("epsilon");
  o.n_min = s.Integer("n_min");
  o.n_max = s.Integer("n_max");
  o.n_start = s.Integer("n_start");
  o.granularity = s.Integer("granularity");
  o.growth = s.Number("growth");
  o.precision = s.Number("precision");
  o.max_runs = static_cast<int>(s.Integer("max_runs"));
  o.parallel = static_cast<int>(s.Integer("parallel"));
  if (!s.status().ok()) return s.status();
  if (search->contains("extra_n")) {
    const nlohmann::json* extra = &search->at("extra_n");
    if (!extra->is_array()) return absl::InvalidArgumentError(absl::StrCat(where, ": search: field 'extra_n' must be an array"));
    for (const nlohmann::json& n : *extra) {
      if (!n.is_number_integer()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": search: field 'extra_n' must hold integers"));
      }
      o.extra_n.push_back(n.get<int64_t>());
    }
  }
  if (absl::Status v = ValidateEmmSearchOptions(o); !v.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", v.message()));
  }
  std::vector<EmmRunRecord> records;
  for (size_t i = 0; i < runs->size(); ++i) {
    absl::StatusOr<EmmRunRecord> rec = EmmRunRecordFromJson((*runs)[i], absl::StrCat(where, ": runs[", i, "]"));
    if (!rec.ok()) return rec.status();
    records.push_back(std::move(*rec));
  }
  EmmReport r = MakeEmmReport(*config, o, ratio_threshold, std::move(records));
  if (EmmEstimateToJson(r.estimate, o) != *estimate) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field 'estimate' disagrees with the runs (expected ",
                     EmmEstimateToJson(r.estimate, o).dump(), ")"));
  }
  return r;
}

inline absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& j) {
  return data::WriteFileAtomically(path, j.dump(2) + "\n");
}

inline absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  absl::StatusOr<std::string> text = data::ReadFileToString(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  return j;
}

inline absl::StatusOr<EmmReport> ReadEmmReport(const std::string& path) {
  absl::StatusOr<nlohmann::json> j = ReadJsonFile(path);
  if (!j.ok()) return j.status();
  return EmmReportFromJson(*j, path);
}

inline absl::StatusOr<EmmRunRecord> ReadEmmRunRecord(const std::string& path) {
  absl::StatusOr<nlohmann::json> j = ReadJsonFile(path);
  if (!j.ok()) return j.status();
  return EmmRunRecordFromJson(*j, path);
}

// --- Factor studies ---------------------------------------------------------

struct EmmFactorRow {
  std::string factor, value;  // e.g. "resolution", "8"
  std::string study_dir;      // the study of this value
  EmmEstimate estimate;
  int runs = 0;
  double wall_seconds = 0;
};

inline nlohmann::json EmmFactorTableToJson(const std::vector<EmmFactorRow>& rows, const EmmSearchOptions& o) {
  nlohmann::json a = nlohmann::json::array();
  for (const EmmFactorRow& r : rows) {
    nlohmann::json e = EmmEstimateToJson(r.estimate, o);
    e["factor"] = r.factor;
    e["value"] = r.value;
    e["study_dir"] = r.study_dir;
    e["runs"] = r.runs;
    e["wall_seconds"] = r.wall_seconds;
    a.push_back(e);
  }
  return {{"format", "diffmem.emm_factor_table.v1"}, {"rows", a}};
}

// factor,value,emm,n_lo,n_hi,interpolated,status,runs,wall_seconds (empty cells for "none").
inline std::string EmmFactorTableToCsv(const std::vector<EmmFactorRow>& rows) {
  auto opt = [](const auto& v) { return v ? absl::StrCat(*v) : std::string(); };
  std::string csv = "factor,value,emm,n_lo,n_hi,interpolated,status,runs,wall_seconds\n";
  for (const EmmFactorRow& r : rows) {
    const std::string interp = r.estimate.interpolated ? absl::StrFormat("%.1f", *r.estimate.interpolated) : "";
    absl::StrAppend(&csv, r.factor, ",", r.value, ",", opt(r.estimate.emm), ",", opt(r.estimate.n_lo), ",",
                    opt(r.estimate.n_hi), ",", interp, ",", EmmSearchStatusName(r.estimate.status), ",", r.runs,
                    ",", absl::StrFormat("%.1f", r.wall_seconds), "\n");
  }
  return csv;
}

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_EMM_REPORT_H_
