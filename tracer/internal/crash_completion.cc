// Completing the current generation at a crash; see crash_completion.h.
// Everything here is async-signal-safe: atomics, try-locks, nanosleep,
// write(2), ftruncate(2), lseek(2), and our own encoders.
#include "tracer/internal/crash_completion.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <iterator>

#include "format/byte_sink.h"
#include "format/gentrace_batch.h"
#include "format/spec.h"
#include "tracer/internal/clock.h"
#include "tracer/internal/info_records.h"
#include "tracer/internal/runtime.h"
#include "tracer/internal/stack_table.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/thread_registry.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_state.h"
#include "tracer/internal/writer.h"

namespace gentrace::internal {
namespace {

// How long each step may wait at most (all of them also end at the
// caller's deadline): an advance in progress (it may be symbolizing a
// generation's stacks), threads inside the tracer, the writer's lock
// (held for a few instructions at a time).
constexpr uint64_t kControlWaitNs = 200'000'000;
constexpr uint64_t kThreadsWaitNs = 50'000'000;
constexpr uint64_t kWriterWaitNs = 50'000'000;
// Copies of a thread's buffer tried before it is skipped.
constexpr int kCopyTries = 8;
// The P no thread gets, as the advancer's filler (advancer.cc).
constexpr uint64_t kFillerProc = 0;

// Batches are built and copied here: one dump per process (the crash
// handler's C1), and never on the (alternate, small) signal stack.
TraceBuf g_out;
TraceBuf g_copy;

void Pause(uint64_t ns) {
  timespec ts = {0, static_cast<long>(ns)};
  nanosleep(&ts, nullptr);
}

uint64_t Min(uint64_t a, uint64_t b) { return a < b ? a : b; }

// Table and info batches of one generation, built in g_out and written to
// fd whole (TableWriter's job on the advancer, without its allocation).
class CrashBatches {
 public:
  CrashBatches(int fd, uint64_t gen, uint8_t exp, uint8_t lead,
               CrashCompletionResult* result)
      : fd_(fd), gen_(gen), exp_(exp), lead_(lead), result_(result) {}
  ~CrashBatches() { Flush(); }
  CrashBatches(const CrashBatches&) = delete;
  CrashBatches& operator=(const CrashBatches&) = delete;

  // A batch with room for n more bytes (n <= 60 KiB).
  TraceBuf* Ensure(size_t n) {
    if (open_ && g_out.available() >= n) return &g_out;
    Flush();
    g_out.Begin(gen_, format::kNoThread, Now(), exp_);
    if (lead_ != format::kEvNone) g_out.Byte(lead_);
    open_ = true;
    return &g_out;
  }
  void Flush() {
    if (!open_) return;
    open_ = false;
    const uint32_t lead_size = lead_ != format::kEvNone ? 1 : 0;
    if (g_out.pos == g_out.header_size + lead_size) return;  // nothing in it
    g_out.Finish();
    Write(g_out.data, g_out.pos);
  }
  void Write(const uint8_t* p, size_t n) {
    if (result_->error != 0) return;
    result_->error = format::WriteFully(fd_, p, n);
    if (result_->error == 0) result_->bytes += n;
  }

