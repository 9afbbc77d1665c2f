// Tests of the event specification table against Go 1.23's definitions.
#include "format/spec.h"

#include <gtest/gtest.h>

namespace gentrace::format {
namespace {

TEST(SpecTest, DefinedTypesAreExactlyGos) {
  int defined = 0;
  for (int t = 0; t < 256; ++t) {
    const bool go_defines = (t >= 1 && t <= 49) || (t >= 128 && t <= 136);
    EXPECT_EQ(LookupSpec(static_cast<uint8_t>(t)) != nullptr, go_defines)
        << "type " << t;
    defined += go_defines;
  }
  EXPECT_EQ(defined, 58);
}

TEST(SpecTest, NamesRoundTrip) {
  for (int t = 1; t < kNumEventTypes; ++t) {
    const EventSpec* s = LookupSpec(static_cast<uint8_t>(t));
    if (s == nullptr) continue;
    EXPECT_EQ(LookupEventByName(s->name), t) << s->name;
    EXPECT_EQ(EventName(static_cast<uint8_t>(t)), s->name);
  }
  EXPECT_EQ(LookupEventByName("NoSuchEvent"), std::nullopt);
  EXPECT_EQ(EventName(77), "Invalid(77)");
}

TEST(SpecTest, SelectedEventsMatchGo) {
  const EventSpec* log = LookupSpec(kEvUserLog);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->name, "UserLog");
  EXPECT_EQ(log->num_args, 5);
  EXPECT_EQ(log->arg_names[2], "key_string");
  EXPECT_EQ(log->arg_kind(0), ArgKind::kTimestampDelta);
  EXPECT_EQ(log->arg_kind(1), ArgKind::kTaskID);
  EXPECT_EQ(log->arg_kind(2), ArgKind::kStringID);
  EXPECT_EQ(log->arg_kind(3), ArgKind::kStringID);
  EXPECT_EQ(log->arg_kind(4), ArgKind::kStackID);
  EXPECT_EQ(log->own_stack_arg(), 4);
  EXPECT_TRUE(log->timed);

  const EventSpec* create = LookupSpec(kEvGoCreate);
  EXPECT_EQ(create->stack_args[0], 3);  // own stack first, as in Go
  EXPECT_EQ(create->stack_args[1], 2);
  EXPECT_EQ(create->arg_kind(1), ArgKind::kGoID);

  const EventSpec* sample = LookupSpec(kEvCPUSample);
  EXPECT_FALSE(sample->timed);
  EXPECT_EQ(sample->arg_kind(0), ArgKind::kTimestamp);
  EXPECT_EQ(sample->arg_kind(1), ArgKind::kThreadID);
  EXPECT_EQ(sample->arg_kind(2), ArgKind::kProcID);

  EXPECT_TRUE(LookupSpec(kEvString)->has_data);
  EXPECT_TRUE(LookupSpec(kEvExperimentalBatch)->has_data);
  EXPECT_TRUE(LookupSpec(kEvStack)->is_stack);
  EXPECT_EQ(LookupSpec(kEvGoSyscallEnd)->start_type, kEvGoSyscallBegin);
  EXPECT_EQ(LookupSpec(kEvSpan)->experiment, kExperimentAllocFree);
  EXPECT_EQ(LookupSpec(kEvProcStatus)->arg_kind(2), ArgKind::kProcStatus);
  EXPECT_EQ(LookupSpec(kEvGoStatus)->arg_kind(3), ArgKind::kGoStatus);
  EXPECT_EQ(LookupSpec(kEvProcStart)->arg_kind(2), ArgKind::kSeq);
}

TEST(SpecTest, VersionGating) {
  EXPECT_TRUE(EventAllowedIn(kEvUserLog, Version::kGo122));
  EXPECT_FALSE(EventAllowedIn(kEvGoSwitch, Version::kGo122));
  EXPECT_TRUE(EventAllowedIn(kEvGoSwitch, Version::kGo123));
  EXPECT_FALSE(EventAllowedIn(kEvExperimentalBatch, Version::kGo122));
  EXPECT_FALSE(EventAllowedIn(kEvSpan, Version::kGo122));
  EXPECT_FALSE(EventAllowedIn(60, Version::kGo123));
}

TEST(SpecTest, EveryTimedEventStartsWithDt) {
  for (int t = 1; t < kNumEventTypes; ++t) {
    const EventSpec* s = LookupSpec(static_cast<uint8_t>(t));
    if (s == nullptr || !s->timed) continue;
    EXPECT_EQ(s->arg_names[0], "dt") << s->name;
    EXPECT_LE(s->num_args, kMaxEventArgs);
    for (int8_t i : s->string_args) {
      if (i >= 0) EXPECT_EQ(s->arg_kind(i), ArgKind::kStringID) << s->name;
    }
    for (int8_t i : s->stack_args) {
      if (i >= 0) EXPECT_EQ(s->arg_kind(i), ArgKind::kStackID) << s->name;
    }
  }
}

}  // namespace
}  // namespace gentrace::format
