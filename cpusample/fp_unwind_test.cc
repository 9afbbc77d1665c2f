// Tests of the frame-pointer walks: frames and skip counts of UnwindCurrent,
// ucontext walks, the caller heuristic on hand-made contexts, and that
// corrupt chains, unknown bounds and unreadable pages end a walk instead of
// faulting.
#include "cpusample/fp_unwind.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/debugging/symbolize.h"
#include "gtest/gtest.h"

namespace gentrace::cpusample {
namespace {

std::string Symbol(uintptr_t pc) {
  char buf[1024];
  if (!absl::Symbolize(reinterpret_cast<void*>(pc), buf, sizeof(buf))) {
    return "?";
  }
  return buf;
}

// Names of pcs, return addresses looked up at pc - 1.
std::vector<std::string> Symbols(const uintptr_t* pcs, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(Symbol(pcs[i] - (i > 0 ? 1 : 0)));
  return out;
}

std::atomic<int> g_sink{0};

// A chain Outer -> Middle -> Inner; Inner walks. Each call is followed by a
// side effect so none becomes a tail call.
__attribute__((noinline, noclone)) int Inner(uintptr_t* pcs, int max,
                                             int skip) {
  const int n = UnwindCurrent(pcs, max, skip);
  g_sink.fetch_add(1, std::memory_order_relaxed);
  return n;
}
__attribute__((noinline, noclone)) int Middle(uintptr_t* pcs, int max,
                                              int skip) {
  const int n = Inner(pcs, max, skip);
  g_sink.fetch_add(1, std::memory_order_relaxed);
  return n;
}
__attribute__((noinline, noclone)) int Outer(uintptr_t* pcs, int max,
                                             int skip) {
  const int n = Middle(pcs, max, skip);
  g_sink.fetch_add(1, std::memory_order_relaxed);
  return n;
}

TEST(UnwindCurrentTest, FramesAreTheCallChain) {
  uintptr_t pcs[kMaxFrames];
  const int n = Outer(pcs, kMaxFrames, 0);
  ASSERT_GE(n, 4);
  const std::vector<std::string> names = Symbols(pcs, n);
  EXPECT_NE(names[0].find("Inner"), std::string::npos) << names[0];
  EXPECT_NE(names[1].find("Middle"), std::string::npos) << names[1];
  EXPECT_NE(names[2].find("Outer"), std::string::npos) << names[2];
  EXPECT_NE(names[3].find("FramesAreTheCallChain"), std::string::npos)
      << names[3];
  EXPECT_TRUE(ThreadStackBounds().known());
}

// One call site for Outer, so its return address is the same every time.
__attribute__((noinline, noclone)) int CallOuter(uintptr_t* pcs, int skip) {
  const int n = Outer(pcs, kMaxFrames, skip);
  g_sink.fetch_add(1, std::memory_order_relaxed);
  return n;
}

TEST(UnwindCurrentTest, SkipDropsInnermostFrames) {
  uintptr_t all[kMaxFrames], skipped[kMaxFrames];
  const int n = CallOuter(all, 0);
  for (int skip = 1; skip <= 4; ++skip) {
    const int m = CallOuter(skipped, skip);
    ASSERT_EQ(m, n - skip);
    for (int i = 0; i + 2 < m; ++i) EXPECT_EQ(skipped[i], all[i + skip]) << i;
  }
  CallOuter(skipped, 2);
  EXPECT_NE(Symbol(skipped[0] - 1).find("Outer"), std::string::npos);
}

TEST(UnwindCurrentTest, MaxFramesIsRespected) {
  uintptr_t pcs[kMaxFrames];
  EXPECT_EQ(Outer(pcs, 2, 0), 2);
  EXPECT_EQ(Outer(pcs, 0, 0), 0);
  EXPECT_EQ(Outer(pcs, 1, 1), 1);
}

__attribute__((noinline, noclone)) int Recurse(int depth, uintptr_t* pcs,
                                               int max) {
  int n;
  if (depth == 0) {
    n = UnwindCurrent(pcs, max, 0);
  } else {
    n = Recurse(depth - 1, pcs, max);
  }
  g_sink.fetch_add(1, std::memory_order_relaxed);
  return n;
}

TEST(UnwindCurrentTest, DeepStackIsCutAtMaxFrames) {
  uintptr_t pcs[kMaxFrames];
  EXPECT_EQ(Recurse(200, pcs, 1000), kMaxFrames);
  EXPECT_EQ(Recurse(20, pcs, kMaxFrames), Recurse(20, pcs, kMaxFrames));
  const int n = Recurse(20, pcs, kMaxFrames);
  EXPECT_GE(n, 22);
  for (int i = 1; i <= 20; ++i) {
    EXPECT_NE(Symbol(pcs[i] - 1).find("Recurse"), std::string::npos) << i;
  }
}

TEST(UnwindCurrentTest, ThreadWithoutCachedBounds) {
  int n_safe = 0, n_lazy = 0;
  bool known_before = true, known_after_safe = true, known_after_lazy = false;
  std::thread t([&] {
    uintptr_t pcs[kMaxFrames];
    known_before = ThreadStackBounds().known();
    // The signal-safe variant probes pages instead of computing bounds.
    n_safe = UnwindCurrentSignalSafe(pcs, kMaxFrames);
    known_after_safe = ThreadStackBounds().known();
    n_lazy = Outer(pcs, kMaxFrames, 0);
    known_after_lazy = ThreadStackBounds().known();
  });
  t.join();
  EXPECT_FALSE(known_before);
  EXPECT_FALSE(known_after_safe);
  EXPECT_TRUE(known_after_lazy);
  EXPECT_GE(n_safe, 2);
  EXPECT_GE(n_lazy, 4);
}

TEST(StackBoundsTest, SetAndForget) {
  const StackBounds mine = EnsureThreadStackBounds();
  ASSERT_TRUE(mine.known());
  int local = 0;
  EXPECT_TRUE(mine.contains(reinterpret_cast<uintptr_t>(&local)));
  SetThreadStackBounds(StackBounds());
  EXPECT_FALSE(ThreadStackBounds().known());
  SetThreadStackBounds(mine);
  EXPECT_EQ(ThreadStackBounds().lo, mine.lo);
  EXPECT_EQ(ThreadStackBounds().hi, mine.hi);
}

// Two words a frame chain could be led to: thread state that changes.
thread_local uintptr_t tls_fake_frame[2];

TEST(StackBoundsTest, ThreadBoundsEndBelowItsControlBlockAndTls) {
  std::thread t([] {
    const StackBounds b = EnsureThreadStackBounds();
    ASSERT_TRUE(b.known());
    int local = 0;
    EXPECT_TRUE(b.contains(reinterpret_cast<uintptr_t>(&local)));
    const auto tls = reinterpret_cast<uintptr_t>(&tls_fake_frame[0]);
    const auto self = reinterpret_cast<uintptr_t>(pthread_self());
    EXPECT_FALSE(b.contains(tls));
    EXPECT_FALSE(b.contains(self));
    // pthread_getattr_np's block does hold both here (glibc puts them at
    // the top of the stacks it allocates): what this test is about.
    pthread_attr_t attr;
    ASSERT_EQ(pthread_getattr_np(pthread_self(), &attr), 0);
    void* addr = nullptr;
    size_t size = 0;
    ASSERT_EQ(pthread_attr_getstack(&attr, &addr, &size), 0);
    pthread_attr_destroy(&attr);
    StackBounds block;
    block.lo = reinterpret_cast<uintptr_t>(addr);
    block.hi = block.lo + size;
    EXPECT_TRUE(block.contains(tls));
    EXPECT_TRUE(block.contains(self));
    // A frame whose saved frame pointer (garbage left in rbp by code built
    // without frame pointers) leads into TLS: the walk ends there instead of
    // reporting the TLS words as a caller.
    tls_fake_frame[0] = tls + 64;
    tls_fake_frame[1] = 0x1234;
    uintptr_t frame[2] = {tls, 0x5678};
    const auto fp = reinterpret_cast<uintptr_t>(&frame[0]);
    uintptr_t pcs[4] = {};
    const int n = internal::WalkBounded(fp, fp, b.hi, pcs, 0, 4, 0);
    EXPECT_EQ(n, 1);
    EXPECT_EQ(pcs[0], 0x5678u);
  });
  t.join();
}

TEST(AddressIsReadableTest, TellsMappedFromUnmapped) {
  int local = 0;
  errno = 1234;
  EXPECT_TRUE(AddressIsReadable(reinterpret_cast<uintptr_t>(&local) & ~7ul));
  EXPECT_FALSE(AddressIsReadable(0));
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* none =
      mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(none, MAP_FAILED);
  EXPECT_FALSE(AddressIsReadable(reinterpret_cast<uintptr_t>(none)));
  munmap(none, page);
  EXPECT_EQ(errno, 1234);
}

// ---- ucontext walks -------------------------------------------------------

__attribute__((noinline, noclone)) int WalkOwnContext(uintptr_t* pcs,
                                                      uintptr_t* current,
                                                      int* n_current) {
  ucontext_t uc;
  getcontext(&uc);
  *n_current = UnwindCurrent(current, kMaxFrames);
  const int n = UnwindFromUcontext(&uc, pcs);
  g_sink.fetch_add(1, std::memory_order_relaxed);
  return n;
}

TEST(UnwindFromUcontextTest, GetcontextMatchesCurrentWalk) {
  uintptr_t pcs[kMaxFrames], current[kMaxFrames];
  int n_current = 0;
  const int n = WalkOwnContext(pcs, current, &n_current);
  ASSERT_GE(n, 2);
  ASSERT_EQ(n, n_current);
  EXPECT_NE(Symbol(pcs[0]).find("WalkOwnContext"), std::string::npos);
  for (int i = 1; i < n; ++i) EXPECT_EQ(pcs[i], current[i]) << i;
}

// A fake context: registers pointing into memory the test lays out.
ucontext_t FakeContext(uintptr_t pc, uintptr_t sp, uintptr_t fp) {
  ucontext_t uc;
  memset(&uc, 0, sizeof(uc));
#if defined(__x86_64__)
  uc.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc);
  uc.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(sp);
  uc.uc_mcontext.gregs[REG_RBP] = static_cast<greg_t>(fp);
#elif defined(__aarch64__)
  uc.uc_mcontext.pc = pc;
  uc.uc_mcontext.sp = sp;
  uc.uc_mcontext.regs[29] = fp;
#endif
  return uc;
}

// Three pages: readable, PROT_NONE, readable. Not the thread's stack, so
// walks in it are the conservative, probing kind.
class FakeStack : public ::testing::Test {
 protected:
  void SetUp() override {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, 3 * page_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    base_ = reinterpret_cast<uintptr_t>(m);
    ASSERT_EQ(
        mprotect(reinterpret_cast<void*>(base_ + page_), page_, PROT_NONE), 0);
  }
  void TearDown() override {
    munmap(reinterpret_cast<void*>(base_), 3 * page_);
  }
  // Writes a frame record at addr: saved frame pointer, return address.
  void Frame(uintptr_t addr, uintptr_t next, uintptr_t ret) {
    reinterpret_cast<uintptr_t*>(addr)[0] = next;
    reinterpret_cast<uintptr_t*>(addr)[1] = ret;
  }
  int Walk(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t* pcs,
           bool heuristic = false) {
    ucontext_t uc = FakeContext(pc, sp, fp);
    UnwindOptions o;
    o.caller_heuristic = heuristic;
    return UnwindFromUcontext(&uc, pcs, o);
  }
  size_t page_ = 0;
  uintptr_t base_ = 0;
};

TEST_F(FakeStack, StopsBeforeAnUnreadablePage) {
  Frame(base_ + 0x100, base_ + 0x200, 0x1111);
  Frame(base_ + 0x200, base_ + page_ + 0x40, 0x2222);  // into PROT_NONE
  uintptr_t pcs[kMaxFrames];
  const int n = Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(pcs[0], 0x9999u);
  EXPECT_EQ(pcs[1], 0x1111u);
  EXPECT_EQ(pcs[2], 0x2222u);
}

TEST_F(FakeStack, FrameStraddlingIntoUnreadablePage) {
  // The saved frame pointer is readable, the return address is not.
  Frame(base_ + 0x100, base_ + page_ - 8, 0x1111);
  reinterpret_cast<uintptr_t*>(base_ + page_ - 8)[0] = base_ + 2 * page_;
  uintptr_t pcs[kMaxFrames];
  EXPECT_EQ(Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs), 2);
}

