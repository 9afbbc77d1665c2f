// Fibers, coroutines and the traced Mutex/CondVar, end to end: traces of
// fibers that migrate between threads, coroutines that switch on one
// thread, and threads that wake each other, each checked by Go's parser
// and validator (when the Go reference tool is available).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <deque>
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

namespace gentrace {
namespace {

using ::gentrace::testing::GoView;
using ::gentrace::testing::TempPath;
using ::gentrace::testing::ViewWithGo;

Options FileOptions(const std::string& path, absl::Duration period) {
  Options o;
  o.path = path;
  o.generation_period = period;
  return o;
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
  ASSERT_TRUE(Start(FileOptions(path, absl::Milliseconds(3))).ok());
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
    if (i % 8 == 0) usleep(4000);  // let generations pass while blocked
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
  ExpectWindowsParse(path, v.count("Sync"));

  // The fibers' names are in gentrace's info batches while they live.
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
  EXPECT_EQ(names.count(absl::StrCat("request-", kFibers - 1)), 1u);
}

TEST(FiberTest, UnfinishedFibersEndWhenDestroyed) {
  const std::string path = TempPath("unfinished.trace");
  ASSERT_TRUE(Start(FileOptions(path, absl::Milliseconds(20))).ok());
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
  ASSERT_TRUE(Start(FileOptions(path, absl::Milliseconds(2))).ok());
  std::thread t([] {
    // A generator: the caller resumes it, it yields a value, and so on.
    Coroutine gen = Coroutine::Create("generator");
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(gen.Resume());
      {
        GENTRACE_REGION("produce");  // on the coroutine's goroutine
        Log("yield", absl::StrCat(i));
      }
      EXPECT_TRUE(gen.Yield());
      Log("caller", absl::StrCat(i));
      if (i % 10 == 0) usleep(3000);
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
  ExpectWindowsParse(path, v.count("Sync"));
}

TEST(FiberTest, MutexAndCondVarRecordWhoWokeWhom) {
  const std::string path = TempPath("sync.trace");
  ASSERT_TRUE(Start(FileOptions(path, absl::Milliseconds(5))).ok());
  Mutex mu;
  CondVar cv;
  std::deque<int> queue;
  bool done = false;
  std::atomic<int> consumed{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&] {
      std::unique_lock<Mutex> l(mu);
      for (;;) {
        cv.wait(l, [&] { return !queue.empty() || done; });
        if (queue.empty()) return;
        queue.pop_front();
        consumed.fetch_add(1);
        l.unlock();
        usleep(200);
        l.lock();
      }
    });
  }
  std::thread producer([&] {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<Mutex> l(mu);
        queue.push_back(i);
        usleep(50);  // hold the lock: contention
      }
      cv.notify_one();
      usleep(1000);  // consumers are idle again: they wait on the CondVar
    }
    {
      std::lock_guard<Mutex> l(mu);
      done = true;
    }
    cv.notify_all();
  });
  producer.join();
  for (auto& t : consumers) t.join();
  EXPECT_EQ(consumed.load(), 200);
  // Timed waits that time out record their own wake-up.
  {
    std::unique_lock<Mutex> l(mu);
    EXPECT_EQ(cv.wait_for(l, std::chrono::milliseconds(5)),
              std::cv_status::timeout);
  }
  ASSERT_TRUE(Stop().ok());

  GoView v = MustView(path);
  const int cond_waits =
      v.count_matching({"to=Waiting", "reason=\"sync.(*Cond).Wait\""});
  EXPECT_GT(cond_waits, 20);
  // A consumer woken by the producer: the unblock is on another thread
  // than the woken goroutine's. Count unblocks written by some thread for a
  // goroutine that is not the one running there (g=...).
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
  EXPECT_GT(cross, 20);
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
  while (finished.load() < kFibers) usleep(1000);
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

}  // namespace
}  // namespace gentrace
