// The crash handler; see crash_handler.h. Everything reachable from
// SignalHandler, TerminateHandler and WatchdogHandler is async-signal-safe:
// system calls, atomics, sigsetjmp/siglongjmp, and our own formatting.
//
// Invariants:
//   C1. At most one dump per process: the first crashing thread to claim
//       owner_ runs it; owner_ is never given back.
//   C2. While a callback runs, in_callback_ is set and jmp_ is where a
//       nested crash or the watchdog on the owner thread jumps back to.
//   C3. Everything the dump reads (the path, the fd, the callbacks) is
//       written before installed_ is set (release) or, for callbacks,
//       published with a release store of the slot's function.
#include "tracer/crash_handler.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "base/sys.h"
#include "format/byte_sink.h"

namespace gentrace {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
constexpr int kWatchdogSignal = SIGALRM;
constexpr int kWatchdogCookie = 0x67747263;  // "gtrc"

struct Slot {
  std::atomic<CrashDumpCallback> fn{nullptr};
  std::atomic<void*> arg{nullptr};
};

// All state lives here, zero-initialized, so the handlers never depend on
// a constructor having run.
struct State {
  std::atomic<bool> installed{false};
  int pid = 0;
  int fd = -1;
  bool tmpfile = false;  // unnamed until linked at a crash
  char path[PATH_MAX] = {};
  char proc_path[64] = {};  // /proc/self/fd/N
  uint64_t timeout_ns = 0;
  bool report = true;
  bool handle_terminate = true;
  struct sigaction prev[NSIG] = {};
  std::terminate_handler prev_terminate = nullptr;

  std::atomic<int> owner{0};  // C1
  std::atomic<int> phase{0};  // 0 no dump, 1 dumping, 2 done
  // Owner thread only, during a dump (C2).
  sigjmp_buf jmp;
  volatile sig_atomic_t in_callback = 0;
  int timer = -1;
  struct sigaction prev_alarm = {};
  sigset_t saved_mask = {};

  Slot slots[kMaxCrashDumpCallbacks];
};
State g;
std::mutex g_mu;  // Install, Uninstall, Register (never at a crash)
std::atomic<uint32_t> g_epoch{0};  // CrashHandlerEpoch

int Tid() { return static_cast<int>(base::GetTid()); }

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

void SleepNs(uint64_t ns) {
  timespec ts = {static_cast<time_t>(ns / 1000000000u),
                 static_cast<long>(ns % 1000000000u)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// ---- Formatting without allocation (async-signal-safe).

class Line {
 public:
  Line& operator<<(const char* s) {
    while (*s != '\0' && len_ < sizeof(buf_) - 1) buf_[len_++] = *s++;
    return *this;
  }
  Line& Num(uint64_t v, int base = 10) {
    char tmp[24];
    int n = 0;
    do {
      tmp[n++] = "0123456789abcdef"[v % base];
      v /= base;
    } while (v != 0);
    if (base == 16) *this << "0x";
    while (n > 0 && len_ < sizeof(buf_) - 1) buf_[len_++] = tmp[--n];
    return *this;
  }
  void WriteTo(int fd) {
    buf_[len_++] = '\n';
    format::WriteFully(fd, buf_, len_);
  }

 private:
  char buf_[PATH_MAX + 256];
  size_t len_ = 0;
};

const char* SignalName(int sig) {
  switch (sig) {
    case 0:
      return "std::terminate";
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    case SIGTRAP:
      return "SIGTRAP";
  }
  return "signal";
}

// ---- The watchdog: a timer on the owner thread that jumps out of a
// callback still running at the deadline.

void WatchdogHandler(int, siginfo_t* info, void*) {
  const int saved = errno;
  if (info != nullptr && info->si_code == SI_TIMER &&
      info->si_value.sival_int == kWatchdogCookie && g.in_callback &&
      g.owner.load(std::memory_order_relaxed) == Tid()) {
    siglongjmp(g.jmp, kWatchdogSignal);
  }
  errno = saved;  // someone else's alarm: the process is going down anyway
}

void ArmWatchdog(int tid, uint64_t deadline) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = WatchdogHandler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(kWatchdogSignal, &sa, &g.prev_alarm);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, kWatchdogSignal);
  pthread_sigmask(SIG_UNBLOCK, &s, &g.saved_mask);
  sigevent sev;
  std::memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kWatchdogSignal;
  sev.sigev_value.sival_int = kWatchdogCookie;
  sev._sigev_un._tid = tid;
  int id = -1;
  if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id) != 0) {
    g.timer = -1;
    return;
  }
  g.timer = id;
  const uint64_t now = NowNs();
  const uint64_t left = deadline > now ? deadline - now : 1;
  itimerspec its;
  std::memset(&its, 0, sizeof(its));
  its.it_value.tv_sec = static_cast<time_t>(left / 1000000000u);
  its.it_value.tv_nsec = static_cast<long>(left % 1000000000u);
  syscall(SYS_timer_settime, id, 0, &its, nullptr);
}

