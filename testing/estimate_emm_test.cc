// End-to-end tests of //tools:estimate_emm at tiny sizes (4×4 Fashion-MNIST,
// an 8-channel UNet, tens of steps): the report's schema and files, reuse of
// finished runs, a study killed mid-run that resumes to the same report as an
// uninterrupted one, plan + collect giving the same report as a local run, a
// factor study's table, and clean failures. The binary's path is argv[1].

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "study/emm_report.h"
#include "testing/loss_columns.h"

namespace {

using diffmem::testing_runs::LossMismatch;

std::string g_tool;  // set by main

// Small enough to run in seconds; early stopping off so every run trains its
// full (fixed) length and reports are comparable bit for bit.
const char kTiny[] =
    "--threads=2 --data=fashion-mnist:t10k --pad=2 --resolution=4 --channels=8 --channel_mult=1,1 --blocks=1 "
    "--steps=40 --probe_every=10 --probe_samples=8 --samples=16 --sampler_steps=3 --n_min=10 --n_start=20 "
    "--n_max=40 --extra_n= --max_runs=2 --log_every=10 --early_stop=false";

struct Result {
  int code = -1;
  std::string output;  // stdout + stderr
};

// `env`: "NAME=VALUE ..." set for the tool (through env(1)), or "".
Result RunTool(const std::string& flags, const std::string& env = "") {
  const std::string log = ::testing::TempDir() + "/tool_output.txt";
  const std::string cmd = absl::StrCat(env.empty() ? "" : "env " + env + " ", g_tool, " ", flags, " > ", log, " 2>&1");
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The report without wall-clock times (the only fields that may differ
// between two executions of the same study).
nlohmann::json WithoutTimes(nlohmann::json j) {
  if (j.is_object()) {
    for (const char* k : {"train_seconds", "evaluate_seconds", "wall_seconds"}) j.erase(k);
    for (auto& [k, v] : j.items()) v = WithoutTimes(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = WithoutTimes(v);
  }
  return j;
}

std::string Dir(const std::string& name) {
  const std::string d = absl::StrCat(::testing::TempDir(), "/", name);
  EXPECT_EQ(std::system(absl::StrCat("rm -rf ", d).c_str()), 0);
  return d;
}

// One local study, shared by the tests that compare against it.
const std::string& LocalStudy() {
  static const std::string dir = [] {
    const std::string d = Dir("local");
    const Result r = RunTool(absl::StrCat(kTiny, " --out=", d));
    EXPECT_EQ(r.code, 0) << r.output;
    return d;
  }();
  return dir;
}

TEST(EstimateEmm, WritesAReportWithTheDocumentedSchemaAndFiles) {
  const std::string& d = LocalStudy();
  absl::StatusOr<diffmem::study::EmmReport> report =
      diffmem::study::ReadEmmReport(d + "/report.json");  // checks the schema and the estimate
  ASSERT_TRUE(report.ok()) << report.status();
  // N0 = 20, then 40 if it memorizes, else 10: two runs either way.
  ASSERT_EQ(report->runs.size(), 2u);
  const int at20 = report->runs[0].n == 20 ? 0 : 1;
  ASSERT_EQ(report->runs[at20].n, 20);
  EXPECT_EQ(report->runs[1 - at20].n, report->runs[at20].ratio >= 0.9 ? 40 : 10);
  for (const auto& run : report->runs) {
    EXPECT_EQ(run.train_steps, 40);
    EXPECT_EQ(run.train_images, 40 * 64);
    EXPECT_EQ(run.samples, 16);
    EXPECT_EQ(run.weights, diffmem::training::Weights::kRaw);
    EXPECT_EQ(run.stop, diffmem::study::RunStop::kDuration);
    ASSERT_EQ(run.curve.size(), 4u);  // probes at steps 10, 20, 30, 40
    EXPECT_EQ(run.curve[0].images, 10 * 64);
    EXPECT_EQ(run.curve[0].samples, 8);
    ASSERT_TRUE(run.optimum_ratio.has_value());
    EXPECT_GT(run.wall_seconds(), 0);
    const std::string run_dir = absl::StrCat(d, "/", run.run_dir);
    for (const char* f : {"config.json", "checkpoint.pt", "loss.csv", "emm_result.json", "emm_probe.json", "samples.png",
                          "top_memorized.png"}) {
      EXPECT_TRUE(Exists(absl::StrCat(run_dir, "/", f))) << run_dir << "/" << f;
    }
    // The run directory is a training run directory: its config says what trained it.
    const nlohmann::json cfg = ReadJson(run_dir + "/config.json");
    EXPECT_EQ(cfg["dataset"]["size"], run.n);
    EXPECT_EQ(cfg["network"]["unet"]["img_resolution"], 4);
  }
  // The report's config is study.json.
  EXPECT_EQ(report->config, ReadJson(d + "/study.json"));
  EXPECT_EQ(report->config["search"]["max_runs"], 2);
  EXPECT_DOUBLE_EQ(report->config["search"]["epsilon"].get<double>(), 0.1);
  EXPECT_NE(report->estimate.status, diffmem::study::EmmSearchStatus::kSearching);
  for (const char* png : {"/ratio_vs_n.png", "/curves.png"}) {
    const std::string bytes = ReadText(d + png);
    ASSERT_GT(bytes.size(), 8u) << png;
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  }
  // The study's top_memorized.png is that of the run at the EMM, when there is one.
  if (report->estimate.emm) {
    EXPECT_EQ(ReadText(d + "/top_memorized.png"),
              ReadText(absl::StrCat(d, "/runs/", absl::StrFormat("n%06d", *report->estimate.emm), "/top_memorized.png")));
  } else {
    EXPECT_FALSE(Exists(d + "/top_memorized.png"));
  }
}

TEST(EstimateEmm, RerunReusesFinishedRunsWithoutRecomputing) {
  const std::string& d = LocalStudy();
  const std::string result = d + "/runs/n000020/emm_result.json";
  const int64_t before = MtimeNs(result);
  const nlohmann::json report = ReadJson(d + "/report.json");
  const Result r = RunTool(absl::StrCat(kTiny, " --out=", d));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 finished run(s) found"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("step 10/40"), std::string::npos) << "trained again:\n" << r.output;
  EXPECT_EQ(MtimeNs(result), before);
  EXPECT_EQ(ReadJson(d + "/report.json"), report);
}

TEST(EstimateEmm, KilledStudyResumesToTheSameReport) {
  const std::string d = Dir("killed");
  // Start the study, kill it (SIGKILL) once the first run has a checkpoint.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = absl::StrCat("exec ", g_tool, " ", kTiny, " --out=", d, " > /dev/null 2>&1");
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string ckpt = d + "/runs/n000020/checkpoint.pt";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!Exists(ckpt) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(Exists(ckpt));
  ASSERT_FALSE(Exists(d + "/runs/n000020/emm_result.json")) << "the run finished before it could be killed";
  ASSERT_FALSE(Exists(d + "/report.json"));

  const Result r = RunTool(absl::StrCat(kTiny, " --out=", d));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("N=20: resuming at step"), std::string::npos) << r.output;
  EXPECT_EQ(WithoutTimes(ReadJson(d + "/report.json")), WithoutTimes(ReadJson(LocalStudy() + "/report.json")));
}

TEST(EstimateEmm, PlanAndCollectEqualLocalExecution) {
  const std::string d = Dir("planned");
  const std::string plan = d + ".plan.txt";
  int waves = 0, runs = 0;
  for (;; ++waves) {
    ASSERT_LT(waves, 5);
    const Result p = RunTool(absl::StrCat(kTiny, " --out=", d, " --plan=", plan));
    ASSERT_EQ(p.code, 0) << p.output;
    const std::string text = ReadText(plan);
    if (text.empty()) break;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      // One shell command per line, naming its run directory.
      EXPECT_NE(line.find("--run_n="), absl::string_view::npos) << line;
      EXPECT_NE(line.find("# run dir /"), absl::string_view::npos) << line;
      EXPECT_NE(line.find("/planned/runs/n0000"), absl::string_view::npos) << line;
      const int code = std::system(absl::StrCat("(", std::string(line), "\n) > /dev/null 2>&1").c_str());
      ASSERT_EQ(WIFEXITED(code) ? WEXITSTATUS(code) : -1, 0) << line;
      ++runs;
    }
  }
  EXPECT_EQ(runs, 2);
  EXPECT_FALSE(Exists(d + "/report.json"));
  const Result c = RunTool(absl::StrCat("--out=", d, " --collect"));
  ASSERT_EQ(c.code, 0) << c.output;
  EXPECT_EQ(WithoutTimes(ReadJson(d + "/report.json")), WithoutTimes(ReadJson(LocalStudy() + "/report.json")));

  // A wider wave lists several runs at once (doubling from N0).
  const std::string wide = Dir("wide");
  const Result p = RunTool(absl::StrCat(kTiny, " --parallel=2 --out=", wide, " --plan=", plan));
  ASSERT_EQ(p.code, 0) << p.output;
  const std::vector<std::string> lines = absl::StrSplit(ReadText(plan), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("--run_n=20 "), std::string::npos);
  EXPECT_NE(lines[1].find("--run_n=40 "), std::string::npos);
}

// A run that memorizes part of its samples (ratio ~0.8 at N=10), so the
// measurement compared below is not all zeros.
const char kMemorizing[] =
    "--data=fashion-mnist:t10k --pad=2 --resolution=8 --channels=16 --channel_mult=1,2 --blocks=1 --attn= "
    "--batch=32 --steps=500 --probe_every=250 --probe_samples=8 --samples=32 --sampler_steps=8 --n_min=10 "
    "--n_start=10 --n_max=20 --extra_n= --max_runs=1 --log_every=250 --early_stop=false";

// A planned run trained by 2 ranks (--nproc=2: global batch 32 = 2 x 16)
// measures like the same run in one process: the ranks draw each image's σ
// and noise by its place in the global batch and average their gradients,
// so the weights differ only by the order of float additions (~1e-7,
// train_parallel_test). That could move one sample across the d1/d2
// threshold, hence the 1-sample tolerance (on this machine they are equal),
// and a logged loss's 4th decimal (LibTorch 2.11: 37.1477 vs 37.1478).
TEST(EstimateEmm, ARunOnTwoRanksMeasuresLikeOneProcess) {
  const std::string one = Dir("run_one_rank"), two = Dir("run_two_ranks");
  for (const std::string& d : {one, two}) {
    const Result p = RunTool(absl::StrCat(kMemorizing, " --out=", d, " --plan=", d, ".plan"));
    ASSERT_EQ(p.code, 0) << p.output;
  }
  Result r1 = RunTool(absl::StrCat("--threads=2 --out=", one, " --run_n=10"));
  ASSERT_EQ(r1.code, 0) << r1.output;
  Result r2 = RunTool(absl::StrCat("--threads=1 --nproc=2 --out=", two, " --run_n=10"));
  ASSERT_EQ(r2.code, 0) << r2.output;
  EXPECT_NE(r2.output.find("data parallel, 2 ranks (torchrun environment, gloo), global batch 32 = 2 x 16"),
            std::string::npos)
      << r2.output;
  // Rank 0 alone measures and reports.
  EXPECT_EQ(r2.output.find("N=10 ratio"), r2.output.rfind("N=10 ratio")) << r2.output;
  EXPECT_EQ(r2.output.find("measuring 32 samples"), r2.output.rfind("measuring 32 samples")) << r2.output;
  const nlohmann::json a = ReadJson(one + "/runs/n000010/emm_result.json");
  const nlohmann::json b = ReadJson(two + "/runs/n000010/emm_result.json");
  ASSERT_TRUE(a.is_object() && b.is_object());
  EXPECT_EQ(b["samples"], a["samples"]);
  EXPECT_EQ(b["train_steps"], a["train_steps"]);
  EXPECT_GE(a["memorized"].get<int>(), 8);  // the case is not trivial
  EXPECT_LE(a["memorized"].get<int>(), 30);
  EXPECT_LE(std::abs(b["memorized"].get<int>() - a["memorized"].get<int>()), 1) << a.dump() << "\n" << b.dump();
  ASSERT_EQ(b["curve"].size(), a["curve"].size());
  EXPECT_EQ(LossMismatch(one + "/runs/n000010", two + "/runs/n000010", 2e-4), "");
  EXPECT_EQ(ReadJson(two + "/runs/n000010/config.json")["world_size"], 2);
  EXPECT_EQ(ReadJson(one + "/runs/n000010/config.json")["world_size"], 1);
  // The same run resumed by another world size is refused, not retrained.
  ASSERT_EQ(std::system(absl::StrCat("rm ", two, "/runs/n000010/emm_result.json ", two, "/runs/n000010/result.json")
                            .c_str()),
            0);
  const Result again = RunTool(absl::StrCat("--threads=2 --out=", two, " --run_n=10"));
  EXPECT_NE(again.code, 0);
  EXPECT_NE(again.output.find("world size"), std::string::npos) << again.output;
}

// A study under torchrun or srun would run every run on every rank; it says
// how to make its runs data-parallel instead, before writing anything.
TEST(EstimateEmm, AStudyIsNotRunAsTheRanksOfALauncher) {
  const std::string d = Dir("under_torchrun");
  const Result r = RunTool(absl::StrCat(kTiny, " --out=", d), "RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1");
  EXPECT_EQ(r.code, 2) << r.output;  // bad usage
  EXPECT_NE(r.output.find("a study does not run as the 2 ranks of a torchrun job"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--nproc=K"), std::string::npos) << r.output;
  EXPECT_FALSE(Exists(d));
}

TEST(EstimateEmm, FactorStudyWritesATable) {
  const std::string d = Dir("vary");
  const Result r = RunTool(absl::StrCat(kTiny, " --max_runs=1 --steps=10 --vary=channels=4,8 --out=", d));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::vector<std::string> rows = absl::StrSplit(ReadText(d + "/emm_vs_channels.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], "factor,value,emm,n_lo,n_hi,interpolated,status,runs,wall_seconds");
  EXPECT_EQ(rows[1].rfind("channels,4,", 0), 0u) << rows[1];
  EXPECT_EQ(rows[2].rfind("channels,8,", 0), 0u) << rows[2];
  EXPECT_EQ(ReadJson(d + "/channels=4/study.json")["network"]["unet"]["model_channels"], 4);
  EXPECT_EQ(ReadJson(d + "/channels=8/study.json")["network"]["unet"]["model_channels"], 8);
  EXPECT_EQ(ReadJson(d + "/emm_vs_channels.json")["rows"].size(), 2u);
  EXPECT_TRUE(Exists(d + "/emm_vs_channels.png"));
}

// --dry_run prints the preset with the flags given on top (command line and
// --flagfile alike) and the runs the search would do first, and trains nothing.
TEST(EstimateEmm, DryRunPrintsTheResolvedConfiguration) {
  const std::string d = Dir("dry");
  const std::string flagfile = ::testing::TempDir() + "/study_flags.txt";
  std::ofstream(flagfile) << "--lr=0.005\n--attn=\n";
  const std::string json = ::testing::TempDir() + "/dry.json";
  const int code = std::system(absl::StrCat(g_tool, " --dry_run --max_runs=3 --flagfile=", flagfile, " --out=", d,
                                            " > ", json, " 2>/dev/null").c_str());
  ASSERT_EQ(code, 0);
  const nlohmann::json j = ReadJson(json);
  ASSERT_TRUE(j.is_object()) << ReadText(json);
  ASSERT_EQ(j["studies"].size(), 1u);
  const nlohmann::json& c = j["studies"][0]["config"];
  EXPECT_EQ(c["search"]["max_runs"], 3);                       // command line
  EXPECT_DOUBLE_EQ(c["training"]["lr"].get<double>(), 0.005);  // flagfile
  EXPECT_EQ(c["network"]["unet"]["attn_resolutions"], nlohmann::json::array());  // flagfile, empty list
  EXPECT_EQ(c["network"]["unet"]["model_channels"], 32);       // the preset fashion_cpu
  EXPECT_EQ(c["training"]["steps"], 1200);
  EXPECT_EQ(j["studies"][0]["next_runs"], nlohmann::json({320}));  // the extra point first
  EXPECT_FALSE(Exists(d)) << "a dry run writes nothing";
  // A preset named in a flagfile works like one on the command line (on
  // data this machine has: a dry run loads the data set, as a start does).
  std::ofstream(flagfile) << "--preset=paper_cifar10\n--data=fashion-mnist\n--n_max=8000\n";
  ASSERT_EQ(std::system(absl::StrCat(g_tool, " --dry_run --flagfile=", flagfile, " --out=", d, " > ", json,
                                     " 2>/dev/null").c_str()),
            0);
  EXPECT_EQ(ReadJson(json)["studies"][0]["config"]["network"]["precond"], "vp");
}

TEST(EstimateEmm, BadInputFailsWithAClearMessage) {
  const std::string d = Dir("bad");
  // The paper's preset without CIFAR-10: how to get it, not a bare "cifar10" read error.
  Result paper = RunTool(absl::StrCat("--preset=paper_cifar10 --out=", d));
  EXPECT_NE(paper.code, 0);
  EXPECT_NE(paper.output.find("--data: no training data given. The paper's studies need CIFAR-10: --data=cifar10:DIR"),
            std::string::npos)
      << paper.output;
  EXPECT_FALSE(Exists(d));
  Result r = RunTool(absl::StrCat(kTiny, " --weights=best --out=", d));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--weights"), std::string::npos) << r.output;
  r = RunTool(absl::StrCat(kTiny, " --vary=colour=1,2 --out=", d));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("unknown factor 'colour'"), std::string::npos) << r.output;
  r = RunTool(absl::StrCat(kTiny, " --out=", d, " --collect"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("study.json"), std::string::npos) << r.output;
  // The same directory with another configuration is refused, not mixed.
  r = RunTool(absl::StrCat(kTiny, " --lr=0.5 --out=", LocalStudy()));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("another configuration (training.lr"), std::string::npos) << r.output;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH_TO_estimate_emm\n", argv[0]);
    return 2;
  }
  g_tool = argv[1];
  return RUN_ALL_TESTS();
}
