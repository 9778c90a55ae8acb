#include "data/subsets.h"

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "data/idx.h"
#include "gtest/gtest.h"

namespace diffmem::data {
namespace {

const Dataset& FashionTest() {
  static const Dataset* ds = [] {
    absl::StatusOr<Dataset> d = ReadFashionMnist("t10k");
    if (!d.ok()) {
      ADD_FAILURE() << d.status();
      return new Dataset();
    }
    return new Dataset(*std::move(d));
  }();
  return *ds;
}

// N images whose pixels spell their own index, so a subset shows which it kept.
Dataset Indexed(int64_t n) {
  Dataset ds;
  ds.source = "indexed";
  ds.images = torch::empty({n, 1, 1, 2}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    ds.images[i][0][0][0] = i % 256;
    ds.images[i][0][0][1] = i / 256;
  }
  return ds;
}

std::vector<int64_t> IndicesOf(const Dataset& ds) {
  std::vector<int64_t> out;
  auto a = ds.images.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < ds.size(); ++i) out.push_back(a[i][0][0][0] + 256 * a[i][0][0][1]);
  return out;
}

TEST(SubsetsTest, ClassBalancedFirstNTakesTheFirstImagesOfEachClass) {
  const Dataset& fm = FashionTest();
  ASSERT_EQ(fm.size(), 10000);
  absl::StatusOr<Dataset> sub = ClassBalancedFirstN(fm, 1000);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_EQ(sub->size(), 1000);
  EXPECT_EQ(sub->num_classes, 10);
  // Brute force: walk the data set, take each class's first 100 images.
  auto labels = fm.labels.accessor<int64_t, 1>();
  for (int64_t k = 0; k < 10; ++k) {
    int64_t taken = 0;
    for (int64_t i = 0; i < fm.size() && taken < 100; ++i) {
      if (labels[i] != k) continue;
      const int64_t j = k * 100 + taken++;
      EXPECT_EQ(sub->labels[j].item<int64_t>(), k);
      ASSERT_TRUE(torch::equal(sub->images[j], fm.images[i])) << "class " << k << " image " << taken;
    }
  }
  // Balance holds for every N that divides: counts per class are equal.
  absl::StatusOr<Dataset> small = ClassBalancedFirstN(fm, 50);
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(torch::equal(torch::bincount(small->labels), torch::full({10}, 5, torch::kInt64)));
}

TEST(SubsetsTest, ClassBalancedErrors) {
  const Dataset& fm = FashionTest();
  absl::StatusOr<Dataset> r = ClassBalancedFirstN(fm, 1005);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("multiple of the class count 10"), std::string::npos) << r.status();
  r = ClassBalancedFirstN(fm, 10010);  // t10k has 1000 images per class
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("class 0 has only 1000"), std::string::npos) << r.status();
  EXPECT_FALSE(ClassBalancedFirstN(Indexed(10), 10).ok());  // no labels
}

