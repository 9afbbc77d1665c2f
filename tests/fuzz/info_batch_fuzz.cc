// libFuzzer target: gentrace's info-batch decoder (format/gentrace_batch.h)
// over arbitrary payloads.
//
// * DecodeInfoBatch never crashes, never reads past the payload, and never
//   makes up a record from a cut one.
// * What it decodes (all of it, or what came before its error) encodes
//   back, record by record, in InfoRecordSize bytes, and decodes again to
//   the same records; the payload is never shorter than that re-encoding
//   (the encoder writes minimal varints, so a longer re-encoding means
//   bytes were made up or read from past the payload; a skippable
//   record, EventSampler or EventSample, re-encodes with the minimal
//   length of its known fields, never more than the length it was read
//   with).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "format/gentrace_batch.h"
#include "tests/fuzz/fuzz_check.h"

namespace gentrace::format {
namespace {

// Field by field, by the codec's own table.
template <typename R>
bool SameRecord(const R& a, const R& b) {
  for (const InfoField<R>& f : InfoRecordSpec<R>::kFields) {
    if (f.kind == InfoFieldKind::kUvarint ? a.*f.number != b.*f.number
                                          : a.*f.bytes != b.*f.bytes) {
      return false;
    }
  }
  return true;
}

template <typename R>
bool SameRecords(const std::vector<R>& a, const std::vector<R>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameRecord(a[i], b[i])) return false;
  }
  return true;
}

template <typename R>
void Encode(const std::vector<R>& records, std::string* out) {
  for (const R& r : records) {
    const size_t before = out->size();
    AppendInfoRecord(r, out);
    FUZZ_CHECK(out->size() - before == InfoRecordSize(r), "size %zu vs %zu",
               out->size() - before, InfoRecordSize(r));
  }
}

size_t Count(const InfoRecords& r) {
  return r.threads.size() + r.samplers.size() + r.fibers.size() +
         r.spans.size() + r.event_samplers.size() + r.event_samples.size() +
         r.modules.size();
}

void Check(absl::Span<const uint8_t> payload) {
  InfoRecords got;
  const absl::Status st = DecodeInfoBatch(payload, &got);
  FUZZ_CHECK(st.ok() || !st.message().empty(), "error without a message");
  // Every record takes at least two bytes (kind and a field).
  FUZZ_CHECK(2 * Count(got) <= payload.size(), "%zu records from %zu bytes",
             Count(got), payload.size());

  std::string again;
  Encode(got.threads, &again);
  Encode(got.samplers, &again);
  Encode(got.fibers, &again);
  Encode(got.spans, &again);
  Encode(got.event_samplers, &again);
  Encode(got.event_samples, &again);
  Encode(got.modules, &again);
  InfoRecords back;
  const absl::Status back_st = DecodeInfoBatch(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(again.data()),
                          again.size()),
      &back);
  FUZZ_CHECK(back_st.ok(), "re-encoding does not decode: %s",
             std::string(back_st.message()).c_str());
  FUZZ_CHECK(SameRecords(got.threads, back.threads), "threads differ");
  FUZZ_CHECK(SameRecords(got.samplers, back.samplers), "samplers differ");
  FUZZ_CHECK(SameRecords(got.fibers, back.fibers), "fibers differ");
  FUZZ_CHECK(SameRecords(got.spans, back.spans), "spans differ");
  FUZZ_CHECK(SameRecords(got.event_samplers, back.event_samplers),
             "event samplers differ");
  FUZZ_CHECK(SameRecords(got.event_samples, back.event_samples),
             "event samples differ");
  FUZZ_CHECK(SameRecords(got.modules, back.modules), "modules differ");
  FUZZ_CHECK(back.skipped == 0, "skipped %llu",
             static_cast<unsigned long long>(back.skipped));
  // Every record decoded came from input bytes at least as long as its
  // minimal encoding: nothing was read from beyond the payload.
  FUZZ_CHECK(again.size() <= payload.size(), "re-encoding %zu > input %zu",
             again.size(), payload.size());
}

}  // namespace
}  // namespace gentrace::format

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gentrace::format::Check(absl::Span<const uint8_t>(data, size));
  return 0;
}
