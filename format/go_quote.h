// Go's string quoting and the bits of Go's Unicode handling the raw text
// trace format depends on: strconv.Quote and strconv.Unquote, strconv.IsPrint,
// unicode.IsSpace and utf8.DecodeRuneInString.
//
// The text format writes String and ExperimentalBatch data as Go-quoted
// strings, so to produce byte-for-byte the text Go's tools produce, quoting
// has to follow Go's rules exactly: which runes count as printable (Go's
// tables, see go_isprint_table.inc), lowercase hex, \x for bytes that are not
// UTF-8, \u/\U for non-printable runes.
#ifndef GENTRACE_FORMAT_GO_QUOTE_H_
#define GENTRACE_FORMAT_GO_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::format {

// U+FFFD, what Go decodes invalid UTF-8 to.
inline constexpr char32_t kRuneError = 0xFFFD;

struct DecodedRune {
  char32_t rune = kRuneError;
  size_t width = 0;  // bytes consumed: 1-4, or 0 for empty input
};

// Decodes the first rune of s as Go's utf8.DecodeRuneInString does: an
// invalid or truncated sequence, an overlong encoding, a surrogate or a value
// above U+10FFFF gives {kRuneError, 1}; empty input gives {kRuneError, 0}.
DecodedRune DecodeRune(absl::string_view s);

// Appends the UTF-8 encoding of r (invalid runes as U+FFFD).
void AppendRune(char32_t r, std::string* out);

// Go's unicode.IsSpace: '\t' '\n' '\v' '\f' '\r' ' ' U+0085 U+00A0 and the
// other Unicode White_Space runes.
bool GoIsSpace(char32_t r);

// Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and
// the ASCII space; not other spaces, controls, format characters, surrogates
// or unassigned code points.
bool GoIsPrint(char32_t r);

// Go's strings.TrimSpace: s without leading and trailing GoIsSpace runes.
absl::string_view GoTrimSpace(absl::string_view s);

// Appends Go's strconv.Quote(s): a double-quoted literal that keeps printable
// UTF-8 as is and escapes everything else.
void AppendGoQuoted(absl::string_view s, std::string* out);
std::string GoQuote(absl::string_view s);

// Go's strconv.Unquote: s must be a complete Go literal with nothing around
// it, one of
//   "..."  interpreted string: escapes \a \b \f \n \r \t \v \\ \" \NNN
//          (octal, <= 255) \xHH \uHHHH \UHHHHHHHH; no literal newline;
//          bytes that are not UTF-8 become U+FFFD;
//   `...`  raw string: taken as is, except that '\r' bytes are dropped;
//   '.'    a single character (rune literal), escapes as above with \'.
// Go reports every problem as "invalid syntax"; the error here says which
// problem and at which byte offset of s.
absl::StatusOr<std::string> GoUnquote(absl::string_view s);

}  // namespace gentrace::format

#endif  // GENTRACE_FORMAT_GO_QUOTE_H_
