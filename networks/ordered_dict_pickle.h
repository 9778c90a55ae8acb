// What `torch.save(net.state_dict(), PATH)` writes, made readable by
// LibTorch: Module.state_dict() returns a collections.OrderedDict, which
// LibTorch's unpickler (1.13 and 2.x) turns into None. OrderedDictsAsDicts
// rewrites such a pickle (torch.save's default protocol 2) into the same
// pickle with plain dicts:
//   - each construction of an OrderedDict (the global collections.OrderedDict
//     called with no arguments, directly or through the memo) becomes an
//     empty dict, which the items that follow fill as before — the state
//     dict itself, a nested one ({'ema': net.state_dict()}), and the empty
//     OrderedDict of backward hooks in every tensor;
//   - the attributes an OrderedDict is given after its items (its BUILD: the
//     `_metadata` of module versions) are dropped;
//   - memo indices are renumbered densely over what is kept.
// Every other global stays for LibTorch to accept or refuse, and any other
// use of collections.OrderedDict (with arguments, as a value) is an error.
// A pickle without collections.OrderedDict is returned unchanged.
//
// Example:
//   absl::StatusOr<std::string> plain = OrderedDictsAsDicts(pickle, record_size);

#ifndef DIFFMEM_NETWORKS_ORDERED_DICT_PICKLE_H_
#define DIFFMEM_NETWORKS_ORDERED_DICT_PICKLE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "networks/torch_pickle_check.h"

namespace diffmem {
namespace networks {

namespace internal_ordered_dict_pickle {

inline constexpr absl::string_view kOrderedDictGlobal = "ccollections\nOrderedDict\n";

inline uint64_t Index(absl::string_view p, const PickleOp& o) {  // of BINPUT/BINGET (1 byte) or their LONG_ (4)
  const int width = o.op == 'q' || o.op == 'h' ? 1 : 4;
  uint64_t v = 0;
  for (int i = width; i >= 1; --i) v = (v << 8) | static_cast<unsigned char>(p[o.begin + i]);
  return v;
}

inline std::string MemoOp(char short_op, char long_op, uint64_t index) {  // BINPUT/BINGET with `index`
  if (index < 256) return std::string{short_op, static_cast<char>(index)};
  std::string s(1, long_op);
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((index >> (8 * i)) & 0xff));
  return s;
}

}  // namespace internal_ordered_dict_pickle

inline absl::StatusOr<std::string> OrderedDictsAsDicts(absl::string_view p, const TorchRecordSize& record_size) {
  namespace in = internal_ordered_dict_pickle;
  if (p.find(in::kOrderedDictGlobal) == absl::string_view::npos) return std::string(p);
  if (!absl::StartsWith(p, "\x80\x02")) {
    return absl::InvalidArgumentError(
        "holds a collections.OrderedDict in a pickle protocol other than 2 (torch.save's default), which diffmem "
        "does not rewrite; save it with torch.save's default protocol");
  }
  std::vector<PickleOp> ops;
  if (absl::Status s = CheckTorchSavePickle(p, record_size, [&](const PickleOp& o) { ops.push_back(o); }); !s.ok()) {
    return s;
  }
  auto bytes = [&](size_t i) { return p.substr(ops[i].begin, ops[i].end - ops[i].begin); };
  auto is_memo_get = [&](size_t i) { return ops[i].op == 'h' || ops[i].op == 'j'; };
  auto is_memo_put = [&](size_t i) { return ops[i].op == 'q' || ops[i].op == 'r'; };
  auto misuse = [&](size_t i) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pickle byte ", ops[i].begin,
        ": collections.OrderedDict is used other than as an empty OrderedDict that items then fill"));
  };

  // The memo slots holding the class, and where each OrderedDict is made:
  // op index of the GLOBAL or BINGET -> index of its REDUCE.
  std::set<uint64_t> class_slots;
  std::map<size_t, size_t> made;
  for (size_t i = 0; i < ops.size(); ++i) {
    const bool global = ops[i].op == 'c' && bytes(i) == in::kOrderedDictGlobal;
    const bool get = is_memo_get(i) && class_slots.count(in::Index(p, ops[i])) > 0;
    if (!global && !get) continue;
    size_t j = i + 1;
    if (global && j < ops.size() && is_memo_put(j)) class_slots.insert(in::Index(p, ops[j++]));
    if (j + 1 >= ops.size() || ops[j].op != ')' || ops[j + 1].op != 'R') return misuse(i);
    made[i] = j + 1;
  }
  // Each BUILD must give attributes to an OrderedDict: the state pushed at
  // depth D-1 (under the same MARKs) onto the object made at depth D-2.
  std::vector<bool> dropped(ops.size(), false);  // the states and their BUILDs
  for (size_t b = 0; b < ops.size(); ++b) {
    if (ops[b].op != 'b') continue;
    const size_t depth = ops[b].depth, marks = ops[b].marks;
    size_t state = b, target = b;
    if (depth < 2) return misuse(b);
    while (state > 0 && !(ops[state - 1].depth == depth - 1 && ops[state - 1].marks == marks)) --state;
    if (state == 0) return misuse(b);
    --state;
    target = state;
    while (target > 0 && !(ops[target - 1].depth == depth - 2 && ops[target - 1].marks == marks)) --target;
    if (target == 0 || made.count(target - 1) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("pickle byte ", ops[b].begin,
                                                     ": sets attributes (BUILD) of something other than an "
                                                     "OrderedDict, which a state dict does not hold"));
    }
    for (size_t i = state; i <= b; ++i) dropped[i] = true;
  }

  std::string out;
  std::map<uint64_t, uint64_t> slot;  // memo index in `p` -> in `out`
  for (size_t i = 0; i < ops.size(); ++i) {
    if (dropped[i]) continue;
    if (auto it = made.find(i); it != made.end()) {
      out.push_back('}');
      // A memo put of the class right after its GLOBAL: the slot now holds
      // the new dict, which no kept BINGET reads (each became a new dict).
      if (ops[i].op == 'c' && is_memo_put(i + 1)) {
        const uint64_t was = in::Index(p, ops[i + 1]);
        const uint64_t now = slot.size();
        slot[was] = now;
        out += in::MemoOp('q', 'r', now);
      }
      i = it->second;
      continue;
    }
    if (is_memo_put(i)) {
      const uint64_t was = in::Index(p, ops[i]);
      auto [at, fresh] = slot.emplace(was, slot.size());
      out += in::MemoOp('q', 'r', at->second);
      continue;
    }
    if (is_memo_get(i)) {
      const uint64_t was = in::Index(p, ops[i]);
      if (class_slots.count(was) > 0) return misuse(i);
      auto at = slot.find(was);
      if (at == slot.end()) {
        return absl::InvalidArgumentError(absl::StrCat("pickle byte ", ops[i].begin,
                                                       ": refers to an OrderedDict's attributes (_metadata), which "
                                                       "diffmem drops"));
      }
      out += in::MemoOp('h', 'j', at->second);
      continue;
    }
    if (ops[i].op == 'c' && bytes(i) == in::kOrderedDictGlobal) return misuse(i);
    out.append(bytes(i).data(), bytes(i).size());
  }
  // What comes out is a pickle the check accepts, or the rewrite is wrong.
  if (absl::Status s = CheckTorchSavePickle(out, record_size); !s.ok()) {
    return absl::InternalError(absl::StrCat("rewriting its OrderedDicts as dicts failed: ", s.message()));
  }
  return out;
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_ORDERED_DICT_PICKLE_H_
