#include "tracer/internal/generation_ring.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "format/ring_file.h"
#include "reader/synthetic_trace.h"
#include "tracer/internal/ring_sink.h"
#include "tracer/ring_test_util.h"

namespace gentrace::internal {
namespace {

using ::gentrace::testing::CheckTrace;
using ::gentrace::testing::ReadFile;
using ::gentrace::testing::SplitGenerations;
using ::gentrace::testing::SplitTrace;
using ::gentrace::testing::StringTraceSink;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::TestGeneration;
using ::gentrace::testing::TraceCheck;
using ::testing::HasSubstr;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// A valid trace of `gens` generations (Go's rules; every generation
// repeats statuses and tables, so any suffix of it is valid too).
SplitTrace Synthetic(int gens, int rounds = 40, int threads = 2) {
  reader::SyntheticTraceOptions o;
  o.threads = threads;
  o.generations = gens;
  o.rounds_per_generation = rounds;
  o.cpu_samples_per_generation = 4;
  absl::StatusOr<SplitTrace> s = SplitGenerations(reader::SyntheticTrace(o));
  EXPECT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->gens.size(), static_cast<size_t>(gens));
  return *s;
}

std::unique_ptr<GenerationRing> NewRing(GenerationRingOptions o) {
  absl::StatusOr<std::unique_ptr<GenerationRing>> r = GenerationRing::Create(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(*r);
}

// Feeds generation g directly: one Append per batch, then EndGeneration with
// a span of [g, g+1) seconds.
void Feed(GenerationRing* ring, const TestGeneration& g) {
  for (const std::string& b : g.batches) {
    ASSERT_TRUE(ring->Append(Bytes(b)).ok());
  }
  ASSERT_TRUE(ring->EndGeneration(g.gen, g.gen * 1000000000ull,
                                  (g.gen + 1) * 1000000000ull)
                  .ok());
}

// What a window of generations [first, last] of t looks like as a trace.
std::string Window(const SplitTrace& t, uint64_t first, uint64_t last) {
  std::string s = t.header;
  for (const TestGeneration& g : t.gens) {
    if (g.gen >= first && g.gen <= last) s += g.bytes();
  }
  return s;
}

std::string Snapshot(GenerationRing* ring, SnapshotInfo* info = nullptr) {
  StringTraceSink sink;
  absl::StatusOr<SnapshotInfo> i = ring->WriteTo(&sink);
  EXPECT_TRUE(i.ok()) << i.status();
  if (i.ok() && info != nullptr) *info = *i;
  if (i.ok()) {
    EXPECT_EQ(sink.generations, static_cast<int>(i->generations));
  }
  return sink.data;
}

std::string CrashSnapshot(GenerationRing* ring, CrashSnapshotOptions o,
                          CrashSnapshotResult* res) {
  const std::string path = TempPath("crash.trace");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  EXPECT_GE(fd, 0);
  *res = ring->WriteCrashSnapshot(fd, o);
  close(fd);
  std::string s = ReadFile(path);
  unlink(path.c_str());
  return s;
}

uint64_t TotalBytes(const SplitTrace& t) {
  uint64_t n = 0;
  for (const TestGeneration& g : t.gens) n += g.bytes().size();
  return n;
}

TEST(GenerationRingTest, SnapshotIsTheHeldWindowAndAValidTrace) {
  const SplitTrace t = Synthetic(10);
  GenerationRingOptions o;
  o.max_bytes = 1 << 20;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_LT(TotalBytes(t), ring->region_size() / 2);  // all of it fits
  RingSink sink(ring.get());
  ASSERT_TRUE(sink.Write(Bytes(t.header)).ok());
  for (const TestGeneration& g : t.gens) {
    for (const std::string& b : g.batches)
      ASSERT_TRUE(sink.Write(Bytes(b)).ok());
    ASSERT_TRUE(sink.EndGeneration().ok());
  }
  const GenerationRingStats st = ring->stats();
  EXPECT_EQ(st.generations_held, 10u);
  EXPECT_EQ(st.first_gen, t.gens.front().gen);
  EXPECT_EQ(st.last_gen, t.gens.back().gen);
  EXPECT_EQ(st.bytes_held, TotalBytes(t));
  SnapshotInfo info;
  const std::string snap = Snapshot(ring.get(), &info);
  EXPECT_EQ(snap, Window(t, 0, ~0ull));
  EXPECT_EQ(info.generations, 10u);
  EXPECT_EQ(info.bytes, snap.size());
  absl::StatusOr<TraceCheck> c = CheckTrace(snap, "window");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->generations, 10u);
  // Any number of snapshots; the same bytes each time.
  EXPECT_EQ(Snapshot(ring.get()), snap);
  EXPECT_EQ(ring->stats().snapshots, 2u);
}

TEST(GenerationRingTest, MinAgeFollowsGosRule) {
  // Generation g spans [g, g+1) s. Go keeps an older generation only while
  // the newer ones do not yet reach min_age back from the newest's end.
  const SplitTrace t = Synthetic(10, 5);
  GenerationRingOptions o;
  o.max_bytes = 1 << 20;
  o.min_age = absl::Milliseconds(2500);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  for (const TestGeneration& g : t.gens) {
    Feed(ring.get(), g);
    // The newest ends at g+1 s; generations from g-1 on start within 2.5 s
    // of it except g-2, which is kept because g-1 starts only 2 s back.
    const uint64_t newest = g.gen;
    const uint64_t first = t.gens.front().gen;
    const uint64_t oldest = newest >= first + 2 ? newest - 2 : first;
    const GenerationRingStats st = ring->stats();
    EXPECT_EQ(st.first_gen, oldest) << newest;
    EXPECT_EQ(st.last_gen, newest);
  }
  EXPECT_EQ(Snapshot(ring.get()),
            Window(t, t.gens.back().gen - 2, t.gens.back().gen));
}

TEST(GenerationRingTest, MaxBytesIsHardAndEvictsOldestWhole) {
  const SplitTrace t = Synthetic(30, 200);
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  EXPECT_EQ(ring->image().size(), format::kRingFileHeaderSize + (64u << 10));
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  uint64_t largest = 0;
  for (const TestGeneration& g : t.gens) {
    largest = std::max<uint64_t>(largest, g.bytes().size());
  }
  ASSERT_LT(3 * largest, ring->region_size());
  ASSERT_GT(TotalBytes(t), 3 * ring->region_size());
  for (const TestGeneration& g : t.gens) {
    Feed(ring.get(), g);
    const GenerationRingStats st = ring->stats();
    ASSERT_EQ(st.last_gen, g.gen);
    ASSERT_LE(st.bytes_held, ring->region_size());
    // Whole generations only, the newest ones, consecutive.
    uint64_t want = 0;
    for (uint64_t k = st.first_gen; k <= st.last_gen; ++k) {
      want += t.gens[k - t.gens.front().gen].bytes().size();
    }
    ASSERT_EQ(st.bytes_held, want);
  }
  const GenerationRingStats st = ring->stats();
  EXPECT_GE(st.generations_held, 2u);
  EXPECT_GT(st.generations_evicted, 0u);
  EXPECT_EQ(st.generations_held + st.generations_evicted, 30u);
  const std::string snap = Snapshot(ring.get());
  EXPECT_EQ(snap, Window(t, st.first_gen, st.last_gen));
  absl::StatusOr<TraceCheck> c = CheckTrace(snap, "evicted");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->generations, st.generations_held);
}