TEST_F(FakeStack, ChainsThatDoNotClimbEnd) {
  uintptr_t pcs[kMaxFrames];
  Frame(base_ + 0x100, base_ + 0x100, 0x1111);  // loops on itself
  EXPECT_EQ(Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs), 2);
  Frame(base_ + 0x200, base_ + 0x100, 0x2222);  // goes down
  EXPECT_EQ(Walk(0x9999, base_ + 0x80, base_ + 0x200, pcs), 2);
  Frame(base_ + 0x100, base_ + 0x131, 0x1111);  // misaligned next
  EXPECT_EQ(Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs), 2);
  Frame(base_ + 0x100, base_ + 0x200, 0);  // zero return address
  EXPECT_EQ(Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs), 1);
  // A frame pointer below the stack pointer is never followed.
  EXPECT_EQ(Walk(0x9999, base_ + 0x180, base_ + 0x100, pcs), 1);
}

TEST_F(FakeStack, UnknownBoundsSpanIsLimited) {
  // The next frame is just past the 1 MiB an unknown-bounds walk accepts.
  Frame(base_ + 0x100, base_ + 0x80 + kUncheckedSpan, 0x1111);
  uintptr_t pcs[kMaxFrames];
  EXPECT_EQ(Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs), 2);
}

TEST_F(FakeStack, GarbageRegistersNeverFault) {
  uintptr_t pcs[kMaxFrames];
  const uintptr_t garbage[] = {0,
                               8,
                               0x1000,
                               base_ + page_,
                               base_ + page_ + 8,
                               ~uintptr_t{0} - 7,
                               ~uintptr_t{0} - 15,
                               uintptr_t{1} << 47,
                               0xdeadbeefdeadbee8u};
  for (uintptr_t sp : garbage) {
    for (uintptr_t fp : garbage) {
      const int n = Walk(0x9999, sp, fp, pcs, /*heuristic=*/true);
      EXPECT_GE(n, 1);
      EXPECT_EQ(pcs[0], 0x9999u);
    }
  }
}

