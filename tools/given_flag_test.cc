#include "tools/given_flag.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "gtest/gtest.h"

using diffmem::tools::Given;

ABSL_FLAG(Given<int64_t>, width, {}, "an integer flag");
ABSL_FLAG(Given<std::string>, attn, {}, "a list flag whose empty value means something");
ABSL_FLAG(Given<double>, rate, {}, "a flag only a flagfile sets");
ABSL_FLAG(Given<bool>, early, {}, "a boolean flag");
ABSL_FLAG(Given<int64_t>, untouched, {}, "a flag nobody sets");

namespace diffmem::tools {
namespace {

// The command line, a flagfile and the empty value all count as given;
// a flag not named anywhere stays unset, so a base configuration keeps its value.
TEST(GivenFlagTest, RemembersWhatTheCommandLineSet) {
  const std::string flagfile = ::testing::TempDir() + "/flags.txt";
  std::ofstream(flagfile) << "--rate=0.5\n";
  std::vector<std::string> args = {"tool", "--width=32", "--attn=", "--early=false", "--flagfile=" + flagfile};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(argv.size()), argv.data());

  EXPECT_EQ(absl::GetFlag(FLAGS_width).value, std::optional<int64_t>(32));
  ASSERT_TRUE(absl::GetFlag(FLAGS_attn).given());
  EXPECT_EQ(*absl::GetFlag(FLAGS_attn).value, "");  // "no attention", not "not given"
  EXPECT_EQ(absl::GetFlag(FLAGS_rate).value, std::optional<double>(0.5));
  EXPECT_EQ(absl::GetFlag(FLAGS_early).value, std::optional<bool>(false));
  EXPECT_FALSE(absl::GetFlag(FLAGS_untouched).given());

  int64_t width = 128, untouched = 7;
  Overlay(absl::GetFlag(FLAGS_width), width);
  Overlay(absl::GetFlag(FLAGS_untouched), untouched);
  EXPECT_EQ(width, 32);
  EXPECT_EQ(untouched, 7);
}

TEST(GivenFlagTest, ParsesAndUnparsesThroughTheValueType) {
  Given<int64_t> g;
  std::string error;
  EXPECT_FALSE(AbslParseFlag("x12", &g, &error));
  EXPECT_FALSE(g.given());
  EXPECT_TRUE(AbslParseFlag("12", &g, &error));
  EXPECT_EQ(AbslUnparseFlag(g), "12");
  EXPECT_EQ(AbslUnparseFlag(Given<int64_t>()), "");
  // An empty value: a string given as "", any other type not given.
  EXPECT_TRUE(AbslParseFlag("", &g, &error));
  EXPECT_FALSE(g.given());
  Given<std::string> s;
  EXPECT_TRUE(AbslParseFlag("", &s, &error));
  EXPECT_EQ(s.value, std::optional<std::string>(""));
}

}  // namespace
}  // namespace diffmem::tools
