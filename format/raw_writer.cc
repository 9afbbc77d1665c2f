// Binary writer for raw events; see raw_writer.h.
#include "format/raw_writer.h"

#include "format/header.h"

namespace gentrace::format {

absl::Status RawWriter::WriteHeader(Version v) {
  return out_->Write(EncodeHeader(v));
}

absl::Status RawWriter::EndHeldBatch() {
  holding_ = false;
  held_batch_.args[3] = held_events_.size();
  scratch_.clear();
  absl::Status st = AppendRawEvent(held_batch_, &scratch_);
  if (st.ok()) st = out_->Write(scratch_);
  if (st.ok()) st = out_->Write(held_events_);
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
  return out_->Write(scratch_);
}

absl::Status RawWriter::Finish() {
  if (holding_) {
    absl::Status st = EndHeldBatch();
    if (!st.ok()) return st;
  }
  return out_->Flush();
}

}  // namespace gentrace::format
