// gentrace demo: a small multi-threaded request pipeline that traces
// itself, for `./dev demo`.
//
// An acceptor thread admits requests into a queue guarded by a mutex and a
// condition variable; a pool of workers takes them and runs each through
// stages: parse (CPU), a mutex-protected cache lookup, simulated I/O in
// system calls, and a CPU-heavy compute stage. Every request is a task,
// every stage a region, and cache hits and misses are logs. Blocking on
// the queue and on the cache lock is recorded with Go's reasons, so
// `go tool trace -pprof=sync` shows where time went waiting.
//
//   demo [--out=PATH] [--seconds=N] [--workers=N] [--period_ms=N]
//        [--cpu_hz=N]   (CPU samples per CPU-second; 0: none; default 100)
//        [--cpu-event=NAME]  (sample a perf event by name: page-faults,
//                             cycles:u, ...; see docs/CPU_SAMPLES.md)
//        [--cpu-ring]   (signal-free: perf rings instead of SIGPROF)
//        [--cpu-events=NAME[@PERIOD],...]  (several perf events at once,
//                             the first the primary; needs --cpu-ring;
//                             PERIOD: events per sample, ns for clocks)
//
// With the flight recorder (docs/FLIGHT_RECORDER.md) instead of a trace to
// --out:
//
//   --flight-recorder    keep the last generations in a ring in memory
//   --snapshot=PATH      write a snapshot of the ring at the end
//   --ring-file=PATH     keep the ring in this file (`gentrace recover`
//                        reads it after kill -9)
//   --crash=KIND         crash at the end instead (segv, abort,
//                        stack-overflow, terminate), after logging
//                        category "crash", message "about to crash"; the
//                        crash handler dumps the ring to --crash-dump,
//                        with the generation being recorded (and so that
//                        log) completed
//   --crash-dump=TEMPLATE  default gentrace-crash-%p.trace (%p: the pid)
// --snapshot, --ring-file and --crash imply --flight-recorder.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "reader/reader.h"
#include "tracer/gentrace.h"

namespace {

struct Flags {
  std::string out = "out/demo.trace";
  int seconds = 3;
  int workers = 4;
  int period_ms = 250;
  int cpu_hz = 100;       // 0: no CPU samples
  std::string cpu_event;  // a perf event by name ("": the default)
  bool cpu_ring = false;  // signal-free sampling
  std::vector<gentrace::CpuProfileOptions::NamedEvent> cpu_events;
  bool flight_recorder = false;
  std::string snapshot;
  std::string ring_file;
  std::string crash;  // "", segv, abort, stack-overflow, terminate
  std::string crash_dump = "gentrace-crash-%p.trace";
};

// "cpu-clock,page-faults@1,cycles@1000000": names, each with an optional
// period after '@'. Exits with status 2 on a bad list.
void ParseEvents(absl::string_view list,
                 std::vector<gentrace::CpuProfileOptions::NamedEvent>* out) {
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    gentrace::CpuProfileOptions::NamedEvent e;
    const size_t at = item.rfind('@');
    e.name = std::string(item.substr(0, at));
    if (e.name.empty() || (at != absl::string_view::npos &&
                           (!absl::SimpleAtoi(item.substr(at + 1), &e.period) ||
                            e.period == 0))) {
      std::fprintf(stderr,
                   "demo: --cpu-events wants NAME[@PERIOD],... with PERIOD "
                   "a positive number, got '%s'\n",
                   std::string(item).c_str());
      std::exit(2);
    }
    out->push_back(std::move(e));
  }
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    auto int_flag = [&](absl::string_view name, int* v, int lo, int hi) {
      if (!absl::ConsumePrefix(&a, name)) return false;
      if (!absl::SimpleAtoi(a, v) || *v < lo || *v > hi) {
        std::fprintf(stderr, "demo: %s wants a number in [%d, %d], got '%s'\n",
                     std::string(name).c_str(), lo, hi, std::string(a).c_str());
        std::exit(2);
      }
      return true;
    };
    if (absl::ConsumePrefix(&a, "--out=")) {
      f->out = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--cpu-event=")) {
      f->cpu_event = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--cpu-events=")) {
      ParseEvents(a, &f->cpu_events);
    } else if (a == "--cpu-ring") {
      f->cpu_ring = true;
    } else if (a == "--flight-recorder") {
      f->flight_recorder = true;
    } else if (absl::ConsumePrefix(&a, "--snapshot=")) {
      f->snapshot = std::string(a);
      f->flight_recorder = true;
    } else if (absl::ConsumePrefix(&a, "--ring-file=")) {
      f->ring_file = std::string(a);
      f->flight_recorder = true;
    } else if (absl::ConsumePrefix(&a, "--crash-dump=")) {
      f->crash_dump = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--crash=")) {
      if (a != "segv" && a != "abort" && a != "stack-overflow" &&
          a != "terminate") {
        std::fprintf(stderr,
                     "demo: --crash wants segv, abort, stack-overflow or "
                     "terminate, got '%s'\n",
                     std::string(a).c_str());
        std::exit(2);
      }
      f->crash = std::string(a);
      f->flight_recorder = true;
    } else if (int_flag("--seconds=", &f->seconds, 1, 3600) ||
               int_flag("--workers=", &f->workers, 1, 64) ||
               int_flag("--period_ms=", &f->period_ms, 1, 60000) ||
               int_flag("--cpu_hz=", &f->cpu_hz, 0, 10000)) {
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: demo [--out=PATH] [--seconds=N] [--workers=N] "
          "[--period_ms=N] [--cpu_hz=N]\n"
          "            [--cpu-event=NAME] [--cpu-ring] "
          "[--cpu-events=NAME[@PERIOD],...]\n"
          "            [--flight-recorder] [--snapshot=PATH] "
          "[--ring-file=PATH]\n"
          "            [--crash=segv|abort|stack-overflow|terminate] "
          "[--crash-dump=TEMPLATE]\n");
      return false;
    } else {
      std::fprintf(stderr, "demo: unknown argument '%s' (try --help)\n",
                   argv[i]);
      std::exit(2);
    }
  }
  return true;
}

