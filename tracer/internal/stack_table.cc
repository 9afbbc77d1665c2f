// Stack table and symbolizer; see stack_table.h.
#include "tracer/internal/stack_table.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gentrace::internal {
namespace {

constexpr int kMaxKeyWords = kMaxStackKeyWords;

int MakeKey(uint64_t* key, const uintptr_t* pcs, int n, bool exact_first) {
  if (n > static_cast<int>(format::kMaxFramesPerStack)) {
    n = static_cast<int>(format::kMaxFramesPerStack);
  }
  key[0] = exact_first ? kStackExactFirst : 0;
  for (int i = 0; i < n; ++i) key[1 + i] = pcs[i];
  return 1 + n;
}

std::string Demangle(const char* name) {
  if (name == nullptr) return "";
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status == 0 && d != nullptr) {
    std::string out(d);
    std::free(d);
    return out;
  }
  return name;
}

// Names of synthetic frames, by index; never shrinks.
struct SyntheticNames {
  std::mutex mu;
  std::vector<std::string> names;
  absl::flat_hash_map<std::string, uintptr_t> index;
};

SyntheticNames& Synthetic() {
  static SyntheticNames* s = new SyntheticNames();
  return *s;
}

std::string SyntheticName(uintptr_t pc) {
  SyntheticNames& s = Synthetic();
  std::lock_guard<std::mutex> l(s.mu);
  const uintptr_t i = pc - kSyntheticPcBase;
  return i < s.names.size() ? s.names[i] : "?";
}

// Go's runtime keeps the last 1024 bytes of long names (the end of a
// qualified name says more than its start).
void KeepTail(std::string* s) {
  if (s->size() > format::kMaxStringSize) {
    s->erase(0, s->size() - format::kMaxStringSize);
  }
}

// gentrace's public header, whose inline functions appear in stacks of
// the events they write.
bool IsPublicHeader(absl::string_view file) {
  constexpr absl::string_view kHeader = "gentrace.h";
  return file.size() >= kHeader.size() &&
         file.substr(file.size() - kHeader.size()) == kHeader &&
         (file.size() == kHeader.size() ||
          file[file.size() - kHeader.size() - 1] == '/');
}

}  // namespace

uintptr_t SyntheticFramePc(absl::string_view name) {
  SyntheticNames& s = Synthetic();
  std::lock_guard<std::mutex> l(s.mu);
  auto it = s.index.find(name);
  if (it != s.index.end()) return it->second;
  const uintptr_t pc = kSyntheticPcBase + s.names.size();
  s.names.emplace_back(name);
  s.index.emplace(std::string(name), pc);
  return pc;
}

uint64_t StackTable::Put(const uintptr_t* pcs, int n, bool exact_first) {
  if (n <= 0) return 0;
  uint64_t key[kMaxKeyWords];
  const int words = MakeKey(key, pcs, n, exact_first);
  return map_.PutNode(key, words * sizeof(uint64_t), StackKeyHash(key, words))
      ->id;
}

uint64_t StackTable::PutWalkedSlow(const uint64_t* key, int words, size_t set,
                                   uint64_t gen, StackCache* cache) {
  const TraceMap::Node* node =
      map_.PutNode(key, words * sizeof(uint64_t), StackKeyHash(key, words));
  cache->Add(set, gen, node);
  return node->id;
}

size_t ExpandStack(FrameLookup lookup, absl::Span<const uintptr_t> wire_pcs,
                   bool event_stack,
                   std::vector<const StackSymbolizer::Frame*>* frames) {
  frames->clear();
  // A few frames more than the limit: the public API's are dropped below.
  const size_t limit = format::kMaxFramesPerStack + 16;
  size_t used = 0;
  for (; used < wire_pcs.size() && frames->size() < limit; ++used) {
    const std::vector<StackSymbolizer::Frame>& expanded =
        lookup(wire_pcs[used]);
    if (used > 0 && expanded[0].unknown) break;
    for (const StackSymbolizer::Frame& f : expanded) {
      if (frames->size() == limit) break;
      frames->push_back(&f);
    }
  }
  if (event_stack) {
    size_t skip = 0;
    while (skip + 1 < frames->size() && IsPublicHeader((*frames)[skip]->file)) {
      ++skip;
    }
    frames->erase(frames->begin(), frames->begin() + skip);
  }
  if (frames->size() > format::kMaxFramesPerStack) {
    frames->resize(format::kMaxFramesPerStack);  // keep the innermost
  }
  return used;
}

