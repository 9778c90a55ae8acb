#include "memorization/distance.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/reference_distance.h"

namespace diffmem {
namespace memorization {
namespace {

double Ref(const std::string& metric, const std::vector<double>& a, const std::vector<double>& b) {
  return diffmem::reference::ReferenceDistance(metric, a.data(), b.data(), static_cast<int64_t>(a.size()));
}

static_assert(IsDistanceMetric<L2Distance>::value, "");
static_assert(IsDistanceMetric<SquaredL2Distance>::value, "");
static_assert(IsDistanceMetric<L1Distance>::value, "");
static_assert(IsDistanceMetric<CosineDistance>::value, "");
static_assert(IsDistanceMetric<LInfDistance>::value, "");
struct NotAMetric {
  static constexpr const char* kName = "nope";
};
static_assert(!IsDistanceMetric<NotAMetric>::value, "");
static_assert(!IsDistanceMetric<int>::value, "");

// Brute-force float64 distance between two rows, written out loop by loop.

std::vector<double> Row(const torch::Tensor& m, int64_t i) {
  torch::Tensor r = m[i].to(torch::kFloat64).contiguous();
  return std::vector<double>(r.data_ptr<double>(), r.data_ptr<double>() + r.numel());
}

template <class M>
class DistanceTest : public ::testing::Test {};
using Metrics = ::testing::Types<L2Distance, SquaredL2Distance, L1Distance, CosineDistance, LInfDistance>;
TYPED_TEST_SUITE(DistanceTest, Metrics);

TYPED_TEST(DistanceTest, PairwiseMatchesBruteForce) {
  using M = TypeParam;
  torch::manual_seed(1);
  // Image-shaped inputs, a duplicated row, and a zero row (cosine's edge case).
  torch::Tensor x = torch::randn({9, 3, 5, 7});
  torch::Tensor y = torch::randn({13, 3, 5, 7});
  y[4] = x[2];
  y[7] = y[4];
  y[10].zero_();
  torch::Tensor d = PairwiseDistances<M>(x, y);
  ASSERT_EQ(d.sizes(), (std::vector<int64_t>{9, 13}));
  ASSERT_EQ(d.scalar_type(), torch::kFloat32);
  torch::Tensor xr = x.reshape({9, -1}), yr = y.reshape({13, -1});
  for (int64_t i = 0; i < 9; ++i) {
    for (int64_t j = 0; j < 13; ++j) {
      double want = Ref(M::kName, Row(xr, i), Row(yr, j));
      double got = d[i][j].item<double>();
      // The GEMM identity errs by ~u·D·(‖x‖² + ‖y‖²) in the square, before any
      // root (a root near 0 magnifies it): compare L2 through its square.
      if (std::string(M::kName) == "l2") want *= want, got *= got;
      EXPECT_NEAR(got, want, 1e-4 * std::max(1.0, want)) << M::kName << " at " << i << "," << j;
    }
  }
}

TYPED_TEST(DistanceTest, ExactKeysMatchBruteForceToDoublePrecision) {
  using M = TypeParam;
  torch::manual_seed(2);
  torch::Tensor a = torch::randn({6, 50}), b = torch::randn({6, 50});
  b[3] = a[3];
  a[5].zero_();
  torch::Tensor e = M::KeyToDistance(ExactKeys<M>(a, b));
  ASSERT_EQ(e.scalar_type(), torch::kFloat64);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(e[i].item<double>(), Ref(M::kName, Row(a, i), Row(b, i)), 1e-12) << M::kName << " row " << i;
  }
  // The row kernel on its own, and equal rows give equal keys bit for bit.
  torch::Tensor ac = a.contiguous(), bc = b.contiguous();
  EXPECT_EQ(M::ExactKey(ac[1].data_ptr<float>(), bc[1].data_ptr<float>(), 50),
            ExactKeys<M>(a, b)[1].template item<double>());
  torch::Tensor twice = ExactKeys<M>(torch::stack({a[2], a[2]}), torch::stack({b[4], b[4]}));
  EXPECT_EQ(twice[0].item<double>(), twice[1].item<double>());
}

// ExactRowKeys (the tensor form used off the CPU) is the same float64
// arithmetic as ExactKey: equal up to the order of the additions.
TYPED_TEST(DistanceTest, ExactRowKeysMatchExactKey) {
  using M = TypeParam;
  torch::manual_seed(4);
  torch::Tensor a = torch::randn({9, 300}) * 4 + 1, b = torch::randn({9, 300}) * 4 + 1;
  b[3] = a[3];
  a[5].zero_();
  b[6].zero_();
  torch::Tensor rows = M::ExactRowKeys(a.to(torch::kFloat64), b.to(torch::kFloat64));
  ASSERT_EQ(rows.scalar_type(), torch::kFloat64);
  ASSERT_EQ(rows.sizes(), (std::vector<int64_t>{9}));
  torch::Tensor loop = ExactKeys<M>(a, b);  // CPU: the ExactKey loop
  for (int64_t i = 0; i < 9; ++i) {
    const double want = loop[i].item<double>();
    EXPECT_NEAR(rows[i].item<double>(), want, 1e-13 * std::max(1.0, std::abs(want))) << M::kName << " row " << i;
  }
  EXPECT_NEAR(M::KeyToDistance(rows)[3].template item<double>(), 0.0, 1e-14) << M::kName;  // equal rows
}

TYPED_TEST(DistanceTest, KeyLowerBoundHoldsForEveryPair) {
  using M = TypeParam;
  torch::manual_seed(3);
  // Large, offset values make the float32 GEMM identity lose digits.
  torch::Tensor q = torch::randn({20, 512}) * 3 + 5, r = torch::randn({40, 512}) * 3 + 5;
  torch::Tensor qs = M::RowStats(q), rs = M::RowStats(r);
  // RankKeys writes into a row-strided view, as the search's buffer does.
  torch::Tensor buffer = torch::full({20, 45}, -7.0f);
  M::RankKeys(buffer.narrow(1, 3, 40), q, qs, r, rs);
  EXPECT_TRUE((buffer.narrow(1, 0, 3) == -7).all().item<bool>());
  EXPECT_TRUE((buffer.narrow(1, 43, 2) == -7).all().item<bool>());
  torch::Tensor rank = buffer.narrow(1, 3, 40).to(torch::kFloat64);
  const double max_r = rs.defined() ? rs.max().item<double>() : 0.0;
  torch::Tensor exact = ExactKeys<M>(q.repeat_interleave(40, 0), r.repeat({20, 1})).view({20, 40});
  for (int64_t j = 0; j < 40; ++j) {
    torch::Tensor lower = M::KeyLowerBound(rank.select(1, j).contiguous(), qs, max_r, 512);
    EXPECT_TRUE((lower <= exact.select(1, j)).all().item<bool>()) << M::kName << " column " << j;
  }
}

TEST(DistanceKnownValuesTest, SmallVectors) {
  torch::Tensor a = torch::tensor({{0.f, 0.f}, {3.f, 4.f}});
  torch::Tensor b = torch::tensor({{3.f, 4.f}, {-1.f, 0.f}});
  torch::Tensor l2 = PairwiseDistances<L2Distance>(a, b);
  EXPECT_FLOAT_EQ(l2[0][0].item<float>(), 5);
  EXPECT_FLOAT_EQ(l2[1][0].item<float>(), 0);
  EXPECT_FLOAT_EQ(l2[0][1].item<float>(), 1);
  EXPECT_FLOAT_EQ(PairwiseDistances<SquaredL2Distance>(a, b)[1][1].item<float>(), 32);
  EXPECT_FLOAT_EQ(PairwiseDistances<L1Distance>(a, b)[1][1].item<float>(), 8);
  EXPECT_FLOAT_EQ(PairwiseDistances<LInfDistance>(a, b)[1][1].item<float>(), 4);
  EXPECT_NEAR(PairwiseDistances<CosineDistance>(a, b)[1][1].item<float>(), 1.6, 1e-6);  // 1 − (−3/5)
  EXPECT_FLOAT_EQ(PairwiseDistances<CosineDistance>(a, b)[0][0].item<float>(), 1);     // zero vector
}

}  // namespace
}  // namespace memorization
}  // namespace diffmem
