// Small pieces of Go semantics the reader has to reproduce bit for bit so
// that its events, timestamps and error messages agree with Go's
// internal/trace: float-to-int conversion as the amd64 Go compiler does it,
// and the %v spellings of the parser's status enums. (Go's event names,
// header and batch framing are format's: format/spec.h, header.h, batch.h.)
#ifndef GENTRACE_READER_GO_COMPAT_H_
#define GENTRACE_READER_GO_COMPAT_H_

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "format/spec.h"

namespace gentrace::reader {

// Go's `int64(f)` on amd64 (CVTTSD2SQ): truncation toward zero, and the
// "integer indefinite" value INT64_MIN for NaN and anything out of range.
// C++ leaves those cases undefined, so they are spelled out.
inline int64_t GoFloat64ToInt64(double f) {
  if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) {
    return INT64_MIN;
  }
  return static_cast<int64_t>(f);
}

// Nanoseconds per tick as Go computes it from a Frequency event's ticks per
// second: 1 / (f / 1e9). A frequency of 0 gives +Inf, as in Go.
inline double GoNsPerTick(uint64_t ticks_per_second) {
  return 1.0 / (static_cast<double>(ticks_per_second) / 1e9);
}

// Go's frequency.mul: ticks to nanoseconds, Time(float64(t) * f).
inline int64_t GoTicksToNs(uint64_t ticks, double ns_per_tick) {
  return GoFloat64ToInt64(static_cast<double>(ticks) * ns_per_tick);
}

// Two's-complement addition, which Go's int64 arithmetic is.
inline int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) +
                              static_cast<uint64_t>(b));
}

// The String() methods of go122.GoStatus and go122.ProcStatus (note that
// ProcSyscallAbandoned prints as "Bad" there).
absl::string_view GoStatusString(uint8_t status);
absl::string_view ProcStatusString(uint8_t status);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_GO_COMPAT_H_