void DisarmWatchdog() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, kWatchdogSignal);
  pthread_sigmask(SIG_BLOCK, &s, nullptr);
  if (g.timer >= 0) syscall(SYS_timer_delete, g.timer);
  g.timer = -1;
  // A timer signal already queued must not reach the previous action.
  const timespec zero = {0, 0};
  while (syscall(SYS_rt_sigtimedwait, &s, nullptr, &zero, _NSIG / 8) > 0) {
  }
  sigaction(kWatchdogSignal, &g.prev_alarm, nullptr);
  pthread_sigmask(SIG_SETMASK, &g.saved_mask, nullptr);
}

// ---- The dump.

// Gives the dump its name; 0 or the errno of the failure.
int LinkDumpFile() {
  if (!g.tmpfile) return 0;
  int e = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (linkat(AT_FDCWD, g.proc_path, AT_FDCWD, g.path, AT_SYMLINK_FOLLOW) ==
        0) {
      return 0;
    }
    e = errno;
    if (e == EEXIST) {
      unlink(g.path);  // a stale dump of an earlier process with our pid
      continue;
    }
    // Without /proc: linking an open file needs CAP_DAC_READ_SEARCH.
    if (linkat(g.fd, "", AT_FDCWD, g.path, AT_EMPTY_PATH) == 0) return 0;
    return e;
  }
  return e;
}

