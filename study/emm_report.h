// An EMM study's report (report.json): the study's configuration as given,
// the search options, every finished run (ascending N), the estimate (EMM,
// bracket, interpolated crossing, search status) and the N values the search
// would measure next. Built from run records; read back with the estimate
// recomputed and checked, so a hand-edited or truncated report fails.
//
//   MakeEmmReport(config, search, ratio_threshold, runs)
//   EmmReportToJson / EmmReportFromJson(j, where), ReadEmmReport(path)
//   EmmSummaryLine(r)   — "EMM = 40 (bracket [40, 60], interpolated 47.3; converged)", and
//                         "; lower bound: runs at N=60 were still rising" when so
//   EmmReportText(r)    — the summary line and one line per run, as the tools print it
//
// Example:
//   EmmReport r = MakeEmmReport(config_json, options, 1.0 / 3, runs);
//   absl::Status s = util::WriteJsonFile(study_dir + "/report.json", EmmReportToJson(r));
//   absl::StatusOr<EmmReport> back = ReadEmmReport(study_dir + "/report.json");

#ifndef DIFFMEM_STUDY_EMM_REPORT_H_
#define DIFFMEM_STUDY_EMM_REPORT_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "study/emm_search.h"
#include "study/emm_search_json.h"
#include "study/run_record.h"
#include "util/enum_names.h"
#include "util/json_fields.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {

inline constexpr char kEmmReportFormat[] = "diffmem.emm_report.v1";

struct EmmReport {
  nlohmann::json config = nlohmann::json::object();  // the study's settings, as given
  EmmSearchOptions search;
  double ratio_threshold = 1.0 / 3.0;  // d1/d2 below this counts as memorized
  std::vector<EmmRunRecord> runs;      // ascending N
  EmmEstimate estimate;
  std::vector<int64_t> next_runs;      // what the search would measure next (empty: finished)
  // Runs that do not memorize, sit in the EMM's bracket (EMM < N <= N_hi) and
  // were still rising when training ended: more training could move the
  // crossing up, so the EMM is then a lower bound.
  std::vector<int64_t> still_rising_in_bracket;

  bool emm_is_lower_bound() const { return !still_rising_in_bracket.empty(); }

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
  for (const EmmRunRecord& run : r.runs) {
    const bool above = !r.estimate.emm || run.n > *r.estimate.emm;
    const bool within = !r.estimate.n_hi || run.n <= *r.estimate.n_hi;
    if (run.still_rising && run.ratio < search.memorization_threshold() && above && within) {
      r.still_rising_in_bracket.push_back(run.n);
    }
  }
  return r;
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
          {"emm_is_lower_bound", r.emm_is_lower_bound()},
          {"still_rising_in_bracket", r.still_rising_in_bracket},
          {"wall_seconds", r.wall_seconds()},
          {"runs", runs}};
}

// Reads a report back; the estimate is recomputed from the runs and must
// agree with the one recorded.
inline absl::StatusOr<EmmReport> EmmReportFromJson(const nlohmann::json& j, const std::string& where) {
  util::JsonFields f(j, where);
  f.Check(f.String("format") == kEmmReportFormat, "format", absl::StrCat("must be \"", kEmmReportFormat, "\""));
  const nlohmann::json* config = f.Get("config");
  const nlohmann::json* search = f.Get("search");
  const nlohmann::json* estimate = f.Get("estimate");
  const nlohmann::json* runs = f.Array("runs");
  const double ratio_threshold = f.Number("ratio_threshold");
  f.Check(ratio_threshold > 0 && ratio_threshold <= 1, "ratio_threshold", "must be in (0, 1]");
  if (!f.status().ok()) return f.status();
  absl::StatusOr<EmmSearchOptions> o = EmmSearchOptionsFromJson(*search, absl::StrCat(where, ": search"));
  if (!o.ok()) return o.status();
  std::vector<EmmRunRecord> records;
  for (size_t i = 0; i < runs->size(); ++i) {
    absl::StatusOr<EmmRunRecord> rec = EmmRunRecordFromJson((*runs)[i], absl::StrCat(where, ": runs[", i, "]"));
    if (!rec.ok()) return rec.status();
    records.push_back(std::move(*rec));
  }
  EmmReport r = MakeEmmReport(*config, *o, ratio_threshold, std::move(records));
  if (const nlohmann::json* rising = f.Get("still_rising_in_bracket", /*required=*/false);
      rising != nullptr && *rising != nlohmann::json(r.still_rising_in_bracket)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'still_rising_in_bracket' disagrees with the runs"));
  }
  if (EmmEstimateToJson(r.estimate, *o) != *estimate) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field 'estimate' disagrees with the runs (expected ",
                     EmmEstimateToJson(r.estimate, *o).dump(), ")"));
  }
  return r;
}

inline absl::StatusOr<EmmReport> ReadEmmReport(const std::string& path) {
  absl::StatusOr<nlohmann::json> j = util::ReadJsonFile(path);
  if (!j.ok()) return j.status();
  return EmmReportFromJson(*j, path);
}

// "EMM = 40 (bracket [40, 60], interpolated 47.3; converged)", with "; lower
// bound: runs at N=60 were still rising" when a still-rising run sits in the bracket.
inline std::string EmmSummaryLine(const EmmReport& r) {
  const EmmEstimate& e = r.estimate;
  auto opt = [](const std::optional<int64_t>& v) { return v ? absl::StrCat(*v) : std::string("none"); };
  std::string s = absl::StrCat("EMM = ", opt(e.emm), " (bracket [", opt(e.n_lo), ", ", opt(e.n_hi), "]");
  if (e.interpolated) absl::StrAppend(&s, absl::StrFormat(", interpolated %.1f", *e.interpolated));
  absl::StrAppend(&s, "; ", EnumName(e.status));
  if (r.emm_is_lower_bound()) {
    absl::StrAppend(&s, "; lower bound: runs at N=", absl::StrJoin(r.still_rising_in_bracket, ", "),
                    " were still rising");
  }
  return s + ")";
}

// The summary line, then one line per run:
//   "  N=40     ratio 0.930 [0.872, 0.963]  optimum 1.000  1200 steps (duration)  61 s",
// and, for a run scored by its snapshots, which one gave the ratio:
//   "  N=40     ratio 0.930 ... 61 s  best of 3 snapshots: 005000 kimg".
inline std::string EmmReportText(const EmmReport& r) {
  std::string text = EmmSummaryLine(r) + "\n";
  for (const EmmRunRecord& run : r.runs) {
    absl::StrAppend(&text, absl::StrFormat("  N=%-6d ratio %.3f [%.3f, %.3f]%s  %d steps (%s%s)  %.0f s", run.n,
                                           run.ratio, run.ci_low, run.ci_high,
                                           run.optimum_ratio ? absl::StrFormat("  optimum %.3f", *run.optimum_ratio)
                                                             : "",
                                           run.train_steps, EnumName(run.stop), run.still_rising ? ", still rising" : "",
                                           run.wall_seconds()));
    if (run.scored_by == Scoring::kMaxOverSnapshots && run.best_snapshot_kimg) {
      absl::StrAppend(&text, absl::StrFormat("  best of %d snapshots: %06d kimg", run.snapshots.size(),
                                             *run.best_snapshot_kimg));
    }
    absl::StrAppend(&text, "\n");
  }
  return text;
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_EMM_REPORT_H_
