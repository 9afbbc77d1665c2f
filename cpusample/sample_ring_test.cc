// Tests of SampleRing: exact contents and order, exact capacity and loss
// accounting, wrap-around, and stress from many producers (plain threads,
// real signal handlers, and both at once on the same thread) against a
// concurrent consumer, checking every record's integrity.
#include "cpusample/sample_ring.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gentrace::cpusample {
namespace {

// A record whose fields and PCs are derived from (producer, seq), so that
// the consumer can check it was not torn or mixed up.
SampleRecord MakeRecord(uint32_t producer, uint64_t seq, uint32_t nframes,
                        uintptr_t* pcs) {
  SampleRecord r;
  r.timestamp = seq;
  r.tid = producer;
  r.p = seq * 3 + producer;
  r.g = ~seq;
  r.weight = seq ^ 0x5555;
  r.nframes = nframes;
  r.tag = producer * 7;
  for (uint32_t i = 0; i < nframes; ++i) {
    pcs[i] = (static_cast<uintptr_t>(producer) << 48) ^ (seq << 8) ^ i;
  }
  return r;
}

// Checks a drained record against MakeRecord; returns false if torn.
bool Intact(const SampleRecord& r, const uintptr_t* pcs) {
  const uint64_t seq = r.timestamp;
  const uint64_t producer = r.tid;
  if (r.p != seq * 3 + producer || r.g != ~seq || r.weight != (seq ^ 0x5555) ||
      r.tag != producer * 7 || r.nframes > kMaxFrames) {
    return false;
  }
  for (uint32_t i = 0; i < r.nframes; ++i) {
    if (pcs[i] != ((producer << 48) ^ (seq << 8) ^ i)) return false;
  }
  return true;
}

TEST(SampleRingTest, RoundTripInOrder) {
  SampleRing ring(64 * 1024);
  uintptr_t pcs[kMaxFrames];
  for (uint64_t seq = 0; seq < 50; ++seq) {
    const SampleRecord r = MakeRecord(1, seq, seq % 40, pcs);
    ASSERT_TRUE(ring.TryWrite(r, pcs));
  }
  EXPECT_EQ(ring.written(), 50u);
  EXPECT_EQ(ring.lost(), 0u);
  uint64_t next = 0;
  const size_t n = ring.Drain([&](const SampleRecord& r, const uintptr_t* p) {
    EXPECT_EQ(r.timestamp, next);
    EXPECT_EQ(r.nframes, next % 40);
    EXPECT_TRUE(Intact(r, p));
    ++next;
  });
  EXPECT_EQ(n, 50u);
  EXPECT_EQ(ring.used_bytes(), 0u);
  EXPECT_EQ(ring.Drain([](const SampleRecord&, const uintptr_t*) {}), 0u);
}

TEST(SampleRingTest, DrainHonorsMaxRecords) {
  SampleRing ring(64 * 1024);
  uintptr_t pcs[kMaxFrames];
  for (uint64_t seq = 0; seq < 10; ++seq) {
    ASSERT_TRUE(ring.TryWrite(MakeRecord(1, seq, 3, pcs), pcs));
  }
  uint64_t next = 0;
  auto check = [&](const SampleRecord& r, const uintptr_t*) {
    EXPECT_EQ(r.timestamp, next++);
  };
  EXPECT_EQ(ring.Drain(check, 4), 4u);
  EXPECT_EQ(ring.Drain(check, 4), 4u);
  EXPECT_EQ(ring.Drain(check, 4), 2u);
}

TEST(SampleRingTest, FramesAreCutAtTheFormatLimit) {
  SampleRing ring(64 * 1024);
  std::vector<uintptr_t> pcs(300);
  for (size_t i = 0; i < pcs.size(); ++i) pcs[i] = i + 1;
  SampleRecord r;
  r.nframes = 300;
  ASSERT_TRUE(ring.TryWrite(r, pcs.data()));
  ring.Drain([&](const SampleRecord& got, const uintptr_t* p) {
    ASSERT_EQ(got.nframes, static_cast<uint32_t>(kMaxFrames));
    for (int i = 0; i < kMaxFrames; ++i) EXPECT_EQ(p[i], uintptr_t(i + 1));
  });
}

TEST(SampleRingTest, ExactCapacityAndLossCount) {
  // The smallest ring: 4 * 1080 bytes, rounded up to 8192 = 1024 words. A
  // record with 10 frames takes 17 words: 60 fit (1020 words).
  SampleRing ring(1);
  ASSERT_EQ(ring.capacity_bytes(), 8192u);
  uintptr_t pcs[kMaxFrames];
  int ok = 0;
  for (uint64_t seq = 0; seq < 100; ++seq) {
    ok += ring.TryWrite(MakeRecord(2, seq, 10, pcs), pcs) ? 1 : 0;
  }
  EXPECT_EQ(ok, 60);
  EXPECT_EQ(ring.written(), 60u);
  EXPECT_EQ(ring.lost(), 40u);
  // The kept records are the first 60: nothing unread was overwritten.
  uint64_t next = 0;
  EXPECT_EQ(ring.Drain([&](const SampleRecord& r, const uintptr_t* p) {
    EXPECT_EQ(r.timestamp, next++);
    EXPECT_TRUE(Intact(r, p));
  }),
            60u);
  ring.Reset();
  EXPECT_EQ(ring.written(), 0u);
  EXPECT_EQ(ring.lost(), 0u);
  EXPECT_EQ(ring.used_bytes(), 0u);
}

TEST(SampleRingTest, WrapsWithPaddingOverManyLaps) {
  SampleRing ring(1);  // 1024 words
  uintptr_t pcs[kMaxFrames];
  uint64_t written = 0, read = 0, words = 0;
  // Record sizes 7..135 words never divide the ring evenly, so records
  // keep landing where they do not fit before the end and need padding.
  for (int round = 0; round < 2000; ++round) {
    const int burst = 1 + round % 9;
    for (int i = 0; i < burst; ++i) {
      const uint32_t nframes = static_cast<uint32_t>((written * 37) % 129);
      if (ring.TryWrite(MakeRecord(3, written, nframes, pcs), pcs)) {
        ++written;
        words += SampleRing::kHeaderWords + nframes;
      } else {
        break;
      }
    }
    ring.Drain(
        [&](const SampleRecord& r, const uintptr_t* p) {
          EXPECT_EQ(r.timestamp, read);
          EXPECT_EQ(r.nframes, (read * 37) % 129);
          EXPECT_TRUE(Intact(r, p));
          ++read;
        },
        static_cast<size_t>(round % 5));
  }
  ring.Drain([&](const SampleRecord& r, const uintptr_t* p) {
    EXPECT_EQ(r.timestamp, read++);
    EXPECT_TRUE(Intact(r, p));
  });
  EXPECT_EQ(read, written);
  EXPECT_GT(words / 1024, 100u);  // laps around the ring
  EXPECT_EQ(ring.written(), written);
}

// Drains concurrently until told to stop, checking per-producer order and
// integrity; returns records seen per producer.
struct Checker {
  explicit Checker(int producers) : last(producers, -1), seen(producers, 0) {}
  std::vector<int64_t> last;
  std::vector<uint64_t> seen;
  uint64_t torn = 0, out_of_order = 0;
  void operator()(const SampleRecord& r, const uintptr_t* pcs) {
    if (!Intact(r, pcs) || r.tid >= last.size()) {
      ++torn;
      return;
    }
    // A producer reserves its records in its own order, and the consumer
    // hands records out in reservation order.
    if (static_cast<int64_t>(r.timestamp) <= last[r.tid]) ++out_of_order;
    last[r.tid] = static_cast<int64_t>(r.timestamp);
    ++seen[r.tid];
  }
};

// Checks that the checker saw no torn or reordered record; returns how
// many it saw.
uint64_t ExpectIntactAndInOrder(const Checker& checker) {
  EXPECT_EQ(checker.torn, 0u);
  EXPECT_EQ(checker.out_of_order, 0u);
  uint64_t seen = 0;
  for (uint64_t s : checker.seen) seen += s;
  return seen;
}

TEST(SampleRingStressTest, PlainThreadProducers) {
  constexpr int kProducers = 4;
  constexpr uint64_t kPerProducer = 200000;
  SampleRing ring(64 * 1024);  // small: the ring fills and wraps often
  std::atomic<int> done{0};
  std::vector<uint64_t> accepted(kProducers);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      uintptr_t pcs[kMaxFrames];
      for (uint64_t seq = 0; seq < kPerProducer; ++seq) {
        const uint32_t nframes = static_cast<uint32_t>((seq * 13 + p) % 40);
        if (ring.TryWrite(MakeRecord(p, seq, nframes, pcs), pcs)) {
          ++accepted[p];
        }
      }
      done.fetch_add(1);
    });
  }
  Checker checker(kProducers);
  while (done.load() < kProducers) {
    ring.Drain(std::ref(checker));
  }
  for (auto& t : threads) t.join();
  ring.Drain(std::ref(checker));
  uint64_t total = 0;
  for (int p = 0; p < kProducers; ++p) {
    EXPECT_EQ(checker.seen[p], accepted[p]) << p;
    total += accepted[p];
  }
  EXPECT_EQ(ExpectIntactAndInOrder(checker), total);
  EXPECT_EQ(ring.written(), total);
  EXPECT_EQ(ring.written() + ring.lost(), kProducers * kPerProducer);
  EXPECT_GT(total, 0u);
}

