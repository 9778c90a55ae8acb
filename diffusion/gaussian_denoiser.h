// GaussianDenoiser: the ideal (minimum-MSE) denoiser for data distributed as
// N(μ, diag(s²)), in closed form D(x;σ) = (s²·x + σ²·μ) / (s² + σ²)
// per element. A DENOISER (denoiser.h) whose exact answer is known: the
// reference for testing samplers, losses and preconditioning, and a
// network-free denoiser for timing the sampler itself.
//
// Example:
//   // Data: each pixel ~ N(0.2, 0.5²) over 3×8×8 images.
//   diffmem::diffusion::GaussianDenoiser d(torch::full({3, 8, 8}, 0.2), torch::full({3, 8, 8}, 0.5));
//   torch::Tensor x0 = d(x, sigma, torch::Tensor());

#ifndef DIFFMEM_DIFFUSION_GAUSSIAN_DENOISER_H_
#define DIFFMEM_DIFFUSION_GAUSSIAN_DENOISER_H_

#include <torch/types.h>

namespace diffmem {
namespace diffusion {

class GaussianDenoiser {
 public:
  // mean and stddev: one sample's shape (C×H×W) or anything broadcastable to it.
  GaussianDenoiser(const torch::Tensor& mean, const torch::Tensor& stddev)
      : mean_(mean.to(torch::kFloat32).unsqueeze(0)),
        var_(stddev.to(torch::kFloat32).square().unsqueeze(0)) {}

  // Labels are ignored (the data distribution is unconditional).
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma,
                           const torch::Tensor& /*labels*/) const {
    torch::Tensor x32 = x.to(torch::kFloat32);
    std::vector<int64_t> shape(x32.dim(), 1);
    shape[0] = -1;
    torch::Tensor s2 = sigma.to(x32.options()).reshape(shape).square();
    torch::Tensor mean = mean_.to(x32.device()), var = var_.to(x32.device());
    return (var * x32 + s2 * mean) / (var + s2);
  }

  const torch::Tensor& mean() const { return mean_; }      // 1×shape
  const torch::Tensor& variance() const { return var_; }   // 1×shape

 private:
  torch::Tensor mean_;
  torch::Tensor var_;
};

}  // namespace diffusion
}  // namespace diffmem

#endif  // DIFFMEM_DIFFUSION_GAUSSIAN_DENOISER_H_
