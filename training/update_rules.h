// The settings of one optimizer step, as the flat updates take them
// (training/flat_update.h): LibTorch's Adam/AdamW and SGD options plus the
// step count, which FlatOptimizer fills from its options each step.
//
// Example:
//   diffmem::training::AdamUpdateRule r;  r.lr = 2e-4;  r.step = 10;

#ifndef DIFFMEM_TRAINING_UPDATE_RULES_H_
#define DIFFMEM_TRAINING_UPDATE_RULES_H_

#include <cstdint>

namespace diffmem {
namespace training {

// One step of torch::optim::Adam (decoupled = false) or AdamW (true).
struct AdamUpdateRule {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: added to the gradient (L2); AdamW: p ← p·(1 − lr·wd) first
  bool decoupled = false;
  int64_t step = 1;         // 1 for the first update (bias corrections)
};

// One step of torch::optim::SGD.
struct SgdUpdateRule {
  double lr = 1e-2;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool first = true;  // the momentum buffer starts as a copy of the gradient
};
}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_UPDATE_RULES_H_
