#include "util/type_registry.h"

#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace diffmem {
namespace {

struct Alpha {
  static constexpr const char* kName = "alpha";
  static int Value() { return 1; }
};
struct Beta {
  static constexpr const char* kName = "beta";
  static int Value() { return 2; }
};
struct Gamma {
  static constexpr const char* kName = "gamma";
  static int Value() { return 3; }
};
using Registry = TypeList<Alpha, Beta>;

absl::StatusOr<int> ValueOf(const std::string& name) {
  return VisitByName<Registry>(name, "thing", [](auto tag) -> absl::StatusOr<int> {
    return decltype(tag)::type::Value();
  });
}

TEST(TypeRegistryTest, VisitsTheNamedType) {
  EXPECT_EQ(*ValueOf("alpha"), 1);
  EXPECT_EQ(*ValueOf("beta"), 2);
}

TEST(TypeRegistryTest, UnknownNameListsTheValidOnes) {
  absl::StatusOr<int> v = ValueOf("delta");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(v.status().message(), "unknown thing 'delta' (expected one of: alpha, beta)");
  EXPECT_FALSE(ValueOf("").ok());
  EXPECT_FALSE(ValueOf("Alpha").ok());  // names are exact
}

TEST(TypeRegistryTest, AppendAddsOneType) {
  using Extended = Append<Registry, Gamma>;
  EXPECT_EQ(RegistryNames<Extended>(), (std::vector<std::string>{"alpha", "beta", "gamma"}));
  absl::Status s = VisitByName<Extended>("gamma", "thing", [](auto tag) {
    return decltype(tag)::type::Value() == 3 ? absl::OkStatus() : absl::InternalError("wrong type");
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(InRegistry<Extended>("gamma"));
  EXPECT_FALSE(InRegistry<Registry>("gamma"));
}

TEST(TypeRegistryTest, ForEachTypeVisitsInOrder) {
  std::string names;
  int sum = 0;
  ForEachType<Append<Registry, Gamma>>([&](auto tag) {
    using T = typename decltype(tag)::type;
    names += T::kName;
    sum = 10 * sum + T::Value();
  });
  EXPECT_EQ(names, "alphabetagamma");
  EXPECT_EQ(sum, 123);
}

}  // namespace
}  // namespace diffmem
