// A traced program that crashes on purpose, for crash_handler_test and
// recover_command_test. It traces itself into a GenerationRing (through
// CallbackToRingSink: the callback destination has no end-of-generation
// call), waits until the ring holds a few whole generations, stops its
// worker threads, waits for two more, prints "ready", and then does what
// its mode says:
//
//   crash_test_program MODE DIR [--core]
//
//   segv, abort, fpe, trap     a fault, abort(), a division by zero, int3
//                              on the main thread
//   overflow                   a stack overflow on the main thread
//   overflow-thread            one on a second thread with its own alt stack
//   terminate                  an uncaught exception
//   two-threads                two threads fault at the same moment
//   callback-crash             a dump callback faults (before the ring's)
//   callback-hang              a dump callback blocks on a lock forever
//   lock-held                  the ring's callback needs a lock the
//                              crashing thread holds (it gives up on it)
//   file-ring                  the ring is DIR/ring.gtring; runs until killed
//   file-ring-torn             ditto, and stops forever in the middle of a
//                              record (body written, commit word not) after
//                              printing "torn"
//
// The crash dump goes to DIR/crash-<pid>.trace. --core raises RLIMIT_CORE.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tracer/crash_handler.h"
#include "tracer/crash_program_work.h"
#include "tracer/gentrace.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/ring_sink.h"
#include "tracer/ring_test_util.h"

namespace {

using gentrace::internal::CrashSnapshotOptions;
using gentrace::internal::GenerationRing;
using gentrace::internal::GenerationRingOptions;
using gentrace::internal::RingSink;

GenerationRing* g_ring = nullptr;
std::mutex g_state_mu;  // "needed" by the lock-held callback
std::atomic<bool> g_stop_work{false};

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + ts.tv_nsec;
}

