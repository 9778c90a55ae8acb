#include "tools/sampler_flags.h"

#include "gtest/gtest.h"

namespace diffmem::tools {
namespace {

TEST(SamplerFlagsTest, SeedRangesAsEdmWritesThem) {
  EXPECT_EQ(*ParseSeeds("0-3,7"), (std::vector<uint64_t>{0, 1, 2, 3, 7}));
  EXPECT_EQ(*ParseSeeds("5"), (std::vector<uint64_t>{5}));
  EXPECT_EQ(ParseSeeds("9999")->size(), 1u);
  EXPECT_EQ(ParseSeeds("0-9999")->size(), 10000u);
  for (const char* bad : {"", "x", "3-1", "1-", "-4", "1--2"}) {
    absl::StatusOr<std::vector<uint64_t>> s = ParseSeeds(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().message().rfind("--seeds: ", 0), 0u) << s.status();
  }
}

TEST(SamplerFlagsTest, SamplePathsAsEdmsGenerate) {
  SampleOutput flat{"out", false, "out_grid.png"};
  EXPECT_EQ(flat.PathOf(42), "out/000042.png");
  SampleOutput nested{"out", true, "g.png"};
  EXPECT_EQ(nested.PathOf(42), "out/000000/000042.png");
  EXPECT_EQ(nested.PathOf(12345), "out/012000/012345.png");
  const SampleOutput defaults = SampleOutputFromFlags("runs/a/samples/");
  EXPECT_EQ(defaults.dir, "runs/a/samples");
  EXPECT_EQ(defaults.grid, "runs/a/samples_grid.png");  // beside the folder, not in it
  const absl::StatusOr<diffusion::SamplerConfig> c = SamplerConfigFromFlags();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_steps, 18);
  EXPECT_EQ(c->solver, "heun");
  EXPECT_FALSE(c->sigma_min.has_value());
}

}  // namespace
}  // namespace diffmem::tools
