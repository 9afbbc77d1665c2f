// gentrace::FlightRecorder: keeps the last few seconds of the trace in a
// bounded ring in memory, and writes them out on demand (WriteTo) or when
// the process crashes (InstallCrashHandler). Go 1.25's
// runtime/trace.FlightRecorder, for C++ programs. docs/FLIGHT_RECORDER.md
// is the users' page.
//
//   gentrace::FlightRecorderOptions o;
//   o.min_age = absl::Seconds(5);
//   o.max_bytes = 16 << 20;
//   gentrace::FlightRecorder recorder(o);
//   if (absl::Status s = recorder.Start(); !s.ok()) ...
//   ...
//   if (something_went_wrong) (void)recorder.WriteTo("/tmp/last.trace");
//
// The recorder and a trace to a file (gentrace::Start) may run at the same
// time: tracing runs while either is on, with the settings of the one
// that started first (the second must ask for the same ones, else its
// Start fails with FailedPrecondition and says which setting differs).
// gentrace::Stop leaves the recorder running and FlightRecorder::Stop
// leaves the file trace running; each leaves at a generation boundary.
// One recorder may run at a time.
//
// Compiled with -DGENTRACE_DISABLE, every call does nothing: Start and
// WriteTo fail with Unimplemented, Enabled() is false.
#ifndef GENTRACE_TRACER_FLIGHT_RECORDER_H_
#define GENTRACE_TRACER_FLIGHT_RECORDER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tracer/crash_handler_options.h"  // CrashHandlerOptions
#include "tracer/internal/config.h"
#include "tracer/options.h"  // StackOptions, CpuProfileOptions

GENTRACE_INTERNAL_NAMESPACE_BEGIN

namespace internal {
struct FlightRecorderImpl;  // tracer/flight_recorder.cc
}  // namespace internal

struct FlightRecorderOptions {
  // Keep at least this much recent history, when max_bytes allows: whole
  // generations are let go only once the newer ones cover min_age. Zero or
  // less means Go's default, 10 s.
  absl::Duration min_age = absl::Seconds(10);
  // A hard bound on the ring's memory (Go's is a hint): everything held
  // lives in one region of this size, rounded down to 4 KiB, at least
  // 64 KiB. Older generations are evicted to make room; a generation that
  // does not fit at all is dropped whole and counted (stats()). A snapshot
  // holds at least one generation as long as max_bytes holds the two
  // largest consecutive ones. 0 means Go's default, 10 MiB.
  uint64_t max_bytes = 10 << 20;
  // Empty: the ring lives in anonymous memory. Otherwise in this file
  // (created or truncated, fully allocated at Start, mapped shared), so
  // that after kill -9 or an OOM kill `gentrace recover FILE OUT` writes
  // every whole generation it held. The file stays after Stop.
  std::string ring_file;

  // The tracer's settings, used when the recorder is what starts tracing
  // (see Options in tracer/options.h); when tracing is already on they
  // must equal the running trace's.
  absl::Duration generation_period = absl::Seconds(1);
  StackOptions stacks;
  int max_stack_depth = 64;
  CpuProfileOptions cpu;
  TraceClock clock = TraceClock::kAuto;
};

struct FlightRecorderStats {
  uint64_t generations_held = 0;
  uint64_t first_gen = 0;       // oldest held (0 if none)
  uint64_t last_gen = 0;        // newest held (0 if none)
  uint64_t bytes_held = 0;      // trace bytes of the held generations
  uint64_t bytes_received = 0;  // trace bytes the ring was given
  uint64_t generations_committed = 0;
  uint64_t generations_evicted = 0;
  // Dropped whole: bigger than the ring, or waiting too long for a
  // WriteTo that still needed the bytes.
  uint64_t generations_dropped = 0;
  uint64_t bytes_dropped = 0;
  uint64_t snapshots = 0;     // WriteTo calls that wrote a trace
  uint64_t region_bytes = 0;  // the ring's size (max_bytes, rounded)
};

