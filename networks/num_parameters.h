// NumParameters: the trainable parameter count of any LibTorch module
// (buffers such as Fourier frequencies excluded), what config.json and the
// tools report as a network's size.
//
// Example:
//   diffmem::networks::UNet<diffmem::networks::DdpmppSpec> net(options);
//   int64_t p = diffmem::networks::NumParameters(*net);

#ifndef DIFFMEM_NETWORKS_NUM_PARAMETERS_H_
#define DIFFMEM_NETWORKS_NUM_PARAMETERS_H_

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

namespace diffmem {
namespace networks {

inline int64_t NumParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const torch::Tensor& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_NUM_PARAMETERS_H_
