#include "diffusion/noise_schedule.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

// Reference values computed independently in Python (math module, doubles,
// exp(x) − 1 rather than expm1, hence the relative tolerance ~1e-10).
TEST(VpScheduleTest, MatchesReferenceValues) {
  const VpSchedule vp;
  EXPECT_NEAR(vp.sigma(1.0), 152.1669702839464, 1e-9);
  EXPECT_NEAR(vp.sigma(1e-5), 0.0010004976266502028, 1e-13);
  EXPECT_NEAR(vp.sigma(1e-3), 0.010485992786706403, 1e-12);
  EXPECT_EQ(vp.sigma(0.0), 0.0);
}

TEST(VpScheduleTest, InverseRoundTripsInDoubleAndTensor) {
  const VpSchedule vp{12.5, 0.3};  // non-default parameters are honoured
  for (double t : {1e-4, 0.01, 0.3, 0.77, 1.0}) {
    EXPECT_NEAR(vp.sigma_inv(vp.sigma(t)), t, 1e-12 * (1 + t)) << t;
  }
  torch::Tensor t = torch::linspace(1e-3, 1.0, 50, torch::kFloat64);
  torch::Tensor s = vp.sigma(t);
  EXPECT_TRUE(torch::allclose(vp.sigma_inv(s), t, 1e-12, 1e-12));
  for (int i = 0; i < 50; ++i) {
    EXPECT_NEAR(s[i].item<double>(), vp.sigma(t[i].item<double>()), 1e-12);
  }
}

TEST(VeScheduleTest, SquareRoot) {
  const VeSchedule ve;
  EXPECT_DOUBLE_EQ(ve.sigma(6.25), 2.5);
  EXPECT_DOUBLE_EQ(ve.sigma_inv(2.5), 6.25);
  torch::Tensor t = torch::tensor({0.04, 1.0, 10000.0}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(ve.sigma(t), torch::tensor({0.2, 1.0, 100.0}, torch::kFloat64)));
}

TEST(IddpmSigmasTest, TableMatchesReferenceAndIsDecreasing) {
  const std::vector<double> u = IddpmSigmas();
  ASSERT_EQ(u.size(), 1001u);
  EXPECT_EQ(u[1000], 0.0);
  EXPECT_NEAR(u[0], 20291.16961002147, 1e-6);
  EXPECT_NEAR(u[8], 80.20370184547417, 1e-9);
  EXPECT_NEAR(u[999], 0.006425412771141183, 1e-13);
  for (size_t j = 1; j < u.size(); ++j) EXPECT_LT(u[j], u[j - 1]) << j;
}

TEST(IddpmSigmasTest, FewerLevels) {
  const std::vector<double> u = IddpmSigmas(10, 0.001, 0.008);
  ASSERT_EQ(u.size(), 11u);
  // u_9 = sqrt(1/max(ᾱ_9/ᾱ_10, C_1) − 1) from ᾱ_j = sin²(π/2·j/(10·1.008)).
  const double pi = 3.14159265358979323846;
  const double a9 = std::pow(std::sin(0.5 * pi * 9 / 10 / 1.008), 2);
  const double a10 = std::pow(std::sin(0.5 * pi * 10 / 10 / 1.008), 2);
  EXPECT_NEAR(u[9], std::sqrt(a10 / a9 - 1), 1e-12);
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
