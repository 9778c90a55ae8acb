// The empirical optimal denoiser (the paper's "theoretical optimum", Eq. 3;
// Karras et al. 2022, Eq. 57): the minimizer of the denoising loss on a finite
// training set {y_n},
//   D*(x; σ) = Σ_n softmax_n(−‖x − y_n‖² / 2σ²) · y_n.
// Sampling with it reproduces training images, the memorization ceiling.
//
//   EmpiricalOptimalDenoiserOptions — block sizes
//   EmpiricalOptimalDenoiser        — a DENOISER (diffusion/denoiser.h): call
//                                     it like a network's preconditioned denoiser
//
// How it is computed. Training points stream in blocks of `reference_block`
// rows; per block one GEMM gives the logits (‖y‖² − 2x·y, ‖y‖² cached; the
// per-sample ‖x‖² cancels in the softmax) and a second GEMM adds the weighted
// points, with a running log-sum-exp (max m, rescaled sum s, rescaled
// accumulator) so nothing of size N×B×D or a second N×D copy is ever made.
// At σ → 0 every weight but the nearest point's underflows to exactly 0 and
// D* returns that point (σ = 0 is accepted); at σ → ∞ all logits are 0 and D*
// returns the mean. The nearest point at σ → 0 is the one with the smallest
// float32 GEMM key; among exact float32 ties the weights are shared equally.
//
// Device: the training points stay where they are given (CPU or CUDA) and
// every call computes there; x, σ and labels are moved to that device, and
// the result is on it (the samplers copy it into their own buffers).
//
// Class-conditional mode: construct with training labels; then a call with
// labels averages, for each sample, only over training points of its label
// (a call with undefined labels still averages over all points).
//
// Example:
//   torch::Tensor y = diffmem::data::PixelsToFloat(ds.images);         // N×C×H×W in [−1, 1]
//   diffmem::memorization::EmpiricalOptimalDenoiser optimum(y);          // or (y, ds.labels)
//   torch::Tensor x0 = optimum(x, sigma, /*labels=*/torch::Tensor());    // N×C×H×W
//   // use `optimum` wherever a sampler takes a DENOISER.

#ifndef DIFFMEM_MEMORIZATION_OPTIMAL_DENOISER_H_
#define DIFFMEM_MEMORIZATION_OPTIMAL_DENOISER_H_

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "memorization/distance.h"

namespace diffmem {
namespace memorization {

struct EmpiricalOptimalDenoiserOptions {
  int64_t reference_block = 4096;  // training points per streamed block
  int64_t query_block = 1024;      // samples denoised together (rows of one GEMM)
};

class EmpiricalOptimalDenoiser {
 public:
  // train: N×… training points in model space (any float dtype; held as
  // float32 N×D, shared without a copy when already float32 contiguous).
  // train_labels: int64 N, or undefined for an unconditional optimum only.
  explicit EmpiricalOptimalDenoiser(const torch::Tensor& train, const torch::Tensor& train_labels = torch::Tensor(),
                                    const EmpiricalOptimalDenoiserOptions& options = {})
      : options_(options) {
    TORCH_CHECK(train.dim() >= 2 && train.size(0) > 0, "EmpiricalOptimalDenoiser: need N×… training points, N > 0");
    TORCH_CHECK(options.reference_block > 0 && options.query_block > 0,
                "EmpiricalOptimalDenoiser: block sizes must be positive");
    shape_ = train.sizes().slice(1).vec();
    train_ = train.reshape({train.size(0), -1}).to(torch::kFloat32).contiguous();
    norms_ = internal_distance::RowSquaredNorms(train_);
    max_norm_ = norms_.max().item<double>();
    if (train_labels.defined()) {
      TORCH_CHECK(train_labels.dim() == 1 && train_labels.size(0) == train_.size(0),
                  "EmpiricalOptimalDenoiser: train_labels must have one label per training point");
      labels_ = train_labels.to(train_.device(), torch::kInt64);
      const int64_t num_classes = labels_.max().item<int64_t>() + 1;
      TORCH_CHECK(labels_.min().item<int64_t>() >= 0, "EmpiricalOptimalDenoiser: negative training label");
      for (int64_t c = 0; c < num_classes; ++c) class_rows_.push_back((labels_ == c).nonzero().reshape({-1}));
    }
  }

  // D*(x; σ): x float N×C×H×W (the training shape per sample), sigma float
  // N (or a scalar, or N×1×1×1; σ ≥ 0), labels int64 N or undefined.
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& sigma, const torch::Tensor& labels) const {
    const int64_t b = x.size(0);
    TORCH_CHECK(x.numel() == b * dim(), "EmpiricalOptimalDenoiser: x has shape ", x.sizes(),
                ", expected N×", c10::IntArrayRef(shape_));
    torch::Tensor rows = x.reshape({b, dim()}).to(train_.options()).contiguous();
    torch::Tensor s = sigma.to(train_.options().dtype(torch::kFloat64)).reshape({-1});
    if (s.size(0) == 1 && b != 1) s = s.expand({b});
    TORCH_CHECK(s.size(0) == b, "EmpiricalOptimalDenoiser: ", s.size(0), " sigmas for ", b, " samples");
    TORCH_CHECK((s >= 0).all().item<bool>(), "EmpiricalOptimalDenoiser: sigma must be >= 0");
    torch::Tensor inv = InverseTemperature(rows, s);
    torch::Tensor out = torch::empty_like(rows);
    if (!labels.defined()) {
      Denoise(rows, inv, torch::Tensor(), out);
    } else {
      TORCH_CHECK(class_conditional(),
                  "EmpiricalOptimalDenoiser: labels given, but the optimum was built without training labels");
      torch::Tensor l = labels.to(labels_.options()).reshape({-1});
      TORCH_CHECK(l.size(0) == b, "EmpiricalOptimalDenoiser: ", l.size(0), " labels for ", b, " samples");
      const int64_t num_classes = static_cast<int64_t>(class_rows_.size());
      TORCH_CHECK(b == 0 || (l.min().item<int64_t>() >= 0 && l.max().item<int64_t>() < num_classes),
                  "EmpiricalOptimalDenoiser: labels must be in [0, ", num_classes, ")");
      for (int64_t c = 0; c < num_classes; ++c) {
        torch::Tensor members = (l == c).nonzero().reshape({-1});
        if (members.numel() == 0) continue;
        TORCH_CHECK(class_rows_[c].numel() > 0, "EmpiricalOptimalDenoiser: no training point has label ", c);
        torch::Tensor part = torch::empty({members.size(0), dim()}, train_.options());
        Denoise(rows.index_select(0, members), inv.index_select(0, members), class_rows_[c], part);
        out.index_copy_(0, members, part);
      }
    }
    std::vector<int64_t> out_shape = x.sizes().vec();
    return out.view(out_shape);
  }

