// A string as one word of a POSIX shell command line: unchanged when it holds
// only characters no shell treats specially, else in single quotes (a single
// quote inside becomes '\''). For the commands diffmem writes for others to
// run (estimate_emm --plan), whose paths may hold spaces or quotes.
//
// Example:
//   diffmem::util::ShellQuote("runs/n40")        // runs/n40
//   diffmem::util::ShellQuote("my study/it's")   // 'my study/it'\''s'

#ifndef DIFFMEM_UTIL_SHELL_QUOTE_H_
#define DIFFMEM_UTIL_SHELL_QUOTE_H_

#include <string>

#include "absl/strings/ascii.h"

namespace diffmem {
namespace util {

inline std::string ShellQuote(const std::string& s) {
  bool plain = !s.empty();
  for (char ch : s) {
    const bool safe = absl::ascii_isalnum(static_cast<unsigned char>(ch)) || std::string("_-./=:,+@%").find(ch) != std::string::npos;
    if (!safe) plain = false;
  }
  if (plain) return s;
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_SHELL_QUOTE_H_
