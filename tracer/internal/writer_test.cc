// The writer's consumers, through the running tracer: a consumer added
// during a trace receives the header and then whole generations, from the
// first one the writer had not begun, byte for byte as the destination
// does; a failing consumer that does not stop tracing stops only itself.
// Every trace is read by our reader, then by Go's parser when
// GENTRACE_GOTOOL is set.
#include "tracer/internal/writer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/interop/go_tool.h"
#include "tracer/gentrace.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/ring_sink.h"
#include "tracer/internal/runtime.h"
#include "tracer/ring_test_util.h"

namespace gentrace::internal {
namespace {

using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::SplitGenerations;
using ::gentrace::testing::SplitTrace;
using ::gentrace::testing::StringTraceSink;
using ::gentrace::testing::TraceCheck;

// The destination, Options::callback: keeps the bytes, and when armed
// holds the writer thread inside its next write until released, so that
// a test knows the writer has begun a generation.
class Destination {
 public:
  Options MakeOptions() {
    Options o;
    o.callback = [this](absl::Span<const uint8_t> b) { return Write(b); };
    o.generation_period = absl::Hours(1);  // generations end when asked
    return o;
  }
  void Arm() {
    absl::MutexLock l(&mu_);
    armed_ = true;
  }
  void WaitUntilHolding() {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(&holding_));
  }
  void Release() {
    absl::MutexLock l(&mu_);
    released_ = true;
  }
  std::string bytes() {
    absl::MutexLock l(&mu_);
    return bytes_;
  }

 private:
  absl::Status Write(absl::Span<const uint8_t> b) {
    absl::MutexLock l(&mu_);
    bytes_.append(reinterpret_cast<const char*>(b.data()), b.size());
    if (armed_) {
      armed_ = false;
      holding_ = true;
      mu_.Await(absl::Condition(&released_));
    }
    return absl::OkStatus();
  }

  absl::Mutex mu_;
  std::string bytes_;
  bool armed_ = false;
  bool holding_ = false;
  bool released_ = false;
};

// A consumer whose writes fail after the header.
class FailingSink : public Sink {
 public:
  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    if (++writes_ == 1) return absl::OkStatus();
    return absl::DataLossError("consumer broke");
  }
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t bytes_written() const override { return 0; }

 private:
  int writes_ = 0;
};

// Adds a consumer to the running trace; returns its id.
int AddConsumer(std::unique_ptr<Sink> sink, bool stops_tracing) {
  ConsumerOptions o;
  o.stops_tracing = stops_tracing;
  absl::StatusOr<Writer::Added> added =
      Runtime::Get().writer().AddConsumer(std::move(sink), o);
  EXPECT_TRUE(added.ok()) << added.status();
  return added.ok() ? added->id : -1;
}

void EndGeneration() {
  absl::Status s = AdvanceGenerationForTesting();
  ASSERT_TRUE(s.ok()) << s;
}

SplitTrace MustSplit(const std::string& trace) {
  absl::StatusOr<SplitTrace> t = SplitGenerations(trace);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : SplitTrace();
}

// Our reader, then Go's parser when GENTRACE_GOTOOL is set.
TraceCheck MustCheck(const std::string& trace, absl::string_view name) {
  absl::StatusOr<TraceCheck> c = CheckTrace(trace, name);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return TraceCheck();
  EXPECT_EQ(c->go_checked, interop::GoToolAvailable());
  return *c;
}

