// The trace header and the zstd magic; see header.h.
#include "format/header.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "format/go_quote.h"

namespace gentrace::format {
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
  explicit RuneReader(Input* in) : in_(in) {}
  // The next rune (kEof at the end); errors are sticky in status().
  char32_t Peek() {
    if (have_) return rune_;
    absl::StatusOr<size_t> n = in_->Ensure(4);
    if (!n.ok()) {
      status_ = n.status();
      return kEof;
    }
    if (*n == 0) return kEof;
    DecodedRune d = DecodeRune(
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
  Input* in_;
  bool have_ = false;
  char32_t rune_ = 0;
  size_t width_ = 0;
  absl::Status status_;
};

}  // namespace

std::string EncodeHeader(Version v) {
  std::string h = absl::StrCat("go 1.", static_cast<int>(v), " trace");
  h.append(3, '\0');
  return h;
}

bool LooksLikeZstd(absl::Span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  return bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic, 4) == 0;
}

absl::StatusOr<Version> ReadHeader(Input* in) {
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
  if (v == 22) return Version::kGo122;
  if (v == 23) return Version::kGo123;
  if (v == 11 || v == 19 || v == 21) {
    return absl::UnimplementedError(absl::StrCat(
        "trace is from go 1.", v,
        ", which used the old trace format; gentrace reads only the go 1.22 "
        "and go 1.23 formats"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown or unsupported trace version go 1.", v));
}

absl::StatusOr<Version> ParseHeader(absl::Span<const uint8_t> bytes) {
  Input in(bytes);
  return ReadHeader(&in);
}

}  // namespace gentrace::format
