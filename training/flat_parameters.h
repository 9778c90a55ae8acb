// FlatParameters: a module's parameters — and their gradients — as views into
// a few flat contiguous buffers, one per (dtype, device). An optimizer or an
// EMA then updates every parameter with a handful of long vectorised passes
// instead of a chain of small ops per tensor, and a data-parallel trainer can
// all-reduce the flat gradient in one call.
//
// Each parameter keeps its TensorImpl (the module, the optimizer and every
// Tensor handle still see the same tensor); only its storage becomes a slice
// of the group buffer, at an offset aligned to 64 bytes, with zeros between
// slices. Gradients are plain (non-view) tensors on a slice of the gradient
// buffer: autograd accumulates into a defined gradient in place
// (`grad += new`, LibTorch's AccumulateGrad without create_graph), so
// backward writes straight into the flat gradient, and LibTorch 1.13's
// zero_grad() (detach_ + zero_) keeps them.
//
// What can break the views, and how they are restored:
//   - zero_grad(set_to_none) — LibTorch 2's default — or a parameter
//     outside the graph leaves a gradient undefined, and a later backward
//     hands it a fresh tensor: AttachGradients() copies such gradients into
//     their slice (undefined ones read as zero) and re-points them;
//   - module.to(other device or dtype) or set_data() gives a parameter new
//     storage: Reattach() rebuilds the layout from the current values (and
//     gradients) and increments generation(), so state kept in the old
//     layout can be carried over (MoveToLayout).
// Copying checkpoint weights in place (training/checkpoint.h) keeps them.
//
// Example:
//   diffmem::training::FlatParameters flat(net->parameters(), /*with_gradients=*/true);
//   flat.ZeroGradients();                       // one pass per buffer
//   loss.backward();                            // accumulates into flat.groups()[0].gradients
//   flat.AttachGradients();                     // no-op unless something replaced a gradient
//   torch::Tensor g = flat.groups()[0].gradients;  // all gradients, one tensor

#ifndef DIFFMEM_TRAINING_FLAT_PARAMETERS_H_
#define DIFFMEM_TRAINING_FLAT_PARAMETERS_H_

#include <c10/util/Exception.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

namespace diffmem {
namespace training {

// Where parameter i lives: group, first element, element count.
struct FlatSlot {
  int64_t group = 0;
  int64_t offset = 0;
  int64_t numel = 0;
};

// One buffer per (dtype, device); `gradients` has the same layout (undefined
// when gradients were not asked for).
struct FlatGroup {
  torch::Tensor values;
  torch::Tensor gradients;
};

class FlatParameters {
 public:
  // Slices start at multiples of this many elements (64 bytes of float32).
  static constexpr int64_t kAlignment = 16;

  FlatParameters() = default;

  // Moves `params` into flat buffers (values and existing gradients kept).
  // `with_gradients`: gradients too (every parameter must require grad).
  FlatParameters(std::vector<torch::Tensor> params, bool with_gradients)
      : params_(std::move(params)), with_gradients_(with_gradients) {
    std::set<const void*> seen;
    for (const torch::Tensor& p : params_) {
      TORCH_CHECK(p.defined(), "FlatParameters: undefined parameter");
      TORCH_CHECK(!with_gradients || p.requires_grad(),
                  "FlatParameters: gradients asked for, but a parameter of shape ", p.sizes(),
                  " does not require grad");
      TORCH_CHECK(seen.insert(p.unsafeGetTensorImpl()).second, "FlatParameters: a parameter of shape ", p.sizes(),
                  " is listed twice (shared parameters are not supported)");
    }
    Build();
  }

  const std::vector<torch::Tensor>& parameters() const { return params_; }
  const std::vector<FlatSlot>& slots() const { return slots_; }
  const std::vector<FlatGroup>& groups() const { return groups_; }
  bool has_gradients() const { return with_gradients_; }
  // Counts layout rebuilds (Reattach); state in the layout of an older
  // generation must be moved with MoveToLayout.
  int64_t generation() const { return generation_; }

  // Parameter i's slice of `buffer` (a group buffer of this layout), shaped
  // like the parameter; a plain tensor sharing the buffer's storage.
  torch::Tensor Slice(const torch::Tensor& buffer, size_t i) const {
    return SliceOf(buffer, slots_[i].offset, params_[i].sizes());
  }

  // Whether every parameter still lives in its slice.
  bool ValuesAttached() const {
    for (size_t i = 0; i < params_.size(); ++i) {
      if (!InSlot(params_[i], groups_[slots_[i].group].values, slots_[i])) return false;
    }
    return true;
  }

  // Rebuilds the layout when a parameter left its slice (see above); true
  // when it did.
  bool Reattach() {
    if (ValuesAttached()) return false;
    Build();
    ++generation_;
    return true;
  }

  // Makes every gradient the view of its slice again (see above).
  void AttachGradients() {
    if (!with_gradients_) return;
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      torch::Tensor& p = params_[i];
      const FlatSlot& s = slots_[i];
      const torch::Tensor& buffer = groups_[s.group].gradients;
      const torch::Tensor& g = p.grad();
      if (g.defined() && InSlot(g, buffer, s)) continue;
      torch::Tensor slice = Slice(buffer, i);
      if (g.defined()) {
        slice.copy_(g);
      } else {
        slice.zero_();
      }
      p.mutable_grad() = slice;
    }
  }

  // Every gradient to zero: one pass per buffer (padding included).
  void ZeroGradients() {
    if (!with_gradients_) return;
    AttachGradients();
    for (FlatGroup& g : groups_) g.gradients.zero_();
  }

