#include "study/emm_search_json.h"

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

TEST(EmmSearchJsonTest, OptionsRoundTripAndAreValidated) {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 320;
  o.n_start = 0;  // written as the start actually used (n_min)
  o.granularity = 10;
  o.precision = 1.25;
  o.max_runs = 6;
  o.extra_n = {320};
  const nlohmann::json j = EmmSearchOptionsToJson(o);
  EXPECT_EQ(j["n_start"], 10);
  absl::StatusOr<EmmSearchOptions> back = EmmSearchOptionsFromJson(j, "s");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EmmSearchOptionsToJson(*back), j);
  nlohmann::json bad = j;
  bad["growth"] = 0.5;
  EXPECT_NE(EmmSearchOptionsFromJson(bad, "s").status().message().find("growth"), std::string::npos);
  bad = j;
  bad["extra_n"] = {"x"};
  EXPECT_EQ(EmmSearchOptionsFromJson(bad, "s").status().message(), "s: field 'extra_n' must be an array of integers");
  bad = j;
  bad.erase("max_runs");
  EXPECT_EQ(EmmSearchOptionsFromJson(bad, "s").status().message(), "s: field 'max_runs' is missing");
  bad = j;
  bad.erase("extra_n");  // older studies have none
  EXPECT_TRUE(EmmSearchOptionsFromJson(bad, "s").ok());
}

TEST(EmmSearchJsonTest, EstimateNamesNoneAsNull) {
  EmmSearchOptions o;
  EmmEstimate e;
  e.status = EmmSearchStatus::kMemorizesNowhere;
  e.n_hi = 10;
  const nlohmann::json j = EmmEstimateToJson(e, o);
  EXPECT_TRUE(j["emm"].is_null());
  EXPECT_EQ(j["bracket"], nlohmann::json({nullptr, 10}));
  EXPECT_EQ(j["status"], "memorizes_nowhere");
  EXPECT_DOUBLE_EQ(j["threshold"].get<double>(), 0.9);
}

}  // namespace
}  // namespace study
}  // namespace diffmem
