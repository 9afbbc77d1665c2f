// Frame-pointer stack walks that never fault (see fp_unwind.h): the cached
// per-thread stack bounds, the conservative page-probing walk, the ucontext
// walk with its prologue heuristic, and the code-range snapshot that makes
// reading instruction bytes safe.
#include "cpusample/fp_unwind.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

namespace gentrace::cpusample {
namespace internal {

__thread ThreadStackWords tls_stack
    __attribute__((tls_model("initial-exec"))) = {0, 0};

// Set when pthread_getattr_np failed for this thread, so that UnwindCurrent
// does not retry on every call. External linkage, like every initial-exec
// variable here: gold mislinks initial-exec accesses to internal-linkage
// TLS in shared objects in some layouts (see sampler.cc).
__thread bool tls_bounds_failed __attribute__((tls_model("initial-exec"))) =
    false;

}  // namespace internal

namespace {

using internal::tls_bounds_failed;
using internal::tls_stack;

constexpr uintptr_t kPageSize = 4096;  // probing granularity; a lower bound

// ---- Code ranges (for the prologue heuristic) ----------------------------
//
// A seqlock-published, sorted array of [start, end) executable segments.
// Writers (RefreshCodeRanges) serialize on g_code_mu; readers (signal
// handlers) never wait: a reader that sees an odd or changed sequence number
// gives up and the walk goes on without the heuristic.
constexpr int kMaxCodeRanges = 1024;
std::atomic<uintptr_t> g_code_start[kMaxCodeRanges];
std::atomic<uintptr_t> g_code_end[kMaxCodeRanges];
std::atomic<int> g_code_count{0};
std::atomic<uint32_t> g_code_seq{0};
std::mutex g_code_mu;

int CollectSegment(struct dl_phdr_info* info, size_t, void* data) {
  auto* out = static_cast<std::vector<std::pair<uintptr_t, uintptr_t>>*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    // Only segments the loader mapped both readable and executable: reading
    // an instruction there cannot fault while the object stays loaded.
    if ((ph.p_flags & PF_X) == 0 || (ph.p_flags & PF_R) == 0) continue;
    const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    out->emplace_back(start, start + ph.p_memsz);
  }
  return 0;
}

// The x86-64 instructions at which the frame pointer does not (yet, or any
// more) hold the current function's frame.
enum class PcState {
  kInBody,       // rbp may be this function's frame (or it has none)
  kRetAtSp,      // the return address is at [rsp]; rbp is the caller's
  kRetAtSpPlus8  // after push %rbp: the return address is at [rsp + 8]
};

// One executable segment of the code-range snapshot.
struct CodeRange {
  uintptr_t start = 0;
  uintptr_t end = 0;
  bool Contains(uintptr_t addr, size_t len) const {
    return addr >= start && addr + len >= addr && addr + len <= end;
  }
};

// Finds the snapshot's range containing addr. Async-signal-safe.
bool FindCodeRange(uintptr_t addr, CodeRange* out) {
  // Seqlock reader without fences: acquire loads of the data keep the
  // second load of the sequence number after them.
  const uint32_t seq = g_code_seq.load(std::memory_order_acquire);
  if ((seq & 1) != 0) return false;
  const int count = g_code_count.load(std::memory_order_acquire);
  // The last range starting at or below addr.
  int lo = 0, hi = count;
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (g_code_start[mid].load(std::memory_order_acquire) <= addr) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return false;
  out->start = g_code_start[lo - 1].load(std::memory_order_acquire);
  out->end = g_code_end[lo - 1].load(std::memory_order_acquire);
  return g_code_seq.load(std::memory_order_relaxed) == seq &&
         out->Contains(addr, 1);
}

// Classifies the instruction at pc (read only if `code` holds its 4 bytes).
// Async-signal-safe. Code bytes are read unchecked by the sanitizers: a
// code range may hold bytes AddressSanitizer poisons (redzones of globals
// that share the executable's segment), which are mapped and readable.
__attribute__((no_sanitize("address", "thread"))) PcState ClassifyPc(
    const CodeRange& code, uintptr_t pc) {
#if defined(__x86_64__)
  if (!code.Contains(pc, 4)) return PcState::kInBody;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(pc);
  switch (p[0]) {
    case 0x55:  // push %rbp: first instruction of a frame-pointer prologue
    case 0xc3:  // ret
    case 0xc2:  // ret $imm16
      return PcState::kRetAtSp;
    case 0xf3:
      if (p[1] == 0xc3) return PcState::kRetAtSp;  // rep ret
      if (p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa) {
        return PcState::kRetAtSp;  // endbr64: a function's entry
      }
      return PcState::kInBody;
    case 0x48:
      if (p[1] == 0x89 && p[2] == 0xe5) {
        return PcState::kRetAtSpPlus8;  // mov %rsp,%rbp right after the push
      }
      return PcState::kInBody;
    default:
      return PcState::kInBody;
  }
#else
  (void)code;
  (void)pc;
  return PcState::kInBody;
#endif
}

// If the instruction before return address `ret` is a direct call (e8
// rel32) inside `code`, stores its target. Reads only inside `code`.
// Async-signal-safe.
// (Unchecked by the sanitizers, as ClassifyPc; no memcpy, which they
// intercept.)
__attribute__((no_sanitize("address", "thread"))) bool DirectCallTarget(
    const CodeRange& code, uintptr_t ret, uintptr_t* target) {
#if defined(__x86_64__)
  if (ret < 5 || !code.Contains(ret - 5, 5)) return false;
  const volatile uint8_t* p = reinterpret_cast<const uint8_t*>(ret - 5);
  if (p[0] != 0xe8) return false;
  const uint32_t bits =
      static_cast<uint32_t>(p[1]) | static_cast<uint32_t>(p[2]) << 8 |
      static_cast<uint32_t>(p[3]) << 16 | static_cast<uint32_t>(p[4]) << 24;
  const int32_t rel = static_cast<int32_t>(bits);
  *target = ret + static_cast<uintptr_t>(static_cast<intptr_t>(rel));
  return true;
#else
  (void)code;
  (void)ret;
  (void)target;
  return false;
#endif
}

// A cache of the last page proven readable by a checked walk. Readable()
// is async-signal-safe.
struct PageProber {
  uintptr_t proven = ~uintptr_t{0};
  int probes = 0;

