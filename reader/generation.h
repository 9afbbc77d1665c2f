// Generations: a trace split into its self-contained parts, with their
// tables decoded and their event batches grouped by thread, but no event
// interpreted yet (Go's internal/trace generation.go and batch.go).
//
// GenerationReader reads batches until the generation number changes. The
// first batch of the next generation has then been read already; it is kept
// ("spilled") and starts the next generation. When reading fails after the
// current generation has begun, the error is held back until that
// generation has been delivered (Go 1.23's spillErr), so everything complete
// before a broken tail can still be used.
//
// This is also the level for tools that cut or filter traces without
// re-encoding them: every batch keeps its exact input bytes.
#ifndef GENTRACE_READER_GENERATION_H_
#define GENTRACE_READER_GENERATION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/batch.h"
#include "format/spec.h"
#include "reader/tables.h"

namespace gentrace::reader {

// Batches as format's BatchReader reads them (Go's framing, Go's errors).
using Batch = format::Batch;
using BatchKind = format::BatchKind;

// A CPU profile sample. time is already in nanoseconds; g is kNoGoroutine
// when the wire said 0.
struct CpuSample {
  int64_t time = 0;
  uint64_t m = 0;
  uint64_t p = 0;
  uint64_t g = 0;
  uint64_t stack = 0;
};

// An experimental batch's data, as Go's ExperimentalBatch.
struct ExperimentalBatch {
  uint8_t experiment = 0;
  uint64_t thread = 0;
  absl::Span<const uint8_t> data;
};

// A stack of a generation: frames leaf first.
class StackView {
 public:
  StackView() = default;
  size_t size() const { return refs_.size(); }
  bool empty() const { return refs_.empty(); }
  StackFrame operator[](size_t i) const;
  // The generation-local id (0: no stack).
  uint64_t id() const { return id_; }

 private:
  friend class Generation;
  StackView(const class Generation* gen, uint64_t id,
            absl::Span<const uint32_t> refs)
      : gen_(gen), id_(id), refs_(refs) {}
  const class Generation* gen_ = nullptr;
  uint64_t id_ = 0;
  absl::Span<const uint32_t> refs_;
};

// The data of one generation. Views it hands out (strings, stacks, batch
// bytes) stay valid until it is loaded again or destroyed.
class Generation {
 public:
  Generation();
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  uint64_t number() const { return number_; }
  uint64_t ticks_per_second() const { return ticks_per_second_; }
  // Go's frequency: nanoseconds per tick, 1/(ticks_per_second/1e9).
  double ns_per_tick() const { return ns_per_tick_; }

  // Every batch, in input order.
  const std::vector<Batch>& batches() const { return batches_; }

  // The event batches of each thread (kNoThread included), threads in
  // order of their first batch, batches in input order.
  struct Thread {
    uint64_t m = 0;
    std::vector<uint32_t> batches;  // indices into batches()
  };
  const std::vector<Thread>& threads() const { return threads_; }

  // CPU samples, sorted by time.
  const std::vector<CpuSample>& cpu_samples() const { return cpu_samples_; }

  // Experimental batches in input order; or those of one experiment.
  const std::vector<ExperimentalBatch>& experimental_batches() const {
    return experimental_;
  }
  std::vector<ExperimentalBatch> ExperimentalBatchesOf(uint8_t exp) const;
  // True if the generation has an experimental batch of `exp` (Go's
  // ExperimentalEvent.Data is then non-nil).
  bool HasExperiment(uint8_t exp) const;

  // String id -> string; nullptr if the id is not in the table. Id 0 is
  // always the empty string.
  const absl::string_view* FindString(uint64_t id) const {
    return strings_.Find(id);
  }
  // Stack id -> stack; false if absent. Id 0 is the empty stack.
  bool FindStack(uint64_t id, StackView* out) const;
  bool HasStack(uint64_t id) const { return stacks_.Find(id) != nullptr; }
  // Frame by PC (the first frame with this PC in the generation).
  const FrameRecord* FindFrame(uint64_t pc) const;

  size_t num_strings() const { return strings_.size(); }
  size_t num_stacks() const { return stacks_.size(); }
  size_t num_frames() const { return frames_.size(); }
  // Input bytes of this generation's batches.
  uint64_t size_bytes() const { return size_bytes_; }
  // Approximate heap bytes held by this generation (storage and tables).
  size_t MemoryUsage() const;

  // Calls f(id, string) for each string table entry (id order).
  template <typename F>
  void ForEachString(F f) const {
    strings_.ForEachSorted(f);
  }
  // Calls f(id, StackView) for each stack (id order).
  template <typename F>
  void ForEachStack(F f) const {
    stacks_.ForEachSorted([&](uint64_t id, const StackRecord& r) {
      f(id,
        StackView(this, id,
                  absl::MakeConstSpan(frame_refs_.data() + r.first, r.count)));
    });
  }

 private:
  friend class GenerationReader;
  friend class StackView;

  void Reset();
  // Copies n bytes into the generation's storage.
  uint8_t* Store(const uint8_t* data, size_t n);
  // Adds a batch (raw points to stable storage). Errors are Go's.
  absl::Status AddBatch(const Batch& b);
  absl::Status AddStrings(const Batch& b);
  absl::Status AddStacks(const Batch& b);
  absl::Status AddCpuSamples(const Batch& b);
  absl::Status AddFrequency(const Batch& b);
  // Checks the generation once all batches are in.
  absl::Status Finish();

  uint64_t number_ = 0;
  uint64_t ticks_per_second_ = 0;
  double ns_per_tick_ = 0;
  bool have_frequency_ = false;
  uint64_t size_bytes_ = 0;
  std::vector<Batch> batches_;
  std::vector<Thread> threads_;
  absl::flat_hash_map<uint64_t, uint32_t> thread_index_;
  std::vector<CpuSample> cpu_samples_;
  std::vector<ExperimentalBatch> experimental_;
  IdTable<absl::string_view> strings_;
  IdTable<StackRecord> stacks_;
  std::vector<uint32_t> frame_refs_;
  std::vector<FrameRecord> frames_;
  absl::flat_hash_map<uint64_t, uint32_t> frame_index_;  // pc -> frames_

  // Storage for batch bytes when reading from a stream, kept across
  // generations for reuse.
  struct Chunk {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
  };
  std::vector<Chunk> chunks_;
  size_t chunk_ = 0;       // chunk being filled
  size_t chunk_used_ = 0;  // bytes used in it
};

// Splits a trace into generations. Reads batches from a BatchReader that
// has read the header.
class GenerationReader {
 public:
  // With `zero_copy`, batches point into the BatchReader's buffer, which
  // must be memory that outlives every Generation read from it.
  GenerationReader(format::BatchReader* in, bool zero_copy);

  // Loads the next generation into *gen. Returns true when one was loaded,
  // false at the end of the trace. An error means nothing was loaded; it
  // is either a problem inside the generation or the held-back error of a
  // broken tail (the previous Next() delivered a complete generation).
  absl::StatusOr<bool> Next(Generation* gen);

  // The error that ends the trace after the generation Next() returned,
  // if reading stopped there (OK otherwise).
  const absl::Status& pending_error() const { return spill_error_; }

  uint64_t offset() const { return in_->offset(); }

 private:
  format::BatchReader* in_;
  bool zero_copy_;
  bool started_ = false;
  bool have_spill_ = false;
  Batch spill_;
  std::vector<uint8_t> spill_bytes_;
  absl::Status spill_error_;
};

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_GENERATION_H_
