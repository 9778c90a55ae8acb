// The EDM sampler (Karras et al. 2022, Algorithm 2): deterministic or
// stochastic ("churn") integration of the probability-flow ODE
// dx/dσ = (x − D(x;σ))/σ from σ_0 down to σ_N = 0, with σ(t) = t, s(t) = 1.
//
// Compile-time policies: the solver (HeunSolver: 2nd order, 2N−1 denoiser
// evaluations; EulerSolver: 1st order, N evaluations) and the step
// discretization (EdmRhoSteps, VpSteps, VeSteps, IddpmSteps from
// step_schedules.h). Run-time knobs: SamplerOptions (number of steps,
// S_churn, S_min, S_max, S_noise) and the discretization's Options.
// The denoiser is any DENOISER (denoiser.h); when it offers round_sigma()
// the noise levels are snapped to it, and when it offers sigma_min() /
// sigma_max() the nonzero levels are first clamped into that range.
// The state is float64 (as in EDM's reference sampler); the denoiser sees
// float32; sampling runs without autograd. Randomness (latents and churn
// noise) comes from PerSeedNoise, so image i depends only on seed i.
//
// Example:
//   using namespace diffmem::diffusion;
//   EdmSampler<HeunSolver, EdmRhoSteps> sampler;                 // 18 steps, 35 NFE
//   torch::Tensor images = sampler.SampleFromSeeds(
//       denoiser, /*seeds=*/{0, 1, 2, 3}, /*sample_shape=*/{3, 32, 32},
//       /*labels=*/torch::Tensor(), torch::kCPU,
//       [](int step, double sigma) { /* progress */ });         // float32 4×3×32×32
//
//   SamplerOptions churn;  churn.s_churn = 40; churn.s_min = 0.05; churn.s_max = 50;
//   churn.s_noise = 1.003;
//   EdmSampler<EulerSolver, VeSteps> ve_sampler(churn, VeSteps::Options{0.02, 100});

#ifndef DIFFMEM_DIFFUSION_EDM_SAMPLER_H_
#define DIFFMEM_DIFFUSION_EDM_SAMPLER_H_

#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/seeded_noise.h"
#include "diffusion/step_schedules.h"
#include "util/type_registry.h"

namespace diffmem {
namespace diffusion {

// Solver policies. Advance() takes one step from (x̂, t̂) to t_next, writing
// x_next into `out`, given the slope d = (x̂ − D(x̂;t̂))/t̂ at the start;
// `slope(x, t, into)` evaluates the ODE again into a buffer, and `scratch`
// is a state-sized buffer the solver may use. Buffers are reused across
// steps: at batch scale a fresh state-sized allocation costs far more than
// the arithmetic (benchmarks/sampler_benchmark.cc).
struct EulerSolver {
  static constexpr const char* kName = "euler";
  static constexpr int kOrder = 1;
  template <class Slope>
  static void Advance(const torch::Tensor& x_hat, double t_hat, double t_next, const torch::Tensor& d_cur,
                      Slope&& /*slope*/, torch::Tensor& out, torch::Tensor& /*scratch*/) {
    torch::add_out(out, x_hat, d_cur, t_next - t_hat);
  }
};

struct HeunSolver {
  static constexpr const char* kName = "heun";
  static constexpr int kOrder = 2;
  // The trapezoidal correction is skipped on the final step to σ = 0, where
  // the slope is undefined (Algorithm 2, line 9).
  template <class Slope>
  static void Advance(const torch::Tensor& x_hat, double t_hat, double t_next, const torch::Tensor& d_cur,
                      Slope&& slope, torch::Tensor& out, torch::Tensor& scratch) {
    torch::add_out(out, x_hat, d_cur, t_next - t_hat);
    if (t_next == 0) return;
    slope(out, t_next, scratch);
    scratch.add_(d_cur).mul_(0.5);
    torch::add_out(out, x_hat, scratch, t_next - t_hat);
  }
};

// The solvers a tool or study chooses by name (--solver).
using Solvers = TypeList<HeunSolver, EulerSolver>;

template <class S>
struct IsSolver : std::integral_constant<bool, std::is_same<S, EulerSolver>::value ||
                                                   std::is_same<S, HeunSolver>::value> {};

struct SamplerOptions {
  int num_steps = 18;
  double s_churn = 0;      // total churn; γ_i = min(S_churn/N, √2 − 1)
  double s_min = 0;        // churn only where S_min ≤ σ_i ≤ S_max
  double s_max = std::numeric_limits<double>::infinity();
  double s_noise = 1;      // scale of the added noise
};

// Called after step i (0-based) with the noise level σ_{i+1} reached.
using StepCallback = std::function<void(int step, double sigma)>;

template <class Solver = HeunSolver, class Steps = EdmRhoSteps>
class EdmSampler {
  static_assert(IsSolver<Solver>::value, "Solver must be HeunSolver or EulerSolver");
  static_assert(IsStepSchedule<Steps>::value,
                "Steps must be a step-schedule policy (EdmRhoSteps, VpSteps, VeSteps, IddpmSteps): "
                "an Options struct and static std::vector<double> Sigmas(int, const Options&)");

