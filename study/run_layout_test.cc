#include "study/run_layout.h"

#include <string>

#include "gtest/gtest.h"
#include "study/presets.h"
#include "util/json_file.h"

namespace diffmem {
namespace study {
namespace {

EmmRunRecord Record(int64_t n, double ratio) {
  EmmRunRecord r;
  r.n = n;
  r.run_dir = EmmRunDirName(n);
  r.samples = 10;
  r.memorized = static_cast<int64_t>(ratio * 10);
  r.ratio = r.memorized / 10.0;
  r.ci_low = 0;
  r.ci_high = 1;
  return r;
}

TEST(RunLayoutTest, PrepareCreatesOrChecksTheStudy) {
  const std::string dir = ::testing::TempDir() + "/study";
  const EmmStudyConfig c = FashionCpuPreset::Config();
  ASSERT_TRUE(PrepareEmmStudy(dir, c).ok());
  absl::StatusOr<EmmStudyConfig> back = ReadEmmStudyConfig(dir);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EmmStudyConfigToJson(*back), EmmStudyConfigToJson(c));
  EXPECT_TRUE(PrepareEmmStudy(dir, c).ok());  // the same study again
  EmmStudyConfig other = c;
  other.train.lr = 5e-4;
  absl::Status s = PrepareEmmStudy(dir, other);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("training.lr: was 0.001, now 0.0005"), std::string::npos) << s;
}

TEST(RunLayoutTest, FinishedRunsAreThoseWithARecord) {
  const std::string dir = ::testing::TempDir() + "/runs_study";
  ASSERT_TRUE(PrepareEmmStudy(dir, FashionCpuPreset::Config()).ok());
  EXPECT_EQ(EmmRunDirName(40), "runs/n000040");
  for (int64_t n : {80, 20, 40}) {
    const std::string run = absl::StrCat(dir, "/", EmmRunDirName(n));
    std::filesystem::create_directories(run);
    if (n != 40) {
      ASSERT_TRUE(util::WriteJsonFile(EmmRunResultPath(run), EmmRunRecordToJson(Record(n, 0.5))).ok());
    }
  }
  absl::StatusOr<std::vector<EmmRunRecord>> runs = ReadFinishedEmmRuns(dir);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);  // n000040 has no record: unfinished
  EXPECT_EQ((*runs)[0].n, 20);
  EXPECT_EQ((*runs)[1].n, 80);
  // A damaged record is an error naming the file, not a silently skipped run.
  ASSERT_TRUE(util::WriteFileAtomically(EmmRunResultPath(absl::StrCat(dir, "/", EmmRunDirName(40))), "{").ok());
  absl::StatusOr<std::vector<EmmRunRecord>> broken = ReadFinishedEmmRuns(dir);
  EXPECT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("n000040/emm_result.json"), std::string::npos) << broken.status();
  EXPECT_TRUE(ReadFinishedEmmRuns(::testing::TempDir() + "/no_such_study")->empty());
}

}  // namespace
}  // namespace study
}  // namespace diffmem
