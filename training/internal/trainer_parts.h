// Pieces of training/trainer.h that a reader of the Trainer need not see:
// the optimizer TrainOptions names, the small all-reduces of a data-parallel
// step, and the clock that splits a step for benchmarks.

#ifndef DIFFMEM_TRAINING_INTERNAL_TRAINER_PARTS_H_
#define DIFFMEM_TRAINING_INTERNAL_TRAINER_PARTS_H_

#include <torch/cuda.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "parallel/replicas.h"
#include "training/flat_optimizer.h"
#include "training/train_callbacks.h"
#include "training/train_options.h"
#include "util/json_file.h"

namespace diffmem {
namespace training {
namespace internal_train {

// The optimizer TrainOptions names, over flat parameter buffers: LibTorch's
// Adam, AdamW or SGD arithmetic in one pass per step (training/flat_optimizer.h).
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

// The mean of a value over all ranks (the same result on every rank).
inline absl::StatusOr<double> MeanOverRanks(const parallel::Replicas& r, double value) {
  std::vector<torch::Tensor> t = {torch::full({1}, value, torch::kFloat64)};
  if (absl::Status s = r.all_reduce_sum(t); !s.ok()) return s;
  return t[0].item<double>() / r.world_size;
}

// Whether any rank passed true (every rank gets the same answer).
inline absl::StatusOr<bool> AnyRank(const parallel::Replicas& r, bool flag) {
  std::vector<torch::Tensor> t = {torch::full({1}, flag ? 1.0 : 0.0, torch::kFloat64)};
  if (absl::Status s = r.all_reduce_sum(t); !s.ok()) return s;
  return t[0].item<double>() > 0;
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

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_INTERNAL_TRAINER_PARTS_H_
