// libFuzzer target: the text trace parser and Go string quoting over
// arbitrary text.
//
// * TextReader must never crash; TextToBinary fails whenever the reader
//   does.
// * For text that converts: text -> binary -> text -> binary is stable (the
//   second binary equals the first, the second text equals the first), and
//   our canonical text reprints as itself.
// * GoUnquote(GoQuote(s)) == s for any bytes s, and whatever GoUnquote
//   accepts quotes and unquotes back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/byte_source.h"
#include "format/go_quote.h"
#include "format/raw_event.h"
#include "format/text.h"
#include "tests/fuzz/fuzz_check.h"

namespace gentrace::format {
namespace {

std::string ToText(const std::string& bin) {
  SpanSource src(absl::MakeConstSpan(
      reinterpret_cast<const uint8_t*>(bin.data()), bin.size()));
  std::string text;
  absl::Status st = BinaryToText(&src, &text);
  FUZZ_CHECK(st.ok(), "our binary does not convert back: %s",
             std::string(st.message()).c_str());
  return text;
}

// Parses all of text; the error, or "" if it parses.
std::string ParseAll(absl::string_view text) {
  TextReader r(text);
  absl::StatusOr<Version> v = r.ReadHeader();
  if (!v.ok()) return std::string(v.status().message());
  RawEvent ev;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&ev);
    if (!more.ok()) return std::string(more.status().message());
    if (!*more) return "";
  }
}

std::string Reprint(absl::string_view text) {
  TextReader r(text);
  absl::StatusOr<Version> v = r.ReadHeader();
  FUZZ_CHECK(v.ok(), "canonical header");
  std::string out;
  TextWriter w(*v, &out);
  RawEvent ev;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&ev);
    FUZZ_CHECK(more.ok(), "canonical text fails: %s",
               std::string(more.status().message()).c_str());
    if (!*more) break;
    FUZZ_CHECK(w.Write(ev).ok(), "reprint");
  }
  return out;
}

void CheckQuoting(absl::string_view s) {
  const std::string q = GoQuote(s);
  absl::StatusOr<std::string> back = GoUnquote(q);
  FUZZ_CHECK(back.ok() && *back == s, "GoUnquote(GoQuote(s)) != s");
  absl::StatusOr<std::string> u = GoUnquote(s);
  if (u.ok()) {
    absl::StatusOr<std::string> again = GoUnquote(GoQuote(*u));
    FUZZ_CHECK(again.ok() && *again == *u, "unquote/quote/unquote");
  }
  (void)GoTrimSpace(s);
}

void CheckText(absl::string_view text) {
  const std::string parse_error = ParseAll(text);
  absl::StatusOr<std::string> bin = TextToBinary(text);
  if (!parse_error.empty()) {
    FUZZ_CHECK(!bin.ok(), "TextToBinary accepts text the reader rejects: %s",
               parse_error.c_str());
    return;
  }
  // The writer may still refuse (an experiment id above 255).
  if (!bin.ok()) return;
  const std::string text2 = ToText(*bin);
  absl::StatusOr<std::string> bin2 = TextToBinary(text2);
  FUZZ_CHECK(bin2.ok(), "our text does not convert: %s",
             std::string(bin2.status().message()).c_str());
  FUZZ_CHECK(*bin2 == *bin, "text -> binary -> text -> binary changed");
  FUZZ_CHECK(ToText(*bin2) == text2, "second text differs");
  FUZZ_CHECK(Reprint(text2) == text2, "canonical text reprints differently");
  (void)TxtarFile(text, "trace");
  (void)LooksLikeTextTrace(text);
}

}  // namespace
}  // namespace gentrace::format

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  gentrace::format::CheckQuoting(input);
  gentrace::format::CheckText(input);
  return 0;
}
