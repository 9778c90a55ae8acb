// LaunchLocalRanks: a data-parallel job on this machine — K copies of a
// command, each with torchrun's variables set (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT = a free port), as
// `//tools:train --nproc=K` re-executes itself. The launcher waits for all;
// when one rank fails the others are sent SIGTERM (SIGKILL after `grace`),
// and the job's exit status is the first failure's (128 + signal for a rank
// killed by a signal), so a broken job never leaves ranks behind or exits 0.
// A rank dies with the launcher (PR_SET_PDEATHSIG), so killing the launcher
// ends the job.
//
// Example:
//   absl::StatusOr<int> code = LaunchLocalRanks({"/proc/self/exe", "--steps=10"}, 2, std::chrono::seconds(10));
//   if (!code.ok()) return code.status();     // could not start
//   return *code;                              // 0 when every rank succeeded

#ifndef DIFFMEM_PARALLEL_LOCAL_LAUNCHER_H_
#define DIFFMEM_PARALLEL_LOCAL_LAUNCHER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace diffmem {
namespace parallel {

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice;
// another process could take it before rank 0 binds it, as with torchrun).
inline absl::StatusOr<int> FreeLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("cannot find a free port on 127.0.0.1: ", why));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

namespace internal_launcher {

inline int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace internal_launcher

// This process's own command line, the executable first as an absolute path
// (/proc/self/exe resolved), for re-executing it as the ranks of a job.
inline absl::StatusOr<std::vector<std::string>> OwnCommandLine() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return absl::UnavailableError(absl::StrCat("/proc/self/exe: ", std::strerror(errno)));
  exe[n] = '\0';
  std::FILE* f = std::fopen("/proc/self/cmdline", "rb");
  if (f == nullptr) return absl::UnavailableError(absl::StrCat("/proc/self/cmdline: ", std::strerror(errno)));
  std::string all;
  char buf[4096];
  for (size_t got; (got = std::fread(buf, 1, sizeof(buf), f)) > 0;) all.append(buf, got);
  std::fclose(f);
  std::vector<std::string> argv;
  for (size_t start = 0; start < all.size();) {
    const size_t end = all.find('\0', start);
    argv.push_back(all.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (argv.empty()) return absl::UnavailableError("/proc/self/cmdline: empty");
  argv[0] = exe;
  return argv;
}

// Runs argv (argv[0]: the executable's path) `nproc` times as ranks 0..nproc-1
// and returns the job's exit status; an error only when a rank cannot start.
inline absl::StatusOr<int> LaunchLocalRanks(const std::vector<std::string>& argv, int nproc,
                                            std::chrono::milliseconds grace) {
  if (nproc < 1) return absl::InvalidArgumentError(absl::StrCat("--nproc=", nproc, ": must be at least 1"));
  if (argv.empty()) return absl::InvalidArgumentError("LaunchLocalRanks: no command");
  absl::StatusOr<int> port = FreeLocalPort();
  if (!port.ok()) return port.status();
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<pid_t> pids;
  const pid_t launcher = getpid();
  std::fflush(nullptr);
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t p : pids) kill(p, SIGKILL);
      for (pid_t p : pids) waitpid(p, nullptr, 0);
      return absl::UnavailableError(absl::StrCat("cannot start rank ", rank, ": fork: ", std::strerror(errno)));
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != launcher) _exit(1);  // the launcher died before prctl
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(*port).c_str(), 1);
      execv(args[0], args.data());
      std::fprintf(stderr, "rank %d: cannot run %s: %s\n", rank, args[0], std::strerror(errno));
      _exit(127);
    }
    pids.push_back(pid);
  }
  int first_failure = 0;
  size_t running = pids.size();
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, first_failure != 0 ? WNOHANG : 0);
    if (pid == 0) {  // ranks still running after a failure
      if (std::chrono::steady_clock::now() >= deadline) {
        for (pid_t& p : pids) {
          if (p > 0) kill(p, SIGKILL);
        }
        deadline = std::chrono::steady_clock::time_point::max();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // no children left
    }
    bool ours = false;
    for (pid_t& p : pids) {
      if (p == pid) {
        p = -1;
        ours = true;
      }
    }
    if (!ours) continue;
    --running;
    const int code = internal_launcher::ExitCode(status);
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      for (pid_t p : pids) {
        if (p > 0) kill(p, SIGTERM);
      }
      deadline = std::chrono::steady_clock::now() + grace;
    }
  }
  return first_failure;
}

}  // namespace parallel
}  // namespace diffmem

#endif  // DIFFMEM_PARALLEL_LOCAL_LAUNCHER_H_