TEST_F(FakeStack, KnownBoundsAreNeverLeft) {
  // Pretend the thread's stack is the first page: a chain climbing past
  // its end stops there without probing the next (unreadable) page.
  const StackBounds saved = ThreadStackBounds();
  SetThreadStackBounds({base_, base_ + page_});
  Frame(base_ + 0x100, base_ + page_ - 16, 0x1111);
  Frame(base_ + page_ - 16, base_ + page_ + 0x10, 0x2222);
  uintptr_t pcs[kMaxFrames];
  const int n = Walk(0x9999, base_ + 0x80, base_ + 0x100, pcs);
  SetThreadStackBounds(saved);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(pcs[2], 0x2222u);
}

// ---- The caller heuristic ---------------------------------------------------

// Not inlinable, so callers of it are not leaves.
void (*volatile g_opaque)() = [] { g_sink.fetch_add(1); };

// A function with a frame-pointer prologue (it calls out, so GCC gives it
// a frame).
__attribute__((noinline, noclone)) int WithFrame(int x) {
  g_opaque();
  return g_sink.load(std::memory_order_relaxed) + x;
}

// A leaf that needs no stack: GCC gives it no frame even with
// -mno-omit-leaf-frame-pointer.
__attribute__((noinline, noclone)) uint64_t FramelessLeaf(uint64_t n) {
  uint64_t x = 1;
  for (uint64_t i = 0; i < n; ++i) x = x * 6364136223846793005u + i;
  return x;
}