void Dump(int sig, const siginfo_t* info, int tid) {
  g.phase.store(1, std::memory_order_seq_cst);
  const uint64_t deadline = NowNs() + g.timeout_ns;
  CrashContext ctx;
  ctx.signo = sig;
  ctx.code = info != nullptr ? info->si_code : 0;
  ctx.address = info != nullptr ? info->si_addr : nullptr;
  ctx.tid = tid;
  ctx.fd = g.fd;
  ctx.deadline_ns = deadline;
  // Modified between sigsetjmp and a siglongjmp back: volatile.
  volatile int ran = 0, abandoned = 0, timed_out = 0, nested_signal = 0;
  // A fault in a callback must reach us even if the signal we are handling
  // (or whoever called std::terminate) has the crash signals blocked: a
  // blocked fault kills the process on the spot.
  sigset_t crash_set, before;
  sigemptyset(&crash_set);
  for (int s : kSignals) sigaddset(&crash_set, s);
  pthread_sigmask(SIG_UNBLOCK, &crash_set, &before);
  ArmWatchdog(tid, deadline);
  for (int i = 0; i < kMaxCrashDumpCallbacks; ++i) {
    const CrashDumpCallback fn =
        g.slots[i].fn.load(std::memory_order_acquire);  // C3
    if (fn == nullptr) continue;
    void* const arg = g.slots[i].arg.load(std::memory_order_relaxed);
    if (NowNs() >= deadline) {
      timed_out = 1;
      break;
    }
    const int jumped = sigsetjmp(g.jmp, 1);
    if (jumped == 0) {
      g.in_callback = 1;
      fn(ctx, arg);
      g.in_callback = 0;
      ran = ran + 1;
    } else {
      g.in_callback = 0;
      abandoned = abandoned + 1;
      if (jumped == kWatchdogSignal) {
        timed_out = 1;
      } else {
        nested_signal = jumped;
      }
    }
  }
  DisarmWatchdog();
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  struct stat st;
  const uint64_t size =
      fstat(g.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  const int link_error = size > 0 ? LinkDumpFile() : 0;
  const bool linked = size > 0 && link_error == 0;
  if (g.report) {
    Line l;
    l << "gentrace: caught " << SignalName(sig);
    if (info != nullptr && sig != SIGABRT) {
      l << " (si_code ";
      l.Num(static_cast<uint64_t>(static_cast<int64_t>(info->si_code)));
      l << ", address ";
      l.Num(reinterpret_cast<uintptr_t>(info->si_addr), 16);
      l << ")";
    }
    l << " on thread ";
    l.Num(static_cast<uint64_t>(tid));
    if (linked) {
      l << "; dump: " << g.path << " (";
      l.Num(size);
      l << " bytes)";
    } else if (size == 0) {
      l << "; nothing was dumped";
    } else {
      l << "; dump not saved (link failed, errno ";
      l.Num(static_cast<uint64_t>(link_error));
      l << ")";
    }
    if (abandoned > 0) {
      l << "; ";
      l.Num(static_cast<uint64_t>(abandoned));
      l << " dump callback(s) abandoned";
      if (nested_signal != 0)
        l << " (crashed: " << SignalName(nested_signal) << ")";
    }
    if (timed_out) l << "; dump timed out";
    l.WriteTo(STDERR_FILENO);
  }
  g.phase.store(2, std::memory_order_seq_cst);
}

// A thread that crashed while another dumps: wait for that dump (bounded),
// and a little for its thread to end the process.
void WaitForDump() {
  const uint64_t limit = NowNs() + g.timeout_ns + 1000000000u;
  while (g.phase.load(std::memory_order_seq_cst) != 2 && NowNs() < limit) {
    SleepNs(1000000);
  }
  SleepNs(200000000);
}

// Lets the signal go on as if we were not there.
void Chain(int sig, const siginfo_t* info) {
  sigaction(sig, &g.prev[sig], nullptr);
  const bool fault =
      (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) &&
      info != nullptr && info->si_code > 0;
  if (fault) return;  // the instruction runs again and faults again
  if (g.prev[sig].sa_handler == SIG_IGN) return;
  syscall(SYS_tgkill, getpid(), Tid(), sig);
}

void SignalHandler(int sig, siginfo_t* info, void*) {
  const int saved = errno;
  const int tid = Tid();
  if (g.owner.load(std::memory_order_seq_cst) == tid) {
    // C2: a callback crashed; abandon it. Otherwise this thread already
    // dumped (terminate, then abort) or crashed in the handler itself.
    if (g.in_callback) siglongjmp(g.jmp, sig);
    Chain(sig, info);
    errno = saved;
    return;
  }
  if (getpid() == g.pid) {
    int expected = 0;
    if (g.owner.compare_exchange_strong(expected, tid)) {
      Dump(sig, info, tid);
    } else {
      WaitForDump();
    }
  }
  Chain(sig, info);
  errno = saved;
}

void TerminateHandler() {
  if (getpid() == g.pid) {
    const int tid = Tid();
    int expected = 0;
    if (g.owner.compare_exchange_strong(expected, tid)) {
      Dump(0, nullptr, tid);
    } else if (expected != tid) {
      WaitForDump();
    }
  }
  if (g.prev_terminate != nullptr) g.prev_terminate();
  abort();
}

// ---- Alternate signal stacks.

struct AltStack {
  uint8_t* base = nullptr;  // guard page, then the stack
  size_t size = 0;          // of the mapping
  ~AltStack() {
    if (base == nullptr) return;
    stack_t cur;
    if (sigaltstack(nullptr, &cur) == 0 &&
        cur.ss_sp == base + sysconf(_SC_PAGESIZE)) {
      stack_t off;
      std::memset(&off, 0, sizeof(off));
      off.ss_flags = SS_DISABLE;
      sigaltstack(&off, nullptr);
    }
    munmap(base, size);
  }
};
thread_local AltStack t_alt_stack;

void RemoveNamedDumpFile() {
  std::lock_guard<std::mutex> l(g_mu);
  if (g.installed.load() && !g.tmpfile && g.fd >= 0 && g.owner.load() == 0 &&
      getpid() == g.pid) {
    unlink(g.path);
  }
}

std::string ExpandTemplate(const std::string& t, int pid) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '%' && i + 1 < t.size()) {
      if (t[i + 1] == 'p') {
        absl::StrAppend(&out, pid);
        ++i;
        continue;
      }
      if (t[i + 1] == '%') {
        out += '%';
        ++i;
        continue;
      }
    }
    out += t[i];
  }
  if (!out.empty() && out[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) out = absl::StrCat(cwd, "/", out);
  }
  return out;
}

}  // namespace

absl::Status InstallCrashAltStackForThisThread(size_t size) {
  const long page = sysconf(_SC_PAGESIZE);
  long min = sysconf(_SC_SIGSTKSZ);
  if (min < 0) min = SIGSTKSZ;
  size = std::max(size, static_cast<size_t>(min));
  size = (size + page - 1) / page * page;
  stack_t cur;
  if (sigaltstack(nullptr, &cur) != 0) {
    return absl::InternalError(
        absl::StrCat("sigaltstack: ", std::strerror(errno)));
  }
  if (!(cur.ss_flags & SS_DISABLE) && cur.ss_size >= size) {
    return absl::OkStatus();  // ours or someone else's, big enough
  }
  if (t_alt_stack.base != nullptr) return absl::OkStatus();
  const size_t total = size + page;
  void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("alternate signal stack: ", std::strerror(errno)));
  }
  uint8_t* base = static_cast<uint8_t*>(m);
  mprotect(base, page, PROT_NONE);  // an overflow of it faults cleanly
  stack_t ss;
  std::memset(&ss, 0, sizeof(ss));
  ss.ss_sp = base + page;
  ss.ss_size = size;
  if (sigaltstack(&ss, nullptr) != 0) {
    const int e = errno;
    munmap(m, total);
    return absl::InternalError(absl::StrCat("sigaltstack: ", std::strerror(e)));
  }
  t_alt_stack.base = base;
  t_alt_stack.size = total;
  return absl::OkStatus();
}

