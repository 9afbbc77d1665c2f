// Batch framing; see batch.h.
#include "format/batch.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "format/header.h"
#include "format/leb128.h"

namespace gentrace::format {

BatchKind Batch::kind() const {
  if (experiment != kNoExperiment) return BatchKind::kExperimental;
  if (payload.empty()) return BatchKind::kEvents;
  switch (payload[0]) {
    case kEvStrings:
      return BatchKind::kStrings;
    case kEvStacks:
      return BatchKind::kStacks;
    case kEvCPUSamples:
      return BatchKind::kCPUSamples;
    case kEvFrequency:
      return BatchKind::kFrequency;
    default:
      return BatchKind::kEvents;
  }
}

namespace {

size_t WriteHeaderFields(uint8_t* p, uint64_t gen, uint64_t m, uint64_t time) {
  uint8_t* start = p;
  p = PutUvarint(p, gen);
  p = PutUvarint(p, m);
  p = PutUvarint(p, time);
  PutUvarintPadded(p, 0);
  return static_cast<size_t>(p - start) + kMaxVarintLen;
}

}  // namespace

size_t WriteBatchHeader(uint8_t* dst, uint64_t gen, uint64_t m, uint64_t time) {
  dst[0] = kEvEventBatch;
  return 1 + WriteHeaderFields(dst + 1, gen, m, time);
}

size_t WriteExperimentalBatchHeader(uint8_t* dst, uint8_t exp, uint64_t gen,
                                    uint64_t m, uint64_t time) {
  dst[0] = kEvExperimentalBatch;
  dst[1] = exp;
  return 2 + WriteHeaderFields(dst + 2, gen, m, time);
}

void PatchBatchSize(uint8_t* header, size_t header_size, uint64_t size) {
  PutUvarintPadded(header + header_size - kMaxVarintLen, size);
}

absl::StatusOr<Version> BatchReader::ReadHeader() {
  return format::ReadHeader(&in_);
}

absl::StatusOr<bool> BatchReader::Next(Batch* batch) {
  // The longest header: type, experiment, four varints.
  absl::StatusOr<size_t> n = in_.Ensure(kMaxBatchHeaderSize);
  if (!n.ok()) return n.status();
  if (*n == 0) return false;
  const uint8_t* p = in_.data();
  const uint8_t* end = p + *n;
  batch->offset = in_.offset();
  const uint8_t type = p[0];
  if (type != kEvEventBatch && type != kEvExperimentalBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected batch event, got ", GoEventString(type)));
  }
  const uint8_t* q = p + 1;
  batch->experimental = type == kEvExperimentalBatch;
  batch->experiment = kNoExperiment;
  if (batch->experimental) {
    // Go reads the experiment byte with ReadByte and takes its EOF for the
    // clean end of the trace (the batch byte read).
    if (q == end) {
      in_.Skip(1);
      return false;
    }
    batch->experiment = *q++;
  }
  static constexpr const char* kWhat[4] = {"gen", "M ID", "timestamp", "size"};
  uint64_t v[4];
  for (int i = 0; i < 4; ++i) {
    size_t used = 0;
    switch (GetUvarint(q, end, &v[i], &used)) {
      case VarintStatus::kOk:
        q += used;
        continue;
      case VarintStatus::kTruncated:
        return absl::InvalidArgumentError(
            absl::StrCat("error reading batch ", kWhat[i], ": ",
                         q == end ? "EOF" : "unexpected EOF"));
      case VarintStatus::kOverflow:
        return absl::InvalidArgumentError(
            absl::StrCat("error reading batch ", kWhat[i],
                         ": binary: varint overflows a 64-bit integer"));
    }
  }
  batch->gen = v[0];
  batch->m = v[1];
  batch->time = v[2];
  const uint64_t size = v[3];
  if (size > kMaxBatchPayload) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid batch size ", size, ", maximum is ", kMaxBatchPayload));
  }
  const size_t header = static_cast<size_t>(q - p);
  if (!(n = in_.Ensure(header + size)).ok()) return n.status();
  if (*n < header + size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "failed to read full batch: read ", *n - header, " but wanted ", size));
  }
  batch->raw = absl::MakeConstSpan(in_.data(), header + size);
  batch->payload = batch->raw.subspan(header);
  in_.Skip(header + size);
  return true;
}

}  // namespace gentrace::format
