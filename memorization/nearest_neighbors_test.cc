#include "memorization/nearest_neighbors.h"

#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "memorization/distance.h"
#include "testing/reference_distance.h"

namespace diffmem {
namespace memorization {
namespace {

// Brute-force float64 reference: every distance written out loop by loop,
// sorted by (distance, index).

struct Expected {
  std::vector<std::vector<double>> distances;
  std::vector<std::vector<int64_t>> indices;
};

Expected BruteForce(const std::string& metric, const torch::Tensor& queries, const torch::Tensor& refs, int64_t k) {
  torch::Tensor q = queries.reshape({queries.size(0), -1}).to(torch::kFloat64).contiguous();
  torch::Tensor r = refs.reshape({refs.size(0), -1}).to(torch::kFloat64).contiguous();
  const int64_t dim = q.size(1);
  Expected e;
  for (int64_t i = 0; i < q.size(0); ++i) {
    std::vector<std::pair<double, int64_t>> all;
    for (int64_t j = 0; j < r.size(0); ++j) {
      all.emplace_back(diffmem::reference::ReferenceDistance(metric, q.data_ptr<double>() + i * dim, r.data_ptr<double>() + j * dim, dim), j);
    }
    std::sort(all.begin(), all.end());
    e.distances.emplace_back();
    e.indices.emplace_back();
    for (int64_t t = 0; t < k; ++t) {
      e.distances.back().push_back(all[t].first);
      e.indices.back().push_back(all[t].second);
    }
  }
  return e;
}

template <class M>
void ExpectMatches(const torch::Tensor& queries, const torch::Tensor& refs, const NearestNeighborsOptions& o) {
  Neighbors got = NearestNeighbors<M>(refs).Search(queries, o);
  Expected want = BruteForce(M::kName, queries, refs, o.k);
  ASSERT_EQ(got.distances.sizes(), (std::vector<int64_t>{queries.size(0), o.k}));
  ASSERT_EQ(got.indices.sizes(), (std::vector<int64_t>{queries.size(0), o.k}));
  ASSERT_EQ(got.distances.scalar_type(), torch::kFloat64);
  for (int64_t i = 0; i < queries.size(0); ++i) {
    for (int64_t t = 0; t < o.k; ++t) {
      EXPECT_EQ(got.indices[i][t].item<int64_t>(), want.indices[i][t]) << M::kName << " query " << i << " rank " << t;
      EXPECT_NEAR(got.distances[i][t].item<double>(), want.distances[i][t], 1e-12 * std::max(1.0, want.distances[i][t]))
          << M::kName << " query " << i << " rank " << t;
    }
  }
}

template <class M>
class NearestNeighborsTest : public ::testing::Test {};
using Metrics = ::testing::Types<L2Distance, SquaredL2Distance, L1Distance, CosineDistance, LInfDistance>;
TYPED_TEST_SUITE(NearestNeighborsTest, Metrics);

NearestNeighborsOptions SmallBlocks(int64_t k) {
  NearestNeighborsOptions o;
  o.k = k;
  o.query_block = 7;       // several query blocks, the last one partial
  o.reference_block = 33;  // several reference blocks, the last one partial
  o.candidates = k + 1;    // few candidates: ties force the widening pass
  return o;
}

TYPED_TEST(NearestNeighborsTest, ContinuousDataMatchesBruteForce) {
  torch::manual_seed(10);
  torch::Tensor refs = torch::randn({300, 2, 4, 4});
  torch::Tensor queries = torch::randn({40, 2, 4, 4});
  // Some queries are near-copies of references.
  queries.narrow(0, 0, 10).copy_(refs.narrow(0, 50, 10) + 0.01 * torch::randn({10, 2, 4, 4}));
  for (int64_t k : {1, 2, 5}) {
    ExpectMatches<TypeParam>(queries, refs, SmallBlocks(k));
    NearestNeighborsOptions defaults;
    defaults.k = k;
    ExpectMatches<TypeParam>(queries, refs, defaults);
  }
}

TYPED_TEST(NearestNeighborsTest, TiesAndDuplicatesGoToTheLowerIndex) {
  torch::manual_seed(11);
  // Small integers: many exactly equal distances; duplicated reference rows;
  // queries equal to references (distance 0, twice for duplicated ones).
  torch::Tensor refs = torch::randint(-1, 2, {200, 12}).to(torch::kFloat32);
  refs.narrow(0, 100, 20).copy_(refs.narrow(0, 10, 20));
  refs.narrow(0, 150, 5).copy_(refs[3].expand({5, 12}));
  torch::Tensor queries = torch::randint(-1, 2, {30, 12}).to(torch::kFloat32);
  queries.narrow(0, 0, 5).copy_(refs.narrow(0, 10, 5));
  queries[5] = refs[3];
  for (int64_t k : {1, 2, 4}) {
    ExpectMatches<TypeParam>(queries, refs, SmallBlocks(k));
    NearestNeighborsOptions defaults;
    defaults.k = k;
    ExpectMatches<TypeParam>(queries, refs, defaults);
  }
}

TEST(NearestNeighborsL2Test, NearTiesBeyondFloat32AreOrderedExactly) {
  torch::manual_seed(12);
  // Large offset norms (like images in [0, 255]) and pairs of references
  // differing by far less than the GEMM identity's float32 error.
  torch::Tensor base = torch::rand({64, 768}) * 255;
  torch::Tensor refs = torch::cat({base, base + 1e-3 * torch::randn({64, 768})}, 0);
  torch::Tensor queries = base.narrow(0, 0, 32) + 0.5 * torch::randn({32, 768});
  NearestNeighborsOptions o;
  o.k = 2;
  ExpectMatches<L2Distance>(queries, refs, o);
  o.candidates = 2;
  o.reference_block = 40;
  ExpectMatches<L2Distance>(queries, refs, o);
}

TEST(NearestNeighborsL2Test, AllReferencesEqual) {
  torch::Tensor refs = torch::ones({50, 3}) * 2;
  torch::Tensor queries = torch::zeros({4, 3});
  NearestNeighborsOptions o;
  o.k = 3;
  o.candidates = 3;
  o.reference_block = 16;
  Neighbors nn = NearestNeighbors<L2Distance>(refs).Search(queries, o);
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t t = 0; t < 3; ++t) {
      EXPECT_EQ(nn.indices[i][t].item<int64_t>(), t);
      EXPECT_DOUBLE_EQ(nn.distances[i][t].item<double>(), std::sqrt(12.0));
    }
  }
}

TEST(NearestNeighborsL2Test, UInt8ImagesAndOneShotForm) {
  torch::manual_seed(13);
  torch::Tensor refs = torch::randint(0, 256, {120, 1, 6, 6}).to(torch::kUInt8);
  torch::Tensor queries = refs.narrow(0, 40, 8).clone();
  Neighbors nn = FindNearestNeighbors<L2Distance>(queries, refs);
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_EQ(nn.indices[i][0].item<int64_t>(), 40 + i);
    EXPECT_EQ(nn.distances[i][0].item<double>(), 0.0);
    EXPECT_GT(nn.distances[i][1].item<double>(), 0.0);
  }
}

