#include "training/train_network.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <utility>

#include "data/idx.h"
#include "data/pixels.h"
#include "diffusion/edm_sampler.h"
#include "testing/train_fixtures.h"
#include "training/checkpoint.h"
#include "util/atomic_file.h"
#include "util/torch_compat.h"

namespace diffmem {
namespace training {
namespace {

namespace fs = std::filesystem;

std::string TempDir(const std::string& name) { return testing_train::FreshTestDir("train_test_" + name); }

using testing_train::FashionMnist8x8;

networks::NetworkConfig TinyNet(int64_t label_dim = 0, double dropout = 0) {
  networks::NetworkConfig c;
  c.unet = networks::UNetOptions(8, 1, 1)
               .model_channels(16)
               .channel_mult({1, 2})
               .num_blocks(1)
               .attn_resolutions({})
               .dropout(dropout)
               .label_dim(label_dim);
  return c;
}

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }  // 2 threads crawl on a shared, loaded 2-core machine
};

// Loads one set of weights of a run's checkpoint into a fresh UNet.
networks::UNet<networks::DdpmppSpec> LoadNet(const std::string& run_dir, const networks::NetworkConfig& c, Weights which) {
  networks::UNet<networks::DdpmppSpec> net(c.unet);
  absl::Status s = LoadCheckpointWeights(RunCheckpointPath(run_dir), which, *net, torch::kCPU);
  EXPECT_TRUE(s.ok()) << s;
  return net;
}

bool SameParameters(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.parameters(), pb = b.parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!torch::equal(pa[i], pb[i])) return false;
  }
  return true;
}

// Loss-log rows without the timing columns.
std::vector<std::string> LossRows(const std::string& run_dir) {
  absl::StatusOr<std::string> text = util::ReadFileToString(RunLossLogPath(run_dir));
  EXPECT_TRUE(text.ok());
  std::vector<std::string> rows;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> cols = absl::StrSplit(line, ',');
    rows.push_back(absl::StrCat(cols[0], ",", cols[1], ",", cols[2], ",", cols[3]));
  }
  return rows;
}

TEST_F(TrainTest, LearningRateWarmUpInKimgOrEpochs) {
  TrainOptions t;
  t.lr = 2e-4;
  EXPECT_EQ(LearningRate(t, 1000, 0), 2e-4);  // no warm-up
  t.lr_warmup_epochs = 200;                  // the authors: N/5 kimg = 200 epochs
  EXPECT_EQ(LearningRate(t, 1000, 0), 0.0);  // the first step, as EDM
  EXPECT_DOUBLE_EQ(LearningRate(t, 1000, 50000), 2e-4 * 0.25);
  EXPECT_DOUBLE_EQ(LearningRate(t, 1000, 200000), 2e-4);
  EXPECT_DOUBLE_EQ(LearningRate(t, 1000, 10000000), 2e-4);
  EXPECT_DOUBLE_EQ(LearningRate(t, 500, 50000), 2e-4 * 0.5);  // scales with N
  t.lr_warmup_epochs = 0;
  t.lr_warmup_kimg = 10;
  EXPECT_DOUBLE_EQ(LearningRate(t, 1000, 2500), 2e-4 * 0.25);
  t.lr_warmup_epochs = 1;
  t.steps = 1;
  EXPECT_NE(ValidateTrainOptions(t).message().find("not both"), std::string::npos);
}

TEST_F(TrainTest, EmaBetaFollowsTheSchedule) {
  TrainOptions t;
  t.steps = 1;
  t.batch_size = 512;
  EXPECT_DOUBLE_EQ(EmaBeta(t, 1000, 10000000), std::pow(0.5, 512 / 500000.0));  // EDM: 500 kimg
  t.ema_schedule = EmaSchedule::kDataRatio;
  EXPECT_DOUBLE_EQ(EmaBeta(t, 1000, 10000000), std::pow(0.5, 512 / 500000.0));  // h = 10 N images
  EXPECT_DOUBLE_EQ(EmaBeta(t, 2000, 10000000), std::pow(0.5, 512 / 500000.0));  // the same for every N
  t.batch_size = 64;
  EXPECT_DOUBLE_EQ(EmaBeta(t, 1000, 10000000), std::pow(0.5, 512 / 500000.0));  // and every batch size
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.99;
  EXPECT_EQ(EmaBeta(t, 1000, 0), 0.99);
  EXPECT_TRUE(ValidateTrainOptions(t).ok());
  t.ema_schedule = EmaSchedule::kHalfLife;  // a β with another schedule is a mistake, said loudly
  EXPECT_NE(ValidateTrainOptions(t).message().find("--ema_beta: is used only with --ema_schedule=fixed"),
            std::string::npos);
}

