// A program with a gentrace::FlightRecorder and its crash dump installed
// that crashes on purpose, for flight_recorder_crash_test:
//
//   flight_recorder_crash_program MODE[-no-complete] DIR [--core]
//
// It installs the recorder's crash handler (dump DIR/crash-<pid>.trace;
// with "-no-complete" after the mode, without completing the current
// generation) and starts the recorder with three traced worker threads.
// Generations are long (10 minutes): the program ends them itself with
// WriteTo, so that a boundary falls exactly where it wants one. It ends
// three while the workers run, stops the workers, ends one more (so the
// ring holds a whole generation without them), then logs the marker
// (category "crash", message "marker"), prints "ready", logs "about to
// crash" (category "crash") and, without ending that generation, crashes:
//
//   segv, abort, stack-overflow, terminate   on the main thread
//   stack-overflow-thread  a stack overflow on a traced thread started
//                     after the install (its alternate signal stack is
//                     the tracer's, given at its first event)
//   two-threads       two threads fault at the same moment
//   thread-markers    four traced threads each log "thread marker N" and
//                     wait; once all have, the main thread faults
//   busy              the workers keep running, and the main thread logs
//                     kBusyLogs events (category "busy") before the marker,
//                     and waits until the ring has received some of them,
//                     so that the generation being recorded at the crash
//                     is partly in the ring and the writer's queue
//                     already; then it faults
//   writer-stuck      as busy, without the workers, and with a trace to a
//                     callback (same settings) that blocks for good on the
//                     tracer's writer thread once the busy logs begin: the
//                     ring gets the batch the writer is on, the rest wait
//                     in the writer's queue; then the main thread faults
//   seqlock-held      faults inside the tracer, holding its seqlock (Log
//                     copies a message from a page nothing may read)
//   sink-callback     a trace to a callback runs too (same settings); the
//                     callback faults on the tracer's writer thread while
//                     a WriteTo ends the generation
//   ring-file         the ring is DIR/ring.gtring, with 20 ms generations
//                     (the marker's generation is waited for until it is
//                     in the ring); runs until killed
//
// --core raises RLIMIT_CORE.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tracer/crash_program_work.h"
#include "tracer/gentrace.h"

namespace {

std::atomic<bool> g_stop_work{false};
std::atomic<bool> g_fault_in_callback{false};
std::atomic<bool> g_block_in_callback{false};
// A page nothing may touch.
volatile int* g_forbidden = nullptr;

void Fault(int slot = 0) { g_forbidden[slot * 16] = 1; }

std::atomic<int> g_barrier{0};

void FaultTogether() {
  const int me = g_barrier.fetch_add(1);
  while (g_barrier.load() < 2) {
  }
  Fault(me);
}

// Waits (bounded) until the recorder has committed `n` generations.
bool WaitCommitted(const gentrace::FlightRecorder& fr, uint64_t n) {
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (fr.stats().generations_committed < n) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// Ends the current generation (WriteTo does, and returns once the ring has
// committed it) and checks that the ring committed it. WriteTo's own
// result does not matter: right after Start it may find no whole
// generation held yet (under ThreadSanitizer the first one was seen to be
// left out of the window); a few more generation ends then give some.
bool EndGeneration(gentrace::FlightRecorder& fr) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    const uint64_t before = fr.stats().generations_committed;
    const int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    absl::StatusOr<uint64_t> n = fr.WriteTo(fd);
    close(fd);
    const gentrace::FlightRecorderStats st = fr.stats();
    if (st.generations_committed > before && st.generations_held > 0) {
      return true;
    }
    std::fprintf(stderr,
                 "WriteTo: %s (committed %llu, held %llu, dropped %llu)\n",
                 n.status().ToString().c_str(),
                 static_cast<unsigned long long>(st.generations_committed),
                 static_cast<unsigned long long>(st.generations_held),
                 static_cast<unsigned long long>(st.generations_dropped));
  }
  return false;
}

// busy: logs in the crash generation (flight_recorder_crash_test counts
// them).
constexpr int kBusyLogs = 20000;

// thread-markers: how many threads have logged their marker.
std::atomic<int> g_marked{0};

