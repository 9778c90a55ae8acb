// One training step — forward, backward, Adam, EMA — of diffmem's Trainer
// (Trainer<EdmPreconditioner, UNet<DdpmppSpec>>::Step) beside the same work
// written directly against LibTorch in the same run (the baseline: the
// kernels plus the least code that drives them). The ratio of the two is the
// share of step time diffmem adds outside LibTorch's kernels.
//
//   bazel run -c opt //benchmarks:train_step_benchmark                        # all
//   bazel run //benchmarks:train_step_benchmark -- --benchmark_filter=small
//
// Configs (benchmarks/train_step_configs.h): small8 / small16 (the EMM
// study's 0.72M CPU network at 8×8 / 16×16, batch 64) and cifar32 (DDPM++
// CIFAR-10, 55.7M, batch 8, 3×32×32).
// Counters: images/s, parameters, ms per step, and (BM_TrainerStep) the step
// split into forward+backward, optimizer, EMA and the rest; GFLOP/img and
// TFLOPS, an estimate of the network's training arithmetic (see
// TrainFlopsPerImage), to compare with the machine's GEMM rate
// (memorization_benchmark's BM_Gemm).
// Device: DIFFMEM_BENCHMARK_DEVICE=cuda trains on the GPU (the interleaved
// CPU-time comparison is CPU-only and is skipped there).

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/optim/adam.h>

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "benchmarks/benchmark_device.h"
#include "benchmarks/train_step_configs.h"
#include "data/dataset.h"
#include "data/pixels.h"
#include "diffusion/denoiser.h"
#include "diffusion/preconditioning.h"
#include "networks/num_parameters.h"
#include "networks/unet.h"
#include "training/train_network.h"

