// Files for tests: a fresh path under the test's temporary directory, and
// reading a file whole; and whether this is a sanitizer build.
#ifndef GENTRACE_BASE_TEST_FILES_H_
#define GENTRACE_BASE_TEST_FILES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace gentrace::testing {

// A path no other call in this process returns: $TEST_TMPDIR (or /tmp),
// then "<pid>-<counter>-<name>". Nothing is created.
std::string TempPath(absl::string_view name);

// The bytes of the file at path; "" if it cannot be read.
std::string ReadFile(const std::string& path);

// True in a build with ASan or TSan (their allocators reserve far more
// address space than they use, and they take a core dump's place).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace gentrace::testing

#endif  // GENTRACE_BASE_TEST_FILES_H_