// Appends v in decimal (async-signal-safe).
char* PutNum(char* p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

char* PutStr(char* p, const char* s) {
  while (*s != '\0') *p++ = *s++;
  return p;
}

void DumpRing(const gentrace::CrashContext& ctx, void* arg) {
  CrashSnapshotOptions o;
  const uint64_t now = NowNs();
  o.wait_ns = ctx.deadline_ns > now
                  ? std::min<uint64_t>(50000000, ctx.deadline_ns - now)
                  : 0;
  const gentrace::internal::CrashSnapshotResult r =
      static_cast<GenerationRing*>(arg)->WriteCrashSnapshot(ctx.fd, o);
  char line[200];
  char* p = PutStr(line, "ring snapshot: generations ");
  p = PutNum(p, r.first_gen);
  p = PutStr(p, "-");
  p = PutNum(p, r.last_gen);
  p = PutStr(p, ", skipped ");
  p = PutNum(p, r.generations_skipped);
  p = PutStr(p, r.writer_busy ? ", writer busy" : "");
  p = PutStr(p, ", error ");
  p = PutNum(p, static_cast<uint64_t>(r.error));
  *p++ = '\n';
  write(STDERR_FILENO, line, p - line);
}

// A page nothing may touch: storing into it is a real fault (a null store
// would be flagged by UBSan before it faults).
volatile int* g_forbidden = nullptr;

void Fault(int slot = 0) { g_forbidden[slot * 16] = 1; }

// A division by zero the compiler cannot see or fold.
void DivideByZero() {
  int zero = 0, q;
  asm volatile("cltd; idivl %1" : "=a"(q) : "r"(zero), "a"(7) : "edx");
  (void)q;
}

void CrashingCallback(const gentrace::CrashContext&, void*) { Fault(); }

void HangingCallback(const gentrace::CrashContext&, void*) {
  g_state_mu.lock();  // held by the crashing thread: never returns
  g_state_mu.unlock();
}

// Needs g_state_mu for its bookkeeping, but never waits past its share of
// the deadline: without the lock it writes the ring anyway.
void LockingDumpRing(const gentrace::CrashContext& ctx, void* arg) {
  const uint64_t give_up = NowNs() + 100000000;  // 100 ms
  bool locked = false;
  while (!(locked = g_state_mu.try_lock()) && NowNs() < give_up &&
         NowNs() < ctx.deadline_ns) {
    const timespec pause = {0, 1000000};
    nanosleep(&pause, nullptr);
  }
  DumpRing(ctx, arg);
  if (locked) g_state_mu.unlock();
  const char msg[] = "lock-held: dumped without the lock\n";
  if (!locked) write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

void* OverflowThread(void*) {
  absl::Status s = gentrace::InstallCrashAltStackForThisThread();
  if (!s.ok()) {
    std::fprintf(stderr, "alt stack: %s\n", s.ToString().c_str());
    std::exit(4);
  }
  gentrace::testing::RecurseUntilOverflow(0);
  return nullptr;
}

std::atomic<int> g_barrier{0};

void FaultTogether() {
  const int me = g_barrier.fetch_add(1);
  while (g_barrier.load() < 2) {
  }
  Fault(me);  // different addresses: two faults, not a data race
}

void StopForever(uint64_t seq, void* arg) {
  // The Nth record after arming: announce it, then never commit it.
  auto* countdown = static_cast<std::atomic<int>*>(arg);
  if (countdown->fetch_sub(1) == 1) {
    std::printf("torn %llu\n", static_cast<unsigned long long>(seq));
    std::fflush(stdout);
    for (;;) pause();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: crash_test_program MODE DIR [--core]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  if (argc > 3 && std::strcmp(argv[3], "--core") == 0) {
    rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_CORE, &rl);
  }
  const bool file_ring = mode.rfind("file-ring", 0) == 0;
  g_forbidden = static_cast<volatile int*>(
      mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));

  GenerationRingOptions ro;
  ro.max_bytes = 4 << 20;
  ro.min_age = absl::Seconds(60);
  if (file_ring) ro.file_path = dir + "/ring.gtring";
  absl::StatusOr<std::unique_ptr<GenerationRing>> ring =
      GenerationRing::Create(ro);
  if (!ring.ok()) {
    std::fprintf(stderr, "ring: %s\n", ring.status().ToString().c_str());
    return 3;
  }
  g_ring = ring->get();
  RingSink ring_sink(g_ring);
  gentrace::testing::CallbackToRingSink shim(&ring_sink);

  gentrace::Options opts;
  opts.callback = [&shim](absl::Span<const uint8_t> b) {
    return shim.Write(b);
  };
  opts.generation_period = absl::Milliseconds(20);
  if (absl::Status s = gentrace::Start(opts); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 3;
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i)
    workers.emplace_back(
        [i] { gentrace::testing::TracedWorkUntil(i, g_stop_work); });

  if (!file_ring) {
    gentrace::CrashHandlerOptions co;
    co.path_template = dir + "/crash-%p.trace";
    co.dump_timeout = absl::Seconds(mode == "callback-hang" ? 1 : 5);
    if (absl::Status s = gentrace::InstallCrashHandler(co); !s.ok()) {
      std::fprintf(stderr, "install: %s\n", s.ToString().c_str());
      return 3;
    }
    if (mode == "callback-crash") {
      gentrace::RegisterCrashDumpCallback(CrashingCallback, nullptr);
    }
    gentrace::RegisterCrashDumpCallback(
        mode == "lock-held" ? LockingDumpRing : DumpRing, g_ring);
    if (mode == "callback-hang") {
      gentrace::RegisterCrashDumpCallback(HangingCallback, nullptr);
    }
  }

  // Wait (bounded) for a few whole generations in the ring.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (g_ring->stats().generations_committed < 4) {
    if (absl::Now() > give_up) {
      std::fprintf(stderr, "no generations after 30 s\n");
      std::_Exit(3);  // the workers still run: no destructors
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  // Then the workers stop, and two more generations: under a sanitizer on
  // a loaded machine one generation of their traffic can outgrow the ring,
  // and while it is written it evicts every whole generation (the ring's
  // capacity note), so a crash then would dump none. The generations after
  // the workers stop are small.
  g_stop_work = true;
  for (std::thread& t : workers) t.join();
  const uint64_t settled = g_ring->stats().generations_committed + 2;
  while (g_ring->stats().generations_committed < settled ||
         g_ring->stats().generations_held == 0) {
    if (absl::Now() > give_up + absl::Seconds(30)) {
      std::fprintf(stderr, "no whole generation after the workers stopped\n");
      std::_Exit(3);
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  std::printf("ready %llu\n", static_cast<unsigned long long>(
                                  g_ring->stats().generations_committed));
  std::fflush(stdout);

  if (mode == "segv") {
    Fault();
  } else if (mode == "abort") {
    std::abort();
  } else if (mode == "fpe") {
    DivideByZero();
  } else if (mode == "trap") {
    asm volatile("int3");
  } else if (mode == "overflow") {
    gentrace::testing::RecurseUntilOverflow(0);
  } else if (mode == "overflow-thread") {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t t;
    pthread_create(&t, &attr, OverflowThread, nullptr);
    pthread_join(t, nullptr);
  } else if (mode == "terminate") {
    throw std::runtime_error("nobody catches this");
  } else if (mode == "two-threads") {
    std::thread a(FaultTogether), b(FaultTogether);
    a.join();
    b.join();
  } else if (mode == "callback-crash") {
    std::abort();
  } else if (mode == "callback-hang" || mode == "lock-held") {
    g_state_mu.lock();
    Fault();
  } else if (mode == "file-ring") {
    for (;;) pause();
  } else if (mode == "file-ring-torn") {
    static std::atomic<int> countdown{5};
    g_ring->SetBeforeCommitHookForTesting(StopForever, &countdown);
    for (;;) pause();
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    std::_Exit(2);
  }
  std::fprintf(stderr, "mode %s did not crash\n", mode.c_str());
  std::_Exit(5);
}
