// Fibers, coroutines and the traced Mutex/CondVar, end to end: traces of
// fibers that migrate between threads, coroutines that switch on one
// thread, and threads that wake each other, each checked by Go's parser
// and validator (when the Go reference tool is available).
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "reader/gentrace_info.h"
#include "reader/reader.h"
#include "tests/interop/go_tool.h"
#include "tests/tracer/trace_check.h"
#include "tracer/gentrace.h"
#include "tracer/internal/runtime.h"

namespace gentrace {
namespace {

using ::gentrace::testing::GoView;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::ViewWithGo;

// Tests end generations where they need a boundary (EndGeneration), so
// by default no generation ends by the clock.
constexpr absl::Duration kNoTimedGenerations = absl::Hours(1);

Options FileOptions(const std::string& path,
                    absl::Duration period = kNoTimedGenerations) {
  Options o;
  o.path = path;
  o.generation_period = period;
  return o;
}

// Ends the current generation now; it is complete when this returns.
void EndGeneration() {
  absl::Status s = internal::AdvanceGenerationForTesting();
  ASSERT_TRUE(s.ok()) << s;
}

GoView MustView(const std::string& path) {
  absl::StatusOr<GoView> v = ViewWithGo(path);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return GoView();
  EXPECT_TRUE(v->valid) << v->validate_output;
  EXPECT_TRUE(v->ours_agree) << v->ours_difference;
  EXPECT_EQ(v->end_line, "END ok");
  return *v;
}

// Every window of whole generations of `path` must parse on its own.
void ExpectWindowsParse(const std::string& path, int generations) {
  for (int from = 2; from <= generations; from += 2) {
    absl::StatusOr<std::string> window =
        ::gentrace::testing::CutGenerations(path, from);
    ASSERT_TRUE(window.ok()) << window.status();
    SCOPED_TRACE(absl::StrCat("window from generation ", from));
    MustView(*window);
  }
}

#if defined(GENTRACE_TSAN)
constexpr int kScale = 5;  // ThreadSanitizer is ~10x slower
#else
constexpr int kScale = 1;
#endif

uint64_t Tid() { return static_cast<uint64_t>(syscall(SYS_gettid)); }

// The value of `key=` in a dump line ("" if absent).
std::string Field(const std::string& line, absl::string_view key) {
  const std::string k = absl::StrCat(" ", key, "=");
  const size_t p = line.find(k);
  if (p == std::string::npos) return "";
  const size_t b = p + k.size();
  return line.substr(b, line.find(' ', b) - b);
}

// Dump lines about goroutine `g`'s state that contain `what`.
std::vector<std::string> Transitions(const GoView& v, uint64_t g,
                                     absl::string_view what) {
  std::vector<std::string> out;
  const std::string resource = absl::StrCat(" resource=Goroutine:", g, " ");
  for (const std::string& e : v.events) {
    if (e.find(resource) != std::string::npos &&
        e.find(std::string(what)) != std::string::npos) {
      out.push_back(e);
    }
  }
  return out;
}

// The goroutine (g=) of the one Log event with this message.
std::string LogGoroutine(const GoView& v, absl::string_view message) {
  const std::string m = absl::StrCat("message=\"", message, "\"");
  std::string g;
  int n = 0;
  for (const std::string& e : v.events) {
    if (e.rfind("Log ", 0) == 0 && e.find(m) != std::string::npos) {
      g = Field(e, "g");
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << message;
  return g;
}

// A one-slot mailbox for handing work between test threads.
template <typename T>
class Mailbox {
 public:
  void Put(T v) {
    std::lock_guard<std::mutex> l(mu_);
    q_.push_back(std::move(v));
    cv_.notify_all();
  }
  T Take() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty(); });
    T v = std::move(q_.front());
    q_.pop_front();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> q_;
};

TEST(FiberTest, FibersMigrateBetweenThreadsWithTheirRegions) {
  const std::string path = TempPath("fibers.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  constexpr int kFibers = 40;
  Mailbox<Fiber*> to_a, to_b, to_main;
  std::vector<Fiber> fibers;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(Fiber::Create(absl::StrCat("request-", i)));
    ASSERT_TRUE(fibers.back());
  }
  // Thread A starts each fiber's work and blocks it; main wakes it; thread
  // B resumes it and finishes the work.
  std::thread a([&] {
    for (int i = 0; i < kFibers; ++i) {
      Fiber* f = to_a.Take();
      EXPECT_TRUE(f->Resume());
      RegionBegin("work");
      Log("fiber", "on A");
      EXPECT_TRUE(f->Block(BlockReason::kNetwork));
      Log("thread", "A again");  // the thread's own goroutine runs again
      to_main.Put(f);
    }
  });
  std::thread b([&] {
    for (int i = 0; i < kFibers; ++i) {
      Fiber* f = to_b.Take();
      EXPECT_FALSE(f->Block(BlockReason::kSync));  // not running here
      EXPECT_TRUE(f->Resume());
      EXPECT_FALSE(f->Resume());  // already running
      Log("fiber", "on B");
      RegionEnd("work");  // the fiber's region, begun on A
      EXPECT_TRUE(f->Finish());
      EXPECT_FALSE(f->Finish());
    }
  });
  for (int i = 0; i < kFibers; ++i) {
    to_a.Put(&fibers[i]);
    Fiber* f = to_main.Take();
    // A generation ends while this fiber is blocked (and all later ones
    // live): five boundaries.
    if (i % 8 == 0) EndGeneration();
    EXPECT_TRUE(f->Wake());
    EXPECT_FALSE(f->Wake());  // already runnable
    to_b.Put(f);
  }
  a.join();
  b.join();
  fibers.clear();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(v.count("RegionBegin"), kFibers);
  EXPECT_EQ(v.count("RegionEnd"), kFibers);
  EXPECT_EQ(
      v.count_matching({"from=NotExist to=Runnable", "tstack=[\"request-"}),
      kFibers);
  // Each fiber: created, started on A, blocked, woken, started on B, ended.
  EXPECT_EQ(v.count_matching({"reason=\"network\"", "to=Waiting"}), kFibers);
  EXPECT_EQ(v.count_matching({"from=Waiting to=Runnable"}) >= kFibers, true);
  EXPECT_EQ(v.count_matching({"from=Running to=NotExist"}), kFibers + 2);
  EXPECT_EQ(v.count_matching({"category=\"fiber\""}), 2 * kFibers);
  EXPECT_EQ(v.count_matching({"category=\"thread\""}), kFibers);
  EXPECT_EQ(v.count("Sync"), 5 + 1);  // and the last one, at Stop
  ExpectWindowsParse(path, v.count("Sync"));

  // The fibers' names are in gentrace's info batches while they live: the
  // first generation ended with all of them alive.
  absl::StatusOr<std::unique_ptr<reader::Reader>> r =
      reader::Reader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  reader::Event ev;
  std::set<std::string> names;
  while ((*r)->ReadEvent(&ev)) {
    if (ev.kind() != reader::EventKind::kSync) continue;
    reader::GentraceInfo info;
    ASSERT_TRUE(reader::DecodeGentraceInfo(*(*r)->generation(), &info).ok());
    for (const reader::FiberInfo& f : info.fibers) names.insert(f.name);
  }
  for (int i = 0; i < kFibers; ++i) {
    EXPECT_EQ(names.count(absl::StrCat("request-", i)), 1u) << i;
  }
}

TEST(FiberTest, UnfinishedFibersEndWhenDestroyed) {
  const std::string path = TempPath("unfinished.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  {
    Fiber runnable = Fiber::Create("never-run");
    Fiber blocked = Fiber::Create("blocked");
    blocked.Resume();
    blocked.Block(BlockReason::kSleep);
    Fiber running = Fiber::Create("running");
    running.Resume();
    Log("inside", "running fiber");
  }  // all three end here
  Log("after", "fibers");
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(v.count_matching({"from=Running to=NotExist"}), 3);
  EXPECT_EQ(v.count("Log"), 2);
}

TEST(FiberTest, CoroutinesSwitchOnOneThread) {
  const std::string path = TempPath("coroutines.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  std::thread t([] {
    // A generator: the caller resumes it, it yields a value, and so on.
    Coroutine gen = Coroutine::Create("generator");
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(gen.Resume());
      {
        GENTRACE_REGION("produce");  // on the coroutine's goroutine
        Log("yield", absl::StrCat(i));
        // A boundary while the coroutine runs inside its region...
        if (i % 10 == 5) EndGeneration();
      }
      EXPECT_TRUE(gen.Yield());
      Log("caller", absl::StrCat(i));
      // ...and one while it waits to be resumed.
      if (i % 10 == 0) EndGeneration();
    }
    EXPECT_TRUE(gen.Resume());
    EXPECT_TRUE(gen.Return());
    EXPECT_FALSE(gen.Resume());  // it has ended
  });
  t.join();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(v.count_matching({"category=\"yield\""}), 50);
  EXPECT_EQ(v.count_matching({"category=\"caller\""}), 50);
  EXPECT_EQ(v.count("RegionBegin"), 50);
  // GoCreateBlocked, then 51 switches in, 50 back, and the final return.
  EXPECT_EQ(
      v.count_matching({"from=NotExist to=Waiting", "tstack=[\"generator\""}),
      1);
  EXPECT_EQ(v.count_matching({"from=Running to=NotExist"}), 2);
  EXPECT_EQ(v.count("Sync"), 10 + 1);
  ExpectWindowsParse(path, v.count("Sync"));
}

