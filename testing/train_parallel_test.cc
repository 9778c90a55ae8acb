// End-to-end data parallelism of //tools:train over c10d/Gloo on the
// loopback, with real processes: 2 ranks × 16 images step like 1 process ×
// 32; a 2-rank run resumes bit for bit with 2 ranks and refuses 1; a rank
// that is killed, or that hangs, ends the other rank with an error within a
// bounded time. The binary path is the argument.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "networks/network.h"
#include "networks/unet.h"
#include "parallel/local_launcher.h"
#include "training/checkpoint.h"
#include "training/run_dir.h"
#include "util/atomic_file.h"

namespace {

namespace fs = std::filesystem;
namespace networks = diffmem::networks;
namespace training = diffmem::training;

std::string g_train;  // set by main

// The file's bytes ("" when it cannot be read).
std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> text = diffmem::util::ReadFileToString(path);
  return text.ok() ? *text : std::string();
}

struct Result {
  int code;
  std::string err;
};

Result Train(const std::string& flags) {
  const std::string err_file = ::testing::TempDir() + "/stderr.txt";
  const std::string cmd = absl::StrCat("env -u RANK -u WORLD_SIZE -u SLURM_PROCID ", g_train, " --threads=1 ", flags,
                                       " 2>", err_file);
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadAll(err_file)};
}

// 60 Fashion-MNIST images at 8×8, a ~10k-parameter UNet, global batch 32.
const char kTiny[] =
    "--data=fashion-mnist:t10k --n=60 --subset=balanced --pad=2 --resolution=8 --channels=8 --channel_mult=1,2 "
    "--blocks=1 --attn= --dropout=0 --batch=32 --lr=1e-3 --lr_warmup_epochs=0 --ema_beta=0.9 --log_every=1 ";

