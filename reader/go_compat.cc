// Go-compatible names; see go_compat.h.
#include "reader/go_compat.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "format/spec.h"

namespace gentrace::reader {

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

}  // namespace gentrace::reader
