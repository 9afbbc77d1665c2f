// Tests of the perf_event_open source's refusal messages: each reason
// (no PMU, perf_event_paranoid, seccomp, raw errno) with fabricated system
// facts, and for real where this machine can show it: hardware events
// without a PMU, a seccomp filter installed in a child, and
// perf_event_paranoid for an unprivileged child.
#include "cpusample/perf_event.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "cpusample/sampler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gentrace::cpusample {
namespace {

using internal::PerfOpenError;
using internal::SystemFacts;
using ::testing::HasSubstr;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

TEST(PerfEventTest, NamesAndKinds) {
  EXPECT_STREQ(PerfEventName(PerfEvent::kCpuClock), "cpu-clock");
  EXPECT_STREQ(PerfEventName(PerfEvent::kTaskClock), "task-clock");
  EXPECT_STREQ(PerfEventName(PerfEvent::kCycles), "cycles");
  EXPECT_STREQ(PerfEventName(PerfEvent::kInstructions), "instructions");
  EXPECT_STREQ(PerfEventName(PerfEvent::kCacheMisses), "cache-misses");
  EXPECT_STREQ(PerfEventName(PerfEvent::kBranchMisses), "branch-misses");
  EXPECT_FALSE(IsHardwareEvent(PerfEvent::kCpuClock));
  EXPECT_FALSE(IsHardwareEvent(PerfEvent::kTaskClock));
  EXPECT_TRUE(IsHardwareEvent(PerfEvent::kCycles));
  EXPECT_TRUE(IsHardwareEvent(PerfEvent::kInstructions));
  EXPECT_TRUE(IsHardwareEvent(PerfEvent::kCacheMisses));
  EXPECT_TRUE(IsHardwareEvent(PerfEvent::kBranchMisses));
}

TEST(PerfOpenErrorTest, NoPmu) {
  SystemFacts facts;
  facts.perf_event_paranoid = 2;
  facts.seccomp_mode = 0;
  facts.cpu_pmu_present = false;
  const absl::Status st =
      PerfOpenError(PerfEvent::kCycles, ENOENT, true, facts);
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(st.message()),
            "perf_event_open(cycles, user space only) failed: no hardware "
            "PMU: this kernel exposes no hardware performance counters "
            "(ENOENT: No such file or directory; "
            "/sys/bus/event_source/devices/cpu does not exist), as in most "
            "virtual machines without PMU passthrough; use a software event "
            "(cpu-clock, task-clock) or the thread-timer source");
  // EOPNOTSUPP says the same.
  EXPECT_THAT(std::string(PerfOpenError(PerfEvent::kBranchMisses, EOPNOTSUPP,
                                        false, facts)
                              .message()),
              HasSubstr("no hardware PMU"));
  // With a PMU, the event itself is what is missing.
  facts.cpu_pmu_present = true;
  EXPECT_THAT(
      std::string(PerfOpenError(PerfEvent::kCacheMisses, ENOENT, true, facts)
                      .message()),
      HasSubstr("the CPU's PMU does not support event 'cache-misses'"));
}

TEST(PerfOpenErrorTest, Paranoid) {
  SystemFacts facts;
  facts.perf_event_paranoid = 3;
  facts.seccomp_mode = 0;
  absl::Status st = PerfOpenError(PerfEvent::kCpuClock, EACCES, true, facts);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(st.message()),
            "perf_event_open(cpu-clock, user space only) failed: not "
            "permitted by kernel.perf_event_paranoid = 3 (EACCES: Permission "
            "denied); this request needs perf_event_paranoid <= 2 (user "
            "space of one's own threads) or CAP_PERFMON: sysctl -w "
            "kernel.perf_event_paranoid=2");
  facts.perf_event_paranoid = 2;
  st = PerfOpenError(PerfEvent::kTaskClock, EACCES, false, facts);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("kernel.perf_event_paranoid = 2 (EACCES: Permission "
                        "denied); this request needs perf_event_paranoid <= "
                        "1 (kernel mode included)"));
  facts.perf_event_paranoid = INT_MIN;
  st = PerfOpenError(PerfEvent::kTaskClock, EPERM, true, facts);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("kernel.perf_event_paranoid (value unreadable)"));
}

TEST(PerfOpenErrorTest, Seccomp) {
  SystemFacts facts;
  facts.perf_event_paranoid = 2;
  facts.seccomp_mode = 2;
  absl::Status st = PerfOpenError(PerfEvent::kCpuClock, EPERM, true, facts);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(st.message()),
            "perf_event_open(cpu-clock, user space only) failed: blocked by "
            "a seccomp filter (Seccomp: 2 in /proc/self/status; EPERM: "
            "Operation not permitted): run outside the filter (e.g. a "
            "container profile that allows perf_event_open) or use the "
            "thread-timer source");
  // When paranoid refuses anyway, that is the reason given, with a note.
  facts.perf_event_paranoid = 3;
  st = PerfOpenError(PerfEvent::kCpuClock, EPERM, true, facts);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("not permitted by kernel.perf_event_paranoid = 3"));
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("a seccomp filter is also active"));
}

