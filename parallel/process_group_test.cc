// Two real processes on the loopback: this test binary is rank 0, and
// re-executes itself as rank 1 (PROCESS_GROUP_TEST_CHILD names its part).

#include "parallel/process_group.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "parallel/local_launcher.h"

namespace diffmem {
namespace parallel {
namespace {

constexpr char kChildVar[] = "PROCESS_GROUP_TEST_CHILD";

LaunchEnv Local(int rank, int port) {
  LaunchEnv e;
  e.rank = rank;
  e.world_size = 2;
  e.master_addr = "127.0.0.1";
  e.master_port = port;
  e.source = "test";
  return e;
}

// Starts this binary as rank 1 doing `part`.
pid_t StartRank1(const std::string& part, int port) {
  const pid_t pid = fork();
  if (pid == 0) {
    setenv(kChildVar, part.c_str(), 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    execl("/proc/self/exe", "process_group_test", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Rank 1's side of each test; returns its exit code.
int Rank1(const std::string& part) {
  const int port = std::atoi(std::getenv("MASTER_PORT"));
  absl::StatusOr<std::shared_ptr<ProcessGroup>> g = ProcessGroup::Connect(Local(1, port), torch::kCPU, std::chrono::seconds(20));
  if (!g.ok()) return 2;
  std::vector<torch::Tensor> t = {torch::full({5}, 2.0f), torch::arange(3, torch::kFloat64)};
  if (!(*g)->AllReduceSum(t).ok()) return 3;
  if (part == "die") _exit(9);  // no goodbye: the socket just closes
  if (part == "hang") std::this_thread::sleep_for(std::chrono::seconds(60));
  return 0;
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(ProcessGroupTest, SumsEachTensorOverRanks) {
  const int port = *FreeLocalPort();
  const pid_t child = StartRank1("sum", port);
  absl::StatusOr<std::shared_ptr<ProcessGroup>> g = ProcessGroup::Connect(Local(0, port), torch::kCPU, std::chrono::seconds(20));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)->rank(), 0);
  EXPECT_EQ((*g)->world_size(), 2);
  EXPECT_EQ((*g)->backend(torch::kCPU), "gloo");
  Replicas r = (*g)->replicas();
  std::vector<torch::Tensor> t = {torch::full({5}, 1.0f), torch::arange(3, torch::kFloat64) * 10};
  ASSERT_TRUE(r.all_reduce_sum(t).ok());
  EXPECT_TRUE(torch::equal(t[0], torch::full({5}, 3.0f))) << t[0];
  EXPECT_TRUE(torch::equal(t[1], torch::arange(3, torch::kFloat64) * 11)) << t[1];
  EXPECT_EQ(WaitExit(child), 0);
}

TEST(ProcessGroupTest, ADeadRankFailsTheNextCollectiveAtOnce) {
  const int port = *FreeLocalPort();
  const pid_t child = StartRank1("die", port);
  absl::StatusOr<std::shared_ptr<ProcessGroup>> g = ProcessGroup::Connect(Local(0, port), torch::kCPU, std::chrono::seconds(60));
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<torch::Tensor> t = {torch::ones({5}), torch::ones({3}, torch::kFloat64)};
  ASSERT_TRUE((*g)->AllReduceSum(t).ok());
  EXPECT_EQ(WaitExit(child), 9);
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status s = (*g)->AllReduceSum(t);
  EXPECT_FALSE(s.ok());
  EXPECT_LT(Since(t0), 30) << "should fail on the closed socket, well before the 60 s timeout";
  EXPECT_NE(s.message().find("rank 0 of 2: all-reduce failed"), std::string::npos) << s;
}

TEST(ProcessGroupTest, AHungRankFailsTheCollectiveAfterTheTimeout) {
  const int port = *FreeLocalPort();
  const pid_t child = StartRank1("hang", port);
  absl::StatusOr<std::shared_ptr<ProcessGroup>> g = ProcessGroup::Connect(Local(0, port), torch::kCPU, std::chrono::seconds(3));
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<torch::Tensor> t = {torch::ones({5}), torch::ones({3}, torch::kFloat64)};
  ASSERT_TRUE((*g)->AllReduceSum(t).ok());
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status s = (*g)->AllReduceSum(t);
  const double waited = Since(t0);
  EXPECT_FALSE(s.ok());
  EXPECT_GE(waited, 2.5);
  EXPECT_LT(waited, 30);
  EXPECT_NE(s.message().find("within 3 s"), std::string::npos) << s;
  kill(child, SIGKILL);
  WaitExit(child);
}

TEST(ProcessGroupTest, AMissingRankFailsTheRendezvousAfterTheTimeout) {
  const int port = *FreeLocalPort();
  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<ProcessGroup>> g = ProcessGroup::Connect(Local(0, port), torch::kCPU, std::chrono::seconds(2));
  EXPECT_FALSE(g.ok());
  EXPECT_LT(Since(t0), 30);
  EXPECT_NE(g.status().message().find("cannot join the process group"), std::string::npos) << g.status();
}

}  // namespace
}  // namespace parallel
}  // namespace diffmem

int main(int argc, char** argv) {
  if (const char* part = std::getenv(diffmem::parallel::kChildVar)) return diffmem::parallel::Rank1(part);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