namespace {
std::atomic<bool> g_bare_stacks{false};
}  // namespace

void SetBareStacksForTesting(bool bare) {
  g_bare_stacks.store(bare, std::memory_order_relaxed);
}

void StackTable::Dump(TableWriter& w, StringTable& strings,
                      StackSymbolizer& symbolizer) const {
  symbolizer.NewRound();
  const bool bare = g_bare_stacks.load(std::memory_order_relaxed);
  std::vector<const StackSymbolizer::Frame*> frames;
  std::vector<uintptr_t> wire_pcs;
  std::vector<StackSymbolizer::Frame> bare_frames;
  absl::flat_hash_map<const StackSymbolizer::Frame*,
                      std::pair<uint64_t, uint64_t>>
      frame_ids;  // (func, file) string ids of this generation
  map_.ForEach([&](uint64_t id, const unsigned char* data, size_t size) {
    uint64_t key[kMaxKeyWords];
    std::memcpy(key, data, size);
    const int npcs = static_cast<int>(size / sizeof(uint64_t)) - 1;
    wire_pcs.clear();
    for (int i = 0; i < npcs; ++i) {
      uintptr_t pc = key[1 + i];
      // Return addresses are looked up (and named) inside the call.
      if (!(i == 0 && (key[0] & kStackExactFirst)) && pc > 0) --pc;
      wire_pcs.push_back(pc);
    }
    if (bare) {
      // As the crash path writes them (crash_completion.cc).
      if (wire_pcs.size() > format::kMaxFramesPerStack) {
        wire_pcs.resize(format::kMaxFramesPerStack);
      }
      bare_frames.assign(wire_pcs.size(), StackSymbolizer::Frame());
      frames.clear();
      for (size_t i = 0; i < wire_pcs.size(); ++i) {
        bare_frames[i].pc = wire_pcs[i];
        frames.push_back(&bare_frames[i]);
      }
    } else {
      ExpandStack(
          [&symbolizer](
              uintptr_t pc) -> const std::vector<StackSymbolizer::Frame>& {
            return symbolizer.Lookup(pc);
          },
          wire_pcs, !(key[0] & kStackExactFirst), &frames);
    }
    TraceBuf* b = w.Ensure(1 + 2 * format::kMaxVarintLen +
                           frames.size() * 4 * format::kMaxVarintLen);
    b->Byte(format::kEvStack);
    b->Varint(id);
    b->Varint(frames.size());
    for (const StackSymbolizer::Frame* f : frames) {
      // Frames recur across stacks: put their strings once a generation.
      if (bare) {
        b->Varint(f->pc);
        b->Varint(0);
        b->Varint(0);
        b->Varint(0);
        continue;
      }
      auto [it, added] = frame_ids.try_emplace(f);
      if (added) {
        it->second = {strings.Put(f->func), strings.Put(f->file)};
      }
      b->Varint(f->pc);
      b->Varint(it->second.first);
      b->Varint(it->second.second);
      b->Varint(f->line);
    }
  });
}

struct StackSymbolizer::Session {
  Dwfl_Callbacks callbacks{};
  Dwfl* dwfl = nullptr;
  char* debuginfo_path = nullptr;
  // Symbolizing files (ForFiles), not this process: the module list is
  // fixed.
  bool files = false;

  explicit Session(bool of_files = false) : files(of_files) {
    callbacks.find_elf =
        files ? dwfl_build_id_find_elf : dwfl_linux_proc_find_elf;
    // Only debug information inside the modules themselves is used:
    // separate debuginfo files (e.g. Debian's libc6-dbg) cost ~100 ms to
    // load and describe system libraries, whose symbol tables suffice.
    // (gentrace symbolize does the same, so that it names what the live
    // tracer would have named.)
    callbacks.find_debuginfo = [](Dwfl_Module*, void**, const char*, Dwarf_Addr,
                                  const char*, const char*, GElf_Word,
                                  char**) { return -1; };
    callbacks.debuginfo_path = &debuginfo_path;
    dwfl = dwfl_begin(&callbacks);
    if (!files) Report();
  }
  ~Session() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
  // (Re)reads the process's module list from /proc/self/maps.
  void Report() {
    if (dwfl == nullptr || files) return;
    dwfl_report_begin(dwfl);
    dwfl_linux_proc_report(dwfl, getpid());
    dwfl_report_end(dwfl, nullptr, nullptr);
  }
};

