#include "data/zip_dataset.h"

#include <sys/stat.h>
#include <zip.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/idx.h"
#include "data/png.h"
#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::data {
namespace {

// Builds a zip (stored or deflated entries, in the given order) with libzip
// directly, independently of the writer under test.
std::string MakeZip(const std::vector<std::pair<std::string, std::string>>& entries, bool deflate = false) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* buf = zip_source_buffer_create(nullptr, 0, 0, &err);
  zip_source_keep(buf);
  zip_t* za = zip_open_from_source(buf, ZIP_TRUNCATE, &err);
  EXPECT_NE(za, nullptr);
  for (const auto& [name, data] : entries) {
    zip_source_t* s = zip_source_buffer(za, data.data(), data.size(), 0);
    const zip_int64_t i = zip_file_add(za, name.c_str(), s, 0);
    EXPECT_GE(i, 0);
    zip_set_file_compression(za, i, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  }
  EXPECT_EQ(zip_close(za), 0);
  zip_stat_t st;
  zip_source_stat(buf, &st);
  zip_source_open(buf);
  std::string out(st.size, '\0');
  zip_source_read(buf, out.data(), st.size);
  zip_source_close(buf);
  zip_source_free(buf);
  return out;
}

std::vector<std::string> EntryNames(const std::string& zip_bytes) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(zip_bytes.data(), zip_bytes.size(), 0, &err);
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
  std::vector<std::string> names;
  for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); ++i) names.push_back(zip_get_name(za, i, 0));
  zip_discard(za);
  return names;
}

