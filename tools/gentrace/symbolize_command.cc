// `gentrace symbolize FILE OUT --binary=PATH[,PATH...]`: names the stack
// frames a trace holds as bare PCs (a crash dump's last generation, whose
// stacks nothing could symbolize in the signal handler) from the binaries'
// symbol tables and DWARF.
//
// The tracer records in every generation where each module was loaded
// (gentrace's Module records: path, load bias, the executable range,
// build-id). symbolize reads FILE a generation at a time. A generation
// whose stacks hold no bare frame is copied byte for byte. In one that
// does, a frame is bare when its function is the empty string; its PC is
// looked up in the generation's modules, the module's binary is chosen
// from --binary by build-id (or, when the module or the binary has none,
// by file name), and the PC is symbolized as the live tracer would have:
// the same libdw lookup, inlined callers expanded (StackSymbolizer,
// ExpandStack). The stack table batches are rewritten with the new frames
// (same stack ids), the new function and file names go into a new strings
// batch with ids above the generation's highest, and every other batch is
// copied unchanged.

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "format/batch.h"
#include "format/gentrace_batch.h"
#include "format/header.h"
#include "format/leb128.h"
#include "format/spec.h"
#include "format/zstd.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/output_file.h"
#include "tools/gentrace/terminal.h"
#include "tracer/internal/stack_table.h"

namespace gentrace::tools {
namespace {

using internal::StackSymbolizer;
using Frame = StackSymbolizer::Frame;

constexpr char kHelp[] =
    R"(usage: gentrace symbolize FILE OUT --binary=PATH[,PATH...]

Writes to OUT ("-" for standard output) the trace FILE (zstd-compressed
input is decompressed; OUT is not compressed) with its bare stack frames
named: function, file and line, and a frame for each inlined call, from
the symbol tables and DWARF debug information of the binaries given.
Frames are bare in the generation a crash dump completes (see
docs/FLIGHT_RECORDER.md); everything else is copied unchanged.

gentrace records where each module (the executable, each shared library)
was loaded, with its GNU build-id. A bare frame's module is found by its
address; its binary is the --binary with the same build-id, or, when the
module or that binary has no build-id, the one with the same file name.
Frames in a module no --binary matches stay bare.

On stderr: how many bare frames were named, and how many stay bare and
why.

Flags:
  --binary=PATH[,PATH...]  the ELF files of the traced process, separated
                           by commas; required
  -h, --help               show this help

Exit status: 0 written, 1 FILE could not be read, a binary is not an ELF
file, FILE has bare frames but no module records, or no binary matches a
module of FILE (OUT is then left as it was), 2 usage error.
)";

// A --binary: its path, build-id, file name.
struct Binary {
  std::string path;
  std::string build_id;  // raw bytes; empty if none
  std::string base;      // file name
};

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Opens `path` as an ELF file and reads its GNU build-id.
absl::StatusOr<Binary> ReadBinary(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ, nullptr);
  Binary b;
  b.path = path;
  b.base = BaseName(path);
  absl::Status s;
  if (elf == nullptr || elf_kind(elf) != ELF_K_ELF) {
    s = absl::InvalidArgumentError(absl::StrCat(path, ": not an ELF file"));
  } else {
    const void* id = nullptr;
    const ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    if (n > 0) b.build_id.assign(static_cast<const char*>(id), n);
  }
  if (elf != nullptr) elf_end(elf);
  close(fd);
  if (!s.ok()) return s;
  return b;
}

// Why a bare frame stays bare (or goes).
enum Outcome {
  kNamed,
  kNoBinary,   // its module has no --binary
  kNoModule,   // in no recorded module
  kSynthetic,  // a synthetic frame (a thread's name): its name is lost
  kDropped,    // not a code address after the stack's first frame
  kNumOutcomes,
};

struct Counts {
  uint64_t by[kNumOutcomes] = {};
  std::map<std::string, uint64_t> no_binary;  // module path -> frames
  bool any_module_record = false;
  bool any_match = false;
};

