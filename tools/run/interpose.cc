// The functions the shim interposes (see shim.h): each calls the real one
// (found with dlsym(RTLD_NEXT)) and records in the trace only what waited.
//
//  * Locks, semaphores, joins: the non-blocking form first (trylock,
//    sem_trywait, pthread_tryjoin_np); only when it would block does the
//    thread block in the trace (GoBlock "sync", then GoUnblock, GoStart
//    when the call returns). An uncontended call costs one extra check.
//  * Condition variable waits ("sync.(*Cond).Wait") and sleeps ("sleep",
//    zero durations excepted) always wait.
//  * I/O and waiting system calls: timed with the trace clock, and
//    recorded once over only when they took at least the threshold
//    (GENTRACE_RUN_SYSCALL_THRESHOLD_US): read, write, readv, writev as
//    system calls (GoSyscallBegin/End); socket calls, poll, epoll_wait and
//    select as blocking on "network".
//  * pthread_create: the new thread appears in the trace as it starts, its
//    start routine the root of its creation stack (for a std::thread, the
//    callable it runs); pthread_setname_np on itself names it there too.
//  * sigaction and signal for SIGPROF while CPU samples are on: the
//    program's handler is chained behind the sampler's (the sampler
//    forwards every SIGPROF that is not its own), instead of replacing it.
//
// Every function keeps errno as the real call left it.
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "cpusample/sampler.h"
#include "tools/run/shim.h"
#include "tracer/gentrace.h"
#include "tracer/internal/runtime.h"

namespace gentrace::run {
namespace {

// The real function `name`, looked up once. The lookup runs with the
// depth raised, so anything dlsym calls that is interposed goes to libc.
template <typename F>
F Real(std::atomic<void*>& slot, const char* name) {
  void* p = slot.load(std::memory_order_acquire);
  if (__builtin_expect(p == nullptr, 0)) {
    ++t_shim.depth;
    p = dlsym(RTLD_NEXT, name);
    --t_shim.depth;
    slot.store(p, std::memory_order_release);
  }
  return reinterpret_cast<F>(p);
}

#define GENTRACE_REAL(name)                                       \
  ([]() {                                                         \
    static std::atomic<void*> slot{nullptr};                      \
    return ::gentrace::run::Real<decltype(&::name)>(slot, #name); \
  }())

// The calling thread blocks in the trace for this scope (it has been found
// to wait).
class BlockScope {
 public:
  explicit BlockScope(BlockReason reason) {
    InTracer in;
    active_ = internal::BlockBegin(reason);
  }
  ~BlockScope() {
    if (active_) {
      InTracer in;
      internal::BlockEnd();
    }
  }
  BlockScope(const BlockScope&) = delete;
  BlockScope& operator=(const BlockScope&) = delete;

 private:
  bool active_ = false;
};

// Runs `call` (the real function); if it took at least the threshold,
// records it as a system call (kSyscall) or a block for `reason`.
template <bool kSyscall, typename F>
inline auto Timed(BlockReason reason, F call) -> decltype(call()) {
  if (!Traceable()) return call();
  const uint64_t begin = ClockNow();
  auto result = call();
  const uint64_t end = ClockNow();
  if (end > begin && end - begin >= g_threshold_ticks) {
    InTracer in;  // errno as the call left it
    if (kSyscall) {
      RecordPastSyscall(begin);
    } else {
      RecordPastBlock(reason, begin);
    }
  }
  return result;
}

// What a new thread runs first.
struct StartArgs {
  void* (*fn)(void*);
  void* arg;
  bool internal;  // created by gentrace itself
};

// The code a new thread runs: its start routine, or for a std::thread
// (whose start routine is libstdc++'s execute_native_thread_routine, given
// the thread's std::thread::_State), the _M_run of that state: the
// program's own code, named after the callable it runs.
uintptr_t StartPc(void* (*fn)(void*), void* arg) {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(fn), &info) == 0) {
    return reinterpret_cast<uintptr_t>(fn);
  }
  const bool libstdcxx = info.dli_fname != nullptr &&
                         strstr(info.dli_fname, "libstdc++") != nullptr;
  const bool std_thread =
      libstdcxx &&
      (info.dli_sname == nullptr ||
       strcmp(info.dli_sname, "execute_native_thread_routine") == 0);
  if (std_thread && arg != nullptr) {
    // Itanium C++ ABI: the vtable's slots 0 and 1 are _State's destructors,
    // slot 2 its one virtual function, _M_run.
    void* const* vtable = *static_cast<void* const* const*>(arg);
    Dl_info run;
    if (vtable != nullptr && dladdr(vtable[2], &run) != 0) {
      return reinterpret_cast<uintptr_t>(vtable[2]);
    }
  }
  return reinterpret_cast<uintptr_t>(fn);
}

void* Trampoline(void* p) {
  const StartArgs a = *static_cast<StartArgs*>(p);
  free(p);
  if (a.internal) {
    t_shim.internal = true;
  } else if (Traceable()) {
    // The thread appears in the trace now (its G created, with the start
    // routine in the creation stack), not at its first wait.
    InTracer in;
    internal::ThreadState* ts =
        internal::Runtime::Get().threads().CurrentThread();
    if (ts != nullptr) {
      ts->start_pc = StartPc(a.fn, a.arg);
      internal::TraceLocker tl(ts);
      if (tl.ok()) (void)tl.Reserve(internal::kMaxEventBytes);
    }
  }
  return a.fn(a.arg);
}

bool IsZero(const struct timespec* ts) {
  return ts != nullptr && ts->tv_sec == 0 && ts->tv_nsec == 0;
}

// sigaction for SIGPROF while the sampler runs: chained (see the top).
bool ChainSigprof(const struct sigaction* act, struct sigaction* old) {
  if (!g_ready.load(std::memory_order_relaxed) || t_shim.depth != 0 ||
      t_shim.internal) {
    return false;
  }
  InTracer in;
  return cpusample::Sampler::ReplaceForwardedAction(act, old);
}

}  // namespace
}  // namespace gentrace::run

