#include "util/interrupt.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/status/status.h"

namespace diffmem {
namespace util {
namespace {

TEST(InterruptTest, NothingCaughtBeforeASignal) {
  ClearInterruptForTesting();
  EXPECT_EQ(InterruptSignal(), 0);
  EXPECT_EQ(InterruptedBy(absl::CancelledError("cancelled for another reason")), 0);
  EXPECT_EQ(InterruptedBy(absl::OkStatus()), 0);
}

TEST(InterruptTest, ExitCodesAreTheShells) {
  EXPECT_EQ(InterruptExitCode(SIGINT), 130);
  EXPECT_EQ(InterruptExitCode(SIGTERM), 143);
  EXPECT_EQ(SignalName(SIGINT), "SIGINT");
  EXPECT_EQ(SignalName(SIGTERM), "SIGTERM");
}

TEST(InterruptTest, TheStatusCarriesItsSignalThroughAnAnnotation) {
  ClearInterruptForTesting();
  const absl::Status s = InterruptedError(SIGTERM, "interrupted (SIGTERM) at step 3 of 9");
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(InterruptedBy(s), SIGTERM);
  const absl::Status annotated = AnnotateStatus(s, "rank 1 of 2: ", "; resume with --resume");
  EXPECT_EQ(annotated.message(), "rank 1 of 2: interrupted (SIGTERM) at step 3 of 9; resume with --resume");
  EXPECT_EQ(InterruptedBy(annotated), SIGTERM);
  EXPECT_EQ(InterruptedBy(absl::InternalError("interrupted")), 0);  // only Cancelled counts
}

// In a child process: the handlers are process-wide and the second signal kills.
TEST(InterruptTest, FirstSignalSetsTheFlagAndTheSecondEndsTheProcess) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    InstallInterruptHandlers("interrupt_test");
    if (InterruptSignal() != 0) _exit(10);
    raise(SIGINT);
    if (InterruptSignal() != SIGINT) _exit(11);
    // A copy of the payload-less status of this process still counts.
    if (InterruptedBy(absl::CancelledError("re-made")) != SIGINT) _exit(12);
    raise(SIGTERM);  // the default action now: the process ends here
    _exit(13);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(InterruptTest, TheFirstSignalCaughtIsTheOneReported) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    InstallInterruptHandlers("interrupt_test");
    raise(SIGTERM);
    _exit(InterruptSignal() == SIGTERM ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InterruptTest, ASignalStartedIgnoredStaysIgnored) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGINT, SIG_IGN);  // as a shell starts a background job
    InstallInterruptHandlers("interrupt_test");
    raise(SIGINT);
    if (InterruptSignal() != 0) _exit(1);
    raise(SIGTERM);  // still caught
    _exit(InterruptSignal() == SIGTERM ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace util
}  // namespace diffmem
