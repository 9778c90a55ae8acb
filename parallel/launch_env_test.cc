#include "parallel/launch_env.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace diffmem {
namespace parallel {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ExpandHostListTest, PlainNamesAndRanges) {
  using V = std::vector<std::string>;
  EXPECT_EQ(*ExpandHostList("localhost"), V({"localhost"}));
  EXPECT_EQ(*ExpandHostList("a,b"), V({"a", "b"}));
  EXPECT_EQ(*ExpandHostList("node[01-03,7],gpu2"), V({"node01", "node02", "node03", "node7", "gpu2"}));
  EXPECT_EQ(*ExpandHostList("n[8-11]"), V({"n8", "n9", "n10", "n11"}));
  EXPECT_EQ(*ExpandHostList("r[1-2]n[1-2].x"), V({"r1n1.x", "r1n2.x", "r2n1.x", "r2n2.x"}));
  EXPECT_EQ(*ExpandHostList("c[098-100]"), V({"c098", "c099", "c100"}));
}

TEST(ExpandHostListTest, MalformedListsAreErrors) {
  for (const char* bad : {"n[1-", "n]1[", "n[3-1]", "n[a-b]", "a,,b", "", "n[[1]]", "n[]"}) {
    EXPECT_FALSE(ExpandHostList(bad).ok()) << bad;
  }
}

TEST(ReadLaunchEnvTest, NothingSetIsASingleProcess) {
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env({{"HOME", "/root"}}));
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
}

