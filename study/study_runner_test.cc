// A whole study in-process at tiny sizes (4×4 Fashion-MNIST, an 8-channel
// UNet, tens of steps): the runs train through training::TrainNetwork into
// //tools:train-style run directories, the report and figures come from the
// finished runs, and a rerun reuses them.

#include "study/study_runner.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "study/presets.h"
#include "study/run_layout.h"
#include "util/atomic_file.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {
namespace {

EmmStudyConfig Tiny() {
  EmmStudyConfig c = FashionCpuPreset::Config();
  c.data_spec = "fashion-mnist:t10k";
  c.data.resolution = 4;
  c.network.unet.model_channels(8).channel_mult({1, 1});
  c.train.steps = 30;
  c.train.log_every = 10;
  c.probe_every = 10;
  c.probe_samples = 8;
  c.samples = 16;
  c.sampler_steps = 3;
  c.early_stop = false;
  c.search.n_min = 10;
  c.search.n_start = 20;
  c.search.n_max = 40;
  c.search.extra_n = {};
  c.search.max_runs = 2;
  return c;
}

TEST(StudyRunnerTest, RunsCollectsAndReuses) {
  at::set_num_threads(1);
  const std::string dir = ::testing::TempDir() + "/study";
  const EmmStudyConfig c = Tiny();
  std::vector<std::string> lines;
  absl::StatusOr<EmmReport> r = RunEmmStudy(dir, c, [&](const std::string& l) { lines.push_back(l); });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->runs.size(), 2u);
  // The search starts at 20, then doubles if it memorizes there, else halves.
  const EmmRunRecord& first = r->runs[0].n == 20 ? r->runs[0] : r->runs[1];
  ASSERT_EQ(first.n, 20);
  const bool memorizes = first.ratio >= 0.9;
  EXPECT_EQ(r->runs[memorizes ? 1 : 0].n, memorizes ? 40 : 10);
  for (const EmmRunRecord& run : r->runs) {
    EXPECT_EQ(run.train_steps, 30);
    EXPECT_EQ(run.stop, RunStop::kDuration);
    EXPECT_EQ(run.curve.size(), 3u);  // probes at 10, 20, 30
    EXPECT_EQ(run.samples, 16);
    ASSERT_TRUE(run.optimum_ratio.has_value());
    // The run directory is //tools:train's, with the one data-block schema.
    absl::StatusOr<nlohmann::json> config = util::ReadJsonFile(absl::StrCat(dir, "/", run.run_dir, "/config.json"));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ((*config)["data"]["spec"], "fashion-mnist:t10k");
    EXPECT_EQ((*config)["data"]["n"], run.n);
    EXPECT_EQ((*config)["data"]["factors"]["resolution"], 4);
    EXPECT_EQ((*config)["dataset"]["size"], run.n);
    EXPECT_EQ((*config)["network"]["unet"]["img_resolution"], 4);
    for (const char* f : {"checkpoint.pt", "loss.csv", "result.json", "emm_probe.json", "samples.png", "top_memorized.png"}) {
      EXPECT_TRUE(util::FileExists(absl::StrCat(dir, "/", run.run_dir, "/", f))) << f;
    }
  }
  for (const char* f : {"report.json", "ratio_vs_n.png", "ratio_vs_n.svg", "ratio_vs_n.pdf", "curves.png",
                        "curves.svg", "curves.pdf"}) {
    EXPECT_TRUE(util::FileExists(absl::StrCat(dir, "/", f))) << f;
  }
  absl::StatusOr<EmmReport> on_disk = ReadEmmReport(dir + "/report.json");
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  EXPECT_EQ(EmmReportToJson(*on_disk), EmmReportToJson(*r));
  bool progress = false;
  for (const std::string& l : lines) progress = progress || l.find("[run 1/2] N=20  step 10/30  ") != std::string::npos;
  EXPECT_TRUE(progress);

  // A rerun trains nothing: the same report from the stored records.
  const std::string ckpt = *util::ReadFileToString(absl::StrCat(dir, "/", EmmRunDirName(20), "/checkpoint.pt"));
  absl::StatusOr<EmmReport> again = RunEmmStudy(dir, c);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(EmmReportToJson(*again), EmmReportToJson(*r));
  EXPECT_EQ(*util::ReadFileToString(absl::StrCat(dir, "/", EmmRunDirName(20), "/checkpoint.pt")), ckpt);
  // The budget is spent: nothing left to plan.
  absl::StatusOr<std::vector<std::string>> plan = PlanEmmStudy(dir, c, "estimate_emm");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty());
}

TEST(StudyRunnerTest, PlanListsTheFirstWave) {
  const std::string dir = ::testing::TempDir() + "/planned";
  EmmStudyConfig c = Tiny();
  c.search.parallel = 2;
  absl::StatusOr<std::vector<std::string>> plan = PlanEmmStudy(dir, c, "/bin/estimate_emm", "--threads=1");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0], absl::StrCat("/bin/estimate_emm --out=", dir, " --run_n=20 --threads=1  # run dir ", dir,
                                     "/runs/n000020"));
  EXPECT_TRUE(util::FileExists(EmmStudyConfigPath(dir)));
  // A study directory with a space and a quote is one shell word in the plan.
  const std::string odd = ::testing::TempDir() + "/my study's runs";
  absl::StatusOr<std::vector<std::string>> quoted = PlanEmmStudy(odd, c, "/opt/diff mem/estimate_emm", "--threads=1");
  ASSERT_TRUE(quoted.ok()) << quoted.status();
  EXPECT_EQ((*quoted)[0].rfind(absl::StrCat("'/opt/diff mem/estimate_emm' '--out=", ::testing::TempDir(),
                                            "/my study'\\''s runs' --run_n=20 --threads=1"),
                               0),
            0u)
      << (*quoted)[0];
}

TEST(StudyRunnerTest, FactorTableFiles) {
  const std::string out = ::testing::TempDir() + "/factor";
  std::filesystem::create_directories(out);
  EmmSearchOptions o = Tiny().search;
  std::vector<EmmFactorRow> rows = {{"resolution", "4", out + "/resolution=4", SummarizeEmmSearch(o, {{20, 1, 1, 1}, {40, 0.2, 0, 1}}), 2, 3}};
  ASSERT_TRUE(WriteEmmFactorTable(out, "resolution", rows, o).ok());
  EXPECT_EQ(*util::ReadFileToString(out + "/emm_vs_resolution.csv"), EmmFactorTableToCsv(rows));
  for (const char* ext : {".json", ".png", ".svg", ".pdf"}) {
    EXPECT_TRUE(util::FileExists(absl::StrCat(out, "/emm_vs_resolution", ext))) << ext;
  }
}

}  // namespace
}  // namespace study
}  // namespace diffmem
