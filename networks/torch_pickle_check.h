// CheckTorchSavePickle walks the pickle inside a torch.save archive
// (data.pkl, protocols 2–4) without running it, and refuses what would make
// LibTorch 1.13's unpickler misbehave on a damaged or hostile file:
//   - a memo index far beyond the entries stored so far (LibTorch resizes its
//     memo table to the index: a flipped byte asks for gigabytes);
//   - a length running past the end of the pickle;
//   - a storage whose element count exceeds its zip record (LibTorch would
//     read past the record's buffer);
//   - an opcode a dict of tensors never holds;
//   - a global other than the tensor rebuild, the storage classes,
//     collections.OrderedDict and LibTorch's own type tags (a pickle that
//     would build any other object, say through __reduce__).
// What torch.save and torch::pickle_save write passes; the stack is simulated
// only as far as the storage references need (Python's pickletools documents
// the opcodes). An observer may see each opcode's bytes and stack depth
// (networks/ordered_dict_pickle.h rewrites pickles with it).
//
// Example:
//   absl::Status s = diffmem::networks::CheckTorchSavePickle(pickle_bytes, [&](const std::string& record) {
//     return reader.hasRecord(record) ? int64_t(std::get<1>(reader.getRecord(record))) : int64_t{-1};
//   });

#ifndef DIFFMEM_NETWORKS_TORCH_PICKLE_CHECK_H_
#define DIFFMEM_NETWORKS_TORCH_PICKLE_CHECK_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace diffmem {
namespace networks {

// Size in bytes of the archive record called `name` ("data/0"), or -1 when absent.
using TorchRecordSize = std::function<int64_t(const std::string& name)>;

// One opcode of the walk, for a caller that rewrites the pickle: its bytes
// are [begin, end) (opcode and arguments); `depth` and `marks` are the stack
// size and the open MARKs before it ran.
struct PickleOp {
  size_t begin = 0, end = 0;
  unsigned char op = 0;
  size_t depth = 0, marks = 0;
};
using PickleOpObserver = std::function<void(const PickleOp&)>;

namespace internal_torch_pickle_check {

// What the walk keeps of a stack entry: strings, small integers, and tuples
// of up to five such (a storage reference is one); anything else is opaque.
struct Value {
  enum Kind { kOther, kString, kInt, kTuple } kind = kOther;
  std::string text;  // kString: the string, or "module.name" of a global
  int64_t number = 0;
  std::vector<Value> items;  // kTuple
};

// Bytes per element of torch's storage classes (torch.FloatStorage, …).
inline int64_t StorageItemSize(const std::string& global) {
  static const std::map<std::string, int64_t> kSizes = {
      {"torch.FloatStorage", 4},   {"torch.DoubleStorage", 8}, {"torch.HalfStorage", 2},
      {"torch.BFloat16Storage", 2}, {"torch.LongStorage", 8},   {"torch.IntStorage", 4},
      {"torch.ShortStorage", 2},   {"torch.CharStorage", 1},   {"torch.ByteStorage", 1},
      {"torch.BoolStorage", 1},    {"torch.ComplexFloatStorage", 8}, {"torch.ComplexDoubleStorage", 16}};
  auto it = kSizes.find(global);
  return it == kSizes.end() ? -1 : it->second;
}

// The globals a state dict's pickle may name: torch's tensor rebuild, its
// storage classes, collections.OrderedDict (state dicts and tensor hooks),
// and the type tags of LibTorch's own writer. Nothing else is an object a
// dict of tensors holds.
inline bool AllowedGlobal(const std::string& global) {
  return global == "torch._utils._rebuild_tensor_v2" || global == "collections.OrderedDict" ||
         StorageItemSize(global) > 0 || global.rfind("torch.jit._pickle.", 0) == 0;
}

}  // namespace internal_torch_pickle_check

// `observe`, when given, sees every opcode of a pickle that passes, in order.
inline absl::Status CheckTorchSavePickle(absl::string_view p, const TorchRecordSize& record_size,
                                         const PickleOpObserver& observe = nullptr) {
  using internal_torch_pickle_check::Value;
  std::vector<Value> stack, memo;
  std::vector<size_t> marks;
  size_t pos = 0;
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("pickle byte ", pos, ": ", why));
  };
  auto refused = [&](const std::string& global) {
    return bad(absl::StrCat("names the global '", global,
                            "', which is not a tensor, a storage or an OrderedDict: a state dict holds no other "
                            "objects (nothing of the file was run)"));
  };
  auto take = [&](size_t n, const char** out) {  // n argument bytes after the opcode
    if (n > p.size() - pos) return false;
    *out = p.data() + pos;
    pos += n;
    return true;
  };
  auto uint_le = [](const char* b, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  };
  auto pop_to_mark = [&](std::vector<Value>* popped) {
    if (marks.empty() || marks.back() > stack.size()) return false;
    if (popped) popped->assign(stack.begin() + marks.back(), stack.end());
    stack.resize(marks.back());
    marks.pop_back();
    return true;
  };
  auto pop = [&](size_t n, std::vector<Value>* popped) {
    const size_t floor = marks.empty() ? 0 : marks.back();
    if (stack.size() < floor + n) return false;
    if (popped) popped->assign(stack.end() - n, stack.end());
    stack.resize(stack.size() - n);
    return true;
  };
  auto tuple = [](std::vector<Value> items) {
    Value t;
    if (items.size() <= 5) {
      t.kind = Value::kTuple;
      t.items = std::move(items);
    }
    return t;
  };
  while (pos < p.size()) {
    PickleOp seen;
    seen.begin = pos;
    seen.depth = stack.size();
    seen.marks = marks.size();
    const unsigned char op = static_cast<unsigned char>(p[pos++]);
    seen.op = op;
    const char* a = nullptr;
    std::vector<Value> items;
    bool ok = true;
    switch (op) {
      case 0x80: ok = take(1, &a); break;      // PROTO
      case 0x95: ok = take(8, &a); break;      // FRAME
      case '.':                                // STOP
        seen.end = pos;
        if (observe) observe(seen);
        return absl::OkStatus();
      case '(': marks.push_back(stack.size()); break;  // MARK
      case ')': stack.push_back(tuple({})); break;     // EMPTY_TUPLE
      case '}': case ']': case 'N': case 0x88: case 0x89: stack.emplace_back(); break;
      case 't': ok = pop_to_mark(&items); if (ok) stack.push_back(tuple(std::move(items))); break;
      case 0x85: case 0x86: case 0x87:         // TUPLE1..3
        ok = pop(op - 0x84, &items);
        if (ok) stack.push_back(tuple(std::move(items)));
        break;
      case 'd': case 'l': ok = pop_to_mark(nullptr); if (ok) stack.emplace_back(); break;  // DICT, LIST
      case 'u': case 'e': case '1': ok = pop_to_mark(nullptr); break;  // SETITEMS, APPENDS, POP_MARK
      case 's': ok = pop(2, nullptr); break;   // SETITEM
      case 'a': case '0': ok = pop(1, nullptr); break;  // APPEND, POP
      case '2': ok = pop(1, &items); if (ok) stack.insert(stack.end(), 2, items[0]); break;  // DUP
      case 'R': case 'b': case 0x81:           // REDUCE, BUILD, NEWOBJ
        ok = pop(2, nullptr);
        if (ok) stack.emplace_back();
        break;
      case 'K': case 'M': case 'J': {          // BININT1, BININT2, BININT
        const int n = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        ok = take(n, &a);
        if (!ok) break;
        Value v;
        v.kind = Value::kInt;
        v.number = n == 4 ? static_cast<int32_t>(uint_le(a, 4)) : static_cast<int64_t>(uint_le(a, n));
        stack.push_back(v);
        break;
      }
      case 0x8a: {                             // LONG1: length n, then n bytes of two's complement
        ok = take(1, &a);
        if (!ok) break;
        const int n = static_cast<unsigned char>(*a);
        ok = take(n, &a);
        if (!ok) break;
        Value v;
        if (n <= 8) {
          v.kind = Value::kInt;
          uint64_t u = uint_le(a, n);
          if (n > 0 && n < 8 && (static_cast<unsigned char>(a[n - 1]) & 0x80)) u |= ~uint64_t{0} << (8 * n);
          v.number = static_cast<int64_t>(u);
        }
        stack.push_back(v);
        break;
      }
      case 'G': ok = take(8, &a); if (ok) stack.emplace_back(); break;  // BINFLOAT
      case 'X': case 'T': case 'B': case 'U': case 'C': case 0x8c: case 0x8d: {  // strings and bytes
        const int width = op == 'U' || op == 'C' || op == 0x8c ? 1 : op == 0x8d ? 8 : 4;
        ok = take(width, &a);
        if (!ok) break;
        const uint64_t n = uint_le(a, width);
        if (n > p.size() - pos) return bad(absl::StrCat("a string of ", n, " bytes runs past the end"));
        ok = take(n, &a);
        Value v;
        v.kind = Value::kString;
        v.text.assign(a, n);
        stack.push_back(v);
        break;
      }
      case 'c': {                              // GLOBAL "module\nname\n"
        const size_t nl1 = p.find('\n', pos), nl2 = nl1 == absl::string_view::npos ? nl1 : p.find('\n', nl1 + 1);
        if (nl2 == absl::string_view::npos) return bad("unterminated GLOBAL");
        Value v;
        v.kind = Value::kString;
        v.text = absl::StrCat(p.substr(pos, nl1 - pos), ".", p.substr(nl1 + 1, nl2 - nl1 - 1));
        pos = nl2 + 1;
        if (!internal_torch_pickle_check::AllowedGlobal(v.text)) return refused(v.text);
        stack.push_back(v);
        break;
      }
      case 0x93: {                             // STACK_GLOBAL: module and name from the stack
        ok = pop(2, &items);
        if (!ok) break;
        if (items[0].kind != Value::kString || items[1].kind != Value::kString) {
          return bad("STACK_GLOBAL of something other than two strings");
        }
        Value v;
        v.kind = Value::kString;
        v.text = absl::StrCat(items[0].text, ".", items[1].text);
        if (!internal_torch_pickle_check::AllowedGlobal(v.text)) return refused(v.text);
        stack.push_back(v);
        break;
      }
      case 'q': case 'r': case 0x94: {         // BINPUT, LONG_BINPUT, MEMOIZE
        uint64_t index = memo.size();
        if (op != 0x94) {
          ok = take(op == 'q' ? 1 : 4, &a);
          if (!ok) break;
          index = uint_le(a, op == 'q' ? 1 : 4);
        }
        if (stack.empty()) return bad("memo put on an empty stack");
        if (index > memo.size()) {
          return bad(absl::StrCat("memo index ", index, " with only ", memo.size(), " entries stored"));
        }
        if (index == memo.size()) memo.emplace_back();
        memo[index] = stack.back();
        break;
      }
      case 'h': case 'j': {                    // BINGET, LONG_BINGET
        ok = take(op == 'h' ? 1 : 4, &a);
        if (!ok) break;
        const uint64_t index = uint_le(a, op == 'h' ? 1 : 4);
        if (index >= memo.size()) return bad(absl::StrCat("memo index ", index, " was never stored"));
        stack.push_back(memo[index]);
        break;
      }
      case 'Q': {                              // BINPERSID: ('storage', torch.XStorage, key, location, numel)
        ok = pop(1, &items);
        if (!ok) break;
        const Value& t = items[0];
        if (t.kind != Value::kTuple || t.items.size() != 5 || t.items[0].text != "storage" ||
            t.items[2].kind != Value::kString || t.items[4].kind != Value::kInt) {
          return bad("a persistent id that is not a storage reference");
        }
        const int64_t item = internal_torch_pickle_check::StorageItemSize(t.items[1].text);
        if (item < 0) return bad(absl::StrCat("unknown storage type '", t.items[1].text, "'"));
        const int64_t numel = t.items[4].number, have = record_size("data/" + t.items[2].text);
        if (have < 0) return bad(absl::StrCat("storage '", t.items[2].text, "' has no record in the archive"));
        if (numel < 0 || numel > have / item) {
          return bad(absl::StrCat("storage '", t.items[2].text, "' claims ", numel, " elements of ", item,
                                  " bytes but its record holds ", have, " bytes"));
        }
        stack.emplace_back();
        break;
      }
      default: return bad(absl::StrFormat("opcode 0x%02x, which a state dict does not hold", op));
    }
    if (!ok) return bad("truncated, or the stack does not hold what the opcode needs");
    seen.end = pos;
    if (observe) observe(seen);
  }
  return bad("no STOP opcode: truncated");
}

}  // namespace networks
}  // namespace diffmem

#endif  // DIFFMEM_NETWORKS_TORCH_PICKLE_CHECK_H_