TEST(SubsetsTest, RandomSubsetIsSeededDistinctAndInDataOrder) {
  const Dataset ds = Indexed(5000);
  absl::StatusOr<Dataset> a = RandomSubset(ds, 300, 7), b = RandomSubset(ds, 300, 7), c = RandomSubset(ds, 300, 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::vector<int64_t> ia = IndicesOf(*a), ib = IndicesOf(*b), ic = IndicesOf(*c);
  EXPECT_EQ(ia, ib);
  EXPECT_NE(ia, ic);
  EXPECT_EQ(std::set<int64_t>(ia.begin(), ia.end()).size(), 300u);
  EXPECT_TRUE(std::is_sorted(ia.begin(), ia.end()));
  // Every image equally likely: over 2000 seeds of n = 1 from 10, a chi-square
  // statistic far below its 1e-6 tail (≈ 41 for 9 degrees of freedom).
  const Dataset ten = Indexed(10);
  std::vector<int> counts(10, 0);
  for (uint64_t seed = 0; seed < 2000; ++seed) ++counts[IndicesOf(*RandomSubset(ten, 1, seed))[0]];
  double chi2 = 0;
  for (int k : counts) chi2 += (k - 200.0) * (k - 200.0) / 200.0;
  EXPECT_LT(chi2, 41.0);
  EXPECT_FALSE(RandomSubset(ds, 5001, 0).ok());
  EXPECT_FALSE(RandomSubset(ds, 0, 0).ok());
}

TEST(SubsetsTest, UniformBelowIsUnbiasedForAwkwardBounds) {
  std::mt19937_64 rng(3);
  const uint64_t n = (uint64_t{1} << 63) + 1;  // rejects almost half the draws
  int upper = 0;
  for (int i = 0; i < 4000; ++i) {
    const uint64_t x = UniformBelow(rng, n);
    ASSERT_LT(x, n);
    upper += x >= n / 2;
  }
  EXPECT_NEAR(upper / 4000.0, 0.5, 0.05);  // modulo reduction would give ≈ 0.25
  std::mt19937_64 a(11), b(11);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(UniformBelow(a, 7), UniformBelow(b, 7));
}

TEST(SubsetsTest, FirstClassesKeepsOnlyThoseClassesInOrder) {
  const Dataset& fm = FashionTest();
  absl::StatusOr<Dataset> sub = FirstClasses(fm, 3);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->num_classes, 3);
  EXPECT_EQ(sub->size(), 3000);
  torch::Tensor mask = fm.labels.lt(3);
  EXPECT_TRUE(torch::equal(sub->labels, fm.labels.masked_select(mask)));
  EXPECT_TRUE(torch::equal(sub->images, fm.images.index_select(0, mask.nonzero().squeeze(1))));
  EXPECT_TRUE(ValidateDataset(*sub).ok());
  absl::StatusOr<Dataset> balanced = ClassBalancedFirstN(*sub, 30);
  ASSERT_TRUE(balanced.ok());
  EXPECT_TRUE(torch::equal(torch::bincount(balanced->labels), torch::full({3}, 10, torch::kInt64)));
  EXPECT_FALSE(FirstClasses(fm, 11).ok());
  EXPECT_FALSE(FirstClasses(fm, 0).ok());
}

TEST(SubsetsTest, MixTakesTheRoundedFractionFromTheSecondSource) {
  const Dataset& fm = FashionTest();
  Dataset other;
  other.source = "other";
  other.images = torch::full({600, 1, 28, 28}, 7, torch::kUInt8);
  other.images.select(1, 0).select(1, 0).select(1, 0).copy_(torch::arange(600) % 256);
  for (double alpha : {0.0, 0.1, 0.25, 0.333, 0.5, 1.0}) {
    absl::StatusOr<Dataset> mix = MixSources(fm, other, alpha, 600);
    ASSERT_TRUE(mix.ok()) << mix.status();
    const int64_t from_other = std::llround(alpha * 600);
    ASSERT_EQ(mix->size(), 600);
    // The first 600 − k images are the base's first, the rest the other's first.
    EXPECT_TRUE(torch::equal(mix->images.narrow(0, 0, 600 - from_other), fm.images.narrow(0, 0, 600 - from_other)));
    EXPECT_TRUE(torch::equal(mix->images.narrow(0, 600 - from_other, from_other),
                             other.images.narrow(0, 0, from_other)));
    EXPECT_FALSE(mix->has_labels());  // `other` has none
  }
  absl::StatusOr<Dataset> labeled = MixSources(fm, fm, 0.5, 100);
  ASSERT_TRUE(labeled.ok());
  EXPECT_TRUE(labeled->has_labels());
  Dataset small = Indexed(10);
  absl::StatusOr<Dataset> bad = MixSources(fm, small, 0.5, 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("must match"), std::string::npos) << bad.status();
  EXPECT_FALSE(MixSources(fm, other, 0.5, 2000).ok());  // other has 600 < 1000
  EXPECT_FALSE(MixSources(fm, other, 1.5, 10).ok());
}

// Brute-force mean of each block in double precision, rounded half up.
torch::Tensor BruteForceArea(const torch::Tensor& images, int64_t out) {
  const int64_t n = images.size(0), c = images.size(1), f = images.size(2) / out;
  torch::Tensor r = torch::empty({n, c, out, out}, torch::kUInt8);
  auto in = images.accessor<uint8_t, 4>();
  auto o = r.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < out; ++y)
        for (int64_t x = 0; x < out; ++x) {
          double sum = 0;
          for (int64_t dy = 0; dy < f; ++dy)
            for (int64_t dx = 0; dx < f; ++dx) sum += in[i][ch][y * f + dy][x * f + dx];
          o[i][ch][y][x] = static_cast<uint8_t>(std::floor(sum / (f * f) + 0.5));
        }
  return r;
}