struct Request {
  uint64_t id;
  int key;
  gentrace::Task task;
};

// A FIFO of requests: a mutex and a condition variable, instrumented.
class RequestQueue {
 public:
  void Push(Request r) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(std::move(r));
    }
    cv_.notify_one();
  }
  // False once closed and empty.
  bool Pop(Request* r) {
    std::unique_lock<std::mutex> l(mu_);
    if (q_.empty() && !closed_) {
      gentrace::ScopedBlock blocked(gentrace::BlockReason::kCondWait);
      cv_.wait(l, [this] { return !q_.empty() || closed_; });
    }
    if (q_.empty()) return false;
    *r = std::move(q_.front());
    q_.pop_front();
    return true;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> q_;
  bool closed_ = false;
};

// A cache whose lock is held long enough to be contended.
class Cache {
 public:
  bool Lookup(int key, std::string* value) {
    std::unique_lock<std::mutex> l(mu_, std::try_to_lock);
    if (!l.owns_lock()) {
      gentrace::ScopedBlock blocked(gentrace::BlockReason::kSync);
      l.lock();
    }
    Spin(20);  // pretend the lookup is expensive
    auto it = map_.find(key);
    if (it != map_.end()) {
      *value = it->second;
      return true;
    }
    map_[key] = absl::StrCat("value-", key);
    return false;
  }
  static void Spin(int micros) {
    const absl::Time end = absl::Now() + absl::Microseconds(micros);
    volatile double x = 1;
    while (absl::Now() < end) x = std::sqrt(x + 1.5);
  }

 private:
  std::mutex mu_;
  std::map<int, std::string> map_;
};

__attribute__((noinline)) double ComputeHeavy(int rounds) {
  double acc = 0;
  for (int i = 1; i < rounds; ++i) acc += std::sqrt(static_cast<double>(i));
  return acc;
}

__attribute__((noinline)) void SimulatedIo(int fd) {
  gentrace::ScopedSyscall in_syscall;
  char buf[512] = {0};
  for (int i = 0; i < 8; ++i) {
    if (write(fd, buf, sizeof(buf)) < 0) break;
  }
  usleep(300);  // the "device" takes a while
}

struct Totals {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
};

