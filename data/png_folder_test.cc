#include "data/png_folder.h"

#include <filesystem>
#include <string>
#include <vector>

#include "data/png.h"
#include "gtest/gtest.h"
#include "util/atomic_file.h"

namespace diffmem::data {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the test's temp dir.
std::string NewDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void Put(const std::string& dir, const std::string& rel, const torch::Tensor& chw) {
  fs::create_directories(fs::path(dir + "/" + rel).parent_path());
  ASSERT_TRUE(WritePng(dir + "/" + rel, chw).ok());
}

void PutText(const std::string& dir, const std::string& rel, const std::string& text) {
  ASSERT_TRUE(util::WriteFileAtomically(dir + "/" + rel, text).ok());
}

torch::Tensor Rgb(int value) {
  torch::Tensor t = torch::full({3, 6, 5}, value, torch::kUInt8);
  t[1][2][3] = 255 - value;  // not constant, so a channel mix-up would show
  return t;
}

// Four RGB images in nested folders plus a text file; sorted order is
// "a.png" < "a/z.png" < "b/x.png" < "c.PNG" ('.' sorts before '/').
std::string MakeFolder(const std::string& name) {
  const std::string dir = NewDir(name);
  Put(dir, "b/x.png", Rgb(30));
  Put(dir, "a/z.png", Rgb(20));
  Put(dir, "c.PNG", Rgb(40));
  Put(dir, "a.png", Rgb(10));
  PutText(dir, "notes.txt", "not an image");
  return dir;
}

TEST(PngFolderTest, ListsPngsRecursivelyInByteOrder) {
  const std::string dir = MakeFolder("list");
  absl::StatusOr<std::vector<std::string>> names = ListPngFiles(dir);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, (std::vector<std::string>{"a.png", "a/z.png", "b/x.png", "c.PNG"}));
  // A link to a file elsewhere is listed under its own name; a trailing slash is fine.
  const std::string outside = NewDir("outside");
  Put(outside, "target.png", Rgb(50));
  fs::create_symlink(outside + "/target.png", dir + "/b/link.png");
  names = ListPngFiles(dir + "/");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, (std::vector<std::string>{"a.png", "a/z.png", "b/link.png", "b/x.png", "c.PNG"}));
}

TEST(PngFolderTest, ReadsWithoutDatasetJson) {
  const std::string dir = MakeFolder("plain");
  absl::StatusOr<Dataset> ds = ReadPngFolder(dir + "/");  // a trailing slash is fine
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->images.sizes(), (std::vector<int64_t>{4, 3, 6, 5}));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(torch::equal(ds->images[i], Rgb(10 * (i + 1)))) << i;
  EXPECT_FALSE(ds->has_labels());
  EXPECT_TRUE(ValidateDataset(*ds).ok());
}

TEST(PngFolderTest, ReadsLabelsFromDatasetJsonByName) {
  const std::string dir = MakeFolder("labeled");
  PutText(dir, "dataset.json",
          R"({"labels": [["c.PNG", 1], ["a.png", 3], ["b/x.png", 0], ["a/z.png", 3]]})");
  absl::StatusOr<Dataset> ds = ReadPngFolder(dir);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_TRUE(torch::equal(ds->labels, torch::tensor({3, 3, 0, 1}, torch::kInt64)));
  EXPECT_EQ(ds->num_classes, 4);
  PutText(dir, "dataset.json", R"({"labels": null})");
  ds = ReadPngFolder(dir);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_FALSE(ds->has_labels());
}

void ExpectFolderError(const std::string& dir, const std::vector<std::string>& fragments) {
  absl::StatusOr<Dataset> ds = ReadPngFolder(dir);
  ASSERT_FALSE(ds.ok()) << dir;
  for (const std::string& f : fragments) {
    EXPECT_NE(ds.status().message().find(f), std::string::npos) << "missing '" << f << "' in " << ds.status();
  }
}

TEST(PngFolderTest, BadFoldersGiveErrorsNamingTheFile) {
  std::string dir = MakeFolder("gray");
  Put(dir, "b/y.png", torch::zeros({1, 6, 5}, torch::kUInt8));
  ExpectFolderError(dir, {dir + "/b/y.png", "1x6x5", "expected 3x6x5"});

  dir = MakeFolder("size");
  Put(dir, "a/small.png", torch::zeros({3, 4, 5}, torch::kUInt8));
  ExpectFolderError(dir, {dir + "/a/small.png", "3x4x5", "expected 3x6x5"});

  dir = MakeFolder("corrupt");
  PutText(dir, "b/broken.png", "\x89PNG\r\n\x1a\n but then nothing useful");
  ExpectFolderError(dir, {dir + "/b/broken.png", "PNG"});

  dir = MakeFolder("jpeg");
  PutText(dir, "photo.JPG", "jpeg bytes");
  ExpectFolderError(dir, {dir + "/photo.JPG", "only PNG"});

  dir = MakeFolder("missing");
  PutText(dir, "dataset.json",
          R"({"labels": [["a.png", 0], ["a/z.png", 0], ["b/x.png", 0], ["c.PNG", 0], ["d.png", 1]]})");
  ExpectFolderError(dir, {dir + "/dataset.json", "d.png"});

  dir = MakeFolder("unlabeled_image");
  PutText(dir, "dataset.json", R"({"labels": [["a.png", 0], ["b/x.png", 0], ["c.PNG", 0]]})");
  ExpectFolderError(dir, {dir + "/dataset.json", "no label", "a/z.png"});

  dir = MakeFolder("malformed");
  PutText(dir, "dataset.json", R"({"labels": [["a.png", 0],)");
  ExpectFolderError(dir, {dir + "/dataset.json", "malformed JSON"});

  dir = MakeFolder("range");
  PutText(dir, "dataset.json",
          R"({"labels": [["a.png", 0], ["a/z.png", 0], ["b/x.png", 99999999999], ["c.PNG", 0]]})");
  ExpectFolderError(dir, {dir + "/dataset.json", "b/x.png", "out of range"});

  ExpectFolderError(NewDir("empty"), {"no PNG images"});
  ExpectFolderError(::testing::TempDir() + "/does_not_exist", {"does_not_exist", "not a directory"});
}

}  // namespace
}  // namespace diffmem::data
