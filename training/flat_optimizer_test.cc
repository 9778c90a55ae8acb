#include "training/flat_optimizer.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "networks/unet.h"
#include "training/checkpoint.h"

namespace diffmem {
namespace training {
namespace {

// One thread: two tests share the two cores of a loaded machine.
class FlatOptimizerTest : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }
};

using Net = networks::UNet<networks::DdpmppSpec>;

networks::UNetOptions Tiny(int64_t label_dim = 0) {
  return networks::UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 2}).num_blocks(1).attn_resolutions({8}).dropout(0)
      .label_dim(label_dim);
}

Net Twin(const Net& net) { return Net(std::dynamic_pointer_cast<networks::UNetImpl<networks::DdpmppSpec>>(net->clone())); }

// One seeded loss + backward (labels only for a conditional net).
void Backward(Net& net, int seed, bool labels = true) {
  torch::manual_seed(seed);
  torch::Tensor x = torch::randn({3, 1, 8, 8}), c = torch::randn({3});
  torch::Tensor y = labels && net->options.label_dim() > 0 ? torch::randint(0, net->options.label_dim(), {3}) : torch::Tensor();
  net->forward(x, c, y).square().sum().backward();
}

bool BitEqual(const Net& a, const Net& b) {
  auto pa = a->parameters(), pb = b->parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!pa[i].view(torch::kInt32).equal(pb[i].view(torch::kInt32))) return false;
  }
  return true;
}

std::string TempPath(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  return std::string(base ? base : "/tmp") + "/flat_optimizer_test_" + name;
}

struct Setting {
  std::string name;
  std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)> libtorch;
  std::function<std::unique_ptr<FlatOptimizer>(std::vector<torch::Tensor>)> flat;
};

template <class Opt, class Options>
Setting Make(std::string name, Options o) {
  return {name, [o](std::vector<torch::Tensor> p) { return std::make_unique<Opt>(p, o); },
          [o](std::vector<torch::Tensor> p) { return std::make_unique<FlatOptimizer>(p, o); }};
}

// The settings TrainOptions can produce, and a few more.
std::vector<Setting> Settings() {
  using namespace torch::optim;
  return {Make<Adam>("adam", AdamOptions(1e-2)),
          Make<Adam>("adam_l2", AdamOptions(1e-2).weight_decay(0.05).betas({0.8, 0.99}).eps(1e-6)),
          Make<AdamW>("adamw", AdamWOptions(1e-2).weight_decay(0.05)),
          Make<SGD>("sgd", SGDOptions(1e-2)),
          Make<SGD>("sgd_momentum", SGDOptions(1e-2).momentum(0.9).weight_decay(1e-3)),
          Make<SGD>("sgd_nesterov", SGDOptions(1e-2).momentum(0.9).nesterov(true)),
          Make<SGD>("sgd_dampening", SGDOptions(1e-2).momentum(0.5).dampening(0.25))};
}

// The flat optimizer steps a twin network exactly as LibTorch's optimizer
// steps the original, bit for bit, through learning-rate changes.
TEST_F(FlatOptimizerTest, StepsEqualLibTorchOptimizersBitForBit) {
  for (const Setting& s : Settings()) {
    torch::manual_seed(1);
    Net a(Tiny(10));
    Net b = Twin(a);
    auto reference = s.libtorch(a->parameters());
    auto flat = s.flat(b->parameters());
    for (int step = 0; step < 6; ++step) {
      const double lr = 1e-2 * (step + 1) / 6;  // a warm-up
      reference->zero_grad();
      flat->ZeroGrad();
      Backward(a, 100 + step);
      Backward(b, 100 + step);
      reference->param_groups()[0].options().set_lr(lr);
      flat->param_groups()[0].options().set_lr(lr);
      reference->step();
      flat->step();
      ASSERT_TRUE(BitEqual(a, b)) << s.name << " step " << step;
    }
    torch::manual_seed(1);
    EXPECT_FALSE(BitEqual(Net(Tiny(10)), b)) << s.name << ": the parameters did change";
    EXPECT_EQ(flat->steps(), 6);
    EXPECT_TRUE(flat->flat().ValuesAttached());
  }
}

// LibTorch 2's zero_grad() sets gradients to none: the next backward hands
// out fresh tensors; step() copies them into the flat gradient first.
TEST_F(FlatOptimizerTest, SetToNoneZeroGradGivesTheSameSteps) {
  torch::manual_seed(2);
  Net a(Tiny());
  Net b = Twin(a);
  torch::optim::Adam reference(a->parameters(), torch::optim::AdamOptions(1e-2));
  FlatOptimizer flat(b->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 3; ++step) {
    reference.zero_grad();
    b->zero_grad(/*set_to_none=*/true);
    Backward(a, 200 + step);
    Backward(b, 200 + step);
    reference.step();
    flat.step();
    ASSERT_TRUE(BitEqual(a, b)) << step;
  }
  const torch::Tensor grads = flat.flat_gradients()[0];
  for (const torch::Tensor& p : b->parameters()) EXPECT_TRUE(p.grad().storage().is_alias_of(grads.storage()));
}

