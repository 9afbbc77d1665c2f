// Go-compatible quoting, unquoting and rune classification; see go_quote.h.
#include "format/go_quote.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace gentrace::format {
namespace {

#include "format/go_isprint_table.inc"

constexpr char kLowerHex[] = "0123456789abcdef";

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Whether v lies in one of the [lo, hi] pairs of a sorted pair table.
template <typename T, size_t N>
bool InRangePairs(const T (&table)[N], T v) {
  // The first entry >= v is either the end of the pair holding v or the
  // start of a pair that might start exactly at v.
  const T* it = std::lower_bound(std::begin(table), std::end(table), v);
  if (it == std::end(table)) return false;
  const size_t i = static_cast<size_t>(it - std::begin(table));
  return table[i & ~size_t{1}] <= v && v <= table[i | 1];
}

template <size_t N>
bool InList(const uint16_t (&table)[N], uint16_t v) {
  return std::binary_search(std::begin(table), std::end(table), v);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ValidRune(uint32_t r) {
  return r <= 0x10FFFF && !(r >= 0xD800 && r <= 0xDFFF);
}

void AppendHexEscape(char kind, uint32_t v, int digits, std::string* out) {
  out->push_back('\\');
  out->push_back(kind);
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
    out->push_back(kLowerHex[(v >> shift) & 0xF]);
  }
}

// Appends one decoded rune the way strconv.Quote escapes it.
void AppendEscapedRune(char32_t r, std::string* out) {
  if (r == '"' || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if (GoIsPrint(r)) {
    AppendRune(r, out);
    return;
  }
  switch (r) {
    case '\a':
      out->append("\\a");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\v':
      out->append("\\v");
      return;
    default:
      break;
  }
  if (r < ' ' || r == 0x7F) {
    AppendHexEscape('x', r, 2, out);
  } else if (r < 0x10000) {
    AppendHexEscape('u', r, 4, out);
  } else {
    AppendHexEscape('U', r, 8, out);
  }
}

absl::Status SyntaxError(size_t offset, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid quoted string: %s at byte %d", what, offset));
}

// Decodes the character or escape at s[*pos] of a string quoted with `quote`
// (' or ") and appends its bytes; advances *pos past it.
absl::Status UnquoteOne(absl::string_view s, char quote, size_t* pos,
                        std::string* out) {
  const size_t start = *pos;
  const uint8_t c = static_cast<uint8_t>(s[start]);
  if (c >= 0x80) {
    // Go decodes and re-encodes: bytes that are not UTF-8 become U+FFFD.
    DecodedRune d = DecodeRune(s.substr(start));
    AppendRune(d.rune, out);
    *pos += d.width;
    return absl::OkStatus();
  }
  if (c != '\\') {
    out->push_back(static_cast<char>(c));
    *pos += 1;
    return absl::OkStatus();
  }
  if (start + 1 >= s.size()) {
    return SyntaxError(start, "backslash at the end");
  }
  const char e = s[start + 1];
  *pos = start + 2;
  switch (e) {
    case 'a':
      out->push_back('\a');
      return absl::OkStatus();
    case 'b':
      out->push_back('\b');
      return absl::OkStatus();
    case 'f':
      out->push_back('\f');
      return absl::OkStatus();
    case 'n':
      out->push_back('\n');
      return absl::OkStatus();
    case 'r':
      out->push_back('\r');
      return absl::OkStatus();
    case 't':
      out->push_back('\t');
      return absl::OkStatus();
    case 'v':
      out->push_back('\v');
      return absl::OkStatus();
    case '\\':
      out->push_back('\\');
      return absl::OkStatus();
    case 'x':
    case 'u':
    case 'U': {
      const int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      uint32_t v = 0;
      for (int j = 0; j < digits; ++j) {
        const size_t at = start + 2 + j;
        const int h = at < s.size() ? HexValue(s[at]) : -1;
        if (h < 0) {
          return SyntaxError(
              start,
              absl::StrFormat("\\%c escape needs %d hex digits", e, digits));
        }
        v = (v << 4) | static_cast<uint32_t>(h);
      }
      *pos = start + 2 + digits;
      if (e == 'x') {
        out->push_back(static_cast<char>(v));  // one byte, maybe not UTF-8
        return absl::OkStatus();
      }
      if (!ValidRune(v)) {
        return SyntaxError(
            start, absl::StrFormat("%s is not a valid Unicode code point",
                                   s.substr(start, 2 + digits)));
      }
      AppendRune(v, out);
      return absl::OkStatus();
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
      uint32_t v = static_cast<uint32_t>(e - '0');
      for (int j = 0; j < 2; ++j) {
        const size_t at = start + 2 + j;
        if (at >= s.size() || s[at] < '0' || s[at] > '7') {
          return SyntaxError(start, "octal escape needs 3 octal digits");
        }
        v = (v << 3) | static_cast<uint32_t>(s[at] - '0');
      }
      *pos = start + 4;
      if (v > 255) {
        return SyntaxError(
            start, absl::StrFormat("octal escape \\%o is above \\377", v));
      }
      out->push_back(static_cast<char>(v));
      return absl::OkStatus();
    }
    case '\'':
    case '"':
      if (e != quote) {
        return SyntaxError(
            start, absl::StrFormat("\\%c is not an escape inside %c...%c", e,
                                   quote, quote));
      }
      out->push_back(e);
      return absl::OkStatus();
    default:
      break;
  }
  if (static_cast<uint8_t>(e) >= 0x20 && static_cast<uint8_t>(e) < 0x7F) {
    return SyntaxError(start, absl::StrFormat("unknown escape \\%c", e));
  }
  return SyntaxError(start, absl::StrFormat("unknown escape \\ followed by "
                                            "byte 0x%02x",
                                            static_cast<uint8_t>(e)));
}

}  // namespace

DecodedRune DecodeRune(absl::string_view s) {
  if (s.empty()) return {kRuneError, 0};
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t b0 = p[0];
  if (b0 < 0x80) return {b0, 1};
  // The allowed range of the second byte depends on the first; it rules out
  // overlong forms, surrogates and values above U+10FFFF.
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  char32_t r;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    r = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    r = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    r = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {kRuneError, 1};
  }
  if (s.size() < len || p[1] < lo || p[1] > hi) return {kRuneError, 1};
  r = (r << 6) | (p[1] & 0x3F);
  for (size_t i = 2; i < len; ++i) {
    if (!IsContinuation(p[i])) return {kRuneError, 1};
    r = (r << 6) | (p[i] & 0x3F);
  }
  return {r, len};
}