TEST(SubsetsTest, AreaAveragingMatchesABruteForceLoop) {
  const Dataset& fm = FashionTest();
  Dataset first = *FirstN(fm, 200);
  for (int64_t res : {28, 14, 7, 4, 2, 1}) {
    absl::StatusOr<Dataset> low = DownsampleByArea(first, res);
    ASSERT_TRUE(low.ok()) << low.status();
    ASSERT_EQ(low->images.sizes(), (std::vector<int64_t>{200, 1, res, res}));
    EXPECT_TRUE(torch::equal(low->images, BruteForceArea(first.images, res))) << res;
    EXPECT_TRUE(torch::equal(low->labels, first.labels));
  }
  // Colour images and ties (.5 rounds up): a 2×2 block {0, 0, 1, 2} → 0.75 → 1, {0, 0, 0, 2} → 0.5 → 1.
  torch::Tensor rgb = torch::randint(0, 256, {3, 3, 12, 12}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(*DownsampleByArea(rgb, 4, 4), BruteForceArea(rgb, 4)));
  torch::Tensor tie = torch::tensor({0, 0, 0, 2}, torch::kUInt8).reshape({1, 1, 2, 2});
  EXPECT_EQ((*DownsampleByArea(tie, 1, 1)).item<uint8_t>(), 1);
  absl::StatusOr<Dataset> bad = DownsampleByArea(first, 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("integer factor"), std::string::npos) << bad.status();
  EXPECT_FALSE(DownsampleByArea(first, 56).ok());
}

TEST(SubsetsTest, PaddingAddsAZeroBorder) {
  const Dataset first = *FirstN(FashionTest(), 20);
  absl::StatusOr<Dataset> padded = PadImages(first, 2);
  ASSERT_TRUE(padded.ok());
  ASSERT_EQ(padded->images.sizes(), (std::vector<int64_t>{20, 1, 32, 32}));
  auto in = first.images.accessor<uint8_t, 4>();
  auto out = padded->images.accessor<uint8_t, 4>();
  int wrong = 0;
  for (int i = 0; i < 20; ++i)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        const bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        wrong += out[i][0][y][x] != (inside ? in[i][0][y - 2][x - 2] : 0);
      }
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(torch::equal(padded->labels, first.labels));
  EXPECT_TRUE(DownsampleByArea(*padded, 16).ok());  // 32 halves; 28 would not go to 16
  EXPECT_FALSE(DownsampleByArea(first, 16).ok());
  EXPECT_FALSE(PadImages(first, -1).ok());
}

TEST(SubsetsTest, RandomLabelsHaveTheRequestedClassCount) {
  const Dataset first = *FirstN(FashionTest(), 1000);
  absl::StatusOr<Dataset> a = WithRandomLabels(first, 7, 42), b = WithRandomLabels(first, 7, 42),
                          c = WithRandomLabels(first, 7, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->num_classes, 7);
  EXPECT_TRUE(torch::equal(a->labels, b->labels));
  EXPECT_FALSE(torch::equal(a->labels, c->labels));
  torch::Tensor counts = torch::bincount(a->labels);
  ASSERT_EQ(counts.size(0), 7);                                     // max label is 6
  EXPECT_GT(counts.min().item<int64_t>(), 100);                     // ≈ 143 each; all classes drawn
  EXPECT_TRUE(torch::equal(a->images, first.images));
  EXPECT_TRUE(ValidateDataset(*a).ok());
  EXPECT_FALSE(WithRandomLabels(first, 0, 1).ok());
  // A single class is allowed (every label 0), as is C > N.
  EXPECT_EQ(WithRandomLabels(first, 1, 0)->labels.max().item<int64_t>(), 0);
  EXPECT_EQ(WithRandomLabels(*FirstN(first, 5), 1000, 0)->num_classes, 1000);
}

TEST(SubsetsTest, UniqueLabelsAreTheIdentityAndOtherSchemes) {
  const Dataset first = *FirstN(FashionTest(), 321);
  Dataset unique = WithUniqueLabels(first);
  EXPECT_EQ(unique.num_classes, 321);
  auto l = unique.labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < 321; ++i) ASSERT_EQ(l[i], i);
  EXPECT_TRUE(torch::equal(unique.images, first.images));
  EXPECT_TRUE(ValidateDataset(unique).ok());
  Dataset none = WithoutLabels(first);
  EXPECT_FALSE(none.has_labels());
  EXPECT_EQ(none.num_classes, 0);
  EXPECT_TRUE(RequireLabels(first).ok());
  EXPECT_FALSE(RequireLabels(none).ok());
}

}  // namespace
}  // namespace diffmem::data
