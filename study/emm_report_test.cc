#include "study/emm_report.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace study {
namespace {

EmmRunRecord MakeRun(int64_t n, int memorized, int samples) {
  EmmRunRecord r;
  r.n = n;
  r.run_dir = absl::StrCat("runs/n", n);
  r.samples = samples;
  r.memorized = memorized;
  r.ratio = static_cast<double>(memorized) / samples;
  r.ci_low = std::max(0.0, r.ratio - 0.05);
  r.ci_high = std::min(1.0, r.ratio + 0.05);
  r.optimum_ratio = 1.0;
  r.optimum_samples = samples;
  r.weights = training::Weights::kEma;
  r.train_steps = 100 * n;
  r.train_images = 6400 * n;
  r.stop = memorized == samples ? RunStop::kPassed : RunStop::kPlateaued;
  r.stop_reason = "test";
  r.train_seconds = 1.5 * n;
  r.evaluate_seconds = 0.25;
  r.curve = {{64, 0.0, 0.0, 0.05, 64}, {128, r.ratio, r.ci_low, r.ci_high, 64}};
  return r;
}

EmmSearchOptions Options() {
  EmmSearchOptions o;
  o.n_min = 10;
  o.n_max = 640;
  o.n_start = 20;
  o.granularity = 10;
  o.max_runs = 6;
  return o;
}

TEST(EmmReport, EstimateComesFromTheRunsAndRoundTrips) {
  const EmmReport r = MakeEmmReport({{"preset", "test"}, {"lr", 0.01}}, Options(), 1.0 / 3,
                                    {MakeRun(80, 10, 64), MakeRun(20, 64, 64), MakeRun(40, 60, 64)});
  ASSERT_EQ(r.runs.size(), 3u);
  EXPECT_EQ(r.runs[0].n, 20);  // sorted
  EXPECT_EQ(r.estimate.emm, std::optional<int64_t>(40));
  EXPECT_EQ(r.estimate.n_hi, std::optional<int64_t>(80));
  EXPECT_EQ(r.estimate.status, EmmSearchStatus::kSearching);
  EXPECT_EQ(r.next_runs, (std::vector<int64_t>{60}));  // sqrt(40 * 80) = 56.6 -> 60
  EXPECT_DOUBLE_EQ(r.wall_seconds(), 1.5 * (20 + 40 + 80) + 0.75);

  const nlohmann::json j = EmmReportToJson(r);
  EXPECT_EQ(j["format"], kEmmReportFormat);
  EXPECT_EQ(j["estimate"]["emm"], 40);
  EXPECT_EQ(j["estimate"]["bracket"], nlohmann::json({40, 80}));
  EXPECT_EQ(j["estimate"]["status"], "searching");
  EXPECT_DOUBLE_EQ(j["estimate"]["threshold"].get<double>(), 0.9);
  EXPECT_EQ(j["runs"][1]["curve"].size(), 2u);
  EXPECT_EQ(j["runs"][1]["weights"], "ema");
  EXPECT_EQ(j["config"]["preset"], "test");

  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/report.json");
  ASSERT_TRUE(util::WriteJsonFile(path, j).ok());
  absl::StatusOr<EmmReport> back = ReadEmmReport(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EmmReportToJson(*back), j);
}

TEST(EmmReport, TextHasTheSummaryAndOneLinePerRun) {
  const EmmReport r = MakeEmmReport({}, Options(), 1.0 / 3, {MakeRun(20, 64, 64), MakeRun(40, 6, 64)});
  // Log-linear crossing of 0.9 between (20, 1.0) and (40, 6/64): 20 * 2^(0.1 / (1 - 6/64)) = 21.6.
  EXPECT_EQ(EmmSummaryLine(r), "EMM = 20 (bracket [20, 40], interpolated 21.6; searching)");
  EXPECT_EQ(EmmReportText(r),
            "EMM = 20 (bracket [20, 40], interpolated 21.6; searching)\n"
            "  N=20     ratio 1.000 [0.950, 1.000]  optimum 1.000  2000 steps (passed)  30 s\n"
            "  N=40     ratio 0.094 [0.044, 0.144]  optimum 1.000  4000 steps (plateaued)  60 s\n");
}

// A run above the EMM, within the bracket, that does not memorize but was
// still rising when its duration ended: the EMM is a lower bound, and says so.
TEST(EmmReport, StillRisingRunsInTheBracketMakeTheEmmALowerBound) {
  std::vector<EmmRunRecord> runs = {MakeRun(20, 64, 64), MakeRun(40, 6, 64), MakeRun(80, 1, 64)};
  runs[2].still_rising = true;  // N = 80: outside the bracket [20, 40]
  EXPECT_FALSE(MakeEmmReport({}, Options(), 1.0 / 3, runs).emm_is_lower_bound());
  runs[0].still_rising = true;  // N = 20 memorizes: rising does not matter
  EXPECT_FALSE(MakeEmmReport({}, Options(), 1.0 / 3, runs).emm_is_lower_bound());
  runs[1].still_rising = true;  // N = 40 = N_hi
  const EmmReport r = MakeEmmReport({}, Options(), 1.0 / 3, runs);
  EXPECT_EQ(r.still_rising_in_bracket, (std::vector<int64_t>{40}));
  EXPECT_EQ(EmmSummaryLine(r),
            "EMM = 20 (bracket [20, 40], interpolated 21.6; searching; lower bound: runs at N=40 were still rising)");
  EXPECT_NE(EmmReportText(r).find("N=40     ratio 0.094 [0.044, 0.144]  optimum 1.000  4000 steps (plateaued, still rising)"),
            std::string::npos)
      << EmmReportText(r);
  const nlohmann::json j = EmmReportToJson(r);
  EXPECT_EQ(j["emm_is_lower_bound"], true);
  EXPECT_EQ(j["still_rising_in_bracket"], nlohmann::json({40}));
  absl::StatusOr<EmmReport> back = EmmReportFromJson(j, "r.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->still_rising_in_bracket, r.still_rising_in_bracket);
  nlohmann::json edited = j;
  edited["still_rising_in_bracket"] = nlohmann::json::array();
  EXPECT_FALSE(EmmReportFromJson(edited, "r.json").ok());
}

// A run scored by the best of its snapshots (the paper's rule) names the
// snapshot in the text and keeps every snapshot's score in report.json.
TEST(EmmReport, SnapshotScoredRunsNameTheirBestSnapshot) {
  std::vector<EmmRunRecord> runs = {MakeRun(20, 64, 64), MakeRun(40, 6, 64)};
  runs[1].scored_by = Scoring::kMaxOverSnapshots;
  runs[1].snapshots = {{2500, 0.05, 0.01, 0.13, 3, 64}, {5000, 6.0 / 64, 0.044, 0.144, 6, 64}};
  runs[1].best_snapshot_kimg = 5000;
  const EmmReport r = MakeEmmReport({}, Options(), 1.0 / 3, runs);
  EXPECT_EQ(EmmReportText(r),
            "EMM = 20 (bracket [20, 40], interpolated 21.6; searching)\n"
            "  N=20     ratio 1.000 [0.950, 1.000]  optimum 1.000  2000 steps (passed)  30 s\n"
            "  N=40     ratio 0.094 [0.044, 0.144]  optimum 1.000  4000 steps (plateaued)  60 s"
            "  best of 2 snapshots: 005000 kimg\n");
  const nlohmann::json j = EmmReportToJson(r);
  EXPECT_EQ(j["runs"][0]["scored_by"], "final");
  EXPECT_EQ(j["runs"][1]["scored_by"], "max_over_snapshots");
  EXPECT_EQ(j["runs"][1]["best_snapshot_kimg"], 5000);
  EXPECT_EQ(j["runs"][1]["snapshots"].size(), 2u);
  absl::StatusOr<EmmReport> back = EmmReportFromJson(j, "r.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EmmReportToJson(*back), j);
}

TEST(EmmReport, ReadersNameTheFileAndTheBadField) {
  const nlohmann::json good = EmmReportToJson(MakeEmmReport({}, Options(), 1.0 / 3, {MakeRun(20, 64, 64), MakeRun(40, 6, 64)}));
  ASSERT_TRUE(EmmReportFromJson(good, "r.json").ok()) << EmmReportFromJson(good, "r.json").status();
  auto error_of = [](const nlohmann::json& j) {
    absl::StatusOr<EmmReport> r = EmmReportFromJson(j, "r.json");
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  nlohmann::json j = good;
  j.erase("runs");
  EXPECT_EQ(error_of(j), "r.json: field 'runs' is missing");
  j = good;
  j["runs"][1]["ratio"] = "high";
  EXPECT_EQ(error_of(j), "r.json: runs[1]: field 'ratio' must be a number");
  j = good;
  j["runs"][0]["weights"] = "best";
  EXPECT_NE(error_of(j).find("field 'weights' must be"), std::string::npos) << error_of(j);
  j = good;
  j["runs"][0]["curve"][1]["images"] = 1.5;
  EXPECT_EQ(error_of(j), "r.json: runs[0]: curve[1]: field 'images' must be an integer");
  j = good;
  j["estimate"]["emm"] = 40;  // the runs say 20
  EXPECT_NE(error_of(j).find("field 'estimate' disagrees"), std::string::npos) << error_of(j);
  j = good;
  j["search"]["growth"] = 0.5;
  EXPECT_NE(error_of(j).find("growth"), std::string::npos) << error_of(j);
  j = good;
  j["format"] = "something.else";
  EXPECT_NE(error_of(j).find("field 'format'"), std::string::npos);
  j = good;
  j["runs"][1]["ci_low"] = 0.5;  // above the ratio 6/64
  EXPECT_NE(error_of(j).find("ci_high must enclose ratio"), std::string::npos) << error_of(j);

  j = good;
  j["runs"][0]["stop"] = "tired";
  EXPECT_EQ(error_of(j), "r.json: runs[0]: field 'stop' must be duration, passed or plateaued");

  EXPECT_FALSE(ReadEmmReport("/nonexistent/report.json").ok());
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/broken.json");
  ASSERT_TRUE(util::WriteFileAtomically(path, "{\"format\": ").ok());
  absl::StatusOr<EmmReport> broken = ReadEmmReport(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("broken.json: not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace study
}  // namespace diffmem