// fp32 as the authors train: resolving any device turns TF32 off for cuDNN
// (on by default in LibTorch) and cuBLAS, so a GPU run computes in float32.
TEST_F(TrainTest, ResolvingADeviceKeepsFloat32Strict) {
  at::globalContext().setAllowTF32CuDNN(true);
  at::globalContext().setAllowTF32CuBLAS(true);
  absl::StatusOr<torch::Device> d = ResolveDevice("cpu");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(at::globalContext().allowTF32CuDNN());
  EXPECT_FALSE(at::globalContext().allowTF32CuBLAS());
  EXPECT_FALSE(ResolveDevice("tpu").ok());
}

// --precision=bf16: the forward pass runs under autocast (inside the scope a
// convolution gives bfloat16, outside float32 again), while the weights,
// optimizer and EMA stay float32. Two runs on the same batches and noise
// (attention included) differ by rounding only: their mean loss over the
// last 10 of 30 steps is close but not equal. (The first step cannot tell:
// the output layer starts at zero, so the first loss does not depend on the
// network's arithmetic.)
TEST_F(TrainTest, Bf16AutocastsTheForwardPassOnly) {
  const torch::Tensor w = torch::randn({4, 1, 3, 3}), x = torch::randn({2, 1, 8, 8});
  {
    util::AutocastScope scope(torch::kCPU, at::kBFloat16);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat32);

  const data::Dataset ds = FashionMnist8x8(16);
  networks::NetworkConfig net = TinyNet();
  net.unet.attn_resolutions({4});
  TrainOptions t;
  t.batch_size = 8;
  t.lr = 1e-3;
  t.log_every = 10;
  t.steps = 30;
  TrainOptions bf16 = t;
  bf16.precision = Precision::kBf16;
  absl::StatusOr<TrainOptions> back = TrainOptionsFromJson(TrainOptionsToJson(bf16));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->precision, Precision::kBf16);
  EXPECT_EQ(TrainOptionsToJson(t)["precision"], "fp32");

  const std::string dir = TempDir("bf16");
  absl::StatusOr<TrainResult> r16 = TrainNetwork(net, ds, bf16, dir, false);
  absl::StatusOr<TrainResult> r32 = TrainNetwork(net, ds, t, TempDir("fp32"), false);
  ASSERT_TRUE(r16.ok()) << r16.status();
  ASSERT_TRUE(r32.ok()) << r32.status();
  EXPECT_NE(r16->last_loss, r32->last_loss);
  EXPECT_NEAR(r16->last_loss, r32->last_loss, 0.05 * r32->last_loss);
  for (Weights which : {Weights::kRaw, Weights::kEma}) {
    for (const torch::Tensor& p : LoadNet(dir, net, which)->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  }
  // The EMA is float32 arithmetic on float32 weights: not rounded to bfloat16.
  const torch::Tensor ema0 = LoadNet(dir, net, Weights::kEma)->parameters()[0];
  EXPECT_FALSE(torch::equal(ema0, ema0.to(torch::kBFloat16).to(torch::kFloat32)));
}

TEST_F(TrainTest, DurationInStepsKimgOrEpochs) {
  TrainOptions t;
  t.batch_size = 64;
  t.steps = 10;
  EXPECT_EQ(TotalSteps(t, 1000), 10);
  t.steps = 0;
  t.kimg = 1;  // 1000 images / 64 → 16 steps (rounded up)
  EXPECT_EQ(TotalSteps(t, 5), 16);
  t.kimg = 0;
  t.epochs = 2;  // 2·100 / 64 → 4
  EXPECT_EQ(TotalSteps(t, 100), 4);
  t.steps = 3;  // two durations
  EXPECT_FALSE(ValidateTrainOptions(t).ok());
}

