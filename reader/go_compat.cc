// Go-compatible names; see go_compat.h.
#include "reader/go_compat.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/go_quote.h"
#include "format/spec.h"

namespace gentrace::reader {

std::string GoEventString(uint8_t type) {
  if (type < format::kNumEventTypes) {
    const format::EventSpec* spec = format::LookupSpec(type);
    return spec == nullptr ? std::string() : std::string(spec->name);
  }
  return absl::StrCat("Invalid(", type, ")");
}

absl::string_view GoStatusString(uint8_t status) {
  switch (status) {
    case format::kGoRunnable:
      return "Runnable";
    case format::kGoRunning:
      return "Running";
    case format::kGoSyscall:
      return "Syscall";
    case format::kGoWaiting:
      return "Waiting";
    default:
      return "Bad";
  }
}

absl::string_view ProcStatusString(uint8_t status) {
  switch (status) {
    case format::kProcRunning:
      return "Running";
    case format::kProcIdle:
      return "Idle";
    case format::kProcSyscall:
      return "Syscall";
    default:
      return "Bad";
  }
}

namespace {

// fmt's isSpace: the Unicode spaces fmt's scanner skips (newline included;
// callers treat it apart).
bool FmtIsSpace(char32_t r) {
  static constexpr char32_t kRanges[][2] = {
      {0x0009, 0x000d}, {0x0020, 0x0020}, {0x0085, 0x0085}, {0x00a0, 0x00a0},
      {0x1680, 0x1680}, {0x2000, 0x200a}, {0x2028, 0x2029}, {0x202f, 0x202f},
      {0x205f, 0x205f}, {0x3000, 0x3000}};
  for (const auto& range : kRanges) {
    if (r < range[0]) return false;
    if (r <= range[1]) return true;
  }
  return false;
}

constexpr char32_t kEof = ~char32_t{0};

// A rune reader over an Input with one rune of lookahead, like the
// bufio.Reader (an io.RuneScanner) Go's Fscanf reads from.
class RuneReader {
 public:
  explicit RuneReader(format::Input* in) : in_(in) {}
  // The next rune (kEof at the end); errors are sticky in status().
  char32_t Peek() {
    if (have_) return rune_;
    absl::StatusOr<size_t> n = in_->Ensure(4);
    if (!n.ok()) {
      status_ = n.status();
      return kEof;
    }
    if (*n == 0) return kEof;
    format::DecodedRune d = format::DecodeRune(
        absl::string_view(reinterpret_cast<const char*>(in_->data()), *n));
    rune_ = d.rune;
    width_ = d.width;
    have_ = true;
    return rune_;
  }
  char32_t Next() {
    char32_t r = Peek();
    if (r != kEof) {
      in_->Skip(width_);
      have_ = false;
    }
    return r;
  }
  const absl::Status& status() const { return status_; }

 private:
  format::Input* in_;
  bool have_ = false;
  char32_t rune_ = 0;
  size_t width_ = 0;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<format::Version> ReadGoHeader(format::Input* in) {
  const absl::Status bad =
      absl::InvalidArgumentError("bad file format: not a Go execution trace?");
  RuneReader r(in);
  auto literal = [&](absl::string_view s) {
    for (char c : s) {
      if (r.Next() != static_cast<unsigned char>(c)) return false;
    }
    return true;
  };
  // A space in the format: one or more spaces (not newlines), or the end.
  auto spaces = [&]() {
    char32_t c = r.Peek();
    if (c == kEof) return true;
    if (!FmtIsSpace(c) || c == '\n') return false;
    while (FmtIsSpace(r.Peek()) && r.Peek() != '\n') r.Next();
    return true;
  };
  if (!literal("go") || !spaces() || !literal("1.")) {
    return r.status().ok() ? bad : r.status();
  }
  // %d into a uint32: leading spaces ("\r\n" or "\n" end the scan), then
  // at least one decimal digit.
  for (;;) {
    char32_t c = r.Peek();
    if (c == '\r') {
      r.Next();
      if (r.Peek() == '\n') return bad;
      continue;
    }
    if (c == '\n') return bad;
    if (c == kEof || !FmtIsSpace(c)) break;
    r.Next();
  }
  std::string digits;
  while (r.Peek() >= '0' && r.Peek() <= '9') {
    digits.push_back(static_cast<char>(r.Next()));
  }
  uint64_t v = 0;
  if (digits.empty() || !absl::SimpleAtoi(digits, &v) || v > 0xffffffffu) {
    return r.status().ok() ? bad : r.status();
  }
  if (!spaces() || !literal("trace") ||
      !literal(absl::string_view("\0\0\0", 3))) {
    return r.status().ok() ? bad : r.status();
  }
  if (v == 22) return format::Version::kGo122;
  if (v == 23) return format::Version::kGo123;
  if (v == 11 || v == 19 || v == 21) {
    return absl::UnimplementedError(absl::StrCat(
        "trace is from go 1.", v,
        ", which used the old trace format; gentrace reads only the go 1.22 "
        "and go 1.23 formats"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown or unsupported trace version go 1.", v));
}

}  // namespace gentrace::reader