  bool Readable(uintptr_t addr) {
    const uintptr_t page = addr & ~(kPageSize - 1);
    if (page == proven) return true;
    if (probes >= kMaxPageProbes) return false;
    ++probes;
    if (!AddressIsReadable(page)) return false;
    proven = page;
    return true;
  }
};

// Reads the word at addr (8-byte aligned), from [lo, hi) when bounded, else
// after proving its page readable. Async-signal-safe.
__attribute__((no_sanitize("address", "thread"))) bool ReadStackWord(
    uintptr_t addr, bool bounded, uintptr_t lo, uintptr_t hi,
    PageProber* prober, uintptr_t* out) {
  if ((addr & 7) != 0) return false;
  if (bounded) {
    if (addr < lo || hi < 8 || addr > hi - 8) return false;
  } else if (!prober->Readable(addr)) {
    return false;
  }
  *out = *reinterpret_cast<const uintptr_t*>(addr);
  return true;
}

// The conservative walk (internal::WalkChecked) with a caller-provided
// prober, so the ucontext walk can share its page cache: WalkFrames within
// kUncheckedSpan of sp, proving each frame's pages readable first.
// Async-signal-safe.
int WalkCheckedWith(uintptr_t fp, uintptr_t sp, PageProber* prober,
                    uintptr_t* pcs, int n, int max, int skip) {
  const uintptr_t limit =
      sp > ~uintptr_t{0} - kUncheckedSpan ? ~uintptr_t{0} : sp + kUncheckedSpan;
  if (limit < 16) return n;
  return internal::WalkFrames(
      fp, sp, limit - 16,
      [prober](uintptr_t frame) {
        // The two words may straddle a page boundary: prove both pages.
        return prober->Readable(frame) && prober->Readable(frame + 8);
      },
      pcs, n, max, skip);
}

}  // namespace

