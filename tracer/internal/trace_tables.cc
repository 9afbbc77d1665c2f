// The generations' string and stack tables; see trace_tables.h.
#include "tracer/internal/trace_tables.h"

#include "cpusample/fp_unwind.h"
#include "format/spec.h"
#include "tracer/internal/writer.h"

namespace gentrace::internal {

void TraceTables::BeginSession(int max_stack_depth) {
  max_stack_depth_ = max_stack_depth;
  EndSession();
  symbolizer_.Reset();
}

void TraceTables::EndSession() {
  for (int i = 0; i < 2; ++i) {
    strings_[i].Reset();
    stacks_[i].Reset();
  }
}

uint64_t TraceTables::StaticStringIdSlow(TraceLocker& tl,
                                         const StaticName& name) {
  const uint64_t gen = tl.gen();
  const uint64_t id = StringId(tl, name.str());
  if (id < kIdLimit) {
    name.cache().store(((gen & kGenMask) << 24) | id,
                       std::memory_order_relaxed);
  }
  return id;
}

TraceBuf* TraceTables::RefillUniqueStrings(TraceLocker& tl, size_t entry_size) {
  const uint64_t gen = tl.gen();
  const uint64_t p = gen & 1;
  ThreadState* ts = tl.thread();
  TraceBuf*& b = ts->sbuf[p];
  if (b == nullptr) {
    // The thread's first string of this generation: whatever block it
    // held belongs to an older generation's table.
    ts->sid_next[p] = ts->sid_end[p] = 0;
    ts->sid_block[p] = kFirstStringIdBlock;
  }
  if (b == nullptr || b->available() < entry_size) {
    if (b != nullptr) writer_->FlushBuf(b);
    b = writer_->NewBuf(gen, format::kNoThread);
    b->Byte(format::kEvStrings);
  }
  if (ts->sid_next[p] == ts->sid_end[p]) {
    const uint64_t n = ts->sid_block[p];
    ts->sid_next[p] = strings_[p].NextIds(n);
    ts->sid_end[p] = ts->sid_next[p] + n;
    ts->sid_block[p] = n < kMaxStringIdBlock ? 2 * n : kMaxStringIdBlock;
  }
  return b;
}

uint64_t TraceTables::CaptureStackId(TraceLocker& tl, void* fp) {
  ThreadState* ts = tl.thread();
  // The walk writes the PCs straight into the table's key (after its flags
  // word). It starts at the API function's frame, so the first PC is the
  // return address into its caller.
  uint64_t key[kMaxStackKeyWords];
  uintptr_t* pcs = reinterpret_cast<uintptr_t*>(key + 1);
  const uintptr_t start = reinterpret_cast<uintptr_t>(fp);
  const int n =
      start >= ts->stack_lo && start < ts->stack_hi
          ? cpusample::internal::WalkBounded(start, start, ts->stack_hi, pcs, 0,
                                             max_stack_depth_, 0)
          : 0;
  return stacks_[tl.gen() & 1].PutWalked(key, n, ts->stack_hi - start, tl.gen(),
                                         &ts->stack_cache);
}

void TraceTables::WriteAndReset(uint64_t gen) {
  auto new_buf = [this, gen] {
    return writer_->NewBuf(gen, format::kNoThread);
  };
  auto flush = [this](TraceBuf* b) { writer_->FlushBuf(b); };
  // Stacks, then strings: symbolizing stacks adds strings (Go's order).
  {
    TableWriter w(format::kEvStacks, new_buf, flush);
    stacks_[gen & 1].Dump(w, strings_[gen & 1], symbolizer_);
  }
  stacks_[gen & 1].Reset();
  {
    TableWriter w(format::kEvStrings, new_buf, flush);
    strings_[gen & 1].Dump(w);
  }
  strings_[gen & 1].Reset();
}

}  // namespace gentrace::internal