absl::Status InstallCrashHandler(const CrashHandlerOptions& options) {
  std::lock_guard<std::mutex> l(g_mu);
  if (g.installed.load()) {
    return absl::FailedPreconditionError("crash handler already installed");
  }
  const int pid = getpid();
  const std::string path = ExpandTemplate(options.path_template, pid);
  if (path.size() >= sizeof(g.path)) {
    return absl::InvalidArgumentError(absl::StrCat("path too long: ", path));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
  bool tmpfile = true;
  if (fd < 0) {
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return absl::InvalidArgumentError(absl::StrCat(
          "crash dump directory ", dir, ": ", std::strerror(errno)));
    }
    fd = open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
    tmpfile = false;
    if (fd < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("crash dump file ", path, ": ", std::strerror(errno)));
    }
    static std::once_flag once;
    std::call_once(once, [] { atexit(RemoveNamedDumpFile); });
  }
  if (absl::Status s =
          InstallCrashAltStackForThisThread(options.alt_stack_size);
      !s.ok()) {
    close(fd);
    return s;
  }
  g.pid = pid;
  g.fd = fd;
  g.tmpfile = tmpfile;
  std::memcpy(g.path, path.c_str(), path.size() + 1);
  const std::string proc = absl::StrCat("/proc/self/fd/", fd);
  std::memcpy(g.proc_path, proc.c_str(), proc.size() + 1);
  g.timeout_ns = static_cast<uint64_t>(
      std::max<int64_t>(0, absl::ToInt64Nanoseconds(options.dump_timeout)));
  g.report = options.report;
  g.handle_terminate = options.handle_terminate;
  g.owner.store(0);
  g.phase.store(0);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = SignalHandler;
  // SA_NODEFER: a crash inside a dump callback reaches us (to abandon it).
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : kSignals) sigaction(sig, &sa, &g.prev[sig]);
  if (options.handle_terminate) {
    g.prev_terminate = std::set_terminate(TerminateHandler);
  }
  g.installed.store(true, std::memory_order_release);  // C3
  g_epoch.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

void UninstallCrashHandler() {
  std::lock_guard<std::mutex> l(g_mu);
  if (!g.installed.load()) return;
  for (int sig : kSignals) sigaction(sig, &g.prev[sig], nullptr);
  if (g.handle_terminate) std::set_terminate(g.prev_terminate);
  g.installed.store(false);
  g_epoch.fetch_add(1, std::memory_order_release);
  if (!g.tmpfile && g.owner.load() == 0) unlink(g.path);
  close(g.fd);
  g.fd = -1;
  g.path[0] = '\0';
}

uint32_t CrashHandlerEpoch() { return g_epoch.load(std::memory_order_acquire); }

std::string CrashDumpPath() {
  std::lock_guard<std::mutex> l(g_mu);
  return g.installed.load() ? std::string(g.path) : std::string();
}

int RegisterCrashDumpCallback(CrashDumpCallback fn, void* arg) {
  std::lock_guard<std::mutex> l(g_mu);
  for (int i = 0; i < kMaxCrashDumpCallbacks; ++i) {
    if (g.slots[i].fn.load(std::memory_order_relaxed) == nullptr) {
      g.slots[i].arg.store(arg, std::memory_order_relaxed);
      g.slots[i].fn.store(fn, std::memory_order_release);  // C3
      return i;
    }
  }
  return -1;
}

void UnregisterCrashDumpCallback(int id) {
  if (id < 0 || id >= kMaxCrashDumpCallbacks) return;
  {
    std::lock_guard<std::mutex> l(g_mu);
    g.slots[id].fn.store(nullptr, std::memory_order_seq_cst);
  }
  // A dump on another thread may be inside it.
  const int me = Tid();
  while (g.phase.load(std::memory_order_seq_cst) == 1 &&
         g.owner.load(std::memory_order_seq_cst) != me) {
    SleepNs(1000000);
  }
}

}  // namespace gentrace
