#include "networks/num_parameters.h"
#include "training/flat_parameters.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <vector>

#include "networks/unet.h"

namespace diffmem {
namespace training {
namespace {

// One thread: two tests share the two cores of a loaded machine.
class FlatParametersTest : public ::testing::Test {
 protected:
  void SetUp() override { at::set_num_threads(1); }
};

networks::UNetOptions Tiny() {
  return networks::UNetOptions(8, 1, 1).model_channels(8).channel_mult({1, 2}).num_blocks(1).attn_resolutions({}).dropout(0);
}

// The same loss on any UNet with these options.
torch::Tensor Loss(networks::UNet<networks::DdpmppSpec>& net, int seed) {
  torch::manual_seed(seed);
  const auto dtype = net->parameters()[0].scalar_type();
  torch::Tensor x = torch::randn({3, 1, 8, 8}).to(dtype), c = torch::randn({3});
  return net->forward(x, c, {}).square().sum();
}

// A twin of `net` with separate (non-flat) storage and equal values.
networks::UNet<networks::DdpmppSpec> Twin(const networks::UNet<networks::DdpmppSpec>& net) {
  return networks::UNet<networks::DdpmppSpec>(std::dynamic_pointer_cast<networks::UNetImpl<networks::DdpmppSpec>>(net->clone()));
}

bool AllEqual(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].defined() || !b[i].defined() || !torch::equal(a[i], b[i])) return false;
  }
  return true;
}

std::vector<torch::Tensor> Grads(const std::vector<torch::Tensor>& ps) {
  std::vector<torch::Tensor> g;
  for (const torch::Tensor& p : ps) g.push_back(p.grad());
  return g;
}

TEST_F(FlatParametersTest, ParametersBecomeSlicesOfOneBufferWithValuesAndIdentityKept) {
  torch::manual_seed(0);
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  networks::UNet<networks::DdpmppSpec> twin = Twin(net);
  std::vector<torch::Tensor> before = net->parameters();
  std::vector<const void*> impls;
  for (const torch::Tensor& p : before) impls.push_back(p.unsafeGetTensorImpl());
  FlatParameters flat(net->parameters(), /*with_gradients=*/true);
  ASSERT_EQ(flat.groups().size(), 1u);
  const torch::Tensor& buffer = flat.groups()[0].values;
  EXPECT_TRUE(AllEqual(net->parameters(), twin->parameters()));
  int64_t covered = 0;
  std::vector<torch::Tensor> now = net->parameters();  // the module's own handles see the change
  for (size_t i = 0; i < now.size(); ++i) {
    EXPECT_EQ(now[i].unsafeGetTensorImpl(), impls[i]);
    EXPECT_TRUE(now[i].storage().is_alias_of(buffer.storage()));
    EXPECT_EQ(now[i].storage_offset() % FlatParameters::kAlignment, 0);
    EXPECT_TRUE(now[i].is_contiguous());
    EXPECT_TRUE(now[i].requires_grad());
    EXPECT_TRUE(now[i].is_leaf());
    covered += now[i].numel();
  }
  EXPECT_TRUE(flat.ValuesAttached());
  // Everything outside the slices is zero: the buffer's sum of squares is the parameters'.
  double squares = 0;
  for (const torch::Tensor& p : twin->parameters()) squares += p.to(torch::kFloat64).square().sum().item<double>();
  EXPECT_NEAR(buffer.to(torch::kFloat64).square().sum().item<double>(), squares, 1e-9 * squares);
  EXPECT_GE(buffer.numel(), covered);
  EXPECT_LT(buffer.numel(), covered + FlatParameters::kAlignment * static_cast<int64_t>(now.size()));
}

