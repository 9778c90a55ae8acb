// One training step — forward, backward, Adam, EMA — of diffmem's Trainer
// (Trainer<EdmPreconditioner, UNet<DdpmppSpec>>::Step) beside the same work
// written directly against LibTorch in the same run (the baseline: the
// kernels plus the least code that drives them). The ratio of the two is the
// share of step time diffmem adds outside LibTorch's kernels.
//
//   bazel run -c opt //benchmarks:train_step_benchmark                        # all
//   bazel run //benchmarks:train_step_benchmark -- --benchmark_filter=small
//
// Configs (batch 64 unless noted):
//   small8 / small16  2-level UNet, 32 channels, mult 1,2, 1 block, no attention (0.72M)
//                     (the EMM study's default CPU network) at 8×8 / 16×16
//   cifar32           DDPM++ CIFAR-10 (128 channels, mult 2,2,2, 4 blocks,
//                     attention at 16), batch 8, 3×32×32
// Counters: images/s, parameters, ms per step, and (BM_TrainerStep) the step
// split into forward+backward, optimizer, EMA and the rest.

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/optim/adam.h>

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "data/dataset.h"
#include "data/pixels.h"
#include "diffusion/denoiser.h"
#include "diffusion/preconditioning.h"
#include "diffusion/train.h"
#include "diffusion/unet.h"

namespace {

using diffmem::diffusion::DdpmppSpec;
using diffmem::diffusion::UNet;
using diffmem::diffusion::UNetOptions;

struct Config {
  const char* name;
  UNetOptions unet;
  int64_t batch;
};

Config GetConfig(int64_t i) {
  switch (i) {
    case 0:
      return {"small8", UNetOptions(8, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0), 64};
    case 1:
      return {"small16", UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0), 64};
    default:
      return {"cifar32", UNetOptions(32, 3, 3).model_channels(128).channel_mult({2, 2, 2}).num_blocks(4).attn_resolutions({16}).dropout(0.13), 8};
  }
}

diffmem::data::Dataset RandomData(const UNetOptions& o, int64_t n) {
  diffmem::data::Dataset ds;
  torch::manual_seed(0);
  ds.images = torch::randint(0, 256, {n, o.in_channels(), o.img_resolution(), o.img_resolution()}, torch::kUInt8);
  ds.source = "random";
  return ds;
}

void SetThreads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  at::set_num_threads(env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency()));
}

void Report(benchmark::State& state, int64_t batch, int64_t params) {
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["params"] = static_cast<double>(params);
  state.counters["threads"] = at::get_num_threads();
}

using BenchTrainer = diffmem::diffusion::Trainer<diffmem::diffusion::EdmPreconditioner, UNet<DdpmppSpec>>;

// A Trainer over 256 random images in a fresh `dir`, started; null on failure.
std::unique_ptr<BenchTrainer> StartTrainer(const Config& c, const std::string& dir) {
  diffmem::diffusion::TrainOptions t;
  t.batch_size = c.batch;
  t.lr = 1e-3;
  t.steps = 1 << 30;
  t.ema_beta = 0.999;
  t.device = "cpu";
  std::filesystem::remove_all(dir);
  torch::manual_seed(0);
  UNet<DdpmppSpec> net(c.unet);
  auto trainer = std::make_unique<BenchTrainer>(net, diffmem::diffusion::EdmPreconditioner{},
                                                RandomData(c.unet, 256), t, dir);
  if (!trainer->Start(false).ok()) return nullptr;
  return trainer;
}

// diffmem: Trainer::Step (data order, batch gather, EDM loss through the
// Denoiser wrapper, backward, optimizer with lr schedule, EMA update), split
// into its parts by Trainer::Step's StepTimes. Counters (ms per step):
// fwd_bwd (loss forward + backward), optimizer (zeroing gradients, update),
// ema, rest (batch gather and everything else: step − the three), and the
// ratios the training-speed goal is stated in: optimizer+EMA as % of the
// step, and step / fwd_bwd.
void BM_TrainerStep(benchmark::State& state) {
  SetThreads();
  const Config c = GetConfig(state.range(0));
  state.SetLabel(c.name);
  const std::string dir = std::filesystem::temp_directory_path().string() + "/train_step_benchmark";
  std::unique_ptr<BenchTrainer> trainer = StartTrainer(c, dir);
  if (!trainer) {
    state.SkipWithError("Trainer::Start failed");
    return;
  }
  for (int i = 0; i < 2; ++i) (void)trainer->Step();  // warm-up (allocator, oneDNN primitives)
  diffmem::diffusion::StepTimes times;
  double step_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<double> loss = trainer->Step(&times);
    step_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(loss);
  }
  const double n = static_cast<double>(state.iterations());
  const double step = step_s / n * 1e3, fb = times.forward_backward_s / n * 1e3, opt = times.optimizer_s / n * 1e3,
               ema = times.ema_s / n * 1e3;
  state.counters["fwd_bwd_ms"] = fb;
  state.counters["optimizer_ms"] = opt;
  state.counters["ema_ms"] = ema;
  state.counters["rest_ms"] = step - fb - opt - ema;
  state.counters["opt+ema_%"] = 100 * (opt + ema) / step;
  state.counters["step/fwd_bwd"] = step / fb;
  Report(state, c.batch, diffmem::diffusion::NumParameters(*trainer->net()));
  std::filesystem::remove_all(dir);
}

