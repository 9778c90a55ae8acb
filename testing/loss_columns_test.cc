#include "testing/loss_columns.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace diffmem {
namespace testing_runs {
namespace {

std::string RunWithLoss(const std::string& name, const std::string& csv) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/loss.csv") << csv;
  return dir;
}

const char kHeader[] = "step,kimg,loss,lr,images_per_s,wall_s\n";

TEST(LossColumnsTest, KeepsTheTrainingColumnsOnly) {
  const std::string a = RunWithLoss("a", std::string(kHeader) + "250,8.000,37.1477,0.001,1693.3,4.72\n");
  EXPECT_EQ(LossColumns(a), "step,kimg,loss,lr\n250,8.000,37.1477,0.001\n");
  EXPECT_EQ(LossColumns(::testing::TempDir() + "/missing"), "");
  EXPECT_EQ(LossColumns(RunWithLoss("bad", "step,kimg\n")), "malformed: step,kimg");
}

TEST(LossMismatchTest, LastDigitRoundingPassesAndRealDifferencesDoNot) {
  const std::string a = RunWithLoss("m_a", std::string(kHeader) + "250,8.000,37.1477,0.001,1693.3,4.72\n500,16.000,11.8929,0.001,1,2\n");
  const std::string b = RunWithLoss("m_b", std::string(kHeader) + "250,8.000,37.1478,0.001,1657.6,4.83\n500,16.000,11.8929,0.001,3,4\n");
  EXPECT_EQ(LossMismatch(a, b, 2e-4), "");
  EXPECT_NE(LossMismatch(a, b, 0), "");
  const std::string far = RunWithLoss("m_far", std::string(kHeader) + "250,8.000,37.2000,0.001,1,1\n500,16.000,11.8929,0.001,1,1\n");
  EXPECT_NE(LossMismatch(a, far, 2e-4).find("37.2000"), std::string::npos);
  const std::string other_step = RunWithLoss("m_step", std::string(kHeader) + "200,8.000,37.1477,0.001,1,1\n500,16.000,11.8929,0.001,1,1\n");
  EXPECT_NE(LossMismatch(a, other_step, 2e-4), "");
  const std::string shorter = RunWithLoss("m_short", std::string(kHeader) + "250,8.000,37.1477,0.001,1,1\n");
  EXPECT_NE(LossMismatch(a, shorter, 2e-4), "");
  EXPECT_NE(LossMismatch(a, ::testing::TempDir() + "/missing", 2e-4), "");
}

}  // namespace
}  // namespace testing_runs
}  // namespace diffmem
