// libFuzzer target: the flight recorder's ring file reader (and the ring's
// own crash-time walker), two ways.
//
// Raw (first byte even): the input is a ring region behind a valid file
// header; optionally every record-like header in it gets its position,
// commit word and checksum repaired, so mutations reach the generation and
// run logic. RecoverRingFile must never crash, and whatever it returns must
// hold together: consecutive generation numbers, pieces inside the file
// adding up to each generation's size, WriteRecoveredTrace writing exactly
// trace_bytes(). The same region, damaged or not, through the file header
// checks (DecodeRingFileHeader over the raw input) must fail cleanly.
//
// Structured (first byte odd): the input is a program for a real
// GenerationRing (appends, generation ends, gaps, restarts) followed by
// damage (bytes flipped in its memory). A model keeps every committed
// generation's bytes. Without damage, WriteTo writes exactly the held
// window and recovery from the ring's image ends at the newest held
// generation and covers the window; with damage, every generation that
// recovery or the crash snapshot still delivers is byte for byte the
// model's, and they are consecutive.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "format/byte_sink.h"
#include "format/crc32c.h"
#include "format/header.h"
#include "format/ring_file.h"
#include "tests/fuzz/fuzz_check.h"
#include "tracer/internal/generation_ring.h"

namespace gentrace {
namespace {

using format::RecoveredGeneration;
using format::RingRecovery;

constexpr uint64_t kSession = 0x5EED5EED5EEDull;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// Checks what recovery returned against the file it read.
void CheckRecovery(const RingRecovery& r, absl::Span<const uint8_t> file) {
  FUZZ_CHECK(!r.generations.empty(), "ok without generations");
  uint64_t total = r.header.trace_header_size;
  for (size_t i = 0; i < r.generations.size(); ++i) {
    const RecoveredGeneration& g = r.generations[i];
    if (i > 0) {
      FUZZ_CHECK(g.gen == r.generations[i - 1].gen + 1,
                 "generations %llu then %llu",
                 (unsigned long long)r.generations[i - 1].gen,
                 (unsigned long long)g.gen);
      FUZZ_CHECK(g.first_seq == r.generations[i - 1].first_seq +
                                    r.generations[i - 1].records + 1,
                 "records of consecutive generations not consecutive");
    }
    uint64_t n = 0;
    for (const format::RingPiece& p : g.pieces) {
      FUZZ_CHECK(p.offset >= format::kRingFileHeaderSize &&
                     p.offset <= file.size() &&
                     file.size() - p.offset >= p.length,
                 "piece outside the file");
      n += p.length;
    }
    FUZZ_CHECK(n == g.bytes, "pieces %llu bytes, generation %llu",
               (unsigned long long)n, (unsigned long long)g.bytes);
    total += g.bytes;
  }
  FUZZ_CHECK(total == r.trace_bytes(), "trace_bytes");
  std::string out;
  format::StringSink sink(&out);
  FUZZ_CHECK(format::WriteRecoveredTrace(r, file, &sink).ok(), "write");
  FUZZ_CHECK(out.size() == total, "wrote %zu of %llu", out.size(),
             (unsigned long long)total);
}

// Makes every header-like thing in the region (magic in place) a committed
// record with a matching position and checksum.
void Repair(uint8_t* region, uint64_t size) {
  const uint32_t seed = format::RingSessionSeed(kSession);
  for (uint64_t off = 0; off + format::kRingMinRecord <= size; off += 8) {
    uint8_t* r = region + off;
    uint32_t magic;
    std::memcpy(&magic, r + 40, 4);
    if (magic != format::kRingRecordMagic) continue;
    uint64_t seq, pos;
    uint32_t len;
    std::memcpy(&seq, r + 8, 8);
    std::memcpy(&pos, r + 16, 8);
    std::memcpy(&len, r + 32, 4);
    pos = (pos / size) * size + off;
    std::memcpy(r + 16, &pos, 8);
    len = static_cast<uint32_t>(
        std::min<uint64_t>(len, format::RingRecordRoom(off, size)));
    std::memcpy(r + 32, &len, 4);
    r[38] = r[39] = 0;
    uint32_t crc = format::Crc32cExtend(seed, r + 8, 36);
    crc = format::Crc32cExtend(crc, r + 48, len);
    std::memcpy(r + 44, &crc, 4);
    const uint64_t commit = seq ^ format::kRingCommitKey;
    std::memcpy(r, &commit, 8);
  }
}

void Raw(const uint8_t* data, size_t size) {
  // The raw input as a whole file too (header checks).
  (void)format::RecoverRingFile(absl::MakeConstSpan(data, size));
  if (size < 3) return;
  const uint64_t region = format::kRingRegionAlign * (1 + data[1] % 4);
  const bool repair = data[2] & 1;
  std::vector<uint8_t> file(format::kRingFileHeaderSize + region, 0);
  format::EncodeRingFileHeader(file.data(), region, kSession);
  const std::string th = format::EncodeHeader(format::Version::kGo123);
  format::SetRingTraceHeader(file.data(), Bytes(th));
  std::memcpy(file.data() + format::kRingFileHeaderSize, data + 3,
              std::min<size_t>(size - 3, region));
  if (repair) Repair(file.data() + format::kRingFileHeaderSize, region);
  absl::StatusOr<RingRecovery> r = format::RecoverRingFile(file);
  if (r.ok()) CheckRecovery(*r, file);
}

// Reads the input a byte at a time (zeros past its end).
class Input {
 public:
  Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool more() const { return i_ < n_; }
  uint8_t Byte() { return i_ < n_ ? d_[i_++] : 0; }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t i_ = 0;
};

// Bytes that differ between generations and appends.
std::string Pattern(uint64_t gen, uint64_t k, size_t n) {
  static const std::string kBase = [] {
    std::string b(1 << 16, 0);
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = static_cast<char>(i * 7 + i / 251);
    return b;
  }();
  const size_t start = (gen * 131 + k * 17) % (kBase.size() / 2);
  return kBase.substr(start, std::min(n, kBase.size() - start));
}

std::string Expected(const std::string& header,
                     const std::map<uint64_t, std::string>& model,
                     uint64_t first, uint64_t last) {
  std::string s = header;
  for (uint64_t g = first; g <= last; ++g) {
    auto it = model.find(g);
    FUZZ_CHECK(it != model.end(), "generation %llu not in the model",
               (unsigned long long)g);
    s += it->second;
  }
  return s;
}

class StringSinkForRing : public internal::Sink {
 public:
  absl::Status Write(absl::Span<const uint8_t> b) override {
    data.append(reinterpret_cast<const char*>(b.data()), b.size());
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }
  uint64_t bytes_written() const override { return data.size(); }
  std::string data;
};

void Structured(const uint8_t* data, size_t size) {
  Input in(data + 1, size - 1);
  internal::GenerationRingOptions o;
  o.max_bytes = 64 << 10;
  o.min_age = absl::Nanoseconds(1 + in.Byte() * 1000);
  o.max_generations = 1 + in.Byte() % 16;
  o.writer_wait = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<internal::GenerationRing>> made =
      internal::GenerationRing::Create(o);
  FUZZ_CHECK(made.ok(), "create");
  internal::GenerationRing* ring = made->get();
  const std::string header = format::EncodeHeader(format::Version::kGo123);
  FUZZ_CHECK(ring->SetHeader(Bytes(header)).ok(), "header");

  std::map<uint64_t, std::string> model;  // committed, this trace
  std::string active;
  uint64_t next_gen = 1, appends = 0;
  std::vector<std::pair<uint32_t, uint8_t>> damage;
  int ops = 0;
  while (in.more() && ops++ < 400) {
    const uint8_t op = in.Byte();
    switch (op % 8) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const size_t n = 1 + in.Byte() * (op % 4 == 3 ? 61 : 5);
        const std::string b = Pattern(next_gen, appends++, n);
        FUZZ_CHECK(ring->Append(Bytes(b)).ok(), "append");
        active += b;
        break;
      }
      case 4:
      case 5: {
        if (active.empty()) break;
        if (op % 8 == 5) next_gen += 1 + in.Byte() % 3;  // a gap
        const uint64_t before = ring->stats().generations_committed;
        FUZZ_CHECK(ring->EndGeneration(next_gen, next_gen * 1000,
                                       next_gen * 1000 + 999)
                       .ok(),
                   "end");
        if (ring->stats().generations_committed > before) {
          model[next_gen] = active;
        }
        active.clear();
        ++next_gen;
        break;
      }
      case 6:
        if (!active.empty()) break;  // only between generations
        FUZZ_CHECK(ring->SetHeader(Bytes(header)).ok(), "restart");
        model.clear();
        break;
      case 7: {
        const uint32_t at = (in.Byte() << 8 | in.Byte()) % ring->image().size();
        damage.emplace_back(at, static_cast<uint8_t>(1 | in.Byte()));
        break;
      }
    }
  }

