// A plain C++ program that knows nothing of gentrace (its cc_binary has no
// gentrace dependency), for `gentrace run` tests: std::thread, std::mutex,
// std::condition_variable, a pipe, sleeps and a CPU-bound function, each
// in a function of its own name so that stacks in the trace can be told
// apart. It counts what it waited on and prints the counts:
//
//   contended=N condwaits=N pipereads=N burn=N
//
// `contended`: lock() calls on a mutex another thread was holding (made
// certain: the holder takes the lock, lets the contender go, and holds it
// until the kernel shows the contender asleep, then 50 ms more); `condwaits`:
// calls of condition_variable::wait; `pipereads`: read() calls on a pipe whose
// writer sleeps 30 ms before each write and before closing (so every read
// waits, the last one for EOF).
//
// Modes (argv[1]): "all" (the default) does the above. "errno" checks that
// errno comes back from the interposed calls as libc leaves it; "signals"
// installs its own SIGPROF and SIGSEGV handlers and checks both still run;
// "fork" forks a child that runs and exits while the parent works;
// Whatever the mode, a static constructor first locks a mutex another
// thread waits for, and writes and reads a pipe, before main: before the
// shim is ready. "crash" does what "all" does and then dies of SIGSEGV;
// "bench-locks N" and "bench-syscalls N" are tests/run_benchmark.cc's (see
// RunBench).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kRounds = 6;
constexpr int kPipeWrites = 5;
constexpr int kItems = 20;

std::mutex g_mu;
std::atomic<int> g_round{0};
std::atomic<int> g_done{0};
std::atomic<int> g_contender_tid{0};
int g_contended = 0;

void YieldUntil(const std::atomic<int>& a, int v) {
  while (a.load() < v) std::this_thread::yield();
}

// Whether thread `tid` of this process is asleep (state S in
// /proc/self/task/TID/stat). The contender only yields (state R) until it
// calls lock(), so asleep means waiting in lock().
bool Asleep(int tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  char buf[512];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the name may hold spaces
  return p != nullptr && p[1] == ' ' && p[2] == 'S';
}

__attribute__((noinline)) void HoldLock() {
  YieldUntil(g_contender_tid, 1);
  const int contender = g_contender_tid.load();
  for (int i = 1; i <= kRounds; ++i) {
    g_mu.lock();
    g_round.store(i);
    // Hold until the contender waits in lock() (a slow machine may not run
    // it for longer than any fixed time), at most 10 s.
    for (int k = 0; k < 10000 && !Asleep(contender); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    g_mu.unlock();
    YieldUntil(g_done, i);
  }
}

__attribute__((noinline)) void ContendLock() {
  g_contender_tid.store(static_cast<int>(syscall(SYS_gettid)));
  for (int i = 1; i <= kRounds; ++i) {
    YieldUntil(g_round, i);
    g_mu.lock();  // held by HoldLock until this thread waits here
    ++g_contended;
    g_mu.unlock();
    g_done.store(i);
  }
}

std::mutex g_qmu;
std::condition_variable g_qcv;
std::vector<int> g_queue;
bool g_closed = false;
int g_condwaits = 0;

std::atomic<int> g_consumer_waits{0};

__attribute__((noinline)) void Produce() {
  YieldUntil(g_consumer_waits, 1);  // the consumer waits at least once
  for (int i = 0; i < kItems; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
      std::lock_guard<std::mutex> l(g_qmu);
      g_queue.push_back(i);
    }
    g_qcv.notify_one();
  }
  {
    std::lock_guard<std::mutex> l(g_qmu);
    g_closed = true;
  }
  g_qcv.notify_one();
}

__attribute__((noinline)) void Consume() {
  std::unique_lock<std::mutex> l(g_qmu);
  for (;;) {
    while (g_queue.empty() && !g_closed) {
      ++g_condwaits;
      g_consumer_waits.store(g_condwaits);
      g_qcv.wait(l);
    }
    if (g_queue.empty()) return;
    g_queue.pop_back();
  }
}

int g_pipereads = 0;

