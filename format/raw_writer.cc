// Binary writer for raw events; see raw_writer.h.
#include "format/raw_writer.h"

#include "format/header.h"

namespace gentrace::format {

absl::Status RawWriter::WriteHeader(Version v) {
  return out_->WriteString(EncodeHeader(v));
}

absl::Status RawWriter::EndHeldBatch() {
  holding_ = false;
  held_batch_.args[3] = held_events_.size();
  scratch_.clear();
  absl::Status st = AppendRawEvent(held_batch_, &scratch_);
  if (st.ok()) st = out_->WriteString(scratch_);
  if (st.ok()) st = out_->WriteString(held_events_);
  held_events_.clear();
  return st;
}

absl::Status RawWriter::Write(const RawEvent& ev) {
  const bool is_batch =
      ev.type == kEvEventBatch || ev.type == kEvExperimentalBatch;
  if (is_batch && holding_) {
    absl::Status st = EndHeldBatch();
    if (!st.ok()) return st;
  }
  if (!holding_ && options_.fill_zero_batch_sizes && ev.type == kEvEventBatch &&
      ev.args.size() == 4 && ev.args[3] == 0) {
    holding_ = true;
    held_batch_ = ev;
    held_events_.clear();
    return absl::OkStatus();
  }
  // Encode into scratch first: a failed event leaves nothing behind.
  scratch_.clear();
  absl::Status st = AppendRawEvent(ev, &scratch_);
  if (!st.ok()) return st;
  if (holding_) {
    held_events_.append(scratch_);
    return absl::OkStatus();
  }
  return out_->WriteString(scratch_);
}

absl::Status RawWriter::Finish() {
  if (holding_) {
    absl::Status st = EndHeldBatch();
    if (!st.ok()) return st;
  }
  return out_->Flush();
}

namespace {

// Holds each EventBatch's events until the batch ends, to write its size.
class BinaryNormalizer {
 public:
  explicit BinaryNormalizer(ByteSink* out) : out_(out) {}

  absl::Status Run(ByteSource* in) {
    RawReader reader(in);
    absl::StatusOr<Version> v = reader.ReadHeader();
    if (!v.ok()) return v.status();
    absl::Status st = out_->WriteString(EncodeHeader(*v));
    RawEvent ev;
    while (st.ok()) {
      const uint64_t start = reader.offset();
      absl::StatusOr<bool> more = reader.Next(&ev);
      if (!more.ok()) {
        // Write what came before, sizes as given.
        absl::Status ignored = EndBatch(start, /*complete=*/false);
        return more.status();
      }
      if (!*more) {
        st = EndBatch(start, /*complete=*/true);
        break;
      }
      st = Add(ev, start, reader.offset());
    }
    if (!st.ok()) return st;
    return out_->Flush();
  }

 private:
  absl::Status Add(const RawEvent& ev, uint64_t start, uint64_t end) {
    const bool is_batch =
        ev.type == kEvEventBatch || ev.type == kEvExperimentalBatch;
    if (is_batch) {
      absl::Status st = EndBatch(start, /*complete=*/true);
      if (!st.ok()) return st;
    }
    scratch_.clear();
    absl::Status st = AppendRawEvent(ev, &scratch_);
    if (!st.ok()) return st;
    if (ev.type == kEvEventBatch) {
      open_ = true;
      batch_ = ev;
      payload_start_ = end;
      payload_.clear();
      return absl::OkStatus();
    }
    if (open_) {
      payload_.append(scratch_);
      // Past the written size, or past what any batch may hold: the size
      // was wrong, so it stays as written and nothing more needs holding.
      const uint64_t original = end - payload_start_;
      if (original > batch_.args[3] || original > kMaxBatchPayload) {
        return EndBatch(end, /*complete=*/false);
      }
      return absl::OkStatus();
    }
    return out_->WriteString(scratch_);
  }

  // Writes the open batch, if any: header, then its held events. `end` is
  // where its payload ended in the input.
  absl::Status EndBatch(uint64_t end, bool complete) {
    if (!open_) return absl::OkStatus();
    open_ = false;
    if (complete && end - payload_start_ == batch_.args[3]) {
      batch_.args[3] = payload_.size();
    }
    scratch_.clear();
    absl::Status st = AppendRawEvent(batch_, &scratch_);
    if (st.ok()) st = out_->WriteString(scratch_);
    if (st.ok()) st = out_->WriteString(payload_);
    payload_.clear();
    return st;
  }

  ByteSink* out_;
  std::string scratch_;
  bool open_ = false;  // an EventBatch whose events are being held
  RawEvent batch_;
  uint64_t payload_start_ = 0;  // input offset after its header
  std::string payload_;         // its events, re-encoded
};

}  // namespace

absl::Status NormalizeBinary(ByteSource* in, ByteSink* out) {
  return BinaryNormalizer(out).Run(in);
}

}  // namespace gentrace::format
