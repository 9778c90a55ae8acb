// A metric registered in a test runs through every path that measures
// memorization: //tools:mem_ratio's --samples (its report agrees with a
// brute-force computation of the same metric) and --run (a run's snapshot
// series), and //tools:estimate_emm's study (probes, final measurement).
// The shipped tools, without the line, refuse the name and list their
// metrics; with a built-in metric the extended tools give the shipped ones'
// results exactly.
// argv: testing/toy_metric_mem_ratio, //tools:mem_ratio,
//       testing/toy_metric_estimate_emm, //tools:estimate_emm, //tools:train.

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/idx.h"
#include "data/png.h"
#include "data/subsets.h"
#include "gtest/gtest.h"

namespace {

std::string g_toy_tool, g_tool, g_toy_emm, g_emm, g_train;

struct Result {
  int code = -1;
  std::string output;
};

Result RunTool(const std::string& tool, const std::string& flags) {
  const std::string log = ::testing::TempDir() + "/toy_metric_output.txt";
  const int status = std::system(absl::StrCat(tool, " ", flags, " > ", log, " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

double L3(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor d = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().flatten();
  double sum = 0;
  for (int64_t i = 0; i < d.numel(); ++i) sum += std::pow(d[i].item<double>(), 3);
  return std::cbrt(sum);
}

TEST(ToyMetricTest, MemRatioScoresWithAMetricAddedInATest) {
  // Training set: the first 20 class-balanced Fashion-MNIST test images at 7×7,
  // as the tool will read them with the same flags.
  const diffmem::data::Dataset train =
      *diffmem::data::DownsampleByArea(*diffmem::data::ClassBalancedFirstN(*diffmem::data::ReadFashionMnist("t10k"), 20), 7);
  // Samples: four training images, lightly perturbed (near-copies), and four of
  // uniform noise (far from everything).
  const std::string samples = ::testing::TempDir() + "/samples";
  std::filesystem::create_directories(samples);
  torch::manual_seed(3);
  std::vector<torch::Tensor> images;
  for (int i = 0; i < 8; ++i) {
    torch::Tensor x = i < 4 ? (train.images[3 * i].to(torch::kInt32) + torch::randint(-2, 3, {1, 7, 7}, torch::kInt32))
                                  .clamp(0, 255)
                                  .to(torch::kUInt8)
                            : torch::randint(0, 256, {1, 7, 7}, torch::kUInt8);
    ASSERT_TRUE(diffmem::data::WritePng(absl::StrFormat("%s/%06d.png", samples, i), x).ok());
    images.push_back(x);
  }
  const std::string flags = absl::StrCat("--samples=", samples, " --data=fashion-mnist:t10k --n=20 --resolution=7 --labels=none");
  const std::string out = ::testing::TempDir() + "/ratio";
  Result r = RunTool(g_toy_tool, absl::StrCat(flags, " --metric=l3 --out=", out));
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(out + "/report.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["metric"], "l3");

  // Brute force: d1, d2 and the memorized count under L3.
  int memorized = 0;
  for (int i = 0; i < 8; ++i) {
    std::vector<double> d;
    for (int64_t n = 0; n < train.size(); ++n) d.push_back(L3(images[i], train.images[n]));
    std::vector<double> sorted = d;
    std::sort(sorted.begin(), sorted.end());
    const nlohmann::json& row = report["samples"][i];
    EXPECT_NEAR(row["d1"].get<double>(), sorted[0], 1e-9 * (1 + sorted[0])) << i;
    EXPECT_NEAR(row["d2"].get<double>(), sorted[1], 1e-9 * (1 + sorted[1])) << i;
    EXPECT_DOUBLE_EQ(d[row["nearest"].get<int64_t>()], sorted[0]) << i;
    memorized += sorted[0] / sorted[1] < 1.0 / 3;
  }
  EXPECT_EQ(report["memorized"], memorized);
  EXPECT_GE(memorized, 4) << "the near-copies";  // a check of the fixture, not of the tool
  EXPECT_LE(memorized, 4) << "the noise images";

  // The shipped tool does not know the name, and says which it knows.
  Result shipped = RunTool(g_tool, absl::StrCat(flags, " --metric=l3 --out=", out, "_shipped"));
  EXPECT_NE(shipped.code, 0);
  EXPECT_NE(shipped.output.find("--metric: unknown metric 'l3' (expected one of: l2, sql2, l1, cosine, linf)"),
            std::string::npos)
      << shipped.output;
  // And the extended tool lists the new one with the others.
  Result help = RunTool(g_toy_tool, "--help");
  EXPECT_NE(help.output.find("Metrics: l2, sql2, l1, cosine, linf, l3."), std::string::npos) << help.output;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(ToyMetricTest, MemRatioRunScoresASnapshotSeriesWithTheAddedMetric) {
  // A tiny run with a snapshot every 1000 images: after steps 16 and 32 of 64 images.
  const std::string run = ::testing::TempDir() + "/toy_run";
  Result trained = RunTool(g_train, absl::StrCat("--data=fashion-mnist:t10k --n=10 --resolution=8 --pad=2 --channels=8 "
                                                 "--channel_mult=1,2 --blocks=1 --attn= --steps=32 --batch=64 "
                                                 "--snapshot_kimg=1 --threads=2 --out=",
                                                 run));
  ASSERT_EQ(trained.code, 0) << trained.output;
  const std::string flags = absl::StrCat("--run=", run, " --seeds=0-7 --steps=4");
  Result r = RunTool(g_toy_tool, absl::StrCat(flags, " --metric=l3 --out=", run, "_l3"));
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json l3 = ReadJson(run + "_l3/report.json");
  EXPECT_EQ(l3["metric"], "l3");
  ASSERT_EQ(l3["snapshots"].size(), 2u) << l3.dump();
  for (const nlohmann::json& s : l3["snapshots"]) {
    EXPECT_EQ(s["samples"], 8);
    EXPECT_GE(s["ratio"].get<double>(), 0);
    EXPECT_LE(s["ratio"].get<double>(), 1);
  }
  EXPECT_TRUE(std::filesystem::exists(run + "_l3/top_memorized.png"));
  // The shipped tool refuses the name before scoring anything ...
  Result shipped = RunTool(g_tool, absl::StrCat(flags, " --metric=l3 --out=", run, "_shipped"));
  EXPECT_EQ(shipped.code, 2) << shipped.output;
  EXPECT_NE(shipped.output.find("--metric: unknown metric 'l3'"), std::string::npos) << shipped.output;
  EXPECT_FALSE(std::filesystem::exists(run + "_shipped"));
  // ... and with a built-in metric both tools score the series alike.
  ASSERT_EQ(RunTool(g_toy_tool, absl::StrCat(flags, " --metric=l1 --out=", run, "_toy_l1")).code, 0);
  ASSERT_EQ(RunTool(g_tool, absl::StrCat(flags, " --metric=l1 --out=", run, "_l1")).code, 0);
  EXPECT_EQ(ReadJson(run + "_toy_l1/report.json")["snapshots"], ReadJson(run + "_l1/report.json")["snapshots"]);
}

TEST(ToyMetricTest, AStudyMeasuresWithTheAddedMetric) {
  const std::string tiny =
      "--threads=2 --data=fashion-mnist:t10k --pad=2 --resolution=4 --channels=8 --channel_mult=1,1 --blocks=1 "
      "--steps=20 --probe_every=10 --probe_samples=8 --samples=16 --sampler_steps=3 --n_min=10 --n_start=10 "
      "--n_max=10 --extra_n= --max_runs=1 --log_every=10 --early_stop=false";
  const std::string dir = ::testing::TempDir() + "/toy_study";
  Result r = RunTool(g_toy_emm, absl::StrCat(tiny, " --metric=l3 --out=", dir));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(ReadJson(dir + "/study.json")["evaluation"]["metric"], "l3");
  const nlohmann::json record = ReadJson(dir + "/runs/n000010/emm_result.json");
  EXPECT_EQ(record["samples"], 16);
  EXPECT_EQ(record["curve"].size(), 2u) << record.dump();  // two probes, scored with l3 too
  // Resuming or collecting it takes the same binary: the shipped one does not know l3.
  Result collected = RunTool(g_toy_emm, absl::StrCat(tiny, " --metric=l3 --out=", dir, " --collect"));
  EXPECT_EQ(collected.code, 0) << collected.output;
  Result shipped = RunTool(g_emm, absl::StrCat(tiny, " --metric=l3 --out=", dir, "_shipped"));
  EXPECT_EQ(shipped.code, 2) << shipped.output;
  EXPECT_NE(shipped.output.find("--metric: unknown metric 'l3' (expected one of: l2, sql2, l1, cosine, linf)"),
            std::string::npos)
      << shipped.output;
  Result shipped_collect = RunTool(g_emm, absl::StrCat("--out=", dir, " --collect"));
  EXPECT_NE(shipped_collect.code, 0);
  EXPECT_NE(shipped_collect.output.find("unknown metric 'l3'"), std::string::npos) << shipped_collect.output;
  // A built-in metric: the extended study's record equals the shipped one's.
  ASSERT_EQ(RunTool(g_toy_emm, absl::StrCat(tiny, " --metric=l1 --out=", dir, "_toy_l1")).code, 0);
  ASSERT_EQ(RunTool(g_emm, absl::StrCat(tiny, " --metric=l1 --out=", dir, "_l1")).code, 0);
  nlohmann::json a = ReadJson(dir + "_toy_l1/runs/n000010/emm_result.json");
  nlohmann::json b = ReadJson(dir + "_l1/runs/n000010/emm_result.json");
  for (nlohmann::json* j : {&a, &b}) {
    for (const char* key : {"train_seconds", "evaluate_seconds", "wall_seconds"}) j->erase(key);
  }
  EXPECT_EQ(a, b);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 6) {
    std::fprintf(stderr, "usage: toy_metric_test TOY_MEM_RATIO MEM_RATIO TOY_ESTIMATE_EMM ESTIMATE_EMM TRAIN\n");
    return 2;
  }
  g_toy_tool = argv[1];
  g_tool = argv[2];
  g_toy_emm = argv[3];
  g_emm = argv[4];
  g_train = argv[5];
  return RUN_ALL_TESTS();
}
