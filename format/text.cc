// Go's raw text trace format; see text.h.
#include "format/text.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "format/go_quote.h"
#include "format/raw_writer.h"

namespace gentrace::format {
namespace {

constexpr absl::string_view kFrameArgNames[4] = {"pc", "func", "file", "line"};

// Output is handed to the sink in pieces of about this size.
constexpr size_t kFlushSize = 1 << 16;

// Whether the rune at s[pos] is white space (Go's unicode.IsSpace); sets
// *width to its length. ASCII, nearly all of a trace, skips decoding.
inline bool SpaceAt(absl::string_view s, size_t pos, size_t* width) {
  const auto c = static_cast<uint8_t>(s[pos]);
  if (c < 0x80) {
    *width = 1;
    return c == ' ' || (c >= '\t' && c <= '\r');
  }
  const DecodedRune d = DecodeRune(s.substr(pos));
  *width = d.width;
  return GoIsSpace(d.rune);
}

// The first token of s and what follows it, split as Go's raw text reader
// splits: tokens end at white space or '#', and a '#' where a token would
// start makes the rest of the line a comment (no token).
std::pair<absl::string_view, absl::string_view> ReadToken(absl::string_view s) {
  size_t pos = 0;
  size_t width = 0;
  while (pos < s.size()) {
    if (s[pos] == '#') return {};
    if (!SpaceAt(s, pos, &width)) break;
    pos += width;
  }
  const size_t start = pos;
  if (start == s.size()) return {};
  while (pos < s.size() && s[pos] != '#') {
    if (SpaceAt(s, pos, &width)) break;
    pos += width;
  }
  return {s.substr(start, pos - start), s.substr(pos)};
}

bool AllSpace(absl::string_view s) {
  size_t pos = 0;
  size_t width = 0;
  while (pos < s.size()) {
    if (!SpaceAt(s, pos, &width)) return false;
    pos += width;
  }
  return true;
}

// Go's strconv.ParseUint(s, 10, 64): decimal digits only, no sign, no
// underscores, at most 2^64-1.
bool ParseDecimal(absl::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (x > (~uint64_t{0} - d) / 10) return false;
    x = x * 10 + d;
  }
  *v = x;
  return true;
}

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

// Parses `name=value` arguments with exactly the given names, in order, and
// appends their values. `what` names the event (or frame) for errors.
absl::Status ReadArgs(absl::string_view s, const absl::string_view* names,
                      size_t count, int line, absl::string_view what,
                      std::vector<uint64_t>* args) {
  for (size_t i = 0; i < count; ++i) {
    auto [tok, rest] = ReadToken(s);
    if (tok.empty()) {
      return LineError(
          line,
          absl::StrFormat(
              "%s: missing argument \"%s\"%s", what, names[i],
              i == 0 ? "" : absl::StrCat(" after \"", names[i - 1], "\"")));
    }
    const size_t eq = tok.find('=');
    if (eq == absl::string_view::npos) {
      return LineError(
          line, absl::StrFormat("%s: malformed argument \"%s\": expected "
                                "%s=<value>",
                                what, tok, names[i]));
    }
    const absl::string_view name = tok.substr(0, eq);
    const absl::string_view value = tok.substr(eq + 1);
    if (name != names[i]) {
      return LineError(
          line, absl::StrFormat("%s: expected argument \"%s\", got \"%s\"",
                                what, names[i], name));
    }
    uint64_t v = 0;
    if (!ParseDecimal(value, &v)) {
      return LineError(
          line, absl::StrFormat("%s: argument %s: invalid value \"%s\" "
                                "(expected an unsigned decimal integer below "
                                "2^64)",
                                what, name, value));
    }
    args->push_back(v);
    s = rest;
  }
  if (!AllSpace(s)) {
    return LineError(
        line, absl::StrFormat("%s: unexpected text after the last argument: "
                              "\"%s\"",
                              what, GoTrimSpace(s)));
  }
  return absl::OkStatus();
}

// Whether `line` is a data line ("data=..." with optional spaces) and, if
// so, the text after the '='.
bool SplitDataLine(absl::string_view line, absl::string_view* literal) {
  const size_t eq = line.find('=');
  if (eq == absl::string_view::npos) return false;
  if (GoTrimSpace(line.substr(0, eq)) != "data") return false;
  *literal = GoTrimSpace(line.substr(eq + 1));
  return true;
}

// The number of lines before byte `pos` of `s`, plus one.
int LineNumberAt(absl::string_view s, size_t pos) {
  int n = 1;
  for (size_t i = 0; i < pos && i < s.size(); ++i) n += s[i] == '\n';
  return n;
}

}  // namespace

TextReader::TextReader(absl::string_view text, int first_line)
    : text_(text), line_(first_line - 1) {}

bool TextReader::NextLine(absl::string_view* line, int* number) {
  if (has_pending_) {
    has_pending_ = false;
    *line = pending_;
    *number = pending_number_;
    return true;
  }
  while (pos_ < text_.size()) {
    // Lines end at '\n'; a '\r' before it is dropped (Go's bufio.ScanLines).
    size_t end = text_.find('\n', pos_);
    if (end == absl::string_view::npos) end = text_.size();
    absl::string_view l = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    ++line_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (ReadToken(l).first.empty()) continue;  // blank or comment
    *line = l;
    *number = line_;
    return true;
  }
  return false;
}