TEST(GenerationRingTest, GenerationBiggerThanTheRingIsDroppedWhole) {
  const SplitTrace small = Synthetic(6, 10);
  const SplitTrace big = Synthetic(1, 3000, 4);
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_GT(big.gens[0].bytes().size(), ring->region_size());
  ASSERT_TRUE(ring->SetHeader(Bytes(small.header)).ok());
  // Generations 1-3, then a big one numbered 4, then 5-6.
  for (int i = 0; i < 3; ++i) Feed(ring.get(), small.gens[i]);
  TestGeneration huge = big.gens[0];
  huge.gen = 4;
  for (const std::string& b : huge.batches) {
    ASSERT_TRUE(ring->Append(Bytes(b)).ok());
  }
  ASSERT_TRUE(ring->EndGeneration(4, 4, 5).ok());
  GenerationRingStats st = ring->stats();
  EXPECT_EQ(st.generations_dropped_too_big, 1u);
  EXPECT_EQ(st.bytes_dropped, huge.bytes().size());
  // The window before it is still there and still a valid trace.
  EXPECT_EQ(st.first_gen, small.gens[0].gen);
  EXPECT_EQ(st.last_gen, small.gens[2].gen);
  EXPECT_EQ(Snapshot(ring.get()), Window(small, 1, 3));
  // The next generation cannot follow 3: the window starts again with it.
  Feed(ring.get(), small.gens[4]);
  Feed(ring.get(), small.gens[5]);
  st = ring->stats();
  EXPECT_EQ(st.first_gen, 5u);
  EXPECT_EQ(st.last_gen, 6u);
  const std::string snap = Snapshot(ring.get());
  EXPECT_EQ(snap, Window(small, 5, 6));
  absl::StatusOr<TraceCheck> c = CheckTrace(snap, "after-drop");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gen_numbers.front(), 5u);
}

