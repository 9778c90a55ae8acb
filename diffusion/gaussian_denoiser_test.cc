#include "diffusion/gaussian_denoiser.h"

#include <cmath>

#include "diffusion/denoiser.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace diffusion {
namespace {

static_assert(IsDenoiser<GaussianDenoiser>::value, "");
static_assert(IsDenoiser<const GaussianDenoiser>::value, "");

// E[y | y + σn = x] for y ~ N(μ, s²) by quadrature of Bayes' rule in double.
double PosteriorMean(double x, double sigma, double mu, double s) {
  double num = 0, den = 0;
  const int k = 20001;
  for (int i = 0; i < k; ++i) {
    const double y = mu - 10 * s + 20 * s * i / (k - 1);
    const double w = std::exp(-0.5 * std::pow((y - mu) / s, 2) - 0.5 * std::pow((x - y) / sigma, 2));
    num += w * y;
    den += w;
  }
  return num / den;
}

TEST(GaussianDenoiserTest, MatchesBayesPosteriorMean) {
  GaussianDenoiser d(torch::tensor({0.3, -0.2}).reshape({2, 1, 1}), torch::tensor({0.5, 0.1}).reshape({2, 1, 1}));
  torch::Tensor x = torch::tensor({0.9, -1.4, 2.0, 0.05}).reshape({2, 2, 1, 1});
  torch::Tensor sigma = torch::tensor({0.2f, 3.0f});
  torch::Tensor out = d(x, sigma, torch::Tensor());
  ASSERT_EQ(out.sizes(), x.sizes());
  const double mu[] = {0.3, -0.2}, s[] = {0.5, 0.1};
  for (int n = 0; n < 2; ++n) {
    for (int c = 0; c < 2; ++c) {
      const double expected = PosteriorMean(x[n][c].item<double>(), sigma[n].item<double>(), mu[c], s[c]);
      EXPECT_NEAR(out[n][c].item<double>(), expected, 1e-5) << n << " " << c;
    }
  }
}

TEST(GaussianDenoiserTest, Limits) {
  GaussianDenoiser d(torch::full({1, 2, 2}, 0.4), torch::full({1, 2, 2}, 0.3));
  torch::Tensor x = torch::randn({3, 1, 2, 2});
  EXPECT_TRUE(torch::allclose(d(x, torch::full({3}, 1e-4), torch::Tensor()), x, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(d(x, torch::full({3}, 1e4), torch::Tensor()), torch::full_like(x, 0.4), 1e-4, 1e-4));
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
