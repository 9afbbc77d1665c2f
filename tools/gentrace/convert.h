// Trace format conversion behind `gentrace convert`: detects whether input
// is a binary trace, a text trace (Go's raw text format, format/text.h) or a
// txtar archive holding one (Go's testdata/tests/*.test), and converts it to
// binary or text.
//
// Binary input is streamed; text input is read into memory (text traces are
// hand-written or converted test data, and the batch sizes of text going to
// binary need the events after each batch header anyway). Compressed input
// of either kind is decompressed as it streams.
#ifndef GENTRACE_TOOLS_GENTRACE_CONVERT_H_
#define GENTRACE_TOOLS_GENTRACE_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "format/byte_sink.h"
#include "format/byte_source.h"

namespace gentrace::tools {

enum class TraceFormat {
  kBinary,  // Go's wire format, "go 1.2x trace" header
  kText,    // Go's raw text format, "Trace Go1.2x" header line
};

// "binary" / "text".
absl::string_view TraceFormatName(TraceFormat f);
// Parses "binary" or "text".
absl::StatusOr<TraceFormat> ParseTraceFormat(absl::string_view name);

// Converts the trace read from `in` to format `to`, writing to `out`.
// zstd-compressed input (of either format) is decompressed first.
// Converting to the input's own format normalizes it:
// * binary -> binary re-encodes every event with minimal varints and
//   recomputes the batch sizes that were right (format::NormalizeBinary).
//   Like binary -> text, this reads the input as a flat sequence of events
//   (Go's raw reader), so it needs no intact batch framing.
// * text -> text reprints in the canonical layout Go's TextWriter uses;
//   sizes are kept, including size=0 (format::NormalizeText).
// Text -> binary fills in "EventBatch ... size=0" with the size of the
// events after it; nonzero sizes are written as given.
//
// On error, `out` holds what was converted before it. Errors name the byte
// offset (binary) or line (text) and the problem.
absl::Status Convert(format::ByteSource* in, format::ByteSink* out,
                     TraceFormat to);

// The detected format of `input` (after decompression), for callers that
// want to know (e.g. to report it). Same detection as Convert.
absl::StatusOr<TraceFormat> DetectFormat(absl::string_view input);

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_CONVERT_H_
