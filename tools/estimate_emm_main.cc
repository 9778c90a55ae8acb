// estimate_emm: the main job. Estimates EMM (effective model memorization),
// the largest training-set size N at which a trained diffusion model still
// memorizes (memorization ratio >= 1 - epsilon), by geometric bracketing of N
// and bisection in log N over real training runs, each stopped early once
// its memorization ratio has passed the threshold with confidence or
// plateaued. Resumable: rerun the same command after a kill.
//
//   bazel run //tools:estimate_emm -- --out=/tmp/emm_study          # preset fashion_cpu (~7 min, 2 cores)
//   bazel run //tools:estimate_emm -- --out=/tmp/s --vary=resolution=8,16
//   bazel run //tools:estimate_emm -- --out=/tmp/s --plan=/tmp/s/plan.txt   # cluster: next wave of runs
//   bazel run //tools:estimate_emm -- --out=/tmp/s --collect                # report from finished runs
//   bazel run //tools:estimate_emm -- --out=/tmp/s --preset=paper_cifar10 --dry_run   # resolved config, no training
//   bazel run //tools:estimate_emm -- --out=/tmp/s --nproc=8                # each run data-parallel on 8 local ranks
//   ... --plan=/tmp/s/plan.sbatch --plan_format=sbatch --nproc=8             # each array task: srun of 8 ranks
//
// The study itself is //study (study/study_runner.h); this file turns flags
// into a configuration (tools/study_flags.h) and picks the mode. It is the
// body of //tools:estimate_emm (tools/estimate_emm.cc), offering the metrics
// of the registry it is given (tools/estimate_emm_main.h).

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "parallel/launch_env.h"
#include "parallel/replicas.h"
#include "study/emm_report.h"
#include "study/emm_search.h"
#include "study/factor_table.h"
#include "study/factors.h"
#include "study/run_layout.h"
#include "study/sbatch_array.h"
#include "study/study_config.h"
#include "study/study_runner.h"
#include "study/training_run.h"
#include "tools/data_flags.h"
#include "tools/data_parallel.h"
#include "tools/estimate_emm_main.h"
#include "tools/network_flags.h"
#include "tools/study_flags.h"
#include "tools/tool_main.h"
#include "tools/train_flags.h"
#include "util/atomic_file.h"
#include "util/interrupt.h"

ABSL_FLAG(std::string, out, "", "study directory (required; created; rerun the same command to continue)");
ABSL_FLAG(std::string, vary, "",
          absl::StrCat("FACTOR=v1,v2,...: one study per value, then an EMM-vs-factor table and plot. Factors: ",
                       diffmem::study::FactorHelp()));
ABSL_FLAG(std::string, plan, "",
          "write the next wave of training runs to this file, one shell command per line (for a job array), "
          "and exit; run them, then --plan again until it writes nothing, then --collect");
ABSL_FLAG(std::string, plan_format, "lines",
          "--plan's file: 'lines' (one shell command per run) or 'sbatch' (a Slurm job-array script, one array "
          "task per run: sbatch --wait FILE)");
ABSL_FLAG(bool, collect, false, "build the report from the finished run directories and exit");
ABSL_FLAG(int64_t, run_n, 0, "(used by --plan's commands) train and measure the run at this N of the study in --out");
ABSL_FLAG(std::string, run_context, "",
          "(set by --nproc for the runs it starts, with --run_n) INDEX/MAX_RUNS/ELAPSED_S: the run's place in its "
          "study, for progress lines");
ABSL_FLAG(bool, dry_run, false,
          "print the resolved configuration (preset + flags) of each study and the runs it would do next as "
          "JSON, and exit without training");