StackSymbolizer::StackSymbolizer() = default;
StackSymbolizer::StackSymbolizer(std::unique_ptr<Session> session)
    : session_(std::move(session)) {}
StackSymbolizer::~StackSymbolizer() = default;

absl::StatusOr<std::unique_ptr<StackSymbolizer>> StackSymbolizer::ForFiles(
    const std::vector<ElfFile>& files) {
  auto session = std::make_unique<Session>(/*of_files=*/true);
  if (session->dwfl == nullptr) {
    return absl::InternalError(
        absl::StrCat("libdw: ", dwfl_errmsg(dwfl_errno())));
  }
  dwfl_report_begin(session->dwfl);
  for (const ElfFile& f : files) {
    // An ET_DYN file goes at bias + p_vaddr (add_p_vaddr); an executable
    // that is not position-independent at its own addresses.
    if (dwfl_report_elf(session->dwfl, f.name.c_str(), f.path.c_str(), -1,
                        f.bias, /*add_p_vaddr=*/true) == nullptr) {
      const std::string error = dwfl_errmsg(dwfl_errno());
      dwfl_report_end(session->dwfl, nullptr, nullptr);
      return absl::InvalidArgumentError(absl::StrCat(f.path, ": ", error));
    }
  }
  dwfl_report_end(session->dwfl, nullptr, nullptr);
  return std::unique_ptr<StackSymbolizer>(
      new StackSymbolizer(std::move(session)));
}

void StackSymbolizer::Reset() {
  // Keep the libdw session: loading a module's debug information is the
  // expensive part (80 ms for libc with its debug info here) and stays
  // valid while the module is loaded. Addresses are looked up afresh, in
  // case modules came or went.
  cache_.clear();
  cu_index_.clear();
  if (session_ != nullptr) session_->Report();
}

void StackSymbolizer::WarmUp() {
  if (session_ == nullptr) session_ = std::make_unique<Session>();
  if (session_->dwfl == nullptr) return;
  dwfl_getmodules(
      session_->dwfl,
      [](Dwfl_Module* mod, void**, const char*, Dwarf_Addr, void*) {
        Dwarf_Addr bias = 0;
        dwfl_module_getdwarf(mod, &bias);
        return static_cast<int>(DWARF_CB_OK);
      },
      nullptr, 0);
}

namespace {

// Synthetic PCs for frames of inlined callers, one per distinct
// (function, file, line); process-wide so they stay stable.
struct InlinePcs {
  std::mutex mu;
  absl::flat_hash_map<std::string, uintptr_t> index;
};

uintptr_t InlineFramePc(const StackSymbolizer::Frame& f) {
  static InlinePcs* pcs = new InlinePcs();
  std::string key = absl::StrCat(f.func, "\n", f.file, "\n", f.line);
  std::lock_guard<std::mutex> l(pcs->mu);
  auto it = pcs->index.find(key);
  if (it != pcs->index.end()) return it->second;
  const uintptr_t pc = kInlinePcBase + pcs->index.size();
  pcs->index.emplace(std::move(key), pc);
  return pc;
}

// The name of a function DIE, qualified and demangled when possible: its
// linkage name if any (following abstract origins and declarations);
// otherwise its plain name prefixed with the namespaces and classes around
// its declaration, as the CU index recorded them.
std::string FunctionName(Dwarf_Die* die,
                         const StackSymbolizer::CuIndex& index) {
  Dwarf_Attribute attr;
  for (int name : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name}) {
    if (dwarf_attr_integrate(die, name, &attr) != nullptr) {
      if (const char* s = dwarf_formstring(&attr)) return Demangle(s);
    }
  }
  // Follow the chain to the declaration, which sits inside its scopes.
  Dwarf_Die decl = *die;
  for (int hops = 0; hops < 8; ++hops) {
    Dwarf_Die next;
    if ((dwarf_attr(&decl, DW_AT_abstract_origin, &attr) != nullptr ||
         dwarf_attr(&decl, DW_AT_specification, &attr) != nullptr) &&
        dwarf_formref_die(&attr, &next) != nullptr) {
      decl = next;
    } else {
      break;
    }
  }
  const char* base = dwarf_diename(&decl);
  if (base == nullptr) return "";
  auto it = index.scope_of.find(dwarf_dieoffset(&decl));
  if (it == index.scope_of.end() || index.scopes[it->second].empty()) {
    return base;
  }
  return absl::StrCat(index.scopes[it->second], "::", base);
}

