// Frame-pointer stack walks that never fault: from a signal's ucontext (the
// interrupted thread, for CPU samples) and from the current frame (for the
// tracer's event stacks, a few ns for 10 frames).
//
// How a walk stays safe. Every read is of an 8-byte-aligned word, and:
//  * Known stack: when the thread's stack bounds [lo, hi) are cached (see
//    EnsureThreadStackBounds) and the starting stack pointer sp lies inside
//    them, every read is inside [sp, hi). That range is mapped for the whole
//    life of the thread (the stack grows down from hi, and sp is inside it),
//    so no read can fault, and no check costs more than a compare.
//  * Unknown stack: when the bounds are not known, or sp is outside them (a
//    fiber's stack, a sigaltstack, a thread the caller never registered), the
//    walk is conservative: each frame pointer must be strictly above the
//    previous one and within kUncheckedSpan bytes of sp, and each page is
//    proven readable by one system call before the first read from it (at
//    most kMaxPageProbes pages per walk).
//  * Code bytes: the caller heuristic below reads a few instruction bytes
//    at the interrupted PC and before candidate return addresses, only
//    inside readable executable segments of ELF objects loaded when
//    RefreshCodeRanges() last ran.
//
// What a walk returns. pcs[0] is a PC inside the innermost function (for a
// ucontext walk, exactly the interrupted PC); every later entry is a return
// address, i.e. the instruction after a call. Symbolizers that look up pc-1
// for every frame (as Go's do) should store pcs[0] + 1 for a ucontext walk;
// UnwindCurrent's pcs[0] already points just past an instruction of the
// calling function, so pc-1 lies inside it.
//
// The chain ends at a zero return address, a frame pointer that does not
// increase, leaves the bounds, or is misaligned, or at max_frames. Code built
// without frame pointers uses rbp as a general register: the walk then stops
// early or skips callers, but it never faults (README.md).
//
// x86-64 is fully supported. On aarch64 the walk follows x29/x30 without the
// caller heuristic (compiled, not tested here). Elsewhere only pcs[0] is
// returned from a ucontext and UnwindCurrent returns nothing.
#ifndef GENTRACE_CPUSAMPLE_FP_UNWIND_H_
#define GENTRACE_CPUSAMPLE_FP_UNWIND_H_

#include <ucontext.h>

#include <cstddef>
#include <cstdint>

namespace gentrace::cpusample {

// The most frames a stack may have in Go's trace format.
inline constexpr int kMaxFrames = 128;

// An unknown-bounds walk accepts frames at most this far above its starting
// stack pointer.
inline constexpr uintptr_t kUncheckedSpan = uintptr_t{1} << 20;  // 1 MiB

// An unknown-bounds walk proves at most this many pages readable; it stops
// at the first frame that needs one more.
inline constexpr int kMaxPageProbes = 16;

// The caller heuristic takes a function without a frame to be at most this
// long (bytes from its entry to the interrupted PC).
inline constexpr uintptr_t kMaxFramelessBytes = 16 * 1024;

// A thread's stack: [lo, hi), hi exclusive. Both zero when unknown.
struct StackBounds {
  uintptr_t lo = 0;
  uintptr_t hi = 0;

