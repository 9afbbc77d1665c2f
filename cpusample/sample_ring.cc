// SampleRing: reservation, commit and consumption (see sample_ring.h for the
// layout and the invariants these functions keep).
#include "cpusample/sample_ring.h"

#include <algorithm>

namespace gentrace::cpusample {
namespace {

size_t RoundUpToPowerOfTwo(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

SampleRing::SampleRing(size_t capacity_bytes)
    : capacity_(RoundUpToPowerOfTwo(
          (std::max(capacity_bytes, kMinCapacityBytes) + 7) / 8)),
      mask_(capacity_ - 1),
      words_(new std::atomic<uint64_t>[capacity_]) {
  for (size_t i = 0; i < capacity_; ++i) {
    words_[i].store(0, std::memory_order_relaxed);
  }
}

SampleRing::~SampleRing() = default;

bool SampleRing::TryWrite(const SampleRecord& hdr, const uintptr_t* pcs) {
  const uint32_t nframes =
      std::min<uint32_t>(hdr.nframes, static_cast<uint32_t>(kMaxFrames));
  const size_t len = kHeaderWords + nframes;

  // Reserve [head, head + pad + len). The acquire load of tail pairs with
  // the consumer's release in Release(): the words it zeroed below tail are
  // zero for us too (invariant 1). A stale tail only makes us see less room.
  uint64_t head = head_.load(std::memory_order_relaxed);
  size_t pos, pad;
  for (;;) {
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    if (tail > head) {
      // Our head is older than the consumer's progress: look again.
      head = head_.load(std::memory_order_relaxed);
      continue;
    }
    pos = static_cast<size_t>(head) & mask_;
    const size_t to_end = capacity_ - pos;
    pad = len > to_end ? to_end : 0;
    if (head + pad + len - tail > capacity_) {
      lost_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (head_.compare_exchange_weak(head, head + pad + len,
                                    std::memory_order_relaxed,
                                    std::memory_order_relaxed)) {
      break;
    }
  }

  if (pad != 0) {
    // Fill the ring to its end; the consumer skips it.
    words_[pos].store(kCommitted | kPadding | pad, std::memory_order_release);
    pos = 0;
  }

  std::atomic<uint64_t>* w = &words_[pos];
  w[1].store(hdr.timestamp, std::memory_order_relaxed);
  w[2].store(hdr.tid, std::memory_order_relaxed);
  w[3].store(hdr.p, std::memory_order_relaxed);
  w[4].store(hdr.g, std::memory_order_relaxed);
  w[5].store(hdr.weight, std::memory_order_relaxed);
  w[6].store(uint64_t{nframes} | (uint64_t{hdr.tag} << 32),
             std::memory_order_relaxed);
  for (uint32_t i = 0; i < nframes; ++i) {
    w[kHeaderWords + i].store(pcs[i], std::memory_order_relaxed);
  }
  // The commit (invariant 3).
  w[0].store(kCommitted | len, std::memory_order_release);
  written_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

size_t SampleRing::ConsumeRecord(size_t pos, uint64_t control,
                                 SampleRecord* hdr, uintptr_t* pcs) {
  const size_t len = static_cast<size_t>(control & kLengthMask);
  const std::atomic<uint64_t>* w = &words_[pos];
  hdr->timestamp = w[1].load(std::memory_order_relaxed);
  hdr->tid = w[2].load(std::memory_order_relaxed);
  hdr->p = w[3].load(std::memory_order_relaxed);
  hdr->g = w[4].load(std::memory_order_relaxed);
  hdr->weight = w[5].load(std::memory_order_relaxed);
  const uint64_t word6 = w[6].load(std::memory_order_relaxed);
  hdr->nframes = static_cast<uint32_t>(word6);
  hdr->tag = static_cast<uint32_t>(word6 >> 32);
  for (uint32_t i = 0; i < hdr->nframes; ++i) {
    pcs[i] = static_cast<uintptr_t>(
        w[kHeaderWords + i].load(std::memory_order_relaxed));
  }
  Release(pos, len);
  return len;
}

void SampleRing::Release(size_t pos, size_t len) {
  // Zero the whole record before producers may reuse the space (invariant
  // 1): any of its words may become a later record's control word.
  for (size_t i = 0; i < len; ++i) {
    words_[pos + i].store(0, std::memory_order_relaxed);
  }
  tail_.store(tail_.load(std::memory_order_relaxed) + len,
              std::memory_order_release);
}

size_t SampleRing::used_bytes() const {
  const uint64_t tail = tail_.load(std::memory_order_acquire);
  const uint64_t head = head_.load(std::memory_order_acquire);
  return head > tail ? static_cast<size_t>(head - tail) * 8 : 0;
}

void SampleRing::Reset() {
  for (size_t i = 0; i < capacity_; ++i) {
    words_[i].store(0, std::memory_order_relaxed);
  }
  head_.store(0, std::memory_order_relaxed);
  tail_.store(0, std::memory_order_release);
  written_.store(0, std::memory_order_relaxed);
  lost_.store(0, std::memory_order_relaxed);
}

}  // namespace gentrace::cpusample