TEST(FiberTest, MutexAndCondVarRecordWhoWokeWhom) {
  const std::string path = TempPath("sync.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  constexpr int kConsumers = 3;
  constexpr int kItems = 200;
  Mutex mu;
  CondVar cv;
  std::deque<int> queue;
  bool done = false;
  // Consumers waiting on cv and not yet notified (under mu). The producer
  // hands out an item only when all of them wait, so every item is taken
  // by a consumer it woke from cv.wait, and the wait counts are exact.
  int idle = 0;
  std::atomic<int> consumed{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      std::unique_lock<Mutex> l(mu);
      for (;;) {
        while (queue.empty() && !done) {
          ++idle;
          cv.wait(l);  // enqueued before mu is released
        }
        if (queue.empty()) return;
        queue.pop_front();
        consumed.fetch_add(1);
      }
    });
  }
  auto when_all_idle = [&](auto fn) {
    for (;;) {
      std::unique_lock<Mutex> l(mu);
      if (idle == kConsumers) return fn();
      l.unlock();
      std::this_thread::yield();
    }
  };
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) {
      when_all_idle([&] {
        queue.push_back(i);
        --idle;  // the one notify_one wakes
      });
      cv.notify_one();
      // A boundary while consumers wait on cv or on the mutex.
      if (i % 50 == 0) EndGeneration();
    }
    when_all_idle([&] {
      done = true;
      idle = 0;
    });
    cv.notify_all();
  });
  producer.join();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(consumed.load(), kItems);
  // Timed waits that time out record their own wake-up.
  {
    std::unique_lock<Mutex> l(mu);
    EXPECT_EQ(cv.wait_for(l, std::chrono::milliseconds(5)),
              std::cv_status::timeout);
  }
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  // Each consumer waits once at first and once after each item it took,
  // and the timed wait above once.
  const int cond_waits =
      v.count_matching({"to=Waiting", "reason=\"sync.(*Cond).Wait\""});
  EXPECT_EQ(cond_waits, kConsumers + kItems + 1);
  // A consumer woken by the producer: the unblock is on another thread
  // than the woken goroutine's. Count unblocks written by some thread for a
  // goroutine that is not the one running there (g=...): every notified
  // wait, and any wait for the mutex that an unlock ended.
  int cross = 0;
  for (const std::string& e : v.events) {
    if (e.find("from=Waiting to=Runnable") == std::string::npos) continue;
    const size_t g = e.find(" g=");
    const size_t r = e.find("resource=Goroutine:");
    if (g == std::string::npos || r == std::string::npos) continue;
    const std::string running = e.substr(g + 3, e.find(' ', g + 3) - g - 3);
    const std::string woken = e.substr(r + 19, e.find(' ', r + 19) - r - 19);
    cross += running != woken;
  }
  EXPECT_GE(cross, kConsumers + kItems);
  EXPECT_EQ(v.count("Sync"), 4 + 1);
  ExpectWindowsParse(path, v.count("Sync"));
}