// The re-ranking that the search uses off the CPU, checked here on the CPU
// against the float64 brute force, with chunks small enough to split rows.
TYPED_TEST(NearestNeighborsTest, GatheredExactKeysMatchBruteForceInEveryChunking) {
  using M = TypeParam;
  torch::manual_seed(14);
  torch::Tensor refs = torch::randn({40, 24}) * 2, q = torch::randn({11, 24});
  q[2] = refs[7];
  torch::Tensor cand = torch::randint(0, 40, {11, 5}, torch::kInt64);
  cand[2][3] = 7;
  for (int64_t max_values : {int64_t{1}, int64_t{5 * 24}, int64_t{3 * 5 * 24 + 1}, int64_t{8} << 20}) {
    torch::Tensor keys = internal_nearest_neighbors::GatheredExactKeys<M>(q, refs, cand, max_values);
    ASSERT_EQ(keys.sizes(), (std::vector<int64_t>{11, 5}));
    torch::Tensor d = M::KeyToDistance(keys).contiguous();
    torch::Tensor q64 = q.to(torch::kFloat64).contiguous(), r64 = refs.to(torch::kFloat64).contiguous();
    for (int64_t i = 0; i < 11; ++i) {
      for (int64_t t = 0; t < 5; ++t) {
        const int64_t j = cand[i][t].item<int64_t>();
        const double want =
            diffmem::reference::ReferenceDistance(M::kName, q64[i].data_ptr<double>(), r64[j].data_ptr<double>(), 24);
        EXPECT_NEAR(d[i][t].item<double>(), want, 1e-12 * std::max(1.0, want))
            << M::kName << " row " << i << " candidate " << t << " max_values " << max_values;
      }
    }
    EXPECT_EQ(d[2][3].item<double>(), 0.0) << M::kName;
  }
}

TEST(NearestNeighborsL2Test, RejectsBadArguments) {
  NearestNeighbors<L2Distance> index(torch::zeros({3, 4}));
  NearestNeighborsOptions o;
  o.k = 4;
  EXPECT_THROW(index.Search(torch::zeros({1, 4}), o), c10::Error);
  EXPECT_THROW(index.Search(torch::zeros({1, 5})), c10::Error);
}

}  // namespace
}  // namespace memorization
}  // namespace diffmem
