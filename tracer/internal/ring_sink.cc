// RingSink: reads each generation's number, frequency and time span from
// its batches, as Go's flight recorder reads them from the runtime's.
#include "tracer/internal/ring_sink.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "format/batch.h"
#include "format/gentrace_batch.h"
#include "format/header.h"
#include "format/leb128.h"

namespace gentrace::internal {
namespace {

uint64_t TicksToNs(uint64_t ticks, uint64_t freq) {
  if (freq == 0) return ticks;
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ticks) *
                               1000000000u / freq);
}

}  // namespace

void RingSink::ResetGeneration() {
  gen_ = 0;
  freq_ = 0;
  min_time_ = max_time_ = 0;
  have_span_ = false;
  span_start_ = span_end_ = 0;
}

absl::Status RingSink::Scan(absl::Span<const uint8_t> batches) {
  format::BatchReader r(batches);
  format::Batch b;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&b);
    if (!more.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("flight recorder: a write is not whole batches: ",
                       more.status().message()));
    }
    if (!*more) return absl::OkStatus();
    if (gen_ == 0) {
      gen_ = b.gen;
      min_time_ = max_time_ = b.time;
    } else if (b.gen != gen_) {
      return absl::InvalidArgumentError(
          absl::StrCat("flight recorder: a batch of generation ", b.gen,
                       " while generation ", gen_, " is being written"));
    }
    if (b.kind() == format::BatchKind::kFrequency) {
      // The payload is the batch's event type, then the frequency.
      const absl::Span<const uint8_t> p = b.payload.subspan(1);
      size_t used;
      if (format::GetUvarint(p.data(), p.data() + p.size(), &freq_, &used) !=
          format::VarintStatus::kOk) {
        freq_ = 0;
      }
    } else if (b.kind() == format::BatchKind::kExperimental &&
               b.experiment == format::kExperimentGentraceInfo) {
      // The generation's span is a record of gentrace's info batch. A
      // batch that does not decode leaves the span to the batches' times.
      format::InfoRecords info;
      if (format::DecodeInfoBatch(b.payload, &info).ok() &&
          !info.spans.empty()) {
        have_span_ = true;
        span_start_ = info.spans.front().start;
        span_end_ = info.spans.front().end;
      }
    } else if (b.kind() != format::BatchKind::kStrings &&
               b.kind() != format::BatchKind::kStacks &&
               b.kind() != format::BatchKind::kCPUSamples) {
      // Table batches carry no meaningful time.
      min_time_ = std::min(min_time_, b.time);
      max_time_ = std::max(max_time_, b.time);
    }
  }
}

absl::Status RingSink::Write(absl::Span<const uint8_t> bytes) {
  if (!header_seen_) {
    if (bytes.size() < format::kHeaderSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flight recorder: the first write has ", bytes.size(),
          " bytes, not the ", format::kHeaderSize, "-byte trace header"));
    }
    if (absl::Status s =
            ring_->SetHeader(bytes.subspan(0, format::kHeaderSize));
        !s.ok()) {
      return s;
    }
    header_seen_ = true;
    bytes_.fetch_add(format::kHeaderSize, std::memory_order_relaxed);
    bytes = bytes.subspan(format::kHeaderSize);
  } else if (gen_ == 0 && bytes.size() >= format::kHeaderSize &&
             format::ParseHeader(bytes.subspan(0, format::kHeaderSize)).ok()) {
    // A new trace (the tracer started again): a new header, between
    // generations. Batches never start with a header's 'g'.
    if (absl::Status s =
            ring_->SetHeader(bytes.subspan(0, format::kHeaderSize));
        !s.ok()) {
      return s;
    }
    bytes_.fetch_add(format::kHeaderSize, std::memory_order_relaxed);
    bytes = bytes.subspan(format::kHeaderSize);
  }
  if (bytes.empty()) return absl::OkStatus();
  if (absl::Status s = Scan(bytes); !s.ok()) return s;
  if (absl::Status s = ring_->Append(bytes); !s.ok()) return s;
  bytes_.fetch_add(bytes.size(), std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status RingSink::EndGeneration() {
  if (gen_ == 0) return absl::OkStatus();  // nothing written
  const uint64_t start = have_span_ ? span_start_ : min_time_;
  const uint64_t end = have_span_ ? span_end_ : max_time_;
  absl::Status s = ring_->EndGeneration(gen_, TicksToNs(start, freq_),
                                        TicksToNs(end, freq_));
  ResetGeneration();
  return s;
}

}  // namespace gentrace::internal
