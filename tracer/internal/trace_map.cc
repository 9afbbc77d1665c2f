// Lock-free hash trie and arena; see trace_map.h.
#include "tracer/internal/trace_map.h"

#include <cstdio>
#include <cstdlib>
#include <new>

namespace gentrace::internal {

namespace {

inline uint64_t Mix(uint64_t a, uint64_t b) {
  // 64x64 -> 128 multiply folded: the mixing step of wyhash-style hashes.
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

constexpr uint64_t kP0 = 0xa0761d6478bd642full;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;

}  // namespace

uint64_t HashBytes(const void* data, size_t size, uint64_t seed) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h = seed ^ kP0 ^ (size * kP1);
  while (size >= 16) {
    h = Mix(Load64(p) ^ kP1, Load64(p + 8) ^ h);
    p += 16;
    size -= 16;
  }
  uint64_t a = 0, b = 0;
  if (size >= 8) {
    a = Load64(p);
    b = Load64(p + size - 8);
  } else if (size > 0) {
    unsigned char tmp[8] = {0};
    std::memcpy(tmp, p, size);
    a = Load64(tmp);
    b = size;
  }
  return Mix(a ^ kP2, b ^ h) ^ h;
}

Arena::~Arena() { Reset(); }

void* Arena::Alloc(size_t size) {
  size = (size + 7) & ~size_t{7};
  for (;;) {
    Chunk* c = current_.load(std::memory_order_acquire);
    if (c != nullptr) {
      size_t off = c->used.fetch_add(size, std::memory_order_relaxed);
      if (off + size <= c->size) return c->data + off;
    }
    std::lock_guard<std::mutex> l(grow_mu_);
    if (current_.load(std::memory_order_acquire) != c) continue;  // grown
    size_t cap = size > kChunkSize ? size : kChunkSize;
    void* mem = std::calloc(1, sizeof(Chunk) + cap);
    if (mem == nullptr) {
      std::fputs("gentrace: out of memory for trace tables\n", stderr);
      std::abort();
    }
    Chunk* n = static_cast<Chunk*>(mem);
    n->next = all_;
    n->size = cap;
    n->used.store(0, std::memory_order_relaxed);
    all_ = n;
    reserved_.fetch_add(sizeof(Chunk) + cap, std::memory_order_relaxed);
    current_.store(n, std::memory_order_release);
  }
}

void Arena::Reset() {
  std::lock_guard<std::mutex> l(grow_mu_);
  current_.store(nullptr, std::memory_order_release);
  while (all_ != nullptr) {
    Chunk* next = all_->next;
    std::free(all_);
    all_ = next;
  }
  reserved_.store(0, std::memory_order_relaxed);
}

const TraceMap::Node* TraceMap::PutNode(const void* data, size_t size,
                                        uint64_t hash, bool* added) {
  if (added != nullptr) *added = false;
  if (size == 0) return nullptr;
  Node* fresh = nullptr;
  std::atomic<Node*>* slot = &root_;
  uint64_t bits = hash;
  for (;;) {
    Node* n = slot->load(std::memory_order_acquire);
    if (n == nullptr) {
      if (fresh == nullptr) {
        unsigned char* copy = static_cast<unsigned char*>(arena_.Alloc(size));
        std::memcpy(copy, data, size);
        fresh = static_cast<Node*>(arena_.Alloc(sizeof(Node)));
        new (fresh) Node();
        fresh->hash = hash;
        fresh->size = static_cast<uint32_t>(size);
        fresh->data = copy;
        fresh->id = NextIds(1);
      }
      if (slot->compare_exchange_strong(n, fresh, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        count_.fetch_add(1, std::memory_order_relaxed);
        if (added != nullptr) *added = true;
        return fresh;
      }
      // Lost the race: n now holds the winner; compare with it below. Our
      // node stays unused in the arena (and its id is never written).
    }
    if (n->hash == hash && n->size == size &&
        std::memcmp(n->data, data, size) == 0) {
      return n;
    }
    slot = &n->children[bits >> 62];
    bits <<= 2;
    if (bits == 0) bits = HashBytes(data, size, n->id);  // deep collisions
  }
}

void TraceMap::Reset() {
  root_.store(nullptr, std::memory_order_release);
  seq_.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  arena_.Reset();
}

}  // namespace gentrace::internal
