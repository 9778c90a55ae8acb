// Data-parallel training in one process: two Trainers in two threads, joined
// by an in-process sum (the all-reduce of parallel/process_group.h without
// sockets), step like one Trainer on the whole batch; rank 1 writes nothing;
// a run resumes only with its world size. (The same over c10d/Gloo with two
// processes: testing/train_parallel_test.cc.)

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/subsets.h"
#include "gtest/gtest.h"
#include "parallel/replicas.h"
#include "testing/train_fixtures.h"
#include "training/train_network.h"

namespace diffmem {
namespace training {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) { return testing_train::FreshTestDir("trainer_replicas_test_" + name); }

data::Dataset FashionMnist8x8(int64_t n) { return data::WithoutLabels(testing_train::FashionMnist8x8(n)); }

networks::UNetOptions TinyNet() {
  return networks::UNetOptions(8, 1, 1).model_channels(16).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0);
}

// Sums tensors over `world` threads, like an all-reduce.
class ThreadSum {
 public:
  explicit ThreadSum(int world) : world_(world) {}
  absl::Status Sum(std::vector<torch::Tensor>& t) {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t generation = generation_;
    if (arrived_ == 0) {
      sum_.clear();
      for (const torch::Tensor& x : t) sum_.push_back(x.clone());
    } else {
      for (size_t i = 0; i < t.size(); ++i) sum_[i].add_(t[i]);
    }
    if (++arrived_ == world_) {
      result_ = sum_;
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
    for (size_t i = 0; i < t.size(); ++i) t[i].copy_(result_[i]);
    return absl::OkStatus();
  }

 private:
  const int world_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  std::vector<torch::Tensor> sum_, result_;
};

TrainOptions Options() {
  TrainOptions t;
  t.batch_size = 8;
  t.steps = 4;
  t.lr = 1e-3;
  t.lr_warmup_kimg = 0;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.9;
  t.log_every = 1;
  t.seed = 5;
  return t;
}

using TinyTrainer = Trainer<diffusion::EdmPreconditioner, networks::UNet<networks::DdpmppSpec>>;

std::unique_ptr<TinyTrainer> MakeTrainer(const data::Dataset& ds, const std::string& dir) {
  torch::manual_seed(Options().seed);  // every rank starts from the same weights
  return std::make_unique<TinyTrainer>(networks::UNet<networks::DdpmppSpec>(TinyNet()), diffusion::EdmPreconditioner(), ds, Options(), dir);
}

// The tolerance: the ranks' mean gradients are (Σ_{0..3} + Σ_{4..7})/4/2 where
// one process forms Σ_{0..7}/8, so sums are ordered differently and each
// gradient differs by float rounding (~1e-7 relative); Adam divides by
// √v + ε, which can magnify a relative rounding difference on a tiny
// gradient coordinate to at most ~lr per step. 4 steps × lr 1e-3: 1e-4 bounds
// it, while one real step moves parameters by ~lr (checked below).
TEST(TrainerReplicasTest, TwoRanksStepLikeOneProcessOnTheWholeBatch) {
  at::set_num_threads(1);
  const data::Dataset ds = FashionMnist8x8(12);
  const std::string one_dir = TempDir("one"), rank0_dir = TempDir("rank0"), rank1_dir = TempDir("rank1");
  std::unique_ptr<TinyTrainer> one = MakeTrainer(ds, one_dir);
  ASSERT_TRUE(one->Start(false).ok());
  std::vector<torch::Tensor> init;
  for (const torch::Tensor& p : one->net()->parameters()) init.push_back(p.detach().clone());
  absl::StatusOr<TrainResult> single = one->Run();
  ASSERT_TRUE(single.ok()) << single.status();

  ThreadSum sum(2);
  std::vector<std::unique_ptr<TinyTrainer>> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    ranks.push_back(MakeTrainer(ds, rank == 0 ? rank0_dir : rank1_dir));
    ranks.back()->set_replicas({rank, 2, [&sum](std::vector<torch::Tensor>& t) { return sum.Sum(t); }});
    ASSERT_TRUE(ranks.back()->Start(false).ok());
  }
  std::vector<absl::StatusOr<TrainResult>> results(2, absl::InternalError("not run"));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 2; ++rank) threads.emplace_back([&, rank] { results[rank] = ranks[rank]->Run(); });
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[0]->nimg, single->nimg);  // nimg counts the global batch
  EXPECT_NEAR(results[0]->last_loss, single->last_loss, 1e-5 * std::abs(single->last_loss));

  auto p1 = one->net()->parameters(), p2a = ranks[0]->net()->parameters(), p2b = ranks[1]->net()->parameters();
  double max_diff = 0, max_move = 0;
  for (size_t i = 0; i < p1.size(); ++i) {
    EXPECT_TRUE(torch::equal(p2a[i], p2b[i])) << "the ranks' models drifted apart at parameter " << i;
    max_diff = std::max(max_diff, (p1[i] - p2a[i]).abs().max().item<double>());
    max_move = std::max(max_move, (p1[i] - init[i]).abs().max().item<double>());
  }
  EXPECT_LT(max_diff, 1e-4);
  EXPECT_GT(max_move, 1e-3);  // training moved the weights: the comparison is not vacuous
  std::printf("max |1 process - 2 ranks| = %.3g after 4 steps (weights moved up to %.3g)\n", max_diff, max_move);

  EXPECT_TRUE(fs::exists(RunCheckpointPath(rank0_dir)));
  EXPECT_TRUE(fs::exists(RunResultPath(rank0_dir)));
  EXPECT_FALSE(fs::exists(rank1_dir)) << "rank 1 must write nothing";
}

TEST(TrainerReplicasTest, AResumeWithAnotherWorldSizeIsRefused) {
  at::set_num_threads(1);
  const data::Dataset ds = FashionMnist8x8(8);
  const std::string dir = TempDir("resume");
  TrainOptions t = Options();
  t.steps = 1;
  networks::NetworkConfig net;
  net.unet = TinyNet();
  ASSERT_TRUE(TrainNetwork(net, ds, t, dir, false).ok());
  const std::string before = *util::ReadFileToString(RunCheckpointPath(dir));
  parallel::Replicas two{0, 2, [](std::vector<torch::Tensor>&) { return absl::OkStatus(); }};
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, /*resume=*/true, {}, nlohmann::json::object(), two);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("world size 1"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("has 2"), std::string::npos) << r.status();
  EXPECT_EQ(*util::ReadFileToString(RunCheckpointPath(dir)), before);
  EXPECT_TRUE(TrainNetwork(net, ds, t, dir, /*resume=*/true).ok());  // the same world size resumes
}

TEST(TrainerReplicasTest, AGlobalBatchThatDoesNotSplitIsAnError) {
  const data::Dataset ds = FashionMnist8x8(8);
  TrainOptions t = Options();
  t.batch_size = 7;
  networks::NetworkConfig net;
  net.unet = TinyNet();
  parallel::Replicas two{1, 2, [](std::vector<torch::Tensor>&) { return absl::OkStatus(); }};
  const std::string dir = TempDir("indivisible");
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, false, {}, nlohmann::json::object(), two);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--batch=7"), std::string::npos) << r.status();
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace training
}  // namespace diffmem