// The source file an index of the CU's line-table file list names.
std::string CuFile(Dwarf_Die* cu, Dwarf_Word index) {
  Dwarf_Files* files = nullptr;
  size_t n = 0;
  if (dwarf_getsrcfiles(cu, &files, &n) != 0 || index >= n) return "";
  const char* f = dwarf_filesrc(files, index, nullptr, nullptr);
  return f != nullptr ? f : "";
}

// Collects the address ranges of every function and inlined function DIE
// under `die`, with their nesting depth.
void CollectRanges(Dwarf_Die* die, int depth, uint32_t scope,
                   StackSymbolizer::CuIndex* index) {
  Dwarf_Die child;
  if (dwarf_child(die, &child) != 0) return;
  do {
    const int tag = dwarf_tag(&child);
    switch (tag) {
      case DW_TAG_subprogram:
      case DW_TAG_inlined_subroutine: {
        if (tag == DW_TAG_subprogram) {
          index->scope_of.emplace(dwarf_dieoffset(&child), scope);
        }
        Dwarf_Addr base = 0, start = 0, end = 0;
        ptrdiff_t off = 0;
        bool has_code = false;
        while ((off = dwarf_ranges(&child, off, &base, &start, &end)) > 0) {
          index->ranges.push_back({start, end, depth, dwarf_dieoffset(&child)});
          has_code = true;
        }
        // A declaration (no code) holds only its parameters.
        if (has_code) CollectRanges(&child, depth + 1, scope, index);
        break;
      }
      // Code (and so ranges) nests only in these (a lambda's body may sit
      // in its closure class), and they name the functions declared in
      // them; skipping the rest, mostly types, keeps the walk of a large
      // C++ unit short.
      case DW_TAG_class_type:
      case DW_TAG_structure_type:
      case DW_TAG_union_type:
      case DW_TAG_namespace: {
        const char* name = dwarf_diename(&child);
        const std::string& outer = index->scopes[scope];
        std::string inner = name != nullptr           ? name
                            : tag == DW_TAG_namespace ? "(anonymous namespace)"
                                                      : "(anonymous)";
        if (!outer.empty()) inner = absl::StrCat(outer, "::", inner);
        index->scopes.push_back(std::move(inner));
        CollectRanges(&child, depth,
                      static_cast<uint32_t>(index->scopes.size() - 1), index);
        break;
      }
      case DW_TAG_lexical_block:
      case DW_TAG_try_block:
      case DW_TAG_catch_block:
      case DW_TAG_module:
        CollectRanges(&child, depth, scope, index);
        break;
      default:
        break;
    }
  } while (dwarf_siblingof(&child, &child) == 0);
}

}  // namespace

const StackSymbolizer::CuIndex& StackSymbolizer::IndexFor(Dwarf_Die* cu) {
  const Dwarf_Off key = dwarf_dieoffset(cu);
  Dwarf* dbg = dwarf_cu_getdwarf(cu->cu);
  auto it = cu_index_.find({dbg, key});
  if (it != cu_index_.end()) return it->second;
  CuIndex index;
  index.scopes.push_back("");  // the unit itself
  CollectRanges(cu, 0, 0, &index);
  std::sort(index.ranges.begin(), index.ranges.end(),
            [](const CuIndex::Range& a, const CuIndex::Range& b) {
              return a.lo < b.lo;
            });
  return cu_index_.emplace(std::make_pair(dbg, key), std::move(index))
      .first->second;
}

