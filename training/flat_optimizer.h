// FlatOptimizer: LibTorch's Adam, AdamW or SGD (same options, same
// arithmetic, bit for bit) over parameters kept in flat buffers
// (training/flat_parameters.h). A step is one fused pass over all
// parameters (training/flat_update.h) instead of a chain of small ops per
// tensor; zeroing gradients is one memset per buffer, gradient clipping one
// norm over the flat gradient, and flat_gradients() hands the whole gradient
// to a data-parallel all-reduce in one tensor.
//
// It is a torch::optim::Optimizer: param_groups()[0].options() is the
// AdamOptions / AdamWOptions / SGDOptions it was built with (set_lr works
// between steps), save()/load() go through OptimizerArchives as
// training/checkpoint.h expects. Constructing it moves the parameters into
// the flat buffers (their values do not change).
//
// Differences from the LibTorch optimizers, all outside diffmem's training:
//   - one parameter group; no amsgrad;
//   - a parameter whose gradient is undefined at step() (outside the graph,
//     or zero_grad(set_to_none)) steps with a zero gradient, where LibTorch
//     skips it; all parameters share one step count;
//   - ClipGradNorm takes one norm over the flat gradient, where
//     torch::nn::utils::clip_grad_norm_ takes the norm of per-tensor norms
//     (equal up to rounding: the clipped gradient can differ in the last bit).
//
// Checkpoints: save() writes format 1 (rule, step count, layout, state
// buffers); load() also reads the per-parameter state LibTorch's own
// optimizers write (checkpoints of diffmem before the flat optimizer).
//
// Example:
//   diffmem::training::FlatOptimizer opt(net->parameters(), torch::optim::AdamOptions(2e-4));
//   opt.ZeroGrad();
//   loss.backward();
//   opt.ClipGradNorm(1.0);                          // optional
//   opt.param_groups()[0].options().set_lr(lr);     // warm-up
//   opt.step();
//   AllReduce(opt.flat_gradients());               // data parallel: before step()

#ifndef DIFFMEM_TRAINING_FLAT_OPTIMIZER_H_
#define DIFFMEM_TRAINING_FLAT_OPTIMIZER_H_

#include <c10/util/Exception.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "training/flat_parameters.h"
#include "training/flat_update.h"
#include "training/internal/libtorch_optimizer_state.h"

namespace diffmem {
namespace training {

class FlatOptimizer : public torch::optim::Optimizer {
 public:
  FlatOptimizer(std::vector<torch::Tensor> params, const torch::optim::AdamOptions& o)
      : Optimizer(params, std::make_unique<torch::optim::AdamOptions>(o)), rule_(Rule::kAdam) {
    TORCH_CHECK(!o.amsgrad(), "FlatOptimizer: amsgrad is not supported");
    Init(std::move(params));
  }
  FlatOptimizer(std::vector<torch::Tensor> params, const torch::optim::AdamWOptions& o)
      : Optimizer(params, std::make_unique<torch::optim::AdamWOptions>(o)), rule_(Rule::kAdamW) {
    TORCH_CHECK(!o.amsgrad(), "FlatOptimizer: amsgrad is not supported");
    Init(std::move(params));
  }
  FlatOptimizer(std::vector<torch::Tensor> params, const torch::optim::SGDOptions& o)
      : Optimizer(params, std::make_unique<torch::optim::SGDOptions>(o)), rule_(Rule::kSgd) {
    TORCH_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0),
                "FlatOptimizer: Nesterov momentum requires a momentum and zero dampening");
    Init(std::move(params));
  }

