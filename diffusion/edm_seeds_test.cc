#include "diffusion/edm_seeds.h"

#include <cstdio>
#include <string>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/edm_sampler.h"
#include "diffusion/seeded_noise.h"
#include "gtest/gtest.h"
#include "networks/edm_architecture.h"
#include "networks/edm_state_dict.h"
#include "networks/state_dict_file.h"
#include "testing/edm_fixtures.h"

namespace diffmem {
namespace diffusion {
namespace {

using testing_edm::ReadEdmFixture;

std::vector<uint64_t> Seeds(const torch::Tensor& t) {
  std::vector<uint64_t> out;
  for (int64_t i = 0; i < t.numel(); ++i) out.push_back(static_cast<uint64_t>(t[i].item<int64_t>()));
  return out;
}

// generate.py's StackedRandomGenerator on the CPU, as Python drew it
// (noise.pt): latents, labels, then float64 step noise, bit for bit. One seed
// is 2^32 + 7, which EDM takes mod 2^32.
TEST(EdmSeedsTest, PerSeedDrawsAreEdmsBitForBit) {
  const networks::StateDict ref = ReadEdmFixture("noise.pt");
  const std::vector<uint64_t> seeds = Seeds(*networks::FindTensor(ref, "seeds"));
  ASSERT_EQ(seeds.back(), (uint64_t{1} << 32) + 7);
  PerSeedNoise noise(seeds);
  EXPECT_TRUE(torch::equal(noise.Randn({3, 8, 8}), *networks::FindTensor(ref, "latents")));
  EXPECT_TRUE(torch::equal(noise.RandInt(10), *networks::FindTensor(ref, "labels")));
  const torch::Tensor steps = *networks::FindTensor(ref, "step_noise");
  EXPECT_TRUE(torch::equal(noise.Randn({3, 8, 8}, torch::kFloat64), steps[0]));
  EXPECT_TRUE(torch::equal(noise.Randn({3, 8, 8}, torch::kFloat64), steps[1]));
  // SeedLabels: the same classes, on their own.
  EXPECT_TRUE(torch::equal(SeedLabels(seeds, {3, 8, 8}, 10), *networks::FindTensor(ref, "labels")));
}

class EdmSamplerReference : public ::testing::Test {
 protected:
  void SetUp() override {
    const networks::StateDict sd = ReadEdmFixture("ddpmpp_vp.pt");
    absl::StatusOr<networks::NetworkConfig> c = networks::InferEdmNetwork(sd, "ddpmpp_vp.pt", "vp");
    ASSERT_TRUE(c.ok()) << c.status();
    net_ = networks::UNet<networks::DdpmppSpec>(c->unet);
    ASSERT_TRUE((networks::LoadEdmStateDict<VpPreconditioner>(sd, "ddpmpp_vp.pt", net_).ok()));
    net_->eval();
    ref_ = ReadEdmFixture("sampler.pt");
    seeds_ = Seeds(*networks::FindTensor(ref_, "seeds"));
  }
  // max |a − b| / max |b|.
  static double RelativeError(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b).abs().max().item<double>() / b.abs().max().item<double>();
  }

  networks::UNet<networks::DdpmppSpec> net_ = nullptr;
  networks::StateDict ref_;
  std::vector<uint64_t> seeds_;
};

// EDM's edm_sampler (generate.py, CPU) on the imported network: the same
// random classes and, up to float rounding, the same images, with and
// without churn restricted to S_min <= σ <= S_max.
TEST_F(EdmSamplerReference, ImagesAreEdms) {
  Denoiser<VpPreconditioner, networks::UNet<networks::DdpmppSpec>> denoiser(net_);
  SamplerOptions churn;
  churn.s_churn = 10;
  churn.s_min = 0.05;
  churn.s_max = 10;
  churn.s_noise = 1.003;
  for (const char* name : {"deterministic", "churn"}) {
    const bool stochastic = std::string(name) == "churn";
    EdmSampler<HeunSolver, EdmRhoSteps> sampler(stochastic ? churn : SamplerOptions());
    EdmSeedSample s = SampleWithEdmSeeds(sampler, denoiser, seeds_, {3, 8, 8}, /*label_dim=*/3);
    EXPECT_TRUE(torch::equal(s.labels, *networks::FindTensor(ref_, std::string(name) + "_labels"))) << name;
    const torch::Tensor want = *networks::FindTensor(ref_, name);
    const double err = RelativeError(s.images, want);
    std::printf("%s: max |diff| / max |EDM| = %.3g (max |EDM| = %.4g)\n", name, err, want.abs().max().item<double>());
    EXPECT_LT(err, 1e-5) << name;

    // diffmem's own convention, given EDM's labels: the same images without
    // churn (same latents), other images with churn on some steps only.
    const double own = RelativeError(sampler.SampleFromSeeds(denoiser, seeds_, {3, 8, 8}, s.labels), want);
    if (stochastic) {
      EXPECT_GT(own, 1e-2);
    } else {
      EXPECT_LT(own, 1e-5);
    }
  }
  // The same weights under VE preconditioning: EDM discretizes σ in [0.02, 80],
  // where diffmem's own sampler clamps the levels of [0.002, 80] to σ >= 0.02.
  {
    Denoiser<VePreconditioner, networks::UNet<networks::DdpmppSpec>> ve(net_);
    EdmSampler<HeunSolver, EdmRhoSteps> plain;
    EdmSeedSample s = SampleWithEdmSeeds(plain, ve, seeds_, {3, 8, 8}, /*label_dim=*/3);
    const torch::Tensor want = *networks::FindTensor(ref_, "ve");
    const double err = RelativeError(s.images, want);
    std::printf("ve: max |diff| / max |EDM| = %.3g\n", err);
    EXPECT_LT(err, 1e-5);
    // (The level sets differ most at small σ, where images change least: ~3e-5 here, float error ~5e-8.)
    EXPECT_GT(RelativeError(plain.SampleFromSeeds(ve, seeds_, {3, 8, 8}, s.labels), want), 1e-6);
  }
  // A fixed class (EDM's --class) replaces the drawn one.
  EdmSampler<HeunSolver, EdmRhoSteps> sampler(churn);
  EdmSeedSample fixed = SampleWithEdmSeeds(sampler, denoiser, seeds_, {3, 8, 8}, 3, /*class_label=*/2);
  EXPECT_TRUE(torch::equal(fixed.labels, torch::full({4}, 2, torch::kInt64)));
}

}  // namespace
}  // namespace diffusion
}  // namespace diffmem
