// Trace sinks; see sink.h.
#include "tracer/internal/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gentrace::internal {
namespace {

absl::Status ErrnoStatus(const char* what, int err) {
  return absl::Status(err == ENOSPC ? absl::StatusCode::kResourceExhausted
                                    : absl::StatusCode::kDataLoss,
                      absl::StrCat(what, ": ", std::strerror(err)));
}

class FdSink : public Sink {
 public:
  FdSink(int fd, bool owned, std::string name)
      : fd_(fd), owned_(owned), name_(std::move(name)) {}
  ~FdSink() override {
    if (owned_ && fd_ >= 0) close(fd_);
  }

  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    const uint8_t* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(name_.c_str(), errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      written_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    }
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (owned_ && fd_ >= 0) {
      int fd = fd_;
      fd_ = -1;
      if (close(fd) != 0) return ErrnoStatus(name_.c_str(), errno);
    }
    return absl::OkStatus();
  }

  uint64_t bytes_written() const override {
    return written_.load(std::memory_order_relaxed);
  }

 private:
  int fd_;
  bool owned_;
  std::string name_;
  std::atomic<uint64_t> written_{0};
};

class CallbackSink : public Sink {
 public:
  explicit CallbackSink(
      std::function<absl::Status(absl::Span<const uint8_t>)> fn)
      : fn_(std::move(fn)) {}
  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    written_.fetch_add(bytes.size(), std::memory_order_relaxed);
    return fn_(bytes);
  }
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t bytes_written() const override {
    return written_.load(std::memory_order_relaxed);
  }

 private:
  std::function<absl::Status(absl::Span<const uint8_t>)> fn_;
  std::atomic<uint64_t> written_{0};
};

class ZstdSink : public Sink {
 public:
  ZstdSink(std::unique_ptr<Sink> inner, ZSTD_CCtx* cctx)
      : inner_(std::move(inner)), cctx_(cctx), out_(ZSTD_CStreamOutSize()) {}
  ~ZstdSink() override { ZSTD_freeCCtx(cctx_); }

  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
    while (in.pos < in.size) {
      absl::Status s = Step(&in, ZSTD_e_continue);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status EndGeneration() override {
    ZSTD_inBuffer in{nullptr, 0, 0};
    for (;;) {
      size_t left = 0;
      absl::Status s = Step(&in, ZSTD_e_end, &left);
      if (!s.ok()) return s;
      if (left == 0) break;
    }
    return inner_->EndGeneration();
  }

  absl::Status Close() override { return inner_->Close(); }
  uint64_t bytes_written() const override { return inner_->bytes_written(); }

 private:
  absl::Status Step(ZSTD_inBuffer* in, ZSTD_EndDirective mode,
                    size_t* left = nullptr) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t r = ZSTD_compressStream2(cctx_, &out, in, mode);
    if (ZSTD_isError(r)) {
      return absl::InternalError(
          absl::StrCat("zstd compression failed: ", ZSTD_getErrorName(r)));
    }
    if (left != nullptr) *left = r;
    if (out.pos > 0)
      return inner_->Write(absl::MakeConstSpan(out_.data(), out.pos));
    return absl::OkStatus();
  }

  std::unique_ptr<Sink> inner_;
  ZSTD_CCtx* cctx_;
  std::vector<uint8_t> out_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::Status(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("cannot create trace file ", path, ": ",
                                     std::strerror(errno)));
  }
  return std::unique_ptr<Sink>(new FdSink(fd, true, path));
}

std::unique_ptr<Sink> MakeFdSink(int fd) {
  return std::unique_ptr<Sink>(
      new FdSink(fd, false, absl::StrCat("trace fd ", fd)));
}

std::unique_ptr<Sink> MakeCallbackSink(
    std::function<absl::Status(absl::Span<const uint8_t>)> fn) {
  return std::unique_ptr<Sink>(new CallbackSink(std::move(fn)));
}

absl::StatusOr<std::unique_ptr<Sink>> MakeZstdSink(std::unique_ptr<Sink> inner,
                                                   int level) {
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    return absl::InvalidArgumentError(
        absl::StrCat("zstd level ", level, " is outside [", ZSTD_minCLevel(),
                     ", ", ZSTD_maxCLevel(), "]"));
  }
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return absl::ResourceExhaustedError("ZSTD_createCCtx");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  return std::unique_ptr<Sink>(new ZstdSink(std::move(inner), cctx));
}

}  // namespace gentrace::internal
