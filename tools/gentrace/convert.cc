// Trace format detection and conversion; see convert.h.
#include "tools/gentrace/convert.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "format/header.h"
#include "format/raw_writer.h"
#include "format/text.h"
#include "format/zstd.h"

namespace gentrace::tools {
namespace {

using format::ByteSink;
using format::ByteSource;

// Bytes that tell zstd ("\x28\xb5\x2f\xfd") and binary ("go 1.") apart
// from the rest; only these are read before a binary trace streams, so
// that a read error comes after what converts before it.
constexpr size_t kMagicSize = 5;
// How much of other input is looked at before it is read whole as text.
constexpr size_t kSniffSize = 1 << 16;

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

bool LooksBinary(absl::string_view head) {
  return head.substr(0, 5) == "go 1.";
}

absl::Status Unrecognized() {
  return absl::InvalidArgumentError(
      "unrecognized input: not a binary Go trace (\"go 1.2x trace\" header), "
      "a text trace (\"Trace Go1.2x\" line) or a txtar archive with a "
      "\"-- trace --\" file");
}

// The text trace inside `input`: the "trace" file of a txtar archive, or all
// of it. *first_line is where it starts in `input`.
absl::StatusOr<absl::string_view> TextPart(absl::string_view input,
                                           int* first_line) {
  *first_line = 1;
  absl::string_view text = input;
  if (std::optional<absl::string_view> t =
          format::TxtarFile(input, "trace", first_line)) {
    text = *t;
  }
  if (!format::LooksLikeTextTrace(text)) return Unrecognized();
  return text;
}

// Convert() after decompression: `head` is the start of the input (up to
// kMagicSize bytes), already read from `rest`.
absl::Status ConvertPlain(std::string head, ByteSource* rest, ByteSink* out,
                          TraceFormat to) {
  if (head.empty()) {
    return absl::InvalidArgumentError("empty input: no trace to convert");
  }
  const bool binary = LooksBinary(head);
  format::PrefixedSource source(std::move(head), rest);
  if (binary) {
    if (to == TraceFormat::kText) return format::BinaryToText(&source, out);
    return format::NormalizeBinary(&source, out);
  }
  // NUL bytes do not occur in text (data is quoted): do not read all of a
  // large binary file of some other kind.
  absl::StatusOr<std::string> start = format::ReadPrefix(&source, kSniffSize);
  if (!start.ok()) return start.status();
  if (start->find('\0') != std::string::npos) return Unrecognized();
  // Text is read whole.
  format::PrefixedSource text_source(*std::move(start), &source);
  absl::StatusOr<std::string> input = format::ReadAll(&text_source);
  if (!input.ok()) return input.status();
  int first_line = 1;
  absl::StatusOr<absl::string_view> text = TextPart(*input, &first_line);
  if (!text.ok()) return text.status();
  if (to == TraceFormat::kBinary) {
    return format::TextToBinary(*text, out, first_line);
  }
  return format::NormalizeText(*text, out, first_line);
}

}  // namespace

absl::string_view TraceFormatName(TraceFormat f) {
  return f == TraceFormat::kBinary ? "binary" : "text";
}

absl::StatusOr<TraceFormat> ParseTraceFormat(absl::string_view name) {
  if (name == "binary") return TraceFormat::kBinary;
  if (name == "text") return TraceFormat::kText;
  return absl::InvalidArgumentError(absl::StrFormat(
      "unknown format \"%s\" (want \"text\" or \"binary\")", name));
}

absl::StatusOr<TraceFormat> DetectFormat(absl::string_view input) {
  std::string plain;
  if (format::LooksLikeZstd(Bytes(input))) {
    format::ZstdSource z(std::make_unique<format::SpanSource>(Bytes(input)));
    absl::StatusOr<std::string> all = format::ReadAll(&z);
    if (!all.ok()) return all.status();
    plain = *std::move(all);
    input = plain;
  }
  if (LooksBinary(input)) return TraceFormat::kBinary;
  int first_line = 1;
  absl::StatusOr<absl::string_view> text = TextPart(input, &first_line);
  if (!text.ok()) return text.status();
  return TraceFormat::kText;
}

absl::Status Convert(ByteSource* in, ByteSink* out, TraceFormat to) {
  absl::StatusOr<std::string> head = format::ReadPrefix(in, kMagicSize);
  if (!head.ok()) return head.status();
  if (!format::LooksLikeZstd(Bytes(*head))) {
    return ConvertPlain(*std::move(head), in, out, to);
  }
  // Compressed: the same on the decompressed bytes.
  format::ZstdSource plain(
      std::make_unique<format::PrefixedSource>(*std::move(head), in));
  absl::StatusOr<std::string> plain_head =
      format::ReadPrefix(&plain, kMagicSize);
  if (!plain_head.ok()) return plain_head.status();
  return ConvertPlain(*std::move(plain_head), &plain, out, to);
}

}  // namespace gentrace::tools