namespace {

namespace study = diffmem::study;
using diffmem::tools::CheckFlag;

void Log(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

std::string SelfPath() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("estimate_emm") : p.string();
}

// The studies on disk for --collect: OUT itself, or OUT/FACTOR=VALUE of a factor study.
absl::StatusOr<std::vector<study::FactorStudy>> StudiesOnDisk(const std::string& out, std::string* factor,
                                                              const diffmem::memorization::MetricRegistry& metrics) {
  if (absl::GetFlag(FLAGS_vary).empty()) {
    absl::StatusOr<study::EmmStudyConfig> c = study::ReadEmmStudyConfig(out, metrics);
    if (!c.ok()) return c.status();
    return std::vector<study::FactorStudy>{{"", out, *c}};
  }
  absl::StatusOr<study::EmmStudyConfig> base = diffmem::tools::StudyConfigFromFlags(metrics);
  if (!base.ok()) return base.status();
  absl::StatusOr<std::vector<study::FactorStudy>> planned =
      study::PlanFactorStudies(out, *base, absl::GetFlag(FLAGS_vary), factor);
  if (!planned.ok()) return planned.status();
  for (study::FactorStudy& s : *planned) {
    absl::StatusOr<study::EmmStudyConfig> c = study::ReadEmmStudyConfig(s.dir, metrics);
    if (!c.ok()) return c.status();
    s.config = *c;
  }
  return planned;
}

// The flags of a run's own command (--run_n), from this command's: --threads
// only when given (each run's default shares its node's cores among its
// ranks); with --nproc=K, --dist_timeout, and --nproc=K when the command is
// to start its K ranks itself.
std::vector<std::string> RunCommandFlags(bool starts_its_ranks) {
  const int nproc = absl::GetFlag(FLAGS_nproc);
  std::vector<std::string> flags;
  if (absl::GetFlag(FLAGS_threads) > 0) flags.push_back(absl::StrCat("--threads=", absl::GetFlag(FLAGS_threads)));
  if (nproc > 1 && starts_its_ranks) flags.push_back(absl::StrCat("--nproc=", nproc));
  if (nproc > 1) flags.push_back(absl::StrCat("--dist_timeout=", absl::GetFlag(FLAGS_dist_timeout)));
  return flags;
}

absl::Status WritePlan(const std::string& plan, const std::vector<study::FactorStudy>& studies) {
  const std::string format = absl::GetFlag(FLAGS_plan_format);
  if (absl::Status s = CheckFlag(format == "lines" || format == "sbatch", "plan_format",
                                 absl::StrCat("'", format, "': expected lines or sbatch"));
      !s.ok()) {
    return s;
  }
  // Each run's ranks are started by the command itself (lines) or by srun in
  // the array task (sbatch).
  const int nproc = absl::GetFlag(FLAGS_nproc);
  const std::vector<std::string> flags = RunCommandFlags(/*starts_its_ranks=*/format == "lines");
  std::string text;
  std::vector<std::string> all;
  for (const study::FactorStudy& s : studies) {
    absl::StatusOr<std::vector<std::string>> cmds =
        study::PlanEmmStudy(s.dir, s.config, SelfPath(), absl::StrJoin(flags, " "));
    if (!cmds.ok()) return cmds.status();
    for (const std::string& c : *cmds) absl::StrAppend(&text, c, "\n"), all.push_back(c);
  }
  const int lines = static_cast<int>(all.size());
  if (format == "sbatch") text = study::SbatchArrayScript(all, "emm", nproc);
  if (absl::Status s = diffmem::util::WriteFileAtomically(plan, text); !s.ok()) return s;
  if (lines > 0 && format == "sbatch") {
    std::printf("%s: a job array of %d run(s)%s; submit it with `sbatch --wait %s`, then run this command\n"
                "again for the next wave; when it plans no runs, use --collect.\n",
                plan.c_str(), lines, nproc > 1 ? absl::StrCat(", ", nproc, " ranks each").c_str() : "", plan.c_str());
  } else if (lines > 0) {
    std::printf("%s: %d run(s). Run each line (e.g. sbatch --array=1-%d with `sed -n \"${SLURM_ARRAY_TASK_ID}p\" %s | bash`),\n"
                "then run this command again for the next wave; when it lists no runs, use --collect.\n",
                plan.c_str(), lines, lines, plan.c_str());
  } else {
    std::printf("%s: no runs left; the search has finished. Build the report with --collect.\n", plan.c_str());
  }
  return absl::OkStatus();
}

// The resolved configuration of each study and its next runs, as one JSON document.
absl::Status PrintDryRun(const std::vector<study::FactorStudy>& studies, const std::string& factor) {
  nlohmann::json out = nlohmann::json::array();
  for (const study::FactorStudy& s : studies) {
    absl::StatusOr<std::vector<study::EmmRunRecord>> done = study::ReadFinishedEmmRuns(s.dir);
    if (!done.ok()) return done.status();
    std::vector<study::EmmMeasurement> ms;
    std::vector<int64_t> finished;
    for (const study::EmmRunRecord& r : *done) ms.push_back(r.measurement()), finished.push_back(r.n);
    nlohmann::json j = {{"dir", s.dir},
                        {"config", study::EmmStudyConfigToJson(s.config)},
                        {"finished_runs", finished},
                        {"next_runs", study::NextEmmRuns(s.config.search, ms)}};
    if (!factor.empty()) j["factor"] = {{"name", factor}, {"value", s.value}};
    out.push_back(j);
  }
  std::printf("%s\n", nlohmann::json({{"studies", out}}).dump(2).c_str());
  return absl::OkStatus();
}

// --run_context: the run's place in its study ({1, 1, 0}: a run on its own).
absl::StatusOr<study::EmmRunContext> RunContextFlag() {
  const std::string flag = absl::GetFlag(FLAGS_run_context);
  study::EmmRunContext ctx;
  if (flag.empty()) return ctx;
  const std::vector<std::string> parts = absl::StrSplit(flag, '/');
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &ctx.index) || !absl::SimpleAtoi(parts[1], &ctx.max_runs) ||
      !absl::SimpleAtod(parts[2], &ctx.study_elapsed_s) || ctx.index < 1 || ctx.max_runs < ctx.index ||
      ctx.study_elapsed_s < 0) {
    return CheckFlag(false, "run_context", absl::StrCat("'", flag, "': expected INDEX/MAX_RUNS/ELAPSED_S"));
  }
  return ctx;
}

