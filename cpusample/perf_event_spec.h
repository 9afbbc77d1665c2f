// Perf events named the way `perf list` names them, resolved to the
// perf_event_attr fields that open them.
//
// A name is an event, optionally followed by perf's modifiers:
//   cycles  instructions:u  L1-dcache-load-misses  page-faults:k
//   cycles:pp  r01c2  amd64_fam19h_zen4::RETIRED_INSTRUCTIONS
//   cpu/event=0xc0,umask=0x01/ is not accepted: use rNNNN for raw events.
// The event part is resolved by libpfm4 (Debian's libpfm4), which knows the
// generic perf names (cycles, cache-misses, page-faults, ...), the hardware
// cache events (L1-dcache-load-misses, ...), raw codes (rUUEE) and the
// events of the PMUs it detects on this CPU (`pmu::EVENT:UMASK`). The
// modifiers are perf's: `u` (user space), `k` (kernel), `h` (hypervisor),
// and one to three `p` for the precise (low-skid) mode where the PMU has
// one. With neither `u` nor `k` the caller's default applies.
//
// Resolving a name does not open anything: whether this machine can count
// the event is known only when perf_event_open is tried (a hardware event
// in a virtual machine without a PMU resolves, then fails to open with
// perf_event.h's "no hardware PMU" error).
#ifndef GENTRACE_CPUSAMPLE_PERF_EVENT_SPEC_H_
#define GENTRACE_CPUSAMPLE_PERF_EVENT_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gentrace::cpusample {

// Which privilege levels the name's modifiers asked for.
enum class PerfLevels : uint8_t {
  kDefault,     // no `u`/`k` modifier: the caller decides
  kUser,        // `:u`
  kKernel,      // `:k`
  kUserKernel,  // `:uk`
};

struct PerfEventSpec {
  std::string name;       // as given, modifiers included
  std::string canonical;  // libpfm4's qualified name, e.g.
                          // "perf::PERF_COUNT_SW_PAGE_FAULTS"
  uint32_t type = 0;      // perf_event_attr.type
  uint64_t config = 0;    // perf_event_attr.config, config1, config2
  uint64_t config1 = 0;
  uint64_t config2 = 0;
  PerfLevels levels = PerfLevels::kDefault;
  bool exclude_hv = true;  // `h` not given
  int precise_ip = 0;      // number of `p` modifiers (0..3)
  // Counts a hardware unit (PERF_TYPE_HARDWARE, HW_CACHE, RAW or a PMU's
  // own dynamic type): needs a PMU. Software and tracepoint events do not.
  bool hardware = false;
  // cpu-clock or task-clock: the count is nanoseconds of CPU time, so a
  // sampling period is a duration.
  bool clock = false;
};

// Resolves `name`. InvalidArgument for a malformed name or modifier;
// NotFound for a name this machine's libpfm4 does not know, with the
// closest known names in the message ("no perf event 'cyles'; closest:
// cycles, cpu-cycles, ..."); Internal if libpfm4 cannot initialize.
absl::StatusOr<PerfEventSpec> ResolvePerfEvent(absl::string_view name);

// Every event name this machine can resolve: perf's generic names and
// hardware cache names first, then `pmu::EVENT` for each PMU libpfm4
// detects. For error messages and `--help`-style listings.
std::vector<std::string> KnownPerfEventNames();

// Up to `max` names from `known` closest to `name` (edit distance, ignoring
// case), best first; ties keep `known`'s order.
std::vector<std::string> ClosestNames(absl::string_view name,
                                      const std::vector<std::string>& known,
                                      size_t max);

}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_PERF_EVENT_SPEC_H_
