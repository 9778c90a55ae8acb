// Which weights of a training run: the trained ones ("raw") or their
// exponential moving average ("ema"). Checkpoints hold both; sampling,
// scoring and export pick one. LibTorch-free, so records and flags can name it.
//
// Example:
//   absl::StatusOr<diffmem::diffusion::Weights> w = diffmem::ParseEnum<diffmem::diffusion::Weights>("ema", "--weights");
//   const char* name = diffmem::EnumName(*w);  // "ema"

#ifndef DIFFMEM_DIFFUSION_WEIGHTS_H_
#define DIFFMEM_DIFFUSION_WEIGHTS_H_

#include <utility>

#include "util/enum_names.h"

namespace diffmem {
namespace diffusion {

enum class Weights { kRaw, kEma };

}  // namespace diffusion

template <>
struct EnumNames<diffusion::Weights> {
  static constexpr std::pair<diffusion::Weights, const char*> kNames[] = {{diffusion::Weights::kRaw, "raw"},
                                                                          {diffusion::Weights::kEma, "ema"}};
};

}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_WEIGHTS_H_