__attribute__((noinline, noclone)) uint64_t CallsFramelessLeaf() {
  const uint64_t x = FramelessLeaf(3);
  g_opaque();
  return x;
}

// The return address of the first direct call (e8 rel32) to `callee` in
// the first 256 bytes of `caller`, or 0.
uintptr_t ReturnAddressOfCall(const void* caller, const void* callee) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(caller);
  for (int i = 0; i < 256; ++i) {
    if (p[i] != 0xe8) continue;
    int32_t rel;
    memcpy(&rel, p + i + 1, 4);
    const uintptr_t ret = reinterpret_cast<uintptr_t>(p + i + 5);
    if (ret + static_cast<uintptr_t>(static_cast<intptr_t>(rel)) ==
        reinterpret_cast<uintptr_t>(callee)) {
      return ret;
    }
  }
  return 0;
}

#if defined(__x86_64__)

class CallerHeuristic : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(RefreshCodeRanges(), 0);
    EnsureThreadStackBounds();
  }
  // Walks a context at pc (or, if pc == 0, at a PC inside this function)
  // whose stack pointer points at a copy of `slots` in this function's
  // frame and whose frame pointer is this function's frame.
  __attribute__((noinline, noclone)) int Walk(uintptr_t pc,
                                              const uintptr_t* slots,
                                              bool heuristic, uintptr_t* pcs,
                                              uintptr_t* own_ret) {
    uintptr_t local[4];
    for (int i = 0; i < 4; ++i) local[i] = slots[i];
    const uintptr_t fp =
        reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    *own_ret = reinterpret_cast<const uintptr_t*>(fp)[1];
    if (pc == 0) pc = internal::CurrentPc();
    ucontext_t uc = FakeContext(pc, reinterpret_cast<uintptr_t>(local), fp);
    UnwindOptions o;
    o.caller_heuristic = heuristic;
    const int n = UnwindFromUcontext(&uc, pcs, o);
    g_opaque();
    asm volatile("" : : "r"(local) : "memory");
    return n;
  }
  // Calls Walk from a single call site.
  __attribute__((noinline, noclone)) int WalkFromOneSite(uintptr_t pc,
                                                         const uintptr_t* slots,
                                                         bool heuristic,
                                                         uintptr_t* pcs,
                                                         uintptr_t* own_ret) {
    const int n = Walk(pc, slots, heuristic, pcs, own_ret);
    g_opaque();
    return n;
  }
};

