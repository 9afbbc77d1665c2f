// A traced program for symbolize_test: the same work traced with its
// stacks symbolized (as always), or, with "bare", with every stack frame
// written as a bare PC, as a crash dump writes them
// (internal::SetBareStacksForTesting):
//
//   symbolize_program OUT [bare]
//
// The work: logs and regions from a function called directly, from one
// inlined into it, and from a comparison function glibc's qsort calls
// (frames in the C library), each log with its own message.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "tracer/gentrace.h"
#include "tracer/internal/stack_table.h"

namespace {

int g_sink = 0;

__attribute__((always_inline)) inline void InlinedLog(int i) {
  gentrace::Log("symbolize", absl::StrCat("inlined ", i));
  g_sink += i;
}

__attribute__((noinline)) void Work(int i) {
  gentrace::ScopedRegion region("work");
  gentrace::Log("symbolize", absl::StrCat("direct ", i));
  InlinedLog(i);
}

int g_compares = 0;

int Compare(const void* a, const void* b) {
  if (g_compares++ < 3) {
    gentrace::Log("symbolize", absl::StrCat("compare ", g_compares));
  }
  return *static_cast<const int*>(a) - *static_cast<const int*>(b);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: symbolize_program OUT [bare]\n");
    return 2;
  }
  const bool bare = argc > 2 && std::string(argv[2]) == "bare";
  gentrace::internal::SetBareStacksForTesting(bare);
  gentrace::Options options;
  options.path = argv[1];
  if (absl::Status s = gentrace::Start(options); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  for (int i = 0; i < 3; ++i) Work(i);
  int values[] = {5, 3, 9, 1, 7};
  std::qsort(values, 5, sizeof(int), &Compare);
  if (absl::Status s = gentrace::Stop(); !s.ok()) {
    std::fprintf(stderr, "stop: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return g_sink == 3 ? 0 : 1;
}