// A stack table entry as read.
struct Stack {
  uint64_t id = 0;
  std::vector<uint64_t> frames;  // pc, func, file, line per frame
};

bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  size_t used = 0;
  if (format::GetUvarint(p, end, v, &used) != format::VarintStatus::kOk) {
    return false;
  }
  p += used;
  return true;
}

void PutVarint(std::string* out, uint64_t v) {
  uint8_t buf[format::kMaxVarintLen];
  out->append(reinterpret_cast<char*>(buf), format::PutUvarint(buf, v) - buf);
}

// Writes table batches (Stacks or Strings) of one generation: each holds
// at most kMaxBatchPayload bytes, its lead byte first.
class TableBatches {
 public:
  TableBatches(uint64_t gen, uint64_t time, uint8_t lead, std::string* out)
      : gen_(gen), time_(time), lead_(lead), out_(out) {}
  ~TableBatches() { Flush(); }
  void Add(const std::string& entry) {
    if (payload_.size() + entry.size() > format::kMaxBatchPayload) Flush();
    if (payload_.empty()) payload_.push_back(static_cast<char>(lead_));
    payload_ += entry;
  }

 private:
  void Flush() {
    if (payload_.size() <= 1) return;
    uint8_t header[format::kMaxBatchHeaderSize];
    const size_t n =
        format::WriteBatchHeader(header, gen_, format::kNoThread, time_);
    format::PatchBatchSize(header, n, payload_.size());
    out_->append(reinterpret_cast<const char*>(header), n);
    *out_ += payload_;
    payload_.clear();
  }
  const uint64_t gen_, time_;
  const uint8_t lead_;
  std::string* out_;
  std::string payload_;
};

class Symbolizer {
 public:
  explicit Symbolizer(std::vector<Binary> binaries)
      : binaries_(std::move(binaries)) {}

  // Rewrites one generation's batches (their raw bytes, in file order,
  // and each one's input offset) onto *out.
  absl::Status Generation(uint64_t gen, const std::vector<std::string>& raws,
                          const std::vector<uint64_t>& offsets,
                          std::string* out);
  const Counts& counts() const { return counts_; }

 private:
  // A module of the generation and the binary it is read from.
  struct Module {
    format::ModuleRecord record;
    const Binary* binary = nullptr;
  };
  const Binary* Match(const format::ModuleRecord& m) const;
  absl::Status UseModules(const std::vector<format::ModuleRecord>& records);
  const std::vector<Frame>& Lookup(uint64_t pc);
  Outcome OutcomeOf(uint64_t pc) const;
  const Module* ModuleOf(uint64_t pc) const;

  const std::vector<Binary> binaries_;
  Counts counts_;
  // The module records of the last generation that had them.
  std::vector<format::ModuleRecord> last_records_;
  std::vector<Module> modules_;  // last_records_ and their binaries
  std::unique_ptr<StackSymbolizer> symbolizer_;
  // The (binary, bias) pairs symbolizer_ was made for.
  std::set<std::pair<std::string, uint64_t>> placed_;
  absl::flat_hash_map<uint64_t, std::vector<Frame>> bare_cache_;
};

const Binary* Symbolizer::Match(const format::ModuleRecord& m) const {
  for (const Binary& b : binaries_) {
    if (!m.build_id.empty() && b.build_id == m.build_id) return &b;
  }
  const std::string base = BaseName(m.path);
  for (const Binary& b : binaries_) {
    if ((m.build_id.empty() || b.build_id.empty()) && b.base == base) {
      return &b;
    }
  }
  return nullptr;
}

absl::Status Symbolizer::UseModules(
    const std::vector<format::ModuleRecord>& records) {
  modules_.clear();
  std::vector<StackSymbolizer::ElfFile> files;
  std::set<std::pair<std::string, uint64_t>> placed;
  for (const format::ModuleRecord& r : records) {
    Module m;
    m.record = r;
    m.binary = Match(r);
    if (m.binary != nullptr) {
      counts_.any_match = true;
      files.push_back({r.path, m.binary->path, r.bias});
      placed.insert({m.binary->path, r.bias});
    }
    modules_.push_back(std::move(m));
  }
  if (placed == placed_ && symbolizer_ != nullptr) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<StackSymbolizer>> s =
      StackSymbolizer::ForFiles(files);
  if (!s.ok()) return s.status();
  symbolizer_ = std::move(*s);
  placed_ = std::move(placed);
  bare_cache_.clear();
  return absl::OkStatus();
}

