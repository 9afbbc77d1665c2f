// Trace format detection and conversion; see convert.h.
#include "tools/convert.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "format/header.h"
#include "format/raw_event.h"
#include "format/raw_writer.h"
#include "format/text.h"

namespace gentrace::tools {
namespace {

using format::ByteSink;
using format::ByteSource;

// How much input is looked at to tell the format, and kept in memory while
// a binary trace streams.
constexpr size_t kSniffSize = 1 << 16;
constexpr size_t kFlushSize = 1 << 16;

// Serves `prefix` (already read from `rest`), then the rest of `rest`.
class PrefixSource : public ByteSource {
 public:
  PrefixSource(std::string prefix, ByteSource* rest)
      : prefix_(std::move(prefix)), rest_(rest) {}
  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) override {
    if (pos_ < prefix_.size()) {
      const size_t k = std::min(n, prefix_.size() - pos_);
      std::memcpy(dst, prefix_.data() + pos_, k);
      pos_ += k;
      return k;
    }
    return rest_->Read(dst, n);
  }

 private:
  std::string prefix_;
  size_t pos_ = 0;
  ByteSource* rest_;
};

// Reads up to n bytes, fewer only at the end of the input.
absl::StatusOr<std::string> ReadPrefix(ByteSource* in, size_t n) {
  std::string out(n, '\0');
  size_t have = 0;
  while (have < n) {
    absl::StatusOr<size_t> r =
        in->Read(reinterpret_cast<uint8_t*>(out.data()) + have, n - have);
    if (!r.ok()) return r.status();
    if (*r == 0) break;
    have += *r;
  }
  out.resize(have);
  return out;
}

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

bool LooksBinary(absl::string_view head) {
  return head.substr(0, 5) == "go 1.";
}

absl::Status ZstdError() {
  return absl::UnimplementedError(
      "input is zstd-compressed, which gentrace convert does not read yet; "
      "decompress it first (zstd -d -c IN > IN.trace)");
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

// binary -> binary: every event re-encoded with minimal varints, in the
// same flat model as binary -> text (so whatever converts to text also
// converts to binary). A batch's size is recomputed only if it was right,
// i.e. matched the bytes up to the next batch; otherwise it is kept, so
// broken traces stay broken in the same way.
class BinaryNormalizer {
 public:
  explicit BinaryNormalizer(ByteSink* out) : out_(out) {}

  absl::Status Run(ByteSource* in) {
    format::RawReader reader(in);
    absl::StatusOr<format::Version> v = reader.ReadHeader();
    if (!v.ok()) return v.status();
    absl::Status st = out_->Write(format::EncodeHeader(*v));
    format::RawEvent ev;
    while (st.ok()) {
      const uint64_t start = reader.offset();
      absl::StatusOr<bool> more = reader.Next(&ev);
      if (!more.ok()) {
        // Write what came before, sizes as given.
        absl::Status ignored = EndBatch(start, /*complete=*/false);
        return more.status();
      }
      if (!*more) {
        st = EndBatch(start, /*complete=*/true);
        break;
      }
      st = Add(ev, start, reader.offset());
    }
    if (!st.ok()) return st;
    return out_->Flush();
  }

 private:
  absl::Status Add(const format::RawEvent& ev, uint64_t start, uint64_t end) {
    const bool is_batch = ev.type == format::kEvEventBatch ||
                          ev.type == format::kEvExperimentalBatch;
    if (is_batch) {
      absl::Status st = EndBatch(start, /*complete=*/true);
      if (!st.ok()) return st;
    }
    scratch_.clear();
    absl::Status st = format::AppendRawEvent(ev, &scratch_);
    if (!st.ok()) return st;
    if (ev.type == format::kEvEventBatch) {
      open_ = true;
      batch_ = ev;
      payload_start_ = end;
      payload_.clear();
      return absl::OkStatus();
    }
    if (open_) {
      payload_.append(scratch_);
      // Past the written size, or past what any batch may hold: the size
      // was wrong, so it stays as written and nothing more needs holding.
      const uint64_t original = end - payload_start_;
      if (original > batch_.args[3] || original > format::kMaxBatchPayload) {
        return EndBatch(end, /*complete=*/false);
      }
      return absl::OkStatus();
    }
    return out_->Write(scratch_);
  }

  // Writes the open batch, if any: header, then its held events. `end` is
  // where its payload ended in the input.
  absl::Status EndBatch(uint64_t end, bool complete) {
    if (!open_) return absl::OkStatus();
    open_ = false;
    if (complete && end - payload_start_ == batch_.args[3]) {
      batch_.args[3] = payload_.size();
    }
    scratch_.clear();
    absl::Status st = format::AppendRawEvent(batch_, &scratch_);
    if (st.ok()) st = out_->Write(scratch_);
    if (st.ok()) st = out_->Write(payload_);
    payload_.clear();
    return st;
  }

  ByteSink* out_;
  std::string scratch_;
  bool open_ = false;  // an EventBatch whose events are being held
  format::RawEvent batch_;
  uint64_t payload_start_ = 0;  // input offset after its header
  std::string payload_;         // its events, re-encoded
};

// text -> text: reprinted in Go's layout.
absl::Status NormalizeText(absl::string_view text, int first_line,
                           ByteSink* out) {
  format::TextReader reader(text, first_line);
  absl::StatusOr<format::Version> v = reader.ReadHeader();
  if (!v.ok()) return v.status();
  std::string buf;
  format::TextWriter writer(*v, &buf);
  format::RawEvent ev;
  absl::Status st;
  for (;;) {
    absl::StatusOr<bool> more = reader.Next(&ev);
    if (!more.ok()) {
      st = more.status();
      break;
    }
    if (!*more) break;
    st = writer.Write(ev);
    if (!st.ok()) break;
    if (buf.size() >= kFlushSize) {
      st = out->Write(buf);
      buf.clear();
      if (!st.ok()) return st;
    }
  }
  absl::Status wst = out->Write(buf);
  if (wst.ok()) wst = out->Flush();
  return st.ok() ? wst : st;
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
  if (format::LooksLikeZstd(Bytes(input))) return ZstdError();
  if (LooksBinary(input)) return TraceFormat::kBinary;
  int first_line = 1;
  absl::StatusOr<absl::string_view> text = TextPart(input, &first_line);
  if (!text.ok()) return text.status();
  return TraceFormat::kText;
}

absl::Status Convert(ByteSource* in, ByteSink* out, TraceFormat to) {
  absl::StatusOr<std::string> head = ReadPrefix(in, kSniffSize);
  if (!head.ok()) return head.status();
  if (format::LooksLikeZstd(Bytes(*head))) return ZstdError();
  if (head->empty()) {
    return absl::InvalidArgumentError("empty input: no trace to convert");
  }
  if (LooksBinary(*head)) {
    PrefixSource source(*std::move(head), in);
    if (to == TraceFormat::kText) return format::BinaryToText(&source, out);
    BinaryNormalizer normalizer(out);
    return normalizer.Run(&source);
  }
  // NUL bytes do not occur in text (data is quoted): do not read all of a
  // large binary file of some other kind.
  if (head->find('\0') != std::string::npos) return Unrecognized();
  // Text is read whole, into one buffer (no copies: text can be large).
  std::string input = *std::move(head);
  for (;;) {
    const size_t old = input.size();
    input.resize(old + kSniffSize);
    absl::StatusOr<size_t> n =
        in->Read(reinterpret_cast<uint8_t*>(input.data()) + old, kSniffSize);
    if (!n.ok()) return n.status();
    input.resize(old + *n);
    if (*n == 0) break;
  }
  int first_line = 1;
  absl::StatusOr<absl::string_view> text = TextPart(input, &first_line);
  if (!text.ok()) return text.status();
  if (to == TraceFormat::kBinary) {
    return format::TextToBinary(*text, out, first_line);
  }
  return NormalizeText(*text, first_line, out);
}

}  // namespace gentrace::tools
