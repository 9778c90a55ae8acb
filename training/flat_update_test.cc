#include "training/flat_update.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/types.h>
#include <torch/version.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace diffmem {
namespace training {
namespace {

bool BitEqual(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.view(torch::kInt32).equal(b.view(torch::kInt32));
}

struct Buffers {
  torch::Tensor p, g, m, v;
  Buffers Clone() const { return {p.clone(), g.clone(), m.clone(), v.clone()}; }
};

Buffers Random(int64_t n, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return {torch::randn({n}, gen), torch::randn({n}, gen).mul_(1e-2), torch::randn({n}, gen).mul_(1e-2),
          torch::rand({n}, gen).mul_(1e-4)};
}

// Lengths around the 8-lane vectors, the 2×16 unrolled AVX-512 loop of
// LibTorch's kernels and its parallel grain.
const std::vector<int64_t> kLengths = {1, 7, 8, 9, 31, 33, 4099, 100003};

bool FusedExpected() {
#if defined(__x86_64__)
  const char* cap = std::getenv("ATEN_CPU_CAPABILITY");
  return internal_flat::CpuHasAvx2Fma() && (cap == nullptr || std::string(cap) != "default");
#else
  return false;
#endif
}

// LibTorch 2.x divides by a CPU scalar differently (Adam's bias
// correction of √v): there the fused Adam pass fails its self-check and the
// op sequence runs (checked with LibTorch 2.11).
constexpr bool kFusedAdamExpected = TORCH_VERSION_MAJOR < 2;

// On an AVX2 machine with LibTorch's default kernels the fused passes pass
// their self-check: otherwise every update here would silently take the
// slower op sequence.
TEST(FlatUpdateTest, FusedPassesAreUsedWhereTheyMatchLibTorch) {
  if (!FusedExpected()) GTEST_SKIP() << "no AVX2+FMA, or LibTorch's default (non-AVX) kernels forced";
  EXPECT_EQ(FusedUpdatesAvailable().adam, kFusedAdamExpected);
  EXPECT_TRUE(FusedUpdatesAvailable().sgd);
  EXPECT_TRUE(FusedUpdatesAvailable().lerp);
}

#if defined(__x86_64__)
// The fused passes equal LibTorch's op sequences bit for bit, over many
// steps (bias corrections change), settings and lengths (masked tails).
TEST(FlatUpdateTest, FusedAdamEqualsOpSequenceBitForBit) {
  if (!FusedExpected() || !kFusedAdamExpected) GTEST_SKIP();
  for (int64_t n : kLengths) {
    for (int kind = 0; kind < 3; ++kind) {
      Buffers ops = Random(n, 100 + n), fused = ops.Clone();
      AdamUpdateRule r;
      r.lr = 3e-3;
      r.weight_decay = kind == 0 ? 0 : 0.1;
      r.decoupled = kind == 2;
      for (r.step = 1; r.step <= 12; ++r.step) {
        r.lr *= 0.9;  // as a warm-up or schedule would
        internal_flat::AdamOps(r, ops.p, ops.g, ops.m, ops.v);
        internal_flat::AdamFused(r, fused.p, fused.g, fused.m, fused.v);
        ASSERT_TRUE(BitEqual(ops.p, fused.p)) << "n " << n << " kind " << kind << " step " << r.step;
        ASSERT_TRUE(BitEqual(ops.m, fused.m) && BitEqual(ops.v, fused.v)) << n << " " << kind;
        ops.g = torch::randn_like(ops.g).mul_(1e-2);
        fused.g = ops.g.clone();
      }
    }
  }
}

TEST(FlatUpdateTest, FusedSgdEqualsOpSequenceBitForBit) {
  if (!FusedExpected()) GTEST_SKIP();
  for (int64_t n : kLengths) {
    for (int kind = 0; kind < 4; ++kind) {
      Buffers ops = Random(n, 200 + n), fused = ops.Clone();
      SgdUpdateRule r;
      r.lr = 0.05;
      r.momentum = kind == 0 ? 0 : 0.9;
      r.weight_decay = kind == 2 ? 0 : 1e-3;
      r.dampening = kind == 3 ? 0.2 : 0;
      r.nesterov = kind == 2;
      for (int step = 0; step < 6; ++step) {
        r.first = step == 0;
        internal_flat::SgdOps(r, ops.p, ops.g, ops.m);
        internal_flat::SgdFused(r, fused.p, fused.g, fused.m);
        ASSERT_TRUE(BitEqual(ops.p, fused.p) && BitEqual(ops.m, fused.m)) << n << " " << kind << " " << step;
      }
    }
  }
}

TEST(FlatUpdateTest, FusedLerpEqualsLibTorchLerpBitForBit) {
  if (!FusedExpected()) GTEST_SKIP();
  for (int64_t n : kLengths) {
    for (double w : {0.0, 0.3, 0.4999, 0.5, 0.9, 0.999, 0.99929, 1.0}) {
      Buffers b = Random(n, 300 + n);
      torch::Tensor e = b.m.clone();
      internal_flat::LerpFused(e, b.p, w);
      ASSERT_TRUE(BitEqual(e, b.p.lerp(b.m, w))) << "n " << n << " w " << w;
    }
  }
}
#endif

// The op sequence is Adam (Kingma & Ba 2015, Alg. 1, with ε added to
// √v̂ as LibTorch does): compared with the formula in float64.
TEST(FlatUpdateTest, AdamIsAdam) {
  Buffers b = Random(1000, 7);
  const torch::Tensor p0 = b.p.to(torch::kFloat64), g = b.g.to(torch::kFloat64), m0 = b.m.to(torch::kFloat64),
                      v0 = b.v.to(torch::kFloat64);
  AdamUpdateRule r;
  r.lr = 1e-2;
  r.step = 4;
  r.weight_decay = 0.1;
  for (bool decoupled : {false, true}) {
    Buffers x = b.Clone();
    r.decoupled = decoupled;
    AdamUpdate(r, x.p, x.g, x.m, x.v);
    const torch::Tensor grad = decoupled ? g : g + r.weight_decay * p0;
    const torch::Tensor p = decoupled ? p0 * (1 - r.lr * r.weight_decay) : p0;
    const torch::Tensor m = r.beta1 * m0 + (1 - r.beta1) * grad, v = r.beta2 * v0 + (1 - r.beta2) * grad * grad;
    const torch::Tensor m_hat = m / (1 - std::pow(r.beta1, r.step)), v_hat = v / (1 - std::pow(r.beta2, r.step));
    const torch::Tensor expected = p - r.lr * m_hat / (v_hat.sqrt() + r.eps);
    EXPECT_TRUE(torch::allclose(x.m.to(torch::kFloat64), m, 1e-6, 1e-8))  // float rounding of g + wd·p ~ 0.1
        << (x.m.to(torch::kFloat64) - m).abs().max().item<double>() << " decoupled " << decoupled;
    EXPECT_TRUE(torch::allclose(x.v.to(torch::kFloat64), v, 1e-6, 1e-11));  // |v| ~ 1e-4
    EXPECT_TRUE(torch::allclose(x.p.to(torch::kFloat64), expected, 1e-6, 1e-7)) << "decoupled " << decoupled;
    EXPECT_FALSE(torch::equal(x.p, b.p));
  }
}

TEST(FlatUpdateTest, SgdAndLerpAreTheirFormulas) {
  Buffers b = Random(1000, 8);
  const torch::Tensor p0 = b.p.to(torch::kFloat64), g = b.g.to(torch::kFloat64), buf0 = b.m.to(torch::kFloat64);
  SgdUpdateRule r;
  r.lr = 0.1;
  r.momentum = 0.9;
  r.weight_decay = 0.01;
  r.first = false;
  Buffers x = b.Clone();
  SgdUpdate(r, x.p, x.g, x.m);
  const torch::Tensor d = g + r.weight_decay * p0, buf = r.momentum * buf0 + d;
  EXPECT_TRUE(torch::allclose(x.m.to(torch::kFloat64), buf, 1e-6, 1e-9));
  EXPECT_TRUE(torch::allclose(x.p.to(torch::kFloat64), p0 - r.lr * buf, 1e-6, 1e-9));
  torch::Tensor e = b.m.clone();
  LerpUpdate(e, b.p, 0.75);
  EXPECT_TRUE(torch::allclose(e.to(torch::kFloat64), 0.75 * buf0 + 0.25 * p0, 1e-6, 1e-9));
}

// Other dtypes (and devices) take LibTorch's op sequence.
TEST(FlatUpdateTest, Float64TakesTheOpSequence) {
  Buffers b = Random(257, 9);
  Buffers d{b.p.to(torch::kFloat64), b.g.to(torch::kFloat64), b.m.to(torch::kFloat64), b.v.to(torch::kFloat64)};
  Buffers ref{d.p.clone(), d.g.clone(), d.m.clone(), d.v.clone()};
  AdamUpdateRule r;
  r.step = 2;
  AdamUpdate(r, d.p, d.g, d.m, d.v);
  internal_flat::AdamOps(r, ref.p, ref.g, ref.m, ref.v);
  EXPECT_TRUE(torch::equal(d.p, ref.p) && torch::equal(d.m, ref.m) && torch::equal(d.v, ref.v));
  EXPECT_FALSE(torch::equal(d.p, b.p.to(torch::kFloat64)));
}

}  // namespace
}  // namespace training
}  // namespace diffmem
