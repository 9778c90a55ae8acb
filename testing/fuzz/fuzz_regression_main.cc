// Runs a fuzz target's entry point over every file in the given directories,
// so the seed corpus and every crash ever found are replayed by `bazel test`
// with the ordinary toolchain (libFuzzer itself needs clang: run_fuzzers.sh).

#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    DIR* dir = opendir(argv[i]);
    if (dir == nullptr) {
      std::fprintf(stderr, "fuzz regression: cannot open corpus directory %s\n", argv[i]);
      return 1;
    }
    std::vector<std::string> names;
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    }
    closedir(dir);
    for (const std::string& name : names) {
      std::ifstream in(std::string(argv[i]) + "/" + name, std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      const std::string s = bytes.str();
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
      ++files;
    }
  }
  std::printf("replayed %d inputs\n", files);
  return files > 0 ? 0 : 1;  // an empty corpus means the test is wired wrong
}
