// The EDM fixtures (testing/fixtures/edm/, written by make_edm_fixture.py
// from NVlabs/edm's own code) as the tests read them: their folder relative
// to the runfiles root, and a reader that fails the test on a bad file.
//
// Example:
//   diffmem::diffusion::StateDict sd = diffmem::testing_edm::ReadEdmFixture("ddpmpp_vp.pt");
//   std::string path = diffmem::testing_edm::EdmFixturePath("sampler.pt");

#ifndef DIFFMEM_TESTING_EDM_FIXTURES_H_
#define DIFFMEM_TESTING_EDM_FIXTURES_H_

#include <string>

#include "diffusion/state_dict_file.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace testing_edm {

inline std::string EdmFixturePath(const std::string& name) { return "testing/fixtures/edm/" + name; }

// The fixture's tensors; an empty dict (and a test failure) when it cannot be read.
inline diffusion::StateDict ReadEdmFixture(const std::string& name) {
  absl::StatusOr<diffusion::StateDict> sd = diffusion::ReadStateDictFile(EdmFixturePath(name));
  EXPECT_TRUE(sd.ok()) << sd.status();
  return sd.ok() ? *sd : diffusion::StateDict();
}

}  // namespace testing_edm
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_EDM_FIXTURES_H_
