// Replays a fuzz target's seed corpus (tests/fuzz_corpus/<target>/, which
// also holds every input a fuzzer once crashed on) in the ordinary test
// build, so those inputs stay fixed without clang or libFuzzer. Linked with
// one fuzz target's source; FUZZ_CORPUS_DIR names its corpus.
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

TEST(FuzzReplayTest, SeedCorpusPasses) {
  const std::string dir = FUZZ_CORPUS_DIR;
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << "no corpus at " << dir;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') files.push_back(dir + "/" + e->d_name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir;
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
  // Some inputs that are not in any corpus: the empty one, lone bytes.
  LLVMFuzzerTestOneInput(nullptr, 0);
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = static_cast<uint8_t>(b);
    LLVMFuzzerTestOneInput(&byte, 1);
  }
}

}  // namespace