TEST_F(FlatParametersTest, BackwardAccumulatesIntoTheFlatGradient) {
  torch::manual_seed(1);
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  networks::UNet<networks::DdpmppSpec> twin = Twin(net);
  FlatParameters flat(net->parameters(), /*with_gradients=*/true);
  const torch::Tensor& grads = flat.groups()[0].gradients;
  const void* start = grads.data_ptr();
  // Two backward passes without zeroing accumulate, as on unflattened tensors.
  for (int seed : {10, 11}) {
    Loss(net, seed).backward();
    Loss(twin, seed).backward();
  }
  EXPECT_TRUE(AllEqual(Grads(net->parameters()), Grads(twin->parameters())));
  EXPECT_EQ(grads.data_ptr(), start);
  for (size_t i = 0; i < net->parameters().size(); ++i) {
    EXPECT_TRUE(net->parameters()[i].grad().storage().is_alias_of(grads.storage())) << i;
  }
  EXPECT_GT(grads.abs().sum().item<double>(), 0);
  // One pass zeroes every gradient; the next backward fills them again in place.
  flat.ZeroGradients();
  EXPECT_EQ(grads.abs().sum().item<double>(), 0);
  twin->zero_grad();
  Loss(net, 12).backward();
  Loss(twin, 12).backward();
  EXPECT_TRUE(AllEqual(Grads(net->parameters()), Grads(twin->parameters())));
  EXPECT_TRUE(flat.ValuesAttached());
}

