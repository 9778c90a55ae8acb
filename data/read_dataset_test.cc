#include "data/read_dataset.h"

#include <filesystem>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/data_factors.h"
#include "data/idx.h"
#include "data/png.h"
#include "data/zip_dataset.h"
#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::data {
namespace {

namespace fs = std::filesystem;

std::string NewDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string CifarRecords(const std::vector<int>& labels) {
  std::string out;
  for (int l : labels) {
    out.push_back(static_cast<char>(l));
    out.append(3072, static_cast<char>(l * 20));
  }
  return out;
}

void ExpectSame(const Dataset& a, const Dataset& b) {
  ASSERT_EQ(a.images.sizes(), b.images.sizes());
  EXPECT_TRUE(torch::equal(a.images, b.images));
  ASSERT_EQ(a.has_labels(), b.has_labels());
  if (a.has_labels()) EXPECT_TRUE(torch::equal(a.labels, b.labels));
}

TEST(ReadDatasetTest, FashionMnistSpecs) {
  absl::StatusOr<Dataset> t10k = ReadDataset("fashion-mnist:t10k");
  ASSERT_TRUE(t10k.ok()) << t10k.status();
  EXPECT_EQ(t10k->size(), 10000);
  absl::StatusOr<Dataset> direct = ReadFashionMnist("t10k");
  ASSERT_TRUE(direct.ok());
  ExpectSame(*t10k, *direct);
  absl::StatusOr<Dataset> test = ReadDataset("fashion-mnist:test");
  ASSERT_TRUE(test.ok());
  EXPECT_EQ(test->size(), 10000);
  EXPECT_FALSE(ReadDataset("fashion-mnist:valid").ok());
  // An IDX pair, explicit or by path.
  const std::string dir = kFashionMnistDir;
  absl::StatusOr<Dataset> idx =
      ReadDataset(absl::StrCat("idx:", dir, "/t10k-images-idx3-ubyte.gz,", dir, "/t10k-labels-idx1-ubyte.gz"));
  ASSERT_TRUE(idx.ok()) << idx.status();
  ExpectSame(*idx, *direct);
  absl::StatusOr<Dataset> images_only = ReadDataset(dir + "/t10k-images-idx3-ubyte.gz");
  ASSERT_TRUE(images_only.ok()) << images_only.status();
  EXPECT_FALSE(images_only->has_labels());
  EXPECT_TRUE(torch::equal(images_only->images, direct->images));
}

TEST(ReadDatasetTest, PathsAndPrefixesPickTheReader) {
  const std::string root = NewDir("specs");
  // A zip.
  Dataset small;
  small.source = "small";
  small.images = torch::randint(0, 256, {6, 1, 4, 4}, torch::kUInt8);
  small.labels = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kInt64);
  small.num_classes = 3;
  ASSERT_TRUE(WriteEdmZip(root + "/small.zip", small).ok());
  for (const std::string& spec : {root + "/small.zip", "zip:" + root + "/small.zip"}) {
    absl::StatusOr<Dataset> ds = ReadDataset(spec);
    ASSERT_TRUE(ds.ok()) << spec << ": " << ds.status();
    ExpectSame(*ds, small);
  }
  // A PNG folder.
  const std::string pngs = root + "/pngs";
  fs::create_directories(pngs);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WritePng(absl::StrCat(pngs, "/", i, ".png"), small.images[i]).ok());
  for (const std::string& spec : {pngs, "png:" + pngs}) {
    absl::StatusOr<Dataset> ds = ReadDataset(spec);
    ASSERT_TRUE(ds.ok()) << spec << ": " << ds.status();
    EXPECT_TRUE(torch::equal(ds->images, small.images.narrow(0, 0, 3)));
  }
  // CIFAR-10: a directory (train or test), a file, with and without prefix.
  const std::string cifar = root + "/cifar-10-batches-bin";
  fs::create_directories(cifar);
  for (int b = 1; b <= 5; ++b) {
    ASSERT_TRUE(util::WriteFileAtomically(absl::StrCat(cifar, "/data_batch_", b, ".bin"), CifarRecords({b, b + 1})).ok());
  }
  ASSERT_TRUE(util::WriteFileAtomically(cifar + "/test_batch.bin", CifarRecords({9})).ok());
  struct Case {
    std::string spec;
    std::vector<int64_t> labels;
  };
  for (const Case& c : std::vector<Case>{{cifar, {1, 2, 2, 3, 3, 4, 4, 5, 5, 6}},
                                         {"cifar10:" + cifar, {1, 2, 2, 3, 3, 4, 4, 5, 5, 6}},
                                         {"cifar10:" + cifar + ":test", {9}},
                                         {cifar + "/data_batch_2.bin", {2, 3}},
                                         {"cifar10:" + cifar + "/test_batch.bin", {9}}}) {
    absl::StatusOr<Dataset> ds = ReadDataset(c.spec);
    ASSERT_TRUE(ds.ok()) << c.spec << ": " << ds.status();
    EXPECT_TRUE(torch::equal(ds->labels, torch::tensor(c.labels, torch::kInt64))) << c.spec;
    EXPECT_EQ(ds->images[0][2][31][31].item<uint8_t>(), c.labels[0] * 20) << c.spec;
  }
  const std::string only_test = root + "/only_test";
  fs::create_directories(only_test);
  ASSERT_TRUE(util::WriteFileAtomically(only_test + "/test_batch.bin", CifarRecords({3, 4})).ok());
  absl::StatusOr<Dataset> test = ReadDataset(only_test);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->size(), 2);
}

