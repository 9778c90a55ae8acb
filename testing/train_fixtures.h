// Small real training data and scratch directories for the Trainer's tests.
//   FashionMnist8x8(n)   the first n Fashion-MNIST training images, cropped to
//                        24×24 and area-averaged to 8×8 (uint8, with labels)
//   FreshTestDir(name)   $TEST_TMPDIR/name (else /tmp/name), emptied
//
// Example:
//   const data::Dataset ds = testing_train::FashionMnist8x8(12);
//   const std::string dir = testing_train::FreshTestDir("train_test_resume");

#ifndef DIFFMEM_TESTING_TRAIN_FIXTURES_H_
#define DIFFMEM_TESTING_TRAIN_FIXTURES_H_

#include <torch/types.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/dataset.h"
#include "data/idx.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace testing_train {

inline std::string FreshTestDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// (Class balance is not needed here.)
inline data::Dataset FashionMnist8x8(int64_t n) {
  absl::StatusOr<data::Dataset> ds = data::ReadFashionMnist("train");
  EXPECT_TRUE(ds.ok()) << ds.status();
  data::Dataset out;
  torch::Tensor x = ds->images.narrow(0, 0, n).narrow(2, 2, 24).narrow(3, 2, 24).to(torch::kFloat32);
  out.images = torch::avg_pool2d(x, 3).round().clamp(0, 255).to(torch::kUInt8).contiguous();
  out.labels = ds->labels.narrow(0, 0, n).clone();
  out.num_classes = 10;
  out.source = "fashion-mnist[:" + std::to_string(n) + "] 8x8";
  return out;
}

}  // namespace testing_train
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_TRAIN_FIXTURES_H_