void LogMarkerAndWait(int i) {
  gentrace::Log("crash", absl::StrCat("thread marker ", i));
  g_marked.fetch_add(1);
  for (;;) pause();  // outside the tracer until the process dies
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: flight_recorder_crash_program MODE DIR [--core]\n");
    return 2;
  }
  std::string mode = argv[1];
  const std::string kNoComplete = "-no-complete";
  bool complete = true;
  if (mode.size() > kNoComplete.size() &&
      mode.compare(mode.size() - kNoComplete.size(), kNoComplete.size(),
                   kNoComplete) == 0) {
    mode.resize(mode.size() - kNoComplete.size());
    complete = false;
  }
  const std::string dir = argv[2];
  if (argc > 3 && std::strcmp(argv[3], "--core") == 0) {
    rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_CORE, &rl);
  }
  g_forbidden = static_cast<volatile int*>(
      mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));

  gentrace::FlightRecorderOptions o;
  // busy: the workers trace on through generations that end only every
  // ~10 ms of their traffic, which under ThreadSanitizer is several MiB; the
  // ring must hold two of them (GenerationRing's capacity note).
  const bool busy_workers = mode == "busy";
  o.max_bytes = busy_workers ? (64 << 20) : (8 << 20);
  o.min_age = absl::Seconds(60);
  const bool ring_file = mode == "ring-file";
  o.generation_period = ring_file ? absl::Milliseconds(20) : absl::Minutes(10);
  if (ring_file) o.ring_file = dir + "/ring.gtring";
  gentrace::FlightRecorder fr(o);

  gentrace::CrashHandlerOptions co;
  co.path_template = dir + "/crash-%p.trace";
  co.complete_current_generation = complete;
  if (absl::Status s = fr.InstallCrashHandler(co); !s.ok()) {
    std::fprintf(stderr, "install: %s\n", s.ToString().c_str());
    return 3;
  }
  if (absl::Status s = fr.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 3;
  }
  const bool writer_stuck = mode == "writer-stuck";
  if (mode == "sink-callback" || writer_stuck) {
    gentrace::Options t;
    t.generation_period = o.generation_period;
    t.callback = [](absl::Span<const uint8_t>) {
      if (g_fault_in_callback.load()) Fault();
      while (g_block_in_callback.load()) pause();
      return absl::OkStatus();
    };
    if (absl::Status s = gentrace::Start(t); !s.ok()) {
      std::fprintf(stderr, "start trace: %s\n", s.ToString().c_str());
      return 3;
    }
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i)
    workers.emplace_back(
        [i] { gentrace::testing::TracedWorkUntil(i, g_stop_work); });

  if (ring_file) {
    if (!WaitCommitted(fr, 4)) {
      std::fprintf(stderr, "no generations after 60 s\n");
      std::_Exit(3);  // threads still run
    }
  } else {
    for (int i = 0; i < 3; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
      if (!EndGeneration(fr)) std::_Exit(3);  // threads still run
    }
  }
  // The workers stop first, so that the generations from here on are
  // small: under a sanitizer on a loaded machine one generation of their
  // traffic can outgrow the ring, and the generation being written then
  // evicts every whole one (GenerationRing's capacity note).
  const bool busy = busy_workers || writer_stuck;
  if (!busy_workers) {
    g_stop_work = true;
    for (std::thread& t : workers) t.join();
  }
  if (ring_file) {
    // Two generations without the workers first: a big generation of
    // theirs may be partly overwritten in the file, and recovery returns
    // the newest run of whole generations after it. Then the marker, whose
    // generation must be whole in the ring before the kill.
    if (!WaitCommitted(fr, fr.stats().generations_committed + 2)) {
      std::fprintf(stderr, "no generation after the workers stopped\n");
      std::_Exit(3);  // threads still run
    }
    gentrace::Log("crash", "marker");
    if (!WaitCommitted(fr, fr.stats().generations_committed + 2)) {
      std::fprintf(stderr, "the marker's generation never ended\n");
      std::_Exit(3);  // threads still run
    }
  } else {
    // A whole generation without the workers' traffic; the marker goes
    // into the next one, the generation being recorded at the crash.
    if (!EndGeneration(fr)) std::_Exit(3);  // threads still run
    const uint64_t received = fr.stats().bytes_received;
    if (writer_stuck) g_block_in_callback = true;
    if (busy) {
      // Fills several event and string buffers: they go to the writer,
      // and from it to the ring, before the crash.
      for (int i = 0; i < kBusyLogs; ++i) {
        gentrace::Log("busy", absl::StrCat("line ", i));
      }
    }
    if (busy_workers) {
      // The ring must hold some of the crash generation's batches (the
      // writer is not waited for otherwise, and on a loaded machine may
      // not have delivered any yet). Generations here last 10 minutes.
      const absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (fr.stats().bytes_received == received) {
        if (absl::Now() > deadline) {
          std::fprintf(stderr, "the ring got no batch of the generation\n");
          std::_Exit(3);  // threads still run
        }
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
    gentrace::Log("crash", "marker");
  }
  std::vector<std::thread> marking;
  if (mode == "thread-markers") {
    for (int i = 0; i < 4; ++i) marking.emplace_back(LogMarkerAndWait, i);
    while (g_marked.load() < 4) absl::SleepFor(absl::Milliseconds(1));
  }
  std::printf("ready %llu\n", static_cast<unsigned long long>(
                                  fr.stats().generations_committed));
  std::fflush(stdout);
  gentrace::Log("crash", "about to crash");

  if (mode == "segv") {
    Fault();
  } else if (mode == "abort") {
    std::abort();
  } else if (mode == "stack-overflow") {
    gentrace::testing::RecurseUntilOverflow(0);
  } else if (mode == "terminate") {
    throw std::runtime_error("nobody catches this");
  } else if (mode == "stack-overflow-thread") {
    std::thread t([] {
      gentrace::Log("crash", "overflowing");  // registers the thread
      gentrace::testing::RecurseUntilOverflow(0);
    });
    t.join();
  } else if (mode == "thread-markers" || busy) {
    Fault();
  } else if (mode == "two-threads") {
    std::thread a(FaultTogether), b(FaultTogether);
    a.join();
    b.join();
  } else if (mode == "seqlock-held") {
    gentrace::Log(
        "crash",
        absl::string_view(const_cast<const char*>(
                              reinterpret_cast<volatile char*>(g_forbidden)),
                          256));
  } else if (mode == "sink-callback") {
    g_fault_in_callback.store(true);
    (void)EndGeneration(fr);  // the writer delivers, the callback faults
    for (;;) pause();
  } else if (mode == "ring-file") {
    for (;;) pause();
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    std::_Exit(2);
  }
  std::fprintf(stderr, "mode %s did not crash\n", mode.c_str());
  std::_Exit(5);
}
