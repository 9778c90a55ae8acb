// Where LibTorch 1.13 (Debian's, the CPU default) and 2.x (PyPI's torch
// wheel, the GPU machines') differ for diffmem, behind one interface. All of
// diffmem's sources compile unchanged against both; what differs is how
// optimizer state is keyed and saved:
//
//   DIFFMEM_TORCH_VERSION_AT_LEAST(major, minor)  compile-time version test
//   OptimizerStateKey(param)         the key of torch::optim::Optimizer::state()
//                                    for a parameter (1.x: the TensorImpl address
//                                    as a string; 2.x: the address itself)
//   LoadOptimizerState(archive, opt) restores the per-parameter state an
//                                    optimizer wrote with Optimizer::save, under
//                                    either version
//   AutocastScope(device_type, dtype) autocast on one device type for a scope
//                                    (1.x: set_cpu_enabled / set_enabled; 2.x:
//                                    set_autocast_enabled(device_type, ...))
//
// Why LoadOptimizerState exists: Optimizer::save names each parameter's state
// by its TensorImpl address, printed in hex by 1.x ("0x55d1…") and in decimal
// by 2.x; 2.x's Optimizer::load parses the names as decimal numbers, so every
// hex name becomes 0 and one parameter's state lands on all of them — a 1.13
// checkpoint cannot be resumed under 2.x ("size of tensor a (64) must match
// the size of tensor b (16)"). Here the saved names are only matched as
// strings, through the parameter lists saved with them, as 1.x does. (Saved
// group options are not restored, as in 1.x: diffmem's trainer sets them from
// its configuration, which a resume must match.)
//
// Example:
//   torch::serialize::InputArchive opt_archive;
//   archive.read("optimizer", opt_archive);
//   diffmem::util::LoadOptimizerState(opt_archive, adam);   // instead of adam.load(opt_archive)

#ifndef DIFFMEM_UTIL_TORCH_COMPAT_H_
#define DIFFMEM_UTIL_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/types.h>
#include <torch/version.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#define DIFFMEM_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace diffmem {
namespace util {

#if DIFFMEM_TORCH_VERSION_AT_LEAST(2, 0)
inline void* OptimizerStateKey(const torch::Tensor& param) { return param.unsafeGetTensorImpl(); }
#else
// What 1.x's optimizers look their state up by (the address printed by operator<<).
inline std::string OptimizerStateKey(const torch::Tensor& param) {
  return c10::guts::to_string(param.unsafeGetTensorImpl());
}
#endif

namespace internal_torch_compat {

// Optimizer::save's layout (both versions): "pytorch_version" = "1.5.0";
// "state"/NAME = the parameter's state; "param_groups"/"param_groups/size",
// "param_groups/G"/"params/size" and "params/J" = NAME of the group's J-th
// parameter.
template <class State>
void LoadState(torch::serialize::InputArchive& archive, torch::optim::Optimizer& optimizer) {
  c10::IValue version;
  archive.read("pytorch_version", version);
  TORCH_CHECK(version.isString() && version.toStringRef() == "1.5.0",
              "optimizer state: unknown layout version ", version);
  torch::serialize::InputArchive states, groups;
  archive.read("state", states);
  archive.read("param_groups", groups);
  torch::Tensor num_groups;
  groups.read("param_groups/size", num_groups);
  TORCH_CHECK(num_groups.item<int64_t>() == static_cast<int64_t>(optimizer.param_groups().size()),
              "optimizer state: ", num_groups.item<int64_t>(), " parameter groups saved, the optimizer has ",
              optimizer.param_groups().size());
  for (size_t g = 0; g < optimizer.param_groups().size(); ++g) {
    torch::serialize::InputArchive group;
    groups.read("param_groups/" + std::to_string(g), group);
    const std::vector<torch::Tensor>& params = optimizer.param_groups()[g].params();
    torch::Tensor num_params;
    group.read("params/size", num_params);
    TORCH_CHECK(num_params.item<int64_t>() == static_cast<int64_t>(params.size()), "optimizer state: group ", g,
                " has ", num_params.item<int64_t>(), " parameters saved, the optimizer has ", params.size());
    for (size_t j = 0; j < params.size(); ++j) {
      c10::IValue name;
      group.read("params/" + std::to_string(j), name);
      torch::serialize::InputArchive saved;
      if (!states.try_read(name.toStringRef(), saved)) continue;  // no state yet (never stepped)
      auto state = std::make_unique<State>();
      state->serialize(saved);
      optimizer.state()[OptimizerStateKey(params[j])] = std::move(state);
    }
  }
}

}  // namespace internal_torch_compat

// Restores what `optimizer.save(...)` wrote (under LibTorch 1.x or 2.x) into
// `optimizer`, whose parameters must be listed in the same order. Adam, AdamW
// and SGD are read version-independently; any other optimizer type goes
// through its own Optimizer::load.
inline void LoadOptimizerState(torch::serialize::InputArchive& archive, torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr) {
    internal_torch_compat::LoadState<torch::optim::AdamWParamState>(archive, optimizer);
  } else if (dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr) {
    internal_torch_compat::LoadState<torch::optim::AdamParamState>(archive, optimizer);
  } else if (dynamic_cast<torch::optim::SGD*>(&optimizer) != nullptr) {
    internal_torch_compat::LoadState<torch::optim::SGDParamState>(archive, optimizer);
  } else {
    optimizer.load(archive);
  }
}

// Autocast of `device_type` (CPU or CUDA) to `dtype` while it lives, as
// PyTorch's `with torch.autocast(device_type, dtype)`: eligible ops (convolutions,
// matrix products) run in `dtype`, the rest in float32; on leaving, the
// previous state returns and the cast cache is cleared.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device_type, at::ScalarType dtype) : device_type_(device_type) {
#if DIFFMEM_TORCH_VERSION_AT_LEAST(2, 4)
    was_enabled_ = at::autocast::is_autocast_enabled(device_type_);
    was_dtype_ = at::autocast::get_autocast_dtype(device_type_);
    at::autocast::set_autocast_enabled(device_type_, true);
    at::autocast::set_autocast_dtype(device_type_, dtype);
#else
    if (device_type_ == c10::DeviceType::CUDA) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if DIFFMEM_TORCH_VERSION_AT_LEAST(2, 4)
    at::autocast::set_autocast_enabled(device_type_, was_enabled_);
    at::autocast::set_autocast_dtype(device_type_, was_dtype_);
#else
    if (device_type_ == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_TORCH_COMPAT_H_
