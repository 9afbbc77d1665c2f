// The per-generation stack table (Go's runtime traceStackTable) and the
// symbolizer that turns its PCs into functions, files and lines when the
// table is written out.
//
// A stack is stored as its raw PCs, innermost first. Stacks captured by a
// frame-pointer walk hold return addresses; stacks from a signal context
// start with the exact interrupted PC. On the wire, a return address is
// written as pc-1 (an address inside the call instruction) and symbolized
// there, an exact PC as itself, so every wire PC has exactly one
// (function, file, line): Go's parser keeps only the first symbols it sees
// for a PC (GO_FORMAT.md §8).
#ifndef GENTRACE_TRACER_INTERNAL_STACK_TABLE_H_
#define GENTRACE_TRACER_INTERNAL_STACK_TABLE_H_

#include <elfutils/libdw.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/spec.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_map.h"

namespace gentrace::internal {

// A stack's key in the table: a flags word (kStackExactFirst), then the
// PCs, innermost first.
inline constexpr uint64_t kStackExactFirst = 1;
inline constexpr int kMaxStackKeyWords =
    1 + static_cast<int>(format::kMaxFramesPerStack);

// The hash of a stack's key (what the table files it under). Four
// independent lanes, so the multiplies of neighbouring words overlap: this
// runs for every event with a stack.
inline uint64_t StackKeyHash(const uint64_t* key, int words) {
  constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
  uint64_t lane[4] = {0x9e3779b97f4a7c15ull * static_cast<uint64_t>(words),
                      0x94d049bb133111ebull, 0x2545f4914f6cdd1dull,
                      0xd6e8feb86659fd93ull};
  int i = 0;
  for (; i + 4 <= words; i += 4) {
    for (int k = 0; k < 4; ++k) lane[k] = (lane[k] ^ key[i + k]) * kMul;
  }
  for (; i < words; ++i) lane[i & 3] = (lane[i & 3] ^ key[i]) * kMul;
  uint64_t h = lane[0] ^ ((lane[1] << 17) | (lane[1] >> 47)) ^
               ((lane[2] << 31) | (lane[2] >> 33)) ^
               ((lane[3] << 47) | (lane[3] >> 17));
  h = (h ^ (h >> 30)) * kMul;
  return h ^ (h >> 27);
}

// A thread's small cache in front of a generation's stack table, so that
// an event whose stack was seen before costs the frame-pointer walk and a
// compare with the cached key: no hash, no trie walk, no atomic
// read-modify-write. The set comes from where the walk started: the first
// return address and the frame's distance from the top of the thread's
// stack. The same call site at the same depth is usually the same stack,
// but not always (a caller further out may call from two places, as an
// unrolled loop does), so a set holds two stacks, the newer first, and the
// whole key is compared: a different stack is a miss, never a wrong id.
// An entry points at the table's own copy of the key, valid for its
// generation; entries of other generations never match. Only its thread
// uses it.
class StackCache {
 public:
  static size_t Set(uintptr_t first_pc, uintptr_t depth) {
    // Nearby call sites differ in their low bits only: mix them into all.
    uint64_t h = first_pc ^ (depth << 32) ^ depth;
    h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ull;
    return static_cast<size_t>((h ^ (h >> 29)) & (kSets - 1));
  }
  // The id of key[0..words) in generation gen if `set` holds it, or 0.
  uint64_t Find(size_t set, uint64_t gen, const uint64_t* key,
                int words) const {
    for (const Entry& e : sets_[set].ways) {
      if (e.gen == gen && e.words == words && SameKey(e.key, key, words)) {
        return e.id;
      }
    }
    return 0;
  }
  // Puts the table's entry n first in `set`; the older one stays second.
  void Add(size_t set, uint64_t gen, const TraceMap::Node* n) {
    Entry* ways = sets_[set].ways;
    ways[1] = ways[0];
    ways[0].gen = gen;
    ways[0].id = n->id;
    ways[0].words = static_cast<int>(n->size / sizeof(uint64_t));
    ways[0].key = reinterpret_cast<const uint64_t*>(n->data);
  }