  const internal::GenerationRingStats st = ring->stats();
  std::vector<uint8_t> image(ring->image().begin(), ring->image().end());
  if (st.generations_held > 0) {
    StringSinkForRing sink;
    absl::StatusOr<internal::SnapshotInfo> info = ring->WriteTo(&sink);
    FUZZ_CHECK(info.ok(), "WriteTo: %s", info.status().ToString().c_str());
    FUZZ_CHECK(info->first_gen == st.first_gen && info->last_gen == st.last_gen,
               "window");
    FUZZ_CHECK(sink.data == Expected(header, model, st.first_gen, st.last_gen),
               "WriteTo bytes");
    absl::StatusOr<RingRecovery> r = format::RecoverRingFile(image);
    FUZZ_CHECK(r.ok(), "recover: %s", r.status().ToString().c_str());
    CheckRecovery(*r, image);
    FUZZ_CHECK(r->generations.back().gen == st.last_gen, "newest");
    FUZZ_CHECK(r->generations.front().gen <= st.first_gen, "window covered");
  }
  if (damage.empty()) return;

  // Damage the file image and the live ring the same way.
  uint8_t* live = const_cast<uint8_t*>(ring->image().data());
  for (const auto& [at, x] : damage) {
    image[at] ^= x;
    if (at >= format::kRingFileHeaderSize) live[at] ^= x;
  }
  absl::StatusOr<RingRecovery> r = format::RecoverRingFile(image);
  if (r.ok()) {
    CheckRecovery(*r, image);
    std::string out;
    format::StringSink sink(&out);
    FUZZ_CHECK(format::WriteRecoveredTrace(*r, image, &sink).ok(), "write");
    // Recovered generations of this trace are the model's (older ones of
    // an earlier trace fail their checksums: another session).
    FUZZ_CHECK(out == Expected(header, model, r->generations.front().gen,
                               r->generations.back().gen),
               "recovered bytes differ from what was written");
  }
  const int fd = memfd_create("crash", 0);
  FUZZ_CHECK(fd >= 0, "memfd");
  internal::CrashSnapshotOptions co;
  co.wait_ns = 0;
  const internal::CrashSnapshotResult cr = ring->WriteCrashSnapshot(fd, co);
  FUZZ_CHECK(cr.error == 0, "crash write");
  std::string crash(cr.bytes, '\0');
  FUZZ_CHECK(pread(fd, crash.data(), crash.size(), 0) ==
                 static_cast<ssize_t>(crash.size()),
             "read back");
  close(fd);
  if (cr.generations > 0) {
    FUZZ_CHECK(crash == Expected(header, model, cr.first_gen, cr.last_gen),
               "crash snapshot bytes differ from what was written");
  } else {
    FUZZ_CHECK(crash == header, "crash snapshot without generations");
  }
}

}  // namespace
}  // namespace gentrace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    gentrace::Raw(data, size);
  } else {
    gentrace::Structured(data, size);
  }
  return 0;
}
