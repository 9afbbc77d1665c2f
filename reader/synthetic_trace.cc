// Synthetic traces; see synthetic_trace.h.
#include "reader/synthetic_trace.h"

#include <vector>

#include "absl/strings/string_view.h"
#include "format/batch.h"
#include "format/header.h"
#include "format/leb128.h"
#include "format/spec.h"

namespace gentrace::reader {
namespace {

using namespace format;  // event types

constexpr size_t kBatchLimit = 60000;  // payload bytes before a new batch

// String ids of the tables.
enum : uint64_t {
  kStrFunc1 = 1,
  kStrFunc2,
  kStrFile,
  kStrRegion,
  kStrKey,
  kStrValue,
  kStrReason,
};

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  // Starts a batch for thread m at time `ticks`.
  void Begin(uint64_t gen, uint64_t m, uint64_t ticks) {
    header_at_ = out_->size();
    out_->resize(header_at_ + kMaxBatchHeaderSize);
    header_len_ = WriteBatchHeader(
        reinterpret_cast<uint8_t*>(out_->data()) + header_at_, gen, m, ticks);
    out_->resize(header_at_ + header_len_);
    gen_ = gen;
    m_ = m;
    last_ = ticks;
  }
  void End() {
    PatchBatchSize(reinterpret_cast<uint8_t*>(out_->data()) + header_at_,
                   header_len_, out_->size() - header_at_ - header_len_);
  }
  size_t payload() const { return out_->size() - header_at_ - header_len_; }

  void Byte(uint8_t b) { out_->push_back(static_cast<char>(b)); }
  void Varint(uint64_t v) {
    uint8_t buf[kMaxVarintLen];
    out_->append(reinterpret_cast<char*>(buf), PutUvarint(buf, v) - buf);
  }
  // A timed event of this thread at `ticks`.
  void Event(uint8_t type, uint64_t ticks, std::initializer_list<uint64_t> a) {
    if (payload() > kBatchLimit) {
      End();
      Begin(gen_, m_, ticks);
    }
    Byte(type);
    Varint(ticks - last_);
    last_ = ticks;
    for (uint64_t v : a) Varint(v);
  }
  void String(uint64_t id, absl::string_view s) {
    Byte(kEvString);
    Varint(id);
    Varint(s.size());
    out_->append(s.data(), s.size());
  }

 private:
  std::string* out_;
  size_t header_at_ = 0;
  size_t header_len_ = 0;
  uint64_t gen_ = 0, m_ = 0, last_ = 0;
};

}  // namespace

uint64_t SyntheticTraceEvents(const SyntheticTraceOptions& o) {
  const uint64_t per_thread = 2 + 9 * uint64_t(o.rounds_per_generation);
  return uint64_t(o.generations) *
         (per_thread * o.threads + o.cpu_samples_per_generation + 1);
}

std::string SyntheticTrace(const SyntheticTraceOptions& o) {
  std::string out = EncodeHeader(Version::kGo123);
  Writer w(&out);
  uint64_t ticks = 1000;
  for (int gen = 1; gen <= o.generations; ++gen) {
    const uint64_t gen_start = ticks;
    uint64_t end = ticks;
    for (int t = 0; t < o.threads; ++t) {
      const uint64_t m = 100 + t, p = t, g = 1 + t;
      uint64_t now = gen_start + t;
      w.Begin(gen, m, now);
      w.Event(kEvProcStatus, ++now, {p, kProcRunning});
      w.Event(kEvGoStatus, ++now, {g, m, kGoRunning});
      uint64_t gseq = 0, pseq = 0;
      for (int r = 0; r < o.rounds_per_generation; ++r) {
        w.Event(kEvUserRegionBegin, now += 3, {0, kStrRegion, 1});
        w.Event(kEvUserLog, now += 2, {0, kStrKey, kStrValue, 0});
        w.Event(kEvUserRegionEnd, now += 5, {0, kStrRegion, 1});
        w.Event(kEvGoBlock, now += 1, {kStrReason, 2});
        w.Event(kEvGoUnblock, now += 40, {g, ++gseq, 2});
        w.Event(kEvGoStart, now += 2, {g, ++gseq});
        w.Event(kEvGoSyscallBegin, now += 7, {++pseq, 1});
        w.Event(kEvGoSyscallEnd, now += 9, {});
        w.Event(kEvHeapAlloc, now += 1, {4096 * uint64_t(r)});
      }
      w.End();
      if (now > end) end = now;
    }
    // Tables: frequency, stacks, strings, CPU samples.
    w.Begin(gen, kNoThread, 0);
    w.Byte(kEvFrequency);
    w.Varint(15625000);
    w.End();
    w.Begin(gen, kNoThread, 0);
    w.Byte(kEvStacks);
    w.Byte(kEvStack);
    w.Varint(1);
    w.Varint(2);
    for (uint64_t v :
         std::initializer_list<uint64_t>{0x401000, kStrFunc1, kStrFile, 10,
                                         0x402000, kStrFunc2, kStrFile, 20}) {
      w.Varint(v);
    }
    w.Byte(kEvStack);
    w.Varint(2);
    w.Varint(1);
    for (uint64_t v :
         std::initializer_list<uint64_t>{0x403000, kStrFunc2, kStrFile, 30}) {
      w.Varint(v);
    }
    w.End();
    w.Begin(gen, kNoThread, 0);
    w.Byte(kEvStrings);
    w.String(kStrFunc1, "main.worker");
    w.String(kStrFunc2, "main.main");
    w.String(kStrFile, "/src/synthetic/main.go");
    w.String(kStrRegion, "round");
    w.String(kStrKey, "key");
    w.String(kStrValue, "value");
    w.String(kStrReason, "chan receive");
    w.End();
    if (o.cpu_samples_per_generation > 0) {
      w.Begin(gen, kNoThread, 0);
      w.Byte(kEvCPUSamples);
      for (int s = 0; s < o.cpu_samples_per_generation; ++s) {
        w.Byte(kEvCPUSample);
        w.Varint(gen_start +
                 (end - gen_start) * s / o.cpu_samples_per_generation + 1);
        w.Varint(100 + s % o.threads);
        w.Varint(s % o.threads);
        w.Varint(1 + s % o.threads);
        w.Varint(1);
      }
      w.End();
    }
    ticks = end + 100;
  }
  return out;
}

}  // namespace gentrace::reader
