// Batch cursors and their heap; see batch_cursor.h.
#include "reader/batch_cursor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "format/leb128.h"
#include "reader/go_compat.h"
#include "reader/type_info.h"

namespace gentrace::reader {
bool ReadUvarintSlow(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  size_t used = 0;
  if (format::GetUvarint(p, end, v, &used) != format::VarintStatus::kOk) {
    return false;
  }
  p += used;
  return true;
}

bool BatchCursor::BadType(uint8_t type, absl::Status* error) {
  if (type >= format::kNumEventTypes) {
    *error = absl::InvalidArgumentError(
        absl::StrCat("found invalid event type: ", type));
  } else {
    *error = absl::InvalidArgumentError(
        absl::StrCat("found event without a timestamp: type=", type));
  }
  return false;
}

bool BatchCursor::BadVarint(bool timestamp, absl::Status* error) {
  *error = absl::InvalidArgumentError(
      timestamp ? "found invalid uvarint for timestamp"
                : "found invalid uvarint");
  return false;
}

bool BatchCursor::NextBatch(absl::Status* error) {
  const std::vector<Batch>& batches = gen_->batches();
  const std::vector<uint32_t>& mine = thread_->batches;
  // Skip empty batches; each batch restarts the clock.
  while (batch_ < mine.size()) {
    const Batch& b = batches[mine[batch_++]];
    if (b.payload.empty()) continue;
    p_ = b.payload.data();
    end_ = p_ + b.payload.size();
    batch_base_ = GoTicksToNs(b.time, ns_per_tick_);
    last_ts_ = 0;
    return Decode(error);
  }
  return false;
}

// The heap below follows Go's batchcursor.go step for step, so that events
// with equal timestamps come out in the same order.
namespace {

size_t SiftUp(std::vector<BatchCursor*>& h, size_t i) {
  while (i > 0 && h[(i - 1) / 2]->time() > h[i]->time()) {
    std::swap(h[(i - 1) / 2], h[i]);
    i = (i - 1) / 2;
  }
  return i;
}

size_t Min3(const std::vector<BatchCursor*>& h, size_t i0, size_t i1,
            size_t i2) {
  size_t min_idx = i0;
  int64_t min_t = INT64_MAX;
  if (i0 < h.size()) min_t = h[i0]->time();
  if (i1 < h.size() && h[i1]->time() < min_t) {
    min_t = h[i1]->time();
    min_idx = i1;
  }
  if (i2 < h.size() && h[i2]->time() < min_t) {
    min_idx = i2;
  }
  return min_idx;
}

void SiftDown(std::vector<BatchCursor*>& h, size_t i) {
  for (;;) {
    size_t m = Min3(h, i, 2 * i + 1, 2 * i + 2);
    if (m == i) return;
    std::swap(h[i], h[m]);
    i = m;
  }
}

}  // namespace

void HeapInsert(std::vector<BatchCursor*>* heap, BatchCursor* c) {
  heap->push_back(c);
  SiftUp(*heap, heap->size() - 1);
}

void HeapUpdate(std::vector<BatchCursor*>* heap, size_t i) {
  if (SiftUp(*heap, i) != i) return;
  SiftDown(*heap, i);
}

void HeapRemove(std::vector<BatchCursor*>* heap, size_t i) {
  std::vector<BatchCursor*>& h = *heap;
  // Move i to the root regardless of order, then drop the root.
  while (i > 0) {
    std::swap(h[(i - 1) / 2], h[i]);
    i = (i - 1) / 2;
  }
  std::swap(h[0], h.back());
  h.pop_back();
  SiftDown(h, 0);
}

}  // namespace gentrace::reader
