// Replays the ring file fuzz target's seeds (tests/fuzz_corpus/
// ring_file_fuzz/, which also keeps every input the fuzzer once crashed
// on) in the ordinary test build, plus a few inputs of every shape.
#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

TEST(RingFileFuzzReplayTest, SeedCorpusPasses) {
  const std::string dir = "tests/fuzz_corpus/ring_file_fuzz";
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << "no corpus at " << dir;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name[0] != '.' && name != "BUILD.bazel") {
      files.push_back(dir + "/" + name);
    }
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 4u);
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }
  LLVMFuzzerTestOneInput(nullptr, 0);
  for (int b = 0; b < 256; ++b) {
    const uint8_t bytes[3] = {static_cast<uint8_t>(b), 1, 1};
    LLVMFuzzerTestOneInput(bytes, 3);
  }
}

}  // namespace
