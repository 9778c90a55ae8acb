// diffmem under a real Slurm on this machine (testing/slurm/local_slurm.sh
// starts munged, slurmctld and slurmd for the test and stops them after):
// `srun -n 2` trains data-parallel over c10d/Gloo like one process, and an
// EMM study planned with `estimate_emm --plan --plan_format=sbatch`, run as
// sbatch job-array scripts (one array task per planned run) and collected, reports what the same
// study run locally reports. Arguments: train, estimate_emm, local_slurm.sh.
// Needs root and Debian's slurmctld, slurmd, slurm-client and munge
// (setup.sh installs them).

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "study/emm_report.h"
#include "testing/loss_columns.h"
#include "util/atomic_file.h"

namespace {

using diffmem::testing_runs::LossColumns;
using diffmem::testing_runs::LossMismatch;

std::string g_train, g_emm, g_slurm_script, g_slurm_dir;

// The file's bytes ("" when it cannot be read).
std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> text = diffmem::util::ReadFileToString(path);
  return text.ok() ? *text : std::string();
}

struct Result {
  int code = -1;
  std::string output;
};

Result Shell(const std::string& cmd) {
  const std::string log = ::testing::TempDir() + "/slurm_test_output.txt";
  const int status = std::system(absl::StrCat("(", cmd, ") > ", log, " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadAll(log)};
}

const char kTrain[] =
    " --threads=1 --data=fashion-mnist:t10k --n=60 --subset=balanced --pad=2 --resolution=8 --channels=8 "
    "--channel_mult=1,2 --blocks=1 --attn= --dropout=0 --batch=32 --lr=1e-3 --lr_warmup_epochs=0 --ema_beta=0.9 "
    "--log_every=1 --steps=5 ";

TEST(SlurmTest, SrunTwoTasksTrainsLikeOneProcess) {
  const std::string one = ::testing::TempDir() + "/srun_one", two = ::testing::TempDir() + "/srun_two";
  Result r = Shell(absl::StrCat("rm -rf ", one, " ", two, " && env -u RANK -u WORLD_SIZE -u SLURM_PROCID ", g_train,
                                kTrain, "--out=", one));
  ASSERT_EQ(r.code, 0) << r.output;
  r = Shell(absl::StrCat("srun -n 2 --time=10 ", g_train, kTrain, "--dist_timeout=60 --out=", two));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("data parallel, 2 ranks (slurm environment, gloo)"), std::string::npos) << r.output;
  const std::string l1 = LossColumns(one);
  EXPECT_EQ(std::count(l1.begin(), l1.end(), '\n'), 6) << l1;  // header + 5 steps
  // Losses printed to 4 decimals agree up to the last digit's rounding (the
  // weights: train_parallel_test).
  EXPECT_EQ(LossMismatch(one, two, 2e-4), "");
}

// As testing/estimate_emm_test.cc's study: two runs of a few seconds each.
const char kStudy[] =
    " --threads=1 --data=fashion-mnist:t10k --pad=2 --resolution=4 --channels=8 --channel_mult=1,1 --blocks=1 "
    "--steps=40 --probe_every=10 --probe_samples=8 --samples=16 --sampler_steps=3 --n_min=10 --n_start=20 "
    "--n_max=40 --extra_n= --max_runs=2 --log_every=10 --early_stop=false ";

// Plans and runs the study in `dir` wave by wave as sbatch job arrays
// (`plan_flags` added to --plan), then collects it; returns the runs planned.
int RunStudyAsSbatchArrays(const std::string& dir, const std::string& plan_flags) {
  const std::string plan = dir + ".plan.sbatch";
  int waves = 0, runs = 0;
  for (;; ++waves) {
    if (waves >= 5) {
      ADD_FAILURE() << "the search did not finish in 5 waves";
      return -1;
    }
    Result r = Shell(absl::StrCat(g_emm, kStudy, "--out=", dir, " --plan=", plan, " --plan_format=sbatch ", plan_flags));
    if (r.code != 0) {
      ADD_FAILURE() << r.output;
      return -1;
    }
    if (r.output.find("no runs left") != std::string::npos) break;
    const std::string script = ReadAll(plan);
    const size_t array = script.find("#SBATCH --array=1-");
    if (array == std::string::npos) {
      ADD_FAILURE() << script;
      return -1;
    }
    runs += std::atoi(script.c_str() + array + std::string("#SBATCH --array=1-").size());
    std::ofstream(absl::StrCat(dir, ".wave", waves, ".sbatch")) << script;
    // One array task per planned run; --wait returns when all have ended,
    // non-zero if any failed.
    r = Shell(absl::StrCat("sbatch --wait --time=10 --output=", dir, ".wave", waves, ".task%a.log ", plan));
    if (r.code != 0) {
      ADD_FAILURE() << r.output << ReadAll(absl::StrCat(dir, ".wave", waves, ".task1.log"));
      return -1;
    }
    EXPECT_NE(r.output.find("Submitted batch job"), std::string::npos) << r.output;
  }
  const Result r = Shell(absl::StrCat(g_emm, " --out=", dir, " --collect"));
  EXPECT_EQ(r.code, 0) << r.output;
  return runs;
}

// The same runs measured alike and the same estimate (the wall times differ).
void ExpectSameReports(const std::string& dir_a, const std::string& dir_b) {
  absl::StatusOr<diffmem::study::EmmReport> a = diffmem::study::ReadEmmReport(dir_a + "/report.json");
  absl::StatusOr<diffmem::study::EmmReport> b = diffmem::study::ReadEmmReport(dir_b + "/report.json");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->runs.size(), 2u);
  ASSERT_EQ(b->runs.size(), a->runs.size());
  for (size_t i = 0; i < a->runs.size(); ++i) {
    EXPECT_EQ(b->runs[i].n, a->runs[i].n);
    EXPECT_EQ(b->runs[i].ratio, a->runs[i].ratio) << "N=" << a->runs[i].n;
    EXPECT_EQ(b->runs[i].memorized, a->runs[i].memorized);
    EXPECT_EQ(b->runs[i].samples, a->runs[i].samples);
    EXPECT_EQ(b->runs[i].train_steps, a->runs[i].train_steps);
    ASSERT_EQ(b->runs[i].curve.size(), a->runs[i].curve.size());
    for (size_t k = 0; k < a->runs[i].curve.size(); ++k) {
      EXPECT_EQ(b->runs[i].curve[k].ratio, a->runs[i].curve[k].ratio) << "N=" << a->runs[i].n << " point " << k;
    }
  }
  EXPECT_EQ(b->estimate.emm, a->estimate.emm);
  EXPECT_EQ(b->estimate.n_hi, a->estimate.n_hi);
  EXPECT_EQ(b->next_runs, a->next_runs);
}

