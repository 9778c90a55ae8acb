#include "util/shell_quote.h"

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace diffmem::util {
namespace {

// What /bin/sh makes of `word` as the argument of printf '%s'.
std::string ThroughTheShell(const std::string& word) {
  const std::string cmd = "printf '%s' " + word;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[256];
  for (size_t n; p != nullptr && (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  if (p != nullptr) pclose(p);
  return out;
}

TEST(ShellQuoteTest, PlainWordsStayAsTheyAre) {
  EXPECT_EQ(ShellQuote("out/emm_study"), "out/emm_study");
  EXPECT_EQ(ShellQuote("--threads=2"), "--threads=2");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("my study/it's"), "'my study/it'\\''s'");
}

// The shell gives back exactly the original string, whatever it holds.
TEST(ShellQuoteTest, TheShellReadsBackTheOriginal) {
  for (const std::string s : {"a b", "it's", "$HOME", "`ls`", "x;rm -rf y", "tab\there", "back\\slash", "*?[]", "\"q\"",
                              "new\nline", "~user", "a'b'c", "!bang", "(paren)", "&amp", "<in>|out"}) {
    EXPECT_EQ(ThroughTheShell(ShellQuote(s)), s) << ShellQuote(s);
  }
}

}  // namespace
}  // namespace diffmem::util
