// The canonical one-line-per-event text of a trace, shared with the Go
// side (tests/go/gotool.go `dump`): gentrace's reader and Go's reader must
// print the same lines for the same trace. The format is specified in
// gotool.go's file comment:
//
//   <Kind> t=<ns> m=<thread> p=<proc> g=<goroutine> <fields...> stack=<stack>
//
// followed at the end by "END ok" or "END error: <msg>".
#ifndef GENTRACE_READER_DUMP_H_
#define GENTRACE_READER_DUMP_H_

#include <string>

#include "absl/strings/string_view.h"
#include "reader/event.h"
#include "reader/reader.h"

namespace gentrace::reader {

// Appends ev's line (without the newline) to *out.
void AppendDumpLine(const Event& ev, std::string* out);

// Appends s as the dump's <str>: double-quoted, bytes 0x20-0x7e as they
// are except '"' and '\' (backslash-escaped), every other byte as \xHH.
void AppendDumpString(absl::string_view s, std::string* out);

// Appends a stack as the dump's <stack>: [func@file:line pc=N;...].
void AppendDumpStack(const StackView& s, std::string* out);

// The final line for an error: "END error: " and the message on one line
// (newlines become " | ", as gotool's oneLine does).
std::string DumpErrorLine(absl::string_view message);

// Reads every event of *r and appends the whole dump (event lines, then
// the END line) to *out, each line ending in a newline. Returns the number
// of events.
uint64_t DumpAll(Reader* r, std::string* out);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_DUMP_H_
