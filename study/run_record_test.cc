#include "study/run_record.h"

#include <string>

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

EmmRunRecord Record() {
  EmmRunRecord r;
  r.n = 40;
  r.run_dir = "runs/n000040";
  r.samples = 64;
  r.memorized = 60;
  r.ratio = 60.0 / 64;
  r.ci_low = 0.85;
  r.ci_high = 0.98;
  r.optimum_ratio = 1.0;
  r.optimum_samples = 64;
  r.weights = training::Weights::kEma;
  r.train_steps = 4000;
  r.train_images = 256000;
  r.stop = RunStop::kPassed;
  r.stop_reason = "test";
  r.train_seconds = 60;
  r.evaluate_seconds = 0.25;
  r.curve = {{64, 0.0, 0.0, 0.05, 64}, {128, r.ratio, r.ci_low, r.ci_high, 64}};
  return r;
}

TEST(RunRecordTest, RoundTrips) {
  const EmmRunRecord r = Record();
  const nlohmann::json j = EmmRunRecordToJson(r);
  EXPECT_DOUBLE_EQ(j["wall_seconds"].get<double>(), 60.25);
  absl::StatusOr<EmmRunRecord> back = EmmRunRecordFromJson(j, "result.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EmmRunRecordToJson(*back), j);
  EXPECT_EQ(back->curve.size(), 2u);
  EXPECT_EQ(back->curve[1].images, 128);
}

TEST(RunRecordTest, EnumsAreNamesInJson) {
  const nlohmann::json j = EmmRunRecordToJson(Record());
  EXPECT_EQ(j["weights"], "ema");
  EXPECT_EQ(j["stop"], "passed");
  EXPECT_TRUE(j["optimum_ratio"].is_number());
  EmmRunRecord none = Record();
  none.optimum_ratio.reset();
  EXPECT_TRUE(EmmRunRecordToJson(none)["optimum_ratio"].is_null());
  EXPECT_EQ(RunStopOf(EarlyStop::kPlateaued), RunStop::kPlateaued);
  EXPECT_EQ(RunStopOf(EarlyStop::kPassed), RunStop::kPassed);
  EXPECT_EQ(RunStopOf(EarlyStop::kContinue), RunStop::kDuration);
  nlohmann::json bad = j;
  bad["weights"] = "best";
  EXPECT_EQ(EmmRunRecordFromJson(bad, "x.json").status().message(), "x.json: field 'weights' must be \"raw\" or \"ema\"");
  bad = j;
  bad["curve"][0]["ratio"] = 1.5;
  EXPECT_EQ(EmmRunRecordFromJson(bad, "x.json").status().message(), "x.json: curve[0]: field 'ratio' must be in [0, 1]");
}

}  // namespace
}  // namespace study
}  // namespace diffmem
