// Name → type registries: the one way diffmem turns a name given at run time
// (a flag, a field of config.json) into a type chosen at compile time.
//
// A registry is a TypeList of types that each carry `static constexpr const
// char* kName`. Adding a choice is one new type plus one line in one list.
// VisitByName calls a generic function with TypeTag<T> for the type whose
// kName matches; an unknown name is an error that lists the valid ones.
//
//   TypeTag<T>                      — a type carried as a value
//   TypeList<Ts...>                 — a registry; Append<List, T> extends one
//   RegistryNames<List>()           — {"l2", "sql2", ...}
//   ForEachType<List>(f)            — f(TypeTag<T>{}) for every T, in list order
//   VisitByName<List>(name, what, f) — f(TypeTag<T>{}) for T::kName == name;
//                                     f returns absl::Status or absl::StatusOr<R>
//
// Example:
//   using Metrics = TypeList<L2Distance, L1Distance>;            // kName "l2", "l1"
//   absl::StatusOr<double> d = VisitByName<Metrics>("l1", "metric", [&](auto tag) -> absl::StatusOr<double> {
//     using M = typename decltype(tag)::type;
//     return Distance<M>(a, b);
//   });
//   // VisitByName<Metrics>("l3", "metric", f): "unknown metric 'l3' (expected one of: l2, l1)"

#ifndef DIFFMEM_UTIL_TYPE_REGISTRY_H_
#define DIFFMEM_UTIL_TYPE_REGISTRY_H_

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace diffmem {

template <class T>
struct TypeTag {
  using type = T;
};

template <class... Ts>
struct TypeList {};

namespace internal_registry {

template <class List, class T>
struct AppendImpl;
template <class... Ts, class T>
struct AppendImpl<TypeList<Ts...>, T> {
  using type = TypeList<Ts..., T>;
};

template <class T, class = void>
struct HasName : std::false_type {};
template <class T>
struct HasName<T, std::void_t<decltype(static_cast<const char*>(T::kName))>> : std::true_type {};

template <class List>
struct First;
template <class T, class... Ts>
struct First<TypeList<T, Ts...>> {
  using type = T;
};

}  // namespace internal_registry

// The registry `List` with `T` added at the end.
template <class List, class T>
using Append = typename internal_registry::AppendImpl<List, T>::type;

template <class List>
struct RegistryTraits;
template <class... Ts>
struct RegistryTraits<TypeList<Ts...>> {
  static_assert(sizeof...(Ts) > 0, "a registry lists at least one type");
  static_assert((internal_registry::HasName<Ts>::value && ...),
                "every type of a registry needs `static constexpr const char* kName`");
  static std::vector<std::string> Names() { return {std::string(Ts::kName)...}; }
};

// The names of a registry, in list order.
template <class List>
std::vector<std::string> RegistryNames() {
  return RegistryTraits<List>::Names();
}

// The error for a name that is not in `List` ("unknown metric 'x' (expected one of: l2, l1)").
template <class List>
absl::Status UnknownNameError(absl::string_view name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("unknown ", what, " '", name, "' (expected one of: ",
                                                 absl::StrJoin(RegistryNames<List>(), ", "), ")"));
}

namespace internal_registry {

template <class Whole, class F>
auto Visit(absl::string_view name, absl::string_view what, F& f, Whole, TypeList<>)
    -> decltype(f(TypeTag<typename First<Whole>::type>{})) {
  return UnknownNameError<Whole>(name, what);
}
template <class Whole, class F, class T, class... Rest>
auto Visit(absl::string_view name, absl::string_view what, F& f, Whole whole, TypeList<T, Rest...>)
    -> decltype(f(TypeTag<typename First<Whole>::type>{})) {
  if (name == T::kName) return f(TypeTag<T>{});
  return Visit(name, what, f, whole, TypeList<Rest...>{});
}

}  // namespace internal_registry

// Calls f(TypeTag<T>{}) for the T in `List` with T::kName == name and returns
// its result (absl::Status or absl::StatusOr<R>); an unknown name returns
// UnknownNameError instead.
template <class List, class F>
auto VisitByName(absl::string_view name, absl::string_view what, F&& f) {
  return internal_registry::Visit(name, what, f, List{}, List{});
}

namespace internal_registry {
template <class... Ts, class F>
void ForEach(TypeList<Ts...>, F& f) {
  (f(TypeTag<Ts>{}), ...);
}
}  // namespace internal_registry

// Calls f(TypeTag<T>{}) for every T of `List`, in order.
template <class List, class F>
void ForEachType(F&& f) {
  internal_registry::ForEach(List{}, f);
}

// Whether `name` is in `List`.
template <class List>
bool InRegistry(absl::string_view name) {
  for (const std::string& n : RegistryNames<List>()) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace diffmem

#endif  // DIFFMEM_UTIL_TYPE_REGISTRY_H_
