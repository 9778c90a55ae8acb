#include "data/resize.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "data/png.h"
#include "gtest/gtest.h"

namespace diffmem::data {
namespace {

// Written by PIL 9.4 (Debian's python3-pil) from the same inputs:
// testing/fixtures/lanczos/make_lanczos_fixture.py.
const char kDir[] = "testing/fixtures/lanczos/";

torch::Tensor Read(const std::string& name) {
  absl::StatusOr<torch::Tensor> t = ReadPng(absl::StrCat(kDir, name, ".png"));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? t->unsqueeze(0) : torch::Tensor();
}

TEST(ResizeLanczosTest, MatchesPilWithinOneGreyLevel) {
  struct Case {
    const char* input;
    int64_t size;
  };
  for (const Case& c : {Case{"rgb32", 16}, Case{"rgb32", 8}, Case{"rgb32", 12}, Case{"gray28", 14},
                        Case{"gray28", 7}, Case{"gray28", 16}}) {
    const torch::Tensor in = Read(c.input);
    const torch::Tensor want = Read(absl::StrCat(c.input, "_to", c.size));
    absl::StatusOr<torch::Tensor> got = ResizeLanczos(in, c.size, c.size);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->sizes(), want.sizes()) << c.input << " to " << c.size;
    const int64_t max_diff = (got->to(torch::kInt32) - want.to(torch::kInt32)).abs().max().item<int64_t>();
    EXPECT_LE(max_diff, 1) << c.input << " to " << c.size;
    // How often it is not exact, for the record.
    const int64_t off = (*got != want).sum().item<int64_t>();
    RecordProperty(absl::StrCat(c.input, "_to", c.size, "_pixels_off_by_one"), static_cast<int>(off));
  }
}

TEST(ResizeLanczosTest, PropertiesAndBadInput) {
  // A constant image stays constant (the weights sum to one).
  torch::Tensor flat = torch::full({2, 3, 20, 20}, 77, torch::kUInt8);
  EXPECT_TRUE(torch::equal(*ResizeLanczos(flat, 5, 10), torch::full({2, 3, 5, 10}, 77, torch::kUInt8)));
  // The same size is the identity.
  torch::Tensor r = torch::randint(0, 256, {1, 1, 9, 9}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(*ResizeLanczos(r, 9, 9), r));
  EXPECT_FALSE(ResizeLanczos(torch::zeros({1, 1, 4, 4}), 2, 2).ok());  // float
  EXPECT_FALSE(ResizeLanczos(r, 0, 3).ok());
}

}  // namespace
}  // namespace diffmem::data
