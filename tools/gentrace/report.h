// What `gentrace stats` and `gentrace diff` share: one streaming pass of a
// trace through TraceStats, and the pieces of their output (JSON strings,
// durations, tables sized to the terminal).
#ifndef GENTRACE_TOOLS_GENTRACE_REPORT_H_
#define GENTRACE_TOOLS_GENTRACE_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tools/gentrace/trace_stats.h"

namespace gentrace::tools {

// Reads the trace at `path` ("-" for standard input; plain or zstd) once,
// giving every event to `stats`, with a progress line labelled `label` on
// stderr (see terminal.h). Returns why reading stopped early (OK if the
// whole trace was read); `*offset` is then the input byte reading reached,
// or -1 if the file did not open.
absl::Status ReadTraceStats(const std::string& label, const std::string& path,
                            TraceStats* stats, int64_t* offset);

// Appends `s` as a JSON string (ASCII, control and non-ASCII bytes as
// \u00XX).
void AppendJsonString(absl::string_view s, std::string* out);
std::string Json(absl::string_view s);

// "1.234s", "12.3ms", "456.0us", "789ns"; negative durations with a "-".
std::string Dur(int64_t ns);

// "376 B", "19.6 KB", "3.2 MB".
std::string Bytes(uint64_t n);

// A table whose first column takes the width the others leave. Number
// columns are right-aligned, `num_width` wide (narrowed down to 7 before
// the first column goes below 8); a long first cell keeps its end.
class Table {
 public:
  Table(int width, std::vector<std::string> headers, int num_width = 9)
      : width_(width), headers_(std::move(headers)), num_width_(num_width) {}
  bool empty() const { return rows_.empty(); }
  void Row(std::vector<std::string> cells) {
    rows_.push_back(std::move(cells));
  }
  void AppendTo(std::string* out) const;

 private:
  void Line(const std::vector<std::string>& cells, int first, int num,
            std::string* out) const;

  int width_;
  std::vector<std::string> headers_;
  int num_width_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_REPORT_H_