// LibTorch 1.13's zero_grad() (detach_ + zero_) keeps the slices; LibTorch
// 2's default zero_grad(set_to_none) drops them: the next backward hands
// out fresh gradients, which AttachGradients copies back into the buffer.
TEST_F(FlatParametersTest, ZeroGradKeepsSlicesAndSetToNoneIsRepaired) {
  torch::manual_seed(2);
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  networks::UNet<networks::DdpmppSpec> twin = Twin(net);
  FlatParameters flat(net->parameters(), /*with_gradients=*/true);
  const torch::Tensor& grads = flat.groups()[0].gradients;
  Loss(net, 20).backward();
  net->zero_grad(/*set_to_none=*/false);
  for (const torch::Tensor& p : net->parameters()) EXPECT_TRUE(p.grad().storage().is_alias_of(grads.storage()));
  EXPECT_EQ(grads.abs().sum().item<double>(), 0);

  net->zero_grad(/*set_to_none=*/true);
  for (const torch::Tensor& p : net->parameters()) EXPECT_FALSE(p.grad().defined());
  Loss(net, 21).backward();
  Loss(twin, 21).backward();
  EXPECT_FALSE(net->parameters()[0].grad().storage().is_alias_of(grads.storage()));  // a fresh tensor
  flat.AttachGradients();
  EXPECT_TRUE(AllEqual(Grads(net->parameters()), Grads(twin->parameters())));
  double sum = 0;
  for (const torch::Tensor& p : twin->parameters()) sum += p.grad().to(torch::kFloat64).sum().item<double>();
  EXPECT_NEAR(grads.to(torch::kFloat64).sum().item<double>(), sum, 1e-9 * std::abs(sum) + 1e-12);
  for (const torch::Tensor& p : net->parameters()) EXPECT_TRUE(p.grad().storage().is_alias_of(grads.storage()));
  // An undefined gradient (a parameter outside the graph) reads as zero.
  net->zero_grad(/*set_to_none=*/true);
  flat.AttachGradients();
  EXPECT_EQ(grads.abs().sum().item<double>(), 0);
  for (const torch::Tensor& p : net->parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST_F(FlatParametersTest, ToSameDeviceKeepsSlicesAndAMoveIsReattached) {
  torch::manual_seed(3);
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  networks::UNet<networks::DdpmppSpec> twin = Twin(net);
  FlatParameters flat(net->parameters(), /*with_gradients=*/true);
  net->to(torch::kCPU);
  net->to(torch::kCPU, torch::kFloat32);
  EXPECT_TRUE(flat.ValuesAttached());
  EXPECT_FALSE(flat.Reattach());
  EXPECT_EQ(flat.generation(), 0);

  // A dtype change stands in for a device change (no GPU in tests): the
  // parameters get new storage, Reattach lays them out again.
  const torch::Tensor old_state = flat.groups()[0].values * 2;  // some state in the old layout
  const std::vector<FlatSlot> old_slots = flat.slots();
  net->to(torch::kFloat64);
  EXPECT_FALSE(flat.ValuesAttached());
  EXPECT_TRUE(flat.Reattach());
  EXPECT_EQ(flat.generation(), 1);
  EXPECT_TRUE(flat.ValuesAttached());
  EXPECT_EQ(flat.groups()[0].values.scalar_type(), torch::kFloat64);
  twin->to(torch::kFloat64);
  EXPECT_TRUE(AllEqual(net->parameters(), twin->parameters()));
  Loss(net, 30).backward();
  flat.AttachGradients();
  for (const torch::Tensor& p : net->parameters()) {
    EXPECT_TRUE(p.grad().storage().is_alias_of(flat.groups()[0].gradients.storage()));
  }
  // State kept in the old layout moves into the new one, slice by slice.
  const torch::Tensor moved = flat.MoveToLayout({old_state}, old_slots)[0];
  for (size_t i = 0; i < flat.parameters().size(); ++i) {
    EXPECT_TRUE(torch::equal(flat.Slice(moved, i), (twin->parameters()[i] * 2).to(torch::kFloat64))) << i;
  }
}

TEST_F(FlatParametersTest, InPlaceCopiesKeepSlicesAndGroupsFollowDtypes) {
  torch::manual_seed(4);
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  FlatParameters flat(net->parameters(), /*with_gradients=*/false);
  {
    torch::NoGradGuard no_grad;  // what checkpoint loading does
    for (torch::Tensor& p : net->parameters()) p.copy_(torch::ones_like(p));
  }
  EXPECT_TRUE(flat.ValuesAttached());
  EXPECT_EQ(flat.groups()[0].values.sum().item<double>(), static_cast<double>(networks::NumParameters(*net)));
  EXPECT_FALSE(flat.groups()[0].gradients.defined());

  std::vector<torch::Tensor> mixed = {torch::ones({3}), torch::ones({2, 2}, torch::kFloat64), torch::ones({5})};
  FlatParameters two(mixed, /*with_gradients=*/false);
  ASSERT_EQ(two.groups().size(), 2u);
  EXPECT_EQ(two.slots()[0].group, 0);
  EXPECT_EQ(two.slots()[1].group, 1);
  EXPECT_EQ(two.slots()[2].group, 0);
  EXPECT_EQ(two.slots()[2].offset, FlatParameters::kAlignment);
  EXPECT_EQ(two.groups()[1].values.scalar_type(), torch::kFloat64);
  EXPECT_EQ(two.groups()[0].values.sum().item<double>(), 8);
  EXPECT_THROW(FlatParameters({torch::ones({2})}, /*with_gradients=*/true), c10::Error);  // no requires_grad
  const torch::Tensor shared = torch::ones({4});
  EXPECT_THROW(FlatParameters({shared, torch::ones({2}), shared}, /*with_gradients=*/false), c10::Error);
}

// A copy flattened the same way finds the original's buffers (the EMA's
// one-pass update); parameters elsewhere do not.
TEST_F(FlatParametersTest, BuffersOfFindsAnotherModuleInTheSameLayout) {
  torch::manual_seed(5);
  networks::UNet<networks::DdpmppSpec> net(Tiny());
  networks::UNet<networks::DdpmppSpec> copy = Twin(net);
  FlatParameters copy_flat(copy->parameters(), /*with_gradients=*/false);
  EXPECT_TRUE(copy_flat.BuffersOf(net->parameters()).empty());  // not flat yet
  FlatParameters flat(net->parameters(), /*with_gradients=*/true);
  std::vector<torch::Tensor> found = copy_flat.BuffersOf(net->parameters());
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].data_ptr(), flat.groups()[0].values.data_ptr());
  EXPECT_TRUE(torch::equal(found[0], flat.groups()[0].values));
  EXPECT_TRUE(copy_flat.BuffersOf({}).empty());
  std::vector<torch::Tensor> shuffled = net->parameters();
  std::swap(shuffled[0], shuffled[1]);
  EXPECT_TRUE(copy_flat.BuffersOf(shuffled).empty());
}

}  // namespace
}  // namespace training
}  // namespace diffmem
