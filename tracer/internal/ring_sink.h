// RingSink: the tracer's writer thread feeding a GenerationRing through the
// ordinary Sink interface (tracer/internal/sink.h).
#ifndef GENTRACE_TRACER_INTERNAL_RING_SINK_H_
#define GENTRACE_TRACER_INTERNAL_RING_SINK_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tracer/internal/generation_ring.h"
#include "tracer/internal/sink.h"

namespace gentrace::internal {

// A Sink that feeds a GenerationRing, for the tracer's writer thread: the
// first Write starts with the trace header; every Write after that holds
// whole batches of the current generation, whose number, clock frequency
// and time span (gentrace's info batch, else the batches' timestamps) it
// reads from the batches; EndGeneration commits the generation. A header
// written again between generations starts a new trace in the ring (the
// tracer restarted).
class RingSink : public Sink {
 public:
  explicit RingSink(GenerationRing* ring) : ring_(ring) {}
  absl::Status Write(absl::Span<const uint8_t> bytes) override;
  absl::Status EndGeneration() override;
  // The ring stays as it is (snapshots can still be taken).
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t bytes_written() const override {
    return bytes_.load(std::memory_order_relaxed);
  }

 private:
  absl::Status Scan(absl::Span<const uint8_t> batches);
  void ResetGeneration();

  GenerationRing* ring_;
  bool header_seen_ = false;
  uint64_t gen_ = 0;
  uint64_t freq_ = 0;
  uint64_t min_time_ = 0;
  uint64_t max_time_ = 0;
  bool have_span_ = false;
  uint64_t span_start_ = 0;
  uint64_t span_end_ = 0;
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_RING_SINK_H_