StackBounds ThreadStackBounds() {
  StackBounds b;
  b.lo = tls_stack.lo;
  b.hi = tls_stack.hi;
  if (!b.known()) return StackBounds();
  return b;
}

void SetThreadStackBounds(StackBounds bounds) {
  // A handler interrupting this sequence sees (old), (old.lo, 0) or
  // (new.lo, 0), which are empty, or (new): never a range mixing both.
  tls_stack.hi = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tls_stack.lo = bounds.lo;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tls_stack.hi = bounds.known() ? bounds.hi : 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

namespace {

// The lowest of this thread's static TLS blocks that lie in [lo, hi), or hi.
int LowestTlsBlock(dl_phdr_info* info, size_t, void* arg) {
  auto* b = static_cast<StackBounds*>(arg);
  const auto tls = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
  if (tls != 0 && b->contains(tls)) b->hi = tls;
  return 0;
}

}  // namespace

StackBounds FramesPartOfStackBlock(StackBounds block) {
  // glibc carves a thread's control block (at the thread pointer) and its
  // static TLS (just below) out of the top of the stack block it allocates,
  // and pthread_getattr_np reports the whole block. No frame lies there, but
  // a caller built without frame pointers can leave rbp pointing there, and
  // the two words a walk would then read are thread state that changes as
  // the thread runs: a different bogus caller, and so a new stack, for every
  // event (seen under ThreadSanitizer: rbp into struct pthread above
  // libstdc++'s thread entry, 45k stacks in four generations).
  StackBounds b = block;
  const auto self = reinterpret_cast<uintptr_t>(pthread_self());
  if (b.contains(self)) b.hi = self;
  dl_iterate_phdr(LowestTlsBlock, &b);
  return b;
}

StackBounds EnsureThreadStackBounds() {
  StackBounds cached = ThreadStackBounds();
  if (cached.known()) return cached;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) {
    tls_bounds_failed = true;
    return StackBounds();
  }
  void* addr = nullptr;
  size_t size = 0;
  const int rc = pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || size == 0) {
    tls_bounds_failed = true;
    return StackBounds();
  }
  StackBounds block;
  block.lo = reinterpret_cast<uintptr_t>(addr);
  block.hi = block.lo + size;
  const StackBounds b = FramesPartOfStackBlock(block);
  SetThreadStackBounds(b);
  tls_bounds_failed = false;
  return b;
}

bool AddressIsReadable(uintptr_t addr) {
  // A null set pointer makes the kernel skip the copy (and succeed).
  if (addr < kPageSize) return false;
  const int saved_errno = errno;
  // rt_sigprocmask copies the new set in from user memory before it looks
  // at `how`: an unreadable address fails with EFAULT, a readable one with
  // EINVAL (the invalid `how`), and the signal mask never changes. 8 is the
  // kernel's sigset_t size on x86-64 and aarch64.
  const long rc = syscall(SYS_rt_sigprocmask, ~0L,
                          reinterpret_cast<void*>(addr), nullptr, 8);
  const bool readable = !(rc == -1 && errno == EFAULT);
  errno = saved_errno;
  return readable;
}

int RefreshCodeRanges() {
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  ranges.reserve(64);
  dl_iterate_phdr(CollectSegment, &ranges);
  std::sort(ranges.begin(), ranges.end());
  if (ranges.size() > static_cast<size_t>(kMaxCodeRanges)) {
    ranges.resize(kMaxCodeRanges);
  }
  std::lock_guard<std::mutex> lock(g_code_mu);
  // Seqlock writer without fences: the release stores of the data keep
  // the odd sequence number's store before them.
  const uint32_t seq = g_code_seq.load(std::memory_order_relaxed);
  g_code_seq.store(seq + 1, std::memory_order_relaxed);  // odd: writing
  for (size_t i = 0; i < ranges.size(); ++i) {
    g_code_start[i].store(ranges[i].first, std::memory_order_release);
    g_code_end[i].store(ranges[i].second, std::memory_order_release);
  }
  g_code_count.store(static_cast<int>(ranges.size()),
                     std::memory_order_release);
  g_code_seq.store(seq + 2, std::memory_order_release);
  return static_cast<int>(ranges.size());
}

