// Where the tracer's bytes go: a file, a caller's file descriptor, or a
// callback, optionally zstd-compressed with one frame per generation.
//
// The sinks themselves are format/'s byte layer (format/byte_sink.h,
// format/zstd.h); this header only names the interface the tracer uses and
// builds the destinations Options describes, with the tracer's error texts.
//
// Sinks are used by the tracer's writer thread only (one thread at a
// time). A sink that fails returns the error; the tracer then stops tracing
// and Stop() reports it.
#ifndef GENTRACE_TRACER_INTERNAL_SINK_H_
#define GENTRACE_TRACER_INTERNAL_SINK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/byte_sink.h"

namespace gentrace::internal {

// The tracer writes whole generations and calls EndGeneration() after the
// last byte of each, so a compressed file cut after it decompresses to
// whole generations.
using Sink = format::ByteSink;

// Creates (truncates) the file at path; unbuffered (the writer hands over
// whole batches). Error: "cannot create trace file <path>: <strerror>".
absl::StatusOr<std::unique_ptr<Sink>> MakeFileSink(const std::string& path);
// Writes to fd, which stays open and owned by the caller. Errors name it
// "trace fd N".
std::unique_ptr<Sink> MakeFdSink(int fd);
// Hands each chunk of bytes to fn; a non-OK return is a sink failure.
std::unique_ptr<Sink> MakeCallbackSink(
    std::function<absl::Status(absl::Span<const uint8_t>)> fn);
// Compresses into inner with zstd at `level`, one frame per generation.
absl::StatusOr<std::unique_ptr<Sink>> MakeZstdSink(std::unique_ptr<Sink> inner,
                                                   int level);

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_SINK_H_