  // One update of every parameter (LibTorch's closure convention).
  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::Tensor loss;
    if (closure) {
      torch::AutoGradMode grad(true);
      loss = closure();
    }
    TORCH_CHECK(param_groups_.size() == 1, "FlatOptimizer: one parameter group only");
    Sync();
    ++steps_;
    const torch::optim::OptimizerOptions& o = param_groups_[0].options();
    for (size_t k = 0; k < flat_.groups().size(); ++k) {
      const FlatGroup& g = flat_.groups()[k];
      if (rule_ == Rule::kSgd) {
        const auto& s = static_cast<const torch::optim::SGDOptions&>(o);
        SgdUpdateRule r;
        r.lr = s.lr();
        r.momentum = s.momentum();
        r.dampening = s.dampening();
        r.weight_decay = s.weight_decay();
        r.nesterov = s.nesterov();
        r.first = steps_ == 1;
        SgdUpdate(r, g.values, g.gradients, first_[k]);
      } else {
        AdamUpdateRule r = rule_ == Rule::kAdam ? AdamRule(static_cast<const torch::optim::AdamOptions&>(o))
                                                : AdamRule(static_cast<const torch::optim::AdamWOptions&>(o));
        r.decoupled = rule_ == Rule::kAdamW;
        r.step = steps_;
        AdamUpdate(r, g.values, g.gradients, first_[k], second_[k]);
      }
    }
    flat_.BumpVersions();
    return loss;
  }

  // Every gradient to zero, one pass per buffer (gradients stay flat).
  void ZeroGrad() {
    Sync();
    flat_.ZeroGradients();
  }

  // Scales the gradient so its L2 norm is at most `max_norm` (coefficient
  // max_norm / (norm + 1e-6), as torch::nn::utils::clip_grad_norm_); returns
  // the norm before clipping.
  double ClipGradNorm(double max_norm) {
    Sync();
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> norms;
    for (const FlatGroup& g : flat_.groups()) norms.push_back(g.gradients.norm());
    torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(Common(norms)).norm();
    torch::Tensor coef = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
    for (const FlatGroup& g : flat_.groups()) g.gradients.mul_(coef.to(g.gradients.options()));
    return total.item<double>();
  }

  // The whole gradient, one contiguous tensor per (dtype, device).
  std::vector<torch::Tensor> flat_gradients() {
    Sync();
    std::vector<torch::Tensor> out;
    for (const FlatGroup& g : flat_.groups()) out.push_back(g.gradients);
    return out;
  }

  const FlatParameters& flat() const { return flat_; }
  int64_t steps() const { return steps_; }
  std::string rule_name() const { return RuleName(rule_); }

  void save(torch::serialize::OutputArchive& archive) const override {
    std::vector<int64_t> layout;
    for (const FlatSlot& s : flat_.slots()) layout.insert(layout.end(), {s.group, s.offset, s.numel});
    archive.write("flat_optimizer_format", c10::IValue(static_cast<int64_t>(1)));
    archive.write("rule", c10::IValue(RuleName(rule_)));
    archive.write("steps", torch::tensor(steps_, torch::kInt64));
    archive.write("layout", torch::tensor(layout, torch::kInt64).view({-1, 3}));
    for (size_t k = 0; k < first_.size(); ++k) {
      if (first_[k].defined()) archive.write("first/" + std::to_string(k), first_[k]);
      if (second_[k].defined()) archive.write("second/" + std::to_string(k), second_[k]);
    }
  }

  // Throws c10::Error saying what does not match (training/checkpoint.h
  // adds the file name).
  void load(torch::serialize::InputArchive& archive) override {
    Sync();
    c10::IValue format;
    if (!archive.try_read("flat_optimizer_format", format)) {
      c10::IValue version;
      TORCH_CHECK(archive.try_read("pytorch_version", version),
                  "not an optimizer state (neither diffmem's flat format nor LibTorch's)");
      return LoadLibTorchState(archive);
    }
    TORCH_CHECK(format.isInt() && format.toInt() == 1, "optimizer state format ", format,
                " is not one this diffmem reads (1): written by a newer diffmem?");
    c10::IValue rule;
    archive.read("rule", rule);
    TORCH_CHECK(rule.isString() && rule.toStringRef() == RuleName(rule_), "optimizer state is for ",
                rule.isString() ? rule.toStringRef() : std::string("?"), ", this run uses ", RuleName(rule_));
    torch::Tensor steps, layout;
    archive.read("steps", steps);
    archive.read("layout", layout);
    layout = layout.to(torch::kCPU, torch::kInt64).contiguous();
    TORCH_CHECK(layout.dim() == 2 && layout.size(1) == 3, "optimizer state: malformed layout");
    std::vector<FlatSlot> old_slots(layout.size(0));
    int64_t old_groups = 0;
    const auto rows = layout.accessor<int64_t, 2>();
    for (size_t i = 0; i < old_slots.size(); ++i) {
      old_slots[i] = FlatSlot{rows[i][0], rows[i][1], rows[i][2]};
      TORCH_CHECK(rows[i][0] >= 0 && rows[i][1] >= 0 && rows[i][2] >= 0, "optimizer state: malformed layout");
      old_groups = std::max(old_groups, old_slots[i].group + 1);
    }
    CheckSameParameters(old_slots);
    auto read_state = [&](const std::string& name, std::vector<torch::Tensor>& into) {
      if (!Defined(into)) return;
      std::vector<torch::Tensor> old(old_groups);
      for (int64_t k = 0; k < old_groups; ++k) archive.read(name + "/" + std::to_string(k), old[k]);
      into = flat_.MoveToLayout(old, old_slots);
    };
    read_state("first", first_);
    read_state("second", second_);
    steps_ = steps.item<int64_t>();
  }

 private:
  using Rule = internal_flat_optimizer::Rule;
  static std::string RuleName(Rule r) { return r == Rule::kAdam ? "adam" : r == Rule::kAdamW ? "adamw" : "sgd"; }

  template <class Options>
  static AdamUpdateRule AdamRule(const Options& o) {
    AdamUpdateRule r;
    r.lr = o.lr();
    r.beta1 = std::get<0>(o.betas());
    r.beta2 = std::get<1>(o.betas());
    r.eps = o.eps();
    r.weight_decay = o.weight_decay();
    return r;
  }

  void Init(std::vector<torch::Tensor> params) {
    flat_ = FlatParameters(std::move(params), /*with_gradients=*/true);
    const bool momentum =
        rule_ != Rule::kSgd || static_cast<const torch::optim::SGDOptions&>(param_groups_[0].options()).momentum() != 0;
    for (const FlatGroup& g : flat_.groups()) {
      first_.push_back(momentum ? torch::zeros_like(g.values) : torch::Tensor());
      second_.push_back(rule_ != Rule::kSgd ? torch::zeros_like(g.values) : torch::Tensor());
    }
    state_slots_ = flat_.slots();
    state_generation_ = flat_.generation();
  }

  // Puts parameters moved out of their buffers (module.to(), set_data) back,
  // carrying the state along, and re-attaches replaced gradients.
  void Sync() {
    if (flat_.Reattach() || state_generation_ != flat_.generation()) {
      if (Defined(first_)) first_ = flat_.MoveToLayout(first_, state_slots_);
      if (Defined(second_)) second_ = flat_.MoveToLayout(second_, state_slots_);
      state_slots_ = flat_.slots();
      state_generation_ = flat_.generation();
    }
    flat_.AttachGradients();
  }

  void CheckSameParameters(const std::vector<FlatSlot>& old_slots) const {
    const std::vector<FlatSlot>& now = flat_.slots();
    TORCH_CHECK(old_slots.size() == now.size(), "optimizer state holds ", old_slots.size(), " parameters, the network has ",
                now.size());
    for (size_t i = 0; i < now.size(); ++i) {
      TORCH_CHECK(old_slots[i].numel == now[i].numel, "optimizer state of parameter ", i, " has ", old_slots[i].numel,
                  " elements, the parameter ", now[i].numel);
    }
  }

  // Whether a per-group state exists (it does for all groups or none).
  static bool Defined(const std::vector<torch::Tensor>& state) { return !state.empty() && state[0].defined(); }

  static std::vector<torch::Tensor> Common(std::vector<torch::Tensor> ts) {
    for (torch::Tensor& t : ts) t = t.to(ts[0].options());
    return ts;
  }

  // Checkpoints of diffmem before the flat optimizer: LibTorch's own
  // per-parameter state (training/internal/libtorch_optimizer_state.h),
  // copied into the flat state.
  void LoadLibTorchState(torch::serialize::InputArchive& archive) {
    torch::NoGradGuard no_grad;
    const internal_flat_optimizer::LibTorchState old =
        internal_flat_optimizer::ReadLibTorchState(archive, flat_.parameters(), rule_);
    for (size_t i = 0; i < old.first.size(); ++i) {
      const int64_t k = flat_.slots()[i].group;
      if (old.first[i].defined() && first_[k].defined()) flat_.Slice(first_[k], i).copy_(old.first[i]);
      if (old.second[i].defined() && second_[k].defined()) flat_.Slice(second_[k], i).copy_(old.second[i]);
    }
    steps_ = old.steps;
  }

  Rule rule_;
  FlatParameters flat_;
  std::vector<torch::Tensor> first_, second_;  // per group: Adam m, v; SGD momentum buffer (first_)
  std::vector<FlatSlot> state_slots_;           // the layout first_/second_ are in
  int64_t state_generation_ = 0;
  int64_t steps_ = 0;
};

}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_TRAINING_FLAT_OPTIMIZER_H_