TEST(FiberTest, ManyFibersOnManyThreadsWithTinyGenerations) {
  const std::string path = TempPath("fiber-stress.trace");
  ASSERT_TRUE(Start(FileOptions(path, absl::Milliseconds(2))).ok());
  constexpr int kWorkers = 8;
  constexpr int kFibers = 400;
  Mailbox<Fiber*> runnable;
  std::vector<Fiber> fibers;
  for (int i = 0; i < kFibers; ++i) {
    fibers.push_back(Fiber::Create(absl::StrCat("stress-fiber-", i)));
  }
  std::atomic<int> finished{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        Fiber* f = runnable.Take();
        if (f == nullptr) return;
        f->Resume();
        GENTRACE_REGION("step");
        const uint64_t id = f->goroutine_id();
        if (id % 3 == 0 && finished.load() < kFibers / 2) {
          // Block; another thread wakes it and queues it again.
          f->Block(BlockReason::kChanReceive);
          std::thread([f, &runnable] {
            f->Wake();
            runnable.Put(f);
          }).detach();
          continue;
        }
        f->Finish();
        finished.fetch_add(1);
      }
    });
  }
  for (Fiber& f : fibers) runnable.Put(&f);
  // Generations end by the clock (every 2 ms) and on demand while the
  // fibers run and migrate, at least three times.
  for (int i = 0; i < 3 || finished.load() < kFibers; ++i) EndGeneration();
  for (int w = 0; w < kWorkers; ++w) runnable.Put(nullptr);
  for (auto& t : workers) t.join();
  fibers.clear();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(v.count_matching(
                {"from=NotExist to=Runnable", "tstack=[\"stress-fiber-"}),
            kFibers);
  EXPECT_EQ(v.count_matching({"from=Running to=NotExist", "g="}) >= kFibers,
            true);
}

