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
#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "tracer/internal/string_table.h"
#include "tracer/internal/trace_buf.h"
#include "tracer/internal/trace_map.h"

namespace gentrace::internal {

using StackCache = IdCache<128>;

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
// libdw). Code inlined into its caller expands into one frame per inlined
// function, innermost first. Used by the advancer thread only.
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
  // Indexes a CU (given as its libdw DIE) once.
  const CuIndex& IndexFor(Dwarf_Die* cu);

  std::unique_ptr<Session> session_;
  bool reported_this_round_ = false;
  absl::flat_hash_map<uintptr_t, std::vector<Frame>> cache_;
  absl::flat_hash_map<std::pair<const void*, uint64_t>, CuIndex> cu_index_;
};

class StackTable {
 public:
  // The id of a stack, adding it if new; 0 for an empty stack. Frames
  // beyond format::kMaxFramesPerStack are dropped (outermost first).
  // `exact_first`: pcs[0] is an exact PC (signal context), not a return
  // address. Thread-safe.
  uint64_t Put(const uintptr_t* pcs, int n, bool exact_first);
  // The same through a thread's cache.
  uint64_t Put(const uintptr_t* pcs, int n, bool exact_first, uint64_t gen,
               StackCache* cache);

  // Writes all stacks, symbolized, adding function and file names to
  // `strings`.
  void Dump(TableWriter& w, StringTable& strings,
            StackSymbolizer& symbolizer) const;
  void Reset() { map_.Reset(); }
  size_t size() const { return map_.size(); }

 private:
  TraceMap map_;
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_STACK_TABLE_H_