void Worker(int index, RequestQueue* queue, Cache* cache, Totals* totals) {
  gentrace::SetThreadName(absl::StrCat("worker-", index));
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  Request r;
  while (queue->Pop(&r)) {
    const gentrace::TaskId task = r.task.id();
    {
      GENTRACE_TASK_REGION(task, "parse");
      Cache::Spin(50);
    }
    std::string value;
    {
      GENTRACE_TASK_REGION(task, "cache");
      const bool hit = cache->Lookup(r.key, &value);
      gentrace::Log(hit ? "cache hit" : "cache miss",
                    absl::StrCat("key ", r.key), task);
      (hit ? totals->hits : totals->misses).fetch_add(1);
    }
    {
      GENTRACE_TASK_REGION(task, "io");
      SimulatedIo(devnull);
    }
    {
      GENTRACE_TASK_REGION(task, "compute");
      volatile double sink = ComputeHeavy(20000 + (r.key % 7) * 5000);
      (void)sink;
    }
    r.task.End();
    totals->requests.fetch_add(1);
  }
  close(devnull);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
int Recurse(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  return Recurse(depth + 1) + pad[0];
}
#pragma GCC diagnostic pop

// The crash --crash asks for, after the marker log.
[[noreturn]] void Crash(const std::string& kind) {
  gentrace::Log("crash", "about to crash");
  std::printf("demo: crashing (%s)\n", kind.c_str());
  std::fflush(stdout);
  if (kind == "segv") {
    // A page nothing may touch (a null store would be caught by UBSan
    // before it faults).
    void* page =
        mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *static_cast<volatile int*>(page) = 1;
  } else if (kind == "abort") {
    std::abort();
  } else if (kind == "stack-overflow") {
    Recurse(0);
  } else if (kind == "terminate") {
    throw std::runtime_error("demo: nobody catches this");
  }
  std::abort();
}

// Reads a trace back with gentrace's reader, as a check and a summary.
bool ReadBack(const std::string& path) {
  absl::StatusOr<std::unique_ptr<gentrace::reader::Reader>> reader =
      gentrace::reader::Reader::Open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "demo: cannot read the trace back: %s\n",
                 std::string(reader.status().message()).c_str());
    return false;
  }
  std::map<std::string, uint64_t> kinds;
  uint64_t events = 0;
  gentrace::reader::Event ev;
  while ((*reader)->ReadEvent(&ev)) {
    ++kinds[std::string(gentrace::reader::EventKindName(ev.kind()))];
    ++events;
  }
  if (!(*reader)->status().ok()) {
    std::fprintf(stderr, "demo: the trace does not read back cleanly: %s\n",
                 std::string((*reader)->status().message()).c_str());
    return false;
  }
  std::printf("demo: read back %llu events:",
              static_cast<unsigned long long>(events));
  for (const auto& [kind, n] : kinds) {
    std::printf(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf(
      "\ndemo: open it with: /usr/lib/go-1.23/bin/go tool trace %s\n"
      "demo: blocked time by stack: /usr/lib/go-1.23/bin/go tool trace "
      "-pprof=sync %s > sync.pprof && go tool pprof -top sync.pprof\n",
      path.c_str(), path.c_str());
  return true;
}

gentrace::CpuProfileOptions CpuOptions(const Flags& flags) {
  gentrace::CpuProfileOptions cpu;
  cpu.enabled = flags.cpu_hz > 0;
  cpu.hz = std::max(flags.cpu_hz, 1);
  cpu.event_name = flags.cpu_event;
  cpu.signal_free = flags.cpu_ring;
  cpu.events = flags.cpu_events;
  return cpu;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 0;
  gentrace::SetThreadName("main");

  gentrace::FlightRecorderOptions fro;
  fro.ring_file = flags.ring_file;
  fro.generation_period = absl::Milliseconds(flags.period_ms);
  fro.cpu = CpuOptions(flags);
  gentrace::FlightRecorder recorder(fro);
  if (flags.flight_recorder) {
    if (!flags.crash.empty()) {
      // Before Start: threads then get alternate signal stacks.
      gentrace::CrashHandlerOptions co;
      co.path_template = flags.crash_dump;
      if (absl::Status s = recorder.InstallCrashHandler(co); !s.ok()) {
        std::fprintf(stderr, "demo: cannot install the crash handler: %s\n",
                     std::string(s.message()).c_str());
        return 1;
      }
    }
    if (absl::Status s = recorder.Start(); !s.ok()) {
      std::fprintf(stderr, "demo: cannot start the flight recorder: %s\n",
                   std::string(s.message()).c_str());
      return 1;
    }
    std::printf("demo: flight recorder on, %d workers for %d s%s%s\n",
                flags.workers, flags.seconds,
                flags.ring_file.empty() ? "" : ", ring file ",
                flags.ring_file.c_str());
  } else {
    gentrace::Options options;
    options.path = flags.out;
    options.generation_period = absl::Milliseconds(flags.period_ms);
    options.cpu = CpuOptions(flags);
    if (absl::Status s = gentrace::Start(options); !s.ok()) {
      std::fprintf(stderr, "demo: cannot start tracing: %s\n",
                   std::string(s.message()).c_str());
      return 1;
    }
    std::printf("demo: tracing %d workers for %d s into %s\n", flags.workers,
                flags.seconds, flags.out.c_str());
  }
  std::fflush(stdout);

  RequestQueue queue;
  Cache cache;
  Totals totals;
  std::vector<std::thread> workers;
  for (int i = 0; i < flags.workers; ++i) {
    workers.emplace_back(Worker, i, &queue, &cache, &totals);
  }
  std::thread acceptor([&] {
    gentrace::SetThreadName("acceptor");
    std::mt19937 rng(42);
    std::exponential_distribution<double> gap(4000.0);  // ~4000 req/s
    const absl::Time end = absl::Now() + absl::Seconds(flags.seconds);
    uint64_t id = 0;
    while (absl::Now() < end) {
      Request r;
      r.id = ++id;
      r.key = static_cast<int>(rng() % 300);
      r.task = gentrace::Task::Begin("request");
      {
        GENTRACE_TASK_REGION(r.task.id(), "accept");
        queue.Push(std::move(r));
      }
      // Waiting for the next connection.
      gentrace::ScopedBlock waiting(gentrace::BlockReason::kNetwork);
      usleep(static_cast<useconds_t>(gap(rng) * 1e6));
    }
    queue.Close();
  });
  acceptor.join();
  if (!flags.crash.empty()) {
    std::printf("demo: crash dump goes to %s\n",
                recorder.CrashDumpPath().c_str());
    Crash(flags.crash);  // the workers still drain the queue
  }
  for (auto& w : workers) w.join();

  if (flags.flight_recorder) {
    if (!flags.snapshot.empty()) {
      absl::StatusOr<uint64_t> n = recorder.WriteTo(flags.snapshot);
      if (!n.ok()) {
        std::fprintf(stderr, "demo: snapshot failed: %s\n",
                     std::string(n.status().message()).c_str());
        return 1;
      }
    }
    const gentrace::FlightRecorderStats st = recorder.stats();
    if (absl::Status s = recorder.Stop(); !s.ok()) {
      std::fprintf(stderr, "demo: flight recorder failed: %s\n",
                   std::string(s.message()).c_str());
      return 1;
    }
    std::printf(
        "demo: recorded %llu requests; the ring holds generations %llu-%llu "
        "(%llu bytes of %llu; %llu evicted, %llu dropped)\n",
        static_cast<unsigned long long>(totals.requests.load()),
        static_cast<unsigned long long>(st.first_gen),
        static_cast<unsigned long long>(st.last_gen),
        static_cast<unsigned long long>(st.bytes_held),
        static_cast<unsigned long long>(st.region_bytes),
        static_cast<unsigned long long>(st.generations_evicted),
        static_cast<unsigned long long>(st.generations_dropped));
    if (flags.snapshot.empty()) return 0;
    std::printf("demo: snapshot in %s\n", flags.snapshot.c_str());
    return ReadBack(flags.snapshot) ? 0 : 1;
  }

  if (absl::Status s = gentrace::Stop(); !s.ok()) {
    std::fprintf(stderr, "demo: tracing failed: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  const gentrace::Stats stats = gentrace::GetStats();
  std::printf(
      "demo: recorded %llu requests (%llu cache hits, %llu misses) on %llu "
      "threads\n"
      "demo: %llu generations, %llu bytes in %s\n"
      "demo: %llu CPU samples (%llu lost)\n",
      static_cast<unsigned long long>(totals.requests.load()),
      static_cast<unsigned long long>(totals.hits.load()),
      static_cast<unsigned long long>(totals.misses.load()),
      static_cast<unsigned long long>(stats.threads_seen),
      static_cast<unsigned long long>(stats.generations),
      static_cast<unsigned long long>(stats.bytes_written), flags.out.c_str(),
      static_cast<unsigned long long>(stats.cpu_samples),
      static_cast<unsigned long long>(stats.cpu_samples_lost));
  for (const gentrace::Stats::CpuEventStats& e : stats.cpu_events) {
    std::printf("demo: event %s: %llu samples (%llu lost)\n", e.name.c_str(),
                static_cast<unsigned long long>(e.samples),
                static_cast<unsigned long long>(e.lost));
  }

  return ReadBack(flags.out) ? 0 : 1;
}
