// Go's raw text trace format (internal/trace/raw TextReader/TextWriter), the
// format of Go's $GOROOT/src/internal/trace/testdata/tests/*.test traces and
// of gentrace's own hand-written test traces:
//
//   Trace Go1.23                                  header line
//   EventBatch gen=1 m=0 time=0 size=0            one event a line
//   Stack id=1 nframes=2                          a Stack is followed by
//   	pc=4096 func=1 file=2 line=10               nframes frame lines
//   	pc=8192 func=3 file=2 line=20
//   String id=1                                   String and
//   	data="main.main"                             ExperimentalBatch by
//                                                 one data line
//
// Each event line is the event's name and its spec's arguments as
// name=value, all of them, in the spec's order (spec.h is the one list).
// Values are unsigned decimal. Tokens are separated by any Unicode white
// space; blank lines and lines whose first token starts with '#' are
// skipped (a '#' later on an event line is an error, as in Go). Data is a Go
// string literal ("...", `...` or '.').
//
// Where this differs from Go's reader:
// * An event with data whose data is empty may have no data line at all.
//   Go's own bin2text writes empty data that way (it prints the line only
//   for non-nil data), so our writer does the same and our reader takes it
//   back; Go's TextReader does not.
// * No line length limit (Go's bufio.Scanner stops at 64 KiB).
// * ExperimentalBatch's exp must fit in a byte, as on the wire.
#ifndef GENTRACE_FORMAT_TEXT_H_
#define GENTRACE_FORMAT_TEXT_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "format/byte_sink.h"
#include "format/byte_source.h"
#include "format/raw_event.h"
#include "format/spec.h"

namespace gentrace::format {

// Parses a text trace event by event. Errors name the line and the problem,
// e.g. `line 7: UserLog: expected argument "task", got "tsk"`.
class TextReader {
 public:
  // `text` must outlive the reader. `first_line` is the number error
  // messages give the first line of `text` (for text cut out of a larger
  // file, such as a txtar archive).
  explicit TextReader(absl::string_view text, int first_line = 1);

  // Reads the header line. Call once, first.
  absl::StatusOr<Version> ReadHeader();

  // Reads the next event into *ev; false at the end of the text.
  absl::StatusOr<bool> Next(RawEvent* ev);

  // The line number of the first line of the event Next() last returned.
  int event_line() const { return event_line_; }

 private:
  // The next line that is not blank or a comment, and its number; false at
  // the end.
  bool NextLine(absl::string_view* line, int* number);
  // Reads the data line of an event with data.
  absl::Status ReadData(const EventSpec& spec, RawEvent* ev);

  absl::string_view text_;
  size_t pos_ = 0;
  int line_ = 0;  // number of the last line taken from text_
  int event_line_ = 0;
  // A line read ahead while looking for a data line that was not there.
  bool has_pending_ = false;
  absl::string_view pending_;
  int pending_number_ = 0;
};

// Writes events as text, byte for byte as Go's TextWriter does.
class TextWriter {
 public:
  // Appends the header line for v to *out (not owned).
  TextWriter(Version v, std::string* out);

  // Appends one event. Fails for an event whose arguments do not match its
  // spec.
  absl::Status Write(const RawEvent& ev);

 private:
  std::string* out_;
};

// Text to binary, as Go's raw Writer writes it (minimal varints), filling in
// "EventBatch ... size=0" sizes (see RawWriterOptions). Errors name the line.
absl::StatusOr<std::string> TextToBinary(absl::string_view text);
// The same, streaming to `out`. On error, `out` holds the events before it.
absl::Status TextToBinary(absl::string_view text, ByteSink* out,
                          int first_line = 1);

// Binary to text, reading `in` as a stream. On error, the output holds the
// events before the bad one, which is often what one wants to look at.
absl::Status BinaryToText(ByteSource* in, ByteSink* out);
absl::Status BinaryToText(ByteSource* in, std::string* out);

// Text to text, reprinted in the canonical layout Go's TextWriter uses;
// batch sizes are kept as written, size=0 included. On error, `out` holds
// the events before it.
absl::Status NormalizeText(absl::string_view text, ByteSink* out,
                           int first_line = 1);

// Whether the first line of `text` that is not blank or a comment starts
// with the token "Trace" (the header line, maybe with an unsupported
// version). For telling text traces from other input.
bool LooksLikeTextTrace(absl::string_view text);

// A file of a txtar archive (Go's internal/txtar, the format of Go's .test
// files): the text after the "-- name --" line up to the next marker line,
// or nullopt if there is no such file. `*first_line`, if not null, receives
// the 1-based line number in `archive` where the file's text starts.
std::optional<absl::string_view> TxtarFile(absl::string_view archive,
                                           absl::string_view name,
                                           int* first_line = nullptr);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_TEXT_H_