 public:
  using StepOptions = typename Steps::Options;

  explicit EdmSampler(const SamplerOptions& options = SamplerOptions(),
                      const StepOptions& steps = StepOptions())
      : options_(options), steps_(steps), sigmas_(Steps::Sigmas(options.num_steps, steps)) {}

  const SamplerOptions& options() const { return options_; }
  const StepOptions& step_options() const { return steps_; }
  int num_steps() const { return options_.num_steps; }
  // Denoiser evaluations per sample.
  int nfe() const { return Solver::kOrder == 2 ? 2 * num_steps() - 1 : num_steps(); }
  // σ_0 … σ_N as the discretization gives them (σ_N = 0).
  const std::vector<double>& sigmas() const { return sigmas_; }

  // The levels actually used with `denoiser`: clamped to its σ range and
  // snapped by its round_sigma where it offers them; the last stays 0.
  template <class D>
  std::vector<double> SigmasFor(const D& denoiser) const {
    std::vector<double> t = sigmas_;
    for (size_t i = 0; i + 1 < t.size(); ++i) {
      if constexpr (HasSigmaRange<D>::value) {
        t[i] = std::min(std::max(t[i], static_cast<double>(denoiser.sigma_min())),
                        static_cast<double>(denoiser.sigma_max()));
      }
      t[i] = RoundSigma(denoiser, t[i]);
    }
    return t;
  }

  // Buffers reused across the steps of one batch (state-sized float64 and
  // float32 tensors); sized on first use, resized when the batch changes.
  class Workspace {
   private:
    friend class EdmSampler;
    torch::Tensor state_a, state_b, x_hat, d_cur, d_prime, x32;
  };

  // Samples from standard-normal `latents` (N×C×H×W, on the device the
  // denoiser works on). `noise` supplies the churn noise (one generator per
  // sample); it may be null when S_churn = 0. Returns float32 N×C×H×W.
  template <class D>
  torch::Tensor Sample(D& denoiser, const torch::Tensor& latents, const torch::Tensor& labels,
                       PerSeedNoise* noise, const StepCallback& callback = StepCallback()) const {
    static_assert(IsDenoiser<D>::value,
                  "denoiser must be callable as d(x, sigma, labels) -> torch::Tensor (see denoiser.h)");
    torch::NoGradGuard no_grad;
    const std::vector<double> t = SigmasFor(denoiser);
    Workspace workspace;
    torch::Tensor x = latents.to(torch::kFloat64) * t[0];
    for (int i = 0; i < num_steps(); ++i) {
      x = StepBetween(denoiser, x, t[i], t[i + 1], labels, noise, workspace);
      if (callback) callback(i, t[i + 1]);
    }
    return x.to(torch::kFloat32);
  }

