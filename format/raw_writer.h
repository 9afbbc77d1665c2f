// Writes raw events (raw_event.h) as a binary trace, the way Go's
// internal/trace/raw Writer does: the header, then every event with minimal
// varints, no validation beyond the event's shape.
//
// One addition, from gentrace's gotool `text2bin -auto-sizes`: an
// "EventBatch ... size=0" can have its size filled in with the encoded size
// of the events that follow it, so hand-written text traces need not count
// bytes. Nonzero sizes are always written as given, so a test can still
// write a deliberately wrong one.
#ifndef GENTRACE_FORMAT_RAW_WRITER_H_
#define GENTRACE_FORMAT_RAW_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "format/byte_sink.h"
#include "format/raw_event.h"
#include "format/spec.h"

namespace gentrace::format {

struct RawWriterOptions {
  // Replace the size of every EventBatch whose size is 0 with the encoded
  // size of the events after it, up to the next EventBatch or
  // ExperimentalBatch or the end. Such a batch's events are held in memory
  // until that point.
  bool fill_zero_batch_sizes = true;
};

class RawWriter {
 public:
  // `out` is not owned and must outlive the writer.
  explicit RawWriter(ByteSink* out, RawWriterOptions options = {})
      : out_(out), options_(options) {}

  // Writes the 16-byte header. Call once, first.
  absl::Status WriteHeader(Version v);

  // Writes (or, inside a batch whose size is being filled in, holds) one
  // event. Fails for an event whose arguments do not match its spec.
  absl::Status Write(const RawEvent& ev);

  // Writes out a held batch and flushes the sink. Call once, last.
  absl::Status Finish();

 private:
  // Writes the held batch header with its computed size, then its events.
  absl::Status EndHeldBatch();

  ByteSink* out_;
  RawWriterOptions options_;
  std::string scratch_;
  bool holding_ = false;  // a size=0 EventBatch is waiting for its events
  RawEvent held_batch_;
  std::string held_events_;  // encoded events of the held batch
};

// Binary to binary, normalized: every event of `in` re-encoded with minimal
// varints, read as a flat sequence of events (Go's raw reader: no batch
// framing needed, so whatever converts to text also converts here). A
// batch's size is recomputed only if it was right, that is, matched the
// bytes up to the next batch; any other size is kept as written, so a
// broken trace stays broken the same way. On error, `out` holds what came
// before it.
absl::Status NormalizeBinary(ByteSource* in, ByteSink* out);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_RAW_WRITER_H_
