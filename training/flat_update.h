// The element-wise updates of training — LibTorch's Adam, AdamW and SGD steps
// and the EMA blend — over long contiguous buffers (training/flat_parameters.h),
// each in one pass, with exactly LibTorch's arithmetic.
//
//   AdamUpdate(rule, p, g, m, v)   torch::optim::Adam (decoupled: AdamW) step
//                                  rule.step on p with gradient g, moments m, v
//   SgdUpdate(rule, p, g, buf)     torch::optim::SGD step (momentum buffer buf)
//   LerpUpdate(e, p, w)            e ← p.lerp(e, w) = p + w·(e − p)  (EMA, β = w)
//
// Two implementations, chosen per call:
//   - one fused pass over float32 CPU buffers (AVX2+FMA, both cores through
//     at::parallel_for): reads and writes each buffer once;
//   - LibTorch's own op sequence (the code of torch::optim 1.13, on the whole
//     buffer): any device or dtype.
// Bit-identity: LibTorch's AVX2/AVX-512 CPU kernels round every product that
// feeds an addition once with it (FMA: add(x, alpha), addcmul, lerp), and
// products that feed a division or another op on their own; its default
// (non-AVX) kernels round each product. The fused pass follows the first
// convention. It is used only after a self-check (once per process, on fixed
// data) found it bit-identical to the op sequence for every rule on this
// machine, so e.g. ATEN_CPU_CAPABILITY=default selects the op sequence.
//
// Example:
//   diffmem::training::AdamUpdateRule r;  r.lr = 2e-4;  r.step = 10;
//   AdamUpdate(r, flat_params, flat_grads, exp_avg, exp_avg_sq);
//   LerpUpdate(ema_flat, flat_params, /*w=*/0.999);

#ifndef DIFFMEM_TRAINING_FLAT_UPDATE_H_
#define DIFFMEM_TRAINING_FLAT_UPDATE_H_

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "training/internal/avx2_updates.h"
#include "training/update_rules.h"

