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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DIFFMEM_FLAT_UPDATE_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace diffmem {
namespace training {

// One step of torch::optim::Adam (decoupled = false) or AdamW (true).
struct AdamUpdateRule {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: added to the gradient (L2); AdamW: p ← p·(1 − lr·wd) first
  bool decoupled = false;
  int64_t step = 1;         // 1 for the first update (bias corrections)
};

// One step of torch::optim::SGD.
struct SgdUpdateRule {
  double lr = 1e-2;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool first = true;  // the momentum buffer starts as a copy of the gradient
};

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

inline bool CpuHasAvx2Fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

// The first `left` lanes (all when left ≥ 8).
DIFFMEM_FLAT_UPDATE_AVX2 inline __m256i Lanes(int64_t left) {
  alignas(32) static const int32_t kTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTable + 8 - (left < 8 ? left : 8)));
}
DIFFMEM_FLAT_UPDATE_AVX2 inline __m256 Load(const float* x, int64_t left, __m256i lanes) {
  return left >= 8 ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, lanes);
}
DIFFMEM_FLAT_UPDATE_AVX2 inline void Store(float* x, __m256 v, int64_t left, __m256i lanes) {
  if (left >= 8) {
    _mm256_storeu_ps(x, v);
  } else {
    _mm256_maskstore_ps(x, lanes, v);
  }
}
// A product LibTorch rounds on its own before adding: keeps the compiler
// from contracting it into a later addition.
DIFFMEM_FLAT_UPDATE_AVX2 inline __m256 Rounded(__m256 x) {
  __asm__("" : "+x"(x));
  return x;
}

// The float32 constants LibTorch's kernels see (each Scalar cast once).
struct AdamFloats {
  float beta1, alpha1, beta2, alpha2, bias2_sqrt, eps, neg_step, weight_decay, decay;
  explicit AdamFloats(const AdamUpdateRule& r)
      : beta1(r.beta1), alpha1(1 - r.beta1), beta2(r.beta2), alpha2(1 - r.beta2),
        bias2_sqrt(std::sqrt(1 - std::pow(r.beta2, static_cast<double>(r.step)))), eps(r.eps),
        neg_step(-(r.lr / (1 - std::pow(r.beta1, static_cast<double>(r.step))))), weight_decay(r.weight_decay),
        decay(1 - r.lr * r.weight_decay) {}
};

template <bool kL2, bool kDecoupled>
DIFFMEM_FLAT_UPDATE_AVX2 void AdamAvx2(const AdamFloats& c, float* p, const float* g, float* m, float* v,
                                        int64_t n) {
  const __m256 b1 = _mm256_set1_ps(c.beta1), a1 = _mm256_set1_ps(c.alpha1), b2 = _mm256_set1_ps(c.beta2),
               a2 = _mm256_set1_ps(c.alpha2), bc = _mm256_set1_ps(c.bias2_sqrt), eps = _mm256_set1_ps(c.eps),
               s = _mm256_set1_ps(c.neg_step), wd = _mm256_set1_ps(c.weight_decay), dk = _mm256_set1_ps(c.decay);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t left = n - i;
    const __m256i lanes = Lanes(left);
    __m256 P = Load(p + i, left, lanes), G = Load(g + i, left, lanes), M = Load(m + i, left, lanes),
           V = Load(v + i, left, lanes);
    if (kL2) G = _mm256_fmadd_ps(P, wd, G);           // grad.add(p, wd)
    if (kDecoupled) P = Rounded(_mm256_mul_ps(P, dk));  // p.mul_(1 − lr·wd)
    M = _mm256_fmadd_ps(G, a1, _mm256_mul_ps(M, b1));   // m.mul_(β1).add_(g, 1 − β1)
    V = _mm256_fmadd_ps(_mm256_mul_ps(a2, G), G, _mm256_mul_ps(V, b2));  // v.mul_(β2).addcmul_(g, g, 1 − β2)
    const __m256 D = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(V), bc), eps);
    P = _mm256_add_ps(P, _mm256_div_ps(_mm256_mul_ps(s, M), D));  // p.addcdiv_(m, denom, −step)
    Store(p + i, P, left, lanes);
    Store(m + i, M, left, lanes);
    Store(v + i, V, left, lanes);
  }
}

