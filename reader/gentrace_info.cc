// Decoding of gentrace's info batches; see gentrace_info.h.
#include "reader/gentrace_info.h"

#include "absl/strings/str_cat.h"
#include "format/gentrace_batch.h"
#include "format/leb128.h"

namespace gentrace::reader {
namespace {

class Cursor {
 public:
  explicit Cursor(absl::Span<const uint8_t> s)
      : p_(s.data()), end_(s.data() + s.size()) {}
  bool done() const { return p_ == end_; }
  bool Varint(uint64_t* v) {
    size_t used = 0;
    if (format::GetUvarint(p_, end_, v, &used) != format::VarintStatus::kOk) {
      return false;
    }
    p_ += used;
    return true;
  }
  bool String(std::string* s) {
    uint64_t n = 0;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    s->assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace

absl::Status DecodeGentraceInfoBatch(absl::Span<const uint8_t> payload,
                                     GentraceInfo* info) {
  Cursor c(payload);
  while (!c.done()) {
    uint64_t kind = 0;
    bool ok = c.Varint(&kind);
    switch (kind) {
      case format::kRecordThread: {
        ThreadInfo t;
        ok = ok && c.Varint(&t.thread) && c.Varint(&t.proc) &&
             c.Varint(&t.goroutine) && c.String(&t.name);
        if (ok) info->threads.push_back(std::move(t));
        break;
      }
      case format::kRecordSampler: {
        SamplerInfo s;
        uint64_t source = 0;
        ok = ok && c.Varint(&source) && c.Varint(&s.hz) &&
             c.Varint(&s.period) && c.Varint(&s.samples_taken) &&
             c.Varint(&s.samples_lost) && c.String(&s.event);
        s.source = static_cast<uint8_t>(source);
        if (ok) info->samplers.push_back(std::move(s));
        break;
      }
      case format::kRecordFiber: {
        FiberInfo f;
        ok = ok && c.Varint(&f.goroutine) && c.String(&f.name);
        if (ok) info->fibers.push_back(std::move(f));
        break;
      }
      case format::kRecordGeneration: {
        GenerationSpan g;
        ok = ok && c.Varint(&g.start) && c.Varint(&g.end);
        if (ok) info->spans.push_back(g);
        break;
      }
      default:
        // Records carry no length: an unknown one cannot be skipped.
        return absl::InvalidArgumentError(
            absl::StrCat("gentrace info batch: unknown record kind ", kind));
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gentrace info batch: record of kind ", kind, " is cut short"));
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeGentraceInfo(const Generation& gen, GentraceInfo* info) {
  absl::Status first;
  for (const ExperimentalBatch& b : gen.experimental_batches()) {
    if (!format::IsGentraceInfoExperiment(b.experiment)) continue;
    absl::Status s = DecodeGentraceInfoBatch(b.data, info);
    if (first.ok()) first = s;
  }
  return first;
}

}  // namespace gentrace::reader