TEST(WriterTest, ConsumerAddedMidGenerationStartsAtTheNextOne) {
  Destination dest;
  ASSERT_TRUE(Start(dest.MakeOptions()).ok());
  Writer& writer = Runtime::Get().writer();
  gentrace::Log("test", "generation 1");
  EndGeneration();
  // The writer is inside the first write of generation 2 when the
  // consumer comes: generation 2 is not whole for it, 3 is.
  dest.Arm();
  std::thread advance([] {
    gentrace::Log("test", "generation 2");
    EndGeneration();
  });
  dest.WaitUntilHolding();
  auto owned = std::make_unique<StringTraceSink>();
  StringTraceSink* extra = owned.get();
  const int id = AddConsumer(std::move(owned), false);
  dest.Release();
  advance.join();
  gentrace::Log("test", "generation 3");
  EndGeneration();
  gentrace::Log("test", "generation 4");
  ASSERT_TRUE(Stop().ok());

  const SplitTrace all = MustSplit(dest.bytes());
  ASSERT_EQ(all.gens.size(), 4u);
  const SplitTrace late = MustSplit(extra->data);
  EXPECT_EQ(late.header, all.header);
  ASSERT_EQ(late.gens.size(), 2u);
  for (size_t i = 0; i < late.gens.size(); ++i) {
    EXPECT_EQ(late.gens[i].gen, all.gens[i + 2].gen);
    EXPECT_EQ(late.gens[i].batches, all.gens[i + 2].batches);
  }
  EXPECT_EQ(extra->generations, 2);
  const ConsumerStats stats = writer.consumer_stats(id);
  EXPECT_EQ(stats.first_gen, all.gens[2].gen);
  EXPECT_EQ(stats.generations, 2u);
  EXPECT_EQ(stats.bytes, extra->data.size());
  EXPECT_TRUE(stats.status.ok()) << stats.status;
  EXPECT_EQ(GetStats().generations, 4u);

  EXPECT_EQ(MustCheck(dest.bytes(), "writer-destination").generations, 4u);
  const TraceCheck c = MustCheck(extra->data, "writer-late-consumer");
  EXPECT_EQ(c.generations, 2u);
  EXPECT_EQ(c.gen_numbers.front(), all.gens[2].gen);
}

// The flight recorder's use: a ring added before the first batch holds
// the same generations as the destination.
TEST(WriterTest, RingAddedAtStartHoldsTheWholeTrace) {
  GenerationRingOptions o;
  o.max_bytes = 4 << 20;
  o.min_age = absl::Hours(1);
  absl::StatusOr<std::unique_ptr<GenerationRing>> ring =
      GenerationRing::Create(o);
  ASSERT_TRUE(ring.ok()) << ring.status();
  Destination dest;
  ASSERT_TRUE(Start(dest.MakeOptions()).ok());
  const int id = AddConsumer(std::make_unique<RingSink>(ring->get()), false);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 100; ++i) {
        ScopedRegion r("work");
        gentrace::Log("test", absl::StrCat("thread ", t, " step ", i));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EndGeneration();
  gentrace::Log("test", "last");
  ASSERT_TRUE(Stop().ok());

  StringTraceSink snapshot;
  absl::StatusOr<SnapshotInfo> info = (*ring)->WriteTo(&snapshot);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(snapshot.data, dest.bytes());
  EXPECT_EQ(Runtime::Get().writer().consumer_stats(id).generations, 2u);
  EXPECT_EQ(MustCheck(snapshot.data, "writer-ring").generations, 2u);
}

TEST(WriterTest, FailingConsumerStopsOnlyItself) {
  Destination dest;
  ASSERT_TRUE(Start(dest.MakeOptions()).ok());
  Writer& writer = Runtime::Get().writer();
  const int id = AddConsumer(std::make_unique<FailingSink>(), false);
  gentrace::Log("test", "generation 1");
  EndGeneration();
  EXPECT_FALSE(writer.failed());
  gentrace::Log("test", "generation 2");
  EndGeneration();
  EXPECT_TRUE(IsTracing());
  ASSERT_TRUE(Stop().ok());

  const ConsumerStats failed = writer.consumer_stats(id);
  EXPECT_EQ(failed.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(failed.generations, 0u);
  EXPECT_EQ(GetStats().generations, 3u);
  EXPECT_EQ(MustCheck(dest.bytes(), "writer-failing-consumer").generations, 3u);
}

// A consumer that stops tracing when it fails: tracing stops soon after,
// and Stop returns its error, as for the destination.
TEST(WriterTest, FailingConsumerThatStopsTracing) {
  Destination dest;
  ASSERT_TRUE(Start(dest.MakeOptions()).ok());
  Writer& writer = Runtime::Get().writer();
  AddConsumer(std::make_unique<FailingSink>(), true);
  gentrace::Log("test", "generation 1");
  const absl::Status advance = AdvanceGenerationForTesting();
  EXPECT_EQ(advance.code(), absl::StatusCode::kDataLoss) << advance;
  EXPECT_TRUE(writer.failed());
  EXPECT_FALSE(IsTracing());
  EXPECT_EQ(Stop().code(), absl::StatusCode::kDataLoss);
  // The destination still holds whole generations.
  EXPECT_EQ(MustCheck(dest.bytes(), "writer-stopping-consumer").generations,
            GetStats().generations);
}

TEST(WriterTest, NoConsumerWithoutATrace) {
  absl::StatusOr<Writer::Added> added =
      Runtime::Get().writer().AddConsumer(std::make_unique<StringTraceSink>());
  EXPECT_EQ(added.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gentrace::internal
