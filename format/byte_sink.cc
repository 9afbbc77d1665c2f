// ByteSink implementations; see byte_sink.h.
#include "format/byte_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace gentrace::format {
namespace {

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::Status(err == ENOSPC ? absl::StatusCode::kResourceExhausted
                                    : absl::StatusCode::kDataLoss,
                      absl::StrCat(what, ": ", std::strerror(err)));
}

bool IsPipeOrSocket(int fd) {
  struct stat st;
  return fstat(fd, &st) != 0 || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
}

}  // namespace

int WriteFully(int fd, const void* p, size_t n, size_t* written) {
  const char* c = static_cast<const char*>(p);
  size_t done = 0;
  int err = 0;
  while (done < n) {
    const ssize_t w = write(fd, c + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (written != nullptr) *written = done;
  return err;
}

ScopedSigpipeBlock::ScopedSigpipeBlock() {
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask_);
  changed_mask_ = sigismember(&old_mask_, SIGPIPE) != 1;
  if (changed_mask_) {
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
}

ScopedSigpipeBlock::~ScopedSigpipeBlock() {
  if (!changed_mask_) return;
  if (!was_pending_) {
    // Consume the SIGPIPE a write raised, so that unblocking cannot
    // deliver it.
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    const timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

absl::Status StringSink::Write(absl::Span<const uint8_t> bytes) {
  out_->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  AddWritten(bytes.size());
  return absl::OkStatus();
}

absl::Status CallbackSink::Write(absl::Span<const uint8_t> bytes) {
  AddWritten(bytes.size());
  return fn_(bytes);
}

FdSink::FdSink(int fd, bool owned, Options options)
    : fd_(fd),
      owned_(owned),
      may_raise_sigpipe_(IsPipeOrSocket(fd)),
      buffer_size_(options.buffer_size),
      name_(options.name.empty() ? absl::StrCat("fd ", fd)
                                 : std::move(options.name)) {
  buf_.reserve(buffer_size_);
}

FdSink::~FdSink() { (void)Close(); }

absl::StatusOr<std::unique_ptr<FdSink>> FdSink::Create(const std::string& path,
                                                       absl::string_view what,
                                                       Options options) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot create ", what, " ", path, ": ", std::strerror(errno)));
  }
  if (options.name.empty()) options.name = path;
  return std::make_unique<FdSink>(fd, /*owned=*/true, std::move(options));
}

absl::StatusOr<std::unique_ptr<FdSink>> FdSink::Open(const std::string& path) {
  const Options buffered{64 << 10, ""};
  if (path == "-") {
    return std::make_unique<FdSink>(STDOUT_FILENO, /*owned=*/false,
                                    Options{buffered.buffer_size, "stdout"});
  }
  return Create(path, "file", buffered);
}

absl::Status FdSink::WriteFd(const uint8_t* p, size_t n) {
  size_t written = 0;
  int err;
  if (may_raise_sigpipe_) {
    ScopedSigpipeBlock no_sigpipe;
    err = WriteFully(fd_, p, n, &written);
  } else {
    err = WriteFully(fd_, p, n, &written);
  }
  AddWritten(written);
  if (err != 0) return ErrnoStatus(name_, err);
  return absl::OkStatus();
}

absl::Status FdSink::Write(absl::Span<const uint8_t> bytes) {
  if (fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(name_, ": write after Close"));
  }
  if (buf_.size() + bytes.size() <= buffer_size_) {
    buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return absl::OkStatus();
  }
  if (absl::Status st = Flush(); !st.ok()) return st;
  if (bytes.size() >= buffer_size_) return WriteFd(bytes.data(), bytes.size());
  buf_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return absl::OkStatus();
}

absl::Status FdSink::Flush() {
  if (buf_.empty()) return absl::OkStatus();
  absl::Status st =
      WriteFd(reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size());
  buf_.clear();
  return st;
}

absl::Status FdSink::Close() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status st = Flush();
  if (owned_ && close(fd_) != 0 && st.ok()) st = ErrnoStatus(name_, errno);
  fd_ = -1;
  return st;
}

}  // namespace gentrace::format
