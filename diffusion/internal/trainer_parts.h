// Pieces of diffusion/trainer.h that a reader of the Trainer need not see:
// the optimizer TrainOptions names, the resume-compatibility check, and the
// clock that splits a step for benchmarks. diffusion/ only.

#ifndef DIFFMEM_DIFFUSION_INTERNAL_TRAINER_PARTS_H_
#define DIFFMEM_DIFFUSION_INTERNAL_TRAINER_PARTS_H_

#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include <chrono>
#include <ctime>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "diffusion/flat_optimizer.h"
#include "diffusion/train_callbacks.h"
#include "diffusion/train_options.h"
#include "nlohmann/json.hpp"
#include "util/json_file.h"

namespace diffmem {
namespace diffusion {
namespace internal_train {

// The optimizer TrainOptions names, over flat parameter buffers: LibTorch's
// Adam, AdamW or SGD arithmetic in one pass per step (diffusion/flat_optimizer.h).
inline std::unique_ptr<FlatOptimizer> MakeOptimizer(std::vector<torch::Tensor> params, const TrainOptions& t) {
  if (t.optimizer == "adamw") {
    return std::make_unique<FlatOptimizer>(std::move(params), torch::optim::AdamWOptions(t.lr)
                                                                   .betas({t.adam_beta1, t.adam_beta2})
                                                                   .eps(t.adam_eps)
                                                                   .weight_decay(t.weight_decay));
  }
  if (t.optimizer == "sgd") {
    return std::make_unique<FlatOptimizer>(
        std::move(params), torch::optim::SGDOptions(t.lr).momentum(t.sgd_momentum).weight_decay(t.weight_decay));
  }
  return std::make_unique<FlatOptimizer>(std::move(params), torch::optim::AdamOptions(t.lr)
                                                                .betas({t.adam_beta1, t.adam_beta2})
                                                                .eps(t.adam_eps)
                                                                .weight_decay(t.weight_decay));
}

// Which setting of a stored configuration differs from the new one in a way
// that would break a bit-exact resume ("training.lr: was 0.001, now 0.002");
// "" when compatible. The duration, intervals and device may change.
inline std::string ResumeMismatch(nlohmann::json stored, nlohmann::json now) {
  for (nlohmann::json* j : {&stored, &now}) {
    j->erase("total_steps");
    if (!j->contains("training") || !j->at("training").is_object()) continue;
    nlohmann::json& t = j->at("training");
    for (auto it = t.begin(); it != t.end();) it = TrainOptionMayChangeOnResume(it.key()) ? t.erase(it) : std::next(it);
  }
  return util::FirstJsonDifference(stored, now);
}

// Adds the time since the last lap to a StepTimes part (nothing when off).
class PhaseClock {
 public:
  PhaseClock(bool on, torch::Device device) : on_(on), cuda_(device.is_cuda()) {
    if (on_) Read(&wall_, &cpu_);
  }
  void Lap(StepTimes::Part* into) {
    if (!on_) return;
    if (cuda_) torch::cuda::synchronize();
    double wall = 0, cpu = 0;
    Read(&wall, &cpu);
    into->wall_s += wall - wall_;
    into->cpu_s += cpu - cpu_;
    wall_ = wall;
    cpu_ = cpu;
  }

 private:
  static void Read(double* wall, double* cpu) {
    *wall = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    *cpu = static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
  }
  bool on_, cuda_;
  double wall_ = 0, cpu_ = 0;
};

}  // namespace internal_train

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_INTERNAL_TRAINER_PARTS_H_