 private:
  const int fd_;
  const uint64_t gen_;
  const uint8_t exp_;
  const uint8_t lead_;
  CrashCompletionResult* const result_;
  bool open_ = false;
};

// A thread's record in the info batch, its name copied while the name's
// lock is free (else without a name). The name is the record's last
// field: the record is encoded with an empty name, whose length byte is
// then replaced by the name.
static_assert(
    std::size(format::InfoRecordSpec<format::ThreadRecord>::kFields) == 4 &&
        format::InfoRecordSpec<format::ThreadRecord>::kFields[3].kind ==
            format::InfoFieldKind::kBytes,
    "the thread record's name is its last field");
void WriteThreadRecord(ThreadState* ts, CrashBatches* out) {
  format::ThreadRecord r;  // its empty name allocates nothing
  r.thread = static_cast<uint64_t>(ts->tid);
  r.proc = ts->proc;
  r.goroutine = ts->own_g.id;
  const char* name = nullptr;
  size_t len = 0;
  const bool locked = ts->name_mu.try_lock();
  if (locked) {
    name = ts->name.data();
    len = StringTable::Truncate(ts->name).size();
  }
  TraceBuf* b =
      out->Ensure(format::InfoRecordSize(r) + format::kMaxVarintLen + len);
  uint8_t* end = format::EncodeInfoRecord(r, b->cursor());
  --end;  // the empty name's length
  end = format::PutUvarint(end, len);
  if (len > 0) std::memcpy(end, name, len);
  end += len;
  if (locked) ts->name_mu.unlock();
  b->pos = static_cast<uint32_t>(end - b->data);
}

}  // namespace

bool CrashCompletion::Fail(const char* reason) {
  if (result_.reason == nullptr) result_.reason = reason;
  result_.completed = false;
  Release();
  return false;
}

bool CrashCompletion::Prepare(int crash_tid, uint64_t deadline_ns) {
  Runtime& rt = Runtime::Get();
  crash_tid_ = crash_tid;
  deadline_ns_ = deadline_ns;
  const uint64_t start = MonotonicNanos();
  result_.gen = g_trace.gen();  // for the report, should this step fail
  // 1. No advance, Start or Stop from here on.
  const uint64_t control_until = Min(deadline_ns, start + kControlWaitNs);
  while (!rt.control_mu_.try_lock()) {
    if (MonotonicNanos() >= control_until) {
      return Fail("an advance (or Start or Stop) held the tracer's lock");
    }
    Pause(100'000);
  }
  held_control_ = true;
  result_.gen = g_trace.gen();
  if (result_.gen == 0) return Fail("tracing was off");
  // 2. The crashing thread's own buffers and the tables it may have been
  // adding to must be whole.
  ThreadState* self = tls_thread;
  if (IsThreadState(self) &&
      self->seqlock.load(std::memory_order_acquire) % 2 != 0) {
    return Fail("the crash was inside the tracer");
  }
  // 3. No thread starts writing any more; those writing finish.
  if (!g_trace.SwapGen(result_.gen, 0)) {
    return Fail("the generation changed");  // no SetGen runs: defensive
  }
  swapped_gen_ = true;
  const uint64_t threads_until =
      Min(deadline_ns, MonotonicNanos() + kThreadsWaitNs);
  rt.threads().ForEachAtCrash([&](ThreadState* ts) {
    const uint64_t seq = ts->seqlock.load(std::memory_order_seq_cst);
    while (seq % 2 != 0 && ts->seqlock.load(std::memory_order_acquire) == seq &&
           MonotonicNanos() < threads_until) {
      Pause(50'000);
    }
  });
  // 4. Nothing moves through the writer's queue.
  const uint64_t writer_until =
      Min(deadline_ns, MonotonicNanos() + kWriterWaitNs);
  while (!rt.writer().CrashTryLock()) {
    if (MonotonicNanos() >= writer_until) {
      return Fail("the writer's lock was held");
    }
    Pause(50'000);
  }
  held_writer_ = true;
  if (rt.writer().CrashViewLocked().gen != result_.gen) {
    return Fail("the writer was not on the current generation");
  }
  return true;
}

bool CrashCompletion::WriteThreadBuffer(int fd, ThreadState* ts, bool strings) {
  const uint64_t gen = result_.gen;
  for (int tries = 0; tries < kCopyTries; ++tries) {
    const uint64_t s1 = ts->seqlock.load(std::memory_order_acquire);
    if (s1 % 2 != 0) {
      if (MonotonicNanos() >= copy_until_) return false;
      Pause(100'000);
      continue;
    }
    const TraceBuf* b = strings ? ts->sbuf[gen & 1] : ts->buf[gen & 1];
    uint32_t pos = 0, header_size = 0;
    bool ours = false;
    if (b != nullptr) {
      pos = b->pos;
      header_size = b->header_size;
      ours = b->gen == gen && header_size > 0 && header_size <= pos &&
             pos <= kTraceBufBytes;
      if (ours) std::memcpy(g_copy.data, b->data, pos);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (ts->seqlock.load(std::memory_order_relaxed) != s1) continue;
    // A stable copy (I1: the thread changes its buffers only with its
    // seqlock odd).
    if (!ours || pos == header_size) return true;
    format::PatchBatchSize(g_copy.data, header_size, pos - header_size);
    if (result_.error == 0) {
      result_.error = format::WriteFully(fd, g_copy.data, pos);
      if (result_.error == 0) result_.bytes += pos;
    }
    if (!strings) ++result_.thread_buffers;
    return true;
  }
  return false;
}

void CrashCompletion::Finish(int fd, off_t start,
                             const CrashSnapshotResult& ring) {
  Runtime& rt = Runtime::Get();
  const uint64_t gen = result_.gen;
  if (ring.error != 0) {
    result_.error = ring.error;
    Fail("writing the ring's generations failed");
    return;
  }
  if (ring.bytes == 0) {
    Fail("the ring had no trace header");
    return;
  }
  // The ring's part of gen goes if anything else does not fit.
  const off_t whole_end =
      start + static_cast<off_t>(ring.bytes - ring.active_bytes);
  auto cut = [&](const char* reason) {
    if (ftruncate(fd, whole_end) != 0 && result_.error == 0) {
      result_.error = errno;
    }
    lseek(fd, whole_end, SEEK_SET);
    Fail(reason);
  };
  if (ring.generations > 0 && ring.last_gen + 1 != gen) {
    cut("the ring's newest whole generation is not the one before");
    return;
  }
  const Writer::CrashView view = rt.writer().CrashViewLocked();
  const uint64_t in_ring = ring.active_included ? ring.active_appends : 0;
  bool write_in_flight = false;
  if (in_ring == view.taken) {
    // The ring has every batch the writer took (the one in flight too).
  } else if (view.in_flight != nullptr && in_ring + 1 == view.taken) {
    write_in_flight = true;  // taken, but the ring did not get it
  } else {
    cut("the ring lacked batches of the generation");
    return;
  }
  for (const TraceBuf* b = view.queued; b != nullptr; b = b->link) {
    if (b->gen != gen) {
      cut("the writer's queue held another generation");
      return;
    }
  }
  result_.ring_batches = in_ring;

  auto write_batch = [&](const TraceBuf* b) {
    if (result_.error != 0) return;
    result_.error = format::WriteFully(fd, b->data, b->pos);
    if (result_.error == 0) result_.bytes += b->pos;
    ++result_.queued_batches;
  };
  // The writer's batches: in flight, then queued (the order it takes them).
  if (write_in_flight) write_batch(view.in_flight);
  for (const TraceBuf* b = view.queued; b != nullptr; b = b->link) {
    write_batch(b);
  }
  // The threads' current buffers (after their queued ones: a thread's
  // batches stay in the order it wrote them).
  // A thread inside the tracer now (one exiting, say, whose flush waits
  // for the writer's lock) is waited for within one bound for all.
  copy_until_ = Min(deadline_ns_, MonotonicNanos() + kThreadsWaitNs);
  rt.threads().ForEachAtCrash([&](ThreadState* ts) {
    const bool events = WriteThreadBuffer(fd, ts, /*strings=*/false);
    const bool strings = WriteThreadBuffer(fd, ts, /*strings=*/true);
    if (!events || !strings) ++result_.threads_skipped;
  });
  // The Frequency batch.
  {
    CrashBatches freq(fd, gen, 0, format::kEvNone, &result_);
    TraceBuf* b = freq.Ensure(1 + format::kMaxVarintLen);
    b->Byte(format::kEvFrequency);
    b->Varint(g_clock.ticks_per_second);
  }
  // Go's parser refuses a generation without an event.
  if (!rt.goroutines().AnyThreadWrote(gen) ||
      in_ring + result_.queued_batches + result_.thread_buffers == 0) {
    CrashBatches filler(fd, gen, 0, format::kEvNone, &result_);
    EmitAt(filler.Ensure(kMaxEventBytes), Now(), format::kEvProcStatus,
           kFillerProc, format::kProcIdle);
  }
  // gentrace's info batch: the span, the threads, the modules.
  {
    CrashBatches info(fd, gen, format::kExperimentGentraceInfo, format::kEvNone,
                      &result_);
    format::GenerationRecord span;
    span.start = rt.advancer_.gen_start_time();
    span.end = Now();
    TraceBuf* b = info.Ensure(format::InfoRecordSize(span));
    b->pos = static_cast<uint32_t>(format::EncodeInfoRecord(span, b->cursor()) -
                                   b->data);
    const uint64_t session = g_trace.session();
    rt.threads().ForEachAtCrash([&](ThreadState* ts) {
      if (ts->session == session &&
          ts->created_flag.load(std::memory_order_acquire)) {
        WriteThreadRecord(ts, &info);
      }
    });
    // The loaded modules as the last advance (or Start) found them,
    // encoded then (module_list.h M2: we hold the control lock).
    rt.modules_.ForEachEncoded([&info](absl::Span<const uint8_t> record) {
      WriteEncodedInfoRecord(record, &info);
    });
  }
  // The tables: stacks (bare PCs), then strings.
  bool tables_whole = true;
  {
    CrashBatches stacks(fd, gen, 0, format::kEvStacks, &result_);
    tables_whole &= rt.tables().stacks(gen).ForEachKey(
        [&](uint64_t id, const uint64_t* key, int words) {
          int n = words - 1;
          if (n > static_cast<int>(format::kMaxFramesPerStack)) {
            n = static_cast<int>(format::kMaxFramesPerStack);
          }
          TraceBuf* b = stacks.Ensure(1 + 2 * format::kMaxVarintLen +
                                      n * 4 * format::kMaxVarintLen);
          b->Byte(format::kEvStack);
          b->Varint(id);
          b->Varint(static_cast<uint64_t>(n));
          for (int i = 0; i < n; ++i) {
            uint64_t pc = key[1 + i];
            // A return address is written inside its call, as the
            // advancer does (stack_table.h).
            if (!(i == 0 && (key[0] & kStackExactFirst)) && pc > 0) --pc;
            b->Varint(pc);
            b->Varint(0);  // function: the empty string
            b->Varint(0);  // file
            b->Varint(0);  // line
          }
          ++result_.stacks;
        });
  }
  {
    CrashBatches strings(fd, gen, 0, format::kEvStrings, &result_);
    tables_whole &= rt.tables().strings(gen).ForEach(
        [&](uint64_t id, const unsigned char* data, size_t size) {
          const absl::string_view s(reinterpret_cast<const char*>(data), size);
          WriteStringEntry(strings.Ensure(StringEntrySize(s)), id, s);
          ++result_.strings;
        });
  }
  if (!tables_whole) {
    cut("a table was too deep to walk");
    return;
  }
  if (result_.error != 0) {
    cut("a write failed");
    return;
  }
  result_.completed = true;
}

void CrashCompletion::Release() {
  Runtime& rt = Runtime::Get();
  if (held_writer_) {
    held_writer_ = false;
    rt.writer().CrashUnlock();
  }
  if (swapped_gen_) {
    swapped_gen_ = false;
    g_trace.SwapGen(0, result_.gen);
  }
  if (held_control_) {
    held_control_ = false;
    rt.control_mu_.unlock();
  }
}

}  // namespace gentrace::internal