bool InCodeRanges(uintptr_t addr, size_t len) {
  CodeRange r;
  return FindCodeRange(addr, &r) && r.Contains(addr, len);
}

int internal::WalkChecked(uintptr_t fp, uintptr_t sp, uintptr_t* pcs, int n,
                          int max, int skip) {
  PageProber prober;
  return WalkCheckedWith(fp, sp, &prober, pcs, n, max, skip);
}

int internal::WalkCurrentSlow(uintptr_t fp, uintptr_t* pcs, int n, int max,
                              int skip) {
  StackBounds b;
  if (!tls_bounds_failed) b = EnsureThreadStackBounds();
  if (b.known() && b.contains(fp)) {
    return internal::WalkBounded(fp, fp, b.hi, pcs, n, max, skip);
  }
  return internal::WalkChecked(fp, fp, pcs, n, max, skip);
}

int UnwindFromUcontext(const ucontext_t* uc, uintptr_t* pcs,
                       const UnwindOptions& options) {
  const int max = std::min(options.max_frames, kMaxFrames);
  if (uc == nullptr || max <= 0) return 0;
#if defined(__x86_64__)
  const uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  const uintptr_t sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  const uintptr_t fp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
#elif defined(__aarch64__)
  const uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.pc);
  const uintptr_t sp = static_cast<uintptr_t>(uc->uc_mcontext.sp);
  const uintptr_t fp = static_cast<uintptr_t>(uc->uc_mcontext.regs[29]);
#else
  (void)uc;
  (void)pcs;
  return 0;
#endif
#if defined(__x86_64__) || defined(__aarch64__)
  int n = 0;
  pcs[n++] = pc;
  // The interrupted registers belong to the interrupted stack, not to the
  // signal stack this handler may run on; the bounds are the thread's.
  const uintptr_t lo = tls_stack.lo;
  const uintptr_t hi = tls_stack.hi;
  const bool bounded = lo < hi && sp >= lo && sp < hi;
  PageProber prober;
  CodeRange code;
  if (options.caller_heuristic && n < max && FindCodeRange(pc, &code)) {
    const PcState state = ClassifyPc(code, pc);
    uintptr_t ret = 0;
    if (state != PcState::kInBody) {
      // Prologue or epilogue: the slot holds the return address. Checking
      // that it points into some code rejects a saved register in code
      // that pushes %rbp late (built without frame pointers).
      const uintptr_t slot = sp + (state == PcState::kRetAtSpPlus8 ? 8 : 0);
      if (ReadStackWord(slot, bounded, sp, hi, &prober, &ret) && ret != 0 &&
          InCodeRanges(ret - 1, 1)) {
        pcs[n++] = ret;
      }
    } else if (ReadStackWord(sp, bounded, sp, hi, &prober, &ret)) {
      // A frameless function? [rsp] must be the return address of a direct
      // call to a function starting at most kMaxFramelessBytes below pc.
      // Every code byte read lies in the range of pc, which is executing.
      uintptr_t target = 0;
      if (DirectCallTarget(code, ret, &target) && target <= pc &&
          pc - target < kMaxFramelessBytes) {
        // If pc's function had a frame, rbp would be that frame and the
        // call before [rbp + 8] would target that function: a target at
        // or above ours (and still at or below pc) says so.
        bool has_frame = false;
        uintptr_t ret2 = 0, target2 = 0;
        if (fp >= sp && fp <= ~uintptr_t{0} - 16 &&
            ReadStackWord(fp + 8, bounded, sp, hi, &prober, &ret2) &&
            DirectCallTarget(code, ret2, &target2) && target2 <= pc &&
            target2 >= target) {
          has_frame = true;
        }
        if (!has_frame) pcs[n++] = ret;
      }
    }
  }
  if (bounded) return internal::WalkBounded(fp, sp, hi, pcs, n, max, 0);
  return WalkCheckedWith(fp, sp, &prober, pcs, n, max, 0);
#endif
}

}  // namespace gentrace::cpusample