TEST_F(TrainTest, OverfitsEightImagesAndSamplesReproduceThem) {
  const data::Dataset ds = FashionMnist8x8(8);
  const networks::NetworkConfig net = TinyNet();
  TrainOptions t;
  t.batch_size = 16;
  t.lr = 2e-3;
  t.steps = 400;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.95;
  t.log_every = 25;
  t.checkpoint_every = 0;
  t.seed = 3;
  const std::string dir = TempDir("overfit");
  std::vector<double> losses;
  TrainCallbacks cb;
  cb.progress = [&](const TrainProgress& p) { losses.push_back(p.loss); };
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, /*resume=*/false, cb);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(losses.size(), 16u);
  const double first = losses.front();
  const double last = (losses[losses.size() - 1] + losses[losses.size() - 2]) / 2;
  EXPECT_LT(last, 0.3 * first) << "first " << first << " last " << last;

  // Sample with the EMA weights; score d(x, NN1)/d(x, NN2) < 1/3 directly.
  networks::UNet<networks::DdpmppSpec> ema = LoadNet(dir, net, Weights::kEma);
  ema->eval();
  diffusion::Denoiser<diffusion::EdmPreconditioner, networks::UNet<networks::DdpmppSpec>> d(ema);
  std::vector<uint64_t> seeds;
  for (uint64_t s = 0; s < 32; ++s) seeds.push_back(s);
  torch::NoGradGuard no_grad;
  torch::Tensor x = diffusion::EdmSampler<>().SampleFromSeeds(d, seeds, {1, 8, 8}, torch::Tensor());
  torch::Tensor train = data::PixelsToFloat(ds.images).reshape({8, -1}).to(torch::kFloat64);
  torch::Tensor dist = torch::cdist(x.reshape({32, -1}).to(torch::kFloat64), train);  // 32×8
  torch::Tensor two = std::get<0>(dist.topk(2, 1, /*largest=*/false));
  const double memorized = (two.select(1, 0) / two.select(1, 1) < 1.0 / 3).to(torch::kFloat64).mean().item<double>();
  EXPECT_GE(memorized, 0.5) << "memorized fraction " << memorized;
}

