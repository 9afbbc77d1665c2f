// A cursor over one thread's event batches in a generation, and the min-heap
// of cursors (by next event time) the reader merges threads with (Go's
// batchcursor.go). The heap operations keep Go's exact tie-breaking.
//
// Next() is the reader's innermost loop: the common case (an event inside
// the current batch, small varints) is inline; switching batches and
// reporting errors are out of line.
#ifndef GENTRACE_READER_BATCH_CURSOR_H_
#define GENTRACE_READER_BATCH_CURSOR_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "reader/event.h"
#include "reader/generation.h"
#include "reader/go_compat.h"
#include "reader/type_info.h"

namespace gentrace::reader {

class BatchCursor {
 public:
  BatchCursor(const Generation* gen, const Generation::Thread* thread,
              uint32_t mstate)
      : gen_(gen),
        thread_(thread),
        m_(thread->m),
        mstate_(mstate),
        ns_per_tick_(gen->ns_per_tick()) {
    ev_.gen_ = gen;
  }

  // Decodes the thread's next event into ev(). Returns false at the end of
  // the thread's batches, or on a malformed event (then *error is set).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Next(absl::Status* error) {
    if (ABSL_PREDICT_TRUE(p_ < end_)) return Decode(error);
    return NextBatch(error);
  }

  uint64_t m() const { return m_; }
  // The thread's state index in the ordering (cached on first use).
  uint32_t* mutable_mstate() { return &mstate_; }
  int64_t time() const { return ev_.time_; }
  Event& ev() { return ev_; }
  const Event& ev() const { return ev_; }

 private:
  // Moves to the next non-empty batch and decodes its first event.
  bool NextBatch(absl::Status* error);
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool Decode(absl::Status* error);
  static bool BadType(uint8_t type, absl::Status* error);
  static bool BadVarint(bool timestamp, absl::Status* error);

  const Generation* gen_;
  const Generation::Thread* thread_;
  uint64_t m_;
  uint32_t mstate_;  // index of the thread's state in the ordering
  double ns_per_tick_;
  size_t batch_ = 0;  // next batch to open (index into thread_->batches)
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  int64_t batch_base_ = 0;  // the open batch's time in ns
  int64_t last_ts_ = 0;
  Event ev_;
};

// Reads a varint like Go's binary.Uvarint; false where Go's n <= 0.
bool ReadUvarintSlow(const uint8_t*& p, const uint8_t* end, uint64_t* v);
ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool ReadUvarint(const uint8_t*& p,
                                                     const uint8_t* end,
                                                     uint64_t* v) {
  if (ABSL_PREDICT_TRUE(p < end) && p[0] < 0x80) {
    *v = *p++;
    return true;
  }
  if (ABSL_PREDICT_TRUE(end - p >= 3)) {
    if (p[1] < 0x80) {
      *v = (p[0] & 0x7fu) | (uint64_t{p[1]} << 7);
      p += 2;
      return true;
    }
    if (p[2] < 0x80) {
      *v = (p[0] & 0x7fu) | (uint64_t{p[1] & 0x7fu} << 7) |
           (uint64_t{p[2]} << 14);
      p += 3;
      return true;
    }
  }
  return ReadUvarintSlow(p, end, v);
}

inline bool BatchCursor::Decode(absl::Status* error) {
  const uint8_t* p = p_;
  const uint8_t type = *p++;
  const TypeInfo& ti = GetTypeInfo(type);
  if (ABSL_PREDICT_FALSE(!ti.timed)) return BadType(type, error);
  uint64_t dt;
  if (ABSL_PREDICT_FALSE(!ReadUvarint(p, end_, &dt))) {
    return BadVarint(true, error);
  }
  // At most five arguments; unrolled.
  uint64_t* args = ev_.args_.data();
  switch (ti.num_args) {
    case 5:
      if (ABSL_PREDICT_FALSE(!ReadUvarint(p, end_, args++))) break;
      [[fallthrough]];
    case 4:
      if (ABSL_PREDICT_FALSE(!ReadUvarint(p, end_, args++))) break;
      [[fallthrough]];
    case 3:
      if (ABSL_PREDICT_FALSE(!ReadUvarint(p, end_, args++))) break;
      [[fallthrough]];
    case 2:
      if (ABSL_PREDICT_FALSE(!ReadUvarint(p, end_, args++))) break;
      [[fallthrough]];
    case 1:
      if (ABSL_PREDICT_FALSE(!ReadUvarint(p, end_, args++))) break;
      [[fallthrough]];
    default:
      args = nullptr;  // all read
  }
  if (ABSL_PREDICT_FALSE(args != nullptr)) return BadVarint(false, error);
  // Go re-bases on the batch time whenever the running time is 0.
  if (ABSL_PREDICT_FALSE(last_ts_ == 0)) last_ts_ = batch_base_;
  ev_.type_ = type;
  ev_.time_ = WrapAdd(GoTicksToNs(dt, ns_per_tick_), last_ts_);
  last_ts_ = ev_.time_;
  p_ = p;
  return true;
}

// Restores the heap after the root's time grew (Go's heapUpdate(0): the
// root cannot move up, so it sifts down).
inline void HeapFixTop(std::vector<BatchCursor*>* heap) {
  std::vector<BatchCursor*>& h = *heap;
  const size_t n = h.size();
  size_t i = 0;
  for (;;) {
    // Go's min3: the smallest of i and its children, earlier index first
    // on ties.
    size_t m = i;
    int64_t t = h[i]->time();
    const size_t l = 2 * i + 1, r = l + 1;
    if (l < n && h[l]->time() < t) {
      m = l;
      t = h[l]->time();
    }
    if (r < n && h[r]->time() < t) m = r;
    if (m == i) return;
    std::swap(h[i], h[m]);
    i = m;
  }
}

// Go's heapInsert/heapUpdate/heapRemove over cursors keyed by ev time.
void HeapInsert(std::vector<BatchCursor*>* heap, BatchCursor* c);
void HeapUpdate(std::vector<BatchCursor*>* heap, size_t i);
void HeapRemove(std::vector<BatchCursor*>* heap, size_t i);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_BATCH_CURSOR_H_