TEST(GenerationRingTest, EndRecordNearTheRegionEndGoesToTheNextLap) {
  // Generation 2's one data record ends 56 bytes before the region's end:
  // room for a record header and 8 bytes, not for a generation-end record
  // (48 bytes of payload). The end record must start the next lap (taking
  // generation 1's place), not run past the region's end.
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  const SplitTrace t = Synthetic(2, 5);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  Feed(ring.get(), t.gens[0]);
  uint64_t tail = format::RingRecordSize(format::kRingGenerationEndSize);
  for (const std::string& b : t.gens[0].batches) {
    tail += format::RingRecordSize(b.size());
  }
  const uint64_t payload =
      ring->region_size() - 56 - tail - format::kRingRecordHeaderSize;
  // A valid generation 2, padded with an empty-looking EventBatch (gen 2,
  // m 1, time 1, payload of zeros) to exactly that size.
  const std::string gen = t.gens[1].bytes();
  const uint64_t pad = payload - gen.size();
  std::string batch = "\x01\x02\x01\x01";
  const uint64_t body = pad - batch.size() - 3;  // 3-byte size varint
  batch += static_cast<char>(0x80 | (body & 0x7f));
  batch += static_cast<char>(0x80 | ((body >> 7) & 0x7f));
  batch += static_cast<char>(body >> 14);
  batch += std::string(body, '\0');
  ASSERT_EQ(gen.size() + batch.size(), payload);
  ASSERT_TRUE(ring->Append(Bytes(gen + batch)).ok());
  ASSERT_TRUE(ring->EndGeneration(2, 2, 3).ok());
  const GenerationRingStats st = ring->stats();
  EXPECT_EQ(st.first_gen, 2u);  // 1 made room for the end record
  EXPECT_EQ(st.generations_dropped_too_big, 0u);
  SnapshotInfo info;
  EXPECT_EQ(Snapshot(ring.get(), &info), t.header + gen + batch);
  EXPECT_EQ(info.generations, 1u);
  absl::StatusOr<format::RingRecovery> r =
      format::RecoverRingFile(ring->image());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->generations.size(), 1u);
  EXPECT_EQ(r->generations[0].gen, 2u);
}