 private:
  static constexpr size_t kSets = 64;
  struct Entry {
    uint64_t gen = 0;
    uint64_t id = 0;
    const uint64_t* key = nullptr;  // the table's copy (8-byte aligned)
    int words = 0;
  };
  struct alignas(64) SetOfTwo {
    Entry ways[2];
  };
  // Two words a step and no early exit: the keys are short, and this is
  // on every event with a stack.
  static bool SameKey(const uint64_t* a, const uint64_t* b, int words) {
    uint64_t d0 = 0, d1 = 0;
    int i = 0;
    for (; i + 2 <= words; i += 2) {
      d0 |= a[i] ^ b[i];
      d1 |= a[i + 1] ^ b[i + 1];
    }
    if (i < words) d0 |= a[i] ^ b[i];
    return (d0 | d1) == 0;
  }
  SetOfTwo sets_[kSets];
};

// Synthetic frames: code addresses that stand for a name rather than code
// (the thread name at the root of a thread goroutine's creation stack,
// which `go tool trace` shows as the goroutine's name). They lie in a range
// no user-space code occupies.
inline constexpr uintptr_t kSyntheticPcBase = 0xfff0000000000000ull;
// Synthetic PCs of inlined callers' frames (see StackSymbolizer).
inline constexpr uintptr_t kInlinePcBase = 0xfff8000000000000ull;
// The synthetic PC for `name`, the same for equal names. Thread-safe.
uintptr_t SyntheticFramePc(absl::string_view name);

// Function, file and line of code addresses in this process, from the
// symbol tables and DWARF debug information of the loaded modules (via
// libdw); or, made by ForFiles, of ELF files placed at given load biases
// (`gentrace symbolize`, for a crash dump's bare addresses). Code inlined
// into its caller expands into one frame per inlined function, innermost
// first. Used by one thread (the advancer's).
class StackSymbolizer {
 public:
  struct Frame {
    uintptr_t pc = 0;  // the PC to write: the address itself for the
                       // innermost frame, a synthetic one for callers of
                       // inlined code (each distinct function/file/line
                       // gets its own, GO_FORMAT.md §8)
    std::string func;  // demangled; "module+0x1234" or "0x1234" if unknown
    std::string file;  // empty if unknown
    uint64_t line = 0;
    bool unknown = false;  // the address is in no loaded module
  };
  StackSymbolizer();
  ~StackSymbolizer();

  // An ELF file and where a process had it loaded.
  struct ElfFile {
    std::string name;   // the module's name, as frames of unnamed code
                        // show it ("name+0x1234")
    std::string path;   // the file to read
    uint64_t bias = 0;  // load bias: process address minus file address
  };
  // A symbolizer of addresses in these files, placed at their biases, in
  // place of this process's modules. Fails, naming the file, if one is not
  // an ELF file libdw can read or two overlap.
  static absl::StatusOr<std::unique_ptr<StackSymbolizer>> ForFiles(
      const std::vector<ElfFile>& files);

  StackSymbolizer(const StackSymbolizer&) = delete;
  StackSymbolizer& operator=(const StackSymbolizer&) = delete;

  // Frames for the code at addr (already adjusted: pc-1 for return
  // addresses), innermost first; never empty. Cached.
  const std::vector<Frame>& Lookup(uintptr_t addr);
  // Forgets cached addresses (modules may have changed between traces).
  void Reset();
  // Loads the debug information of every loaded module now, so the first
  // Lookup calls are fast.
  void WarmUp();
  // Starts a generation's lookups: the module list may be reread once.
  void NewRound() { reported_this_round_ = false; }

  // Address ranges of a compile unit's functions and inlined functions.
  struct CuIndex {
    struct Range {
      uint64_t lo, hi;  // [lo, hi), module-relative
      int depth;        // nesting of functions (0: outermost)
      uint64_t die;     // DIE offset
    };
    std::vector<Range> ranges;  // sorted by lo
    // Qualified names of the unit's namespaces and classes ([0]: none),
    // and which one each function DIE (by offset) is declared in.
    std::vector<std::string> scopes;
    absl::flat_hash_map<uint64_t, uint32_t> scope_of;
  };

