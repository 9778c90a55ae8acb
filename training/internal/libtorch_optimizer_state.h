// Reading the optimizer state LibTorch's own Adam, AdamW and SGD write
// (checkpoints of diffmem from before the flat optimizer): a LibTorch
// optimizer over the same parameters reads the archive, and its
// per-parameter moments come out, in parameter order, for
// training/flat_optimizer.h to copy into its flat buffers. Only
// FlatOptimizer uses this.

#ifndef DIFFMEM_TRAINING_INTERNAL_LIBTORCH_OPTIMIZER_STATE_H_
#define DIFFMEM_TRAINING_INTERNAL_LIBTORCH_OPTIMIZER_STATE_H_

#include <c10/util/Exception.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace diffmem {
namespace training {
namespace internal_flat_optimizer {

enum class Rule { kAdam, kAdamW, kSgd };

// Per parameter: Adam's m and v (SGD: the momentum buffer as `first`, no
// `second`); undefined where LibTorch kept no state. One step count.
struct LibTorchState {
  std::vector<torch::Tensor> first, second;
  int64_t steps = 0;
};

// The state key LibTorch's optimizers use (a string in 1.13, a pointer in 2.x).
template <class Map>
typename Map::key_type StateKey(const Map&, const torch::Tensor& p) {
  if constexpr (std::is_same<typename Map::key_type, std::string>::value) {
    std::ostringstream key;  // c10::guts::to_string of the pointer, as 1.13 writes it
    key << p.unsafeGetTensorImpl();
    return key.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

// Throws c10::Error when the state cannot continue as one flat optimizer
// (per-parameter step counts that differ, state for only some parameters).
template <class State, class First, class Second>
LibTorchState CopyOut(torch::optim::Optimizer& reader, const std::vector<torch::Tensor>& params, First first,
                      Second second) {
  LibTorchState out;
  out.first.resize(params.size());
  out.second.resize(params.size());
  int64_t steps = -1;
  bool missing = false;
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = reader.state().find(StateKey(reader.state(), params[i]));
    if (it == reader.state().end()) {
      missing = true;
      continue;
    }
    State& s = static_cast<State&>(*it->second);
    int64_t n = 1;  // SGD keeps no count: a momentum buffer means at least one step
    if constexpr (!std::is_same<State, torch::optim::SGDParamState>::value) n = s.step();
    TORCH_CHECK(steps < 0 || steps == n, "LibTorch optimizer state with per-parameter step counts that differ (",
                steps, " and ", n, "): the flat optimizer keeps one count, so this run cannot be resumed; "
                "start a new run (its weights still load for sampling: sample --weights=raw|ema)");
    steps = n;
    out.first[i] = first(s);
    if constexpr (!std::is_same<Second, std::nullptr_t>::value) out.second[i] = second(s);
  }
  TORCH_CHECK(!(missing && steps > 0), "LibTorch optimizer state covers only some parameters: the flat optimizer "
              "steps all of them together, so this run cannot be resumed; start a new run (its weights still "
              "load for sampling: sample --weights=raw|ema)");
  out.steps = std::max<int64_t>(steps, 0);
  return out;
}

inline LibTorchState ReadLibTorchState(torch::serialize::InputArchive& archive,
                                       const std::vector<torch::Tensor>& params, Rule rule) {
  if (rule == Rule::kSgd) {
    torch::optim::SGD reader(params, torch::optim::SGDOptions(1));
    reader.load(archive);
    return CopyOut<torch::optim::SGDParamState>(reader, params, [](auto& s) { return s.momentum_buffer(); },
                                                 nullptr);
  }
  if (rule == Rule::kAdam) {
    torch::optim::Adam reader(params, torch::optim::AdamOptions(1));
    reader.load(archive);
    return CopyOut<torch::optim::AdamParamState>(reader, params, [](auto& s) { return s.exp_avg(); },
                                                  [](auto& s) { return s.exp_avg_sq(); });
  }
  torch::optim::AdamW reader(params, torch::optim::AdamWOptions(1));
  reader.load(archive);
  return CopyOut<torch::optim::AdamWParamState>(reader, params, [](auto& s) { return s.exp_avg(); },
                                                 [](auto& s) { return s.exp_avg_sq(); });
}

}  // namespace internal_flat_optimizer
}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_INTERNAL_LIBTORCH_OPTIMIZER_STATE_H_