  bool known() const { return lo < hi; }
  bool contains(uintptr_t addr) const { return addr >= lo && addr < hi; }
};

// Computes the calling thread's stack bounds (pthread_getattr_np, less the
// thread control block and static TLS at the top: FramesPartOfStackBlock)
// on its first call in this thread and caches them in an initial-exec
// thread-local; later calls return the cache. NOT async-signal-safe on the
// first call (it may allocate and read /proc/self/maps for the main thread).
StackBounds EnsureThreadStackBounds();

// The part of the calling thread's stack block `block` where frames can be:
// below its thread control block and its static TLS blocks when they lie
// inside (glibc puts both at the top of the stacks it allocates). NOT
// async-signal-safe (dl_iterate_phdr).
StackBounds FramesPartOfStackBlock(StackBounds block);

// The calling thread's cached bounds, or {0, 0} if never computed.
// Async-signal-safe.
StackBounds ThreadStackBounds();

// Replaces the calling thread's cached bounds, e.g. when a fiber library
// switches to a stack it allocated; {0, 0} forgets them. A signal handler
// that interrupts this call sees either the old bounds, none, or the new
// ones, never a mix. Async-signal-safe.
void SetThreadStackBounds(StackBounds bounds);

// Options of a ucontext walk.
struct UnwindOptions {
  // Frames to record at most, pcs[0] included; clamped to [0, kMaxFrames].
  int max_frames = kMaxFrames;
  // Recover the interrupted function's caller when the frame pointer does
  // not hold that function's frame, where a plain walk would skip the
  // caller (x86-64 only; README.md has the measured effect):
  //  * prologue and epilogue: the PC is at push %rbp, endbr64, ret (the
  //    return address is at [rsp]) or mov %rsp,%rbp ([rsp + 8]);
  //  * frameless leaf (GCC omits the frame of a leaf that needs no stack,
  //    even with -mno-omit-leaf-frame-pointer): [rsp] is taken as the return
  //    address when the instruction before it is a direct call whose target
  //    starts at most kMaxFramelessBytes below the PC, and nearer to it
  //    than the target of the call before [rbp + 8] (which, if the PC's
  //    function had a frame, would be that function itself).
  // A wrong guess adds one frame; it needs a stale return address at [rsp]
  // whose call target lies just below the PC in a function that has a
  // frame and was called indirectly.
  bool caller_heuristic = true;
};

// Walks the stack of the thread interrupted at `uc` (a signal handler's
// third argument, or a getcontext() result). Writes the interrupted PC and
// then the return addresses of its callers to pcs; returns how many were
// written. Uses the bounds cached for the calling thread, so call it on the
// interrupted thread (which is where a signal handler runs).
// Async-signal-safe.
int UnwindFromUcontext(const ucontext_t* uc, uintptr_t* pcs,
                       const UnwindOptions& options = UnwindOptions());

// Takes a snapshot of the executable segments of all loaded ELF objects
// (dl_iterate_phdr) for the caller heuristic. Sampler::Start and
// Sampler::AttachCurrentThread call it; call it again after dlopen so code
// loaded since is covered, and after dlclose of a library whose code may
// still be sampled (the one way the heuristic could read a page that is no
// longer mapped readable: its range reused by execute-only memory).
// Returns the number of ranges. NOT async-signal-safe.
int RefreshCodeRanges();

// Whether [addr, addr + len) lies inside one range of the last snapshot.
// Async-signal-safe.
bool InCodeRanges(uintptr_t addr, size_t len);

// Whether the 8 bytes at addr (8-byte aligned) can be read without a fault,
// asked of the kernel (one system call; errno is preserved).
// Async-signal-safe.
bool AddressIsReadable(uintptr_t addr);

namespace internal {

// The calling thread's cached stack bounds. Kept as two words written in an
// order that lets a signal handler on the same thread see a consistent pair
// (SetThreadStackBounds).
struct ThreadStackWords {
  uintptr_t lo;
  uintptr_t hi;
};
extern __thread ThreadStackWords tls_stack
    __attribute__((tls_model("initial-exec")));

// The walk used when the bounds are unknown or do not contain fp: every
// page is proven readable before it is read. Appends to pcs[n..max).
// Async-signal-safe.
int WalkChecked(uintptr_t fp, uintptr_t sp, uintptr_t* pcs, int n, int max,
                int skip);

// UnwindCurrent's path for a thread whose bounds are not cached yet:
// caches them, then walks. NOT async-signal-safe.
int WalkCurrentSlow(uintptr_t fp, uintptr_t* pcs, int n, int max, int skip);

// The one frame-pointer walk, for every caller (the tracer's event stacks,
// UnwindCurrent, the signal path's bounded and checked walks): follows the
// chain from fp while each frame lies in [lo, last] (fp itself, 8-byte
// aligned; the 16 bytes read there, the saved frame pointer and the return
// address, end at last + 16), after `readable(frame)` has said those 16
// bytes may be read. Appends return addresses to pcs[n..max), dropping the
// first `skip`; returns the new count. Async-signal-safe if `readable` is.
template <class Readable>
__attribute__((no_sanitize("address", "thread"))) inline int WalkFrames(
    uintptr_t fp, uintptr_t lo, uintptr_t last, Readable readable,
    uintptr_t* pcs, int n, int max, int skip) {
  while (n < max) {
    if (fp < lo || fp > last || (fp & 7) != 0) break;
    if (!readable(fp)) break;
    const uintptr_t* frame = reinterpret_cast<const uintptr_t*>(fp);
    const uintptr_t next = frame[0];
    const uintptr_t ret = frame[1];
    if (ret == 0) break;
    if (skip > 0) {
      --skip;
    } else {
      pcs[n++] = ret;
    }
    // Frames of callers are at higher addresses: a chain that does not go
    // up is corrupt or ends here (and cannot loop).
    if (next <= fp) break;
    lo = fp + 16;
    fp = next;
  }
  return n;
}

// The bounded walk: WalkFrames reading only inside [lo, hi), where every
// word is known to be mapped (no check beyond the compares).
// Async-signal-safe.
inline int WalkBounded(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t* pcs,
                       int n, int max, int skip) {
  // 16 bytes are read at fp: the saved frame pointer and the return address.
  if (hi < lo + 16) return n;
  return WalkFrames(
      fp, lo, hi - 16, [](uintptr_t) { return true; }, pcs, n, max, skip);
}

// A PC inside the function this is inlined into. Async-signal-safe.
__attribute__((always_inline)) inline uintptr_t CurrentPc() {
#if defined(__x86_64__)
  uintptr_t pc;
  asm volatile("leaq 0(%%rip), %0" : "=r"(pc));
  return pc;
#elif defined(__aarch64__)
  uintptr_t pc;
  asm volatile("adr %0, ." : "=r"(pc));
  return pc;
#else
  return 0;
#endif
}

template <bool kMayInitBounds>
__attribute__((always_inline)) inline int UnwindCurrentImpl(uintptr_t* pcs,
                                                            int max_frames,
                                                            int skip) {
#if defined(__x86_64__) || defined(__aarch64__)
  if (max_frames > kMaxFrames) max_frames = kMaxFrames;
  if (max_frames <= 0) return 0;
  int n = 0;
  if (skip > 0) {
    --skip;
  } else {
    pcs[n++] = CurrentPc();
  }
  const uintptr_t fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  const uintptr_t lo = tls_stack.lo;
  const uintptr_t hi = tls_stack.hi;
  if (__builtin_expect(fp >= lo && fp < hi, 1)) {
    return WalkBounded(fp, fp, hi, pcs, n, max_frames, skip);
  }
  if (kMayInitBounds && lo >= hi) {
    return WalkCurrentSlow(fp, pcs, n, max_frames, skip);
  }
  return WalkChecked(fp, fp, pcs, n, max_frames, skip);
#else
  (void)pcs;
  (void)max_frames;
  (void)skip;
  return 0;
#endif
}

}  // namespace internal

// Walks the calling function's stack: pcs[0] is a PC inside the function
// that calls UnwindCurrent (it is always inlined), pcs[1] the return address
// into that function's caller, and so on; the first `skip` of those are
// dropped. Returns the number written (at most max_frames, at most
// kMaxFrames). About 3 ns for 10 frames (README.md).
//
// On a thread whose stack bounds are not cached yet, the first call caches
// them (EnsureThreadStackBounds), which is NOT async-signal-safe; once they
// are cached, this is async-signal-safe. Use UnwindCurrentSignalSafe in a
// signal handler that may run on a thread nobody registered.
__attribute__((always_inline)) inline int UnwindCurrent(uintptr_t* pcs,
                                                        int max_frames,
                                                        int skip = 0) {
  return internal::UnwindCurrentImpl<true>(pcs, max_frames, skip);
}

// As UnwindCurrent, but never computes the bounds: with unknown bounds the
// walk is the conservative, page-probing one. Async-signal-safe.
__attribute__((always_inline)) inline int UnwindCurrentSignalSafe(
    uintptr_t* pcs, int max_frames, int skip = 0) {
  return internal::UnwindCurrentImpl<false>(pcs, max_frames, skip);
}

}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_FP_UNWIND_H_