const Symbolizer::Module* Symbolizer::ModuleOf(uint64_t pc) const {
  for (const Module& m : modules_) {
    if (pc >= m.record.lo && pc < m.record.hi) return &m;
  }
  return nullptr;
}

Outcome Symbolizer::OutcomeOf(uint64_t pc) const {
  if (pc >= internal::kSyntheticPcBase) return kSynthetic;
  const Module* m = ModuleOf(pc);
  if (m == nullptr) return kNoModule;
  return m->binary != nullptr ? kNamed : kNoBinary;
}

const std::vector<Frame>& Symbolizer::Lookup(uint64_t pc) {
  if (OutcomeOf(pc) == kNamed) return symbolizer_->Lookup(pc);
  auto [it, added] = bare_cache_.try_emplace(pc);
  if (added) {
    Frame f;
    f.pc = pc;
    // Not code: ends the stack as it would have in the live tracer.
    f.unknown = OutcomeOf(pc) == kNoModule;
    it->second.push_back(std::move(f));
  }
  return it->second;
}

absl::Status Symbolizer::Generation(uint64_t gen,
                                    const std::vector<std::string>& raws,
                                    const std::vector<uint64_t>& offsets,
                                    std::string* out) {
  // Read the batches: their kinds, the tables, the modules.
  std::vector<format::Batch> batches(raws.size());
  std::vector<Stack> stacks;
  absl::flat_hash_set<uint64_t> sample_stacks;  // stacks of CPU samples
  absl::flat_hash_set<uint64_t> empty_strings = {0};
  uint64_t max_string = 0;
  uint64_t max_inline_pc = internal::kInlinePcBase - 1;
  bool any_bare = false;
  format::InfoRecords info;
  for (size_t i = 0; i < raws.size(); ++i) {
    format::BatchReader r(absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(raws[i].data()), raws[i].size()));
    absl::StatusOr<bool> ok = r.Next(&batches[i]);
    if (!ok.ok()) return ok.status();
    const format::Batch& b = batches[i];
    const uint8_t* p = b.payload.data() + 1;
    const uint8_t* end = b.payload.data() + b.payload.size();
    auto bad = [&](const char* what) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad ", what, " (at the batch at input byte ", offsets[i], ")"));
    };
    switch (b.kind()) {
      case format::BatchKind::kStacks:
        while (p < end) {
          Stack s;
          uint64_t type = *p++, n = 0;
          if (type != format::kEvStack || !ReadVarint(p, end, &s.id) ||
              !ReadVarint(p, end, &n) || n > format::kMaxFramesPerStack) {
            return bad("stack table entry");
          }
          s.frames.resize(4 * n);
          for (uint64_t& v : s.frames) {
            if (!ReadVarint(p, end, &v)) return bad("stack table entry");
          }
          stacks.push_back(std::move(s));
        }
        break;
      case format::BatchKind::kStrings:
        while (p < end) {
          uint64_t type = *p++, id = 0, len = 0;
          if (type != format::kEvString || !ReadVarint(p, end, &id) ||
              !ReadVarint(p, end, &len) ||
              len > static_cast<uint64_t>(end - p)) {
            return bad("string table entry");
          }
          if (len == 0) empty_strings.insert(id);
          max_string = std::max(max_string, id);
          p += len;
        }
        break;
      case format::BatchKind::kCPUSamples:
        while (p < end) {
          uint64_t type = *p++, v[5];
          if (type != format::kEvCPUSample) return bad("CPU sample");
          for (uint64_t& x : v) {
            if (!ReadVarint(p, end, &x)) return bad("CPU sample");
          }
          sample_stacks.insert(v[4]);
        }
        break;
      case format::BatchKind::kExperimental:
        // A bad record does not stop symbolizing: the records before it
        // are kept.
        if (format::IsGentraceInfoExperiment(b.experiment)) {
          (void)format::DecodeInfoBatch(b.payload, &info);
        }
        break;
      default:
        break;
    }
  }
  for (const Stack& s : stacks) {
    for (size_t f = 0; f < s.frames.size(); f += 4) {
      if (empty_strings.contains(s.frames[f + 1])) {
        any_bare = true;
      } else if (s.frames[f] >= internal::kInlinePcBase) {
        max_inline_pc = std::max(max_inline_pc, s.frames[f]);
      }
    }
  }
  if (!info.modules.empty()) {
    counts_.any_module_record = true;
    last_records_ = info.modules;
  }
  if (!any_bare) {
    for (const std::string& raw : raws) *out += raw;
    return absl::OkStatus();
  }
  if (!counts_.any_module_record) {
    return absl::FailedPreconditionError(absl::StrCat(
        "generation ", gen,
        " has bare stack frames but the trace has no module records (it was "
        "written by a gentrace that did not record them)"));
  }
  // This generation's modules, or those of the last one that had records.
  if (absl::Status s = UseModules(last_records_); !s.ok()) return s;

  // The new stacks, and the strings they add.
  absl::flat_hash_map<std::string, uint64_t> new_strings;
  uint64_t next_string = max_string + 1;
  std::string strings_out;
  auto string_id = [&](const std::string& s) -> uint64_t {
    if (s.empty()) return 0;
    auto [it, added] = new_strings.try_emplace(s, next_string);
    if (added) {
      ++next_string;
      std::string e(1, static_cast<char>(format::kEvString));
      PutVarint(&e, it->second);
      PutVarint(&e, s.size());
      e += s;
      strings_out += e;
    }
    return it->second;
  };
  // Inlined callers' synthetic PCs, distinct within the generation
  // (GO_FORMAT.md §8), above any the generation has.
  absl::flat_hash_map<std::string, uint64_t> inline_pcs;
  auto inline_pc = [&](const Frame& f) {
    auto [it, added] = inline_pcs.try_emplace(
        absl::StrCat(f.func, "\n", f.file, "\n", f.line), max_inline_pc + 1);
    if (added) ++max_inline_pc;
    return it->second;
  };

  std::string stacks_out;
  uint64_t stacks_time = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i].kind() == format::BatchKind::kStacks) {
      stacks_time = batches[i].time;
      break;
    }
  }
  {
    TableBatches tb(gen, stacks_time, format::kEvStacks, &stacks_out);
    std::vector<const Frame*> frames;
    std::vector<uintptr_t> wire;
    std::vector<Frame> kept;  // a mixed stack's named frames
    for (const Stack& s : stacks) {
      const size_t n = s.frames.size() / 4;
      size_t bare = 0;
      for (size_t f = 0; f < n; ++f) {
        bare += empty_strings.contains(s.frames[4 * f + 1]) ? 1 : 0;
      }
      std::string e(1, static_cast<char>(format::kEvStack));
      PutVarint(&e, s.id);
      if (bare == 0) {
        PutVarint(&e, n);
        for (uint64_t v : s.frames) PutVarint(&e, v);
        tb.Add(e);
        continue;
      }
      // Each frame: (pc, function, file, line), names as ids of this
      // generation's table or as new strings.
      struct Out {
        uint64_t pc, func, file, line;
      };
      std::vector<Out> outs;
      if (bare == n) {
        // A whole bare stack, as the live tracer builds one.
        wire.clear();
        for (size_t f = 0; f < n; ++f) wire.push_back(s.frames[4 * f]);
        const size_t used = internal::ExpandStack(
            [this](uintptr_t pc) -> const std::vector<Frame>& {
              return Lookup(pc);
            },
            wire, !sample_stacks.contains(s.id), &frames);
        for (size_t f = 0; f < n; ++f) {
          ++counts_.by[f < used ? OutcomeOf(wire[f]) : kDropped];
          if (f < used && OutcomeOf(wire[f]) == kNoBinary) {
            ++counts_.no_binary[ModuleOf(wire[f])->record.path];
          }
        }
        for (const Frame* f : frames) {
          const bool named = !f->func.empty();
          const uint64_t pc =
              named && f->pc >= internal::kInlinePcBase ? inline_pc(*f) : f->pc;
          outs.push_back({pc, string_id(f->func), string_id(f->file), f->line});
        }
      } else {
        // Named and bare frames mixed (not written by gentrace): each bare
        // frame expands in place.
        for (size_t f = 0; f < n; ++f) {
          const uint64_t* v = &s.frames[4 * f];
          if (!empty_strings.contains(v[1])) {
            outs.push_back({v[0], v[1], v[2], v[3]});
            continue;
          }
          const Outcome o = OutcomeOf(v[0]);
          ++counts_.by[o];
          if (o == kNoBinary) ++counts_.no_binary[ModuleOf(v[0])->record.path];
          for (const Frame& x : Lookup(v[0])) {
            const bool named = !x.func.empty();
            const uint64_t pc =
                named && x.pc >= internal::kInlinePcBase ? inline_pc(x) : x.pc;
            outs.push_back({pc, string_id(x.func), string_id(x.file), x.line});
          }
        }
        if (outs.size() > format::kMaxFramesPerStack) {
          outs.resize(format::kMaxFramesPerStack);
        }
      }
      PutVarint(&e, outs.size());
      for (const Out& o : outs) {
        PutVarint(&e, o.pc);
        PutVarint(&e, o.func);
        PutVarint(&e, o.file);
        PutVarint(&e, o.line);
      }
      tb.Add(e);
    }
  }
  {
    // New strings, entry by entry into batches.
    TableBatches sb(gen, stacks_time, format::kEvStrings, &stacks_out);
    const uint8_t* p = reinterpret_cast<const uint8_t*>(strings_out.data());
    const uint8_t* end = p + strings_out.size();
    while (p < end) {
      const uint8_t* start = p++;
      uint64_t id = 0, len = 0;
      ReadVarint(p, end, &id);
      ReadVarint(p, end, &len);
      p += len;
      sb.Add(std::string(reinterpret_cast<const char*>(start), p - start));
    }
  }
  // The batches in file order, the new tables where the first stacks
  // batch was.
  bool tables_written = false;
  for (size_t i = 0; i < raws.size(); ++i) {
    if (batches[i].kind() == format::BatchKind::kStacks) {
      if (!tables_written) *out += stacks_out;
      tables_written = true;
      continue;
    }
    *out += raws[i];
  }
  return absl::OkStatus();
}

