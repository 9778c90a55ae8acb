// optimum: samples the theoretical optimum of a training set — the empirical
// optimal denoiser D*(x;σ) = Σ softmax(−‖x − y_n‖²/2σ²)·y_n driven by the EDM
// Heun sampler — and writes one PNG per seed (out/000000.png, ...) and
// out/grid.png. Its samples are copies of training images: the memorization
// ceiling that a trained model is compared with (feed --out to mem_ratio).
//
//   bazel run //tools:optimum -- --out=/tmp/optimum                 # 1000 balanced Fashion-MNIST images
//   bazel run //tools:optimum -- --n=64 --subset=first --resolution=14 --num_samples=100 --out=/tmp/o64
//   bazel run //tools:optimum -- --data=zip:/data/cifar1k.zip --n=0 --conditional --out=/tmp/oc

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/data_factors.h"
#include "data/image_grid.h"
#include "data/pixels.h"
#include "data/png.h"
#include "diffusion/edm_sampler.h"
#include "memorization/optimal_denoiser.h"
#include "tools/data_flags.h"
#include "tools/tool_main.h"

ABSL_FLAG(std::string, out, "", "output directory (required; created)");
ABSL_FLAG(int64_t, num_samples, 64, "number of samples, one per seed");
ABSL_FLAG(uint64_t, seeds, 0, "first seed: samples use seeds S, S+1, ...; files are named by seed");
ABSL_FLAG(int, steps, 18, "EDM sampler steps (Heun: 2*steps-1 denoiser evaluations)");
ABSL_FLAG(double, sigma_min, 0.002, "smallest nonzero noise level");
ABSL_FLAG(double, sigma_max, 80, "largest noise level");
ABSL_FLAG(double, rho, 7, "EDM time-step exponent");
ABSL_FLAG(bool, conditional, false, "class-conditional optimum: sample i gets label seed % num_classes");
ABSL_FLAG(int64_t, batch, 256, "samples generated together");
ABSL_FLAG(int64_t, reference_block, 4096, "training images per streamed block of the optimum");
ABSL_FLAG(int, grid_columns, 0, "columns of grid.png (0: square)");

namespace {

using diffmem::tools::CheckFlag;

absl::Status Run(const std::vector<char*>& args) {
  if (args.size() > 1) return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", args[1], "'"));
  const std::string out = absl::GetFlag(FLAGS_out);
  const int64_t num_samples = absl::GetFlag(FLAGS_num_samples), batch = absl::GetFlag(FLAGS_batch);
  const uint64_t first_seed = absl::GetFlag(FLAGS_seeds);
  for (absl::Status s : {CheckFlag(!out.empty(), "out", "an output directory is required"),
                         CheckFlag(num_samples > 0, "num_samples", "must be positive"),
                         CheckFlag(batch > 0, "batch", "must be positive"),
                         CheckFlag(absl::GetFlag(FLAGS_steps) >= 1, "steps", "must be >= 1"),
                         CheckFlag(absl::GetFlag(FLAGS_reference_block) > 0, "reference_block", "must be positive"),
                         CheckFlag(absl::GetFlag(FLAGS_sigma_min) > 0 &&
                                       absl::GetFlag(FLAGS_sigma_max) > absl::GetFlag(FLAGS_sigma_min),
                                   "sigma_min", "need 0 < sigma_min < sigma_max")}) {
    if (!s.ok()) return s;
  }

  std::string spec = diffmem::tools::kDefaultDataSpec;
  diffmem::data::DataFactors factors = diffmem::tools::ToolDataDefaults();
  factors.n = 1000;
  factors.labels = "keep";
  diffmem::tools::OverlayDataFlags(spec, factors);
  absl::StatusOr<diffmem::data::Dataset> train = diffmem::data::LoadDataset(spec, factors);
  if (!train.ok()) return train.status();
  const bool conditional = absl::GetFlag(FLAGS_conditional);
  if (conditional && !train->has_labels()) {
    return absl::InvalidArgumentError(absl::StrCat("--conditional: ", train->source, " has no labels"));
  }

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(out, ": cannot create directory: ", ec.message()));