// A run's raw or EMA weights, as one flat tensor.
torch::Tensor Weights(const std::string& run, training::Weights which) {
  absl::StatusOr<networks::NetworkConfig> c = training::ReadCheckpointNetwork(training::RunCheckpointPath(run));
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return torch::Tensor();
  torch::Tensor flat;
  absl::Status s = networks::VisitNetworkModule(*c, [&](auto& net, auto) -> absl::Status {
    if (absl::Status l = training::LoadCheckpointWeights(training::RunCheckpointPath(run), which, *net, torch::kCPU); !l.ok()) {
      return l;
    }
    std::vector<torch::Tensor> parts;
    for (const torch::Tensor& p : net->parameters()) parts.push_back(p.detach().reshape(-1));
    flat = torch::cat(parts);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return flat;
}

std::vector<double> Losses(const std::string& run) {
  std::vector<double> out;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(ReadAll(run + "/loss.csv"), '\n', absl::SkipEmpty())) {
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> cols = absl::StrSplit(line, ',');
    out.push_back(std::stod(cols[2]));
  }
  return out;
}

// The tolerance: 2 ranks average (Σ of 16 per-image gradients)/16 over the
// ranks where 1 process takes (Σ of 32)/32, so float sums are ordered
// differently (relative differences ~1e-7); Adam's division by √v + ε can
// magnify such a difference on a near-zero gradient coordinate up to ~lr
// per step. 5 steps at lr 1e-3: 1e-4 bounds it (measured: ~4e-7 here, ~2e-5
// in diffusion/trainer_replicas_test's config), while the
// weights move by ~1e-3 or more (checked, so the comparison is not vacuous).
TEST(TrainParallelTest, TwoRanksOfSixteenMatchOneProcessOfThirtyTwo) {
  const std::string one = ::testing::TempDir() + "/one", two = ::testing::TempDir() + "/two";
  fs::remove_all(one);
  fs::remove_all(two);
  Result r = Train(absl::StrCat(kTiny, "--steps=5 --out=", one));
  ASSERT_EQ(r.code, 0) << r.err;
  r = Train(absl::StrCat(kTiny, "--steps=5 --nproc=2 --out=", two));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("data parallel, 2 ranks (torchrun environment, gloo), global batch 32 = 2 x 16"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("step 5/5"), std::string::npos) << r.err;
  const torch::Tensor w1 = Weights(one, training::Weights::kRaw), w2 = Weights(two, training::Weights::kRaw);
  ASSERT_TRUE(w1.defined() && w2.defined());
  const double max_diff = (w1 - w2).abs().max().item<double>();
  const double ema_diff = (Weights(one, training::Weights::kEma) - Weights(two, training::Weights::kEma)).abs().max().item<double>();
  std::printf("max |1 process x 32 - 2 ranks x 16| after 5 steps: raw %.3g, EMA %.3g\n", max_diff, ema_diff);
  EXPECT_LT(max_diff, 1e-4);
  EXPECT_LT(ema_diff, 1e-4);
  // Training moved the weights well beyond the tolerance.
  fs::remove_all(one + "0");
  ASSERT_EQ(Train(absl::StrCat(kTiny, "--steps=1 --lr=1e-12 --out=", one, "0")).code, 0);
  EXPECT_GT((w1 - Weights(one + "0", training::Weights::kRaw)).abs().max().item<double>(), 1e-3);
  // The logged loss is the global batch's mean on both.
  const std::vector<double> l1 = Losses(one), l2 = Losses(two);
  ASSERT_EQ(l1.size(), 5u);
  ASSERT_EQ(l2.size(), 5u);
  for (size_t i = 0; i < l1.size(); ++i) EXPECT_NEAR(l1[i], l2[i], 1e-3 * l1[i]) << "step " << i + 1;
}

TEST(TrainParallelTest, ResumesWithItsWorldSizeOnlyAndChecksTheBatch) {
  const std::string straight = ::testing::TempDir() + "/straight", split = ::testing::TempDir() + "/split";
  fs::remove_all(straight);
  fs::remove_all(split);
  ASSERT_EQ(Train(absl::StrCat(kTiny, "--steps=4 --nproc=2 --out=", straight)).code, 0);
  ASSERT_EQ(Train(absl::StrCat(kTiny, "--steps=2 --nproc=2 --out=", split)).code, 0);
  const std::string ckpt = ReadAll(training::RunCheckpointPath(split));
  Result r = Train(absl::StrCat(kTiny, "--steps=4 --resume --out=", split));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("trained with world size 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("this job has 1"), std::string::npos) << r.err;
  EXPECT_EQ(ReadAll(training::RunCheckpointPath(split)), ckpt);
  r = Train(absl::StrCat(kTiny, "--steps=4 --resume --nproc=2 --out=", split));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(torch::equal(Weights(straight, training::Weights::kRaw), Weights(split, training::Weights::kRaw)));
  // A global batch the ranks cannot share is refused before any rank starts.
  r = Train(absl::StrCat(kTiny, "--batch=33 --steps=1 --nproc=2 --out=", ::testing::TempDir(), "/odd"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--batch=33"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(::testing::TempDir() + "/odd"));
}

// Starts one rank of a 2-rank job by hand (torchrun's variables), stderr to a file.
pid_t StartRank(int rank, int port, const std::string& flags, const std::string& err_file) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    execl("/bin/sh", "sh", "-c", absl::StrCat("exec ", g_train, " --threads=1 ", flags, " 2>", err_file).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits for a process to exit, at most `limit` seconds; -1 when still running.
int WaitFor(pid_t pid, double limit, double* waited) {
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      *waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Runs a long 2-rank job until rank 0 has logged a step, then does `to_rank1`
// (SIGKILL or SIGSTOP) and returns rank 0's exit code, stderr and wait.
void BreakRankOne(int sig, int timeout_s, int* code, std::string* err, double* waited) {
  const std::string run = ::testing::TempDir() + "/break" + std::to_string(sig);
  fs::remove_all(run);
  const int port = *diffmem::parallel::FreeLocalPort();
  const std::string flags = absl::StrCat(kTiny, "--steps=100000 --dist_timeout=", timeout_s, " --out=", run);
  const std::string err0 = run + ".rank0.txt";
  const pid_t r0 = StartRank(0, port, flags, err0);
  const pid_t r1 = StartRank(1, port, flags, run + ".rank1.txt");
  for (int i = 0; i < 1200 && !fs::exists(run + "/loss.csv"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few steps in
  kill(r1, sig);
  *code = WaitFor(r0, 120, waited);
  if (*code == -1) kill(r0, SIGKILL);
  kill(r1, SIGKILL);
  waitpid(r1, nullptr, 0);
  waitpid(r0, nullptr, WNOHANG);
  *err = ReadAll(err0);
  std::printf("rank 0: %s", err->substr(err->rfind('\n', err->size() - 2) + 1).c_str());
}

TEST(TrainParallelTest, AKilledRankEndsTheOtherAtOnce) {
  int code = 0;
  std::string err;
  double waited = 0;
  BreakRankOne(SIGKILL, /*timeout_s=*/60, &code, &err, &waited);
  std::printf("rank 0 exited %.2f s after rank 1 was killed (timeout 60 s)\n", waited);
  ASSERT_NE(code, -1) << "rank 0 still ran 120 s after rank 1 died";
  EXPECT_EQ(code, 1) << err;
  EXPECT_LT(waited, 30) << "a closed socket should fail the all-reduce well before the timeout";
  EXPECT_NE(err.find("rank 0 of 2: all-reduce failed"), std::string::npos) << err;
}

TEST(TrainParallelTest, AHungRankEndsTheOtherAfterTheTimeout) {
  int code = 0;
  std::string err;
  double waited = 0;
  BreakRankOne(SIGSTOP, /*timeout_s=*/5, &code, &err, &waited);
  std::printf("rank 0 exited %.2f s after rank 1 was stopped (timeout 5 s)\n", waited);
  ASSERT_NE(code, -1) << "rank 0 still ran 120 s after rank 1 hung";
  EXPECT_EQ(code, 1) << err;
  EXPECT_GE(waited, 4);
  EXPECT_NE(err.find("all-reduce failed"), std::string::npos) << err;
  EXPECT_NE(err.find("within 5 s"), std::string::npos) << err;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: train_parallel_test TRAIN_BINARY\n");
    return 2;
  }
  g_train = argv[1];
  at::set_num_threads(1);
  return RUN_ALL_TESTS();
}