TEST(SlurmTest, AStudyAsSbatchArraysReportsLikeALocalRun) {
  const std::string local = ::testing::TempDir() + "/study_local", planned = ::testing::TempDir() + "/study_slurm";
  const Result r = Shell(absl::StrCat("rm -rf ", local, " ", planned, " && ", g_emm, kStudy, "--out=", local));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(RunStudyAsSbatchArrays(planned, ""), 2);
  ExpectSameReports(local, planned);
}

// Each run data-parallel: array tasks of 2 Slurm tasks (srun inside the
// script) against the same study on 2 local ranks per run (--nproc=2). Both
// sum the same two gradients, so they agree exactly.
TEST(SlurmTest, AStudyWithTwoRanksPerRunAsSbatchArraysReportsLikeTwoLocalRanks) {
  const std::string local = ::testing::TempDir() + "/study_local2", planned = ::testing::TempDir() + "/study_slurm2";
  const Result r =
      Shell(absl::StrCat("rm -rf ", local, " ", planned, " && ", g_emm, kStudy, "--nproc=2 --out=", local));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("training on 2 local ranks"), std::string::npos) << r.output;
  EXPECT_EQ(RunStudyAsSbatchArrays(planned, "--nproc=2"), 2);
  EXPECT_NE(ReadAll(planned + ".wave0.sbatch").find("#SBATCH --ntasks=2"), std::string::npos);
  EXPECT_NE(ReadAll(planned + ".wave0.task1.log").find("data parallel, 2 ranks (slurm environment, gloo)"),
            std::string::npos)
      << ReadAll(planned + ".wave0.task1.log");
  for (const std::string& dir : {local, planned}) {
    const std::string config = ReadAll(dir + "/runs/n000020/config.json");
    EXPECT_NE(config.find("\"world_size\": 2"), std::string::npos) << dir << ": " << config;
  }
  for (const std::string run : {"/runs/n000010", "/runs/n000020"}) {
    EXPECT_EQ(LossColumns(planned + run), LossColumns(local + run)) << run;
  }
  ExpectSameReports(local, planned);
}

void StopSlurm() {
  if (g_slurm_dir.empty()) return;
  if (std::system(absl::StrCat(g_slurm_script, " stop ", g_slurm_dir, " >&2").c_str()) != 0) {
    std::fprintf(stderr, "slurm_test: stopping the local Slurm in %s failed\n", g_slurm_dir.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: slurm_test TRAIN ESTIMATE_EMM LOCAL_SLURM_SH\n");
    return 2;
  }
  g_train = argv[1];
  g_emm = argv[2];
  g_slurm_script = argv[3];
  // Absolute paths: the array tasks run in the submit directory, but say so anyway.
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) != nullptr) {
    for (std::string* p : {&g_train, &g_emm, &g_slurm_script}) {
      if (!p->empty() && (*p)[0] != '/') *p = absl::StrCat(cwd, "/", *p);
    }
  }
  g_slurm_dir = ::testing::TempDir() + "/slurm";
  const std::string conf_file = ::testing::TempDir() + "/slurm_conf.txt";
  if (std::system(absl::StrCat(g_slurm_script, " start ", g_slurm_dir, " > ", conf_file).c_str()) != 0) {
    std::fprintf(stderr, "slurm_test: could not start a local Slurm (needs root, and setup.sh's slurm packages)\n");
    StopSlurm();
    return 1;
  }
  std::string conf = ReadAll(conf_file);
  conf.erase(conf.find_last_not_of("\n") + 1);
  setenv("SLURM_CONF", conf.c_str(), 1);
  const int code = RUN_ALL_TESTS();
  StopSlurm();
  return code;
}