  diffmem::memorization::EmpiricalOptimalDenoiserOptions options;
  options.reference_block = absl::GetFlag(FLAGS_reference_block);
  diffmem::memorization::EmpiricalOptimalDenoiser optimum(diffmem::data::PixelsToFloat(train->images),
                                                          conditional ? train->labels : torch::Tensor(), options);
  diffmem::diffusion::SamplerOptions sampler_options;
  sampler_options.num_steps = absl::GetFlag(FLAGS_steps);
  diffmem::diffusion::EdmRhoSteps::Options steps;
  steps.sigma_min = absl::GetFlag(FLAGS_sigma_min);
  steps.sigma_max = absl::GetFlag(FLAGS_sigma_max);
  steps.rho = absl::GetFlag(FLAGS_rho);
  diffmem::diffusion::EdmSampler<diffmem::diffusion::HeunSolver, diffmem::diffusion::EdmRhoSteps> sampler(
      sampler_options, steps);
  std::fprintf(stderr, "optimum: %lld training images %lldx%lldx%lld from %s; %lld samples, %d steps (%d NFE)%s\n",
               static_cast<long long>(train->size()), static_cast<long long>(train->channels()),
               static_cast<long long>(train->height()), static_cast<long long>(train->width()),
               train->source.c_str(), static_cast<long long>(num_samples), sampler.num_steps(), sampler.nfe(),
               conditional ? ", class-conditional" : "");

  const auto start = std::chrono::steady_clock::now();
  std::vector<torch::Tensor> pixels;
  for (int64_t done = 0; done < num_samples; done += batch) {
    const int64_t len = std::min(batch, num_samples - done);
    std::vector<uint64_t> seeds(len);
    for (int64_t i = 0; i < len; ++i) seeds[i] = first_seed + static_cast<uint64_t>(done + i);
    torch::Tensor labels;
    if (conditional) {
      labels = torch::empty({len}, torch::kInt64);
      for (int64_t i = 0; i < len; ++i) labels[i] = static_cast<int64_t>(seeds[i] % train->num_classes);
    }
    torch::Tensor x = sampler.SampleFromSeeds(optimum, seeds, {train->channels(), train->height(), train->width()},
                                              labels);
    torch::Tensor p = diffmem::data::FloatToPixels(x);
    for (int64_t i = 0; i < len; ++i) {
      const std::string path = absl::StrCat(out, "/", absl::StrFormat("%06d", seeds[i]), ".png");
      if (absl::Status s = diffmem::data::WritePng(path, p[i]); !s.ok()) return s;
    }
    pixels.push_back(p);
    std::fprintf(stderr, "optimum: %lld/%lld samples\n", static_cast<long long>(done + len),
                 static_cast<long long>(num_samples));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  diffmem::data::GridOptions grid;
  grid.columns = absl::GetFlag(FLAGS_grid_columns);
  const std::string grid_path = absl::StrCat(out, "/grid.png");
  if (absl::Status s = diffmem::data::WriteImageGrid(grid_path, torch::cat(pixels, 0), grid); !s.ok()) return s;
  std::fprintf(stderr, "optimum: wrote %lld samples (seeds %llu..%llu) and %s in %.1f s\n",
               static_cast<long long>(num_samples), static_cast<unsigned long long>(first_seed),
               static_cast<unsigned long long>(first_seed + num_samples - 1), grid_path.c_str(), seconds);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  return diffmem::tools::ToolMain(
      argc, argv,
      "Samples the empirical optimal denoiser of a training set with the EDM Heun sampler; writes\n"
      "OUT/<seed>.png per sample and OUT/grid.png.\n"
      "  optimum --out=DIR [--data=fashion-mnist] [--n=1000] [--subset=balanced] [--resolution=0]\n"
      "          [--num_samples=64] [--seeds=0] [--steps=18] [--conditional]",
      Run);
}