TEST(ReadDatasetTest, UnknownSpecsExplainTheGrammar) {
  for (const std::string& spec : {std::string(""), std::string("cifar10"), NewDir("x") + "/nothing-here",
                                  ::testing::TempDir() + "/plain.txt"}) {
    if (absl::EndsWith(spec, ".txt")) ASSERT_TRUE(util::WriteFileAtomically(spec, "hello").ok());
    absl::StatusOr<Dataset> ds = ReadDataset(spec);
    ASSERT_FALSE(ds.ok()) << spec;
    EXPECT_TRUE(absl::StrContains(ds.status().message(), "cifar10") ||
                absl::StrContains(ds.status().message(), "fashion-mnist"))
        << ds.status();
  }
}

TEST(DataFactorsTest, LoadDatasetAppliesTheStepsInOrder) {
  DataFactors f;
  f.n = 100;
  f.subset = "balanced";
  f.classes = 5;
  f.pad = 2;
  f.resolution = 16;
  f.labels = "random";
  f.label_classes = 3;
  f.seed = 9;
  absl::StatusOr<Dataset> ds = LoadDataset("fashion-mnist:t10k", f);
  ASSERT_TRUE(ds.ok()) << ds.status();
  // The same steps by hand.
  Dataset ref = *ReadFashionMnist("t10k");
  ref = *FirstClasses(ref, 5);
  ref = *ClassBalancedFirstN(ref, 100);
  ref = *PadImages(ref, 2);
  ref = *DownsampleByArea(ref, 16);
  ref = *WithRandomLabels(ref, 3, 10);
  ExpectSame(*ds, ref);
  EXPECT_EQ(ds->num_classes, 3);
  EXPECT_EQ(ds->images.sizes(), (std::vector<int64_t>{100, 1, 16, 16}));

  DataFactors mix;
  mix.n = 40;
  mix.mix_data = "fashion-mnist:train";
  mix.mix_fraction = 0.25;
  mix.labels = "unique";
  ds = LoadDataset("fashion-mnist:t10k", mix);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ref = *MixSources(*FirstN(*ReadFashionMnist("t10k"), 40), *ReadFashionMnist("train"), 0.25);
  EXPECT_TRUE(torch::equal(ds->images, ref.images));
  EXPECT_TRUE(torch::equal(ds->labels, torch::arange(40, torch::kInt64)));
}

TEST(DataFactorsTest, BadFactorsNameTheFlag) {
  struct Case {
    DataFactors f;
    std::string flag;
  };
  std::vector<Case> cases(8);
  cases[0].f.n = -1, cases[0].flag = "--n";
  cases[1].f.subset = "stratified", cases[1].flag = "--subset";
  cases[2].f.labels = "soft", cases[2].flag = "--labels";
  cases[3].f.labels = "random", cases[3].flag = "--label_classes";
  cases[4].f.mix_fraction = 0.5, cases[4].flag = "--mix_fraction";
  cases[5].f.resolution = -2, cases[5].flag = "--resolution";
  cases[6].f.classes = -1, cases[6].flag = "--classes";
  cases[7].f.pad = -1, cases[7].flag = "--pad";
  for (const Case& c : cases) {
    absl::Status s = ValidateDataFactors(c.f);
    ASSERT_FALSE(s.ok()) << c.flag;
    EXPECT_TRUE(absl::StartsWith(s.message(), c.flag)) << s;
  }
  DataFactors need_labels;
  need_labels.labels = "true";
  absl::StatusOr<Dataset> ds = LoadDataset(absl::StrCat(kFashionMnistDir, "/t10k-images-idx3-ubyte.gz"), need_labels);
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("no labels"), std::string::npos) << ds.status();
}

// The data block of a run's config.json round-trips, and a damaged one is an
// error naming the field.
TEST(DataFactorsTest, DataSourceJsonRoundTrips) {
  DataFactors f;
  f.n = 40;
  f.subset = "random";
  f.classes = 5;
  f.mix_data = "fashion-mnist:t10k";
  f.mix_fraction = 0.25;
  f.pad = 2;
  f.resolution = 8;
  f.labels = "random";
  f.label_classes = 3;
  f.seed = 7;
  const nlohmann::json j = DataSourceToJson("fashion-mnist", f);
  EXPECT_EQ(j["n"], 40);
  EXPECT_FALSE(j["factors"].contains("n"));  // n is the run's, the factors are the study's
  absl::StatusOr<std::pair<std::string, DataFactors>> back = DataSourceFromJson(j, "config.json: data");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->first, "fashion-mnist");
  EXPECT_EQ(DataSourceToJson(back->first, back->second), j);
  nlohmann::json bad = j;
  bad["factors"]["pad"] = "two";
  EXPECT_EQ(DataSourceFromJson(bad, "c").status().message(), "c: factors: field 'pad' must be an integer");
  bad = j;
  bad["factors"]["labels"] = "soft";
  EXPECT_NE(DataSourceFromJson(bad, "c").status().message().find("--labels: 'soft'"), std::string::npos);
  bad = j;
  bad.erase("factors");
  EXPECT_EQ(DataSourceFromJson(bad, "c").status().message(), "c: field 'factors' is missing");
}

}  // namespace
}  // namespace diffmem::data