namespace diffmem {
namespace training {
namespace internal_flat {

// The op sequences of LibTorch 1.13's optimizers (torch/csrc/api/src/optim/),
// and the EMA blend Ema used per tensor.
inline void AdamOps(const AdamUpdateRule& r, torch::Tensor p, torch::Tensor g, torch::Tensor m, torch::Tensor v) {
  torch::NoGradGuard no_grad;
  if (r.decoupled && r.weight_decay != 0) p.mul_(1 - r.lr * r.weight_decay);
  torch::Tensor grad = !r.decoupled && r.weight_decay != 0 ? g.add(p, r.weight_decay) : g;
  const double bias1 = 1 - std::pow(r.beta1, static_cast<double>(r.step));
  const double bias2 = 1 - std::pow(r.beta2, static_cast<double>(r.step));
  m.mul_(r.beta1).add_(grad, 1 - r.beta1);
  v.mul_(r.beta2).addcmul_(grad, grad, 1 - r.beta2);
  torch::Tensor denom = (v.sqrt() / std::sqrt(bias2)).add_(r.eps);
  p.addcdiv_(m, denom, -(r.lr / bias1));
}

inline void SgdOps(const SgdUpdateRule& r, torch::Tensor p, torch::Tensor g, torch::Tensor buf) {
  torch::NoGradGuard no_grad;
  torch::Tensor d = r.weight_decay != 0 ? g.add(p, r.weight_decay) : g;
  if (r.momentum != 0) {
    if (r.first) {
      buf.copy_(d);
    } else {
      buf.mul_(r.momentum).add_(d, 1 - r.dampening);
    }
    d = r.nesterov ? d.add(buf, r.momentum) : buf;
  }
  p.add_(d, -1 * r.lr);
}

inline void LerpOps(torch::Tensor e, const torch::Tensor& p, double w) {
  torch::NoGradGuard no_grad;
  at::lerp_out(e, p, e, w);
}

#ifdef DIFFMEM_FLAT_UPDATE_AVX2

// Whether the fused passes equal the op sequences bit for bit here, per rule
// family: every setting the optimizers and EMA use, on fixed data of an odd
// length (masked tail), once per process.
struct FusedAgreement {
  bool adam = false, sgd = false, lerp = false;
};

inline bool BitEqual(const torch::Tensor& a, const torch::Tensor& b) {
  return a.view(torch::kInt32).equal(b.view(torch::kInt32));
}

inline FusedAgreement CheckFusedAgreement() {
  FusedAgreement ok;
  if (!CpuHasAvx2Fma()) return ok;
  at::Generator gen = at::detail::createCPUGenerator(20241126);  // not the global generator
  const int64_t n = 4096 + 13;
  const torch::Tensor p = torch::randn({n}, gen), g = torch::randn({n}, gen).mul_(1e-2),
                      m = torch::randn({n}, gen).mul_(1e-2), v = torch::rand({n}, gen).mul_(1e-4);
  ok.adam = true;
  for (int kind = 0; kind < 3; ++kind) {
    AdamUpdateRule r;
    r.step = 3;
    r.weight_decay = kind == 0 ? 0 : 0.05;
    r.decoupled = kind == 2;
    torch::Tensor p1 = p.clone(), m1 = m.clone(), v1 = v.clone(), p2 = p.clone(), m2 = m.clone(), v2 = v.clone();
    AdamOps(r, p1, g, m1, v1);
    AdamFused(r, p2, g, m2, v2);
    ok.adam = ok.adam && BitEqual(p1, p2) && BitEqual(m1, m2) && BitEqual(v1, v2);
  }
  ok.sgd = true;
  for (int kind = 0; kind < 4; ++kind) {
    SgdUpdateRule r;
    r.momentum = kind == 0 ? 0 : 0.9;
    r.weight_decay = kind == 1 ? 0 : 0.05;
    r.first = kind == 1;
    r.dampening = kind == 3 ? 0.1 : 0;
    r.nesterov = kind == 3;
    torch::Tensor p1 = p.clone(), b1 = m.clone(), p2 = p.clone(), b2 = m.clone();
    SgdOps(r, p1, g, b1);
    SgdFused(r, p2, g, b2);
    ok.sgd = ok.sgd && BitEqual(p1, p2) && BitEqual(b1, b2);
  }
  ok.lerp = true;
  for (double w : {0.999, 0.3}) {
    torch::Tensor e1 = m.clone(), e2 = m.clone();
    LerpOps(e1, p, w);
    LerpFused(e2, p, w);
    ok.lerp = ok.lerp && BitEqual(e1, e2);
  }
  return ok;
}

inline const FusedAgreement& Agreement() {
  static const FusedAgreement agreement = CheckFusedAgreement();
  return agreement;
}

#else  // no AVX2 kernels on this platform: always the op sequences

struct FusedAgreement {
  bool adam = false, sgd = false, lerp = false;
};
inline const FusedAgreement& Agreement() {
  static const FusedAgreement none;
  return none;
}

#endif  // DIFFMEM_FLAT_UPDATE_AVX2

inline bool FusedCandidates(std::initializer_list<const torch::Tensor*> ts) {
  const torch::Tensor& first = **ts.begin();
  for (const torch::Tensor* t : ts) {
    if (!t->defined() || !t->device().is_cpu() || t->scalar_type() != torch::kFloat32 || !t->is_contiguous() ||
        t->numel() != first.numel()) {
      return false;
    }
  }
  return true;
}

}  // namespace internal_flat

// Which updates run as one fused pass on float32 CPU buffers here (false:
// LibTorch's op sequence; see the top of this file).
inline internal_flat::FusedAgreement FusedUpdatesAvailable() { return internal_flat::Agreement(); }

inline void AdamUpdate(const AdamUpdateRule& r, torch::Tensor p, torch::Tensor g, torch::Tensor m, torch::Tensor v) {
#ifdef DIFFMEM_FLAT_UPDATE_AVX2
  if (internal_flat::FusedCandidates({&p, &g, &m, &v}) && internal_flat::Agreement().adam) {
    return internal_flat::AdamFused(r, p, g, m, v);
  }
#endif
  internal_flat::AdamOps(r, p, g, m, v);
}

// `buf` may be undefined when momentum is 0.
inline void SgdUpdate(const SgdUpdateRule& r, torch::Tensor p, torch::Tensor g, torch::Tensor buf) {
#ifdef DIFFMEM_FLAT_UPDATE_AVX2
  const bool buffers_ok = r.momentum == 0 || internal_flat::FusedCandidates({&p, &buf});
  if (internal_flat::FusedCandidates({&p, &g}) && buffers_ok && internal_flat::Agreement().sgd) {
    return internal_flat::SgdFused(r, p, g, buf);
  }
#endif
  internal_flat::SgdOps(r, p, g, buf);
}

inline void LerpUpdate(torch::Tensor e, const torch::Tensor& p, double w) {
#ifdef DIFFMEM_FLAT_UPDATE_AVX2
  if (internal_flat::FusedCandidates({&e, &p}) && internal_flat::Agreement().lerp) {
    return internal_flat::LerpFused(e, p, w);
  }
#endif
  internal_flat::LerpOps(e, p, w);
}

}  // namespace training
}  // namespace diffmem

#undef DIFFMEM_FLAT_UPDATE_AVX2

#endif  // DIFFMEM_TRAINING_FLAT_UPDATE_H_
