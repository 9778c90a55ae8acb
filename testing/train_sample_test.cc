// End-to-end test of //tools:train, //tools:sample and //tools:mem_ratio
// --run: a tiny run trains, refuses to overwrite itself, resumes, samples
// seed-numbered PNGs and a grid; a run with snapshots has its series scored;
// bad flags, data sets smaller than N, N not divisible by the class
// count and unreadable checkpoints fail with a message and a non-zero exit,
// writing nothing. Binary paths are the arguments (train, sample, mem_ratio).

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace {

namespace fs = std::filesystem;

std::string g_train, g_sample, g_mem_ratio;  // set by main

struct Result {
  int code;
  std::string err;
};

Result RunTool(const std::string& tool, const std::string& flags) {
  const std::string err_file = ::testing::TempDir() + "/stderr.txt";
  const std::string cmd = absl::StrCat(tool, " --threads=1 ", flags, " 2>", err_file);
  const int status = std::system(cmd.c_str());
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char kTiny[] =
    "--data=fashion-mnist:t10k --n=10 --subset=balanced --pad=2 --resolution=8 --channels=8 --channel_mult=1,2 "
    "--blocks=1 --attn= --dropout=0 --batch=4 --lr=1e-3 --lr_warmup_epochs=0 --ema_beta=0.9 --log_every=1 ";

// --dry_run: the resolved configuration as JSON on stdout, nothing written.
TEST(TrainSampleTest, DryRunPrintsTheResolvedConfiguration) {
  const std::string run = ::testing::TempDir() + "/dry";
  const std::string json = ::testing::TempDir() + "/dry.json";
  Result r = RunTool(g_train, absl::StrCat(kTiny, "--steps=7 --lr=0.003 --dry_run --out=", run, " >", json));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(run));
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << ReadAll(json);
  EXPECT_EQ(j["total_steps"], 7);
  EXPECT_DOUBLE_EQ(j["training"]["lr"].get<double>(), 0.003);
  EXPECT_DOUBLE_EQ(j["training"]["adam_beta2"].get<double>(), 0.999);  // a default no flag names
  EXPECT_EQ(j["network"]["unet"]["img_resolution"], 8);
  EXPECT_EQ(j["data"]["n"], 10);
  EXPECT_EQ(j["dataset"]["size"], 10);
  EXPECT_GT(j["parameters"].get<int64_t>(), 0);
}

TEST(TrainSampleTest, TrainResumeAndSample) {
  const std::string run = ::testing::TempDir() + "/run";
  fs::remove_all(run);
  Result r = RunTool(g_train, absl::StrCat(kTiny, "--steps=3 --out=", run));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("parameters"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("step 3/3"), std::string::npos) << r.err;
  for (const char* f : {"config.json", "loss.csv", "checkpoint.pt", "result.json"}) {
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  }
  const std::string ckpt = ReadAll(run + "/checkpoint.pt");
  // The same command again must not overwrite the run.
  r = RunTool(g_train, absl::StrCat(kTiny, "--steps=3 --out=", run));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_EQ(ReadAll(run + "/checkpoint.pt"), ckpt);
  // A changed learning rate cannot resume.
  r = RunTool(g_train, absl::StrCat(kTiny, "--lr=5e-3 --steps=5 --resume --out=", run));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("lr"), std::string::npos) << r.err;
  EXPECT_EQ(ReadAll(run + "/checkpoint.pt"), ckpt);
  // Resume to 5 steps.
  r = RunTool(g_train, absl::StrCat(kTiny, "--steps=5 --resume --out=", run));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming at step 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("step 5/5"), std::string::npos) << r.err;
  // stats.jsonl: one record per logged step (--log_every=1), across the resume.
  const std::vector<std::string> stats = absl::StrSplit(ReadAll(run + "/stats.jsonl"), '\n', absl::SkipEmpty());
  ASSERT_EQ(stats.size(), 5u);
  for (size_t i = 0; i < stats.size(); ++i) {
    const nlohmann::json rec = nlohmann::json::parse(stats[i]);
    EXPECT_EQ(rec["step"], static_cast<int64_t>(i + 1));
    EXPECT_EQ(rec["nimg"], static_cast<int64_t>(4 * (i + 1)));
    EXPECT_DOUBLE_EQ(rec["ema_beta"].get<double>(), 0.9);
    EXPECT_DOUBLE_EQ(rec["lr"].get<double>(), 1e-3);
    for (const char* k : {"kimg", "loss", "images_per_s", "wall_s", "time"}) EXPECT_TRUE(rec.contains(k)) << k;
  }

  const std::string samples = run + "/samples";
  r = RunTool(g_sample, absl::StrCat("--checkpoint=", run, " --seeds=0-2,7 --steps=3 --batch=3 --out=", samples));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* f : {"000000.png", "000001.png", "000002.png", "000007.png"}) {
    EXPECT_TRUE(fs::exists(samples + "/" + f)) << f;
  }
  EXPECT_FALSE(fs::exists(samples + "/000003.png"));
  EXPECT_FALSE(fs::exists(samples + "/grid.png")) << "the preview goes beside the samples, not among them";
  EXPECT_TRUE(fs::exists(samples + "_grid.png"));
  // EDM's layout for large runs: a folder per 1000 seeds; and the stochastic sampler.
  r = RunTool(g_sample, absl::StrCat("--checkpoint=", run, " --seeds=999-1000 --steps=3 --subdirs --S_churn=10 "
                                     "--solver=euler --discretization=ve --grid=", run, "/preview.png --out=", run, "/big"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(run + "/big/000000/000999.png"));
  EXPECT_TRUE(fs::exists(run + "/big/001000/001000.png"));
  EXPECT_TRUE(fs::exists(run + "/preview.png"));
  EXPECT_NE(r.err.find("euler/ve sampler"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2/2 images (100.0%)"), std::string::npos) << r.err;
  // Raw weights give different images than the EMA.
  r = RunTool(g_sample, absl::StrCat("--checkpoint=", run, "/checkpoint.pt --weights=raw --seeds=0 --steps=3 --out=",
                                     run, "/raw"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(ReadAll(run + "/raw/000000.png"), ReadAll(samples + "/000000.png"));
}

// A run that keeps EMA snapshots (every 1 kimg: 260 steps of 8 images end at
// 2.08 kimg, snapshots 000001 and 000002) has its series scored by
// mem_ratio --run: a line per snapshot, the max after the first, report.json
// and the best snapshot's top_memorized.png.
TEST(TrainSampleTest, MemRatioScoresARunsSnapshotSeries) {
  const std::string run = ::testing::TempDir() + "/snap_run", out = ::testing::TempDir() + "/snap_scores";
  Result r = RunTool(g_train, absl::StrCat(kTiny, "--batch=8 --steps=260 --log_every=100 --snapshot_kimg=1 --out=", run));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(run + "/snapshots/network-snapshot-000001.pt"));
  ASSERT_TRUE(fs::exists(run + "/snapshots/network-snapshot-000002.pt"));

  const std::string stdout_file = ::testing::TempDir() + "/series.txt";
  r = RunTool(g_mem_ratio, absl::StrCat("--run=", run, " --seeds=0-7 --steps=3 --out=", out, " >", stdout_file));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(ReadAll(stdout_file), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << ReadAll(stdout_file);
  EXPECT_EQ(lines[0].rfind("snapshot 000001 kimg: ratio ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("snapshot 000002 kimg: ratio ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("max (after the first snapshot): 000002 kimg", 0), 0u) << lines[2];
  for (const std::string& line : lines) EXPECT_NE(line.find("/8 memorized)"), std::string::npos) << line;
  const nlohmann::json report = nlohmann::json::parse(ReadAll(out + "/report.json"));
  ASSERT_EQ(report["snapshots"].size(), 2u);
  EXPECT_EQ(report["max"]["kimg"], 2);
  EXPECT_EQ(report["max"], report["snapshots"][1]);
  EXPECT_EQ(report["seeds"], 8);
  EXPECT_EQ(report["train_size"], 10);
  EXPECT_TRUE(fs::exists(out + "/top_memorized.png"));

  // A run without snapshots, and --run with --samples, fail and write nothing.
  const std::string plain = ::testing::TempDir() + "/plain_run", none = ::testing::TempDir() + "/none_scores";
  r = RunTool(g_train, absl::StrCat(kTiny, "--steps=2 --snapshot_kimg=0 --out=", plain));
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunTool(g_mem_ratio, absl::StrCat("--run=", plain, " --seeds=0-3 --steps=3 --out=", none));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--snapshot_kimg"), std::string::npos) << r.err;
  r = RunTool(g_mem_ratio, absl::StrCat("--run=", run, " --samples=", run, " --out=", none));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("exclude each other"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(none));
}

TEST(TrainSampleTest, BadInputFailsCleanlyAndWritesNothing) {
  const std::string dir = ::testing::TempDir() + "/bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Case {
    std::string flags, message;
  };
  const Case train_cases[] = {
      {absl::StrCat(kTiny, "--steps=1 --arch=unet3 --out=", dir, "/t1"), "unknown network spec 'unet3'"},
      {absl::StrCat(kTiny, "--steps=1 --precond=edm2 --out=", dir, "/t2"), "unknown preconditioner"},
      {absl::StrCat(kTiny, "--steps=1 --optimizer=lion --out=", dir, "/t3"), "--optimizer"},
      {absl::StrCat(kTiny, "--steps=0 --out=", dir, "/t4"), "--steps"},  // no positive duration
      {absl::StrCat(kTiny, "--steps=1 --skip_mask=101 --out=", dir, "/t5"), "skip"},
      {absl::StrCat(kTiny, "--steps=1 --channel_mult=1,x --out=", dir, "/t6"), "--channel_mult"},
      {absl::StrCat("--data=fashion-mnist:t10k --n=20000 --subset=first --resolution=14 --steps=1 --out=", dir, "/t7"),
       "20000"},
      {absl::StrCat("--data=fashion-mnist:t10k --n=15 --subset=balanced --resolution=14 --steps=1 --out=", dir, "/t8"),
       "15"},
      {absl::StrCat("--data=/nonexistent/images --steps=1 --out=", dir, "/t9"), "/nonexistent"},
  };
  for (const Case& c : train_cases) {
    Result r = RunTool(g_train, c.flags);
    EXPECT_NE(r.code, 0) << c.flags;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.flags << "\n" << r.err;
  }
  const std::string junk = dir + "/junk.pt";
  std::ofstream(junk) << "not a checkpoint";
  const Case sample_cases[] = {
      {absl::StrCat("--checkpoint=", junk, " --out=", dir, "/s1"), "junk.pt"},
      {absl::StrCat("--checkpoint=", dir, "/missing.pt --out=", dir, "/s2"), "missing.pt"},
      {absl::StrCat("--checkpoint=", junk, " --weights=best --out=", dir, "/s3"), "--weights"},
      {absl::StrCat("--checkpoint=", junk, " --seeds=5-2 --out=", dir, "/s4"), "--seeds"},
  };
  for (const Case& c : sample_cases) {
    Result r = RunTool(g_sample, c.flags);
    EXPECT_NE(r.code, 0) << c.flags;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.flags << "\n" << r.err;
  }
  // Nothing but the junk checkpoint was written.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "junk.pt");
  }
  EXPECT_EQ(entries, 1);
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: train_sample_test TRAIN_BINARY SAMPLE_BINARY MEM_RATIO_BINARY\n");
    return 2;
  }
  g_train = argv[1];
  g_sample = argv[2];
  g_mem_ratio = argv[3];
  return RUN_ALL_TESTS();
}
