// Where trace bytes go: a string, a file descriptor (a file, a pipe, a
// socket, stdout), a callback, or a compressor in front of one of those
// (format/zstd.h). The counterpart of byte_source.h.
//
// One interface for every writer of bytes: the tracer's writer thread (its
// file, fd, callback and zstd sinks), the converters and the command line
// tools. A sink is used by one thread at a time, except bytes_written(),
// which any thread may call.
//
// A trace is written as whole generations; EndGeneration() after the last
// byte of each lets a sink make what it has so far complete on its own
// (a buffered fd sink writes its buffer out, a compressing sink ends its
// frame).
#ifndef GENTRACE_FORMAT_BYTE_SINK_H_
#define GENTRACE_FORMAT_BYTE_SINK_H_

#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace gentrace::format {

class ByteSink {
 public:
  virtual ~ByteSink() = default;

  // Writes all of `bytes`, or fails. After a failure the sink is in an
  // unknown state: stop writing and report the error.
  virtual absl::Status Write(absl::Span<const uint8_t> bytes) = 0;
  // The same for text or a std::string.
  absl::Status WriteString(absl::string_view s) {
    return Write(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                                     s.size()));
  }
  // Hands buffered bytes to the destination.
  virtual absl::Status Flush() { return absl::OkStatus(); }
  // Called after the last byte of each generation: what was written so far
  // can then be read on its own (see the file comment). Defaults to Flush().
  virtual absl::Status EndGeneration() { return Flush(); }
  // Flushes and releases the destination (closing it only if owned).
  // Defaults to Flush().
  virtual absl::Status Close() { return Flush(); }
  // Bytes handed to the destination so far (after compression, excluding
  // what is still buffered). Any thread may call it.
  virtual uint64_t bytes_written() const {
    return written_.load(std::memory_order_relaxed);
  }

 protected:
  void AddWritten(uint64_t n) {
    written_.fetch_add(n, std::memory_order_relaxed);
  }

 private:
  std::atomic<uint64_t> written_{0};
};

// Appends to a caller-owned string.
class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  absl::Status Write(absl::Span<const uint8_t> bytes) override;

 private:
  std::string* out_;
};

// Hands every chunk to a function; its non-OK return is the sink's error.
class CallbackSink : public ByteSink {
 public:
  using Callback = std::function<absl::Status(absl::Span<const uint8_t>)>;
  explicit CallbackSink(Callback fn) : fn_(std::move(fn)) {}
  absl::Status Write(absl::Span<const uint8_t> bytes) override;

 private:
  Callback fn_;
};

// Writes to a file descriptor. With a buffer, small writes are gathered
// into write(2) calls of up to `buffer_size` bytes; without one, every
// Write goes to the descriptor at once (the tracer writes whole 64 KiB
// batches). Short writes and EINTR are retried. Errors name the
// destination: "<name>: <strerror>" (ENOSPC gives kResourceExhausted, any
// other failure kDataLoss).
//
// A pipe or socket whose reader has gone gives EPIPE, never SIGPIPE: the
// write runs with SIGPIPE blocked in the calling thread (ScopedSigpipeBlock)
// and the signal it raised is consumed.
class FdSink : public ByteSink {
 public:
  struct Options {
    // 0: unbuffered.
    size_t buffer_size = 0;
    // Names the destination in errors; default "fd N".
    std::string name;
  };

  // Closes fd at Close() (or destruction) if `owned`; a caller's fd stays
  // open.
  FdSink(int fd, bool owned, Options options);
  // Owned or borrowed fd with a 64 KiB buffer (the command line tools).
  FdSink(int fd, bool owned) : FdSink(fd, owned, Options{64 << 10, ""}) {}
  ~FdSink() override;
  FdSink(const FdSink&) = delete;
  FdSink& operator=(const FdSink&) = delete;

  // Creates or truncates `path` (mode 0644 less the umask). The error is
  // "cannot create <what> <path>: <strerror>" (kInvalidArgument).
  static absl::StatusOr<std::unique_ptr<FdSink>> Create(const std::string& path,
                                                        absl::string_view what,
                                                        Options options);
  // The same with a 64 KiB buffer; "-" is standard output (not closed).
  static absl::StatusOr<std::unique_ptr<FdSink>> Open(const std::string& path);

  absl::Status Write(absl::Span<const uint8_t> bytes) override;
  absl::Status Flush() override;
  // Flushes and, if owned, closes the descriptor, reporting close errors
  // (on some file systems the first sign of a failed write). Later writes
  // fail.
  absl::Status Close() override;

 private:
  absl::Status WriteFd(const uint8_t* p, size_t n);

  int fd_;
  bool owned_;
  bool may_raise_sigpipe_;  // a pipe or a socket
  size_t buffer_size_;
  std::string name_;
  std::string buf_;
};

// The one fd write loop: writes all of [p, p+n) to fd, retrying short
// writes and EINTR. Returns 0, or the errno of the write that failed; sets
// *written (if given) to the bytes written either way. Async-signal-safe
// (crash-time writers can use it). Does not touch SIGPIPE.
int WriteFully(int fd, const void* p, size_t n, size_t* written = nullptr);

// While alive, SIGPIPE is blocked in the calling thread, so that writing to
// a pipe or socket without a reader fails with EPIPE instead of killing the
// process. On destruction a SIGPIPE raised meanwhile is consumed (unless
// one was pending already) and the thread's mask is restored. A thread that
// blocks SIGPIPE itself (gentrace's own threads do) pays one
// pthread_sigmask call.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock();
  ~ScopedSigpipeBlock();
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  bool changed_mask_ = false;  // SIGPIPE was not blocked before
  bool was_pending_ = false;
  sigset_t old_mask_;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_BYTE_SINK_H_
