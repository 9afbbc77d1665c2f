// ByteSink implementations; see byte_sink.h.
#include "format/byte_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace gentrace::format {

FdSink::FdSink(int fd, bool owned, size_t buffer_size)
    : fd_(fd), owned_(owned), buffer_size_(buffer_size) {
  buf_.reserve(buffer_size_);
}

FdSink::~FdSink() { (void)Close(); }

absl::StatusOr<std::unique_ptr<FdSink>> FdSink::Open(const std::string& path) {
  if (path == "-") return std::make_unique<FdSink>(1, false);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  return std::make_unique<FdSink>(fd, true);
}

absl::Status FdSink::WriteFd(absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(absl::StrCat("write: ", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FdSink::Write(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("write after Close");
  if (buf_.size() + data.size() <= buffer_size_) {
    buf_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status st = Flush();
  if (!st.ok()) return st;
  if (data.size() >= buffer_size_) return WriteFd(data);
  buf_.append(data.data(), data.size());
  return absl::OkStatus();
}

absl::Status FdSink::Flush() {
  if (buf_.empty()) return absl::OkStatus();
  absl::Status st = WriteFd(buf_);
  buf_.clear();
  return st;
}

absl::Status FdSink::Close() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status st = Flush();
  if (owned_ && close(fd_) != 0 && st.ok()) {
    st = absl::DataLossError(absl::StrCat("close: ", std::strerror(errno)));
  }
  fd_ = -1;
  return st;
}

}  // namespace gentrace::format