TEST_F(FlatOptimizerTest, ClipGradNormUsesTheNormOfTheWholeGradient) {
  torch::manual_seed(3);
  Net a(Tiny());
  Net b = Twin(a);
  FlatOptimizer flat(a->parameters(), torch::optim::AdamOptions(1e-2));
  Backward(a, 300);
  Backward(b, 300);
  double squares = 0;
  for (const torch::Tensor& p : b->parameters()) squares += p.grad().to(torch::kFloat64).square().sum().item<double>();
  const double norm = std::sqrt(squares);
  // Not clipped: the gradient stays as it was, bit for bit.
  const torch::Tensor before = flat.flat_gradients()[0].clone();
  EXPECT_NEAR(flat.ClipGradNorm(10 * norm), norm, 1e-6 * norm);
  EXPECT_TRUE(torch::equal(flat.flat_gradients()[0], before));
  // Clipped to a tenth: every gradient scaled by max/(norm + 1e-6).
  const double max_norm = norm / 10, coef = max_norm / (norm + 1e-6);
  EXPECT_NEAR(flat.ClipGradNorm(max_norm), norm, 1e-6 * norm);
  for (size_t i = 0; i < a->parameters().size(); ++i) {
    const torch::Tensor expected = b->parameters()[i].grad().to(torch::kFloat64) * coef;
    EXPECT_TRUE(torch::allclose(a->parameters()[i].grad().to(torch::kFloat64), expected, 1e-6, 1e-12)) << i;
  }
  // LibTorch's clip_grad_norm_ (norm of per-tensor norms) agrees up to rounding.
  EXPECT_NEAR(torch::nn::utils::clip_grad_norm_(b->parameters(), max_norm), norm, 1e-6 * norm);
  for (size_t i = 0; i < a->parameters().size(); ++i) {
    EXPECT_TRUE(torch::allclose(a->parameters()[i].grad(), b->parameters()[i].grad(), 1e-6, 1e-12)) << i;
  }
}

// A data-parallel trainer all-reduces flat_gradients(): what it writes
// there is what step() uses.
TEST_F(FlatOptimizerTest, FlatGradientIsEveryParametersGradient) {
  torch::manual_seed(4);
  Net a(Tiny());
  FlatOptimizer flat(a->parameters(), torch::optim::SGDOptions(1.0));
  Backward(a, 400);
  std::vector<torch::Tensor> grads = flat.flat_gradients();
  ASSERT_EQ(grads.size(), 1u);
  std::vector<torch::Tensor> single;
  for (const torch::Tensor& p : a->parameters()) single.push_back(p.grad().clone());
  grads[0].mul_(2);  // e.g. the sum over two identical workers
  std::vector<torch::Tensor> before;
  for (const torch::Tensor& p : a->parameters()) before.push_back(p.detach().clone());
  flat.step();
  for (size_t i = 0; i < single.size(); ++i) {
    EXPECT_TRUE(torch::equal(a->parameters()[i].grad(), single[i] * 2)) << i;
    EXPECT_TRUE(torch::allclose(a->parameters()[i], before[i] - 2 * single[i], 1e-5, 1e-6)) << i;
  }
}

// Saved with SaveCheckpoint and loaded into a fresh network and optimizer,
// training continues exactly as without the interruption.
TEST_F(FlatOptimizerTest, CheckpointRoundTripContinuesBitForBit) {
  for (const Setting& s : Settings()) {
    torch::manual_seed(5);
    Net a(Tiny(10));
    auto opt_a = s.flat(a->parameters());
    for (int step = 0; step < 3; ++step) {
      opt_a->ZeroGrad();
      Backward(a, 500 + step);
      opt_a->step();
    }
    const std::string path = TempPath("roundtrip_" + s.name + ".pt");
    ASSERT_TRUE(SaveCheckpoint(path, CheckpointState(), *a, nullptr, opt_a.get()).ok());
    torch::manual_seed(6);
    Net b(Tiny(10));
    auto opt_b = s.flat(b->parameters());
    absl::StatusOr<CheckpointState> st = LoadCheckpoint(path, *b, nullptr, opt_b.get(), torch::kCPU);
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_TRUE(BitEqual(a, b));
    EXPECT_TRUE(opt_b->flat().ValuesAttached()) << s.name;
    EXPECT_EQ(opt_b->steps(), 3);
    for (auto* side : {&a, &b}) {
      FlatOptimizer* opt = side == &a ? opt_a.get() : opt_b.get();
      opt->ZeroGrad();
      Backward(*side, 510);
      opt->step();
    }
    EXPECT_TRUE(BitEqual(a, b)) << s.name;
  }
}