TEST(GenerationRingTest, ErrorsForMisuse) {
  GenerationRingOptions o;
  o.max_bytes = 1000;
  EXPECT_EQ(GenerationRing::Create(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.max_bytes = 1 << 20;
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  StringTraceSink sink;
  EXPECT_EQ(ring->WriteTo(&sink).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ring->Append(Bytes("xx")).code(),
            absl::StatusCode::kFailedPrecondition);
  const SplitTrace t = Synthetic(3, 5);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  EXPECT_EQ(ring->EndGeneration(1, 0, 0).code(),
            absl::StatusCode::kFailedPrecondition);
  Feed(ring.get(), t.gens[1]);
  ASSERT_TRUE(ring->Append(Bytes(t.gens[0].bytes())).ok());
  absl::Status s = ring->EndGeneration(t.gens[0].gen, 0, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("numbers must increase"));
}

// A sink that blocks in Write until released, to hold a WriteTo in place.
class GateSink : public StringTraceSink {
 public:
  absl::Status Write(absl::Span<const uint8_t> bytes) override {
    std::unique_lock<std::mutex> l(mu_);
    ++writes_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_ || writes_ <= allowed_; });
    return StringTraceSink::Write(bytes);
  }
  // Lets the first n writes through without waiting.
  void Allow(int n) {
    std::lock_guard<std::mutex> l(mu_);
    allowed_ = n;
  }
  void WaitForWrites(int n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return writes_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int writes_ = 0;
  int allowed_ = 0;
  bool open_ = false;
};

TEST(GenerationRingTest, ConcurrentWriteToFailsLikeGo) {
  const SplitTrace t = Synthetic(3, 5);
  GenerationRingOptions o;
  o.max_bytes = 1 << 20;
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  for (const TestGeneration& g : t.gens) Feed(ring.get(), g);
  GateSink gate;
  std::thread first([&] { EXPECT_TRUE(ring->WriteTo(&gate).ok()); });
  gate.WaitForWrites(1);  // the first WriteTo is inside it
  StringTraceSink other;
  absl::StatusOr<SnapshotInfo> second = ring->WriteTo(&other);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("already in progress"));
  EXPECT_TRUE(other.data.empty());
  gate.Open();
  first.join();
  EXPECT_EQ(gate.data, Window(t, 0, ~0ull));
  EXPECT_TRUE(ring->WriteTo(&other).ok());  // and again once it is done
}

// Fills a ring of about four generations, then takes a snapshot that stops
// after `allowed` writes while the writer goes on with `more` generations.
struct PinnedRun {
  SplitTrace t;
  std::unique_ptr<GenerationRing> ring;
  std::string snapshot;
  uint64_t first = 0, last = 0;  // the window when the snapshot began
};

