#include "util/torch_compat.h"

#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/serialize.h>
#include <torch/types.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace diffmem {
namespace util {
namespace {

static_assert(DIFFMEM_TORCH_VERSION_AT_LEAST(1, 13), "diffmem needs LibTorch 1.13 or newer");
static_assert(DIFFMEM_TORCH_VERSION_AT_LEAST(TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR), "");
static_assert(!DIFFMEM_TORCH_VERSION_AT_LEAST(TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR + 1), "");
static_assert(!DIFFMEM_TORCH_VERSION_AT_LEAST(TORCH_VERSION_MAJOR + 1, 0), "");

// Three parameters of different shapes (a mix-up shows as a shape error or
// wrong values) and a fixed gradient for each step.
std::vector<torch::Tensor> Params() {
  return {(torch::arange(6, torch::kFloat32) * 0.1).view({2, 3}).requires_grad_(),
          (torch::arange(4, torch::kFloat32) * -0.2).requires_grad_(), torch::ones({5}).requires_grad_()};
}

void Step(torch::optim::Optimizer& opt, const std::vector<torch::Tensor>& params, int step) {
  for (size_t i = 0; i < params.size(); ++i) {
    torch::Tensor g = torch::sin(params[i].detach() * (step + 1) + static_cast<double>(i));
    params[i].mutable_grad() = g;
  }
  opt.step();
}

using MakeOptimizer = std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>;

struct Kind {
  std::string name;
  MakeOptimizer make;
};

std::vector<Kind> Kinds() {
  return {
      {"adam", [](std::vector<torch::Tensor> p) {
         return std::make_unique<torch::optim::Adam>(p, torch::optim::AdamOptions(0.01));
       }},
      {"adamw", [](std::vector<torch::Tensor> p) {
         return std::make_unique<torch::optim::AdamW>(p, torch::optim::AdamWOptions(0.01).weight_decay(0.1));
       }},
      {"sgd", [](std::vector<torch::Tensor> p) {
         return std::make_unique<torch::optim::SGD>(p, torch::optim::SGDOptions(0.05).momentum(0.9));
       }},
  };
}

// `steps` optimizer steps from the initial parameters; returns the parameters.
std::vector<torch::Tensor> Train(const Kind& kind, int steps, std::unique_ptr<torch::optim::Optimizer>* out = nullptr) {
  std::vector<torch::Tensor> params = Params();
  std::unique_ptr<torch::optim::Optimizer> opt = kind.make(params);
  for (int s = 0; s < steps; ++s) Step(*opt, params, s);
  if (out) *out = std::move(opt);
  return params;
}

// Parameters after 3 steps, the optimizer state restored from `archive`,
// then 2 more steps: must equal 5 uninterrupted steps.
void ExpectResumeMatches(const Kind& kind, torch::serialize::InputArchive& archive, double tolerance) {
  std::vector<torch::Tensor> straight = Train(kind, 5);
  std::vector<torch::Tensor> params = Train(kind, 3);
  std::vector<torch::Tensor> resumed;
  for (const torch::Tensor& p : params) resumed.push_back(p.detach().clone().requires_grad_());
  std::unique_ptr<torch::optim::Optimizer> opt = kind.make(resumed);
  LoadOptimizerState(archive, *opt);
  for (int s = 3; s < 5; ++s) Step(*opt, resumed, s);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_LE((resumed[i] - straight[i]).abs().max().item<double>(), tolerance) << kind.name << " parameter " << i;
  }
  // Without the state the continuation differs (the check above can fail).
  std::vector<torch::Tensor> fresh;
  for (const torch::Tensor& p : params) fresh.push_back(p.detach().clone().requires_grad_());
  std::unique_ptr<torch::optim::Optimizer> blank = kind.make(fresh);
  for (int s = 3; s < 5; ++s) Step(*blank, fresh, s);
  EXPECT_GT((fresh[0] - straight[0]).abs().max().item<double>(), 1e-4) << kind.name;
}

TEST(TorchCompat, OptimizerStateRoundTripsUnderThisVersion) {
  for (const Kind& kind : Kinds()) {
    std::unique_ptr<torch::optim::Optimizer> opt;
    Train(kind, 3, &opt);
    torch::serialize::OutputArchive out;
    opt->save(out);
    std::ostringstream bytes;
    out.save_to(bytes);
    std::istringstream in_bytes(bytes.str());
    torch::serialize::InputArchive in;
    in.load_from(in_bytes);
    ExpectResumeMatches(kind, in, 0.0);  // the same arithmetic: bit for bit
  }
}

// Archives written by Optimizer::save under LibTorch 1.13 (hex state names)
// and 2.11 (decimal names), checked in; regenerate one with
//   DIFFMEM_WRITE_OPTIMIZER_ARCHIVES=$PWD/util/testdata bazel test //util:torch_compat_test
TEST(TorchCompat, OptimizerStateFromEitherVersionResumes) {
  const std::string version = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
  if (const char* dir = std::getenv("DIFFMEM_WRITE_OPTIMIZER_ARCHIVES")) {
    for (const Kind& kind : Kinds()) {
      std::unique_ptr<torch::optim::Optimizer> opt;
      Train(kind, 3, &opt);
      torch::serialize::OutputArchive out;
      opt->save(out);
      out.save_to(std::string(dir) + "/" + kind.name + "_torch" + version + ".pt");
    }
  }
  for (const std::string written_by : {"1.13", "2.11"}) {
    for (const Kind& kind : Kinds()) {
      const std::string path = "util/testdata/" + kind.name + "_torch" + written_by + ".pt";
      torch::serialize::InputArchive in;
      in.load_from(path);
      SCOPED_TRACE(path);
      // Float32 steps of two LibTorch builds may round differently.
      ExpectResumeMatches(kind, in, written_by == version ? 0.0 : 1e-6);
    }
  }
}

}  // namespace
}  // namespace util
}  // namespace diffmem