absl::StatusOr<Version> TextReader::ReadHeader() {
  absl::string_view line;
  int number = 0;
  if (!NextLine(&line, &number)) {
    return absl::InvalidArgumentError(
        "empty text trace: expected a header line \"Trace Go1.22\" or "
        "\"Trace Go1.23\"");
  }
  auto [trace, rest] = ReadToken(line);
  auto [go_version, tail] = ReadToken(rest);
  uint64_t minor = 0;
  if (trace != "Trace" || go_version.substr(0, 4) != "Go1." ||
      !ParseDecimal(go_version.substr(4), &minor)) {
    return LineError(
        number, absl::StrFormat("expected the header line \"Trace Go1.22\" or "
                                "\"Trace Go1.23\", got \"%s\"",
                                GoTrimSpace(line)));
  }
  if (minor != 22 && minor != 23) {
    return LineError(number,
                     absl::StrFormat("unsupported trace version Go1.%d: "
                                     "gentrace reads Go1.22 and Go1.23",
                                     minor));
  }
  if (!AllSpace(tail)) {
    return LineError(number,
                     absl::StrFormat("unexpected text after the header: \"%s\"",
                                     GoTrimSpace(tail)));
  }
  return minor == 22 ? Version::kGo122 : Version::kGo123;
}

absl::Status TextReader::ReadData(const EventSpec& spec, RawEvent* ev) {
  absl::string_view line;
  int number = 0;
  if (!NextLine(&line, &number)) return absl::OkStatus();  // empty data
  absl::string_view literal;
  if (!SplitDataLine(line, &literal)) {
    // No data line: the data is empty (see text.h). The line is the next
    // event's.
    has_pending_ = true;
    pending_ = line;
    pending_number_ = number;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> data = GoUnquote(literal);
  if (!data.ok()) {
    return LineError(
        number, absl::StrCat(spec.name, " data: ", data.status().message()));
  }
  ev->data = *std::move(data);
  return absl::OkStatus();
}

absl::StatusOr<bool> TextReader::Next(RawEvent* ev) {
  absl::string_view line;
  int number = 0;
  if (!NextLine(&line, &number)) return false;
  event_line_ = number;
  ev->type = kEvNone;
  ev->args.clear();
  ev->data.clear();
  auto [name, rest] = ReadToken(line);
  std::optional<uint8_t> type = LookupEventByName(name);
  if (!type.has_value()) {
    return LineError(number, absl::StrFormat("unknown event \"%s\"", name));
  }
  const EventSpec& spec = *LookupSpec(*type);
  ev->type = *type;
  absl::Status st = ReadArgs(rest, spec.arg_names.data(), spec.num_args, number,
                             spec.name, &ev->args);
  if (!st.ok()) return st;
  if (spec.is_stack) {
    // Frames are read line by line, so nothing is reserved from the
    // unchecked nframes.
    const uint64_t nframes = ev->args[1];
    for (uint64_t f = 0; f < nframes; ++f) {
      absl::string_view frame;
      int frame_number = 0;
      if (!NextLine(&frame, &frame_number)) {
        return LineError(number,
                         absl::StrFormat("%s: the text ends after %d of its "
                                         "nframes=%d frame lines",
                                         spec.name, f, nframes));
      }
      st = ReadArgs(frame, kFrameArgNames, 4, frame_number,
                    absl::StrFormat("%s frame %d", spec.name, f), &ev->args);
      if (!st.ok()) return st;
    }
  }
  if (spec.has_data) {
    st = ReadData(spec, ev);
    if (!st.ok()) return st;
  }
  return true;
}

TextWriter::TextWriter(Version v, std::string* out) : out_(out) {
  absl::StrAppend(out_, "Trace ", VersionTextName(v), "\n");
}

absl::Status TextWriter::Write(const RawEvent& ev) {
  const EventSpec* spec = LookupSpec(ev.type);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid event type %d", ev.type));
  }
  // The same shape checks as the binary writer, so that text we write can
  // be converted back.
  if (ev.args.size() < spec->num_args ||
      (!spec->is_stack && ev.args.size() != spec->num_args) ||
      (spec->is_stack &&
       ((ev.args.size() - spec->num_args) % 4 != 0 ||
        (ev.args.size() - spec->num_args) / 4 != ev.args[1]))) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %d argument values do not match its spec",
                        spec->name, ev.args.size()));
  }
  if (!spec->has_data && !ev.data.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s carries no data", spec->name));
  }
  out_->append(spec->name.data(), spec->name.size());
  for (int i = 0; i < spec->num_args; ++i) {
    absl::StrAppend(out_, " ", spec->arg_names[i], "=", ev.args[i]);
  }
  for (size_t i = spec->num_args; i < ev.args.size(); ++i) {
    const size_t k = (i - spec->num_args) % 4;
    absl::StrAppend(out_, k == 0 ? "\n\t" : " ", kFrameArgNames[k], "=",
                    ev.args[i]);
  }
  // Go prints the data line only for non-nil data, and its binary reader
  // leaves empty data nil.
  if (!ev.data.empty()) {
    out_->append("\n\tdata=");
    AppendGoQuoted(ev.data, out_);
  }
  out_->push_back('\n');
  return absl::OkStatus();
}

