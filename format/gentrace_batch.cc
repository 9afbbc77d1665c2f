// The info batch decoder; see gentrace_batch.h. (The encoder is the
// templates in the header.)
#include "format/gentrace_batch.h"

#include "absl/strings/str_cat.h"

namespace gentrace::format {
namespace {

class Cursor {
 public:
  explicit Cursor(absl::Span<const uint8_t> s)
      : begin_(s.data()), p_(s.data()), end_(s.data() + s.size()) {}
  bool done() const { return p_ == end_; }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool Uvarint(uint64_t* v) {
    size_t used = 0;
    if (GetUvarint(p_, end_, v, &used) != VarintStatus::kOk) return false;
    p_ += used;
    return true;
  }
  bool Bytes(std::string* s) {
    uint64_t n = 0;
    if (!Uvarint(&n) || n > remaining()) return false;
    s->assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  void Skip(size_t n) { p_ += n; }
  // The next n bytes (n <= remaining()), not consumed.
  absl::Span<const uint8_t> Rest(size_t n) const {
    return absl::MakeConstSpan(p_, n);
  }

 private:
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
};

// Reads the fields of an R (its kind already read) into a new element of
// *out; false if the payload ends or lies first.
template <typename R>
bool DecodeFields(Cursor* c, std::vector<R>* out) {
  R r;
  for (const InfoField<R>& f : InfoRecordSpec<R>::kFields) {
    const bool ok = f.kind == InfoFieldKind::kUvarint
                        ? c->Uvarint(&(r.*f.number))
                        : c->Bytes(&(r.*f.bytes));
    if (!ok) return false;
  }
  out->push_back(std::move(r));
  return true;
}

// A record of a skippable kind (its kind already read): its length, then
// its fields within that length; bytes after them (fields a newer writer
// added) are skipped.
template <typename R>
bool DecodeSkippable(Cursor* c, std::vector<R>* out) {
  uint64_t length = 0;
  if (!c->Uvarint(&length) || length > c->remaining()) return false;
  const size_t end = c->offset() + length;
  Cursor body(c->Rest(length));
  if (!DecodeFields(&body, out)) return false;
  c->Skip(end - c->offset());
  return true;
}

}  // namespace

absl::Status DecodeInfoBatch(absl::Span<const uint8_t> payload,
                             InfoRecords* out) {
  Cursor c(payload);
  while (!c.done()) {
    const size_t start = c.offset();
    uint64_t kind = 0;
    bool ok = c.Uvarint(&kind);
    auto where = [&] {
      return absl::StrCat("gentrace info batch: record of kind ", kind,
                          " at offset ", start);
    };
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gentrace info batch: bad record kind at offset ", start));
    }
    switch (kind) {
      case InfoRecordSpec<ThreadRecord>::kKind:
        ok = DecodeFields(&c, &out->threads);
        break;
      case InfoRecordSpec<SamplerRecord>::kKind:
        ok = DecodeFields(&c, &out->samplers);
        break;
      case InfoRecordSpec<FiberRecord>::kKind:
        ok = DecodeFields(&c, &out->fibers);
        break;
      case InfoRecordSpec<GenerationRecord>::kKind:
        ok = DecodeFields(&c, &out->spans);
        break;
      case InfoRecordSpec<EventSamplerRecord>::kKind:
        ok = DecodeSkippable(&c, &out->event_samplers);
        break;
      case InfoRecordSpec<EventSampleRecord>::kKind:
        ok = DecodeSkippable(&c, &out->event_samples);
        break;
      case InfoRecordSpec<ModuleRecord>::kKind:
        ok = DecodeSkippable(&c, &out->modules);
        break;
      default: {
        if (kind < kFirstSkippableInfoRecord) {
          return absl::InvalidArgumentError(absl::StrCat(
              where(), ": unknown kind, and kinds below ",
              kFirstSkippableInfoRecord,
              " carry no length to skip them by (written by a newer "
              "gentrace?)"));
        }
        uint64_t length = 0;
        ok = c.Uvarint(&length) && length <= c.remaining();
        if (ok) {
          c.Skip(length);
          ++out->skipped;
        }
      }
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(where(), " is cut short"));
    }
  }
  return absl::OkStatus();
}

}  // namespace gentrace::format