class FlightRecorder {
 public:
  explicit FlightRecorder(const FlightRecorderOptions& options = {});
  // Stops the recorder if it runs, and uninstalls its crash dump.
  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  // Starts recording: starts tracing with the options' settings, or joins
  // the running trace from its next generation. Fails if this or another
  // recorder runs, if a running trace has other settings, if the options
  // are invalid or the ring (file) cannot be made. A recorder may be
  // started again after Stop (what it held is let go then).
  absl::Status Start();
  // Stops recording, at a generation boundary; stops tracing unless a
  // trace to a file (gentrace::Start) still runs. Returns the ring's
  // failure, if there was one. What the ring holds is kept until the next
  // Start, but WriteTo needs a running recorder (as in Go).
  absl::Status Stop();
  // Whether the recorder runs.
  bool Enabled() const;

  // Ends the current generation (so the snapshot holds the newest
  // events), then writes the trace header and the whole generations held:
  // a complete trace that `go tool trace` and `gentrace` open. Returns the
  // bytes written. Fails with Aborted if another WriteTo is in progress
  // (as Go's: use that call's result), FailedPrecondition if the recorder
  // is not running or holds no whole generation yet, or the error of the
  // destination. Any thread but gentrace's own may call it, any number of
  // times; recording goes on meanwhile.
  absl::StatusOr<uint64_t> WriteTo(const std::string& path);  // created
  absl::StatusOr<uint64_t> WriteTo(int fd);  // written at its offset, left open
  absl::StatusOr<uint64_t> WriteTo(
      const std::function<absl::Status(absl::Span<const uint8_t>)>& callback);

  // Installs the process's crash handler (tracer/crash_handler.h; if it is
  // installed already, that one is used and `options` is ignored, except
  // complete_current_generation) and registers a dump of this recorder: at
  // a fatal signal or std::terminate, the handler writes the header, the
  // ring's whole generations and then the generation being recorded at
  // the crash, completed from the writer's and the threads' buffers (its
  // stacks as bare PCs; left out when the crash is inside the tracer or
  // an advance: docs/FLIGHT_RECORDER.md), to the dump file,
  // async-signal-safe, then lets the crash go on (the process dies of its
  // own signal, with a core dump where enabled). Threads get alternate
  // signal stacks (so a stack overflow is caught) from their first event
  // of a trace started after this call: install it before Start. Fails if
  // called twice, or if the handler cannot be installed.
  absl::Status InstallCrashHandler(const CrashHandlerOptions& options = {});
  // Where a crash dump would be linked ("" when no handler is installed).
  std::string CrashDumpPath() const;

  FlightRecorderStats stats() const;

 private:
  FlightRecorderOptions options_;
  // Created by the first Start or InstallCrashHandler (compiled in only).
  internal::FlightRecorderImpl* impl_ = nullptr;
};

#if !GENTRACE_INTERNAL_COMPILED_IN
inline FlightRecorder::FlightRecorder(const FlightRecorderOptions& options)
    : options_(options) {}
inline FlightRecorder::~FlightRecorder() {}
inline absl::Status FlightRecorder::Start() {
  return absl::UnimplementedError(
      "gentrace was compiled out (GENTRACE_DISABLE)");
}
inline absl::Status FlightRecorder::Stop() {
  return absl::FailedPreconditionError("the flight recorder is not running");
}
inline bool FlightRecorder::Enabled() const { return false; }
inline absl::StatusOr<uint64_t> FlightRecorder::WriteTo(const std::string&) {
  return absl::FailedPreconditionError("the flight recorder is not running");
}
inline absl::StatusOr<uint64_t> FlightRecorder::WriteTo(int) {
  return absl::FailedPreconditionError("the flight recorder is not running");
}
inline absl::StatusOr<uint64_t> FlightRecorder::WriteTo(
    const std::function<absl::Status(absl::Span<const uint8_t>)>&) {
  return absl::FailedPreconditionError("the flight recorder is not running");
}
inline absl::Status FlightRecorder::InstallCrashHandler(
    const CrashHandlerOptions&) {
  return absl::UnimplementedError(
      "gentrace was compiled out (GENTRACE_DISABLE)");
}
inline std::string FlightRecorder::CrashDumpPath() const { return ""; }
inline FlightRecorderStats FlightRecorder::stats() const { return {}; }
#endif

GENTRACE_INTERNAL_NAMESPACE_END

#endif  // GENTRACE_TRACER_FLIGHT_RECORDER_H_
