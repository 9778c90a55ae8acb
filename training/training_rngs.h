// TrainingRngs: the random streams a training run draws from, and the one
// way they are saved into a checkpoint and restored from it, so a resumed
// run continues bit for bit.
//   "loss"     σ and noise of the denoising loss (its own CPU generator)
//   "default"  LibTorch's default CPU generator: dropout and anything else
//   "device"   the CUDA device's default generator (CUDA runs only)
// Seeded from the run's seed: the loss stream with seed ^ "loss", the
// default one with seed ^ "drop" (the network's initial weights were drawn
// with the seed itself, before the Trainer started).
//
// Example:
//   TrainingRngs rngs = TrainingRngs::Seeded(options.seed);
//   state.rng = rngs.States(device);            // into CheckpointState
//   rngs.Restore(loaded.rng, device);           // after LoadCheckpoint

#ifndef DIFFMEM_TRAINING_TRAINING_RNGS_H_
#define DIFFMEM_TRAINING_TRAINING_RNGS_H_

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace diffmem {
namespace training {

struct TrainingRngs {
  at::Generator loss;

  static TrainingRngs Seeded(uint64_t seed) {
    TrainingRngs r;
    r.loss = at::detail::createCPUGenerator(seed ^ 0x6c6f7373ull);  // "loss"
    torch::manual_seed(seed ^ 0x64726f70ull);                         // "drop"
    return r;
  }

  // Every stream's state, by the names above.
  std::map<std::string, torch::Tensor> States(torch::Device device) const {
    std::map<std::string, torch::Tensor> s;
    s["loss"] = loss.get_state();
    s["default"] = at::detail::getDefaultCPUGenerator().get_state();
    if (device.is_cuda()) s["device"] = at::globalContext().defaultGenerator(device).get_state();
    return s;
  }

  // Restores the streams a checkpoint holds (older ones may lack some).
  void Restore(const std::map<std::string, torch::Tensor>& states, torch::Device device) {
    if (auto it = states.find("loss"); it != states.end()) loss.set_state(it->second);
    if (auto it = states.find("default"); it != states.end()) {
      at::Generator cpu = at::detail::getDefaultCPUGenerator();  // shares the global generator
      cpu.set_state(it->second);
    }
    if (device.is_cuda()) {
      if (auto it = states.find("device"); it != states.end()) {
        at::Generator gpu = at::globalContext().defaultGenerator(device);
        gpu.set_state(it->second);
      }
    }
  }
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_TRAINING_RNGS_H_
