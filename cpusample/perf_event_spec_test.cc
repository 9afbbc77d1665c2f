#include "cpusample/perf_event_spec.h"

#include <linux/perf_event.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace gentrace::cpusample {
namespace {

PerfEventSpec MustResolve(const std::string& name) {
  absl::StatusOr<PerfEventSpec> spec = ResolvePerfEvent(name);
  EXPECT_TRUE(spec.ok()) << name << ": " << spec.status();
  return spec.ok() ? *spec : PerfEventSpec{};
}

TEST(PerfEventSpecTest, GenericHardwareNames) {
  const PerfEventSpec cycles = MustResolve("cycles");
  EXPECT_EQ(cycles.type, PERF_TYPE_HARDWARE);
  EXPECT_EQ(cycles.config, PERF_COUNT_HW_CPU_CYCLES);
  EXPECT_TRUE(cycles.hardware);
  EXPECT_FALSE(cycles.clock);
  EXPECT_EQ(cycles.levels, PerfLevels::kDefault);
  EXPECT_EQ(cycles.precise_ip, 0);
  EXPECT_EQ(cycles.name, "cycles");
  EXPECT_TRUE(absl::StrContains(cycles.canonical, "PERF_COUNT_HW_CPU_CYCLES"))
      << cycles.canonical;

  const PerfEventSpec misses = MustResolve("cache-misses");
  EXPECT_EQ(misses.type, PERF_TYPE_HARDWARE);
  EXPECT_EQ(misses.config, PERF_COUNT_HW_CACHE_MISSES);
  const PerfEventSpec branch = MustResolve("branch-misses");
  EXPECT_EQ(branch.config, PERF_COUNT_HW_BRANCH_MISSES);
}

TEST(PerfEventSpecTest, ModifiersAreParsedNotPassedOn) {
  const PerfEventSpec user = MustResolve("instructions:u");
  EXPECT_EQ(user.type, PERF_TYPE_HARDWARE);
  EXPECT_EQ(user.config, PERF_COUNT_HW_INSTRUCTIONS);
  EXPECT_EQ(user.levels, PerfLevels::kUser);
  EXPECT_EQ(user.name, "instructions:u");

  EXPECT_EQ(MustResolve("cycles:k").levels, PerfLevels::kKernel);
  EXPECT_EQ(MustResolve("cycles:uk").levels, PerfLevels::kUserKernel);
  const PerfEventSpec precise = MustResolve("cycles:pp");
  EXPECT_EQ(precise.precise_ip, 2);
  EXPECT_TRUE(precise.exclude_hv);
  const PerfEventSpec all = MustResolve("cycles:ukhp");
  EXPECT_EQ(all.precise_ip, 1);
  EXPECT_FALSE(all.exclude_hv);
  EXPECT_EQ(all.levels, PerfLevels::kUserKernel);
}

TEST(PerfEventSpecTest, CacheRawAndSoftwareEvents) {
  const PerfEventSpec l1 = MustResolve("L1-dcache-load-misses");
  EXPECT_EQ(l1.type, PERF_TYPE_HW_CACHE);
  EXPECT_EQ(l1.config, PERF_COUNT_HW_CACHE_L1D |
                           (PERF_COUNT_HW_CACHE_OP_READ << 8) |
                           (PERF_COUNT_HW_CACHE_RESULT_MISS << 16));
  EXPECT_TRUE(l1.hardware);

  const PerfEventSpec raw = MustResolve("r01c2");
  EXPECT_EQ(raw.type, PERF_TYPE_RAW);
  EXPECT_EQ(raw.config, 0x1c2u);
  EXPECT_TRUE(raw.hardware);

  struct Sw {
    const char* name;
    uint64_t config;
  };
  for (const Sw& sw : {Sw{"page-faults", PERF_COUNT_SW_PAGE_FAULTS},
                       Sw{"faults", PERF_COUNT_SW_PAGE_FAULTS},
                       Sw{"major-faults", PERF_COUNT_SW_PAGE_FAULTS_MAJ},
                       Sw{"context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES},
                       Sw{"cs", PERF_COUNT_SW_CONTEXT_SWITCHES},
                       Sw{"cpu-migrations", PERF_COUNT_SW_CPU_MIGRATIONS}}) {
    const PerfEventSpec s = MustResolve(sw.name);
    EXPECT_EQ(s.type, PERF_TYPE_SOFTWARE) << sw.name;
    EXPECT_EQ(s.config, sw.config) << sw.name;
    EXPECT_FALSE(s.hardware) << sw.name;
    EXPECT_FALSE(s.clock) << sw.name;
  }
  const PerfEventSpec clock = MustResolve("cpu-clock");
  EXPECT_EQ(clock.config, PERF_COUNT_SW_CPU_CLOCK);
  EXPECT_TRUE(clock.clock);
  EXPECT_TRUE(MustResolve("task-clock").clock);
}

TEST(PerfEventSpecTest, UnknownNameListsClosestKnownNames) {
  absl::StatusOr<PerfEventSpec> spec = ResolvePerfEvent("cyles");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  const std::string msg(spec.status().message());
  EXPECT_TRUE(absl::StartsWith(msg,
                               "no perf event 'cyles' on this machine; "
                               "closest: cycles"))
      << msg;

  spec = ResolvePerfEvent("page-fault");
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(
      absl::StrContains(spec.status().message(), "closest: page-faults"))
      << spec.status();
}

TEST(PerfEventSpecTest, MalformedNames) {
  for (const char* bad :
       {"", "   ", "cpu/event=0x3c/", "cycles:pppp", "page-faults:p"}) {
    absl::StatusOr<PerfEventSpec> spec = ResolvePerfEvent(bad);
    EXPECT_FALSE(spec.ok()) << bad;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
        << bad << ": " << spec.status();
  }
}

TEST(PerfEventSpecTest, KnownNamesResolve) {
  const std::vector<std::string> known = KnownPerfEventNames();
  ASSERT_FALSE(known.empty());
  bool page_faults = false, cycles = false;
  for (const std::string& n : known) {
    page_faults |= n == "page-faults";
    cycles |= n == "cycles";
  }
  EXPECT_TRUE(page_faults);
  EXPECT_TRUE(cycles);
  // Every name offered resolves (a listing must not offer what fails).
  for (const std::string& n : known) {
    absl::StatusOr<PerfEventSpec> spec = ResolvePerfEvent(n);
    EXPECT_TRUE(spec.ok()) << n << ": " << spec.status();
  }
}

TEST(PerfEventSpecTest, ClosestNamesRanksByEditDistance) {
  const std::vector<std::string> known = {"alpha", "beta", "gamma",
                                          "pmu::BETAS", "delta"};
  EXPECT_EQ(ClosestNames("betq", known, 2),
            (std::vector<std::string>{"beta", "pmu::BETAS"}));
  EXPECT_EQ(ClosestNames("DELTA", known, 1),
            (std::vector<std::string>{"delta"}));
  EXPECT_EQ(ClosestNames("x", known, 10).size(), known.size());
  EXPECT_TRUE(ClosestNames("x", {}, 3).empty());
}

}  // namespace
}  // namespace gentrace::cpusample