 private:
  struct Session;
  explicit StackSymbolizer(std::unique_ptr<Session> session);
  // Indexes a CU (given as its libdw DIE) once.
  const CuIndex& IndexFor(Dwarf_Die* cu);

  std::unique_ptr<Session> session_;
  bool reported_this_round_ = false;
  absl::flat_hash_map<uintptr_t, std::vector<Frame>> cache_;
  absl::flat_hash_map<std::pair<const void*, uint64_t>, CuIndex> cu_index_;
};

// A stack's frames as the table writes them, from its PCs as written on
// the wire (return addresses already moved inside their calls), innermost
// first. Each PC is expanded by `lookup` into its frames (the code's own,
// then inlined callers'). A frame after the first that is in no module
// (Frame::unknown) ends the stack: a frame-pointer walk through code built
// without frame pointers can end in values that are not code addresses.
// An event stack (`event_stack`: not from a signal context) starts inside
// gentrace's public API (ScopedRegion and friends, inlined or not): its
// leading frames in the public header are dropped, so it starts at the
// caller. At most format::kMaxFramesPerStack frames, the innermost kept.
// The frames point into what `lookup` returned, which must stay put.
// Returns how many of wire_pcs were used (the rest were not code).
// The advancer's table dump and `gentrace symbolize` both build stacks
// with it.
using FrameLookup =
    absl::FunctionRef<const std::vector<StackSymbolizer::Frame>&(uintptr_t)>;
size_t ExpandStack(FrameLookup lookup, absl::Span<const uintptr_t> wire_pcs,
                   bool event_stack,
                   std::vector<const StackSymbolizer::Frame*>* frames);

// For tests of `gentrace symbolize`: while on, the advancer writes every
// stack frame bare, as a crash dump does (its PC; function and file the
// empty string, line 0). Thread-safe.
void SetBareStacksForTesting(bool bare);

class StackTable {
 public:
  // The id of a stack, adding it if new; 0 for an empty stack. Frames
  // beyond format::kMaxFramesPerStack are dropped (outermost first).
  // `exact_first`: pcs[0] is an exact PC (signal context), not a return
  // address. Thread-safe.
  uint64_t Put(const uintptr_t* pcs, int n, bool exact_first);
  // A return-address stack whose n PCs the caller walked straight into
  // key[1..1+n) (key has kMaxStackKeyWords words; key[0] is set here),
  // from a frame `depth` bytes below the top of its stack, through the
  // thread's cache. Thread-safe (the cache is the caller's).
  uint64_t PutWalked(uint64_t* key, int n, uintptr_t depth, uint64_t gen,
                     StackCache* cache) {
    if (n <= 0) return 0;
    key[0] = 0;
    const size_t set = StackCache::Set(key[1], depth);
    if (uint64_t id = cache->Find(set, gen, key, 1 + n)) return id;
    return PutWalkedSlow(key, 1 + n, set, gen, cache);
  }

  // Writes all stacks, symbolized, adding function and file names to
  // `strings`.
  void Dump(TableWriter& w, StringTable& strings,
            StackSymbolizer& symbolizer) const;
  void Reset() { map_.Reset(); }
  size_t size() const { return map_.size(); }
  // f(id, key, words) for every stack: its key (the flags word, then the
  // PCs innermost first) as stored. Lock-free, allocates nothing
  // (TraceMap::ForEach; the crash path's, which cannot symbolize).
  template <typename F>
  bool ForEachKey(F&& f) const {
    return map_.ForEach(
        [&f](uint64_t id, const unsigned char* data, size_t size) {
          f(id, reinterpret_cast<const uint64_t*>(data),
            static_cast<int>(size / sizeof(uint64_t)));
        });
  }

 private:
  uint64_t PutWalkedSlow(const uint64_t* key, int words, size_t set,
                         uint64_t gen, StackCache* cache);

  TraceMap map_;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_STACK_TABLE_H_