const std::vector<StackSymbolizer::Frame>& StackSymbolizer::Lookup(
    uintptr_t addr) {
  auto it = cache_.find(addr);
  if (it != cache_.end()) return it->second;
  std::vector<Frame> out;
  if (addr >= kSyntheticPcBase) {
    Frame f;
    f.pc = addr;
    f.func = SyntheticName(addr);
    KeepTail(&f.func);
    out.push_back(std::move(f));
    return cache_.emplace(addr, std::move(out)).first->second;
  }
  if (session_ == nullptr) session_ = std::make_unique<Session>();
  Dwfl_Module* mod = nullptr;
  if (session_->dwfl != nullptr) {
    mod = dwfl_addrmodule(session_->dwfl, addr);
    if (mod == nullptr && !reported_this_round_) {
      // Perhaps loaded after we last looked. Reading /proc/self/maps again
      // is slow (and walks through code without frame pointers yield many
      // addresses in no module), so at most once per generation.
      reported_this_round_ = true;
      session_->Report();
      mod = dwfl_addrmodule(session_->dwfl, addr);
    }
  }
  // The innermost location: the symbol containing addr and its line.
  Frame leaf;
  leaf.pc = addr;
  if (mod != nullptr) {
    leaf.func = Demangle(dwfl_module_addrname(mod, addr));
    if (Dwfl_Line* line = dwfl_module_getsrc(mod, addr)) {
      int lineno = 0;
      const char* file =
          dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
      if (file != nullptr) leaf.file = file;
      if (lineno > 0) leaf.line = static_cast<uint64_t>(lineno);
    }
    if (leaf.func.empty()) {
      Dwarf_Addr base = 0;
      const char* modname = dwfl_module_info(
          mod, nullptr, &base, nullptr, nullptr, nullptr, nullptr, nullptr);
      leaf.func = absl::StrFormat("%s+0x%x", modname != nullptr ? modname : "?",
                                  addr - base);
    }
  }
  if (leaf.func.empty()) {
    leaf.func = absl::StrFormat("0x%x", addr);
    leaf.unknown = true;  // in no loaded module
  }

  // Inlined code: the function DIEs whose ranges hold addr, innermost
  // first, name the inlined functions; each one's call site is where its
  // caller stands. The CU's functions are indexed once (walking a large
  // CU per address, as dwarf_getscopes does, costs milliseconds).
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu =
      mod != nullptr ? dwfl_module_addrdie(mod, addr, &bias) : nullptr;
  std::vector<Dwarf_Die> scopes;
  const CuIndex* index = nullptr;
  if (cu != nullptr) {
    index = &IndexFor(cu);
    const Dwarf_Addr rel = addr - bias;
    std::vector<const CuIndex::Range*> hits;
    for (const CuIndex::Range& r : index->ranges) {
      if (r.lo > rel) break;  // sorted by lo
      if (rel < r.hi) hits.push_back(&r);
    }
    std::sort(hits.begin(), hits.end(),
              [](const CuIndex::Range* x, const CuIndex::Range* y) {
                return x->depth > y->depth;
              });
    Dwarf* dbg = dwarf_cu_getdwarf(cu->cu);
    for (const CuIndex::Range* r : hits) {
      Dwarf_Die die;
      if (dwarf_offdie(dbg, r->die, &die) != nullptr) scopes.push_back(die);
    }
  }
  const int nscopes = static_cast<int>(scopes.size());
  std::string file = leaf.file;
  uint64_t line = leaf.line;
  bool reached_function = false;
  for (int i = 0; i < nscopes; ++i) {
    const int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
    Frame f;
    f.func = FunctionName(&scopes[i], *index);
    if (f.func.empty()) f.func = leaf.func;
    f.file = file;
    f.line = line;
    if (tag == DW_TAG_subprogram) {
      // The outermost, real function: the symbol table's name is best.
      f.func = leaf.func;
      out.push_back(std::move(f));
      reached_function = true;
      break;
    }
    out.push_back(std::move(f));
    Dwarf_Attribute attr;
    Dwarf_Word v = 0;
    file = dwarf_attr(&scopes[i], DW_AT_call_file, &attr) != nullptr &&
                   dwarf_formudata(&attr, &v) == 0
               ? CuFile(cu, v)
               : "";
    line = dwarf_attr(&scopes[i], DW_AT_call_line, &attr) != nullptr &&
                   dwarf_formudata(&attr, &v) == 0
               ? v
               : 0;
  }
  if (out.empty()) {
    out.push_back(std::move(leaf));
  } else if (!reached_function) {
    // The function the inlined code sits in was not among the DWARF
    // ranges found (e.g. its DIE is nested where the index does not
    // look); the symbol table still names it, at the last call site.
    Frame f;
    f.func = leaf.func;
    f.file = file;
    f.line = line;
    out.push_back(std::move(f));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    KeepTail(&out[i].func);
    KeepTail(&out[i].file);
    out[i].pc = i == 0 ? addr : InlineFramePc(out[i]);
  }
  return cache_.emplace(addr, std::move(out)).first->second;
}

}  // namespace gentrace::internal