namespace {

using diffmem::benchmarks::BenchmarkDevice;
using diffmem::benchmarks::BenchTrainer;
using diffmem::benchmarks::GetTrainStepConfig;
using diffmem::benchmarks::RandomImages;
using diffmem::benchmarks::SetThreadsFromEnvironment;
using diffmem::benchmarks::StartBenchTrainer;
using diffmem::networks::DdpmppSpec;
using diffmem::networks::UNet;
using diffmem::networks::UNetOptions;
using Config = diffmem::benchmarks::TrainStepConfig;

// An estimate of one training step's arithmetic per image, forward and
// backward (backward ≈ 2× forward, as in the "6N" rule of Kaplan et al.
// 2020): each convolution or linear weight costs 2 flops per use, and is used
// once per output pixel at the resolution its module name carries
// (enc_RxR_…, dec_RxR_…; out_conv at full resolution; the embedding layers
// once per image); attention adds its two batched products, 4·C·(R²)².
// Normalizations and element-wise work are left out.
double TrainFlopsPerImage(UNet<DdpmppSpec>& net, const UNetOptions& o) {
  static const std::regex at_res("_([0-9]+)x([0-9]+)_");
  double forward = 0;
  for (const auto& item : net->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& w = item.value();
    if (w.dim() < 2) continue;  // biases, norms
    double pixels = 1;
    std::smatch m;
    if (std::regex_search(name, m, at_res)) {
      pixels = std::stod(m[1]) * std::stod(m[2]);
    } else if (name.rfind("out_conv", 0) == 0) {
      pixels = static_cast<double>(o.img_resolution()) * o.img_resolution();
    }
    forward += 2.0 * w.numel() * pixels;
    if (name.find(".qkv.weight") != std::string::npos) forward += 4.0 * w.size(1) * pixels * pixels;
  }
  return 3 * forward;
}

void Report(benchmark::State& state, int64_t batch, UNet<DdpmppSpec>& net, const UNetOptions& o) {
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["params"] = static_cast<double>(diffmem::networks::NumParameters(*net));
  state.counters["GFLOP/img"] = TrainFlopsPerImage(net, o) * 1e-9;
  state.counters["TFLOPS"] = benchmark::Counter(batch * TrainFlopsPerImage(net, o) * 1e-12,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = at::get_num_threads();
}

// The benchmarks' network, initialised from seed 0 on the CPU, then moved.
UNet<DdpmppSpec> MakeNet(const Config& c, const torch::Device& device) {
  torch::manual_seed(0);
  UNet<DdpmppSpec> net(c.unet);
  net->to(device);
  return net;
}

double ProcessCpuS() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// diffmem: Trainer::Step (data order, batch gather, EDM loss through the
// Denoiser wrapper, backward, optimizer with lr schedule, EMA update), split
// into its parts by Trainer::Step's StepTimes. Counters, ms per step of wall
// time: fwd_bwd (loss forward + backward), optimizer (zeroing gradients,
// update), ema, rest (batch gather and everything else: step − the three);
// the same in CPU time of all threads (cpu_*: robust to other load on a
// shared machine); and the ratios the training-speed goal is stated in,
// optimizer+EMA as % of the step and step / fwd_bwd, in both.
void BM_TrainerStep(benchmark::State& state) {
  SetThreadsFromEnvironment();
  const Config c = GetTrainStepConfig(state.range(0));
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  state.SetLabel(std::string(c.name) + "/" + device.str());
  const std::string dir = std::filesystem::temp_directory_path().string() + "/train_step_benchmark";
  std::unique_ptr<BenchTrainer> trainer = StartBenchTrainer(c, dir, device);
  if (!trainer) {
    state.SkipWithError("Trainer::Start failed");
    return;
  }
  for (int i = 0; i < 2; ++i) (void)trainer->Step();  // warm-up (allocator, oneDNN primitives)
  diffmem::training::StepTimes times;
  double wall_s = 0, cpu_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = ProcessCpuS();
    absl::StatusOr<double> loss = trainer->Step(&times);
    cpu_s += ProcessCpuS() - c0;
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    benchmark::DoNotOptimize(loss);
  }
  const double ms = 1e3 / static_cast<double>(state.iterations());
  auto split = [&](const char* prefix, double step, double fb, double opt, double ema) {
    const std::string p = prefix;
    state.counters[p + "fwd_bwd_ms"] = fb * ms;
    state.counters[p + "optimizer_ms"] = opt * ms;
    state.counters[p + "ema_ms"] = ema * ms;
    state.counters[p + "rest_ms"] = (step - fb - opt - ema) * ms;
    state.counters[p + "opt+ema_%"] = 100 * (opt + ema) / step;
    state.counters[p + "step/fwd_bwd"] = step / fb;
  };
  split("", wall_s, times.forward_backward.wall_s, times.optimizer.wall_s, times.ema.wall_s);
  split("cpu_", cpu_s, times.forward_backward.cpu_s, times.optimizer.cpu_s, times.ema.cpu_s);
  Report(state, c.batch, trainer->net(), c.unet);  // Step() waits for the loss: no extra sync needed
  std::filesystem::remove_all(dir);
}

// Baseline: the same step written straight against LibTorch — EDM
// preconditioning and loss inline, torch::optim::Adam, EMA by lerp_.
struct RawLoop {
  RawLoop(const Config& c, const torch::Device& device)
      : c(c), device(device), net(MakeNet(c, device)), adam(net->parameters(), torch::optim::AdamOptions(1e-3)),
        ds(RandomImages(c.unet, 256)) {
    ds.images = ds.images.to(device);
    params = net->parameters();
    for (const torch::Tensor& p : params) ema.push_back(p.detach().clone());
  }
  double Step() {
    const double sd = 0.5;
    torch::Tensor idx = torch::randint(0, ds.size(), {c.batch}, torch::TensorOptions(torch::kInt64).device(device));
    torch::Tensor y = diffmem::data::PixelsToFloat(ds.images.index_select(0, idx));
    torch::Tensor sigma = (torch::randn({c.batch}, torch::TensorOptions().device(device)) * 1.2 - 1.2).exp();
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
  torch::Device device;
  UNet<DdpmppSpec> net;
  torch::optim::Adam adam;
  diffmem::data::Dataset ds;
  std::vector<torch::Tensor> params, ema;
};

void BM_RawLibTorchStep(benchmark::State& state) {
  SetThreadsFromEnvironment();
  const Config c = GetTrainStepConfig(state.range(0));
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  state.SetLabel(std::string(c.name) + "/" + device.str());
  RawLoop raw(c, device);
  for (int i = 0; i < 2; ++i) raw.Step();
  for (auto _ : state) benchmark::DoNotOptimize(raw.Step());  // Step() waits for the loss
  Report(state, c.batch, raw.net, c.unet);
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
  SetThreadsFromEnvironment();
  const Config c = GetTrainStepConfig(state.range(0));
  state.SetLabel(c.name);
  if (diffmem::benchmarks::BenchmarkDeviceName() != "cpu") {
    state.SkipWithError("compares CPU time of this thread: CPU only");
    return;
  }
  const std::string dir = std::filesystem::temp_directory_path().string() + "/train_step_benchmark_vs";
  std::unique_ptr<BenchTrainer> trainer = StartBenchTrainer(c, dir);
  if (!trainer) {
    state.SkipWithError("Trainer::Start failed");
    return;
  }
  RawLoop raw(c, torch::kCPU);
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
  SetThreadsFromEnvironment();
  const Config c = GetTrainStepConfig(state.range(0));
  torch::Device device = torch::kCPU;
  if (!BenchmarkDevice(state, &device)) return;
  state.SetLabel(std::string(c.name) + "/" + device.str());
  UNet<DdpmppSpec> net = MakeNet(c, device);
  torch::Tensor x =
      torch::randn({c.batch, c.unet.in_channels(), c.unet.img_resolution(), c.unet.img_resolution()}).to(device);
  torch::Tensor cn = torch::randn({c.batch}).to(device);
  auto step = [&] {
    net->zero_grad();
    torch::Tensor loss = net->forward(x, cn, {}).square().sum();
    loss.backward();
    return loss.item<double>();
  };
  step();
  for (auto _ : state) benchmark::DoNotOptimize(step());  // step() waits for the loss
  Report(state, c.batch, net, c.unet);
}

// On a GPU the host thread mostly waits, so rates (images/s, TFLOPS) are per
// wall-clock second there; on the CPU they stay per CPU second of this thread.
void WallClockOnGpu(benchmark::internal::Benchmark* b) {
  if (diffmem::benchmarks::BenchmarkDeviceName() == "cuda") b->UseRealTime();
}

BENCHMARK(BM_TrainerStep)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->Apply(WallClockOnGpu);
BENCHMARK(BM_RawLibTorchStep)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->Apply(WallClockOnGpu);
BENCHMARK(BM_TrainerVsRawInterleaved)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(4.0);
BENCHMARK(BM_ForwardBackwardOnly)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->MinTime(2.0)->Apply(WallClockOnGpu);

}  // namespace