TEST_F(TrainTest, ResumeContinuesBitForBit) {
  const data::Dataset ds = FashionMnist8x8(12);
  const networks::NetworkConfig net = TinyNet(/*label_dim=*/10, /*dropout=*/0.2);
  TrainOptions t;
  t.batch_size = 5;  // batches straddle epochs
  t.lr = 1e-3;
  t.lr_warmup_kimg = 0.02;
  t.ema_schedule = EmaSchedule::kHalfLife;  // EDM half-life with ramp-up (depends on nimg)
  t.ema_halflife_kimg = 0.01;
  t.log_every = 2;
  t.checkpoint_every = 3;
  t.seed = 11;
  t.steps = 10;
  const std::string straight = TempDir("straight"), split = TempDir("split");
  ASSERT_TRUE(TrainNetwork(net, ds, t, straight, false).ok());
  TrainOptions half = t;
  half.steps = 5;
  ASSERT_TRUE(TrainNetwork(net, ds, half, split, false).ok());
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, split, /*resume=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->resumed);
  EXPECT_EQ(r->steps, 10);
  EXPECT_TRUE(SameParameters(*LoadNet(straight, net, Weights::kRaw), *LoadNet(split, net, Weights::kRaw)));
  EXPECT_TRUE(SameParameters(*LoadNet(straight, net, Weights::kEma), *LoadNet(split, net, Weights::kEma)));
  EXPECT_EQ(LossRows(straight), LossRows(split));
  // The training did change the weights (the comparison is not vacuous).
  torch::manual_seed(t.seed);
  networks::UNet<networks::DdpmppSpec> init(net.unet);
  EXPECT_FALSE(SameParameters(*init, *LoadNet(straight, net, Weights::kRaw)));
}

// --snapshot_kimg: a snapshot each time the images seen cross a multiple of
// snapshot_kimg and one at the end, named by whole kimg (EDM's names), each
// holding the EMA weights of that moment.
TEST_F(TrainTest, SnapshotsKeepTheEmaWeightsAtEachCrossingAndAtTheEnd) {
  const data::Dataset ds = FashionMnist8x8(16);
  const networks::NetworkConfig net = TinyNet();
  TrainOptions t;
  t.batch_size = 16;
  t.lr = 1e-3;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.9;
  t.log_every = 50;
  t.snapshot_kimg = 1;
  t.steps = 140;  // 2240 images: crossings at steps 63 (1008) and 125 (2000), the end at 2.24 kimg
  const std::string dir = TempDir("snapshots");
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, false);
  ASSERT_TRUE(r.ok()) << r.status();
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(RunSnapshotDir(dir))) names.insert(e.path().filename().string());
  EXPECT_EQ(names, (std::set<std::string>{"network-snapshot-000001.pt", "network-snapshot-000002.pt"}));
  // The last snapshot (the end overwrites kimg 2) holds exactly the final EMA weights.
  networks::UNet<networks::DdpmppSpec> last(net.unet), first(net.unet);
  ASSERT_TRUE(LoadCheckpointWeights(RunSnapshotPath(dir, 2), Weights::kEma, *last, torch::kCPU).ok());
  EXPECT_TRUE(SameParameters(*last, *LoadNet(dir, net, Weights::kEma)));
  // The first is the EMA as it was at 1 kimg: different from the final.
  ASSERT_TRUE(LoadCheckpointWeights(RunSnapshotPath(dir, 1), Weights::kEma, *first, torch::kCPU).ok());
  EXPECT_FALSE(SameParameters(*first, *last));
  // A snapshot has no raw weights to resume from.
  EXPECT_FALSE(LoadCheckpointWeights(RunSnapshotPath(dir, 1), Weights::kRaw, *first, torch::kCPU).ok());
}

// Trainer::Step written out with LibTorch's own optimizer and the EMA as a
// per-tensor lerp (how the Trainer stepped before its flat buffers): the
// parameters after `steps` steps, raw and EMA.
std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> ReferenceRun(const networks::NetworkConfig& c,
                                                                               const data::Dataset& ds,
                                                                               const TrainOptions& t, int64_t steps) {
  torch::manual_seed(t.seed);
  networks::UNet<networks::DdpmppSpec> net(c.unet);
  net->train();
  std::shared_ptr<torch::nn::Module> ema = net->clone();  // draws from the generator as Ema's copy does
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (t.optimizer == "adamw") {
    opt = std::make_unique<torch::optim::AdamW>(
        net->parameters(), torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay));
  } else if (t.optimizer == "sgd") {
    opt = std::make_unique<torch::optim::SGD>(
        net->parameters(), torch::optim::SGDOptions(t.lr).momentum(t.sgd_momentum).weight_decay(t.weight_decay));
  } else {
    opt = std::make_unique<torch::optim::Adam>(net->parameters(),
                                               torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
  }
  at::Generator loss_gen = at::detail::createCPUGenerator(t.seed ^ 0x6c6f7373ull);
  torch::manual_seed(t.seed ^ 0x64726f70ull);
  DataStream order(t.seed, ds.size());
  diffusion::Denoiser<diffusion::EdmPreconditioner, networks::UNet<networks::DdpmppSpec>> d(net);
  std::vector<torch::Tensor> params = net->parameters(), averaged = ema->parameters();
  int64_t nimg = 0;
  for (int64_t step = 0; step < steps; ++step) {
    torch::Tensor idx = order.Batch(nimg, t.batch_size);
    torch::Tensor x = data::PixelsToFloat(ds.images.index_select(0, idx)), y = ds.labels.index_select(0, idx);
    opt->zero_grad();
    torch::Tensor loss = diffusion::DenoisingLoss(d, x, y, loss_gen);
    loss.backward();
    if (t.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, t.grad_clip);
    const double lr = t.lr * std::min(1.0, static_cast<double>(nimg) / (t.lr_warmup_kimg * 1000));  // EDM's warm-up
    opt->param_groups()[0].options().set_lr(lr);
    opt->step();
    const double beta = HalfLifeBeta(t.batch_size, nimg, EmaHalfLife{t.ema_halflife_kimg, t.ema_rampup_ratio});
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) averaged[i].copy_(params[i].detach().lerp(averaged[i], beta));
    nimg += t.batch_size;
  }
  return {params, averaged};
}

bool BitEqual(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].view(torch::kInt32).equal(b[i].view(torch::kInt32))) return false;
  }
  return true;
}

// The Trainer's flat optimizer and EMA give exactly the weights of LibTorch's
// optimizers and the per-tensor EMA, for each optimizer TrainOptions offers
// (with dropout, labels, warm-up and the half-life EMA in play).
TEST_F(TrainTest, StepsEqualLibTorchOptimizersAndPerTensorEmaBitForBit) {
  const data::Dataset ds = FashionMnist8x8(12);
  const networks::NetworkConfig net = TinyNet(/*label_dim=*/10, /*dropout=*/0.2);
  for (const std::string optimizer : {"adam", "adamw", "sgd"}) {
    TrainOptions t;
    t.optimizer = optimizer;
    t.batch_size = 5;
    t.lr = 1e-3;
    t.weight_decay = optimizer == "adam" ? 0 : 1e-2;
    t.lr_warmup_kimg = 0.02;
    t.ema_beta = 0;
    t.ema_halflife_kimg = 0.01;
    t.seed = 13;
    t.steps = 6;
    t.checkpoint_every = 0;
    const std::string dir = TempDir("vs_libtorch_" + optimizer);
    absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, false);
    ASSERT_TRUE(r.ok()) << r.status();
    auto [params, averaged] = ReferenceRun(net, ds, t, t.steps);
    EXPECT_TRUE(BitEqual(LoadNet(dir, net, Weights::kRaw)->parameters(), params)) << optimizer;
    EXPECT_TRUE(BitEqual(LoadNet(dir, net, Weights::kEma)->parameters(), averaged)) << optimizer;
    EXPECT_FALSE(BitEqual(params, averaged)) << optimizer << ": the comparison is not vacuous";
  }
}

