// Test support for the flight recorder's tests (testonly): traces cut into
// generations, and the check every trace a test makes goes through: our
// reader first, then Go's parser when GENTRACE_GOTOOL is set.
#ifndef GENTRACE_TRACER_RING_TEST_UTIL_H_
#define GENTRACE_TRACER_RING_TEST_UTIL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/test_files.h"
#include "tracer/internal/sink.h"

namespace gentrace::testing {

struct TestGeneration {
  uint64_t gen = 0;
  std::vector<std::string> batches;  // each a whole batch, in file order
  std::string bytes() const;         // the batches joined
};

struct SplitTrace {
  std::string header;
  std::vector<TestGeneration> gens;
};

// Cuts a trace into its generations (batches in file order).
absl::StatusOr<SplitTrace> SplitGenerations(absl::string_view trace);

// What reading a trace gave.
struct TraceCheck {
  uint64_t generations = 0;  // complete, by our reader
  uint64_t events = 0;
  std::vector<uint64_t> gen_numbers;  // the batches' generations, in order
  bool go_checked = false;            // Go's parser ran (and accepted it)
};

// Reads `trace` with our reader (it must read to the end without error),
// then, if GENTRACE_GOTOOL is set, with Go's parser and validator (which
// must accept it). `name` names the temporary file for Go.
absl::StatusOr<TraceCheck> CheckTrace(absl::string_view trace,
                                      absl::string_view name);

// TempPath and ReadFile: base/test_files.h.

// Feeds a RingSink from the tracer's callback destination (Options::
// callback), which has no end-of-generation call: a generation ends when
// the first batch of the next one arrives; the last one stays open.
class CallbackToRingSink {
 public:
  explicit CallbackToRingSink(internal::Sink* ring_sink) : sink_(ring_sink) {}
  absl::Status Write(absl::Span<const uint8_t> bytes);

 private:
  internal::Sink* sink_;
  bool header_ = false;
  uint64_t gen_ = 0;
};

// A Sink collecting bytes into a string (thread-compatible).
class StringTraceSink : public internal::Sink {
 public:
  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    data.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return absl::OkStatus();
  }
  absl::Status EndGeneration() override {
    ++generations;
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t bytes_written() const override { return data.size(); }

  std::string data;
  int generations = 0;
};

}  // namespace gentrace::testing

#endif  // GENTRACE_TRACER_RING_TEST_UTIL_H_
