// Trace header encoding and parsing; see header.h.
#include "format/header.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gentrace::format {

std::string EncodeHeader(Version v) {
  std::string h = absl::StrCat("go 1.", static_cast<int>(v), " trace");
  h.append(3, '\0');
  return h;
}

bool LooksLikeZstd(absl::Span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[4] = {0x28, 0xB5, 0x2F, 0xFD};
  return bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic, 4) == 0;
}

absl::StatusOr<Version> ParseHeader(absl::Span<const uint8_t> bytes) {
  if (LooksLikeZstd(bytes)) {
    return absl::InvalidArgumentError(
        "input is zstd-compressed; decompress it first (zstd -d)");
  }
  absl::string_view s(reinterpret_cast<const char*>(bytes.data()),
                      bytes.size() < kHeaderSize ? bytes.size() : kHeaderSize);
  auto not_a_trace = [&]() {
    return absl::InvalidArgumentError(absl::StrFormat(
        "bad file format: not a Go execution trace (header starts with "
        "\"%s\")",
        absl::CHexEscape(s.substr(0, 16))));
  };
  constexpr absl::string_view kPrefix = "go 1.";
  constexpr absl::string_view kSuffix(" trace\0\0\0", 9);
  if (s.empty())
    return absl::InvalidArgumentError("empty input: no trace header");
  if (s.size() < kHeaderSize) {
    // A prefix of a header we could read is a truncated file, not a
    // foreign one.
    for (Version v : {Version::kGo122, Version::kGo123}) {
      if (absl::string_view(EncodeHeader(v)).substr(0, s.size()) == s) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "truncated header: %d of %d bytes", s.size(), kHeaderSize));
      }
    }
    return not_a_trace();
  }
  if (s.substr(0, kPrefix.size()) != kPrefix || !absl::ascii_isdigit(s[5]) ||
      !absl::ascii_isdigit(s[6]) || s.substr(7) != kSuffix) {
    return not_a_trace();
  }
  const int minor = (s[5] - '0') * 10 + (s[6] - '0');
  if (minor == 22) return Version::kGo122;
  if (minor == 23) return Version::kGo123;
  if (minor == 11 || minor == 19 || minor == 21) {
    return absl::UnimplementedError(absl::StrFormat(
        "trace is from go 1.%d, which used the old trace format; gentrace "
        "reads only the go 1.22 and go 1.23 formats",
        minor));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown or unsupported trace version go 1.%d", minor));
}

}  // namespace gentrace::format
