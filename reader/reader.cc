// The reader's main loop; see reader.h. ReadEvent follows Go's
// (*Reader).ReadEvent:
//   1. hand out events the ordering has finished;
//   2. at the end of a generation emit a Sync, then load the next one
//      (its threads become batch cursors in a min-heap by next event time);
//   3. inject a CPU sample when it is earlier than every thread's next event;
//   4. offer the earliest thread's event to the ordering; if it is not
//      advanceable, sort the frontier and offer the others in time order;
//      if none advances the trace is broken.
#include "reader/reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "format/header.h"
#include "format/spec.h"
#include "format/zstd.h"
#include "reader/go_compat.h"
#include "reader/go_sort.h"
#include "reader/type_info.h"

namespace gentrace::reader {
namespace {

// How many goroutines a "failed to advance" message lists.
constexpr size_t kDumpLimit = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<Reader>> Reader::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<format::FdSource>> src =
      format::FdSource::Open(path);
  if (!src.ok()) return src.status();
  return FromSource(*std::move(src));
}

absl::StatusOr<std::unique_ptr<Reader>> Reader::FromBuffer(
    absl::Span<const uint8_t> data) {
  std::unique_ptr<Reader> r(new Reader());
  absl::Status s;
  if (format::LooksLikeZstd(data)) {
    s = r->Init(std::make_unique<format::ZstdSource>(
                    std::make_unique<format::SpanSource>(data)),
                {}, false);
  } else {
    s = r->Init(nullptr, data, true);
  }
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<std::unique_ptr<Reader>> Reader::FromSource(
    std::unique_ptr<format::ByteSource> source) {
  absl::StatusOr<std::unique_ptr<format::ByteSource>> src =
      format::MaybeDecompress(std::move(source));
  if (!src.ok()) return src.status();
  std::unique_ptr<Reader> r(new Reader());
  absl::Status s = r->Init(*std::move(src), {}, false);
  if (!s.ok()) return s;
  return r;
}

Reader::~Reader() = default;

absl::Status Reader::Init(std::unique_ptr<format::ByteSource> source,
                          absl::Span<const uint8_t> buffer, bool zero_copy) {
  source_ = std::move(source);
  if (zero_copy) {
    batches_ = std::make_unique<format::BatchReader>(buffer);
  } else {
    batches_ = std::make_unique<format::BatchReader>(source_.get());
  }
  absl::StatusOr<format::Version> v = batches_->ReadHeader();
  if (!v.ok()) return v.status();
  version_ = *v;
  gens_ = std::make_unique<GenerationReader>(batches_.get(), zero_copy);
  return absl::OkStatus();
}

bool Reader::Fail(absl::Status s) {
  status_ = std::move(s);
  done_ = true;
  return false;
}

size_t Reader::MemoryUsage() const {
  return gen_.MemoryUsage() + order_.MemoryUsage() +
         cursors_.capacity() * sizeof(BatchCursor) +
         frontier_.capacity() * sizeof(BatchCursor*) +
         (source_ ? 256 << 10 : 0);
}

bool Reader::CheckIds(Event* ev) {
  if (ev->type_ == kEvSync) return true;
  // Every string and stack id an event refers to must be in its
  // generation's tables (Go's validateTableIDs).
  const TypeInfo& ti = GetTypeInfo(ev->type_);
  for (int8_t i : ti.stacks) {
    if (i < 0) break;
    if (!gen_.HasStack(ev->args_[i])) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("found invalid stack ID ", ev->args_[i], " for event ",
                       ti.spec->name)));
    }
  }
  for (int8_t i : ti.strings) {
    if (i < 0) break;
    if (gen_.FindString(ev->args_[i]) == nullptr) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("found invalid string ID ", ev->args_[i], " for event ",
                       ti.spec->name)));
    }
  }
  // Go 1.23 does not check these two, but its accessors (and go tool
  // trace) then crash; newer Go checks the sample's stack.
  if (ev->type_ == format::kEvCPUSample && !gen_.HasStack(ev->args_[0])) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "found invalid stack ID ", ev->args_[0], " for event CPUSample")));
  }
  // A status that only its low byte made valid (Go's accessors index their
  // tables with the whole value).
  if ((ev->type_ == format::kEvGoStatus ||
       ev->type_ == format::kEvGoStatusStack) &&
      ev->args_[2] > format::kGoWaiting) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("invalid status for goroutine ",
                     static_cast<int64_t>(ev->args_[0]), ": ", ev->args_[2])));
  }
  if (ev->type_ == format::kEvProcStatus &&
      ev->args_[1] > format::kProcSyscallAbandoned) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("invalid status for proc ",
                     static_cast<int64_t>(ev->args_[0]), ": ", ev->args_[1])));
  }
  if (ev->type_ == format::kEvSTWEnd &&
      gen_.FindString(ev->args_[0]) == nullptr) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "found invalid string ID ", ev->args_[0],
        " for event STWEnd (the kind of its STWBegin, looked up in this "
        "generation)")));
  }
  return true;
}

bool Reader::LoadGeneration() {
  // Names the ordering keeps must not point into the storage about to be
  // reused.
  order_.CarryNames();
  frontier_.clear();
  cursors_.clear();
  absl::StatusOr<bool> more = gens_->Next(&gen_);
  if (!more.ok()) {
    have_gen_ = false;
    return Fail(more.status());
  }
  if (!*more) {
    have_gen_ = false;
    done_ = true;
    return false;
  }
  have_gen_ = true;
  next_sample_ = 0;
  num_samples_ = gen_.cpu_samples().size();
  const std::vector<Generation::Thread>& threads = gen_.threads();
  cursors_.reserve(threads.size());
  for (size_t i = 0; i < threads.size(); ++i) {
    cursors_.emplace_back(&gen_, &threads[i], Ordering::kNoState);
    absl::Status err;
    if (!cursors_.back().Next(&err)) {
      if (!err.ok()) return Fail(err);
      cursors_.pop_back();  // no events in these batches
      continue;
    }
    HeapInsert(&frontier_, &cursors_.back());
  }
  emitted_sync_ = false;
  return true;
}

