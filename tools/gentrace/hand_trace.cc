// See hand_trace.h.
#include "tools/gentrace/hand_trace.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gentrace::tools {

std::string ExpandEventTimes(absl::string_view text) {
  std::string out;
  int64_t last = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "EventBatch ")) {
      const size_t p = line.find("time=");
      absl::string_view t = line.substr(p + 5);
      t = t.substr(0, t.find(' '));
      EXPECT_TRUE(absl::SimpleAtoi(t, &last)) << line;
    }
    if (absl::ConsumePrefix(&line, "@")) {
      const size_t sp = line.find(' ');
      int64_t t = 0;
      EXPECT_TRUE(absl::SimpleAtoi(line.substr(0, sp), &t)) << line;
      line.remove_prefix(sp + 1);
      const size_t name_end = line.find(' ');
      absl::StrAppend(&out, line.substr(0, name_end), " dt=", t - last);
      if (name_end != absl::string_view::npos) {
        absl::StrAppend(&out, line.substr(name_end));
      }
      out += "\n";
      last = t;
      continue;
    }
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace gentrace::tools
