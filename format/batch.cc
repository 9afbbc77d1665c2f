// Batch framing; see batch.h.
#include "format/batch.h"

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "format/header.h"
#include "format/leb128.h"

namespace gentrace::format {

BatchKind Batch::kind() const {
  if (experimental) return BatchKind::kExperimental;
  if (payload.empty()) return BatchKind::kEmpty;
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
  absl::StatusOr<size_t> n = in_.Ensure(kHeaderSize);
  if (!n.ok()) return n.status();
  absl::StatusOr<Version> v = ParseHeader(absl::MakeConstSpan(in_.data(), *n));
  if (v.ok()) in_.Skip(kHeaderSize);
  return v;
}

absl::StatusOr<bool> BatchReader::Next(Batch* batch) {
  absl::StatusOr<size_t> n = in_.Ensure(2);
  if (!n.ok()) return n.status();
  if (*n == 0) return false;
  batch->offset = in_.offset();
  const uint8_t type = in_.data()[0];
  if (type != kEvEventBatch && type != kEvExperimentalBatch) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "offset %d: expected a batch (EventBatch or ExperimentalBatch), got "
        "byte 0x%02x (%s)",
        batch->offset, type, EventName(type)));
  }
  batch->experimental = type == kEvExperimentalBatch;
  batch->experiment = kNoExperiment;
  in_.Skip(1);
  if (batch->experimental) {
    if (*n < 2) {
      return absl::DataLossError(absl::StrFormat(
          "offset %d: input ends before the experiment id", in_.offset()));
    }
    batch->experiment = in_.data()[0];
    in_.Skip(1);
  }
  absl::StatusOr<uint64_t> v = in_.ReadUvarint("the batch generation");
  if (!v.ok()) return v.status();
  batch->gen = *v;
  if (!(v = in_.ReadUvarint("the batch thread id")).ok()) return v.status();
  batch->m = *v;
  if (!(v = in_.ReadUvarint("the batch timestamp")).ok()) return v.status();
  batch->time = *v;
  const uint64_t size_offset = in_.offset();
  if (!(v = in_.ReadUvarint("the batch size")).ok()) return v.status();
  const uint64_t size = *v;
  if (size > kMaxBatchPayload) {
    return absl::InvalidArgumentError(
        absl::StrFormat("offset %d: invalid batch size %d, maximum is %d",
                        size_offset, size, kMaxBatchPayload));
  }
  if (!(n = in_.Ensure(size)).ok()) return n.status();
  if (*n < size) {
    return absl::DataLossError(absl::StrFormat(
        "offset %d: truncated batch: header at offset %d says %d payload "
        "bytes, only %d remain",
        in_.offset(), batch->offset, size, *n));
  }
  batch->payload = absl::MakeConstSpan(in_.data(), size);
  in_.Skip(size);
  return true;
}

}  // namespace gentrace::format
