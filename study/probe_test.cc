#include "study/probe.h"

#include <string>

#include "gtest/gtest.h"
#include "util/atomic_file.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {
namespace {

TEST(ProbeTest, RoundTripsAndCutsBackToACheckpoint) {
  ProbeState p;
  for (int64_t step : {150, 300, 450}) {
    p.curve.push_back({step * 64, step / 1000.0, 0, 1, 64});
    p.steps.push_back(step);
  }
  p.train_seconds = 12.5;
  const std::string path = ::testing::TempDir() + "/emm_probe.json";
  ASSERT_TRUE(util::WriteJsonFile(path, ProbeStateToJson(p)).ok());
  ProbeState back = ReadProbeState(path);
  EXPECT_EQ(ProbeStateToJson(back), ProbeStateToJson(p));
  CutProbeStateAt(back, 300);  // a checkpoint at step 300: the probe at 450 is redone
  EXPECT_EQ(back.steps, (std::vector<int64_t>{150, 300}));
  ASSERT_EQ(back.curve.size(), 2u);
  EXPECT_EQ(back.curve.back().images, 300 * 64);
  CutProbeStateAt(back, 0);
  EXPECT_TRUE(back.curve.empty());
}

// A damaged probe file costs the probes, never the run.
TEST(ProbeTest, MissingOrDamagedFilesAreEmpty) {
  EXPECT_TRUE(ReadProbeState(::testing::TempDir() + "/missing.json").curve.empty());
  const std::string path = ::testing::TempDir() + "/bad_probe.json";
  for (const char* text : {"{", "[]", R"({"curve": [], "steps": [1], "train_seconds": 0})",
                           R"({"curve": [{"images": 1}], "steps": [1], "train_seconds": 0})"}) {
    ASSERT_TRUE(util::WriteFileAtomically(path, text).ok());
    const ProbeState p = ReadProbeState(path);
    EXPECT_TRUE(p.curve.empty() && p.steps.empty()) << text;
  }
}

}  // namespace
}  // namespace study
}  // namespace diffmem