TEST_F(CallerHeuristic, AtFunctionEntry) {
  const uintptr_t entry = reinterpret_cast<uintptr_t>(&WithFrame);
  const uint8_t* code = reinterpret_cast<const uint8_t*>(entry);
  ASSERT_TRUE(code[0] == 0x55 || (code[0] == 0xf3 && code[1] == 0x0f))
      << "WithFrame does not start with push %rbp or endbr64";
  // A return address into a real function (any code address will do).
  const uintptr_t caller_ret =
      ReturnAddressOfCall(reinterpret_cast<const void*>(&CallsFramelessLeaf),
                          reinterpret_cast<const void*>(&FramelessLeaf));
  ASSERT_NE(caller_ret, 0u);
  uintptr_t slots[4] = {caller_ret, 0, 0, 0};
  uintptr_t pcs[kMaxFrames], own_ret = 0;
  int n = Walk(entry, slots, true, pcs, &own_ret);
  ASSERT_GE(n, 3);
  EXPECT_EQ(pcs[0], entry);
  EXPECT_EQ(pcs[1], caller_ret);  // recovered from [rsp]
  EXPECT_EQ(pcs[2], own_ret);     // then the frame chain
  n = Walk(entry, slots, false, pcs, &own_ret);
  ASSERT_GE(n, 2);
  EXPECT_EQ(pcs[1], own_ret);  // without it, the caller is skipped
}