TEST(GenerationRingTest, WriterWaitsForASnapshotThatMovesOn) {
  PinnedRun p;
  p.t = Synthetic(12, 200);
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  o.writer_wait = absl::Seconds(60);  // never runs out here
  p.ring = NewRing(o);
  ASSERT_TRUE(p.ring->SetHeader(Bytes(p.t.header)).ok());
  for (int i = 0; i < 6; ++i) Feed(p.ring.get(), p.t.gens[i]);
  GenerationRingStats st = p.ring->stats();
  p.first = st.first_gen;
  p.last = st.last_gen;
  ASSERT_GT(p.first, 1u);  // the ring is full: the writer must evict

  GateSink gate;
  gate.Allow(2);  // header and one record, then it waits
  std::thread snap([&] { EXPECT_TRUE(p.ring->WriteTo(&gate).ok()); });
  gate.WaitForWrites(3);
  // The writer now needs the pinned bytes. It waits; release the snapshot
  // from another thread a little later.
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(50));
    gate.Open();
  });
  for (int i = 6; i < 12; ++i) Feed(p.ring.get(), p.t.gens[i]);
  snap.join();
  release.join();
  EXPECT_EQ(gate.data, Window(p.t, p.first, p.last));
  st = p.ring->stats();
  EXPECT_EQ(st.generations_dropped_pinned, 0u);
  EXPECT_EQ(st.last_gen, 12u);
  absl::StatusOr<TraceCheck> c = CheckTrace(gate.data, "pinned");
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST(GenerationRingTest, WriterDropsItsGenerationWhenASnapshotStaysPinned) {
  PinnedRun p;
  p.t = Synthetic(12, 200);
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  o.writer_wait = absl::Milliseconds(20);
  p.ring = NewRing(o);
  ASSERT_TRUE(p.ring->SetHeader(Bytes(p.t.header)).ok());
  for (int i = 0; i < 6; ++i) Feed(p.ring.get(), p.t.gens[i]);
  GenerationRingStats st = p.ring->stats();
  p.first = st.first_gen;
  p.last = st.last_gen;

  GateSink gate;
  gate.Allow(1);
  std::thread snap([&] { EXPECT_TRUE(p.ring->WriteTo(&gate).ok()); });
  gate.WaitForWrites(2);
  // Generation 7 needs the oldest bytes, which the snapshot holds: after
  // 20 ms the writer gives it up.
  Feed(p.ring.get(), p.t.gens[6]);
  st = p.ring->stats();
  EXPECT_EQ(st.generations_dropped_pinned, 1u);
  EXPECT_EQ(st.last_gen, p.last);  // 7 is not held
  gate.Open();
  snap.join();
  // The snapshot is exactly the window it started with.
  EXPECT_EQ(gate.data, Window(p.t, p.first, p.last));
  // The window starts again after the gap.
  for (int i = 7; i < 12; ++i) Feed(p.ring.get(), p.t.gens[i]);
  st = p.ring->stats();
  EXPECT_EQ(st.last_gen, 12u);
  EXPECT_GE(st.first_gen, 8u);
  const std::string after = Snapshot(p.ring.get());
  EXPECT_EQ(after, Window(p.t, st.first_gen, 12));
  absl::StatusOr<TraceCheck> c = CheckTrace(after, "after-pin-drop");
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST(GenerationRingTest, CrashSnapshotWritesHeldGenerations) {
  const SplitTrace t = Synthetic(8, 200);
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  for (int i = 0; i < 7; ++i) Feed(ring.get(), t.gens[i]);
  // Generation 8 is half written.
  const TestGeneration& g8 = t.gens[7];
  const size_t half = g8.batches.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    ASSERT_TRUE(ring->Append(Bytes(g8.batches[i])).ok());
  }
  const GenerationRingStats st = ring->stats();

  CrashSnapshotResult res;
  const std::string snap = CrashSnapshot(ring.get(), {}, &res);
  EXPECT_EQ(res.error, 0);
  EXPECT_FALSE(res.writer_busy);
  EXPECT_FALSE(res.active_included);
  EXPECT_EQ(res.generations, st.generations_held);
  EXPECT_EQ(res.first_gen, st.first_gen);
  EXPECT_EQ(res.last_gen, 7u);
  EXPECT_EQ(snap, Window(t, st.first_gen, 7));
  EXPECT_EQ(res.bytes, snap.size());
  absl::StatusOr<TraceCheck> c = CheckTrace(snap, "crash");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->generations, st.generations_held);

  // Frozen: the writer cannot go on.
  EXPECT_TRUE(ring->frozen());
  EXPECT_EQ(ring->Append(Bytes(g8.batches[half])).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ring->EndGeneration(8, 0, 0).code(),
            absl::StatusCode::kFailedPrecondition);

  // With the active generation: its whole Appends follow.
  const std::string with_active =
      CrashSnapshot(ring.get(), {/*include_active=*/true}, &res);
  EXPECT_TRUE(res.active_included);
  EXPECT_EQ(res.active_appends, half);
  std::string want = Window(t, st.first_gen, 7);
  for (size_t i = 0; i < half; ++i) want += g8.batches[i];
  EXPECT_EQ(with_active, want);
  EXPECT_EQ(res.active_bytes, want.size() - snap.size());
}