// ---- Producers in real signal handlers --------------------------------------

SampleRing* g_ring = nullptr;
constexpr int kSignalProducers = 4;
// Per-thread producer id and sequence for the handler (each thread is its
// own producer; its handler never re-enters itself).
thread_local int tls_producer = -1;
thread_local uint64_t tls_seq = 0;
std::atomic<uint64_t> g_handler_attempts{0};

// SIGUSR2 handler: one record per signal. Async-signal-safe.
void WriteFromHandler(int, siginfo_t*, void*) {
  const int saved_errno = errno;
  if (tls_producer >= 0) {
    uintptr_t pcs[kMaxFrames];
    const uint64_t seq = tls_seq++;
    g_ring->TryWrite(MakeRecord(static_cast<uint32_t>(tls_producer), seq,
                                static_cast<uint32_t>(seq % 33), pcs),
                     pcs);
    g_handler_attempts.fetch_add(1, std::memory_order_relaxed);
  }
  errno = saved_errno;
}

// Makes WriteFromHandler the SIGUSR2 handler, writing into `ring`, for the
// life of this object (the threads it signals must have stopped first).
class SignalProducers {
 public:
  explicit SignalProducers(SampleRing* ring) {
    g_ring = ring;
    g_handler_attempts = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = WriteFromHandler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    installed_ = sigaction(SIGUSR2, &sa, &old_) == 0;
  }
  ~SignalProducers() {
    if (installed_) sigaction(SIGUSR2, &old_, nullptr);
    g_ring = nullptr;
  }
  bool installed() const { return installed_; }