// Gradient clipping takes one norm over the flat gradient, LibTorch's
// clip_grad_norm_ the norm of per-tensor norms: the same up to rounding, so
// clipped runs agree closely but not bit for bit.
TEST_F(TrainTest, ClippedStepsAgreeWithLibTorchClippingUpToRounding) {
  const data::Dataset ds = FashionMnist8x8(12);
  const networks::NetworkConfig net = TinyNet();
  TrainOptions t;
  t.batch_size = 4;
  t.lr = 1e-3;
  t.lr_warmup_kimg = 0.01;
  t.ema_beta = 0;
  t.ema_halflife_kimg = 0.01;
  t.grad_clip = 1e-3;  // far below the gradient norm: every step clips
  t.seed = 14;
  t.steps = 4;
  t.checkpoint_every = 0;
  const std::string dir = TempDir("clip");
  data::Dataset unlabeled = ds;
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, false);
  ASSERT_TRUE(r.ok()) << r.status();
  unlabeled.labels = torch::zeros({ds.size()}, torch::kInt64);  // ignored by an unconditional net
  auto [params, averaged] = ReferenceRun(net, unlabeled, t, t.steps);
  const std::vector<torch::Tensor> trained = LoadNet(dir, net, Weights::kRaw)->parameters();
  torch::manual_seed(t.seed);
  const std::vector<torch::Tensor> init = networks::UNet<networks::DdpmppSpec>(net.unet)->parameters();
  double moved = 0, apart = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    moved = std::max(moved, (params[i] - init[i]).abs().max().item<double>());
    apart = std::max(apart, (params[i] - trained[i]).abs().max().item<double>());
  }
  EXPECT_GT(moved, 1e-4);
  EXPECT_LT(apart, 1e-3 * moved) << "moved " << moved;
}