// How the local study trains a run: here, or with --nproc=K as a child job
// of K local ranks (this binary with --run_n), whose rank 0 writes the record.
study::EmmRunFn RunFunction() {
  const int nproc = absl::GetFlag(FLAGS_nproc);
  if (nproc <= 1) return study::RunEmmTrainingRun;
  return [nproc](const std::string& dir, const study::EmmStudyConfig& c, int64_t n, const study::EmmRunContext& ctx,
                 const study::EmmLog& log) -> absl::StatusOr<study::EmmRunRecord> {
    const std::string result = study::EmmRunResultPath(absl::StrCat(dir, "/", study::EmmRunDirName(n)));
    if (!diffmem::util::FileExists(result)) {
      if (absl::Status s = diffmem::parallel::CheckBatchSplits(nproc, c.train.batch_size); !s.ok()) return s;
      if (log) log(absl::StrFormat("[run %d/%d] N=%d: training on %d local ranks", ctx.index, ctx.max_runs, n, nproc));
      std::vector<std::string> argv = {
          SelfPath(), absl::StrCat("--out=", dir), absl::StrCat("--run_n=", n),
          absl::StrFormat("--run_context=%d/%d/%.3f", ctx.index, ctx.max_runs, ctx.study_elapsed_s)};
      for (std::string& f : RunCommandFlags(/*starts_its_ranks=*/true)) argv.push_back(std::move(f));
      if (absl::Status s = diffmem::tools::RunLocalRanks(argv, nproc); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("the run at N=", n, ": ", s.message()));
      }
    }
    return study::ReadEmmRunRecord(result);
  };
}

// A failure after this process caught SIGINT/SIGTERM (util/interrupt.h) is
// the interruption, with `how_to_continue` after its message; others as they are.
absl::Status Interrupted(const absl::Status& s, absl::string_view how_to_continue) {
  const int sig = diffmem::util::InterruptedBy(s) != 0 ? diffmem::util::InterruptedBy(s) : diffmem::util::InterruptSignal();
  if (s.ok() || sig == 0) return s;
  return diffmem::util::InterruptedError(sig, absl::StrCat(s.message(), how_to_continue));
}

// --run_n=N: one run of a planned study; everything comes from OUT/study.json.
// Under a launcher (torchrun, srun) or with --nproc, data parallel.
absl::Status RunPlannedRun(const std::string& out, int64_t n, const diffmem::memorization::MetricRegistry& metrics) {
  absl::StatusOr<study::EmmStudyConfig> c = study::ReadEmmStudyConfig(out, metrics);
  if (!c.ok()) return c.status();
  absl::StatusOr<diffmem::tools::DataParallelJob> job =
      diffmem::tools::JoinDataParallelJob("estimate_emm", c->train.device, c->train.batch_size);
  if (!job.ok()) return job.status();
  if (job->launched) return absl::OkStatus();
  absl::StatusOr<study::EmmRunContext> ctx = RunContextFlag();
  if (!ctx.ok()) return ctx.status();
  diffmem::util::InstallInterruptHandlers("estimate_emm");
  absl::StatusOr<std::optional<study::EmmRunRecord>> r =
      study::RunEmmTrainingRunOnRanks(out, *c, n, job->replicas, *ctx, Log);
  if (!r.ok()) {
    return Interrupted(diffmem::tools::WithRank(job->replicas, r.status()),
                       "; the same command continues the run from its checkpoint");
  }
  if (!r->has_value()) return absl::OkStatus();  // rank 0 measures and reports
  const study::EmmRunRecord& rec = **r;
  std::printf("N=%lld ratio %.3f [%.3f, %.3f] -> %s/%s\n", static_cast<long long>(n), rec.ratio, rec.ci_low,
              rec.ci_high, out.c_str(), study::EmmRunDirName(n).c_str());
  return absl::OkStatus();
}

