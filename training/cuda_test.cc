// CUDA against the CPU for the diffusion package: UNet forward and backward
// (both specs, attention, labels) and a few training steps of the Trainer
// must agree with the CPU's results. Skipped, with the reason, where no GPU
// is visible to LibTorch (every CI machine so far).

#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "diffusion/preconditioning.h"
#include "networks/unet.h"
#include "testing/cuda_device.h"
#include "training/train_network.h"
#include "training/train_options.h"

namespace diffmem {
namespace training {
namespace {

#define DIFFMEM_SKIP_WITHOUT_CUDA()                                                          \
  if (std::string why = diffmem::test_cuda::UnavailableReason(); !why.empty()) GTEST_SKIP() << why

// Strict float32 on the GPU: cuDNN convolutions default to TF32 (10-bit
// mantissa), which would hide real differences behind 1e-3 noise.
void StrictFloat32() {
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
}

// ‖a − b‖ / max(‖b‖, floor), both moved to the CPU in float64.
double RelativeError(const torch::Tensor& a, const torch::Tensor& b, double floor = 1e-6) {
  torch::Tensor x = a.detach().cpu().to(torch::kFloat64), y = b.detach().cpu().to(torch::kFloat64);
  return (x - y).norm().item<double>() / std::max(y.norm().item<double>(), floor);
}

torch::Tensor Flat(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> rows;
  for (const torch::Tensor& t : tensors) rows.push_back(t.reshape({-1}));
  return torch::cat(rows);
}

networks::UNetOptions SmallUNet() {
  return networks::UNetOptions(8, 3, 3).model_channels(32).channel_mult({1, 2}).num_blocks(1).attn_resolutions({4}).dropout(0)
      .label_dim(10);
}

template <class Spec>
void ExpectForwardBackwardMatch() {
  StrictFloat32();
  const torch::Device cuda(torch::kCUDA, 0);
  torch::manual_seed(3);
  networks::UNet<Spec> cpu(SmallUNet());
  torch::manual_seed(3);
  networks::UNet<Spec> gpu(SmallUNet());
  gpu->to(cuda);
  torch::manual_seed(4);
  torch::Tensor x = torch::randn({6, 3, 8, 8}), c_noise = torch::randn({6}) * 0.5;
  torch::Tensor labels = torch::randint(0, 10, {6}, torch::kInt64), weights = torch::randn({6, 3, 8, 8});
  torch::Tensor f_cpu = cpu->forward(x, c_noise, labels);
  torch::Tensor f_gpu = gpu->forward(x.to(cuda), c_noise.to(cuda), labels.to(cuda));
  ASSERT_TRUE(f_gpu.is_cuda());
  EXPECT_LT(RelativeError(f_gpu, f_cpu), 1e-5);
  (f_cpu * weights).sum().backward();
  (f_gpu * weights.to(cuda)).sum().backward();
  std::vector<torch::Tensor> pc = cpu->parameters(), pg = gpu->parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_TRUE(pc[i].grad().defined() && pg[i].grad().defined()) << "parameter " << i;
    EXPECT_LT(RelativeError(pg[i].grad(), pc[i].grad()), 1e-4) << "gradient of parameter " << i;
  }
}

TEST(CudaMatchesCpu, DdpmppForwardBackward) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  ExpectForwardBackwardMatch<networks::DdpmppSpec>();
}

TEST(CudaMatchesCpu, NcsnppForwardBackward) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  ExpectForwardBackwardMatch<networks::NcsnppSpec>();
}

// The Trainer draws data order and noise on the CPU, so the two devices see
// the same batches and the same noise: losses and weights must stay close.
TEST(CudaMatchesCpu, TrainerSteps) {
  DIFFMEM_SKIP_WITHOUT_CUDA();
  StrictFloat32();
  using SmallTrainer = Trainer<diffusion::EdmPreconditioner, networks::UNet<networks::DdpmppSpec>>;
  data::Dataset ds;
  torch::manual_seed(5);
  ds.images = torch::randint(0, 256, {64, 1, 8, 8}, torch::kUInt8);
  ds.source = "random 64x1x8x8";
  const networks::UNetOptions unet = networks::UNetOptions(8, 1, 1).model_channels(32).channel_mult({1, 2}).num_blocks(1)
                              .attn_resolutions({}).dropout(0);
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::vector<std::vector<double>> losses(2);
  std::vector<std::vector<torch::Tensor>> weights(2), initial(2);
  const char* devices[] = {"cpu", "cuda"};
  for (int d = 0; d < 2; ++d) {
    TrainOptions t;
    t.batch_size = 16;
    t.lr = 1e-3;
    t.steps = 6;
    t.ema_beta = 0.9;
    t.seed = 7;
    t.device = devices[d];
    const std::string dir = std::string(tmp ? tmp : "/tmp") + "/cuda_test_" + devices[d];
    std::filesystem::remove_all(dir);
    torch::manual_seed(t.seed);
    networks::UNet<networks::DdpmppSpec> model(unet);
    for (const torch::Tensor& p : model->parameters()) initial[d].push_back(p.detach().clone());
    for (const torch::Tensor& p : model->parameters()) initial[d].push_back(p.detach().clone());  // the EMA's start
    SmallTrainer trainer(model, diffusion::EdmPreconditioner{}, ds, t, dir);
    ASSERT_TRUE(trainer.Start(false).ok());
    ASSERT_EQ(trainer.device().type(), d == 0 ? torch::kCPU : torch::kCUDA);
    for (int step = 0; step < 6; ++step) {
      absl::StatusOr<double> loss = trainer.Step();
      ASSERT_TRUE(loss.ok()) << loss.status();
      losses[d].push_back(*loss);
    }
    for (const torch::Tensor& p : trainer.net()->parameters()) weights[d].push_back(p.detach().cpu());
    for (const torch::Tensor& p : trainer.ema_net()->parameters()) weights[d].push_back(p.detach().cpu());
  }
  for (int step = 0; step < 6; ++step) {
    EXPECT_NEAR(losses[1][step], losses[0][step], 1e-3 * std::abs(losses[0][step])) << "step " << step + 1;
  }
  ASSERT_EQ(weights[0].size(), weights[1].size());
  ASSERT_EQ(RelativeError(Flat(initial[1]), Flat(initial[0])), 0.0);  // the same initialisation
  // What training changed (raw and EMA weights) must agree. Adam divides by
  // √v: an entry whose gradient is at rounding level may move differently on
  // the two devices, hence a norm-wise bound on the updates.
  torch::Tensor update_cpu = Flat(weights[0]) - Flat(initial[0]), update_gpu = Flat(weights[1]) - Flat(initial[1]);
  ASSERT_GT(update_cpu.norm().item<double>(), 0.0);
  EXPECT_LT(RelativeError(update_gpu, update_cpu), 2e-2);
}

}  // namespace
}  // namespace training
}  // namespace diffmem