// Baseline: the same step written straight against LibTorch — EDM
// preconditioning and loss inline, torch::optim::Adam, EMA by lerp_.
struct RawLoop {
  explicit RawLoop(const Config& c)
      : c(c), net((torch::manual_seed(0), c.unet)), adam(net->parameters(), torch::optim::AdamOptions(1e-3)),
        ds(RandomData(c.unet, 256)) {
    params = net->parameters();
    for (const torch::Tensor& p : params) ema.push_back(p.detach().clone());
  }
  double Step() {
    const double sd = 0.5;
    torch::Tensor idx = torch::randint(0, ds.size(), {c.batch}, torch::kInt64);
    torch::Tensor y = diffmem::data::PixelsToFloat(ds.images.index_select(0, idx));
    torch::Tensor sigma = (torch::randn({c.batch}) * 1.2 - 1.2).exp();
    torch::Tensor s4 = sigma.view({-1, 1, 1, 1});
    torch::Tensor x = y + torch::randn_like(y) * s4;
    torch::Tensor var = s4 * s4 + sd * sd;
    torch::Tensor f = net->forward(x * var.rsqrt(), sigma.log() / 4, {});
    torch::Tensor d = (sd * sd / var) * x + (s4 * sd * var.rsqrt()) * f;
    torch::Tensor loss = ((var / (s4 * sd).square()) * (d - y).square()).sum() / c.batch;
    adam.zero_grad();
    loss.backward();
    adam.step();
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) ema[i].lerp_(params[i], 1 - 0.999);
    return loss.item<double>();
  }
  Config c;
  UNet<DdpmppSpec> net;
  torch::optim::Adam adam;
  diffmem::data::Dataset ds;
  std::vector<torch::Tensor> params, ema;
};

void BM_RawLibTorchStep(benchmark::State& state) {
  SetThreads();
  const Config c = GetConfig(state.range(0));
  state.SetLabel(c.name);
  RawLoop raw(c);
  for (int i = 0; i < 2; ++i) raw.Step();
  for (auto _ : state) benchmark::DoNotOptimize(raw.Step());
  Report(state, c.batch, diffmem::diffusion::NumParameters(*raw.net));
}

double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

// Trainer::Step and the raw loop alternately in one loop, each timed on its
// own (CPU time of this thread; run with OMP_NUM_THREADS=1 so that is all
// the work): the machine's load changes between benchmarks, not between two
// neighbouring steps. Counters: ms per step of each and the overhead share
// (trainer − raw) / trainer.
void BM_TrainerVsRawInterleaved(benchmark::State& state) {
  SetThreads();
  const Config c = GetConfig(state.range(0));
  state.SetLabel(c.name);
  const std::string dir = std::filesystem::temp_directory_path().string() + "/train_step_benchmark_vs";
  std::unique_ptr<BenchTrainer> trainer = StartTrainer(c, dir);
  if (!trainer) {
    state.SkipWithError("Trainer::Start failed");
    return;
  }
  RawLoop raw(c);
  for (int i = 0; i < 2; ++i) (void)trainer->Step(), raw.Step();
  double trainer_ms = 0, raw_ms = 0;
  for (auto _ : state) {
    double t0 = ThreadCpuMs();
    benchmark::DoNotOptimize(trainer->Step());
    double t1 = ThreadCpuMs();
    benchmark::DoNotOptimize(raw.Step());
    double t2 = ThreadCpuMs();
    trainer_ms += t1 - t0;
    raw_ms += t2 - t1;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["trainer_ms"] = trainer_ms / n;
  state.counters["raw_ms"] = raw_ms / n;
  state.counters["overhead_%"] = 100.0 * (trainer_ms - raw_ms) / trainer_ms;
  state.counters["threads"] = at::get_num_threads();
  std::filesystem::remove_all(dir);
}

// Forward + backward alone (no optimizer, no EMA): how much of a step the
// network itself takes.
void BM_ForwardBackwardOnly(benchmark::State& state) {
  SetThreads();
  const Config c = GetConfig(state.range(0));
  state.SetLabel(c.name);
  torch::manual_seed(0);
  UNet<DdpmppSpec> net(c.unet);
  torch::Tensor x = torch::randn({c.batch, c.unet.in_channels(), c.unet.img_resolution(), c.unet.img_resolution()});
  torch::Tensor cn = torch::randn({c.batch});
  auto step = [&] {
    net->zero_grad();
    torch::Tensor loss = net->forward(x, cn, {}).square().sum();
    loss.backward();
    return loss.item<double>();
  };
  step();
  for (auto _ : state) benchmark::DoNotOptimize(step());
  Report(state, c.batch, diffmem::diffusion::NumParameters(*net));
}

BENCHMARK(BM_TrainerStep)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_RawLibTorchStep)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_TrainerVsRawInterleaved)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(4.0);
BENCHMARK(BM_ForwardBackwardOnly)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