DIFFMEM_FLAT_UPDATE_AVX2 inline void SgdAvx2(const SgdUpdateRule& r, float* p, const float* g, float* buf,
                                              int64_t n) {
  const __m256 wd = _mm256_set1_ps(r.weight_decay), mu = _mm256_set1_ps(r.momentum),
               damp = _mm256_set1_ps(1 - r.dampening), neg_lr = _mm256_set1_ps(-1 * r.lr);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t left = n - i;
    const __m256i lanes = Lanes(left);
    __m256 P = Load(p + i, left, lanes), D = Load(g + i, left, lanes);
    if (r.weight_decay != 0) D = _mm256_fmadd_ps(P, wd, D);
    if (r.momentum != 0) {
      __m256 B = r.first ? D : _mm256_fmadd_ps(D, damp, Rounded(_mm256_mul_ps(Load(buf + i, left, lanes), mu)));
      Store(buf + i, B, left, lanes);
      D = r.nesterov ? _mm256_fmadd_ps(B, mu, D) : B;
    }
    Store(p + i, _mm256_fmadd_ps(D, neg_lr, P), left, lanes);
  }
}

// ATen's lerp(self = p, end = e, weight): p + w·(e − p) for |w| < ½, else
// e − (e − p)·(1 − w), in float with 1 − w rounded.
DIFFMEM_FLAT_UPDATE_AVX2 inline void LerpAvx2(float w, float* e, const float* p, int64_t n) {
  const bool low = std::abs(w) < 0.5f;
  const __m256 W = _mm256_set1_ps(w), OM = _mm256_set1_ps(1.0f - w);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t left = n - i;
    const __m256i lanes = Lanes(left);
    const __m256 P = Load(p + i, left, lanes), E = Load(e + i, left, lanes);
    const __m256 diff = _mm256_sub_ps(E, P);
    Store(e + i, low ? _mm256_fmadd_ps(W, diff, P) : _mm256_fnmadd_ps(diff, OM, E), left, lanes);
  }
}

constexpr int64_t kGrain = 1 << 15;

inline float* FloatData(const torch::Tensor& t) { return t.data_ptr<float>(); }

inline void AdamFused(const AdamUpdateRule& r, const torch::Tensor& p, const torch::Tensor& g,
                      const torch::Tensor& m, const torch::Tensor& v) {
  const AdamFloats c(r);
  const bool l2 = !r.decoupled && r.weight_decay != 0, decoupled = r.decoupled && r.weight_decay != 0;
  float *P = FloatData(p), *G = FloatData(g), *M = FloatData(m), *V = FloatData(v);
  at::parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) {
    auto kernel = l2 ? AdamAvx2<true, false> : decoupled ? AdamAvx2<false, true> : AdamAvx2<false, false>;
    kernel(c, P + b, G + b, M + b, V + b, e - b);
  });
}
inline void SgdFused(const SgdUpdateRule& r, const torch::Tensor& p, const torch::Tensor& g,
                     const torch::Tensor& buf) {
  float *P = FloatData(p), *G = FloatData(g), *B = r.momentum != 0 ? FloatData(buf) : nullptr;
  at::parallel_for(0, p.numel(), kGrain, [&](int64_t b, int64_t e) {
    SgdAvx2(r, P + b, G + b, B ? B + b : nullptr, e - b);
  });
}
inline void LerpFused(const torch::Tensor& e, const torch::Tensor& p, double w) {
  float *E = FloatData(e), *P = FloatData(p);
  at::parallel_for(0, e.numel(), kGrain, [&](int64_t b, int64_t end) { LerpAvx2(w, E + b, P + b, end - b); });
}

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