TEST_F(CallerHeuristic, AfterPushBeforeMov) {
  const uintptr_t entry = reinterpret_cast<uintptr_t>(&WithFrame);
  const uint8_t* code = reinterpret_cast<const uint8_t*>(entry);
  if (!(code[0] == 0x55 && code[1] == 0x48 && code[2] == 0x89 &&
        code[3] == 0xe5)) {
    GTEST_SKIP() << "WithFrame's prologue is scheduled differently";
  }
  const uintptr_t caller_ret =
      ReturnAddressOfCall(reinterpret_cast<const void*>(&CallsFramelessLeaf),
                          reinterpret_cast<const void*>(&FramelessLeaf));
  uintptr_t slots[4] = {0x5a5a5a5a5a5a5a58u, caller_ret, 0, 0};  // saved rbp
  uintptr_t pcs[kMaxFrames], own_ret = 0;
  const int n = Walk(entry + 1, slots, true, pcs, &own_ret);
  ASSERT_GE(n, 3);
  EXPECT_EQ(pcs[1], caller_ret);
  EXPECT_EQ(pcs[2], own_ret);
}

TEST_F(CallerHeuristic, AtRet) {
  // Find WithFrame's epilogue: pop %rbp (or leave) then ret.
  const uint8_t* code = reinterpret_cast<const uint8_t*>(&WithFrame);
  int at = -1;
  for (int i = 1; i < 256; ++i) {
    if (code[i] == 0xc3 && (code[i - 1] == 0x5d || code[i - 1] == 0xc9)) {
      at = i;
      break;
    }
  }
  ASSERT_GE(at, 0);
  const uintptr_t caller_ret =
      ReturnAddressOfCall(reinterpret_cast<const void*>(&CallsFramelessLeaf),
                          reinterpret_cast<const void*>(&FramelessLeaf));
  uintptr_t slots[4] = {caller_ret, 0, 0, 0};
  uintptr_t pcs[kMaxFrames], own_ret = 0;
  const int n =
      Walk(reinterpret_cast<uintptr_t>(code + at), slots, true, pcs, &own_ret);
  ASSERT_GE(n, 3);
  EXPECT_EQ(pcs[1], caller_ret);
  EXPECT_EQ(pcs[2], own_ret);
}

