// Trace buffers, queues and pool; see trace_buf.h.
#include "tracer/internal/trace_buf.h"

#include <cstring>

namespace gentrace::internal {

void TraceBuf::Begin(uint64_t gen_, uint64_t m, uint64_t time, uint8_t exp) {
  link = nullptr;
  gen = gen_;
  last_time = time;
  experimental = exp != 0;
  header_size = static_cast<uint32_t>(
      exp == 0
          ? format::WriteBatchHeader(data, gen_, m, time)
          : format::WriteExperimentalBatchHeader(data, exp, gen_, m, time));
  pos = header_size;
}

void TraceBuf::Finish() {
  format::PatchBatchSize(data, header_size, pos - header_size);
}

uint8_t* CopyBytesLong(uint8_t* dst, const uint8_t* src, size_t n) {
  std::memcpy(dst, src, n);
  return dst + n;
}

void BufQueue::Push(TraceBuf* b) {
  b->link = nullptr;
  if (tail == nullptr) {
    head = b;
  } else {
    tail->link = b;
  }
  tail = b;
}

TraceBuf* BufQueue::Pop() {
  TraceBuf* b = head;
  if (b == nullptr) return nullptr;
  head = b->link;
  if (head == nullptr) tail = nullptr;
  b->link = nullptr;
  return b;
}

TraceBuf* TableWriter::Ensure(size_t n) {
  if (cur_ != nullptr && cur_->available() >= n) return cur_;
  Finish();
  cur_ = new_buf_();
  if (lead_ != format::kEvNone) cur_->Byte(lead_);
  wrote_ = true;
  return cur_;
}

void TableWriter::Finish() {
  if (cur_ != nullptr) {
    flush_(cur_);
    cur_ = nullptr;
  }
}

BufPool::~BufPool() { Clear(); }

TraceBuf* BufPool::Get() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (TraceBuf* b = free_.Pop()) return b;
    ++allocated_;
  }
  return new TraceBuf();
}

void BufPool::Put(TraceBuf* b) {
  std::lock_guard<std::mutex> l(mu_);
  free_.Push(b);
}

void BufPool::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  while (TraceBuf* b = free_.Pop()) {
    delete b;
    --allocated_;
  }
}

size_t BufPool::allocated() const {
  std::lock_guard<std::mutex> l(mu_);
  return allocated_;
}

}  // namespace gentrace::internal