TEST(GenerationRingTest, SnapshotsSkipDamagedGenerations) {
  const SplitTrace t = Synthetic(6, 40);
  GenerationRingOptions o;
  o.max_bytes = 1 << 20;
  o.min_age = absl::Hours(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  for (const TestGeneration& g : t.gens) Feed(ring.get(), g);
  // A wild store into generation 3's records (the kind of damage a crash
  // may come with): find its first batch's bytes in the region.
  const std::string needle = t.gens[2].batches[0].substr(0, 32);
  uint8_t* region =
      const_cast<uint8_t*>(ring->image().data()) + format::kRingFileHeaderSize;
  const std::string image(reinterpret_cast<const char*>(region),
                          ring->region_size());
  const size_t at = image.find(needle);
  ASSERT_NE(at, std::string::npos);
  region[at + 7] ^= 0x55;
  SnapshotInfo info;
  EXPECT_EQ(Snapshot(ring.get(), &info), Window(t, 4, 6));
  EXPECT_EQ(info.first_gen, 4u);
  EXPECT_EQ(info.generations_skipped, 3u);
  CrashSnapshotResult res;
  const std::string snap = CrashSnapshot(ring.get(), {}, &res);
  EXPECT_EQ(res.generations, 3u);
  EXPECT_EQ(res.first_gen, 4u);
  EXPECT_EQ(res.generations_skipped, 3u);  // 3 damaged, 1-2 cut off
  EXPECT_EQ(snap, Window(t, 4, 6));
  absl::StatusOr<TraceCheck> c = CheckTrace(snap, "damaged");
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST(GenerationRingTest, CrashSnapshotDoesNotWaitForeverForABusyWriter) {
  // The writer thread is inside Append (held there by a pinned WriteTo)
  // when the crash snapshot runs: it waits wait_ns, then leaves that Append
  // out and writes what is committed.
  const SplitTrace t = Synthetic(10, 200);
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  o.writer_wait = absl::Seconds(60);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  for (int i = 0; i < 6; ++i) Feed(ring.get(), t.gens[i]);
  const GenerationRingStats st = ring->stats();
  GateSink gate;
  gate.Allow(1);
  std::thread snap([&] { EXPECT_TRUE(ring->WriteTo(&gate).ok()); });
  gate.WaitForWrites(2);
  std::atomic<bool> writer_done{false};
  absl::Status writer_status;
  std::thread writer([&] {
    for (const std::string& b : t.gens[6].batches) {
      writer_status = ring->Append(Bytes(b));
      if (!writer_status.ok()) break;
    }
    writer_done = true;
  });
  // Wait until the writer is blocked inside Append (it cannot finish
  // generation 7 without the pinned bytes).
  while (ring->stats().generations_evicted == 0)
    absl::SleepFor(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_FALSE(writer_done);
  CrashSnapshotOptions co;
  co.wait_ns = 30'000'000;
  CrashSnapshotResult res;
  const absl::Time t0 = absl::Now();
  const std::string crash = CrashSnapshot(ring.get(), co, &res);
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  EXPECT_TRUE(res.writer_busy);
  EXPECT_GE(res.generations, 1u);
  EXPECT_EQ(res.last_gen, st.last_gen);
  EXPECT_EQ(crash, Window(t, res.first_gen, st.last_gen));
  gate.Open();
  snap.join();
  writer.join();
  EXPECT_EQ(writer_status.code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<TraceCheck> c = CheckTrace(crash, "busy");
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST(GenerationRingTest, FileBackedRingIsRecoverable) {
  const SplitTrace t = Synthetic(20, 200);
  const std::string path = TempPath("ring.gtring");
  GenerationRingOptions o;
  o.max_bytes = 128 << 10;
  o.min_age = absl::Hours(1);
  o.file_path = path;
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  RingSink sink(ring.get());
  ASSERT_TRUE(sink.Write(Bytes(t.header)).ok());
  for (const TestGeneration& g : t.gens) {
    for (const std::string& b : g.batches)
      ASSERT_TRUE(sink.Write(Bytes(b)).ok());
    ASSERT_TRUE(sink.EndGeneration().ok());
  }
  // Half a generation more, as if killed while writing it.
  const SplitTrace more = Synthetic(21, 200);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(sink.Write(Bytes(more.gens[20].batches[i])).ok());
  }
  const GenerationRingStats st = ring->stats();
  const std::string file = ReadFile(path);
  EXPECT_EQ(file,
            std::string(reinterpret_cast<const char*>(ring->image().data()),
                        ring->image().size()));
  absl::StatusOr<format::RingRecovery> r = format::RecoverRingFile(Bytes(file));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->generations.empty());
  EXPECT_EQ(r->generations.back().gen, st.last_gen);
  EXPECT_LE(r->generations.front().gen, st.first_gen);
  std::string out;
  format::StringSink ss(&out);
  ASSERT_TRUE(format::WriteRecoveredTrace(*r, Bytes(file), &ss).ok());
  EXPECT_EQ(out, Window(t, r->generations.front().gen, st.last_gen));
  bool noted = false;
  for (const std::string& n : r->notes) {
    noted |= n.find("3 data record(s)") != std::string::npos &&
             n.find("no end record") != std::string::npos;
  }
  EXPECT_TRUE(noted);
  ring.reset();
  unlink(path.c_str());
}

TEST(GenerationRingTest, NewHeaderStartsANewTrace) {
  const SplitTrace t = Synthetic(4, 5);
  GenerationRingOptions o;
  o.max_bytes = 1 << 20;
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  RingSink sink(ring.get());
  ASSERT_TRUE(sink.Write(Bytes(t.header)).ok());
  for (int i = 0; i < 2; ++i) {
    for (const std::string& b : t.gens[i].batches)
      ASSERT_TRUE(sink.Write(Bytes(b)).ok());
    ASSERT_TRUE(sink.EndGeneration().ok());
  }
  // The tracer starts again: a header, then generations 3-4.
  ASSERT_TRUE(sink.Write(Bytes(t.header)).ok());
  for (int i = 2; i < 4; ++i) {
    for (const std::string& b : t.gens[i].batches)
      ASSERT_TRUE(sink.Write(Bytes(b)).ok());
    ASSERT_TRUE(sink.EndGeneration().ok());
  }
  const GenerationRingStats st = ring->stats();
  EXPECT_EQ(st.first_gen, 3u);
  EXPECT_EQ(st.last_gen, 4u);
  EXPECT_EQ(Snapshot(ring.get()), Window(t, 3, 4));
  absl::StatusOr<format::RingRecovery> r =
      format::RecoverRingFile(ring->image());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->generations.front().gen, 3u);  // the old session's are gone
}

TEST(RingSinkTest, ReadsGenerationSpanFromBatches) {
  // Two generations with a Frequency of 1e9 ticks/s and batch times: with
  // min_age 1 ns of history, only the newest is kept; the span comes from
  // the batches (no gentrace info batch in synthetic traces).
  const SplitTrace t = Synthetic(3, 5);
  GenerationRingOptions o;
  o.max_bytes = 1 << 20;
  o.min_age = absl::Nanoseconds(1);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  RingSink sink(ring.get());
  ASSERT_TRUE(sink.Write(Bytes(t.header)).ok());
  for (const TestGeneration& g : t.gens) {
    for (const std::string& b : g.batches)
      ASSERT_TRUE(sink.Write(Bytes(b)).ok());
    ASSERT_TRUE(sink.EndGeneration().ok());
  }
  EXPECT_EQ(ring->stats().generations_held, 1u);
  EXPECT_EQ(sink.bytes_written(), Window(t, 0, ~0ull).size());
  // A batch of another generation before EndGeneration is refused.
  ASSERT_TRUE(sink.Write(Bytes(t.gens[0].batches[0])).ok());
  absl::Status s = sink.Write(Bytes(t.gens[1].batches[0]));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("while generation"));
  EXPECT_EQ(sink.Write(Bytes("\x01garbage")).code(),
            absl::StatusCode::kInvalidArgument);
}

// The writer appends generations without pause while several threads take
// snapshots (some get kAborted while another is in progress); every
// snapshot is consecutive whole generations, byte for byte the ones fed.
TEST(GenerationRingStressTest, SnapshotsWhileWriting) {
  const SplitTrace t = Synthetic(8, 200);
  std::map<uint64_t, std::string> by_number;
  GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Hours(1);
  o.writer_wait = absl::Milliseconds(5);
  std::unique_ptr<GenerationRing> ring = NewRing(o);
  ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
  // The writer goes on until the readers have taken enough snapshots (and
  // at least 400 generations), so they really overlap.
  std::atomic<int> ok{0}, aborted{0};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    for (uint64_t n = 1; n <= 400 || (ok.load() < 50 && n < 1000000); ++n) {
      const TestGeneration& g = t.gens[(n - 1) % t.gens.size()];
      for (const std::string& b : g.batches) {
        ASSERT_TRUE(ring->Append(Bytes(b)).ok());
      }
      ASSERT_TRUE(ring->EndGeneration(n, n, n + 1).ok());
      written = n;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        StringTraceSink sink;
        absl::StatusOr<SnapshotInfo> info = ring->WriteTo(&sink);
        if (!info.ok()) {
          if (info.status().code() == absl::StatusCode::kAborted) ++aborted;
          continue;
        }
        ++ok;
        // Rebuild what it must be from the generation numbers.
        std::string want = t.header;
        for (uint64_t n = info->first_gen; n <= info->last_gen; ++n) {
          want += t.gens[(n - 1) % t.gens.size()].bytes();
        }
        ASSERT_EQ(sink.data, want);
        ring->stats();
      }
    });
  }
  writer.join();
  for (std::thread& r : readers) r.join();
  EXPECT_GE(ok.load(), 50);
  const GenerationRingStats st = ring->stats();
  EXPECT_EQ(st.generations_committed + st.generations_dropped_pinned,
            written.load());
  // A crash snapshot after the writer's last generation: byte for byte the
  // held window. (The fed generations repeat every t.gens.size(), so their
  // batch headers' numbers are not the ring's: a window that spans a
  // repeat is not a parseable trace, and the bytes are what is checked.)
  CrashSnapshotResult res;
  const std::string crash = CrashSnapshot(ring.get(), {}, &res);
  EXPECT_EQ(res.last_gen, st.last_gen);
  ASSERT_GT(res.generations, 0u);
  std::string want = t.header;
  for (uint64_t n = res.first_gen; n <= res.last_gen; ++n) {
    want += t.gens[(n - 1) % t.gens.size()].bytes();
  }
  EXPECT_EQ(crash, want);
}