// A whole study is one process; only its runs are data parallel.
absl::Status RefuseLauncherJob() {
  absl::StatusOr<std::optional<diffmem::parallel::LaunchEnv>> env =
      diffmem::parallel::ReadLaunchEnv(diffmem::parallel::ProcessEnviron);
  if (!env.ok()) return env.status();
  if (env->has_value() && (*env)->world_size > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a study does not run as the ", (*env)->world_size, " ranks of a ", (*env)->source,
        " job; its runs do: --nproc=K trains each run on K local ranks, --plan --plan_format=sbatch --nproc=K "
        "makes each array task an srun of K ranks, and each line of --plan runs under torchrun/srun as it is"));
  }
  return absl::OkStatus();
}

using StudyFn = std::function<absl::StatusOr<study::EmmReport>(const study::FactorStudy&)>;

// Runs (or collects) each study with `report_of`, prints its report, and
// writes the factor table of a --vary study.
absl::Status ReportStudies(const std::string& out, const std::vector<study::FactorStudy>& studies,
                           const std::string& factor, const StudyFn& report_of) {
  std::vector<study::EmmFactorRow> rows;
  for (const study::FactorStudy& s : studies) {
    if (!s.value.empty()) Log(absl::StrCat("estimate_emm: study ", factor, "=", s.value, " in ", s.dir));
    absl::StatusOr<study::EmmReport> r = report_of(s);
    if (!r.ok()) return r.status();
    std::printf("%s%s", s.value.empty() ? "" : absl::StrCat(s.value, ": ").c_str(), study::EmmReportText(*r).c_str());
    std::printf("  wall time of the runs: %.1f min; report: %s/report.json, plot: %s/ratio_vs_n.png\n",
                r->wall_seconds() / 60, s.dir.c_str(), s.dir.c_str());
    if (!r->next_runs.empty()) {
      std::printf("  (the search is not finished: next N = %s; run --plan again)\n",
                  absl::StrJoin(r->next_runs, ", ").c_str());
    }
    std::fflush(stdout);
    rows.push_back({factor, s.value, s.dir, r->estimate, static_cast<int>(r->runs.size()), r->wall_seconds()});
  }
  if (factor.empty()) return absl::OkStatus();
  if (absl::Status s = study::WriteEmmFactorTable(out, factor, rows, studies.front().config.search); !s.ok()) return s;
  std::printf("EMM vs %s: %s/emm_vs_%s.{csv,json,png,svg,pdf}\n", factor.c_str(), out.c_str(), factor.c_str());
  return absl::OkStatus();
}

// The default mode: every run of every study here, one after another.
// Ctrl-C or SIGTERM stops the run in progress after its current step (in
// this process, or in its --nproc ranks, which the signal reaches too).
absl::Status RunLocalStudies(const std::string& out, const std::vector<study::FactorStudy>& studies,
                             const std::string& factor) {
  const study::EmmRunFn run = RunFunction();
  diffmem::util::InstallInterruptHandlers("estimate_emm");
  return Interrupted(
      ReportStudies(out, studies, factor,
                    [&](const study::FactorStudy& s) { return study::RunEmmStudy(s.dir, s.config, Log, run); }),
      "; the same command continues the study (finished runs are kept, the interrupted one resumes from its "
      "checkpoint)");
}

// --collect: the reports of runs made elsewhere (--plan).
absl::Status CollectStudies(const std::string& out, const diffmem::memorization::MetricRegistry& metrics) {
  std::string factor;
  absl::StatusOr<std::vector<study::FactorStudy>> studies = StudiesOnDisk(out, &factor, metrics);
  if (!studies.ok()) return studies.status();
  return ReportStudies(out, *studies, factor,
                       [](const study::FactorStudy& s) { return study::CollectEmmStudy(s.dir, s.config); });
}

