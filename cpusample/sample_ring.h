// SampleRing: a fixed-capacity, multi-producer single-consumer ring of
// variable-size CPU-sample records, written from signal handlers on any
// thread and drained by one ordinary thread.
//
// Layout. The ring is an array of 64-bit words (a power of two of them,
// allocated once, at construction). A record is
//   control word: committed bit | padding bit | length in words
//   header:       timestamp, tid, p, g, weight, (nframes | tag << 32)
//   nframes PCs
// Records never wrap: one that would is preceded by a padding record that
// fills the ring to its end.
//
// Invariants:
//  1. Every word the consumer has not been handed is either part of a
//     reserved record or zero. The consumer zeroes each record after reading
//     it and only then publishes the new tail, so a control word that a
//     producer has reserved but not written yet reads as zero: uncommitted.
//  2. A producer reserves [head, head + len) by CAS on head, only when that
//     leaves head - tail <= capacity, so it never overwrites unread data.
//     A full ring drops the sample and counts it in lost(); producers never
//     wait for each other or for the consumer.
//  3. A producer writes the record's body, then the control word with
//     release order (the commit). The consumer reads records in reservation
//     order and stops at the first control word that is not committed.
//
// A producer that reserved and was then descheduled holds back the records
// after it until it commits; nothing is lost, the consumer reads them on a
// later Drain. A producer may be interrupted by a signal handler that writes
// on the same thread (the SIGPROF handler runs with SIGPROF unblocked, so
// it nests): the nested write reserves after the interrupted one and
// commits first; nothing waits. Any number of threads write at once.
#ifndef GENTRACE_CPUSAMPLE_SAMPLE_RING_H_
#define GENTRACE_CPUSAMPLE_SAMPLE_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

#include "cpusample/fp_unwind.h"

namespace gentrace::cpusample {

// The fixed part of a record; the writer chooses what the fields mean (the
// tracer: its clock, the OS thread id, its P and G ids, the sample weight).
struct SampleRecord {
  uint64_t timestamp = 0;
  uint64_t tid = 0;
  uint64_t p = 0;
  uint64_t g = 0;
  uint64_t weight = 0;
  uint32_t nframes = 0;  // number of PCs that follow; at most kMaxFrames
  uint32_t tag = 0;      // free for the writer (e.g. the sample's source)
};

class SampleRing {
 public:
  // Words of a record besides its PCs: control word and header.
  static constexpr size_t kHeaderWords = 7;
  // The largest record, in bytes.
  static constexpr size_t kMaxRecordBytes = (kHeaderWords + kMaxFrames) * 8;
  // The smallest capacity accepted; smaller requests are raised to it.
  static constexpr size_t kMinCapacityBytes = 4 * kMaxRecordBytes;

  // Allocates the ring: capacity_bytes rounded up to a power of two, at
  // least kMinCapacityBytes. Not async-signal-safe.
  explicit SampleRing(size_t capacity_bytes);
  ~SampleRing();

  SampleRing(const SampleRing&) = delete;
  SampleRing& operator=(const SampleRing&) = delete;

  // Appends one record: hdr, then hdr.nframes PCs from pcs (more than
  // kMaxFrames are cut to kMaxFrames; the stored nframes says how many were
  // kept). Returns false, and counts the sample in lost(), when the ring has
  // no room. Lock-free; never blocks, never allocates.
  // Async-signal-safe.
  bool TryWrite(const SampleRecord& hdr, const uintptr_t* pcs);

  // Hands committed records to f(const SampleRecord&, const uintptr_t* pcs)
  // in the order they were reserved, at most max_records of them, stopping
  // at the first record not yet committed. The PCs are copied out first, so
  // f may take its time and the space is free for producers before f runs.
  // Returns the number of records handed out. One consumer at a time.
  template <class F>
  size_t Drain(F&& f, size_t max_records = std::numeric_limits<size_t>::max());

  // Records written successfully, and samples dropped because the ring was
  // full, since construction or Reset(). Async-signal-safe.
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }

  // Words reserved and not yet drained (an upper bound on unread data).
  size_t used_bytes() const;
  size_t capacity_bytes() const { return capacity_ * 8; }

  // Empties the ring and zeroes the counters. Only when no producer can run
  // (e.g. no sampler is writing into this ring) and no Drain is running.
  void Reset();

 private:
  static constexpr uint64_t kCommitted = uint64_t{1} << 63;
  static constexpr uint64_t kPadding = uint64_t{1} << 62;
  static constexpr uint64_t kLengthMask = 0xffffffffu;

  // Reads the record at `pos` (committed, not padding) into hdr and pcs,
  // zeroes its words, and returns its length in words.
  size_t ConsumeRecord(size_t pos, uint64_t control, SampleRecord* hdr,
                       uintptr_t* pcs);
  // Zeroes [pos, pos + len) and publishes tail + len.
  void Release(size_t pos, size_t len);

  const size_t capacity_;  // words, a power of two
  const size_t mask_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;

  // Producers' reservation cursor and the consumer's read cursor, in words
  // since construction or Reset (they do not wrap in practice: 2^64 words).
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  alignas(64) std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> lost_{0};
};

template <class F>
size_t SampleRing::Drain(F&& f, size_t max_records) {
  size_t handed = 0;
  SampleRecord hdr;
  uintptr_t pcs[kMaxFrames];
  while (handed < max_records) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const size_t pos = static_cast<size_t>(tail) & mask_;
    const uint64_t control = words_[pos].load(std::memory_order_acquire);
    if ((control & kCommitted) == 0) break;
    if ((control & kPadding) != 0) {
      Release(pos, static_cast<size_t>(control & kLengthMask));
      continue;
    }
    ConsumeRecord(pos, control, &hdr, pcs);
    f(static_cast<const SampleRecord&>(hdr),
      static_cast<const uintptr_t*>(pcs));
    ++handed;
  }
  return handed;
}

}  // namespace gentrace::cpusample

#endif  // GENTRACE_CPUSAMPLE_SAMPLE_RING_H_
