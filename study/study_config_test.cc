#include "study/study_config.h"

#include <string>

#include "gtest/gtest.h"
#include "study/presets.h"

namespace diffmem {
namespace study {
namespace {

TEST(StudyConfigTest, JsonRoundTripsEveryPreset) {
  for (const std::string& name : RegistryNames<StudyPresets>()) {
    absl::StatusOr<EmmStudyConfig> c = PresetConfig(name);
    ASSERT_TRUE(c.ok()) << name << ": " << c.status();
    if (name == "paper_cifar10") {
      // CIFAR-10 is the user's to give: the error says how.
      EXPECT_NE(ValidateEmmStudyConfig(*c).message().find("--data=cifar10:DIR"), std::string::npos);
      c->data_spec = "cifar10:/data/cifar-10-batches-bin";
    }
    if (name == "none") {
      // Generic defaults name no duration: the flags must give one.
      EXPECT_NE(ValidateEmmStudyConfig(*c).message().find("--steps"), std::string::npos);
      c->train.steps = 100;
    }
    ASSERT_TRUE(ValidateEmmStudyConfig(*c).ok()) << name << ": " << ValidateEmmStudyConfig(*c);
    const nlohmann::json j = EmmStudyConfigToJson(*c);
    absl::StatusOr<EmmStudyConfig> back = EmmStudyConfigFromJson(j, "study.json");
    ASSERT_TRUE(back.ok()) << name << ": " << back.status();
    EXPECT_EQ(EmmStudyConfigToJson(*back), j) << name;
  }
}

// The enums are names in study.json, as report.json readers expect.
TEST(StudyConfigTest, WeightsAreNamesAndMetricsComeFromTheRegistry) {
  EmmStudyConfig c = FashionCpuPreset::Config();
  c.weights = training::Weights::kEma;
  EXPECT_EQ(EmmStudyConfigToJson(c)["evaluation"]["weights"], "ema");
  for (const std::string& metric : RegistryNames<memorization::DistanceMetrics>()) {
    c.metric = metric;
    EXPECT_TRUE(ValidateEmmStudyConfig(c).ok()) << metric;
  }
  c.metric = "l3";
  absl::Status s = ValidateEmmStudyConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--metric: unknown metric 'l3' (expected one of: l2, sql2, l1, cosine, linf)");
}

TEST(StudyConfigTest, BadFieldsNameTheFlagOrTheField) {
  EmmStudyConfig c = FashionCpuPreset::Config();
  c.samples = 0;
  EXPECT_EQ(ValidateEmmStudyConfig(c).message(), "--samples: must be >= 1");
  c = FashionCpuPreset::Config();
  c.early_stop_min_fraction = 2;
  EXPECT_EQ(ValidateEmmStudyConfig(c).message(), "--early_stop_min_fraction: must be in [0, 1]");

  const nlohmann::json good = EmmStudyConfigToJson(FashionCpuPreset::Config());
  auto error_of = [](const nlohmann::json& j) {
    absl::StatusOr<EmmStudyConfig> r = EmmStudyConfigFromJson(j, "s.json");
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  nlohmann::json j = good;
  j["format"] = "something.else";
  EXPECT_NE(error_of(j).find("field 'format'"), std::string::npos) << error_of(j);
  j = good;
  j["evaluation"]["weights"] = "best";
  EXPECT_EQ(error_of(j), "s.json: evaluation: field 'weights' must be \"raw\" or \"ema\"");
  j = good;
  j["early_stop"]["patience"] = "three";
  EXPECT_EQ(error_of(j), "s.json: early_stop: field 'patience' must be an integer");
  j = good;
  j["data"]["subset"] = "stratified";
  EXPECT_NE(error_of(j).find("--subset"), std::string::npos) << error_of(j);
  j = good;
  j["search"]["max_runs"] = 0;
  EXPECT_NE(error_of(j).find("max_runs"), std::string::npos) << error_of(j);
  j = good;
  j.erase("network");
  EXPECT_EQ(error_of(j), "s.json: field 'network' is missing");
}

}  // namespace
}  // namespace study
}  // namespace diffmem
