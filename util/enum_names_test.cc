#include "util/enum_names.h"

#include "gtest/gtest.h"

namespace diffmem {
namespace {

enum class Color { kRed, kGreen };

}  // namespace

template <>
struct EnumNames<Color> {
  static constexpr std::pair<Color, const char*> kNames[] = {{Color::kRed, "red"}, {Color::kGreen, "green"}};
};

namespace {

TEST(EnumNamesTest, RoundTrips) {
  for (Color c : {Color::kRed, Color::kGreen}) {
    absl::StatusOr<Color> back = ParseEnum<Color>(EnumName(c), "color");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, c);
  }
  EXPECT_STREQ(EnumName(Color::kGreen), "green");
}

TEST(EnumNamesTest, UnknownNameListsTheValidOnes) {
  absl::StatusOr<Color> c = ParseEnum<Color>("blue", "color");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(), "unknown color 'blue' (expected one of: red, green)");
}

}  // namespace
}  // namespace diffmem
