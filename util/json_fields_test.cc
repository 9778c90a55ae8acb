#include "util/json_fields.h"

#include <cstdint>
#include <utility>
#include <vector>

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
  const nlohmann::json array = nlohmann::json::array();
  JsonFields c(array, "g");
  c.Number("x");
  EXPECT_EQ(c.status().message(), "g: field 'x' is not inside a JSON object");
}

TEST(JsonFieldsTest, ArraysOfRecordsReadEachElementAndNameTheBadOne) {
  using Point = std::pair<int64_t, double>;
  auto read = [](JsonFields& f) { return Point(f.Integer("n"), f.Number("x")); };
  const nlohmann::json good = nlohmann::json::parse(R"([{"n": 1, "x": 0.5}, {"n": 2, "x": 1.5}])");
  absl::StatusOr<std::vector<Point>> v = ReadJsonArray<Point>(good, "r.json", "points", read);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, (std::vector<Point>{{1, 0.5}, {2, 1.5}}));
  const nlohmann::json bad = nlohmann::json::parse(R"([{"n": 1, "x": 0.5}, {"n": "two", "x": 1.5}])");
  EXPECT_EQ(ReadJsonArray<Point>(bad, "r.json", "points", read).status().message(),
            "r.json: points[1]: field 'n' must be an integer");
  EXPECT_EQ(ReadJsonArray<Point>(nlohmann::json::object(), "r.json", "points", read).status().message(),
            "r.json: points must be an array");
}

}  // namespace
}  // namespace diffmem::util
