// FUZZ_CHECK for the fuzz targets in this directory: a property that must
// hold for every input. On failure it prints what and where and aborts, which
// libFuzzer reports as a crash (and which fails the corpus replay tests).
#ifndef GENTRACE_TESTS_FUZZ_FUZZ_CHECK_H_
#define GENTRACE_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, \
                   __LINE__, #cond);                                   \
      std::fprintf(stderr, __VA_ARGS__);                               \
      std::fprintf(stderr, "\n");                                      \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

#endif  // GENTRACE_TESTS_FUZZ_FUZZ_CHECK_H_
