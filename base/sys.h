// Small system helpers with one home: the calling thread's kernel id, errno
// as text, and reading a small file (a /proc or /sys entry) whole.
#ifndef GENTRACE_BASE_SYS_H_
#define GENTRACE_BASE_SYS_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace gentrace::base {

// The calling thread's kernel thread id (gettid). Async-signal-safe.
pid_t GetTid();

// The symbolic name of an errno value ("EACCES"), or "errno N" for one
// without a name here.
std::string ErrnoName(int err);

// "EACCES: Permission denied": the name and strerror's text, for errors
// where the name helps the reader look the cause up.
std::string ErrnoText(int err);

// Reads the file at `path` whole, up to `limit` bytes (the rest is cut
// off). Returns "" if it cannot be opened or read: for files whose absence
// is an answer (/proc and /sys entries, optional settings). Retries EINTR.
std::string ReadSmallFile(const std::string& path, size_t limit = 1 << 20);

}  // namespace gentrace::base

#endif  // GENTRACE_BASE_SYS_H_