  bool class_conditional() const { return labels_.defined(); }
  int64_t size() const { return train_.size(0); }
  int64_t dim() const { return train_.size(1); }
  const torch::Tensor& training_rows() const { return train_; }  // float32 N×D

 private:
  // 1/(2σ²) per sample (float32 B), capped so that logits stay finite: beyond
  // the cap the softmax is already a hard argmax in float32.
  torch::Tensor InverseTemperature(const torch::Tensor& rows, const torch::Tensor& sigma64) const {
    const double max_x = std::sqrt(rows.square().sum(1).max().item<double>());
    const double max_logit_scale = max_norm_ + 2 * max_x * std::sqrt(max_norm_) + 1;  // ≥ |‖y‖² − 2x·y|
    const double cap = 1e36 / max_logit_scale;
    return (0.5 / sigma64.square()).clamp_max(cap).to(torch::kFloat32);
  }

  // out (B×D) ← D* for rows x (B×D) with inverse temperatures inv (B) over the
  // training points `subset` (int64 indices) or all of them (undefined).
  void Denoise(const torch::Tensor& x, const torch::Tensor& inv, const torch::Tensor& subset, torch::Tensor out) const {
    for (int64_t start = 0; start < x.size(0); start += options_.query_block) {
      const int64_t len = std::min(options_.query_block, x.size(0) - start);
      out.narrow(0, start, len).copy_(DenoiseBlock(x.narrow(0, start, len), inv.narrow(0, start, len), subset));
    }
  }

  // The streaming log-sum-exp over blocks of training points. The logits of
  // a block are written into one buffer reused across blocks (by the GEMM
  // itself), as are the gathered rows of a class subset.
  torch::Tensor DenoiseBlock(const torch::Tensor& x, const torch::Tensor& inv, const torch::Tensor& subset) const {
    const int64_t b = x.size(0);
    const int64_t n = subset.defined() ? subset.size(0) : size();
    const int64_t block = std::min(options_.reference_block, n);
    torch::Tensor neg_inv = inv.neg().unsqueeze(1);
    torch::Tensor m = torch::full({b, 1}, -std::numeric_limits<float>::infinity(), train_.options());
    torch::Tensor s = torch::zeros({b, 1}, train_.options());
    torch::Tensor acc = torch::zeros({b, dim()}, train_.options());
    torch::Tensor logit_buffer = torch::empty({b, block}, train_.options());
    torch::Tensor row_buffer = subset.defined() ? torch::empty({block, dim()}, train_.options()) : torch::Tensor();
    for (int64_t start = 0; start < n; start += block) {
      const int64_t len = std::min(block, n - start);
      torch::Tensor y, y_norms;
      if (subset.defined()) {
        torch::Tensor ids = subset.narrow(0, start, len);
        y = row_buffer.narrow(0, 0, len);
        torch::index_select_out(y, train_, 0, ids);
        y_norms = norms_.index_select(0, ids);
      } else {
        y = train_.narrow(0, start, len);
        y_norms = norms_.narrow(0, start, len);
      }
      // logits = −(‖y‖² − 2x·y) / 2σ²  (B×len)
      // A contiguous b×len view of the buffer's storage: dense rows for every op below.
      torch::Tensor logits = logit_buffer.view({-1}).narrow(0, 0, b * len).view({b, len});
      torch::addmm_out(logits, y_norms.unsqueeze(0), x, y.t(), /*beta=*/1, /*alpha=*/-2);
      logits.mul_(neg_inv);
      torch::Tensor m_new = torch::maximum(m, std::get<0>(logits.max(1, /*keepdim=*/true)));
      torch::Tensor rescale = (m - m_new).exp_();  // 0 on the first block (m = −∞)
      torch::Tensor w = logits.sub_(m_new).exp_();
      s.mul_(rescale).add_(w.sum(1, /*keepdim=*/true));
      acc.mul_(rescale).addmm_(w, y);
      m = m_new;
    }
    return acc.div_(s);
  }

  EmpiricalOptimalDenoiserOptions options_;
  std::vector<int64_t> shape_;           // per-sample shape of the training points
  torch::Tensor train_;                  // float32 N×D
  torch::Tensor norms_;                  // ‖y_n‖², float32 N
  double max_norm_ = 0;                  // max ‖y_n‖²
  torch::Tensor labels_;                 // int64 N or undefined
  std::vector<torch::Tensor> class_rows_;  // training indices per label
};

}  // namespace memorization
}  // namespace diffmem

#endif  // DIFFMEM_MEMORIZATION_OPTIMAL_DENOISER_H_
