#include "memorization/metric_registry.h"

#include <torch/types.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "memorization/distance.h"
#include "memorization/memorization_ratio.h"
#include "util/type_registry.h"

namespace diffmem::memorization {
namespace {

// L1 under another name: a metric the built-in list does not have.
struct RenamedL1 : L1Distance {
  static constexpr const char* kName = "renamed_l1";
};

TEST(MetricRegistryTest, RatioUnderANameIsTheRatioUnderItsType) {
  torch::manual_seed(3);
  const torch::Tensor train = torch::rand({40, 12});
  const torch::Tensor samples = torch::cat({train.narrow(0, 0, 5) + 1e-3, torch::rand({7, 12})});
  const MetricRegistry metrics = MetricRegistryOf<>();
  EXPECT_EQ(metrics.names, RegistryNames<DistanceMetrics>());
  for (const char* name : {"l2", "l1", "linf"}) {
    absl::StatusOr<MemorizationReport> r = metrics.Ratio(name, samples, train, {});
    ASSERT_TRUE(r.ok()) << r.status();
    const MemorizationReport direct = std::string(name) == "l2"   ? MemorizationRatio<L2Distance>(samples, train)
                                      : std::string(name) == "l1" ? MemorizationRatio<L1Distance>(samples, train)
                                                                  : MemorizationRatio<LInfDistance>(samples, train);
    EXPECT_EQ(r->memorized, direct.memorized) << name;
    ASSERT_EQ(r->samples.size(), direct.samples.size());
    for (size_t i = 0; i < direct.samples.size(); ++i) {
      EXPECT_EQ(r->samples[i].nearest, direct.samples[i].nearest) << name << " sample " << i;
      EXPECT_EQ(r->samples[i].d1, direct.samples[i].d1) << name << " sample " << i;
    }
  }
}

TEST(MetricRegistryTest, AnAppendedMetricIsOfferedAndAnUnknownNameListsTheValidOnes) {
  const MetricRegistry metrics = MetricRegistryOf<Append<DistanceMetrics, RenamedL1>>();
  EXPECT_EQ(metrics.names.back(), "renamed_l1");
  EXPECT_TRUE(metrics.Check("renamed_l1").ok());
  const torch::Tensor train = torch::eye(4), samples = torch::eye(4).narrow(0, 0, 2);
  absl::StatusOr<MemorizationReport> r = metrics.Ratio("renamed_l1", samples, train, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->memorized, 2);  // copies of training rows
  const absl::Status unknown = MetricRegistryOf<>().Check("renamed_l1");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.message().find("unknown metric 'renamed_l1' (expected one of: l2,"), std::string::npos) << unknown;
  EXPECT_FALSE(MetricRegistryOf<>().Ratio("renamed_l1", samples, train, {}).ok());
}

}  // namespace
}  // namespace diffmem::memorization
