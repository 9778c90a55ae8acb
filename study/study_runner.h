// Running an EMM study: the search of emm_search.h driving real training runs
// (training_run.h), locally or as waves of independent commands for a
// cluster, and the study's outputs built from its finished runs.
//
//   RunEmmStudy(dir, c, log[, run])   — every run the search asks for, in order; then Collect
//   PlanEmmStudy(dir, c, binary, flags) — the next wave of runs as shell commands
//   CollectEmmStudy(dir, c)           — report.json, ratio_vs_n.{png,svg,pdf},
//                                       curves.{png,svg,pdf}, top_memorized.png
//   WriteEmmFactorTable(out, factor, rows) — emm_vs_FACTOR.{csv,json,png,svg,pdf}
//
// Example:
//   absl::StatusOr<EmmReport> r = RunEmmStudy("/tmp/study", FashionCpuPreset(), [](const std::string& line) {
//     std::fprintf(stderr, "%s\n", line.c_str());
//   });

#ifndef DIFFMEM_STUDY_STUDY_RUNNER_H_
#define DIFFMEM_STUDY_STUDY_RUNNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "memorization/memorization_ratio.h"
#include "plot/render.h"
#include "study/emm_plot.h"
#include "study/emm_report.h"
#include "study/emm_search.h"
#include "study/factor_table.h"
#include "study/run_layout.h"
#include "study/run_record.h"
#include "study/study_config.h"
#include "study/training_run.h"
#include "util/atomic_file.h"
#include "util/json_file.h"
#include "util/shell_quote.h"

namespace diffmem {
namespace study {

// report.json and the figures from the finished runs.
inline absl::StatusOr<EmmReport> CollectEmmStudy(const std::string& study_dir, const EmmStudyConfig& c) {
  absl::StatusOr<std::vector<EmmRunRecord>> runs = ReadFinishedEmmRuns(study_dir);
  if (!runs.ok()) return runs.status();
  EmmReport r = MakeEmmReport(EmmStudyConfigToJson(c), c.search, c.ratio_threshold, *std::move(runs));
  if (absl::Status s = util::WriteJsonFile(study_dir + "/report.json", EmmReportToJson(r)); !s.ok()) return s;
  if (!r.runs.empty()) {
    if (absl::Status s = plot::WriteLinePlotFigures(study_dir + "/ratio_vs_n", RatioVsNPlot(r)); !s.ok()) return s;
    if (absl::Status s = plot::WriteLinePlotFigures(study_dir + "/curves", RatioCurvesPlot(r)); !s.ok()) return s;
  }
  // The most memorized samples beside their nearest training images, at the
  // largest N that still memorizes (runs from before this picture existed lack it).
  if (r.estimate.emm) {
    absl::StatusOr<std::string> top =
        util::ReadFileToString(absl::StrCat(study_dir, "/", EmmRunDirName(*r.estimate.emm), "/top_memorized.png"));
    if (top.ok()) {
      if (absl::Status s = util::WriteFileAtomically(study_dir + "/top_memorized.png", *top); !s.ok()) return s;
    }
  }
  return r;
}

// How a local study trains and measures the run at N: in this process
// (RunEmmTrainingRun), or as a job of several ranks that leaves the run's
// record on disk (//tools:estimate_emm --nproc).
using EmmRunFn = std::function<absl::StatusOr<EmmRunRecord>(const std::string& study_dir, const EmmStudyConfig& c,
                                                            int64_t n, const EmmRunContext& ctx, const EmmLog& log)>;

// The search, run locally: every run the search asks for, in order, each
// through `run`; finished runs are reused. Ends with CollectEmmStudy.
inline absl::StatusOr<EmmReport> RunEmmStudy(const std::string& study_dir, const EmmStudyConfig& c,
                                             const EmmLog& log = nullptr, const EmmRunFn& run = RunEmmTrainingRun) {
  if (absl::Status s = PrepareEmmStudy(study_dir, c); !s.ok()) return s;
  absl::StatusOr<std::vector<EmmRunRecord>> done = ReadFinishedEmmRuns(study_dir);
  if (!done.ok()) return done.status();
  std::vector<EmmMeasurement> ms;
  double elapsed = 0;
  for (const EmmRunRecord& r : *done) ms.push_back(r.measurement()), elapsed += r.wall_seconds();
  if (log && !ms.empty()) log(absl::StrCat("estimate_emm: ", ms.size(), " finished run(s) found in ", study_dir));
  if (log && c.early_stop && c.probe_every > 0 &&
      memorization::WilsonInterval(c.probe_samples, c.probe_samples).low < c.search.memorization_threshold()) {
    log(absl::StrFormat("estimate_emm: note: with %d probe samples even a fully memorized probe has a 95%% interval "
                        "below %.2f, so runs stop only on a plateau or at the end (raise --probe_samples)",
                        c.probe_samples, c.search.memorization_threshold()));
  }
  for (std::vector<int64_t> wave = NextEmmRuns(c.search, ms); !wave.empty(); wave = NextEmmRuns(c.search, ms)) {
    for (int64_t n : wave) {
      EmmRunContext ctx{static_cast<int>(ms.size()) + 1, c.search.max_runs, elapsed};
      absl::StatusOr<EmmRunRecord> r = run(study_dir, c, n, ctx, log);
      if (!r.ok()) return r.status();
      ms.push_back(r->measurement());
      elapsed += r->wall_seconds();
    }
  }
  return CollectEmmStudy(study_dir, c);
}

// The commands of the next wave: one shell line per run,
//   BINARY --out=STUDY --run_n=N FLAGS  # run dir STUDY/runs/n000040
// (BINARY and --out=STUDY shell-quoted when they need it; FLAGS as given)
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
    lines.push_back(absl::StrCat(util::ShellQuote(binary), " ", util::ShellQuote(absl::StrCat("--out=", study_dir)),
                                 " --run_n=", n, extra_flags.empty() ? "" : " ", extra_flags, "  # run dir ",
                                 study_dir, "/", EmmRunDirName(n)));
  }
  return lines;
}

// emm_vs_FACTOR.csv, .json and the figure (.png, .svg, .pdf) in `out`.
inline absl::Status WriteEmmFactorTable(const std::string& out, const std::string& factor,
                                        const std::vector<EmmFactorRow>& rows, const EmmSearchOptions& search) {
  const std::string base = absl::StrCat(out, "/emm_vs_", factor);
  if (absl::Status s = util::WriteFileAtomically(base + ".csv", EmmFactorTableToCsv(rows)); !s.ok()) return s;
  if (absl::Status s = util::WriteJsonFile(base + ".json", EmmFactorTableToJson(rows, search)); !s.ok()) return s;
  return plot::WriteLinePlotFigures(base, EmmVsFactorPlot(rows));
}

}  // namespace study
}  // namespace diffmem

#endif  // DIFFMEM_STUDY_STUDY_RUNNER_H_