__attribute__((noinline)) void PipeWriter(int fd) {
  for (int i = 0; i < kPipeWrites; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const char c = 'x';
    if (write(fd, &c, 1) != 1) std::abort();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  close(fd);
}

__attribute__((noinline)) void PipeReader(int fd) {
  pthread_setname_np(pthread_self(), "pipe-reader");
  char buf[16];
  for (;;) {
    ++g_pipereads;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
  }
  close(fd);
}

// CPU for about `ms` milliseconds of thread CPU time.
__attribute__((noinline)) uint64_t BurnCpu(int ms) {
  timespec start, now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  volatile uint64_t x = 1;
  do {
    for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005ull + 1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 +
               (now.tv_nsec - start.tv_nsec) / 1000000 <
           ms);
  return x;
}

// Started with pthread_create itself.
__attribute__((noinline)) void* RawThreadMain(void*) {
  usleep(1000);
  return nullptr;
}

int RunAll() {
  int p[2];
  if (pipe(p) != 0) return 1;
  std::thread holder(HoldLock), contender(ContendLock);
  std::thread consumer(Consume), producer(Produce);
  std::thread reader(PipeReader, p[0]), writer(PipeWriter, p[1]);
  std::thread burner([] { BurnCpu(300); });
  pthread_t raw;
  if (pthread_create(&raw, nullptr, RawThreadMain, nullptr) != 0) return 1;
  pthread_join(raw, nullptr);
  holder.join();
  contender.join();
  producer.join();
  consumer.join();
  writer.join();
  reader.join();
  burner.join();
  std::printf("contended=%d condwaits=%d pipereads=%d burn=1\n", g_contended,
              g_condwaits, g_pipereads);
  return 0;
}

// errno after each interposed call is what libc left: set a marker, make
// a call that succeeds without touching errno, check the marker; make a
// call that fails, check its errno.
int RunErrno() {
  int failures = 0;
  auto expect = [&](const char* what, int want) {
    if (errno != want) {
      std::printf("errno after %s: %d (%s), want %d\n", what, errno,
                  strerror(errno), want);
      ++failures;
    }
  };
  int p[2];
  if (pipe(p) != 0) return 1;
  std::mutex m;
  errno = 1234;
  m.lock();
  expect("uncontended lock", 1234);
  std::thread t([&] {
    errno = 777;
    m.lock();  // contended: recorded as a block
    expect("contended lock", 777);
    m.unlock();
  });
  usleep(20000);
  m.unlock();
  t.join();
  errno = 1234;
  char c = 'a';
  if (write(p[1], &c, 1) != 1) return 1;
  expect("write", 1234);
  if (read(p[0], &c, 1) != 1) return 1;
  expect("read", 1234);
  // A read that waits (the threshold is 0 in the test) and then fails.
  std::thread closer([&] {
    usleep(20000);
    close(p[1]);
  });
  errno = 1234;
  if (read(p[0], &c, 1) != 0) return 1;
  expect("read at EOF", 1234);
  closer.join();
  if (read(-1, &c, 1) != -1) return 1;
  expect("read(-1)", EBADF);
  if (write(-1, &c, 1) != -1) return 1;
  expect("write(-1)", EBADF);
  if (recv(-1, &c, 1, 0) != -1) return 1;
  expect("recv(-1)", EBADF);
  if (send(p[0], &c, 1, 0) != -1) return 1;
  expect("send(pipe)", ENOTSOCK);
  if (connect(-1, nullptr, 0) != -1) return 1;
  expect("connect(-1)", EBADF);
  if (poll(nullptr, 0, 10) != 0) return 1;  // waits 10 ms, succeeds
  errno = 1234;
  if (poll(nullptr, 0, 10) != 0) return 1;
  expect("poll", 1234);
  timespec bad = {0, -1};
  if (nanosleep(&bad, nullptr) != -1) return 1;
  expect("nanosleep(bad)", EINVAL);
  errno = 1234;
  usleep(1000);
  expect("usleep", 1234);
  sem_t sem;
  sem_init(&sem, 0, 1);
  errno = 1234;
  if (sem_wait(&sem) != 0) return 1;  // available: no wait
  expect("sem_wait", 1234);
  std::thread poster([&] {
    usleep(20000);
    sem_post(&sem);
  });
  errno = 1234;
  if (sem_wait(&sem) != 0) return 1;  // waits for the poster
  expect("sem_wait (waited)", 1234);
  poster.join();
  errno = 1234;
  pthread_t th;
  pthread_create(
      &th, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
  pthread_join(th, nullptr);
  expect("pthread_create/join", 1234);
  close(p[0]);
  std::printf("errno failures=%d\n", failures);
  return failures == 0 ? 0 : 1;
}

volatile sig_atomic_t g_sigprof_count = 0;
sigjmp_buf g_segv_jump;
volatile sig_atomic_t g_segv_count = 0;

void OnSigprof(int) {
  g_sigprof_count = g_sigprof_count + 1;
  // An interposed call from a signal handler, which may have interrupted
  // an interposed call of its thread.
  const int saved = errno;
  char c = 0;
  if (write(-1, &c, 1) != -1 || errno != EBADF) std::abort();
  errno = saved;
}
void OnSegv(int, siginfo_t*, void*) {
  g_segv_count = g_segv_count + 1;
  siglongjmp(g_segv_jump, 1);
}

// The program's own SIGPROF handler gets exactly the SIGPROFs sent to it
// (not gentrace's sampling signals), while gentrace goes on sampling; its
// SIGSEGV handler recovers from a fault.
int RunSignals() {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSigprof;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGPROF, &sa, nullptr) != 0) return 1;
  struct sigaction seen;
  if (sigaction(SIGPROF, nullptr, &seen) != 0 || seen.sa_handler != OnSigprof) {
    std::printf("sigaction(SIGPROF) does not report the program's handler\n");
    return 1;
  }
  struct sigaction segv;
  memset(&segv, 0, sizeof(segv));
  segv.sa_sigaction = OnSegv;
  segv.sa_flags = SA_SIGINFO;
  sigemptyset(&segv.sa_mask);
  if (sigaction(SIGSEGV, &segv, nullptr) != 0) return 1;
  constexpr int kRaised = 25;
  for (int i = 0; i < kRaised; ++i) {
    raise(SIGPROF);
    BurnCpu(8);  // gentrace samples meanwhile
  }
  if (sigsetjmp(g_segv_jump, 1) == 0) {
    volatile int* bad = nullptr;
    *bad = 1;  // OnSegv jumps back
  }
  std::printf("sigprof=%d of %d segv=%d\n", static_cast<int>(g_sigprof_count),
              kRaised, static_cast<int>(g_segv_count));
  return g_sigprof_count == kRaised && g_segv_count == 1 ? 0 : 1;
}

