// What a trace file starts with: Go's header "go 1.22 trace" or
// "go 1.23 trace" followed by three NUL bytes (Go's internal/trace/version),
// or, for a compressed trace, zstd's frame magic.
//
// The header is read by Go's rules (version.ReadHeader), with Go's error
// texts, by every reader here: the batch reader, the raw event reader and
// so the trace reader and the converters.
#ifndef GENTRACE_FORMAT_HEADER_H_
#define GENTRACE_FORMAT_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/input.h"
#include "format/spec.h"

namespace gentrace::format {

// The size of the header gentrace and Go write.
inline constexpr size_t kHeaderSize = 16;

// The header bytes for version v (always kHeaderSize bytes).
std::string EncodeHeader(Version v);

// Reads the header at the cursor the way Go does, with
// fmt.Fscanf(r, "go 1.%d trace\x00\x00\x00", &v): each space matches one or
// more (Unicode) spaces, the number may have leading spaces and zeros, so a
// header Go accepts is not always kHeaderSize bytes. Consumes exactly what
// Go consumes. Errors, Go's words: "bad file format: not a Go execution
// trace?" and "unknown or unsupported trace version go 1.N"; for go 1.11,
// 1.19 and 1.21 (Go's older format, which Go reads with a separate parser)
// an Unimplemented error saying that gentrace does not read it.
absl::StatusOr<Version> ReadHeader(Input* in);

// The same over the first bytes of a trace in memory.
absl::StatusOr<Version> ParseHeader(absl::Span<const uint8_t> bytes);

// True if bytes start with the zstd frame magic (28 B5 2F FD).
bool LooksLikeZstd(absl::Span<const uint8_t> bytes);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_HEADER_H_