TEST(ReadLaunchEnvTest, TorchrunVariables) {
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env(
      {{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29500"}}));
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(e->has_value());
  const LaunchEnv& v = **e;
  EXPECT_EQ(v.rank, 3);
  EXPECT_EQ(v.world_size, 8);
  EXPECT_EQ(v.local_rank, 1);
  EXPECT_EQ(v.master_addr, "10.0.0.2");
  EXPECT_EQ(v.master_port, 29500);
  EXPECT_EQ(v.source, "torchrun");
}

TEST(ReadLaunchEnvTest, TorchrunErrorsNameTheVariable) {
  auto message = [](std::map<std::string, std::string> vars) {
    absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env(std::move(vars)));
    return e.ok() ? std::string("ok") : std::string(e.status().message());
  };
  EXPECT_NE(message({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}).find("RANK=2"),
            std::string::npos);
  EXPECT_NE(message({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK"), std::string::npos);
  EXPECT_NE(message({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(message({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("MASTER_PORT"), std::string::npos);
  EXPECT_NE(message({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT"),
            std::string::npos);
  EXPECT_EQ(message({{"RANK", "0"}, {"WORLD_SIZE", "1"}}), "ok");  // one rank needs no rendezvous
}

TEST(ReadLaunchEnvTest, SlurmVariablesUseTheFirstHostAndAJobPort) {
  // A task of `srun -n 8` over 4 nodes, 2 each.
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env({{"SLURM_PROCID", "5"},
                                                                  {"SLURM_STEP_NUM_TASKS", "8"},
                                                                  {"SLURM_LOCALID", "1"},
                                                                  {"SLURM_NODEID", "2"},
                                                                  {"SLURM_STEP_TASKS_PER_NODE", "2(x4)"},
                                                                  {"SLURM_JOB_NODELIST", "gpu[07-10]"},
                                                                  {"SLURM_JOB_ID", "123456"}}));
  ASSERT_TRUE(e.ok()) << e.status();
  const LaunchEnv& v = **e;
  EXPECT_EQ(v.rank, 5);
  EXPECT_EQ(v.world_size, 8);
  EXPECT_EQ(v.local_rank, 1);
  EXPECT_EQ(v.local_world_size, 2);
  EXPECT_EQ(v.master_addr, "gpu07");
  EXPECT_EQ(v.master_port, 20000 + 123456 % 20000);
  EXPECT_EQ(v.source, "slurm");
}

TEST(ReadLaunchEnvTest, SlurmStepVariablesWinOverTheJobs) {
  // A 4-task job's srun step of 2 tasks on the second and third node.
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env({{"SLURM_PROCID", "1"},
                                                                  {"SLURM_NTASKS", "4"},
                                                                  {"SLURM_STEP_NUM_TASKS", "2"},
                                                                  {"SLURM_JOB_NODELIST", "n[1-3]"},
                                                                  {"SLURM_STEP_NODELIST", "n[2-3]"},
                                                                  {"MASTER_PORT", "4000"}}));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)->world_size, 2);
  EXPECT_EQ((*e)->master_addr, "n2");
  EXPECT_EQ((*e)->master_port, 4000);
}

TEST(ReadLaunchEnvTest, ABatchScriptIsOneProcessNotRankZero) {
  // What sbatch --ntasks=2 gives the batch script itself (no srun step).
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env({{"SLURM_PROCID", "0"},
                                                                  {"SLURM_NTASKS", "2"},
                                                                  {"SLURM_LOCALID", "0"},
                                                                  {"SLURM_JOB_NODELIST", "vm"},
                                                                  {"SLURM_JOB_ID", "7"}}));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->has_value());
}

TEST(ReadLaunchEnvTest, LocalWorldSize) {
  auto local = [](std::map<std::string, std::string> vars) {
    absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env(std::move(vars)));
    return e.ok() && e->has_value() ? (*e)->local_world_size : -1;
  };
  EXPECT_EQ(local({{"RANK", "0"}, {"WORLD_SIZE", "1"}}), 1);
  EXPECT_EQ(local({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"LOCAL_WORLD_SIZE", "4"}}), 4);
  const std::map<std::string, std::string> step = {
      {"SLURM_PROCID", "0"}, {"SLURM_STEP_NUM_TASKS", "1"}, {"SLURM_STEP_TASKS_PER_NODE", "4(x2),3"}};
  for (const auto& [node, tasks] : std::vector<std::pair<std::string, int>>{{"0", 4}, {"1", 4}, {"2", 3}}) {
    std::map<std::string, std::string> vars = step;
    vars["SLURM_NODEID"] = node;
    EXPECT_EQ(local(vars), tasks) << "node " << node;
  }
  std::map<std::string, std::string> bad = step;
  bad["SLURM_STEP_TASKS_PER_NODE"] = "4(x";
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(Env(bad));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("SLURM_STEP_TASKS_PER_NODE"), std::string::npos);
  EXPECT_EQ(*ExpandPerNodeCounts("2"), std::vector<int>({2}));
  EXPECT_EQ(*ExpandPerNodeCounts("1(x3),2"), std::vector<int>({1, 1, 1, 2}));
  EXPECT_FALSE(ExpandPerNodeCounts("").ok());
  EXPECT_FALSE(ExpandPerNodeCounts("0").ok());
  EXPECT_FALSE(ExpandPerNodeCounts("2(x0)").ok());
}

TEST(ReadLaunchEnvTest, TorchrunVariablesWinOverSlurms) {
  absl::StatusOr<std::optional<LaunchEnv>> e = ReadLaunchEnv(
      Env({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}}));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->source, "torchrun");
  EXPECT_EQ((*e)->world_size, 1);
}

TEST(ReadLaunchEnvTest, SlurmWithoutAPortSourceIsAnError) {
  absl::StatusOr<std::optional<LaunchEnv>> e =
      ReadLaunchEnv(Env({{"SLURM_PROCID", "0"}, {"SLURM_STEP_NUM_TASKS", "2"}, {"SLURM_JOB_NODELIST", "a"}}));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("MASTER_PORT"), std::string::npos);
}

TEST(VisibleDeviceForRankTest, EachLocalRankGetsItsOwnGpu) {
  EXPECT_EQ(*VisibleDeviceForRank(std::nullopt, 3), "3");
  EXPECT_EQ(*VisibleDeviceForRank(std::string("4,5,6,7"), 1), "5");
  EXPECT_EQ(*VisibleDeviceForRank(std::string("GPU-ab12,GPU-cd34"), 1), "GPU-cd34");
  EXPECT_EQ(*VisibleDeviceForRank(std::string("2"), 1), "2");  // the scheduler bound one GPU to this task
  absl::StatusOr<std::string> bad = VisibleDeviceForRank(std::string("0,1"), 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("local rank 2"), std::string::npos);
}

}  // namespace
}  // namespace parallel
}  // namespace diffmem
