// The training configurations the train-step benchmark and profile measure,
// and a started Trainer over random images for each.
//   small8 / small16  2-level UNet, 32 channels, mult 1,2, 1 block, no
//                     attention (0.72M; the EMM study's default CPU network)
//                     at 8×8 / 16×16, batch 64
//   cifar32           DDPM++ CIFAR-10 (128 channels, mult 2,2,2, 4 blocks,
//                     attention at 16, dropout 0.13; 55.7M), batch 8, 3×32×32
//
// Example:
//   const TrainStepConfig c = GetTrainStepConfig(2);            // cifar32
//   std::unique_ptr<BenchTrainer> t = StartBenchTrainer(c, "/tmp/x");
//   t->Step();

#ifndef DIFFMEM_BENCHMARKS_TRAIN_STEP_CONFIGS_H_
#define DIFFMEM_BENCHMARKS_TRAIN_STEP_CONFIGS_H_

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "data/dataset.h"
#include "diffusion/preconditioning.h"
#include "networks/unet.h"
#include "training/train_network.h"

namespace diffmem {
namespace benchmarks {

struct TrainStepConfig {
  const char* name;
  networks::UNetOptions unet;
  int64_t batch;
};

constexpr int64_t kNumTrainStepConfigs = 3;

inline TrainStepConfig GetTrainStepConfig(int64_t i) {
  using networks::UNetOptions;
  switch (i) {
    case 0:
      return {"small8", UNetOptions(8, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0), 64};
    case 1:
      return {"small16", UNetOptions(16, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0), 64};
    default:
      return {"cifar32", UNetOptions(32, 3, 3).model_channels(128).channel_mult({2, 2, 2}).num_blocks(4).attn_resolutions({16}).dropout(0.13), 8};
  }
}

// `n` uniformly random uint8 images of the config's shape.
inline data::Dataset RandomImages(const networks::UNetOptions& o, int64_t n) {
  data::Dataset ds;
  torch::manual_seed(0);
  ds.images = torch::randint(0, 256, {n, o.in_channels(), o.img_resolution(), o.img_resolution()}, torch::kUInt8);
  ds.source = "random";
  return ds;
}

// Threads from OMP_NUM_THREADS, else all cores (LibTorch starts at 1 here).
inline void SetThreadsFromEnvironment() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  at::set_num_threads(env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency()));
}

using BenchTrainer = training::Trainer<diffusion::EdmPreconditioner, networks::UNet<networks::DdpmppSpec>>;

// A Trainer (Adam, lr 1e-3, EMA β 0.999) on `device` over 256 random images
// in a fresh `dir`, started; null on failure.
inline std::unique_ptr<BenchTrainer> StartBenchTrainer(const TrainStepConfig& c, const std::string& dir,
                                                       const torch::Device& device = torch::kCPU) {
  training::TrainOptions t;
  t.batch_size = c.batch;
  t.lr = 1e-3;
  t.steps = 1 << 30;
  t.ema_schedule = training::EmaSchedule::kFixed;
  t.ema_beta = 0.999;
  t.device = device.is_cuda() ? "cuda" : "cpu";
  std::filesystem::remove_all(dir);
  torch::manual_seed(0);
  networks::UNet<networks::DdpmppSpec> net(c.unet);
  auto trainer = std::make_unique<BenchTrainer>(net, diffusion::EdmPreconditioner{}, RandomImages(c.unet, 256), t, dir);
  if (!trainer->Start(false).ok()) return nullptr;
  return trainer;
}

}  // namespace benchmarks
}  // namespace diffmem

#endif  // DIFFMEM_BENCHMARKS_TRAIN_STEP_CONFIGS_H_
