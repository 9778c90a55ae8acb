#include "util/json_visit.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "util/enum_names.h"

namespace diffmem {
namespace {

enum class Mode { kFast, kExact };

}  // namespace

template <>
struct EnumNames<Mode> {
  static constexpr std::pair<Mode, const char*> kNames[] = {{Mode::kFast, "fast"}, {Mode::kExact, "exact"}};
};

namespace {

struct Inner {
  int64_t width = 1;
};

struct Options {
  int64_t steps = 10;
  uint64_t seed = 0;
  double rate = 0.5;
  bool on = false;
  std::string name = "a";
  std::vector<int64_t> sizes = {1, 2};
  Mode mode = Mode::kFast;
  int64_t hex = 255;     // stored as text: "ff"
  double newer = 7;      // absent in old files
  Inner inner;
};

template <class T, class V>
void VisitOptionsFields(T& o, V& v) {
  v("steps", o.steps);
  v("seed", o.seed);
  v("rate", o.rate);
  v("on", o.on);
  v("name", o.name);
  v("sizes", o.sizes);
  v("mode", o.mode);
  v.Text(
      "hex", o.hex, [](int64_t x) { return absl::StrCat(absl::Hex(x)); },
      [](const std::string& s) -> absl::StatusOr<int64_t> {
        int64_t x = 0;
        if (!absl::SimpleHexAtoi(s, &x)) return absl::InvalidArgumentError("must be hexadecimal");
        return x;
      });
  v("newer", o.newer, util::kOptional);
  v.Object("inner", o.inner, [](auto& i, auto& w) { w("width", i.width); });
}

auto Visit = [](auto& o, auto& v) { VisitOptionsFields(o, v); };

TEST(JsonVisitTest, WritesEveryFieldAndReadsItBack) {
  Options o;
  o.steps = 42;
  o.seed = 18446744073709551615ull;  // 2^64 − 1
  o.rate = 0.125;
  o.on = true;
  o.name = "b";
  o.sizes = {3, 4, 5};
  o.mode = Mode::kExact;
  o.hex = 4096;
  o.newer = 8;
  o.inner.width = 9;
  const nlohmann::json j = util::JsonWriter::Write(o, Visit);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"steps": 42, "seed": 18446744073709551615, "rate": 0.125, "on": true,
      "name": "b", "sizes": [3, 4, 5], "mode": "exact", "hex": "1000", "newer": 8, "inner": {"width": 9}})"));
  absl::StatusOr<Options> back = util::JsonReader::Read<Options>(j, "f.json", Visit);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(util::JsonWriter::Write(*back, Visit), j);
  EXPECT_EQ(back->seed, o.seed);
}

TEST(JsonVisitTest, AnOptionalFieldKeepsItsDefaultWhenAbsent) {
  nlohmann::json j = util::JsonWriter::Write(Options(), Visit);
  j.erase("newer");
  absl::StatusOr<Options> back = util::JsonReader::Read<Options>(j, "f.json", Visit);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->newer, 7);
}

TEST(JsonVisitTest, ProblemsNameTheFileAndTheField) {
  const nlohmann::json good = util::JsonWriter::Write(Options(), Visit);
  auto problem = [&](const char* key, nlohmann::json value) {
    nlohmann::json j = good;
    if (value.is_discarded()) {
      j.erase(key);
    } else {
      j[key] = value;
    }
    return std::string(util::JsonReader::Read<Options>(j, "f.json", Visit).status().message());
  };
  const nlohmann::json missing = nlohmann::json::value_t::discarded;
  EXPECT_EQ(problem("steps", missing), "f.json: field 'steps' is missing");
  EXPECT_EQ(problem("rate", "fast"), "f.json: field 'rate' must be a number");
  EXPECT_EQ(problem("mode", "slow"), "f.json: field 'mode' unknown mode 'slow' (expected one of: fast, exact)");
  EXPECT_EQ(problem("mode", 1), "f.json: field 'mode' must be a string");
  EXPECT_EQ(problem("sizes", nlohmann::json::array({1, "x"})), "f.json: field 'sizes' must be an array of integers");
  EXPECT_EQ(problem("hex", "zz"), "f.json: field 'hex' must be hexadecimal");
  EXPECT_EQ(problem("inner", nlohmann::json::object()),
            "f.json: inner: field 'width' is missing");
  EXPECT_FALSE(util::JsonReader::Read<Options>(nlohmann::json::array(), "f.json", Visit).ok());
}

}  // namespace
}  // namespace diffmem