// --out as an absolute, normal path without a trailing slash (plans and
// child runs name it from elsewhere).
absl::StatusOr<std::string> StudyDirFlag() {
  std::string out = absl::GetFlag(FLAGS_out);
  if (absl::Status s = CheckFlag(!out.empty(), "out", "a study directory is required"); !s.ok()) return s;
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(out, ec);
  if (!ec) out = abs.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

absl::Status Run(const diffmem::memorization::MetricRegistry& metrics) {
  absl::StatusOr<std::string> out = StudyDirFlag();
  if (!out.ok()) return out.status();
  if (absl::Status s = CheckFlag(!absl::GetFlag(FLAGS_n).given(), "n",
                                 "is chosen by the search (see --n_min, --n_max, --n_start)");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckFlag(!absl::GetFlag(FLAGS_label_dim).given(), "label_dim",
                                 "follows each run's data set (its class count with --labels), not a flag here");
      !s.ok()) {
    return s;
  }
  const std::string plan = absl::GetFlag(FLAGS_plan);
  const int modes = !plan.empty() + absl::GetFlag(FLAGS_collect) + (absl::GetFlag(FLAGS_run_n) != 0) +
                    absl::GetFlag(FLAGS_dry_run);
  if (absl::Status s = CheckFlag(modes <= 1, "plan", "--plan, --collect, --run_n and --dry_run exclude each other");
      !s.ok()) {
    return s;
  }
  if (const int64_t n = absl::GetFlag(FLAGS_run_n); n != 0) return RunPlannedRun(*out, n, metrics);
  if (absl::Status s = RefuseLauncherJob(); !s.ok()) return s;
  if (absl::GetFlag(FLAGS_collect)) return CollectStudies(*out, metrics);

  absl::StatusOr<study::EmmStudyConfig> base = diffmem::tools::StudyConfigFromFlags(metrics);
  if (!base.ok()) return base.status();
  std::string factor;
  absl::StatusOr<std::vector<study::FactorStudy>> studies =
      study::PlanFactorStudies(*out, *base, absl::GetFlag(FLAGS_vary), &factor);
  if (!studies.ok()) return studies.status();
  // Everything a start can refuse is refused here, before a study directory
  // exists; a dry run checks exactly this.
  if (absl::Status s = diffmem::tools::CheckDataParallelFlags(base->train.batch_size); !s.ok()) return s;
  for (const study::FactorStudy& s : *studies) {
    absl::Status st = study::CheckEmmStudyDir(s.dir, s.config);
    if (st.ok()) st = study::CheckEmmStudyCanStart(s.config);
    if (!st.ok()) {
      return s.value.empty() ? st : absl::Status(st.code(), absl::StrCat("--vary ", factor, "=", s.value, ": ", st.message()));
    }
  }
  if (absl::GetFlag(FLAGS_dry_run)) return PrintDryRun(*studies, factor);
  if (!plan.empty()) return WritePlan(plan, *studies);
  return RunLocalStudies(*out, *studies, factor);
}

}  // namespace

namespace diffmem {
namespace tools {

int RunEstimateEmmTool(int argc, char** argv, const memorization::MetricRegistry& metrics) {
  return ToolMain(
      argc, argv,
      "Estimates EMM (effective model memorization): the largest training-set size N at which a trained\n"
      "diffusion model still memorizes (ratio >= 1 - epsilon). Resumable; rerun the same command to continue.\n"
      "  estimate_emm --out=DIR [--preset=fashion_cpu|paper_cifar10|none] [--vary=FACTOR=v1,v2]\n"
      "  estimate_emm --out=DIR --plan=plan.txt   (cluster: next wave of runs)   estimate_emm --out=DIR --collect\n"
      "  estimate_emm --out=DIR --nproc=K         (each run data-parallel on K local ranks; with --plan: K per run)\n"
      "Settings start from --preset (README: Estimating EMM); each flag given on the command line (or in a\n"
      "--flagfile) overrides one setting. Metrics (--metric): " +
          absl::StrJoin(metrics.names, ", ") + ".",
      [&] { return Run(metrics); });
}

}  // namespace tools
}  // namespace diffmem
