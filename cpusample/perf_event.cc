// perf_event_open as a CPU-sample source: probing, opening a per-thread
// counter that signals its thread, and explaining refusals (perf_event.h).
#include "cpusample/perf_event.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/sys.h"

namespace gentrace::cpusample {

namespace {

// Each PerfEvent's perf name and perf_event_attr type and config, in enum
// order.
struct PerfEventInfo {
  PerfEvent event;
  const char* name;
  uint32_t type;
  uint64_t config;
};
constexpr PerfEventInfo kPerfEvents[] = {
    {PerfEvent::kCpuClock, "cpu-clock", PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_CPU_CLOCK},
    {PerfEvent::kTaskClock, "task-clock", PERF_TYPE_SOFTWARE,
     PERF_COUNT_SW_TASK_CLOCK},
    {PerfEvent::kCycles, "cycles", PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CPU_CYCLES},
    {PerfEvent::kInstructions, "instructions", PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_INSTRUCTIONS},
    {PerfEvent::kCacheMisses, "cache-misses", PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_CACHE_MISSES},
    {PerfEvent::kBranchMisses, "branch-misses", PERF_TYPE_HARDWARE,
     PERF_COUNT_HW_BRANCH_MISSES},
};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < sizeof(kPerfEvents) / sizeof(kPerfEvents[0]); ++i) {
    if (static_cast<size_t>(kPerfEvents[i].event) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kPerfEvents must be indexed by PerfEvent");

// The table's row for `event`, or null for a value outside the enum.
const PerfEventInfo* Info(PerfEvent event) {
  const size_t i = static_cast<size_t>(event);
  return i < sizeof(kPerfEvents) / sizeof(kPerfEvents[0]) ? &kPerfEvents[i]
                                                          : nullptr;
}

}  // namespace

const char* PerfEventName(PerfEvent event) {
  const PerfEventInfo* info = Info(event);
  return info != nullptr ? info->name : "unknown";
}

bool IsHardwareEvent(PerfEvent event) {
  const PerfEventInfo* info = Info(event);
  return info == nullptr || info->type == PERF_TYPE_HARDWARE;
}

PerfEventSpec SpecOf(PerfEvent event) {
  PerfEventSpec spec;
  const PerfEventInfo* info = Info(event);
  if (info == nullptr) info = &kPerfEvents[0];
  spec.name = info->name;
  spec.canonical = info->name;
  spec.type = info->type;
  spec.config = info->config;
  spec.hardware = info->type == PERF_TYPE_HARDWARE;
  spec.clock = info->type == PERF_TYPE_SOFTWARE;  // both software ones are
  return spec;
}

namespace internal {

PerfConfigEvent ConfigEventOf(const PerfEventSpec& spec) {
  PerfConfigEvent e;
  e.type = spec.type;
  e.config = spec.config;
  e.config1 = spec.config1;
  e.config2 = spec.config2;
  e.hardware = spec.hardware;
  e.clock = spec.clock;
  e.exclude_hv = spec.exclude_hv;
  const size_t n = std::min(spec.name.size(), sizeof(e.name) - 1);
  memcpy(e.name, spec.name.data(), n);
  e.name[n] = '\0';
  return e;
}

namespace {

void FillAttr(const PerfConfig& config, perf_event_attr* attr) {
  memset(attr, 0, sizeof(*attr));
  attr->size = sizeof(*attr);
  attr->type = config.spec.type;
  attr->config = config.spec.config;
  attr->config1 = config.spec.config1;
  attr->config2 = config.spec.config2;
  if (config.sample_freq != 0) {
    attr->freq = 1;
    attr->sample_freq = config.sample_freq;
  } else {
    attr->sample_period = config.sample_period;
  }
  attr->disabled = 1;
  attr->exclude_kernel = config.exclude_kernel ? 1 : 0;
  attr->exclude_user = config.exclude_user ? 1 : 0;
  attr->exclude_hv = config.spec.exclude_hv ? 1 : 0;
  attr->precise_ip = static_cast<unsigned>(config.precise_ip) & 3;
}

// perf_event_open for one thread; -1 with errno on failure.
int PerfEventOpen(const PerfConfig& config, pid_t tid) {
  perf_event_attr attr;
  FillAttr(config, &attr);
  return static_cast<int>(
      syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

}  // namespace

SystemFacts ReadSystemFacts() {
  SystemFacts facts;
  const std::string paranoid =
      base::ReadSmallFile("/proc/sys/kernel/perf_event_paranoid");
  if (!paranoid.empty()) {
    char* end = nullptr;
    const long v = strtol(paranoid.c_str(), &end, 10);
    if (end != paranoid.c_str())
      facts.perf_event_paranoid = static_cast<int>(v);
  }
  const std::string status = base::ReadSmallFile("/proc/self/status");
  const size_t at = status.find("\nSeccomp:");
  if (at != std::string::npos) {
    facts.seccomp_mode = atoi(status.c_str() + at + 9);
  }
  struct stat st;
  facts.cpu_pmu_present = stat("/sys/bus/event_source/devices/cpu", &st) == 0;
  return facts;
}

absl::Status PerfOpenError(PerfEvent event, int err, bool exclude_kernel,
                           const SystemFacts& facts) {
  return PerfOpenError(PerfEventName(event), IsHardwareEvent(event), err,
                       exclude_kernel, facts);
}

absl::Status PerfOpenError(absl::string_view event, bool hardware, int err,
                           bool exclude_kernel, const SystemFacts& facts) {
  const std::string what =
      absl::StrCat("perf_event_open(", event,
                   exclude_kernel ? ", user space only" : ", with kernel mode",
                   ") failed: ");
  if (hardware && (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)) {
    if (!facts.cpu_pmu_present) {
      return absl::UnavailableError(absl::StrCat(
          what,
          "no hardware PMU: this kernel exposes no hardware performance "
          "counters (",
          base::ErrnoText(err),
          "; /sys/bus/event_source/devices/cpu does not exist), as in most "
          "virtual machines without PMU passthrough; use a software event "
          "(cpu-clock, task-clock) or the thread-timer source"));
    }
    return absl::UnavailableError(absl::StrCat(
        what, "the CPU's PMU does not support event '", event, "' (",
        base::ErrnoText(err), "); use another event or a software clock"));
  }
  if (err == EACCES || err == EPERM) {
    // What perf_event_paranoid must be for this request without
    // CAP_PERFMON: <= 2 counts one's own threads in user space, <= 1 adds
    // kernel mode. Debian's 3 forbids unprivileged use altogether.
    const int needed = exclude_kernel ? 2 : 1;
    const bool paranoid_known = facts.perf_event_paranoid != INT_MIN;
    const bool paranoid_refuses =
        paranoid_known && facts.perf_event_paranoid > needed;
    const bool seccomp = facts.seccomp_mode == 2;
    if (seccomp && !paranoid_refuses) {
      return absl::PermissionDeniedError(absl::StrCat(
          what,
          "blocked by a seccomp filter (Seccomp: 2 in /proc/self/status; ",
          base::ErrnoText(err),
          "): run outside the filter (e.g. a container profile that allows "
          "perf_event_open) or use the thread-timer source"));
    }
    std::string msg = absl::StrCat(what, "not permitted by ");
    if (paranoid_known) {
      absl::StrAppend(
          &msg, "kernel.perf_event_paranoid = ", facts.perf_event_paranoid);
    } else {
      absl::StrAppend(&msg, "kernel.perf_event_paranoid (value unreadable)");
    }
    absl::StrAppend(
        &msg, " (", base::ErrnoText(err),
        "); this request needs perf_event_paranoid <= ", needed,
        exclude_kernel ? " (user space of one's own threads)"
                       : " (kernel mode included)",
        " or CAP_PERFMON: sysctl -w kernel.perf_event_paranoid=", needed);
    if (seccomp) {
      absl::StrAppend(&msg,
                      "; note: a seccomp filter is also active (Seccomp: 2)");
    }
    return absl::PermissionDeniedError(msg);
  }
  if (err == ENOSYS) {
    return absl::UnimplementedError(absl::StrCat(
        what, "this kernel has no perf_event_open (", base::ErrnoText(err),
        facts.seccomp_mode == 2 ? "; a seccomp filter is active" : "", ")"));
  }
  return absl::InternalError(
      absl::StrCat(what, base::ErrnoText(err), " (errno ", err, ")"));
}

namespace {

// Tries `config` with each kernel-mode choice and precise level, most
// wanted first; returns the first the kernel accepts on `tid`.
absl::StatusOr<PerfConfig> ProbeChoices(PerfConfig config, PerfKernel kernel,
                                        int max_precise, int min_precise,
                                        pid_t tid) {
  bool kernel_choices[2];
  int n_kernel = 0;
  switch (kernel) {
    case PerfKernel::kIfAllowed:
      kernel_choices[n_kernel++] = false;  // exclude_kernel = false first
      kernel_choices[n_kernel++] = true;
      break;
    case PerfKernel::kInclude:
      kernel_choices[n_kernel++] = false;
      break;
    case PerfKernel::kExclude:
      kernel_choices[n_kernel++] = true;
      break;
  }
  int last_err = 0;
  bool last_exclude = false;
  for (int k = 0; k < n_kernel; ++k) {
    config.exclude_kernel = kernel_choices[k];
    for (int precise = max_precise; precise >= min_precise; --precise) {
      config.precise_ip = precise;
      const int fd = PerfEventOpen(config, tid);
      if (fd >= 0) {
        close(fd);
        return config;
      }
      last_err = errno;
      last_exclude = config.exclude_kernel;
      // A lower precise_ip may be what the PMU supports; anything else is
      // not about precision.
    }
    // Only a permission refusal makes user space only worth a try.
    if (last_err != EACCES && last_err != EPERM) break;
  }
  return PerfOpenError(config.spec.name, config.spec.hardware, last_err,
                       last_exclude, ReadSystemFacts());
}

}  // namespace

absl::StatusOr<PerfConfig> ProbePerfConfig(PerfEvent event, int hz,
                                           uint64_t period, PerfKernel kernel,
                                           pid_t tid) {
  if (hz <= 0 && period == 0) {
    return absl::InvalidArgumentError("perf source needs hz > 0 or period > 0");
  }
  PerfConfig config;
  config.event = event;
  config.spec = ConfigEventOf(SpecOf(event));
  if (!IsHardwareEvent(event)) {
    config.sample_period =
        period != 0 ? period : static_cast<uint64_t>(1000000000 / hz);
    if (config.sample_period == 0) config.sample_period = 1;
  } else if (period != 0) {
    config.sample_period = period;
  } else {
    config.sample_freq = static_cast<uint64_t>(hz);
  }
  const int max_precise = IsHardwareEvent(event) ? 2 : 0;
  return ProbeChoices(config, kernel, max_precise, 0, tid);
}

absl::StatusOr<PerfConfig> ProbePerfConfig(const PerfEventSpec& spec, int hz,
                                           uint64_t period, PerfKernel kernel,
                                           pid_t tid) {
  if (hz <= 0 && period == 0) {
    return absl::InvalidArgumentError("perf source needs hz > 0 or period > 0");
  }
  PerfConfig config;
  config.spec = ConfigEventOf(spec);
  if (period != 0) {
    config.sample_period = period;
  } else if (spec.clock) {
    config.sample_period =
        std::max<uint64_t>(1, static_cast<uint64_t>(1000000000 / hz));
  } else {
    config.sample_freq = static_cast<uint64_t>(hz);
  }
  switch (spec.levels) {
    case PerfLevels::kUser:
      kernel = PerfKernel::kExclude;
      break;
    case PerfLevels::kKernel:
      config.exclude_user = true;
      kernel = PerfKernel::kInclude;
      break;
    case PerfLevels::kUserKernel:
      kernel = PerfKernel::kInclude;
      break;
    case PerfLevels::kDefault:
      break;
  }
  return ProbeChoices(config, kernel, spec.precise_ip, spec.precise_ip, tid);
}

absl::StatusOr<int> OpenPerfCounter(const PerfConfig& config, pid_t tid) {
  const int fd = PerfEventOpen(config, tid);
  if (fd < 0) {
    return PerfOpenError(config.spec.name, config.spec.hardware, errno,
                         config.exclude_kernel, ReadSystemFacts());
  }
  // Order matters: the signal and owner are set before O_ASYNC turns
  // delivery on, so no overflow ever goes to the process as SIGIO.
  struct f_owner_ex owner;
  owner.type = F_OWNER_TID;
  owner.pid = tid;
  const char* step = nullptr;
  if (fcntl(fd, F_SETSIG, SIGPROF) != 0) {
    step = "fcntl(F_SETSIG, SIGPROF)";
  } else if (fcntl(fd, F_SETOWN_EX, &owner) != 0) {
    step = "fcntl(F_SETOWN_EX, F_OWNER_TID)";
  } else {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_ASYNC) != 0) {
      step = "fcntl(F_SETFL, O_ASYNC)";
    }
  }
  if (step != nullptr) {
    const int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("perf counter setup: ", step,
                                            " failed: ", base::ErrnoText(err)));
  }
  return fd;
}

bool EnablePerfCounter(int fd) {
  return ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) == 0;
}

void DisablePerfCounter(int fd) { ioctl(fd, PERF_EVENT_IOC_DISABLE, 0); }

}  // namespace internal
}  // namespace gentrace::cpusample