  // Latents and churn noise from one generator per seed (EDM's convention:
  // the latents are each generator's first draws). sample_shape is C×H×W.
  template <class D>
  torch::Tensor SampleFromSeeds(D& denoiser, const std::vector<uint64_t>& seeds,
                                torch::IntArrayRef sample_shape, const torch::Tensor& labels,
                                torch::Device device = torch::kCPU,
                                const StepCallback& callback = StepCallback()) const {
    PerSeedNoise noise(seeds);
    torch::Tensor latents = noise.Randn(sample_shape, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    return Sample(denoiser, latents, labels, &noise, callback);
  }

  // Step i alone: x_i (float64, at σ = SigmasFor(denoiser)[i]) → x_{i+1}.
  // x_cur is only read. Without a workspace the result is a fresh tensor;
  // with one it is a workspace buffer, overwritten by the step after next
  // (steps alternate between two buffers), so clone() it to keep it.
  template <class D>
  torch::Tensor Step(D& denoiser, const torch::Tensor& x_cur, int i, const torch::Tensor& labels,
                     PerSeedNoise* noise, Workspace* workspace = nullptr) const {
    if (i < 0 || i >= num_steps()) throw std::out_of_range("EdmSampler::Step: step index out of range");
    torch::NoGradGuard no_grad;
    const std::vector<double> t = SigmasFor(denoiser);
    Workspace local;
    return StepBetween(denoiser, x_cur, t[i], t[i + 1], labels, noise, workspace ? *workspace : local);
  }

 private:
  static void Fit(torch::Tensor& buffer, const torch::Tensor& like, torch::ScalarType dtype) {
    if (!buffer.defined() || buffer.sizes() != like.sizes() || buffer.device() != like.device()) {
      buffer = torch::empty(like.sizes(), like.options().dtype(dtype));
    }
  }

  // Algorithm 2, lines 4–10: churn up to t̂, then one solver step to t_next.
  template <class D>
  torch::Tensor StepBetween(D& denoiser, const torch::Tensor& x_cur, double t_cur, double t_next,
                            const torch::Tensor& labels, PerSeedNoise* noise, Workspace& ws) const {
    if (x_cur.scalar_type() != torch::kFloat64) throw std::invalid_argument("EdmSampler: state must be float64");
    // The result goes to whichever state buffer x_cur is not.
    torch::Tensor& out = x_cur.is_same(ws.state_a) ? ws.state_b : ws.state_a;
    Fit(out, x_cur, torch::kFloat64);
    Fit(ws.d_cur, x_cur, torch::kFloat64);
    if (Solver::kOrder == 2) Fit(ws.d_prime, x_cur, torch::kFloat64);
    Fit(ws.x32, x_cur, torch::kFloat32);

    const double gamma = (options_.s_min <= t_cur && t_cur <= options_.s_max)
                             ? std::min(options_.s_churn / num_steps(), std::sqrt(2.0) - 1)
                             : 0.0;
    torch::Tensor x_hat = x_cur;
    double t_hat = t_cur;
    if (gamma > 0) {
      if (noise == nullptr || noise->size() != x_cur.size(0)) {
        throw std::invalid_argument("EdmSampler: S_churn > 0 needs one noise generator per sample");
      }
      t_hat = RoundSigma(denoiser, t_cur + gamma * t_cur);
      torch::Tensor eps = noise->Randn(x_cur.sizes().slice(1), x_cur.options());
      Fit(ws.x_hat, x_cur, torch::kFloat64);
      torch::add_out(ws.x_hat, x_cur, eps, std::sqrt(t_hat * t_hat - t_cur * t_cur) * options_.s_noise);
      x_hat = ws.x_hat;
    }
    // into ← (x − D(x;σ))/σ, computed as (D − x)/(−σ).
    auto slope = [&](const torch::Tensor& x, double sigma, torch::Tensor& into) {
      torch::Tensor s = torch::full({x.size(0)}, sigma, x.options().dtype(torch::kFloat32));
      ws.x32.copy_(x);
      into.copy_(denoiser(ws.x32, s, labels));
      into.sub_(x).div_(-sigma);
    };
    slope(x_hat, t_hat, ws.d_cur);
    Solver::Advance(x_hat, t_hat, t_next, ws.d_cur, slope, out, ws.d_prime);
    return out;
  }

  SamplerOptions options_;
  StepOptions steps_;
  std::vector<double> sigmas_;
};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_EDM_SAMPLER_H_
