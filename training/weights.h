// Which weights of a training run: the trained ones ("raw") or their
// exponential moving average ("ema"). Checkpoints hold both; sampling,
// scoring and export pick one. LibTorch-free, so records and flags can name it.
//
// Example:
//   absl::StatusOr<diffmem::training::Weights> w = diffmem::ParseEnum<diffmem::training::Weights>("ema", "--weights");
//   const char* name = diffmem::EnumName(*w);  // "ema"

#ifndef DIFFMEM_TRAINING_WEIGHTS_H_
#define DIFFMEM_TRAINING_WEIGHTS_H_

#include <utility>

#include "util/enum_names.h"

namespace diffmem {
namespace training {

enum class Weights { kRaw, kEma };

}  // namespace training

template <>
struct EnumNames<training::Weights> {
  static constexpr std::pair<training::Weights, const char*> kNames[] = {{training::Weights::kRaw, "raw"},
                                                                          {training::Weights::kEma, "ema"}};
};

}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_WEIGHTS_H_