TEST(PerfOpenErrorTest, RawErrno) {
  SystemFacts facts;
  const absl::Status st =
      PerfOpenError(PerfEvent::kCpuClock, EINVAL, true, facts);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(std::string(st.message()),
            "perf_event_open(cpu-clock, user space only) failed: EINVAL: "
            "Invalid argument (errno 22)");
}

// ---- The real kernel --------------------------------------------------------

TEST(PerfEventTest, SoftwareClockWorks) {
  absl::StatusOr<internal::PerfConfig> c = internal::ProbePerfConfig(
      PerfEvent::kCpuClock, 100, 0, PerfKernel::kIfAllowed, Tid());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sample_period, 10000000u);
  EXPECT_EQ(c->sample_freq, 0u);
  c = internal::ProbePerfConfig(PerfEvent::kTaskClock, 1000, 0,
                                PerfKernel::kExclude, Tid());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->exclude_kernel);
  EXPECT_EQ(c->sample_period, 1000000u);
}

TEST(PerfEventTest, HardwareEventsWithoutPmuSayNoPmu) {
  if (internal::ReadSystemFacts().cpu_pmu_present) {
    GTEST_SKIP() << "this machine has a CPU PMU";
  }
  for (PerfEvent e : {PerfEvent::kCycles, PerfEvent::kInstructions,
                      PerfEvent::kCacheMisses, PerfEvent::kBranchMisses}) {
    absl::StatusOr<internal::PerfConfig> c =
        internal::ProbePerfConfig(e, 100, 0, PerfKernel::kIfAllowed, Tid());
    ASSERT_FALSE(c.ok()) << PerfEventName(e);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr(std::string("perf_event_open(") + PerfEventName(e)));
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr("no hardware PMU"));
  }
}

// Starts a perf sampler in a child process and prints Start's status.
void StartPerfAndReport(PerfKernel kernel) {
  SamplerOptions o;
  o.source = Source::kPerfEvent;
  o.event = PerfEvent::kCpuClock;
  o.perf_kernel = kernel;
  const absl::Status st = Sampler::Start(
      o, [](const Sample&, void*) {}, nullptr);
  fprintf(stderr, "status: %s\nreport: %s\n", st.ToString().c_str(),
          Sampler::selection_report().c_str());
  Sampler::Stop();
  fflush(stderr);
  _exit(st.ok() ? 0 : 1);
}

void InstallSeccompDenyingPerf() {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_perf_event_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog;
  prog.len = sizeof(filter) / sizeof(filter[0]);
  prog.filter = filter;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "could not install the seccomp filter\n");
    _exit(2);
  }
}

TEST(PerfEventDeathTest, SeccompFilterIsNamed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        InstallSeccompDenyingPerf();
        StartPerfAndReport(PerfKernel::kIfAllowed);
      },
      ::testing::ExitedWithCode(1),
      "PERMISSION_DENIED: perf_event_open\\(cpu-clock, user space only\\) "
      "failed: blocked by a seccomp filter \\(Seccomp: 2 in "
      "/proc/self/status; EPERM: Operation not permitted\\)");
}

TEST(PerfEventDeathTest, ParanoidRefusalForUnprivilegedUser) {
  const SystemFacts facts = internal::ReadSystemFacts();
  if (getuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  if (facts.perf_event_paranoid < 2) {
    GTEST_SKIP() << "perf_event_paranoid " << facts.perf_event_paranoid
                 << " lets everyone count kernel mode";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string paranoid = std::to_string(facts.perf_event_paranoid);
  // Asking for kernel mode explicitly is refused, with the value and the
  // level needed.
  EXPECT_EXIT(
      {
        if (setresgid(65534, 65534, 65534) != 0 ||
            setresuid(65534, 65534, 65534) != 0) {
          _exit(2);
        }
        StartPerfAndReport(PerfKernel::kInclude);
      },
      ::testing::ExitedWithCode(1),
      "PERMISSION_DENIED: perf_event_open\\(cpu-clock, with kernel mode\\) "
      "failed: not permitted by kernel.perf_event_paranoid = " +
          paranoid +
          " \\(EACCES: Permission denied\\); this request needs "
          "perf_event_paranoid <= 1");
  if (facts.perf_event_paranoid > 2) return;
  // By default the sampler falls back to user space only, which paranoid 2
  // allows, and says so.
  EXPECT_EXIT(
      {
        if (setresgid(65534, 65534, 65534) != 0 ||
            setresuid(65534, 65534, 65534) != 0) {
          _exit(2);
        }
        StartPerfAndReport(PerfKernel::kIfAllowed);
      },
      ::testing::ExitedWithCode(0),
      "status: OK\nreport: perf-event: cpu-clock counter per attached "
      "thread, period 10000000 ns, user space only");
}

}  // namespace
}  // namespace gentrace::cpusample