// A crash snapshot taken while the writer is running, from another thread:
// the writer stops at its next write; the snapshot is consecutive whole
// generations.
TEST(GenerationRingStressTest, CrashSnapshotWhileWriting) {
  const SplitTrace t = Synthetic(8, 200);
  for (int round = 0; round < 20; ++round) {
    GenerationRingOptions o;
    o.max_bytes = 64 << 10;
    o.min_age = absl::Hours(1);
    std::unique_ptr<GenerationRing> ring = NewRing(o);
    ASSERT_TRUE(ring->SetHeader(Bytes(t.header)).ok());
    std::atomic<int> committed{0};
    std::thread writer([&] {
      for (int n = 1;; ++n) {
        const TestGeneration& g = t.gens[(n - 1) % t.gens.size()];
        for (const std::string& b : g.batches) {
          if (!ring->Append(Bytes(b)).ok()) return;
        }
        if (!ring->EndGeneration(n, n, n + 1).ok()) return;
        committed = n;
      }
    });
    while (committed.load() < 3 + round) std::this_thread::yield();
    CrashSnapshotOptions co;
    co.include_active = true;
    CrashSnapshotResult res;
    const std::string crash = CrashSnapshot(ring.get(), co, &res);
    writer.join();
    ASSERT_EQ(res.error, 0);
    ASSERT_GE(res.generations, 1u);
    std::string want = t.header;
    for (uint64_t n = res.first_gen; n <= res.last_gen; ++n) {
      want += t.gens[(n - 1) % t.gens.size()].bytes();
    }
    if (res.active_included) {
      const TestGeneration& a = t.gens[res.last_gen % t.gens.size()];
      for (uint64_t i = 0; i < res.active_appends; ++i) want += a.batches[i];
    }
    ASSERT_EQ(crash, want) << round;
  }
}

}  // namespace
}  // namespace gentrace::internal
