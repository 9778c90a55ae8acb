// The fused passes of training/flat_update.h: LibTorch's Adam/AdamW and
// SGD steps and the EMA blend on float32 CPU buffers with AVX2+FMA, each
// buffer read and written once, split over the cores by at::parallel_for.
// They follow the rounding of LibTorch's vectorized CPU kernels (see the top
// of flat_update.h), which checks them against LibTorch's op sequence before
// using them. Defined only where the compiler offers the AVX2 target
// (DIFFMEM_FLAT_UPDATE_AVX2); only flat_update.h uses this.

#ifndef DIFFMEM_TRAINING_INTERNAL_AVX2_UPDATES_H_
#define DIFFMEM_TRAINING_INTERNAL_AVX2_UPDATES_H_

#include <ATen/Parallel.h>
#include <torch/types.h>

#include <cmath>
#include <cstdint>

#include "training/update_rules.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define DIFFMEM_FLAT_UPDATE_AVX2 __attribute__((target("avx2,fma")))
#endif

#ifdef DIFFMEM_FLAT_UPDATE_AVX2

namespace diffmem {
namespace training {
namespace internal_flat {


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
}  // namespace internal_flat
}  // namespace training
}  // namespace diffmem

#endif  // DIFFMEM_FLAT_UPDATE_AVX2

#endif  // DIFFMEM_TRAINING_INTERNAL_AVX2_UPDATES_H_
