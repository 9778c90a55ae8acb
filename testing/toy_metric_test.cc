// A metric registered in a test runs through //tools:mem_ratio's own code
// path: the tool built with the extended registry scores samples with it,
// and its report agrees with a brute-force computation of the same metric;
// the shipped tool, without the line, refuses the name and lists its metrics.
// argv[1]: testing/toy_metric_mem_ratio, argv[2]: //tools:mem_ratio.

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
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

std::string g_toy_tool, g_tool;

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

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: toy_metric_test TOY_MEM_RATIO MEM_RATIO\n");
    return 2;
  }
  g_toy_tool = argv[1];
  g_tool = argv[2];
  return RUN_ALL_TESTS();
}
