// Generation splitting and table decoding; see generation.h. Error messages
// follow Go's internal/trace wording so that a trace Go rejects is rejected
// here with the same words.
#include "reader/generation.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "format/leb128.h"
#include "reader/go_compat.h"
#include "reader/go_sort.h"

namespace gentrace::reader {
namespace {

using format::kMaxVarintLen;

// Batch storage grows in chunks: small at first (small traces stay
// small), doubling up to kMaxChunk (large generations waste at most one
// batch per chunk).
constexpr size_t kMinChunk = 128 << 10;
constexpr size_t kMaxChunk = 4 << 20;

// Reads uvarints from a byte span the way Go's binary.ReadUvarint reads
// them from a bytes.Reader, with the same errors: "EOF" when nothing is
// left, "unexpected EOF" when the input ends inside the varint.
class SpanCursor {
 public:
  explicit SpanCursor(absl::Span<const uint8_t> s)
      : p_(s.data()), end_(s.data() + s.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* pos() const { return p_; }
  uint8_t ReadByte() { return *p_++; }
  void Skip(size_t n) { p_ += n; }

  // Returns "" on success, else Go's error text.
  const char* ReadUvarint(uint64_t* v) {
    size_t used = 0;
    switch (format::GetUvarint(p_, end_, v, &used)) {
      case format::VarintStatus::kOk:
        p_ += used;
        return "";
      case format::VarintStatus::kTruncated: {
        bool empty = p_ == end_;
        p_ = end_;
        return empty ? "EOF" : "unexpected EOF";
      }
      case format::VarintStatus::kOverflow:
        break;
    }
    return "binary: varint overflows a 64-bit integer";
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

absl::Status Err(std::string msg) {
  // Go's io.EOF, returned as is by a table batch that ends where a varint
  // should start, is special: Go's reader then reports the end of the
  // trace rather than an error. OutOfRange marks it for Next().
  if (msg == "EOF") return absl::OutOfRangeError(std::move(msg));
  return absl::InvalidArgumentError(std::move(msg));
}

// Go's %v of a stack (its String method): "\t0x<pc>\n" per frame.
std::string StackString(const std::vector<FrameRecord>& frames,
                        absl::Span<const uint32_t> refs) {
  std::string s;
  // (%#v of a uint64 is 0x-prefixed hex, "0x0" included.)
  for (uint32_t r : refs) {
    absl::StrAppend(&s, "\t0x", absl::Hex(frames[r].pc), "\n");
  }
  return s;
}

}  // namespace

// ---------------------------------------------------------------- StackView

StackFrame StackView::operator[](size_t i) const {
  const FrameRecord& r = gen_->frames_[refs_[i]];
  StackFrame f;
  f.pc = r.pc;
  f.line = r.line;
  // Frame strings were checked when the generation was loaded.
  if (const absl::string_view* s = gen_->FindString(r.func_id)) f.func = *s;
  if (const absl::string_view* s = gen_->FindString(r.file_id)) f.file = *s;
  return f;
}

// --------------------------------------------------------------- Generation

Generation::Generation() = default;
Generation::~Generation() = default;

void Generation::Reset() {
  number_ = 0;
  ticks_per_second_ = 0;
  ns_per_tick_ = 0;
  have_frequency_ = false;
  size_bytes_ = 0;
  batches_.clear();
  threads_.clear();
  thread_index_.clear();
  cpu_samples_.clear();
  experimental_.clear();
  strings_.Clear();
  stacks_.Clear();
  frame_refs_.clear();
  frames_.clear();
  frame_index_.clear();
  // Keep the chunks the last generation used for the next one; drop any it
  // did not need, so memory follows the generations' size.
  if (!chunks_.empty()) chunks_.resize(std::min(chunks_.size(), chunk_ + 1));
  chunk_ = 0;
  chunk_used_ = 0;
}

uint8_t* Generation::Store(const uint8_t* data, size_t n) {
  while (chunk_ < chunks_.size() && chunks_[chunk_].size - chunk_used_ < n) {
    ++chunk_;
    chunk_used_ = 0;
  }
  if (chunk_ == chunks_.size()) {
    size_t total = 0;
    for (const Chunk& c : chunks_) total += c.size;
    Chunk c;
    c.size = std::max(n, std::min(kMaxChunk, std::max(kMinChunk, total)));
    c.data.reset(new uint8_t[c.size]);
    chunks_.push_back(std::move(c));
    chunk_used_ = 0;
  }
  uint8_t* dst = chunks_[chunk_].data.get() + chunk_used_;
  if (n > 0) std::memcpy(dst, data, n);
  chunk_used_ += n;
  return dst;
}

size_t Generation::MemoryUsage() const {
  size_t n = 0;
  for (const Chunk& c : chunks_) n += c.size;
  n += batches_.capacity() * sizeof(Batch);
  n += threads_.capacity() * sizeof(Thread);
  for (const Thread& t : threads_) n += t.batches.capacity() * 4;
  n += cpu_samples_.capacity() * sizeof(CpuSample);
  n += experimental_.capacity() * sizeof(ExperimentalBatch);
  n += strings_.MemoryUsage() + stacks_.MemoryUsage();
  n += frame_refs_.capacity() * sizeof(uint32_t);
  n += frames_.capacity() * sizeof(FrameRecord);
  n += frame_index_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1);
  n += thread_index_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1);
  return n;
}

bool Generation::FindStack(uint64_t id, StackView* out) const {
  const StackRecord* r = stacks_.Find(id);
  if (r == nullptr) return false;
  *out = StackView(
      this, id, absl::MakeConstSpan(frame_refs_.data() + r->first, r->count));
  return true;
}

const FrameRecord* Generation::FindFrame(uint64_t pc) const {
  auto it = frame_index_.find(pc);
  return it == frame_index_.end() ? nullptr : &frames_[it->second];
}

std::vector<ExperimentalBatch> Generation::ExperimentalBatchesOf(
    uint8_t exp) const {
  std::vector<ExperimentalBatch> out;
  for (const ExperimentalBatch& b : experimental_) {
    if (b.experiment == exp) out.push_back(b);
  }
  return out;
}

bool Generation::HasExperiment(uint8_t exp) const {
  for (const ExperimentalBatch& b : experimental_) {
    if (b.experiment == exp) return true;
  }
  return false;
}

absl::Status Generation::AddBatch(const Batch& b) {
  batches_.push_back(b);
  size_bytes_ += b.raw.size();
  switch (b.kind()) {
    case BatchKind::kStrings:
      return AddStrings(b);
    case BatchKind::kStacks:
      return AddStacks(b);
    case BatchKind::kCPUSamples:
      return AddCpuSamples(b);
    case BatchKind::kFrequency:
      return AddFrequency(b);
    case BatchKind::kExperimental:
      experimental_.push_back(ExperimentalBatch{b.experiment, b.m, b.payload});
      return absl::OkStatus();
    case BatchKind::kEvents:
      break;
  }
  auto [it, inserted] =
      thread_index_.try_emplace(b.m, static_cast<uint32_t>(threads_.size()));
  if (inserted) {
    threads_.emplace_back();
    threads_.back().m = b.m;
  }
  threads_[it->second].batches.push_back(
      static_cast<uint32_t>(batches_.size() - 1));
  return absl::OkStatus();
}

absl::Status Generation::AddStrings(const Batch& b) {
  SpanCursor r(b.payload);
  r.ReadByte();  // the Strings byte
  while (r.remaining() != 0) {
    uint8_t ev = r.ReadByte();
    if (ev != format::kEvString) {
      return Err(absl::StrCat("expected string event, got ", ev));
    }
    uint64_t id = 0, len = 0;
    if (const char* e = r.ReadUvarint(&id); *e) return Err(e);
    if (const char* e = r.ReadUvarint(&len); *e) return Err(e);
    if (len > format::kMaxStringSize) {
      return Err(absl::StrCat("invalid string size ", len, ", maximum is ",
                              format::kMaxStringSize));
    }
    if (r.remaining() < len) {
      return Err(absl::StrCat("failed to read full string: read ",
                              r.remaining(), " but wanted ", len));
    }
    absl::string_view s(reinterpret_cast<const char*>(r.pos()), len);
    r.Skip(len);
    absl::string_view existing;
    if (!strings_.Insert(id, s, &existing)) {
      return Err(absl::StrCat("multiple strings with the same ID: id=", id,
                              ", new=", s, ", existing=", existing));
    }
  }
  return absl::OkStatus();
}

absl::Status Generation::AddStacks(const Batch& b) {
  SpanCursor r(b.payload);
  r.ReadByte();  // the Stacks byte
  while (r.remaining() != 0) {
    uint8_t ev = r.ReadByte();
    if (ev != format::kEvStack) {
      return Err(absl::StrCat("expected stack event, got ", ev));
    }
    uint64_t id = 0, nframes = 0;
    if (const char* e = r.ReadUvarint(&id); *e) return Err(e);
    if (const char* e = r.ReadUvarint(&nframes); *e) return Err(e);
    if (nframes > format::kMaxFramesPerStack) {
      return Err(absl::StrCat("invalid stack size ", nframes, ", maximum is ",
                              format::kMaxFramesPerStack));
    }
    const uint32_t first = static_cast<uint32_t>(frame_refs_.size());
    for (uint64_t i = 0; i < nframes; ++i) {
      FrameRecord f;
      static constexpr const char* kField[4] = {"PC", "funcID", "fileID",
                                                "line"};
      uint64_t* dst[4] = {&f.pc, &f.func_id, &f.file_id, &f.line};
      for (int k = 0; k < 4; ++k) {
        if (const char* e = r.ReadUvarint(dst[k]); *e) {
          frame_refs_.resize(first);
          return Err(absl::StrCat("reading frame ", i + 1, "'s ", kField[k],
                                  " for stack ", id, ": ", e));
        }
      }
      // The first frame seen for a PC wins for the whole generation.
      auto [it, inserted] =
          frame_index_.try_emplace(f.pc, static_cast<uint32_t>(frames_.size()));
      if (inserted) frames_.push_back(f);
      frame_refs_.push_back(it->second);
    }
    StackRecord rec{first, static_cast<uint32_t>(nframes)};
    StackRecord existing;
    if (!stacks_.Insert(id, rec, &existing)) {
      auto refs = [&](const StackRecord& s) {
        return absl::MakeConstSpan(frame_refs_.data() + s.first, s.count);
      };
      return Err(
          absl::StrCat("multiple trace.stacks with the same ID: id=", id,
                       ", new=", StackString(frames_, refs(rec)),
                       ", existing=", StackString(frames_, refs(existing))));
    }
  }
  return absl::OkStatus();
}

absl::Status Generation::AddCpuSamples(const Batch& b) {
  SpanCursor r(b.payload);
  r.ReadByte();  // the CPUSamples byte
  while (r.remaining() != 0) {
    uint8_t ev = r.ReadByte();
    if (ev != format::kEvCPUSample) {
      return Err(absl::StrCat("expected CPU sample event, got ", ev));
    }
    uint64_t v[5];
    for (uint64_t& x : v) {
      if (const char* e = r.ReadUvarint(&x); *e) return Err(e);
    }
    CpuSample s;
    // The time stays in ticks until the frequency is known (Finish).
    s.time = static_cast<int64_t>(v[0]);
    s.m = v[1];
    s.p = v[2];
    s.g = v[3] == 0 ? format::kNoGoroutine : v[3];
    s.stack = v[4];
    cpu_samples_.push_back(s);
  }
  return absl::OkStatus();
}

absl::Status Generation::AddFrequency(const Batch& b) {
  SpanCursor r(b.payload);
  r.ReadByte();  // the Frequency byte
  uint64_t f = 0;
  if (const char* e = r.ReadUvarint(&f); *e) return Err(e);
  if (have_frequency_) return Err("found multiple frequency events");
  have_frequency_ = true;
  ticks_per_second_ = f;
  ns_per_tick_ = GoNsPerTick(f);
  return absl::OkStatus();
}

absl::Status Generation::Finish() {
  if (!have_frequency_) return Err("no frequency event found");
  strings_.Finish();
  stacks_.Finish();
  // Every frame's strings must exist. Frames are deduplicated by PC, so
  // this checks the frame each PC resolves to, in stack id order.
  absl::Status status;
  stacks_.ForEachSorted([&](uint64_t id, const StackRecord& rec) {
    if (!status.ok()) return;
    for (uint32_t i = 0; i < rec.count; ++i) {
      const FrameRecord& f = frames_[frame_refs_[rec.first + i]];
      if (strings_.Find(f.func_id) == nullptr) {
        status = Err(absl::StrCat("found invalid func string ID ", f.func_id,
                                  " for stack ", id));
        return;
      }
      if (strings_.Find(f.file_id) == nullptr) {
        status = Err(absl::StrCat("found invalid file string ID ", f.file_id,
                                  " for stack ", id));
        return;
      }
    }
  });
  if (!status.ok()) return status;
  for (CpuSample& s : cpu_samples_) {
    s.time = GoTicksToNs(static_cast<uint64_t>(s.time), ns_per_tick_);
  }
  // Go sorts with its (unstable) pdqsort: same algorithm, same order of
  // samples with equal times.
  GoSortFunc(
      cpu_samples_.data(), cpu_samples_.size(),
      [](const CpuSample& a, const CpuSample& b) { return a.time < b.time; });
  return absl::OkStatus();
}

// --------------------------------------------------------- GenerationReader

GenerationReader::GenerationReader(format::BatchReader* in, bool zero_copy)
    : in_(in), zero_copy_(zero_copy) {}

absl::StatusOr<bool> GenerationReader::Next(Generation* g) {
  if (started_) {
    if (!spill_error_.ok()) return spill_error_;
    if (!have_spill_) return false;
  }
  started_ = true;
  g->Reset();

  // Moves a batch into the generation's storage (unless zero-copy).
  auto adopt = [&](Batch b) -> absl::Status {
    if (!zero_copy_) {
      const size_t header = b.raw.size() - b.payload.size();
      const uint8_t* raw = g->Store(b.raw.data(), b.raw.size());
      b.raw = absl::MakeConstSpan(raw, b.raw.size());
      b.payload = b.raw.subspan(header);
    }
    return g->AddBatch(b);
  };

  // A table batch that ends where Go reads io.EOF ends the trace for Go's
  // reader, without an error: so here too.
  auto fail = [&](absl::Status s) -> absl::StatusOr<bool> {
    if (absl::IsOutOfRange(s)) {
      have_spill_ = false;
      spill_error_ = absl::OkStatus();
      return false;
    }
    return s;
  };
  if (have_spill_) {
    have_spill_ = false;
    g->number_ = spill_.gen;
    if (absl::Status s = adopt(spill_); !s.ok()) return fail(s);
  }
  for (;;) {
    Batch b;
    absl::StatusOr<bool> ok = in_->Next(&b);
    if (ok.ok() && !*ok) break;  // clean end of the trace
    if (!ok.ok()) {
      if (g->number_ != 0) {
        // A broken tail: deliver what this generation has, then the error.
        spill_error_ = ok.status();
        break;
      }
      return ok.status();
    }
    if (b.gen == 0) {
      return Err(absl::StrCat("invalid generation number ", b.gen));
    }
    if (g->number_ == 0) g->number_ = b.gen;
    if (b.gen == g->number_ + 1) {
      // The first batch of the next generation: keep it for later.
      spill_ = b;
      if (!zero_copy_) {
        spill_bytes_.assign(b.raw.begin(), b.raw.end());
        const size_t header = b.raw.size() - b.payload.size();
        spill_.raw = absl::MakeConstSpan(spill_bytes_);
        spill_.payload = spill_.raw.subspan(header);
      }
      have_spill_ = true;
      break;
    }
    if (b.gen != g->number_) return Err("generations out of order");
    if (absl::Status s = adopt(b); !s.ok()) return fail(s);
  }
  if (absl::Status s = g->Finish(); !s.ok()) return s;
  return true;
}

}  // namespace gentrace::reader
