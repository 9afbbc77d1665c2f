// See test_files.h.
#include "base/test_files.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/sys.h"

namespace gentrace::testing {

std::string TempPath(absl::string_view name) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", getpid(), "-",
                      counter.fetch_add(1), "-", name);
}

std::string ReadFile(const std::string& path) {
  return base::ReadSmallFile(path, std::numeric_limits<size_t>::max());
}

}  // namespace gentrace::testing
