#include "diffusion/step_schedules.h"

#include <cmath>
#include <vector>

#include "diffusion/noise_schedule.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

template <class S>
void ExpectWellFormed(const std::vector<double>& s, int n) {
  ASSERT_EQ(s.size(), static_cast<size_t>(n + 1));
  EXPECT_EQ(s.back(), 0.0);
  for (int i = 1; i <= n; ++i) EXPECT_LT(s[i], s[i - 1]) << i;
}

static_assert(IsStepSchedule<EdmRhoSteps>::value, "");
static_assert(IsStepSchedule<VpSteps>::value, "");
static_assert(IsStepSchedule<VeSteps>::value, "");
static_assert(IsStepSchedule<IddpmSteps>::value, "");
static_assert(!IsStepSchedule<int>::value, "");

TEST(EdmRhoStepsTest, DefaultEndpointsCountAndClosedForm) {
  const std::vector<double> s = EdmRhoSteps::Sigmas(18, {});
  ExpectWellFormed<EdmRhoSteps>(s, 18);
  EXPECT_NEAR(s[0], 80.0, 1e-12);
  EXPECT_NEAR(s[17], 0.002, 1e-15);
  // ρ-th root of σ_i is linear in i (Eq. 5).
  for (int i = 1; i + 1 < 18; ++i) {
    EXPECT_NEAR(std::pow(s[i + 1], 1 / 7.0) - std::pow(s[i], 1 / 7.0),
                std::pow(s[i], 1 / 7.0) - std::pow(s[i - 1], 1 / 7.0), 1e-12);
  }
}

TEST(EdmRhoStepsTest, RhoOneIsLinear) {
  const std::vector<double> s = EdmRhoSteps::Sigmas(5, {1.0, 9.0, 1.0});
  const std::vector<double> expected = {9, 7, 5, 3, 1, 0};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(s[i], expected[i], 1e-12);
}

TEST(EdmRhoStepsTest, SingleStepStartsAtSigmaMax) {
  const std::vector<double> s = EdmRhoSteps::Sigmas(1, {});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 80, 1e-12);
  EXPECT_EQ(s[1], 0);
  EXPECT_THROW(EdmRhoSteps::Sigmas(0, {}), std::invalid_argument);
}

TEST(VpStepsTest, UniformInTime) {
  const int n = 10;
  const std::vector<double> s = VpSteps::Sigmas(n, {});
  ExpectWellFormed<VpSteps>(s, n);
  const VpSchedule vp;
  EXPECT_NEAR(s[0], 152.1669702839464, 1e-9);
  EXPECT_NEAR(s[n - 1], 0.010485992786706403, 1e-12);
  // t_i = σ⁻¹(σ_i) is evenly spaced from 1 to ε_s.
  for (int i = 0; i < n; ++i) EXPECT_NEAR(vp.sigma_inv(s[i]), 1 + i / 9.0 * (1e-3 - 1), 1e-12);
}

TEST(VeStepsTest, Geometric) {
  const int n = 7;
  const std::vector<double> s = VeSteps::Sigmas(n, {});
  ExpectWellFormed<VeSteps>(s, n);
  EXPECT_NEAR(s[0], 100, 1e-10);
  EXPECT_NEAR(s[n - 1], 0.02, 1e-14);
  for (int i = 1; i + 1 < n; ++i) EXPECT_NEAR(s[i] * s[i], s[i - 1] * s[i + 1], 1e-9 * s[i] * s[i]);
}

TEST(IddpmStepsTest, IndicesIntoTable) {
  const int n = 18;
  const std::vector<double> s = IddpmSteps::Sigmas(n, {});
  ExpectWellFormed<IddpmSteps>(s, n);
  const std::vector<double> u = IddpmSigmas();
  EXPECT_EQ(s[0], u[8]);
  EXPECT_EQ(s[n - 1], u[999]);
  // ⌊8 + 991/17·i + ½⌋ for i = 1: 8 + 58.29… → 66.
  EXPECT_EQ(s[1], u[66]);
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