 private:
  struct sigaction old_;
  bool installed_ = false;
};

// Ends the calling thread's part as a signal producer: no SIGUSR2 may
// arrive once tls_producer is cleared and the handler is gone, so it stays
// blocked for the rest of this thread's life.
void StopProducingFromSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  tls_producer = -1;
}

TEST(SampleRingStressTest, SignalHandlerProducers) {
  constexpr uint64_t kWantedAttempts = 5000;
  SampleRing ring(128 * 1024);
  SignalProducers producers(&ring);
  ASSERT_TRUE(producers.installed());

  // Workers spin; their handlers are the producers. A signaller thread
  // sends them SIGUSR2 as fast as it can.
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::vector<pid_t> tids(kSignalProducers);
  std::vector<std::thread> workers;
  for (int p = 0; p < kSignalProducers; ++p) {
    workers.emplace_back([&, p] {
      tls_producer = p;
      tids[p] = static_cast<pid_t>(syscall(SYS_gettid));
      ready.fetch_add(1);
      while (!stop.load(std::memory_order_relaxed)) {
        // Busy, so that a signal finds the thread running; clock_gettime
        // is also a point where TSan delivers deferred signals.
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
      }
      StopProducingFromSignals();
    });
  }
  while (ready.load() < kSignalProducers) sched_yield();
  std::atomic<bool> signaller_done{false};
  std::thread signaller([&] {
    // Signals to a thread that has one pending merge, so send until the
    // handlers have run often enough (or 20 s have passed).
    const pid_t pid = getpid();
    const time_t deadline = time(nullptr) + 30;
    while (g_handler_attempts.load() < kWantedAttempts &&
           time(nullptr) < deadline) {
      for (int p = 0; p < kSignalProducers; ++p) {
        syscall(SYS_tgkill, pid, tids[p], SIGUSR2);
      }
      usleep(20);
    }
    signaller_done.store(true);
  });
  Checker checker(kSignalProducers);
  while (!signaller_done.load()) ring.Drain(std::ref(checker));
  signaller.join();
  stop.store(true);
  for (auto& t : workers) t.join();
  ring.Drain(std::ref(checker));

  EXPECT_EQ(ExpectIntactAndInOrder(checker), ring.written());
  EXPECT_EQ(ring.written() + ring.lost(), g_handler_attempts.load());
  EXPECT_GE(g_handler_attempts.load(), kWantedAttempts);
  EXPECT_GT(ring.written(), kWantedAttempts / 2);
}

