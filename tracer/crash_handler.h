// A crash handler for trace dumps: on a fatal signal (SIGSEGV, SIGBUS,
// SIGILL, SIGFPE, SIGABRT, SIGTRAP) or std::terminate, it runs the
// registered dump callbacks, which write into a file prepared in advance,
// then lets the crash go on as if the handler were not there: the previous
// handler runs, or the default action ends the process with the crash's own
// signal (and a core dump where RLIMIT_CORE allows one).
//
//   gentrace::CrashHandlerOptions o;
//   o.path_template = "/var/tmp/app-%p.trace";
//   if (absl::Status s = gentrace::InstallCrashHandler(o); !s.ok()) ...;
//   int id = gentrace::RegisterCrashDumpCallback(&DumpRing, ring);
//
// The dump file. At install time the path template is expanded ("%p" is
// the process id, "%%" a percent sign; a relative path is made absolute)
// and an unnamed file is opened in its directory (O_TMPFILE). At a crash
// the callbacks write into it and it is linked under its name (linkat);
// without a crash, nothing ever appears. Where the file system has no
// O_TMPFILE, the named file is created at install time instead and removed
// at a clean exit (atexit) or UninstallCrashHandler. A forked child does
// not dump (the file belongs to the parent) until it installs again.
//
// Stack overflow. The handler runs on an alternate signal stack, installed
// for the calling thread by InstallCrashHandler and for any other thread by
// InstallCrashAltStackForThisThread (the tracer calls it for each thread
// it registers). A thread without one that overflows its stack dies of
// SIGSEGV without a dump (the kernel cannot run any handler for it).
//
// Bounds. The callbacks together get `dump_timeout`. A callback still
// running at the deadline is abandoned (a per-thread timer signal jumps
// out of it); a callback that crashes is abandoned the same way; the rest
// then run if time is left. A thread that crashes while another one is
// dumping waits for that dump (at most dump_timeout and one second), then
// lets its own signal proceed. So the process ends at most dump_timeout
// plus about a second after the first crash, whatever the callbacks do.
//
// How the signal goes on. For a fault the kernel raised (SIGSEGV, SIGBUS,
// SIGILL, SIGFPE with si_code > 0) the handler restores the previous
// action and returns: the faulting instruction runs again and the previous
// handler, or the default action and the core dump, see the real fault.
// Anything else (abort(), raise, kill, SIGTRAP) is raised again with the
// previous action restored. std::terminate: the previous terminate
// handler runs after the dump (by default it aborts; the SIGABRT then goes
// straight on).
#ifndef GENTRACE_TRACER_CRASH_HANDLER_H_
#define GENTRACE_TRACER_CRASH_HANDLER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tracer/crash_handler_options.h"  // CrashHandlerOptions

namespace gentrace {

// Installs the handler for the signals above (and std::terminate) and an
// alternate signal stack for the calling thread, and prepares the dump
// file. Fails if already installed or if the file cannot be prepared.
absl::Status InstallCrashHandler(const CrashHandlerOptions& options = {});

// Restores the previous signal actions and terminate handler and lets go of
// the prepared file. Callbacks stay registered.
void UninstallCrashHandler();

// The path a dump will be linked at ("" when not installed).
std::string CrashDumpPath();

// Counts installs and uninstalls: odd while the handler is installed. The
// tracer compares it with what each registered thread saw last to give the
// thread an alternate signal stack (tracer/internal/thread_registry.h).
// Async-signal-safe.
uint32_t CrashHandlerEpoch();

// Gives the calling thread an alternate signal stack (freed when the
// thread exits), unless it already has one at least alt_stack_size big.
// Not async-signal-safe.
absl::Status InstallCrashAltStackForThisThread(size_t size = 64 << 10);

// What a dump callback is told.
struct CrashContext {
  int signo = 0;                  // the signal; 0 for std::terminate
  int code = 0;                   // its si_code
  const void* address = nullptr;  // si_addr of a fault
  int tid = 0;                    // the crashing thread
  int fd = -1;  // the dump file, after what earlier callbacks wrote
  // CLOCK_MONOTONIC nanoseconds: bound every wait by this.
  uint64_t deadline_ns = 0;
};

// A dump callback. Runs on the crashing thread, possibly on an alternate
// signal stack, while other threads may still run: it must be
// async-signal-safe (no locks it cannot give up on, no allocation) and
// must bound its own waits by ctx.deadline_ns.
using CrashDumpCallback = void (*)(const CrashContext& ctx, void* arg);

inline constexpr int kMaxCrashDumpCallbacks = 8;

// Registers fn(ctx, arg) to run at a crash. Callbacks run in the order of
// their ids, and the lowest free id is given out. Returns the id, or -1
// when kMaxCrashDumpCallbacks are registered.
int RegisterCrashDumpCallback(CrashDumpCallback fn, void* arg);

// Unregisters; if a dump is running on another thread, first waits for it
// to end (so arg may be freed after this returns).
void UnregisterCrashDumpCallback(int id);

}  // namespace gentrace

#endif  // GENTRACE_TRACER_CRASH_HANDLER_H_
