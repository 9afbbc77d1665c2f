// CrashHandlerOptions: what InstallCrashHandler (tracer/crash_handler.h)
// and FlightRecorder::InstallCrashHandler (tracer/flight_recorder.h) take.
// A header of its own so that the public API's headers can name it without
// linking the handler (programs compiled with -DGENTRACE_DISABLE link
// nothing of gentrace).
#ifndef GENTRACE_TRACER_CRASH_HANDLER_OPTIONS_H_
#define GENTRACE_TRACER_CRASH_HANDLER_OPTIONS_H_

#include <cstddef>
#include <string>

#include "absl/time/time.h"

namespace gentrace {

struct CrashHandlerOptions {
  // Where a dump goes: "%p" is the process id, "%%" a percent sign; a
  // relative path is made absolute at install time.
  std::string path_template = "gentrace-crash-%p.trace";
  // Time for all dump callbacks together.
  absl::Duration dump_timeout = absl::Seconds(5);
  // Size of each alternate signal stack (at least the system's
  // _SC_SIGSTKSZ is used).
  size_t alt_stack_size = 64 << 10;
  // Print one line on stderr at a crash: the signal, the thread, and where
  // the dump went (or why there is none).
  bool report = true;
  // Also dump on std::terminate (an uncaught exception, say).
  bool handle_terminate = true;
  // FlightRecorder::InstallCrashHandler: after the ring's whole
  // generations, also write the generation being recorded at the crash,
  // completed (docs/FLIGHT_RECORDER.md says when that is not possible).
  // Read by the recorder being installed, even when the handler itself
  // was installed already.
  bool complete_current_generation = true;
};

}  // namespace gentrace

#endif  // GENTRACE_TRACER_CRASH_HANDLER_OPTIONS_H_
