// A small JSON reader and writer for the benchmark suite
// (tests/benchmark_suite.cc): it reads Google Benchmark's JSON reports and
// the Go benchmark's JSON lines, and writes out/bench.json. Enough JSON for
// that (RFC 8259 values; \u escapes outside the BMP as two escapes, the way
// JSON spells them), not a general-purpose library.
#ifndef GENTRACE_TESTS_BENCHMARK_JSON_H_
#define GENTRACE_TESTS_BENCHMARK_JSON_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::bench {

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type = kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;  // in document order

  // The member `key` of an object, or null if absent or not an object.
  const Json* Find(absl::string_view key) const;
  // The number at `key`, or `fallback`.
  double NumberOr(absl::string_view key, double fallback) const;
  // The string at `key`, or "".
  std::string StringOr(absl::string_view key) const;
};

// Parses one JSON value (surrounded by whitespace only).
absl::StatusOr<Json> ParseJson(absl::string_view text);

// `s` as a JSON string literal.
std::string JsonQuote(absl::string_view s);
// `v` as a JSON number; null when it is not finite.
std::string JsonNumber(double v);

}  // namespace gentrace::bench

#endif  // GENTRACE_TESTS_BENCHMARK_JSON_H_
