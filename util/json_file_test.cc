#include "util/json_file.h"

#include <string>

#include "gtest/gtest.h"

namespace diffmem::util {
namespace {

TEST(JsonFileTest, RoundTripsAndEndsWithNewline) {
  const std::string path = ::testing::TempDir() + "/a.json";
  const nlohmann::json j = {{"b", 1}, {"a", {{"x", 0.5}, {"y", "s"}}}};
  ASSERT_TRUE(WriteJsonFile(path, j).ok());
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, j.dump(2) + "\n");
  absl::StatusOr<nlohmann::json> back = ReadJsonFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, j);
}

TEST(JsonFileTest, ErrorsNameTheFile) {
  const std::string missing = ::testing::TempDir() + "/missing.json";
  EXPECT_EQ(ReadJsonFile(missing).status().code(), absl::StatusCode::kNotFound);
  const std::string bad = ::testing::TempDir() + "/bad.json";
  ASSERT_TRUE(WriteFileAtomically(bad, "{\"a\": ").ok());
  absl::StatusOr<nlohmann::json> r = ReadJsonFile(bad);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find(bad), std::string::npos) << r.status();
}

TEST(FirstJsonDifferenceTest, NamesThePathOfTheFirstChange) {
  const nlohmann::json a = {{"training", {{"lr", 0.001}, {"batch", 64}}}, {"seed", 1}};
  EXPECT_EQ(FirstJsonDifference(a, a), "");
  nlohmann::json b = a;
  b["training"]["lr"] = 0.002;
  EXPECT_EQ(FirstJsonDifference(a, b), "training.lr: was 0.001, now 0.002");
  nlohmann::json c = a;
  c["extra"] = true;
  EXPECT_EQ(FirstJsonDifference(a, c), "extra: absent before, now true");
  nlohmann::json d = a;
  d.erase("seed");
  EXPECT_EQ(FirstJsonDifference(a, d), "seed: was 1, now absent");
  EXPECT_EQ(FirstJsonDifference(nlohmann::json(1), nlohmann::json(2)), "value: was 1, now 2");
  EXPECT_EQ(FirstJsonDifference(nlohmann::json::array({1, 2}), nlohmann::json::array({1, 3})),
            "value: was [1,2], now [1,3]");
}

}  // namespace
}  // namespace diffmem::util