int RunSymbolize(const ParsedArgs& args) {
  const Command& cmd = SymbolizeCommand();
  const std::string& in_path = args.positional[0];
  const std::string& out_path = args.positional[1];
  if (!args.has("binary") || args.flags.at("binary").empty()) {
    return UsageError(cmd, "give the binaries: --binary=PATH[,PATH...]");
  }
  std::vector<Binary> binaries;
  for (absl::string_view path :
       absl::StrSplit(args.flags.at("binary"), ',', absl::SkipEmpty())) {
    absl::StatusOr<Binary> b = ReadBinary(std::string(path));
    if (!b.ok()) return Failure(cmd, b.status().message());
    binaries.push_back(std::move(*b));
  }

  absl::StatusOr<std::unique_ptr<format::ByteSource>> src =
      format::OpenInput(in_path);
  if (!src.ok()) return InputFailure(cmd, in_path, src.status(), -1);
  format::BatchReader reader(src->get());
  absl::StatusOr<format::Version> version = reader.ReadHeader();
  if (!version.ok()) return InputFailure(cmd, in_path, version.status(), 0);
  absl::StatusOr<std::unique_ptr<OutputFile>> out =
      OutputFile::Create(out_path);
  if (!out.ok()) return Failure(cmd, out.status().message());
  format::ByteSink* sink = (*out)->sink();
  Progress progress("gentrace symbolize: reading",
                    Progress::PlainFileSize(in_path));

  Symbolizer symbolizer(std::move(binaries));
  std::string pending = format::EncodeHeader(*version);
  std::vector<std::string> gen_batches;
  std::vector<uint64_t> gen_offsets;
  uint64_t gen = 0;
  uint64_t gen_offset = 0;  // the generation's first batch
  absl::Status s;
  auto finish_gen = [&]() -> bool {
    if (gen_batches.empty()) return true;
    absl::Status g =
        symbolizer.Generation(gen, gen_batches, gen_offsets, &pending);
    gen_batches.clear();
    gen_offsets.clear();
    if (!g.ok()) {
      InputFailure(cmd, in_path, g, static_cast<int64_t>(gen_offset));
      return false;
    }
    if (pending.size() >= (1 << 20)) {
      s = sink->WriteString(pending);
      pending.clear();
    }
    return true;
  };
  format::Batch b;
  while (s.ok()) {
    absl::StatusOr<bool> more = reader.Next(&b);
    if (!more.ok()) {
      return InputFailure(cmd, in_path, more.status(),
                          static_cast<int64_t>(reader.offset()));
    }
    if (!*more) break;
    if (b.gen != gen) {
      if (!finish_gen()) return kExitFailure;
      gen = b.gen;
      gen_offset = b.offset;
    }
    gen_batches.emplace_back(reinterpret_cast<const char*>(b.raw.data()),
                             b.raw.size());
    gen_offsets.push_back(b.offset);
    progress.Update(reader.offset());
  }
  if (s.ok() && !finish_gen()) return kExitFailure;
  progress.Done();
  const Counts& c = symbolizer.counts();
  uint64_t bare_total = 0;
  for (uint64_t n : c.by) bare_total += n;
  if (bare_total > 0 && !c.any_match) {
    return Failure(cmd,
                   absl::StrCat("no --binary matches a module of ", in_path,
                                " with bare frames (by build-id "
                                "or file name)"));
  }
  if (s.ok()) s = sink->WriteString(pending);
  if (s.ok()) s = (*out)->Commit();
  if (!s.ok()) return Failure(cmd, absl::StrCat(out_path, ": ", s.message()));

  std::fprintf(stderr,
               "gentrace symbolize: %llu bare frames: %llu named, %llu left "
               "bare, %llu dropped\n",
               static_cast<unsigned long long>(bare_total),
               static_cast<unsigned long long>(c.by[kNamed]),
               static_cast<unsigned long long>(
                   c.by[kNoBinary] + c.by[kNoModule] + c.by[kSynthetic]),
               static_cast<unsigned long long>(c.by[kDropped]));
  for (const auto& [path, n] : c.no_binary) {
    std::fprintf(stderr,
                 "gentrace symbolize:   %llu left bare: no --binary for %s\n",
                 static_cast<unsigned long long>(n), path.c_str());
  }
  if (c.by[kNoModule] > 0) {
    std::fprintf(
        stderr, "gentrace symbolize:   %llu left bare: in no recorded module\n",
        static_cast<unsigned long long>(c.by[kNoModule]));
  }
  if (c.by[kSynthetic] > 0) {
    std::fprintf(stderr,
                 "gentrace symbolize:   %llu left bare: thread-name frames "
                 "(the names are not in a crash dump)\n",
                 static_cast<unsigned long long>(c.by[kSynthetic]));
  }
  if (c.by[kDropped] > 0) {
    std::fprintf(stderr,
                 "gentrace symbolize:   %llu dropped: not code addresses, "
                 "after a stack's first frame\n",
                 static_cast<unsigned long long>(c.by[kDropped]));
  }
  return kExitOk;
}

}  // namespace

const Command& SymbolizeCommand() {
  static const Command kCommand = {
      "symbolize",
      "name a crash dump's bare stack frames from the binaries",
      kHelp,
      {{"binary", true}},
      {"FILE", "OUT"},
      &RunSymbolize,
  };
  return kCommand;
}

}  // namespace gentrace::tools