  // The buffers `params` (another module's parameters, in order) live in,
  // one per group of this layout, when they sit at exactly this layout's
  // offsets, dtypes and devices (e.g. a copy of a network flattened the
  // same way); empty otherwise.
  std::vector<torch::Tensor> BuffersOf(const std::vector<torch::Tensor>& params) const {
    if (params.size() != slots_.size()) return {};
    std::vector<const torch::Tensor*> first(groups_.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const torch::Tensor& p = params[i];
      const FlatSlot& s = slots_[i];
      const torch::Tensor& values = groups_[s.group].values;
      const torch::Tensor*& f = first[s.group];
      if (f == nullptr) f = &p;
      if (!p.defined() || !p.storage().is_alias_of(f->storage()) || p.storage_offset() != s.offset ||
          !p.is_contiguous() || p.numel() != s.numel || p.dtype() != values.dtype() || p.device() != values.device()) {
        return {};
      }
    }
    std::vector<torch::Tensor> out;
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < groups_.size(); ++k) {
      const torch::Tensor& values = groups_[k].values;
      if (first[k] == nullptr || first[k]->storage().nbytes() < values.nbytes()) return {};
      out.push_back(torch::empty({0}, values.options()).set_(first[k]->storage(), 0, values.sizes()));
    }
    return out;
  }

  // Marks every parameter as modified in place (what an in-place ATen op
  // would do), after an update that wrote the buffers directly.
  void BumpVersions() {
    for (torch::Tensor& p : params_) p.unsafeGetTensorImpl()->bump_version();
  }

  // `old_buffers` (one per group, in the layout `old_slots`) re-laid out
  // into this layout: each parameter's slice is copied (to this layout's
  // device and dtype), padding is zero.
  std::vector<torch::Tensor> MoveToLayout(const std::vector<torch::Tensor>& old_buffers,
                                          const std::vector<FlatSlot>& old_slots) const {
    TORCH_CHECK(old_slots.size() == slots_.size(), "FlatParameters::MoveToLayout: ", old_slots.size(),
                " slots given, the layout has ", slots_.size());
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> out;
    for (const FlatGroup& g : groups_) out.push_back(torch::zeros_like(g.values));
    for (size_t i = 0; i < slots_.size(); ++i) {
      TORCH_CHECK(old_slots[i].numel == slots_[i].numel, "FlatParameters::MoveToLayout: parameter ", i, " has ",
                  old_slots[i].numel, " elements in the old layout, ", slots_[i].numel, " now");
      const torch::Tensor& from = old_buffers.at(old_slots[i].group);
      out[slots_[i].group].narrow(0, slots_[i].offset, slots_[i].numel)
          .copy_(from.narrow(0, old_slots[i].offset, old_slots[i].numel));
    }
    return out;
  }

  // A plain tensor of `sizes` on `buffer`'s storage at `offset`: not an
  // autograd view, so detach_() and zero_grad() work on it.
  static torch::Tensor SliceOf(const torch::Tensor& buffer, int64_t offset, c10::IntArrayRef sizes) {
    torch::NoGradGuard no_grad;
    torch::Tensor t = torch::empty({0}, buffer.options());
    t.set_(buffer.storage(), buffer.storage_offset() + offset, sizes);
    return t;
  }

 private:
  static bool InSlot(const torch::Tensor& t, const torch::Tensor& buffer, const FlatSlot& s) {
    return t.defined() && t.storage().is_alias_of(buffer.storage()) &&
           t.storage_offset() == buffer.storage_offset() + s.offset && t.numel() == s.numel && t.is_contiguous() &&
           t.dtype() == buffer.dtype() && t.device() == buffer.device();
  }

  // Plans the groups from the parameters' current dtypes and devices, copies
  // values (and gradients) in and points the parameters at their slices.
  void Build() {
    torch::NoGradGuard no_grad;
    slots_.assign(params_.size(), FlatSlot());
    std::vector<torch::TensorOptions> kinds;
    std::vector<int64_t> sizes;
    for (size_t i = 0; i < params_.size(); ++i) {
      const torch::Tensor& p = params_[i];
      size_t k = 0;
      while (k < kinds.size() && !(kinds[k].dtype() == p.dtype() && kinds[k].device() == p.device())) ++k;
      if (k == kinds.size()) {
        kinds.push_back(p.options());
        sizes.push_back(0);
      }
      slots_[i] = FlatSlot{static_cast<int64_t>(k), sizes[k], p.numel()};
      sizes[k] += (p.numel() + kAlignment - 1) / kAlignment * kAlignment;
    }
    groups_.assign(kinds.size(), FlatGroup());
    for (size_t k = 0; k < kinds.size(); ++k) {
      const torch::TensorOptions o = torch::TensorOptions().dtype(kinds[k].dtype()).device(kinds[k].device());
      groups_[k].values = torch::zeros({sizes[k]}, o);
      if (with_gradients_) groups_[k].gradients = torch::zeros({sizes[k]}, o);
    }
    for (size_t i = 0; i < params_.size(); ++i) {
      torch::Tensor& p = params_[i];
      const FlatSlot& s = slots_[i];
      torch::Tensor values = Slice(groups_[s.group].values, i);
      values.copy_(p.detach());
      p.set_data(values);
      if (with_gradients_) {
        torch::Tensor grad = Slice(groups_[s.group].gradients, i);
        if (p.grad().defined()) grad.copy_(p.grad());
        p.mutable_grad() = grad;
      }
    }
  }

  std::vector<torch::Tensor> params_;
  bool with_gradients_ = false;
  std::vector<FlatSlot> slots_;
  std::vector<FlatGroup> groups_;
  int64_t generation_ = 0;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_FLAT_PARAMETERS_H_