using gentrace::BlockReason;
using gentrace::run::BlockScope;
using gentrace::run::IsZero;
using gentrace::run::Timed;
using gentrace::run::Traceable;

#define EXPORT extern "C" __attribute__((visibility("default")))

// ------------------------------------------------------------ threads

EXPORT int pthread_create(pthread_t* thread, const pthread_attr_t* attr,
                          void* (*fn)(void*), void* arg) {
  auto real = GENTRACE_REAL(pthread_create);
  using gentrace::run::t_shim;
  const bool internal = t_shim.depth > 0 || t_shim.internal;
  if (!internal && !gentrace::run::g_ready.load(std::memory_order_relaxed)) {
    return real(thread, attr, fn, arg);
  }
  auto* a = static_cast<gentrace::run::StartArgs*>(
      malloc(sizeof(gentrace::run::StartArgs)));
  if (a == nullptr) return real(thread, attr, fn, arg);
  *a = {fn, arg, internal};
  const int r = real(thread, attr, &gentrace::run::Trampoline, a);
  if (r != 0) free(a);
  return r;
}

EXPORT int pthread_setname_np(pthread_t thread, const char* name) {
  const int r = GENTRACE_REAL(pthread_setname_np)(thread, name);
  if (r == 0 && pthread_equal(thread, pthread_self()) && Traceable()) {
    gentrace::run::InTracer in;
    gentrace::internal::Runtime::Get().threads().SetThreadName(name);
  }
  return r;
}

EXPORT int pthread_join(pthread_t thread, void** ret) {
  auto real = GENTRACE_REAL(pthread_join);
  if (!Traceable()) return real(thread, ret);
  const int r = pthread_tryjoin_np(thread, ret);
  if (r != EBUSY) return r;
  BlockScope b(BlockReason::kSync);
  return real(thread, ret);
}

// ---------------------------------------------- locks and conditions

EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  auto real = GENTRACE_REAL(pthread_mutex_lock);
  if (!Traceable()) return real(m);
  const int r = GENTRACE_REAL(pthread_mutex_trylock)(m);
  if (r != EBUSY) return r;
  BlockScope b(BlockReason::kSync);
  return real(m);
}

EXPORT int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  auto real = GENTRACE_REAL(pthread_cond_wait);
  if (!Traceable()) return real(c, m);
  BlockScope b(BlockReason::kCondWait);
  return real(c, m);
}

EXPORT int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m,
                                  const struct timespec* abstime) {
  auto real = GENTRACE_REAL(pthread_cond_timedwait);
  if (!Traceable()) return real(c, m, abstime);
  BlockScope b(BlockReason::kCondWait);
  return real(c, m, abstime);
}