TEST_F(TrainTest, ExistingRunIsNotOverwrittenAndChangedConfigIsNotResumed) {
  const data::Dataset ds = FashionMnist8x8(4);
  const networks::NetworkConfig net = TinyNet();
  TrainOptions t;
  t.batch_size = 4;
  t.steps = 2;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.9;
  const std::string dir = TempDir("exists");
  ASSERT_TRUE(TrainNetwork(net, ds, t, dir, false).ok());
  const std::string before = *util::ReadFileToString(RunCheckpointPath(dir));
  absl::StatusOr<TrainResult> again = TrainNetwork(net, ds, t, dir, false);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  TrainOptions other = t;
  other.lr = 1e-2;
  absl::StatusOr<TrainResult> changed = TrainNetwork(net, ds, other, dir, true);
  EXPECT_EQ(changed.status().code(), absl::StatusCode::kFailedPrecondition) << changed.status();
  EXPECT_NE(changed.status().message().find("lr"), std::string::npos);
  EXPECT_EQ(*util::ReadFileToString(RunCheckpointPath(dir)), before);
}

TEST_F(TrainTest, DivergenceStopsWithErrorAndKeepsLastGoodCheckpoint) {
  const data::Dataset ds = FashionMnist8x8(4);
  const networks::NetworkConfig net = TinyNet();
  TrainOptions t;
  t.batch_size = 4;
  t.optimizer = "sgd";
  t.sgd_momentum = 0;
  t.lr = 1e30;  // the first update blows the weights up
  t.steps = 5;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.9;
  t.checkpoint_every = 1;
  const std::string dir = TempDir("diverge");
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, false);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
  EXPECT_NE(r.status().message().find("diverged"), std::string::npos);
  networks::UNet<networks::DdpmppSpec> fresh(net.unet);
  absl::StatusOr<CheckpointState> st = LoadCheckpoint(RunCheckpointPath(dir), *fresh, nullptr, nullptr, torch::kCPU);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_GE(st->step, 1);
  EXPECT_LT(st->step, 5);
  for (const torch::Tensor& p : fresh->parameters()) EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST_F(TrainTest, HookSeesModelsAndCanStopEarly) {
  const data::Dataset ds = FashionMnist8x8(4);
  const networks::NetworkConfig net = TinyNet();
  TrainOptions t;
  t.batch_size = 4;
  t.steps = 20;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.9;
  t.checkpoint_every = 0;
  const std::string dir = TempDir("hook");
  TrainCallbacks cb;
  cb.hook_every = 3;
  std::vector<int64_t> calls;
  cb.hook = [&](const TrainProgress& p, TrainedModels& m) {
    calls.push_back(p.step);
    torch::Tensor y = m.ema(torch::zeros({2, 1, 8, 8}), torch::full({2}, 1.0), {});
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 1, 8, 8}));
    EXPECT_FALSE(y.requires_grad());
    return p.step >= 6 ? TrainControl::kStop : TrainControl::kContinue;
  };
  absl::StatusOr<TrainResult> r = TrainNetwork(net, ds, t, dir, false, cb);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->stopped_early);
  EXPECT_EQ(r->steps, 6);
  EXPECT_EQ(calls, (std::vector<int64_t>{3, 6}));
  networks::UNet<networks::DdpmppSpec> fresh(net.unet);
  absl::StatusOr<CheckpointState> st = LoadCheckpoint(RunCheckpointPath(dir), *fresh, nullptr, nullptr, torch::kCPU);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->step, 6);
  EXPECT_TRUE(fs::exists(RunResultPath(dir)));
}

TEST_F(TrainTest, ConditionalNetworkNeedsLabels) {
  data::Dataset ds = FashionMnist8x8(4);
  ds.labels = torch::Tensor();
  TrainOptions t;
  t.steps = 1;
  t.ema_schedule = EmaSchedule::kFixed;
  t.ema_beta = 0.9;
  absl::StatusOr<TrainResult> r = TrainNetwork(TinyNet(10), ds, t, TempDir("nolabels"), false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(TempDir("nolabels")));
}

}  // namespace
}  // namespace training
}  // namespace diffmem
