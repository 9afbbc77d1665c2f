// A concurrent set of byte strings with distinct ids, for the per-generation
// string and stack tables (a port of the idea of Go's runtime traceMap).
//
// Put() is lock-free: the set is a hash trie with four children a node,
// two hash bits a level; a new node is published with one CAS, so
// concurrent writers never block each other and an id, once returned, is
// final. Nodes and their bytes live in an arena that only grows until
// Reset(). Ids start at 1 and are handed out from one counter, which callers
// may also take blocks of for entries they write themselves (NextIds()).
//
// Invariants:
//  1. Put() and NextIds() may run concurrently with each other.
//  2. Reset() runs only when no Put() or ForEach() can be running (the
//     tracer guarantees this for a generation's tables once all threads
//     have left that generation). ForEach() may run concurrently with
//     Put() (the crash path reads the current generation's tables): it
//     visits every entry published before it reached the entry's parent,
//     and each entry it visits is whole (a node and its bytes are written
//     before the CAS that publishes it, and read after an acquire load).
#ifndef GENTRACE_TRACER_INTERNAL_TRACE_MAP_H_
#define GENTRACE_TRACER_INTERNAL_TRACE_MAP_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace gentrace::internal {

// A fast 64-bit hash of bytes (not cryptographic).
uint64_t HashBytes(const void* data, size_t size, uint64_t seed = 0);

// Bump allocator: lock-free in the common case, a mutex when a new chunk
// is needed. Memory is returned only by Reset().
class Arena {
 public:
  Arena() = default;
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // 8-byte aligned, zero-filled memory.
  void* Alloc(size_t size);
  void Reset();
  size_t bytes_reserved() const {
    return reserved_.load(std::memory_order_relaxed);
  }

 private:
  struct Chunk {
    Chunk* next;
    size_t size;
    std::atomic<size_t> used;
    alignas(16) unsigned char data[1];
  };
  static constexpr size_t kChunkSize = 256 << 10;

  std::atomic<Chunk*> current_{nullptr};
  std::mutex grow_mu_;
  Chunk* all_ = nullptr;  // every chunk, for Reset (under grow_mu_)
  std::atomic<size_t> reserved_{0};
};

class TraceMap {
 public:
  struct Node {
    std::atomic<Node*> children[4];
    uint64_t hash;
    uint64_t id;
    uint32_t size;
    const unsigned char* data;
  };

  TraceMap() = default;
  TraceMap(const TraceMap&) = delete;
  TraceMap& operator=(const TraceMap&) = delete;

  // Returns the id of these bytes, adding them if new. *added (optional)
  // tells whether this call added them. Empty input returns 0.
  uint64_t Put(const void* data, size_t size, bool* added = nullptr) {
    const Node* n = PutNode(data, size, HashBytes(data, size), added);
    return n == nullptr ? 0 : n->id;
  }
  // The same with the hash precomputed (HashBytes(data, size)); returns the
  // entry, whose bytes stay valid until Reset().
  const Node* PutNode(const void* data, size_t size, uint64_t hash,
                      bool* added = nullptr);

  // The first of n consecutive ids no entry uses, from the same counter.
  uint64_t NextIds(uint64_t n) {
    return seq_.fetch_add(n, std::memory_order_relaxed) + 1;
  }

  // Calls f(id, data, size) for every entry, in no particular order.
  // Allocates nothing and takes no lock (async-signal-safe if f is): the
  // walk keeps its own fixed-size stack. Returns false if the trie is
  // deeper than that stack allows (kMaxWalkDepth levels, which would take
  // 2 * kMaxWalkDepth equal hash bits between two different keys: the
  // first hash's 64 and then a second, seeded one's); the entries below
  // that depth are then not visited.
  template <typename F>
  bool ForEach(F&& f) const;
  static constexpr int kMaxWalkDepth = 84;

  // Number of entries added by Put (not NextIds).
  size_t size() const { return count_.load(std::memory_order_relaxed); }
  size_t bytes_reserved() const { return arena_.bytes_reserved(); }

  void Reset();

 private:
  std::atomic<Node*> root_{nullptr};
  alignas(64) std::atomic<uint64_t> seq_{0};
  alignas(64) std::atomic<size_t> count_{0};
  Arena arena_;
};

template <typename F>
bool TraceMap::ForEach(F&& f) const {
  // Depth first: a node's children replace it on the stack, so the stack
  // holds at most 3 siblings per level above the deepest node, plus that
  // node's 4 children.
  constexpr int kStack = 3 * kMaxWalkDepth + 4;
  const Node* work[kStack];
  int top = 0;
  bool whole = true;
  if (const Node* r = root_.load(std::memory_order_acquire)) work[top++] = r;
  while (top > 0) {
    const Node* n = work[--top];
    f(n->id, n->data, static_cast<size_t>(n->size));
    for (const auto& c : n->children) {
      const Node* k = c.load(std::memory_order_acquire);
      if (k == nullptr) continue;
      if (top == kStack) {
        whole = false;
        continue;
      }
      work[top++] = k;
    }
  }
  return whole;
}

}  // namespace gentrace::internal

namespace gentrace::internal {

// A small per-thread, direct-mapped cache in front of a TraceMap: maps
// (bytes) to their id in one generation without walking the trie. Entries
// point at the map's own copy of the bytes, which stays valid for the
// generation (entries of other generations are never used).
template <size_t kSlots>
class IdCache {
 public:
  // The id of (data, size, hash) in generation gen, or 0 if not cached.
  uint64_t Find(uint64_t gen, const void* data, size_t size,
                uint64_t hash) const {
    const Entry& e = entries_[hash % kSlots];
    if (e.gen == gen && e.hash == hash && e.size == size &&
        std::memcmp(e.data, data, size) == 0) {
      return e.id;
    }
    return 0;
  }
  void Add(uint64_t gen, const TraceMap::Node* n) {
    Entry& e = entries_[n->hash % kSlots];
    e.gen = gen;
    e.hash = n->hash;
    e.size = n->size;
    e.data = n->data;
    e.id = n->id;
  }

 private:
  struct Entry {
    uint64_t gen = 0;
    uint64_t hash = 0;
    uint64_t id = 0;
    size_t size = 0;
    const unsigned char* data = nullptr;
  };
  Entry entries_[kSlots];
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_TRACE_MAP_H_