// The handle of a fiber that runs on another thread is destroyed: the
// fiber ends on that thread, at its next traced event, and its memory
// lives until then (it used to be freed two generations later while that
// thread still ran it: heap-use-after-free under ASan).
TEST(FiberTest, FiberDestroyedWhileRunningOnAnotherThreadEndsThere) {
  const std::string path = TempPath("destroyed-running.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  auto fiber = std::make_unique<Fiber>(Fiber::Create("doomed"));
  const uint64_t id = fiber->goroutine_id();
  Fiber* f = fiber.get();
  Mailbox<int> to_b, to_main;
  uint64_t b_tid = 0;
  std::thread b([&] {
    b_tid = Tid();
    EXPECT_TRUE(f->Resume());
    {
      GENTRACE_REGION("outlives");  // the fiber's
      Log("on", "fiber");
      to_main.Put(1);
      to_b.Take();          // the handle is gone, and generations have ended
      Log("on", "thread");  // the fiber ends first; this is the thread's
    }  // the region's goroutine has ended: nothing is recorded
    Log("on", "thread again");
  });
  to_main.Take();
  fiber.reset();  // while the fiber runs on b
  EndGeneration();
  EndGeneration();
  EndGeneration();
  to_b.Put(1);
  b.join();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  const std::vector<std::string> ends =
      Transitions(v, id, "from=Running to=NotExist");
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(Field(ends[0], "m"), absl::StrCat(b_tid));  // on b
  // Running on b until then: a status every generation, no other change.
  EXPECT_EQ(Transitions(v, id, "from=Running to=Running").size(), 3u);
  EXPECT_EQ(Transitions(v, id, "to=").size(), 2u + 3 + 1);
  EXPECT_EQ(LogGoroutine(v, "fiber"), absl::StrCat(id));
  const std::string b_g = LogGoroutine(v, "thread");
  EXPECT_NE(b_g, absl::StrCat(id));
  EXPECT_EQ(LogGoroutine(v, "thread again"), b_g);
  EXPECT_EQ(v.count_matching({"RegionBegin", "type=\"outlives\""}), 1);
  EXPECT_EQ(v.count_matching({"RegionEnd"}), 0);
}

// The same for a fiber blocked inside a ScopedBlock (or a traced Mutex or
// CondVar wait) on another thread: it stays that thread's, and ends there
// when the block ends; its handle's destruction does not run it elsewhere.
TEST(FiberTest, FiberDestroyedWhileBlockedInAScopeOnAnotherThreadEndsThere) {
  const std::string path = TempPath("destroyed-blocked.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  auto fiber = std::make_unique<Fiber>(Fiber::Create("doomed"));
  const uint64_t id = fiber->goroutine_id();
  Fiber* f = fiber.get();
  Mailbox<int> to_b, to_main;
  uint64_t b_tid = 0;
  std::thread b([&] {
    b_tid = Tid();
    EXPECT_TRUE(f->Resume());
    GENTRACE_REGION("outlives");
    {
      ScopedBlock blocked(BlockReason::kNetwork);
      to_main.Put(1);
      to_b.Take();
    }  // the fiber runs again, and ends at once
    Log("on", "thread");
  });
  to_main.Take();
  fiber.reset();
  EndGeneration();
  EndGeneration();
  EndGeneration();
  to_b.Put(1);
  b.join();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  const std::vector<std::string> ends =
      Transitions(v, id, "from=Running to=NotExist");
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(Field(ends[0], "m"), absl::StrCat(b_tid));
  EXPECT_EQ(Transitions(v, id, "reason=\"network\"").size(), 1u);
  EXPECT_EQ(Transitions(v, id, "from=Waiting to=Waiting").size(), 3u);
  EXPECT_NE(LogGoroutine(v, "thread"), absl::StrCat(id));
  EXPECT_EQ(v.count_matching({"RegionEnd"}), 0);
}

// A thread that exits while running a fiber whose handle is gone ends it;
// a coroutine destroyed while it runs elsewhere gives its thread back to
// the goroutine that resumed it.
TEST(FiberTest, DestroyedFibersEndAtThreadExitAndCoroutinesReturn) {
  const std::string path = TempPath("destroyed-exit.trace");
  ASSERT_TRUE(Start(FileOptions(path)).ok());
  auto fiber = std::make_unique<Fiber>(Fiber::Create("doomed-fiber"));
  auto co = std::make_unique<Coroutine>(Coroutine::Create("doomed-co"));
  const uint64_t fiber_id = fiber->goroutine_id();
  const uint64_t co_id = co->goroutine_id();
  Fiber* f = fiber.get();
  Coroutine* c = co.get();
  Mailbox<int> to_b, to_main;
  std::thread b([&] {
    EXPECT_TRUE(f->Resume());
    to_main.Put(1);
    to_b.Take();
  });  // exits running the fiber
  std::thread d([&] {
    Log("d", "before");
    EXPECT_TRUE(c->Resume());
    Log("on", "coroutine");
    to_main.Put(1);
    to_b.Take();
    Log("on", "resumer");  // the coroutine ends first
  });
  to_main.Take();
  to_main.Take();
  fiber.reset();
  co.reset();
  EndGeneration();
  EndGeneration();
  to_b.Put(1);
  to_b.Put(1);
  b.join();
  d.join();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  EXPECT_EQ(Transitions(v, fiber_id, "from=Running to=NotExist").size(), 1u);
  EXPECT_EQ(Transitions(v, co_id, "from=Running to=NotExist").size(), 1u);
  EXPECT_EQ(LogGoroutine(v, "coroutine"), absl::StrCat(co_id));
  EXPECT_EQ(LogGoroutine(v, "resumer"), LogGoroutine(v, "before"));
}

// A busy program where fibers end in every way while regions opened on
// them are still open, and handles are destroyed on other threads while
// the fibers run, block, switch to coroutines and resume other fibers,
// with generations ending all along. A region token that no longer
// matches a live goroutine records nothing; nothing is freed early (this
// used to corrupt the heap: SIGSEGV in free in ~GState, from the
// advancer's reclaim of ended fibers).
TEST(FiberTest, FibersEndingUnderOpenRegionsInABusyProgram) {
  const std::string path = TempPath("busy.trace");
  ASSERT_TRUE(Start(FileOptions(path, absl::Milliseconds(2))).ok());
  constexpr int kWorkers = 4;
  const int kRounds = 150 / kScale;
  // The owner creates shared fibers and destroys their handles while
  // workers run them; a worker touches a handle only to resume it.
  struct Handoff {
    std::unique_ptr<Fiber> fiber;
    std::atomic<bool> resumed{false};
    std::atomic<bool> destroyed{false};
  };
  std::vector<std::unique_ptr<Handoff>> handoffs;
  for (int i = 0; i < kWorkers * kRounds; ++i) {
    handoffs.push_back(std::make_unique<Handoff>());
    handoffs.back()->fiber =
        std::make_unique<Fiber>(Fiber::Create(absl::StrCat("shared-", i)));
  }
  auto wait_for = [](const std::atomic<bool>& flag) {
    while (!flag.load()) std::this_thread::yield();
  };
  Mutex mu;
  std::atomic<int> workers_done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        // A fiber of its own, finished and destroyed inside its region.
        {
          Fiber own = Fiber::Create("own");
          EXPECT_TRUE(own.Resume());
          GENTRACE_REGION("outlives");
          Log("own", "running");
          EXPECT_TRUE(own.Finish());
          own = Fiber();
          Log("own", "after");  // the thread's own goroutine
        }
        // A shared one, destroyed by the owner while it runs here.
        Handoff& h = *handoffs[w * kRounds + r];
        EXPECT_TRUE(h.fiber->Resume());
        {
          GENTRACE_REGION("outlives");
          // Only now may the owner destroy the handle: destroyed before
          // the region began, the fiber would end at RegionBegin and the
          // region would belong to the thread's own goroutine (and end).
          h.resumed.store(true);
          switch (r % 3) {
            case 0: {  // destroyed while blocked in a scope here
              ScopedBlock b(BlockReason::kSelect);
              wait_for(h.destroyed);
              break;
            }
            case 1:  // destroyed while running here, silent
              wait_for(h.destroyed);
              break;
            default:  // destroyed at any point of a busy stretch
              for (int k = 0; k < 4; ++k) {
                Log("busy", "x");
                GENTRACE_REGION("inner");
                Coroutine co = Coroutine::Create("co");
                co.Resume();
                Log("co", "in");
                co.Yield();
                {
                  std::lock_guard<Mutex> l(mu);
                  Fiber nested = Fiber::Create("nested");
                  nested.Resume();
                  Log("nested", "in");
                }  // nested ends here
                co.Resume();
                co.Return();
              }
              wait_for(h.destroyed);
          }
          Log("busy", "end");  // ends the fiber if it still runs here
        }
      }
      workers_done.fetch_add(1);
    });
  }
  std::thread owner([&] {
    for (int r = 0; r < kRounds; ++r) {
      for (int w = 0; w < kWorkers; ++w) {
        Handoff& h = *handoffs[w * kRounds + r];
        wait_for(h.resumed);
        h.fiber.reset();
        h.destroyed.store(true);
      }
    }
  });
  while (workers_done.load() < kWorkers) EndGeneration();
  for (auto& t : threads) t.join();
  owner.join();
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  const int shared = kWorkers * kRounds;
  EXPECT_EQ(v.count_matching({"from=NotExist", "tstack=[\"shared-"}), shared);
  // Every goroutine ends exactly once: fibers, coroutines, and the
  // threads, which all exit before Stop, except the main thread (it
  // created the shared fibers).
  const int created =
      v.count_matching({"resource=Goroutine:", "from=NotExist"});
  EXPECT_EQ(v.count_matching({"resource=Goroutine:", "to=NotExist"}),
            created - 1);
  std::set<std::string> ended;
  for (const std::string& e : v.events) {
    if (e.find(" to=NotExist") != std::string::npos) {
      EXPECT_TRUE(ended.insert(Field(e, "resource")).second) << e;
    }
  }
  // Regions begun on a fiber that then ended record no end.
  EXPECT_EQ(v.count_matching({"RegionBegin", "type=\"outlives\""}), 2 * shared);
  EXPECT_EQ(v.count_matching({"RegionEnd", "type=\"outlives\""}), 0);
}

}  // namespace
}  // namespace gentrace