TEST_F(CallerHeuristic, FramelessLeaf) {
  const uint8_t* code = reinterpret_cast<const uint8_t*>(&FramelessLeaf);
  ASSERT_NE(code[0], 0x55) << "FramelessLeaf has a frame after all";
  // A PC inside the leaf that is not one of the prologue/epilogue forms.
  int off = 0;
  while (off < 64 && (code[off] == 0xc3 || code[off] == 0x55 ||
                      code[off] == 0xf3 || code[off] == 0xc2)) {
    ++off;
  }
  const uintptr_t pc = reinterpret_cast<uintptr_t>(code + off);
  const uintptr_t leaf_ret = ReturnAddressOfCall(  // after `call Leaf`
      reinterpret_cast<const void*>(&CallsFramelessLeaf),
      reinterpret_cast<const void*>(&FramelessLeaf));
  ASSERT_NE(leaf_ret, 0u);
  ASSERT_NE(Symbol(leaf_ret - 1).find("CallsFramelessLeaf"), std::string::npos);
  uintptr_t slots[4] = {leaf_ret, 0, 0, 0};
  uintptr_t pcs[kMaxFrames], own_ret = 0;
  int n = Walk(pc, slots, true, pcs, &own_ret);
  ASSERT_GE(n, 3);
  EXPECT_EQ(pcs[1], leaf_ret);
  EXPECT_EQ(pcs[2], own_ret);
  n = Walk(pc, slots, false, pcs, &own_ret);
  ASSERT_GE(n, 2);
  EXPECT_EQ(pcs[1], own_ret);
  // A value at [rsp] that is not a return address is not taken as one.
  slots[0] = reinterpret_cast<uintptr_t>(&FramelessLeaf) + 1;
  n = Walk(pc, slots, true, pcs, &own_ret);
  EXPECT_EQ(pcs[1], own_ret);
  slots[0] = 12345;
  n = Walk(pc, slots, true, pcs, &own_ret);
  EXPECT_EQ(pcs[1], own_ret);
}

TEST_F(CallerHeuristic, FunctionWithFrameKeepsItsChain) {
  // pc in the body of Walk, which has a frame. [rsp] holds a stale return
  // address of a direct call to Walk itself: it passes the frameless test
  // (its target is at or below pc), but the frame chain's first return
  // address is a direct call to the same function, so it is not inserted.
  uintptr_t slots[4] = {0, 0, 0, 0};
  uintptr_t with[kMaxFrames], without[kMaxFrames], own_ret = 0;
  WalkFromOneSite(0, slots, true, with, &own_ret);
  slots[0] = own_ret;  // the same call site, so the same return address
  const int n_with = WalkFromOneSite(0, slots, true, with, &own_ret);
  const int n_without = WalkFromOneSite(0, slots, false, without, &own_ret);
  ASSERT_GE(n_with, 2);
  EXPECT_EQ(with[1], own_ret);
  EXPECT_EQ(n_with, n_without);
  EXPECT_EQ(with[1], without[1]);  // deeper frames: different call sites
}

#endif  // __x86_64__

// ---- A real signal on an alternate stack ------------------------------------

std::atomic<int> g_signal_depth{0};
uintptr_t g_signal_pcs[kMaxFrames];

// Walks from the interrupted context. Async-signal-safe.
void OnUsr1(int, siginfo_t*, void* uc) {
  g_signal_depth.store(
      UnwindFromUcontext(static_cast<const ucontext_t*>(uc), g_signal_pcs));
}

__attribute__((noinline, noclone)) void RaiseHere() {
  syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
  g_sink.fetch_add(1, std::memory_order_relaxed);
}
__attribute__((noinline, noclone)) void CallsRaiseHere() {
  RaiseHere();
  g_sink.fetch_add(1, std::memory_order_relaxed);
}

TEST(UnwindFromUcontextTest, FromAHandlerOnTheSignalStack) {
  EnsureThreadStackBounds();
  RefreshCodeRanges();
  std::vector<char> altstack(64 * 1024);
  stack_t ss, old_ss;
  ss.ss_sp = altstack.data();
  ss.ss_size = altstack.size();
  ss.ss_flags = 0;
  ASSERT_EQ(sigaltstack(&ss, &old_ss), 0);
  struct sigaction sa, old_sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = OnUsr1;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old_sa), 0);
  CallsRaiseHere();
  sigaction(SIGUSR1, &old_sa, nullptr);
  sigaltstack(&old_ss, nullptr);
  const int n = g_signal_depth.load();
  ASSERT_GE(n, 2);
  // pcs[0] is in glibc's syscall(), which has no frame: its caller may be
  // skipped, but the chain above it is intact.
  bool found = false;
  for (int i = 1; i < n; ++i) {
    if (Symbol(g_signal_pcs[i] - 1).find("CallsRaiseHere") !=
        std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace gentrace::cpusample
