// Replays a fuzz target's corpus (tests/fuzz_corpus/<target>/: its seeds and
// every input a fuzzer once crashed on) in the ordinary test build, so those
// inputs stay fixed without clang or libFuzzer, plus a few inputs of every
// shape. Linked with one fuzz target's source by fuzz_target()
// (tests/fuzz/fuzz.bzl), which defines FUZZ_CORPUS_DIR and FUZZ_MIN_SEEDS.
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

TEST(FuzzReplayTest, CorpusPasses) {
  const std::string dir = FUZZ_CORPUS_DIR;
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
  ASSERT_GE(files.size(), size_t{FUZZ_MIN_SEEDS}) << dir;
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    // A violated property aborts the test binary with a FUZZ_CHECK message.
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
  }
}

TEST(FuzzReplayTest, TinyInputsPass) {
  LLVMFuzzerTestOneInput(nullptr, 0);
  for (int b = 0; b < 256; ++b) {
    const uint8_t bytes[3] = {static_cast<uint8_t>(b), 1, 1};
    LLVMFuzzerTestOneInput(bytes, 1);
    LLVMFuzzerTestOneInput(bytes, 3);
  }
}

}  // namespace
