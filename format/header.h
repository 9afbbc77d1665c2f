// The 16-byte trace header: "go 1.22 trace" or "go 1.23 trace" followed by
// three NUL bytes (Go's internal/trace/version).
#ifndef GENTRACE_FORMAT_HEADER_H_
#define GENTRACE_FORMAT_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/spec.h"

namespace gentrace::format {

inline constexpr size_t kHeaderSize = 16;

// The header bytes for version v (always kHeaderSize bytes).
std::string EncodeHeader(Version v);

// Parses the first kHeaderSize bytes of a trace. Errors say what was found:
// not a Go trace, a zstd stream, or a Go version this library cannot read
// (Go 1.11-1.21 traces use an older format).
absl::StatusOr<Version> ParseHeader(absl::Span<const uint8_t> bytes);

// True if bytes start with the zstd frame magic (28 B5 2F FD).
bool LooksLikeZstd(absl::Span<const uint8_t> bytes);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_HEADER_H_