void AppendRune(char32_t r, std::string* out) {
  if (!ValidRune(r)) r = kRuneError;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

bool GoIsSpace(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200A;
  }
}

bool GoIsPrint(char32_t r) {
  if (r <= 0xFF) {
    // Latin-1: ASCII space through '~', and U+00A1 through U+00FF except
    // the soft hyphen U+00AD.
    if (r >= 0x20 && r <= 0x7E) return true;
    if (r >= 0xA1) return r != 0xAD;
    return false;
  }
  if (r < 0x10000) {
    const auto v = static_cast<uint16_t>(r);
    return InRangePairs(kPrint16, v) && !InList(kNotPrint16, v);
  }
  if (!InRangePairs(kPrint32, static_cast<uint32_t>(r))) return false;
  // Exceptions are only listed for the supplementary multilingual plane.
  if (r >= 0x20000) return true;
  return !InList(kNotPrint32, static_cast<uint16_t>(r - 0x10000));
}

absl::string_view GoTrimSpace(absl::string_view s) {
  size_t pos = 0;
  size_t begin = s.size();
  size_t end = 0;  // one past the last non-space rune
  while (pos < s.size()) {
    DecodedRune d = DecodeRune(s.substr(pos));
    if (!GoIsSpace(d.rune)) {
      if (begin == s.size()) begin = pos;
      end = pos + d.width;
    }
    pos += d.width;
  }
  if (begin >= end) return absl::string_view();
  return s.substr(begin, end - begin);
}

void AppendGoQuoted(absl::string_view s, std::string* out) {
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t pos = 0;
  while (pos < s.size()) {
    const auto c = static_cast<uint8_t>(s[pos]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {  // fast path
      out->push_back(static_cast<char>(c));
      ++pos;
      continue;
    }
    DecodedRune d = DecodeRune(s.substr(pos));
    if (d.width == 1 && d.rune == kRuneError) {
      AppendHexEscape('x', c, 2, out);  // a byte that is not UTF-8
    } else {
      AppendEscapedRune(d.rune, out);
    }
    pos += d.width;
  }
  out->push_back('"');
}

std::string GoQuote(absl::string_view s) {
  std::string out;
  AppendGoQuoted(s, &out);
  return out;
}

absl::StatusOr<std::string> GoUnquote(absl::string_view s) {
  if (s.empty()) {
    return absl::InvalidArgumentError(
        "invalid quoted string: empty, expected \"...\" or `...`");
  }
  const char quote = s[0];
  if (quote != '"' && quote != '`' && quote != '\'') {
    return SyntaxError(0, "does not start with \", ` or '");
  }
  std::string out;
  if (quote == '`') {
    const size_t close = s.find('`', 1);
    if (close == absl::string_view::npos) {
      return SyntaxError(s.size(), "missing closing `");
    }
    if (close + 1 != s.size()) {
      return SyntaxError(close + 1, "text after the closing `");
    }
    // Raw strings keep every byte but carriage returns.
    for (char c : s.substr(1, close - 1)) {
      if (c != '\r') out.push_back(c);
    }
    return out;
  }
  size_t pos = 1;
  while (pos < s.size() && s[pos] != quote) {
    if (s[pos] == '\n') return SyntaxError(pos, "literal newline");
    absl::Status st = UnquoteOne(s, quote, &pos, &out);
    if (!st.ok()) return st;
    if (quote == '\'') break;  // a rune literal holds one character
  }
  if (pos >= s.size()) {
    return SyntaxError(s.size(), absl::StrFormat("missing closing %c", quote));
  }
  if (s[pos] != quote) {
    return SyntaxError(pos, "more than one character in a rune literal");
  }
  if (pos + 1 != s.size()) {
    return SyntaxError(pos + 1,
                       absl::StrFormat("text after the closing %c", quote));
  }
  return out;
}

}  // namespace gentrace::format
