// Interruption by SIGINT (Ctrl-C) or SIGTERM (kill, a scheduler's
// preemption) as a flag a long job polls between units of work, so it stops
// at a clean point — never in the middle of a file write — and says where it
// stands.
//
//   InstallInterruptHandlers(tool)  — a tool opts in (once, before its long work)
//   InterruptSignal()               — the signal caught so far (0: none); async-signal-safe
//   InterruptedError(sig, message)  — the status a job returns when it stopped for it
//   InterruptedBy(status)           — that signal back from a status (0: another status)
//   InterruptExitCode(sig)          — 128 + sig, as a shell reports a process the signal killed
//
// The handler only records the signal (and writes one line saying the job
// will stop); the first signal also restores the default actions, so a
// second Ctrl-C or SIGTERM ends the process at once. The flag is the
// process's: signals are process-wide, and only a tool installs the handlers.
//
// Example:
//   util::InstallInterruptHandlers("train");
//   while (step < total) {
//     Step();
//     if (int sig = util::InterruptSignal(); sig != 0)
//       return util::InterruptedError(sig, absl::StrCat("interrupted (", util::SignalName(sig), ") at step ", step));
//   }
//   ...
//   if (int sig = util::InterruptedBy(status); sig != 0) return util::InterruptExitCode(sig);   // 130, 143

#ifndef DIFFMEM_UTIL_INTERRUPT_H_
#define DIFFMEM_UTIL_INTERRUPT_H_

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace diffmem {
namespace util {

namespace internal_interrupt {

static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only touch lock-free atomics");

inline std::atomic<int> caught{0};

// The lines the handler writes, made before any signal (a handler may not format).
inline char sigint_line[160] = "";
inline char sigterm_line[160] = "";

// The payload key of InterruptedError: the signal number as decimal text.
inline constexpr char kPayload[] = "diffmem.interrupt_signal";

inline void Handle(int sig) {
  const int saved_errno = errno;
  int expected = 0;
  caught.compare_exchange_strong(expected, sig);
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGINT, &dfl, nullptr);  // the next signal ends the process at once
  sigaction(SIGTERM, &dfl, nullptr);
  const char* line = sig == SIGINT ? sigint_line : sigterm_line;
  size_t len = 0;
  while (line[len] != '\0') ++len;
  if (len > 0) (void)!::write(STDERR_FILENO, line, len);
  errno = saved_errno;
}

}  // namespace internal_interrupt

// "SIGINT", "SIGTERM", else "signal N".
inline std::string SignalName(int sig) {
  if (sig == SIGINT) return "SIGINT";
  if (sig == SIGTERM) return "SIGTERM";
  return absl::StrCat("signal ", sig);
}

inline int InterruptExitCode(int sig) { return 128 + sig; }

// Catches SIGINT and SIGTERM from now on: each only sets the flag (the
// first one caught wins) and writes "TOOL: SIGINT: stopping at the next
// clean point (again to stop at once)". System calls are restarted
// (SA_RESTART), so no file write fails with EINTR. A signal the process was
// started ignoring (a shell's background job, nohup) stays ignored.
inline void InstallInterruptHandlers(const std::string& tool) {
  for (auto [sig, line] : {std::pair<int, char*>{SIGINT, internal_interrupt::sigint_line},
                           std::pair<int, char*>{SIGTERM, internal_interrupt::sigterm_line}}) {
    std::snprintf(line, sizeof(internal_interrupt::sigint_line),
                  "%s: %s: stopping at the next clean point (send it again to stop at once)\n", tool.c_str(),
                  SignalName(sig).c_str());
    struct sigaction was = {};
    if (sigaction(sig, nullptr, &was) == 0 && was.sa_handler == SIG_IGN) continue;  // nohup, `cmd &` without job control
    struct sigaction sa = {};
    sa.sa_handler = internal_interrupt::Handle;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, nullptr);
  }
}

// The signal caught since InstallInterruptHandlers (0: none).
inline int InterruptSignal() { return internal_interrupt::caught.load(); }

// Forgets a caught signal (tests that raise one and go on).
inline void ClearInterruptForTesting() { internal_interrupt::caught.store(0); }

// A Cancelled status saying the job stopped for `sig`; InterruptedBy reads it back.
inline absl::Status InterruptedError(int sig, absl::string_view message) {
  absl::Status s = absl::CancelledError(message);
  s.SetPayload(internal_interrupt::kPayload, absl::Cord(absl::StrCat(sig)));
  return s;
}

// The signal behind an InterruptedError (0 for any other status). A
// Cancelled status re-made with a new message but without the payload still
// counts when this process caught a signal.
inline int InterruptedBy(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kCancelled) return 0;
  int sig = 0;
  if (auto p = s.GetPayload(internal_interrupt::kPayload); p.has_value() && absl::SimpleAtoi(p->Flatten(), &sig)) {
    return sig;
  }
  return InterruptSignal();
}

// `s` with `prefix` before and `suffix` after its message, payloads kept.
inline absl::Status AnnotateStatus(const absl::Status& s, absl::string_view prefix, absl::string_view suffix = "") {
  if (s.ok()) return s;
  absl::Status out(s.code(), absl::StrCat(prefix, s.message(), suffix));
  s.ForEachPayload([&](absl::string_view key, const absl::Cord& value) { out.SetPayload(key, value); });
  return out;
}

}  // namespace util
}  // namespace diffmem

#endif  // DIFFMEM_UTIL_INTERRUPT_H_