EXPORT int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m,
                                  clockid_t clock,
                                  const struct timespec* abstime) {
  auto real = GENTRACE_REAL(pthread_cond_clockwait);
  if (!Traceable()) return real(c, m, clock, abstime);
  BlockScope b(BlockReason::kCondWait);
  return real(c, m, clock, abstime);
}

EXPORT int sem_wait(sem_t* s) {
  auto real = GENTRACE_REAL(sem_wait);
  if (!Traceable()) return real(s);
  const int saved = errno;
  if (GENTRACE_REAL(sem_trywait)(s) == 0) return 0;
  if (errno != EAGAIN) return -1;  // as sem_wait would fail (EINVAL)
  errno = saved;
  BlockScope b(BlockReason::kSync);
  return real(s);
}

EXPORT int sem_timedwait(sem_t* s, const struct timespec* abstime) {
  auto real = GENTRACE_REAL(sem_timedwait);
  if (!Traceable()) return real(s, abstime);
  const int saved = errno;
  if (GENTRACE_REAL(sem_trywait)(s) == 0) return 0;
  if (errno != EAGAIN) return -1;
  errno = saved;
  BlockScope b(BlockReason::kSync);
  return real(s, abstime);
}

// ------------------------------------------------------------- sleeps

EXPORT unsigned int sleep(unsigned int seconds) {
  auto real = GENTRACE_REAL(sleep);
  if (seconds == 0 || !Traceable()) return real(seconds);
  BlockScope b(BlockReason::kSleep);
  return real(seconds);
}

EXPORT int usleep(useconds_t usec) {
  auto real = GENTRACE_REAL(usleep);
  if (usec == 0 || !Traceable()) return real(usec);
  BlockScope b(BlockReason::kSleep);
  return real(usec);
}

EXPORT int nanosleep(const struct timespec* req, struct timespec* rem) {
  auto real = GENTRACE_REAL(nanosleep);
  if (req == nullptr || IsZero(req) || !Traceable()) return real(req, rem);
  BlockScope b(BlockReason::kSleep);
  return real(req, rem);
}

EXPORT int clock_nanosleep(clockid_t clock, int flags,
                           const struct timespec* req, struct timespec* rem) {
  auto real = GENTRACE_REAL(clock_nanosleep);
  if (req == nullptr || (flags == 0 && IsZero(req)) || !Traceable()) {
    return real(clock, flags, req, rem);
  }
  BlockScope b(BlockReason::kSleep);
  return real(clock, flags, req, rem);
}

// ---------------------------------------------- I/O and waiting calls

EXPORT ssize_t read(int fd, void* buf, size_t n) {
  auto real = GENTRACE_REAL(read);
  return Timed<true>(BlockReason::kUnspecified,
                     [&] { return real(fd, buf, n); });
}

EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  auto real = GENTRACE_REAL(write);
  return Timed<true>(BlockReason::kUnspecified,
                     [&] { return real(fd, buf, n); });
}

EXPORT ssize_t readv(int fd, const struct iovec* iov, int n) {
  auto real = GENTRACE_REAL(readv);
  return Timed<true>(BlockReason::kUnspecified,
                     [&] { return real(fd, iov, n); });
}

EXPORT ssize_t writev(int fd, const struct iovec* iov, int n) {
  auto real = GENTRACE_REAL(writev);
  return Timed<true>(BlockReason::kUnspecified,
                     [&] { return real(fd, iov, n); });
}

EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  auto real = GENTRACE_REAL(recv);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, buf, n, flags); });
}

EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags,
                        struct sockaddr* addr, socklen_t* len) {
  auto real = GENTRACE_REAL(recvfrom);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, buf, n, flags, addr, len); });
}

EXPORT ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  auto real = GENTRACE_REAL(recvmsg);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, msg, flags); });
}

EXPORT ssize_t send(int fd, const void* buf, size_t n, int flags) {
  auto real = GENTRACE_REAL(send);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, buf, n, flags); });
}

EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags,
                      const struct sockaddr* addr, socklen_t len) {
  auto real = GENTRACE_REAL(sendto);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, buf, n, flags, addr, len); });
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  auto real = GENTRACE_REAL(sendmsg);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, msg, flags); });
}

EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  auto real = GENTRACE_REAL(accept);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, addr, len); });
}

EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  auto real = GENTRACE_REAL(accept4);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, addr, len, flags); });
}

EXPORT int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  auto real = GENTRACE_REAL(connect);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fd, addr, len); });
}

EXPORT int poll(struct pollfd* fds, nfds_t n, int timeout) {
  auto real = GENTRACE_REAL(poll);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(fds, n, timeout); });
}

EXPORT int epoll_wait(int epfd, struct epoll_event* events, int max,
                      int timeout) {
  auto real = GENTRACE_REAL(epoll_wait);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(epfd, events, max, timeout); });
}

EXPORT int select(int n, fd_set* r, fd_set* w, fd_set* e,
                  struct timeval* timeout) {
  auto real = GENTRACE_REAL(select);
  return Timed<false>(BlockReason::kNetwork,
                      [&] { return real(n, r, w, e, timeout); });
}

// -------------------------------------------------------------- exec

// The process's trace ends before an exec (gentrace::run::EndTrace): the
// program that follows is traced only with --follow_exec, into a trace of
// its own. If the exec fails, the process goes on untraced.

EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  gentrace::run::EndTrace();
  return GENTRACE_REAL(execve)(path, argv, envp);
}

EXPORT int execv(const char* path, char* const argv[]) {
  gentrace::run::EndTrace();
  return GENTRACE_REAL(execv)(path, argv);
}

EXPORT int execvp(const char* file, char* const argv[]) {
  gentrace::run::EndTrace();
  return GENTRACE_REAL(execvp)(file, argv);
}

EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  gentrace::run::EndTrace();
  return GENTRACE_REAL(execvpe)(file, argv, envp);
}

EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  gentrace::run::EndTrace();
  return GENTRACE_REAL(fexecve)(fd, argv, envp);
}

// execl, execlp, execle: their arguments into an array on the stack (no
// allocation: a vfork child may call them), then the array form.
#define GENTRACE_COLLECT_ARGS(arg0, argv, envp_out, with_envp)   \
  size_t n = 1;                                                  \
  {                                                              \
    va_list ap;                                                  \
    va_start(ap, arg0);                                          \
    while (va_arg(ap, const char*) != nullptr) ++n;              \
    va_end(ap);                                                  \
  }                                                              \
  char* argv[n + 1];                                             \
  {                                                              \
    va_list ap;                                                  \
    va_start(ap, arg0);                                          \
    argv[0] = const_cast<char*>(arg0);                           \
    for (size_t i = 1; i <= n; ++i) argv[i] = va_arg(ap, char*); \
    if (with_envp) envp_out = va_arg(ap, char* const*);          \
    va_end(ap);                                                  \
  }

EXPORT int execl(const char* path, const char* arg, ...) {
  char* const* unused_envp = nullptr;
  GENTRACE_COLLECT_ARGS(arg, argv, unused_envp, false);
  (void)unused_envp;
  return execv(path, argv);
}

EXPORT int execlp(const char* file, const char* arg, ...) {
  char* const* unused_envp = nullptr;
  GENTRACE_COLLECT_ARGS(arg, argv, unused_envp, false);
  (void)unused_envp;
  return execvp(file, argv);
}

EXPORT int execle(const char* path, const char* arg, ...) {
  char* const* envp = nullptr;
  GENTRACE_COLLECT_ARGS(arg, argv, envp, true);
  return execve(path, argv, envp);
}

// ------------------------------------------------------------ signals

EXPORT int sigaction(int sig, const struct sigaction* act,
                     struct sigaction* old) {
  if (sig == SIGPROF && gentrace::run::ChainSigprof(act, old)) return 0;
  return GENTRACE_REAL(sigaction)(sig, act, old);
}

EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  if (sig == SIGPROF) {
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    act.sa_flags = SA_RESTART;  // signal()'s BSD semantics, as glibc's
    sigemptyset(&act.sa_mask);
    if (gentrace::run::ChainSigprof(&act, &old)) {
      return (old.sa_flags & SA_SIGINFO) != 0
                 ? reinterpret_cast<sighandler_t>(
                       reinterpret_cast<void*>(old.sa_sigaction))
                 : old.sa_handler;
    }
  }
  return GENTRACE_REAL(signal)(sig, handler);
}