std::string Png(const torch::Tensor& chw) {
  absl::StatusOr<std::string> b = EncodePng(chw);
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

Dataset RandomRgb(int64_t n, int64_t num_classes, bool labeled) {
  Dataset ds;
  ds.source = "random rgb";
  ds.images = torch::randint(0, 256, {n, 3, 5, 7}, torch::kUInt8);
  if (labeled) {
    ds.labels = torch::randint(0, num_classes - 1, {n}, torch::kInt64);  // top class never drawn
    ds.num_classes = num_classes;
  }
  return ds;
}

void ExpectSameDataset(const Dataset& a, const Dataset& b) {
  ASSERT_EQ(a.images.sizes(), b.images.sizes());
  EXPECT_TRUE(torch::equal(a.images, b.images));
  ASSERT_EQ(a.has_labels(), b.has_labels());
  if (a.has_labels()) {
    EXPECT_TRUE(torch::equal(a.labels, b.labels));
    EXPECT_EQ(a.num_classes, b.num_classes);
  }
}

TEST(ZipDatasetTest, EdmImageNamesFollowTheDatasetToolLayout) {
  EXPECT_EQ(EdmImageName(0), "00000/img00000000.png");
  EXPECT_EQ(EdmImageName(999), "00000/img00000999.png");
  EXPECT_EQ(EdmImageName(1000), "00001/img00001000.png");
  EXPECT_EQ(EdmImageName(12345), "00012/img00012345.png");
  EXPECT_EQ(EdmImageName(59999), "00059/img00059999.png");
}

TEST(ZipDatasetTest, RoundTripsFashionMnistThroughAFile) {
  absl::StatusOr<Dataset> fm = ReadFashionMnist("t10k");
  ASSERT_TRUE(fm.ok()) << fm.status();
  Dataset ds = *fm;
  ds.images = ds.images.narrow(0, 0, 1500).contiguous();
  ds.labels = ds.labels.narrow(0, 0, 1500).contiguous();
  const std::string path = TempPath("fm1500.zip");
  ASSERT_TRUE(WriteEdmZip(path, ds).ok());
  absl::StatusOr<Dataset> back = ReadZipDataset(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameDataset(ds, *back);
  EXPECT_EQ(back->source, path);

  // The layout EDM's loader expects: image names, then dataset.json with one
  // [name, label] pair per image.
  absl::StatusOr<std::string> bytes = util::ReadFileToString(path);
  ASSERT_TRUE(bytes.ok());
  std::vector<std::string> names = EntryNames(*bytes);
  ASSERT_EQ(names.size(), 1501u);
  EXPECT_EQ(names[0], "00000/img00000000.png");
  EXPECT_EQ(names[1000], "00001/img00001000.png");
  EXPECT_EQ(names[1500], "dataset.json");
  absl::StatusOr<Dataset> from_memory = ReadZipDatasetFromMemory(*bytes, "in-memory.zip");
  ASSERT_TRUE(from_memory.ok()) << from_memory.status();
  ExpectSameDataset(ds, *from_memory);
}

TEST(ZipDatasetTest, JsonHoldsEveryLabelByName) {
  Dataset ds = RandomRgb(30, 6, true);
  absl::StatusOr<std::string> bytes = EncodeEdmZip(ds);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<Dataset> back = ReadZipDatasetFromMemory(*bytes, "x.zip");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameDataset(ds, *back);  // includes num_classes 6 although label 5 never occurs
  // Read dataset.json through an independent path (libzip + nlohmann).
  zip_error_t err;
  zip_error_init(&err);
  zip_t* za = zip_open_from_source(zip_source_buffer_create(bytes->data(), bytes->size(), 0, &err), ZIP_RDONLY, &err);
  ASSERT_NE(za, nullptr);
  zip_stat_t st;
  ASSERT_EQ(zip_stat(za, "dataset.json", 0, &st), 0);
  std::string text(st.size, '\0');
  zip_file_t* f = zip_fopen(za, "dataset.json", 0);
  ASSERT_EQ(zip_fread(f, text.data(), st.size), static_cast<zip_int64_t>(st.size));
  zip_fclose(f);
  zip_discard(za);
  nlohmann::json doc = nlohmann::json::parse(text);
  ASSERT_EQ(doc["labels"].size(), 30u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(doc["labels"][i][0].get<std::string>(), EdmImageName(i));
    EXPECT_EQ(doc["labels"][i][1].get<int64_t>(), ds.labels[i].item<int64_t>());
  }
}

TEST(ZipDatasetTest, UnlabeledRoundTripAndDeterministicBytes) {
  Dataset ds = RandomRgb(12, 0, false);
  absl::StatusOr<std::string> a = EncodeEdmZip(ds), b = EncodeEdmZip(ds);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  absl::StatusOr<Dataset> back = ReadZipDatasetFromMemory(*a, "u.zip");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameDataset(ds, *back);
  EXPECT_FALSE(back->has_labels());
}

TEST(ZipDatasetTest, ReadsForeignZipsSortedByNameWithDeflatedEntries) {
  // Entries out of order, in folders, deflated, with a folder entry and a
  // non-image file, as zips made by other tools may be.
  torch::Tensor a = torch::full({1, 4, 4}, 10, torch::kUInt8), b = torch::full({1, 4, 4}, 20, torch::kUInt8),
                c = torch::full({1, 4, 4}, 30, torch::kUInt8);
  const std::string zip = MakeZip({{"z/c.png", Png(c)},
                                   {"readme.txt", "hello"},
                                   {"a.png", Png(a)},
                                   {"dataset.json", R"({"labels": [["z/c.png", 2], ["a.png", 0], ["b/b.PNG", 1]]})"},
                                   {"b/", ""},
                                   {"__MACOSX/b/._b.PNG", "AppleDouble"},
                                   {"b/._c.png", "AppleDouble"},
                                   {"b/b.PNG", Png(b)}},
                                  /*deflate=*/true);
  absl::StatusOr<Dataset> ds = ReadZipDatasetFromMemory(zip, "foreign.zip");
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->size(), 3);
  EXPECT_TRUE(torch::equal(ds->images[0], a));  // "a.png" < "b/b.PNG" < "z/c.png"
  EXPECT_TRUE(torch::equal(ds->images[1], b));
  EXPECT_TRUE(torch::equal(ds->images[2], c));
  EXPECT_TRUE(torch::equal(ds->labels, torch::tensor({0, 1, 2}, torch::kInt64)));
  EXPECT_EQ(ds->num_classes, 3);
}

void ExpectZipError(const std::string& zip, const std::vector<std::string>& fragments) {
  absl::StatusOr<Dataset> ds = ReadZipDatasetFromMemory(zip, "bad.zip");
  ASSERT_FALSE(ds.ok());
  for (const std::string& f : fragments) {
    EXPECT_NE(ds.status().message().find(f), std::string::npos) << "missing '" << f << "' in " << ds.status();
  }
}

TEST(ZipDatasetTest, BadArchivesGiveErrorsNamingTheEntry) {
  const std::string g8 = Png(torch::zeros({1, 8, 8}, torch::kUInt8));
  // Not a zip at all, and a real zip cut short.
  ExpectZipError("this is not a zip archive, just text", {"bad.zip", "cannot open zip"});
  const std::string good = MakeZip({{"00000/img00000000.png", g8}, {"00000/img00000001.png", g8}});
  ExpectZipError(good.substr(0, good.size() / 2), {"bad.zip", "cannot open zip"});
  // A damaged byte inside a stored PNG: the CRC check names the entry.
  std::string damaged = good;
  const size_t at = damaged.find(g8.substr(16, 16));
  ASSERT_NE(at, std::string::npos);
  damaged[at + 3] ^= 0x5a;
  ExpectZipError(damaged, {"bad.zip:00000/img00000000.png"});
  // An image of another size, and one with another channel count.
  ExpectZipError(MakeZip({{"00000/img00000000.png", g8}, {"00000/img00000001.png", Png(torch::zeros({1, 8, 9}, torch::kUInt8))}}),
                 {"bad.zip:00000/img00000001.png", "1x8x9", "expected 1x8x8"});
  ExpectZipError(MakeZip({{"00000/img00000000.png", g8}, {"00000/img00000001.png", Png(torch::zeros({3, 8, 8}, torch::kUInt8))}}),
                 {"bad.zip:00000/img00000001.png", "3x8x8", "expected 1x8x8"});
  // An entry that is not a PNG inside.
  ExpectZipError(MakeZip({{"00000/img00000000.png", "GIF89a...."}}), {"bad.zip:00000/img00000000.png", "not a PNG"});
  ExpectZipError(MakeZip({{"x.jpg", "jpeg"}}), {"bad.zip:x.jpg", "only PNG"});
  ExpectZipError(MakeZip({{"notes.txt", "no images here"}}), {"bad.zip", "no PNG images"});
  // dataset.json naming a missing file, missing a label, malformed, out of range.
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0], ["gone.png", 1]]})"}}),
                 {"bad.zip:dataset.json", "gone.png"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"b.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0]]})"}}),
                 {"bad.zip:dataset.json", "no label", "b.png"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0]})"}}),
                 {"bad.zip:dataset.json", "malformed JSON"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", -1]]})"}}),
                 {"bad.zip:dataset.json", "a.png", "out of range"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0.5]]})"}}),
                 {"bad.zip:dataset.json", "a.png", "out of range"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 4]], "num_classes": 4})"}}),
                 {"bad.zip:dataset.json", "a.png", "out of range", "num_classes 4"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0], ["a.png", 0]]})"}}),
                 {"bad.zip:dataset.json", "a.png", "twice"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": ["a.png"]})"}}),
                 {"bad.zip:dataset.json", "labels[0]"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"([1, 2])"}}), {"bad.zip:dataset.json", "\"labels\""});
  // A missing file on disk.
  absl::StatusOr<Dataset> missing = ReadZipDataset(TempPath("no_such.zip"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(missing.status().message().find("no_such.zip"), std::string::npos);
}

// A small archive must not make the reader allocate what its entries
// inflate to: a non-PNG is refused on its first bytes, a PNG past the bound
// of its declared size, without inflating the rest.
TEST(ZipDatasetTest, EntriesAreNotInflatedPastWhatTheirPngCanHold) {
  const std::string zeros(64 << 20, '\0');
  const std::string bomb = MakeZip({{"00000/img00000000.png", zeros}}, /*deflate=*/true);
  EXPECT_LT(bomb.size(), 1u << 20) << "64 MiB of zeros deflate to well under 1 MiB";
  ExpectZipError(bomb, {"bad.zip:00000/img00000000.png", "not a PNG file (bad signature)"});

  const std::string g8 = Png(torch::zeros({1, 8, 8}, torch::kUInt8));
  const std::string padded = MakeZip({{"a.png", g8 + std::string(16 << 20, '\0')}}, /*deflate=*/true);
  ExpectZipError(padded, {"bad.zip:a.png", "inflates to more than 1048720 bytes", "the most a 8x8 PNG can take"});
  // Trailing bytes within the bound are libpng's to judge (it ignores them).
  absl::StatusOr<Dataset> within = ReadZipDatasetFromMemory(MakeZip({{"a.png", g8 + std::string(1000, '\0')}}), "ok.zip");
  EXPECT_TRUE(within.ok()) << within.status();

  std::string json = R"({"labels": [["a.png", 0]], "pad": ")" + std::string(2 << 20, ' ') + "\"}";
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", json}}, /*deflate=*/true),
                 {"bad.zip:dataset.json", "inflates to more than", "the labels of 1 images"});
}

