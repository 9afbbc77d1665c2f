// Raw events: a trace as a flat sequence of wire events, batch headers
// included, with no validation and no ordering (Go's internal/trace/raw).
// This is the level of the text format and of `gentrace convert`.
#ifndef GENTRACE_FORMAT_RAW_EVENT_H_
#define GENTRACE_FORMAT_RAW_EVENT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "format/byte_source.h"
#include "format/input.h"
#include "format/spec.h"

namespace gentrace::format {

struct RawEvent {
  uint8_t type = kEvNone;
  // The spec's arguments in order; a Stack event is followed by four values
  // (pc, func, file, line) per frame.
  std::vector<uint64_t> args;
  // The trailing bytes of events whose spec has_data (String,
  // ExperimentalBatch).
  std::string data;
};

// Wire size of an event with minimal varints. An ExperimentalBatch's
// experiment id is one raw byte.
size_t EncodedSize(const RawEvent& ev);

// Appends the wire encoding of ev. Checks the argument count against the
// spec (and, for Stack, against nframes).
absl::Status AppendRawEvent(const RawEvent& ev, std::string* out);

// Reads the wire events of a trace one by one. Errors name the byte offset,
// the event and what was expected.
class RawReader {
 public:
  explicit RawReader(absl::Span<const uint8_t> data) : in_(data) {}
  explicit RawReader(ByteSource* source) : in_(source) {}

  absl::StatusOr<Version> ReadHeader();
  // Reads the next event; false at a clean end of input.
  absl::StatusOr<bool> Next(RawEvent* ev);
  uint64_t offset() const { return in_.offset(); }

 private:
  Input in_;
};

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_RAW_EVENT_H_