bool Reader::TryAdvance(size_t i, Event* out) {
  BatchCursor* bc = frontier_[i];
  absl::Status& err = scratch_;
  if (!order_.Advance(&bc->ev(), bc->m(), bc->mutable_mstate(), gen_.number(),
                      out, &err)) {
    if (!err.ok()) FailAdvance(bc);
    return false;
  }
  // Move the cursor on.
  if (bc->Next(&err)) {
    HeapUpdate(&frontier_, i);
  } else {
    if (!err.ok()) {
      Fail(err);
      return false;
    }
    HeapRemove(&frontier_, i);
  }
  return true;
}

std::string Reader::FrontierDump() const {
  std::string out;
  for (const BatchCursor* bc : frontier_) {
    const Event& ev = bc->ev();
    const TypeInfo& ti = GetTypeInfo(ev.type());
    absl::StrAppend(&out, "M ", static_cast<int64_t>(bc->m()), " [",
                    ti.spec->name, " time=", ev.time());
    for (int a = 0; a < ti.num_args; ++a) {
      absl::StrAppend(&out, " ", ti.arg_names[a], "=", ev.arg(a));
    }
    out += "]\n";
  }
  return out;
}

bool Reader::ReadEvent(Event* ev) {
  // The common case first: nothing queued, no CPU sample due, and the
  // earliest thread's event advances.
  if (ABSL_PREDICT_TRUE(!done_ && order_.empty() && !frontier_.empty())) {
    BatchCursor* bc = frontier_[0];
    if (ABSL_PREDICT_TRUE(next_sample_ == num_samples_ ||
                          gen_.cpu_samples()[next_sample_].time >=
                              bc->time())) {
      if (order_.Advance(&bc->ev(), bc->m(), bc->mutable_mstate(),
                         gen_.number(), ev, &scratch_)) {
        if (ABSL_PREDICT_TRUE(bc->Next(&scratch_))) {
          HeapFixTop(&frontier_);
        } else {
          if (!scratch_.ok()) return Fail(scratch_);
          HeapRemove(&frontier_, 0);
        }
        return Deliver(ev);
      }
      if (!scratch_.ok()) return FailAdvance(bc);
      return AdvanceOthers(ev);
    }
  }
  return ReadEventSlow(ev);
}

bool Reader::FailAdvance(const BatchCursor* bc) {
  return Fail(
      absl::Status(scratch_.code(),
                   absl::StrCat(scratch_.message(), " (at ",
                                format::EventName(bc->ev().type()),
                                " on thread ", static_cast<int64_t>(bc->m()),
                                ", generation ", gen_.number(), ")")));
}

bool Reader::AdvanceOthers(Event* ev) {
  // Rare: the earliest event cannot advance yet. Sort the heap (a sorted
  // array is still a heap) and try the others from the earliest on.
  GoSortFunc(frontier_.data(), frontier_.size(),
             [](const BatchCursor* a, const BatchCursor* b) {
               return a->time() < b->time();
             });
  for (size_t i = 1; i < frontier_.size(); ++i) {
    if (TryAdvance(i, ev)) return Deliver(ev);
    if (done_) return false;
  }
  return Fail(absl::InvalidArgumentError(absl::StrCat(
      "broken trace: failed to advance: frontier:\n[gen=", gen_.number(),
      "]\n\n", FrontierDump(), "\n", order_.Dump(kDumpLimit))));
}

bool Reader::ReadEventSlow(Event* ev) {
  if (done_) return false;
  // 1. Events the ordering has finished.
  if (order_.Next(ev)) return Deliver(ev);

  // 2. End of a generation: Sync, then the next generation.
  if (frontier_.empty() && next_sample_ == gen_.cpu_samples().size()) {
    if (!emitted_sync_) {
      emitted_sync_ = true;
      *ev = Event();
      ev->gen_ = &gen_;
      ev->type_ = kEvSync;
      ev->time_ = last_ts_;
      ++syncs_;
      return Deliver(ev);
    }
    if (!LoadGeneration()) return false;
  }

  // 3. A CPU sample comes first if it is earlier than every thread.
  const std::vector<CpuSample>& samples = gen_.cpu_samples();
  if (next_sample_ < samples.size() &&
      (frontier_.empty() ||
       samples[next_sample_].time < frontier_[0]->time())) {
    const CpuSample& s = samples[next_sample_++];
    *ev = Event();
    ev->gen_ = &gen_;
    ev->type_ = format::kEvCPUSample;
    ev->time_ = s.time;
    ev->m_ = s.m;
    ev->p_ = s.p;
    ev->g_ = s.g;
    ev->args_[0] = s.stack;
    return Deliver(ev);
  }

  // 4. Advance the earliest thread, or else any thread, in time order.
  if (frontier_.empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("broken trace: frontier is empty:\n[gen=", gen_.number(),
                     "]\n\n", FrontierDump(), "\n", order_.Dump(kDumpLimit))));
  }
  if (TryAdvance(0, ev)) return Deliver(ev);
  if (done_) return false;
  return AdvanceOthers(ev);
}

}  // namespace gentrace::reader
