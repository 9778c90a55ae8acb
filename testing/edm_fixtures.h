// The EDM fixtures (testing/fixtures/edm/, written by make_edm_fixture.py
// from NVlabs/edm's own code) as the tests read them: their folder relative
// to the runfiles root, and a reader that fails the test on a bad file.
//
// Example:
//   diffmem::networks::StateDict sd = diffmem::testing_edm::ReadEdmFixture("ddpmpp_vp.pt");
//   std::string path = diffmem::testing_edm::EdmFixturePath("sampler.pt");

#ifndef DIFFMEM_TESTING_EDM_FIXTURES_H_
#define DIFFMEM_TESTING_EDM_FIXTURES_H_

#include <string>

#include "gtest/gtest.h"
#include "networks/state_dict_file.h"

namespace diffmem {
namespace testing_edm {

inline std::string EdmFixturePath(const std::string& name) { return "testing/fixtures/edm/" + name; }

// The fixture's tensors; an empty dict (and a test failure) when it cannot be read.
inline networks::StateDict ReadEdmFixture(const std::string& name) {
  absl::StatusOr<networks::StateDict> sd = networks::ReadStateDictFile(EdmFixturePath(name));
  EXPECT_TRUE(sd.ok()) << sd.status();
  return sd.ok() ? *sd : networks::StateDict();
}

}  // namespace testing_edm
}  // namespace diffmem

#endif  // DIFFMEM_TESTING_EDM_FIXTURES_H_