absl::Status TextToBinary(absl::string_view text, ByteSink* out,
                          int first_line) {
  TextReader reader(text, first_line);
  absl::StatusOr<Version> v = reader.ReadHeader();
  if (!v.ok()) return v.status();
  RawWriter writer(out);
  absl::Status st = writer.WriteHeader(*v);
  RawEvent ev;
  while (st.ok()) {
    absl::StatusOr<bool> more = reader.Next(&ev);
    if (!more.ok()) {
      st = more.status();
      break;
    }
    if (!*more) break;
    st = writer.Write(ev);
    if (!st.ok()) {
      st = LineError(reader.event_line(), st.message());
    }
  }
  // Write out what came before an error too.
  absl::Status fin = writer.Finish();
  return st.ok() ? fin : st;
}

absl::StatusOr<std::string> TextToBinary(absl::string_view text) {
  std::string out;
  StringSink sink(&out);
  absl::Status st = TextToBinary(text, &sink);
  if (!st.ok()) return st;
  return out;
}

namespace {

// Prints every event `reader` (a RawReader or a TextReader) gives as text to
// `out`, in chunks. Returns the first error: the reader's (passed through
// read_error(status, events before it)), the writer's or the sink's.
template <typename Reader, typename ReadError>
absl::Status PrintAsText(Reader* reader, Version v, ByteSink* out,
                         ReadError read_error) {
  std::string buf;
  TextWriter writer(v, &buf);
  RawEvent ev;
  absl::Status st;
  uint64_t events = 0;
  for (;;) {
    absl::StatusOr<bool> more = reader->Next(&ev);
    if (!more.ok()) {
      st = read_error(more.status(), events);
      break;
    }
    if (!*more) break;
    st = writer.Write(ev);
    if (!st.ok()) break;
    ++events;
    if (buf.size() >= kFlushSize) {
      st = out->WriteString(buf);
      buf.clear();
      if (!st.ok()) return st;
    }
  }
  // What came before an error is written too.
  absl::Status wst = out->WriteString(buf);
  if (wst.ok()) wst = out->Flush();
  return st.ok() ? wst : st;
}

}  // namespace

absl::Status BinaryToText(ByteSource* in, ByteSink* out) {
  RawReader reader(in);
  absl::StatusOr<Version> v = reader.ReadHeader();
  if (!v.ok()) return v.status();
  return PrintAsText(&reader, *v, out, [](absl::Status st, uint64_t events) {
    return absl::Status(st.code(), absl::StrFormat("%s (after %d events)",
                                                   st.message(), events));
  });
}

absl::Status BinaryToText(ByteSource* in, std::string* out) {
  StringSink sink(out);
  return BinaryToText(in, &sink);
}

absl::Status NormalizeText(absl::string_view text, ByteSink* out,
                           int first_line) {
  TextReader reader(text, first_line);
  absl::StatusOr<Version> v = reader.ReadHeader();
  if (!v.ok()) return v.status();
  return PrintAsText(&reader, *v, out,
                     [](absl::Status st, uint64_t) { return st; });
}

bool LooksLikeTextTrace(absl::string_view text) {
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const absl::string_view token = ReadToken(text.substr(0, end)).first;
    if (!token.empty()) return token == "Trace";
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return false;
}

std::optional<absl::string_view> TxtarFile(absl::string_view archive,
                                           absl::string_view name,
                                           int* first_line) {
  // A marker is a whole line "-- NAME --" (NAME trimmed of spaces).
  auto marker_name =
      [](absl::string_view line) -> std::optional<absl::string_view> {
    if (line.size() < 6 || line.substr(0, 3) != "-- " ||
        line.substr(line.size() - 3) != " --") {
      return std::nullopt;
    }
    return GoTrimSpace(line.substr(3, line.size() - 6));
  };
  size_t pos = 0;
  size_t start = absl::string_view::npos;  // start of the wanted file
  while (pos < archive.size()) {
    size_t end = archive.find('\n', pos);
    const size_t next =
        end == absl::string_view::npos ? archive.size() : end + 1;
    if (end == absl::string_view::npos) end = archive.size();
    std::optional<absl::string_view> m =
        marker_name(archive.substr(pos, end - pos));
    if (m.has_value() && !m->empty()) {
      if (start != absl::string_view::npos) {
        return archive.substr(start, pos - start);
      }
      if (*m == name) {
        start = next;
        if (first_line != nullptr) *first_line = LineNumberAt(archive, next);
      }
    }
    pos = next;
  }
  if (start == absl::string_view::npos) return std::nullopt;
  return archive.substr(std::min(start, archive.size()));
}

}  // namespace gentrace::format
