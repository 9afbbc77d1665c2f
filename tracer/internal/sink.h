// Where trace bytes go: a file, a caller's file descriptor, or a callback,
// optionally zstd-compressed with one frame per generation.
//
// Sinks are used by the tracer's writer thread only (one thread at a
// time). A sink that fails returns the error; the tracer then stops tracing
// and Stop() reports it.
#ifndef GENTRACE_TRACER_INTERNAL_SINK_H_
#define GENTRACE_TRACER_INTERNAL_SINK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace gentrace::internal {

class Sink {
 public:
  virtual ~Sink() = default;
  virtual absl::Status Write(absl::Span<const uint8_t> bytes) = 0;
  // Called after the last byte of each generation. Compressing sinks end
  // their frame here, so a file cut after it decompresses to whole
  // generations.
  virtual absl::Status EndGeneration() { return absl::OkStatus(); }
  // Flushes and releases the destination (closing it only if owned).
  virtual absl::Status Close() = 0;
  // Bytes handed to the destination so far (after compression). May be
  // called from any thread.
  virtual uint64_t bytes_written() const = 0;
};

// Creates (truncates) the file at path.
absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path);
// Writes to fd, which stays open and owned by the caller.
std::unique_ptr<Sink> MakeFdSink(int fd);
// Hands each chunk of bytes to fn; a non-OK return is a sink failure.
std::unique_ptr<Sink> MakeCallbackSink(
    std::function<absl::Status(absl::Span<const uint8_t>)> fn);
// Compresses into inner with zstd at `level`, one frame per generation.
absl::StatusOr<std::unique_ptr<Sink>> MakeZstdSink(std::unique_ptr<Sink> inner,
                                                   int level);

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_SINK_H_