TEST(SampleRingStressTest, HandlerInterruptsAProducerOnItsOwnThread) {
  // Each worker writes records itself (producer 2p) while its handler,
  // interrupting it anywhere (even inside TryWrite), writes others
  // (producer 2p + 1). Neither waits for the other.
  constexpr int kWorkers = 2;
  SampleRing ring(32 * 1024);
  SignalProducers producers(&ring);
  ASSERT_TRUE(producers.installed());

  std::atomic<int> ready{0}, finished{0};
  std::vector<pid_t> tids(kWorkers);
  std::vector<uint64_t> plain_attempts(kWorkers);
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      tids[w] = static_cast<pid_t>(syscall(SYS_gettid));
      tls_producer = 2 * w + 1;
      ready.fetch_add(1);
      uintptr_t pcs[kMaxFrames];
      // At least 100000 records, and on until the handlers have written
      // their share too (or 30 s have passed on a very busy machine).
      const time_t deadline = time(nullptr) + 30;
      for (uint64_t seq = 0;
           seq < 100000 ||
           (g_handler_attempts.load() < 2000 && time(nullptr) < deadline);
           ++seq) {
        ring.TryWrite(MakeRecord(2 * w, seq, seq % 20, pcs), pcs);
        ++plain_attempts[w];
        if (seq % 64 == 0) sched_yield();  // lets TSan deliver signals
      }
      StopProducingFromSignals();
      finished.fetch_add(1);
    });
  }
  while (ready.load() < kWorkers) sched_yield();
  std::thread signaller([&] {
    const pid_t pid = getpid();
    while (finished.load() < kWorkers) {
      for (int w = 0; w < kWorkers; ++w)
        syscall(SYS_tgkill, pid, tids[w], SIGUSR2);
    }
  });
  Checker checker(2 * kWorkers);
  while (finished.load() < kWorkers) ring.Drain(std::ref(checker));
  signaller.join();
  for (auto& t : workers) t.join();
  ring.Drain(std::ref(checker));

  EXPECT_EQ(ExpectIntactAndInOrder(checker), ring.written());
  uint64_t attempts = g_handler_attempts.load();
  for (uint64_t a : plain_attempts) attempts += a;
  EXPECT_EQ(ring.written() + ring.lost(), attempts);
  EXPECT_GE(g_handler_attempts.load(), 2000u);
}

}  // namespace
}  // namespace gentrace::cpusample