// Checkpoints written before the flat optimizer hold LibTorch's
// per-parameter state: they load, and training continues as it would have
// with LibTorch's optimizer.
TEST_F(FlatOptimizerTest, LoadsLibTorchOptimizerCheckpoints) {
  for (const Setting& s : Settings()) {
    torch::manual_seed(7);
    Net a(Tiny(10));
    auto reference = s.libtorch(a->parameters());
    for (int step = 0; step < 3; ++step) {
      reference->zero_grad();
      Backward(a, 700 + step);
      reference->step();
    }
    const std::string path = TempPath("libtorch_" + s.name + ".pt");
    ASSERT_TRUE(SaveCheckpoint(path, CheckpointState(), *a, nullptr, reference.get()).ok());
    torch::manual_seed(8);
    Net b(Tiny(10));
    auto flat = s.flat(b->parameters());
    absl::StatusOr<CheckpointState> st = LoadCheckpoint(path, *b, nullptr, flat.get(), torch::kCPU);
    ASSERT_TRUE(st.ok()) << s.name << ": " << st.status();
    for (int step = 0; step < 2; ++step) {
      reference->zero_grad();
      flat->ZeroGrad();
      Backward(a, 710 + step);
      Backward(b, 710 + step);
      reference->step();
      flat->step();
      ASSERT_TRUE(BitEqual(a, b)) << s.name << " step " << step;
    }
  }
}

TEST_F(FlatOptimizerTest, MismatchedStateFailsNamingTheFileAndWhatDiffers) {
  torch::manual_seed(9);
  Net a(Tiny(10));
  FlatOptimizer adam(a->parameters(), torch::optim::AdamOptions(1e-2));
  adam.ZeroGrad();
  Backward(a, 900);
  adam.step();
  const std::string path = TempPath("adam.pt");
  ASSERT_TRUE(SaveCheckpoint(path, CheckpointState(), *a, nullptr, &adam).ok());
  Net b = Twin(a);
  FlatOptimizer sgd(b->parameters(), torch::optim::SGDOptions(1e-2).momentum(0.9));
  absl::StatusOr<CheckpointState> st = LoadCheckpoint(path, *b, nullptr, &sgd, torch::kCPU);
  ASSERT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.status().message().find(path), std::string::npos) << st.status();
  EXPECT_NE(st.status().message().find("optimizer state is for adam, this run uses sgd"), std::string::npos)
      << st.status();

  // LibTorch's Adam skips a parameter without a gradient, so its step counts
  // can differ (the label embedding here, on a step without labels); the
  // flat optimizer keeps one count and refuses such a checkpoint.
  Net c(Tiny(10));
  torch::optim::Adam reference(c->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 2; ++step) {
    reference.zero_grad();
    Backward(c, 910 + step, /*labels=*/step > 0);
    reference.step();
  }
  const std::string uneven = TempPath("uneven.pt");
  ASSERT_TRUE(SaveCheckpoint(uneven, CheckpointState(), *c, nullptr, &reference).ok());
  Net d = Twin(c);
  FlatOptimizer flat(d->parameters(), torch::optim::AdamOptions(1e-2));
  st = LoadCheckpoint(uneven, *d, nullptr, &flat, torch::kCPU);
  ASSERT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(st.status().message().find(uneven), std::string::npos) << st.status();
  EXPECT_NE(st.status().message().find("start a new run"), std::string::npos) << st.status();
}

// module.to() after the optimizer was built: the parameters are put back
// into flat buffers on the next call, the state moves with them.
TEST_F(FlatOptimizerTest, FollowsTheModuleToAnotherDtype) {
  torch::manual_seed(10);
  Net a(Tiny());
  FlatOptimizer opt(a->parameters(), torch::optim::AdamOptions(1e-2));
  opt.ZeroGrad();
  Backward(a, 1000);
  opt.step();
  std::vector<torch::Tensor> before;
  for (const torch::Tensor& p : a->parameters()) before.push_back(p.detach().to(torch::kFloat64));
  a->to(torch::kFloat64);  // stands in for a device move (no GPU in tests)
  opt.ZeroGrad();
  EXPECT_TRUE(opt.flat().ValuesAttached());
  EXPECT_EQ(opt.flat_gradients()[0].scalar_type(), torch::kFloat64);
  torch::manual_seed(1001);
  a->forward(torch::randn({3, 1, 8, 8}, torch::kFloat64), torch::randn({3}), {}).square().sum().backward();
  opt.step();
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(a->parameters()[i].scalar_type(), torch::kFloat64);
    // One Adam step moves each weight by at most about lr.
    EXPECT_LE((a->parameters()[i].detach() - before[i]).abs().max().item<double>(), 1.01e-2) << i;
  }
  EXPECT_EQ(opt.steps(), 2);
}

}  // namespace
}  // namespace training
}  // namespace diffmem