// fork without exec: the child works (threads, locks, sleeps: the
// interposed calls) and exits; the parent's trace stays whole.
int RunFork() {
  std::thread t([] { BurnCpu(50); });
  const pid_t pid = fork();
  if (pid == 0) {
    std::mutex m;
    std::thread c([&] {
      std::lock_guard<std::mutex> l(m);
      usleep(10000);
    });
    usleep(1000);
    m.lock();
    m.unlock();
    c.join();
    BurnCpu(50);
    std::printf("child done\n");
    std::fflush(stdout);
    exit(7);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  t.join();
  BurnCpu(50);
  std::printf("child exit=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 1;
}

int64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

// For tests/run_benchmark.cc: `bench-locks N`: 4 threads take one
// std::mutex N times each (contended); `bench-syscalls N`: a 1-byte write
// and read on a pipe, N times (each far below the syscall threshold).
// Prints the loop's own time, work_ns=...
int RunBench(const std::string& what, int64_t n) {
  const int64_t start = NowNs();
  if (what == "bench-locks") {
    std::mutex m;
    int64_t counter = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int64_t i = 0; i < n; ++i) {
          std::lock_guard<std::mutex> l(m);
          ++counter;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    if (counter != 4 * n) return 1;
  } else {
    int p[2];
    if (pipe(p) != 0) return 1;
    char c = 'x';
    for (int64_t i = 0; i < n; ++i) {
      if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1) return 1;
    }
  }
  std::printf("work_ns=%lld\n", static_cast<long long>(NowNs() - start));
  return 0;
}

// Before main, so before the shim is ready (it starts tracing just before
// main): interposed calls then go straight to libc.
__attribute__((constructor)) void BeforeMain() {
  std::mutex m;
  m.lock();
  std::thread t([&] { std::lock_guard<std::mutex> l(m); });
  usleep(1000);
  m.unlock();
  t.join();
  int p[2];
  char c = 'x';
  if (pipe(p) != 0 || write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1) {
    std::abort();
  }
  close(p[0]);
  close(p[1]);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "all";
  if (mode == "all") return RunAll();
  if (mode == "errno") return RunErrno();
  if (mode == "signals") return RunSignals();
  if (mode == "fork") return RunFork();
  if ((mode == "bench-locks" || mode == "bench-syscalls") && argc > 2) {
    return RunBench(mode, std::atoll(argv[2]));
  }
  if (mode == "crash") {
    // Work, then a fault with no handler of the program's.
    RunAll();
    std::fflush(stdout);
    volatile int* bad = nullptr;
    *bad = 1;
    return 0;
  }
  if (mode == "exec") {
    // Runs argv[2..] as a child and waits for it.
    const pid_t pid = fork();
    if (pid == 0) {
      execv(argv[2], argv + 2);
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
