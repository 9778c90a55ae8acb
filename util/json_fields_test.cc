#include "util/json_fields.h"

#include "gtest/gtest.h"

namespace diffmem::util {
namespace {

TEST(JsonFieldsTest, ReadsTypedFields) {
  const nlohmann::json j = {{"n", 40}, {"r", 0.5}, {"s", "ema"}, {"b", true}, {"o", nullptr}, {"a", {1, 2}}};
  JsonFields f(j, "x.json");
  EXPECT_EQ(f.Integer("n"), 40);
  EXPECT_EQ(f.Number("r"), 0.5);
  EXPECT_EQ(f.Number("n"), 40.0);  // an integer is a number
  EXPECT_EQ(f.String("s"), "ema");
  EXPECT_TRUE(f.Bool("b"));
  EXPECT_FALSE(f.OptionalNumber("o").has_value());
  EXPECT_FALSE(f.OptionalInteger("absent").has_value());
  ASSERT_NE(f.Array("a"), nullptr);
  EXPECT_TRUE(f.status().ok()) << f.status();
}

TEST(JsonFieldsTest, TheFirstProblemIsKeptAndNamed) {
  const nlohmann::json j = {{"n", 1.5}, {"s", 3}};
  JsonFields f(j, "runs/n000040/emm_result.json");
  f.Integer("n");
  f.String("s");
  f.Number("missing");
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.status().message(), "runs/n000040/emm_result.json: field 'n' must be an integer");
}

TEST(JsonFieldsTest, ChecksAndMissingFields) {
  const nlohmann::json j = {{"ratio", 2.0}, {"null", nullptr}};
  JsonFields a(j, "f");
  a.Get("null");
  EXPECT_EQ(a.status().message(), "f: field 'null' is missing");
  JsonFields b(j, "f");
  b.Check(b.Number("ratio") <= 1, "ratio", "must be in [0, 1]");
  EXPECT_EQ(b.status().message(), "f: field 'ratio' must be in [0, 1]");
  JsonFields c(nlohmann::json::array(), "g");
  c.Number("x");
  EXPECT_EQ(c.status().message(), "g: field 'x' is not inside a JSON object");
}

}  // namespace
}  // namespace diffmem::util
