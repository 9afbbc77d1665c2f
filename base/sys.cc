// System helpers; see sys.h.
#include "base/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace gentrace::base {

pid_t GetTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

std::string ErrnoName(int err) {
  // glibc 2.32+: the macro's name, or nullptr for a number it does not know.
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : absl::StrCat("errno ", err);
}

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r: returns the text (not always in buf).
  return absl::StrCat(ErrnoName(err), ": ", strerror_r(err, buf, sizeof(buf)));
}

std::string ReadSmallFile(const std::string& path, size_t limit) {
  std::string out;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  while (out.size() < limit) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.clear();
      break;
    }
    if (n == 0) break;
    out.append(buf, std::min(static_cast<size_t>(n), limit - out.size()));
  }
  close(fd);
  return out;
}

}  // namespace gentrace::base
