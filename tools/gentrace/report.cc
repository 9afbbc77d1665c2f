// See report.h.
#include "tools/gentrace/report.h"

#include <algorithm>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "reader/reader.h"
#include "tools/gentrace/terminal.h"

namespace gentrace::tools {

absl::Status ReadTraceStats(const std::string& label, const std::string& path,
                            TraceStats* stats, int64_t* offset) {
  *offset = -1;
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  if (!r.ok()) return r.status();
  Progress progress(label, Progress::PlainFileSize(path));
  reader::Event ev;
  uint64_t n = 0;
  while ((*r)->ReadEvent(&ev)) {
    stats->Add(ev, (*r)->generation());
    if ((++n & 0xfff) == 0) progress.Update((*r)->bytes_read());
  }
  progress.Done();
  *offset = static_cast<int64_t>((*r)->bytes_read());
  return (*r)->status();
}

void AppendJsonString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Keep the output ASCII (and valid UTF-8) whatever the bytes.
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string Json(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

std::string Dur(int64_t ns) {
  if (ns < 0) {
    // -INT64_MIN does not exist; no trace spans 292 years.
    return absl::StrCat("-", Dur(ns == INT64_MIN ? INT64_MAX : -ns));
  }
  const double v = static_cast<double>(ns);
  if (ns >= 10'000'000'000) return absl::StrFormat("%.1fs", v / 1e9);
  if (ns >= 1'000'000'000) return absl::StrFormat("%.3fs", v / 1e9);
  if (ns >= 1'000'000) return absl::StrFormat("%.1fms", v / 1e6);
  if (ns >= 1'000) return absl::StrFormat("%.1fus", v / 1e3);
  return absl::StrCat(ns, "ns");
}

std::string Bytes(uint64_t n) {
  if (n < 1000) return absl::StrCat(n, " B");
  if (n < 1000 * 1000) return absl::StrFormat("%.1f KB", n / 1e3);
  return absl::StrFormat("%.1f MB", n / 1e6);
}

void Table::AppendTo(std::string* out) const {
  // Narrow the number columns (down to 7, which any Dur() fits) before
  // the name column goes below 8.
  const int n = static_cast<int>(headers_.size() - 1);
  int num = num_width_;
  while (num > 7 && width_ - 2 - n * (num + 1) < 8) --num;
  const int first = std::max(8, width_ - 2 - n * (num + 1));
  Line(headers_, first, num, out);
  for (const auto& r : rows_) Line(r, first, num, out);
}

void Table::Line(const std::vector<std::string>& cells, int first, int num,
                 std::string* out) const {
  std::string name = cells[0];
  if (static_cast<int>(name.size()) > first) {
    // Keep the end, where a function's name has its point, and a short
    // first word ("G12 ").
    size_t keep = name.find(' ');
    keep = keep != std::string::npos && keep < 10 ? keep + 1 : 0;
    if (static_cast<int>(keep) + 3 + 2 > first) keep = 0;
    const size_t tail = std::max(0, first - 3 - static_cast<int>(keep));
    name = name.substr(0, keep) + "..." + name.substr(name.size() - tail);
  }
  std::string line = absl::StrFormat("  %-*s", first, name);
  for (size_t i = 1; i < cells.size(); ++i) {
    absl::StrAppend(&line, absl::StrFormat(" %*s", num, cells[i]));
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  absl::StrAppend(out, line, "\n");
}

}  // namespace gentrace::tools