// Labels are bounded by the most classes a data set may have, not by 2^31: a
// label of 2^31 - 1 would ask for a class embedding of 2^31 rows.
TEST(ZipDatasetTest, LabelsBeyondTheClassLimitAreRefusedNamingTheEntry) {
  const std::string g8 = Png(torch::zeros({1, 8, 8}, torch::kUInt8));
  ExpectZipError(MakeZip({{"a.png", g8}, {"b.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0], ["b.png", 2147483647]]})"}}),
                 {"bad.zip:dataset.json", "label of \"b.png\" (labels[1]) out of range: 2147483647", "[0, 1048576)"});
  ExpectZipError(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 0]], "num_classes": 1048577})"}}),
                 {"bad.zip:dataset.json", "\"num_classes\" must be an integer in [1, 1048576], got 1048577"});
  absl::StatusOr<Dataset> top = ReadZipDatasetFromMemory(
      MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": [["a.png", 1048575]]})"}}), "top.zip");
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->num_classes, kMaxClasses);
}

TEST(ZipDatasetTest, NullLabelsMeanUnlabeled) {
  const std::string g8 = Png(torch::zeros({1, 8, 8}, torch::kUInt8));
  absl::StatusOr<Dataset> ds =
      ReadZipDatasetFromMemory(MakeZip({{"a.png", g8}, {"dataset.json", R"({"labels": null})"}}), "n.zip");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_FALSE(ds->has_labels());
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

TEST(ZipDatasetTest, FailedWritesLeaveNoPartialFile) {
  const std::string dir = TempPath("writes");
  std::filesystem::create_directories(dir);
  // An invalid data set (2 channels cannot be PNG): nothing written.
  Dataset two;
  two.source = "two-channel";
  two.images = torch::zeros({3, 2, 4, 4}, torch::kUInt8);
  absl::Status s = WriteEdmZip(dir + "/two.zip", two);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("two.zip"), std::string::npos) << s;
  EXPECT_FALSE(Exists(dir + "/two.zip"));
  // Labels outside [0, num_classes): refused before writing.
  Dataset bad_labels = RandomRgb(4, 3, true);
  bad_labels.labels[2] = 7;
  EXPECT_FALSE(WriteEdmZip(dir + "/labels.zip", bad_labels).ok());
  EXPECT_FALSE(Exists(dir + "/labels.zip"));
  // A failed replacement keeps the previous file intact.
  Dataset good = RandomRgb(5, 4, true);
  ASSERT_TRUE(WriteEdmZip(dir + "/keep.zip", good).ok());
  EXPECT_FALSE(WriteEdmZip(dir + "/keep.zip", two).ok());
  absl::StatusOr<Dataset> kept = ReadZipDataset(dir + "/keep.zip");
  ASSERT_TRUE(kept.ok()) << kept.status();
  ExpectSameDataset(good, *kept);
  // A missing directory: an error, and no stray temporary files anywhere.
  EXPECT_FALSE(WriteEdmZip(dir + "/no/such/dir/x.zip", good).ok());
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"keep.zip"});
}

}  // namespace
}  // namespace diffmem::data
