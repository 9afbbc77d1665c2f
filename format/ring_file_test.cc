#include "format/ring_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "format/byte_sink.h"
#include "format/header.h"

namespace gentrace::format {
namespace {

using ::testing::HasSubstr;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// Lays records out as a ring writer does (lap rule, chunking, commit last),
// without eviction bookkeeping: enough to build ring files by hand.
class RingBuilder {
 public:
  explicit RingBuilder(uint64_t region_size, uint64_t session = 42)
      : size_(region_size), file_(kRingFileHeaderSize + region_size, 0) {
    EncodeRingFileHeader(file_.data(), size_, session);
    const std::string h = EncodeHeader(Version::kGo123);
    SetRingTraceHeader(file_.data(), Bytes(h));
    seed_ = RingSessionSeed(session);
  }

  struct Placed {
    uint64_t pos;
    uint64_t seq;
  };

  // Writes one record at the tail; returns where.
  Placed Record(uint64_t gen, RingRecordKind kind,
                absl::Span<const uint8_t> payload, bool commit = true) {
    const uint64_t pos = RingRecordStart(tail_, size_);
    WriteRingRecord(region(), size_, seed_, pos, seq_, gen, kind, payload);
    if (commit) CommitRingRecord(region(), size_, pos, seq_);
    tail_ = pos + RingRecordSize(payload.size());
    return {pos, seq_++};
  }

  // Writes a whole generation (data in chunks of at most `chunk` bytes,
  // split at the region's end, then its end record).
  std::vector<Placed> Gen(uint64_t gen, const std::string& bytes,
                          size_t chunk = 100, bool end = true) {
    std::vector<Placed> placed;
    RingGenerationEnd e;
    e.start_ns = gen * 1000;
    e.end_ns = gen * 1000 + 999;
    e.first_pos = RingRecordStart(tail_, size_);
    e.first_seq = seq_;
    size_t done = 0;
    while (done < bytes.size()) {
      const uint64_t pos = RingRecordStart(tail_, size_);
      const size_t n = std::min<uint64_t>(
          {chunk, bytes.size() - done, RingRecordRoom(pos, size_)});
      placed.push_back(
          Record(0, RingRecordKind::kData, Bytes(bytes).subspan(done, n)));
      done += n;
      ++e.records;
    }
    e.bytes = bytes.size();
    if (end) {
      uint8_t p[kRingGenerationEndSize];
      EncodeGenerationEnd(e, p);
      placed.push_back(
          Record(gen, RingRecordKind::kGenerationEnd, absl::MakeConstSpan(p)));
    }
    return placed;
  }

  uint8_t* region() { return file_.data() + kRingFileHeaderSize; }
  uint8_t* at(uint64_t pos) { return region() + pos % size_; }
  absl::Span<const uint8_t> file() const { return absl::MakeConstSpan(file_); }
  uint64_t tail() const { return tail_; }
  uint32_t seed() const { return seed_; }

 private:
  uint64_t size_;
  std::vector<uint8_t> file_;
  uint32_t seed_;
  uint64_t tail_ = 0;
  uint64_t seq_ = 1;
};

std::string GenBytes(uint64_t gen, size_t n) {
  std::string s(n, 0);
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(gen * 31 + i);
  return s;
}

std::string Recovered(const RingRecovery& r, absl::Span<const uint8_t> file) {
  std::string out;
  StringSink sink(&out);
  EXPECT_TRUE(WriteRecoveredTrace(r, file, &sink).ok());
  return out;
}

std::string Joined(const std::vector<std::string>& notes) {
  std::string s;
  for (const std::string& n : notes) absl::StrAppend(&s, n, "\n");
  return s;
}

TEST(RingFileHeaderTest, RoundTrip) {
  std::vector<uint8_t> f(kRingFileHeaderSize);
  EncodeRingFileHeader(f.data(), 1 << 20, 0x1234);
  absl::StatusOr<RingFileHeader> h = DecodeRingFileHeader(f);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->region_size, 1u << 20);
  EXPECT_EQ(h->session, 0x1234u);
  EXPECT_EQ(h->trace_header_size, 0u);
  const std::string th = EncodeHeader(Version::kGo123);
  SetRingTraceHeader(f.data(), Bytes(th));
  h = DecodeRingFileHeader(f);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h->trace_header),
                        h->trace_header_size),
            th);
}

TEST(RingFileHeaderTest, ErrorsNameTheOffset) {
  std::vector<uint8_t> f(kRingFileHeaderSize);
  EncodeRingFileHeader(f.data(), 1 << 20, 7);
  EXPECT_THAT(DecodeRingFileHeader(absl::MakeConstSpan(f).subspan(0, 100))
                  .status()
                  .message(),
              HasSubstr("shorter than its 4096-byte header"));
  std::vector<uint8_t> bad = f;
  bad[0] = 'X';
  EXPECT_THAT(std::string(DecodeRingFileHeader(bad).status().message()),
              HasSubstr("offset 0: not a gentrace ring file"));
  bad = f;
  bad[20] ^= 1;  // region size, under the checksum
  EXPECT_THAT(std::string(DecodeRingFileHeader(bad).status().message()),
              HasSubstr("offset 32: ring file header checksum mismatch"));
  bad = f;
  bad[48] = 'g';  // trace header byte without its checksum
  bad[36] = 1;
  EXPECT_THAT(std::string(DecodeRingFileHeader(bad).status().message()),
              HasSubstr("offset 40: trace header checksum mismatch"));
}

TEST(RingRecordTest, WriteReadAndEachError) {
  RingBuilder b(64 << 10);
  const std::string payload = "hello, ring";
  const RingBuilder::Placed p =
      b.Record(0, RingRecordKind::kData, Bytes(payload));
  RingRecord rec;
  ASSERT_EQ(ReadRingRecord(b.region(), 64 << 10, b.seed(), p.pos, true, &rec),
            RingRecordError::kOk);
  EXPECT_EQ(rec.seq, p.seq);
  EXPECT_EQ(rec.length, payload.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rec.payload), rec.length),
            payload);
  // Another session's seed: the checksum no longer matches.
  EXPECT_EQ(
      ReadRingRecord(b.region(), 64 << 10, b.seed() ^ 1, p.pos, true, &rec),
      RingRecordError::kBadChecksum);
  // A position that is not this record's.
  EXPECT_EQ(ReadRingRecord(b.region(), 64 << 10, b.seed(), p.pos + (64 << 10),
                           true, &rec),
            RingRecordError::kNoRecord);
  // A payload byte changed.
  b.at(p.pos)[kRingRecordHeaderSize + 3] ^= 0x40;
  EXPECT_EQ(ReadRingRecord(b.region(), 64 << 10, b.seed(), p.pos, true, &rec),
            RingRecordError::kBadChecksum);
  EXPECT_EQ(ReadRingRecord(b.region(), 64 << 10, b.seed(), p.pos, false, &rec),
            RingRecordError::kOk);
  // Written, never committed.
  const RingBuilder::Placed q =
      b.Record(0, RingRecordKind::kData, Bytes(payload), /*commit=*/false);
  EXPECT_EQ(ReadRingRecord(b.region(), 64 << 10, b.seed(), q.pos, true, &rec),
            RingRecordError::kUncommitted);
}

TEST(RingRecordTest, LapRule) {
  const uint64_t size = 4096;
  EXPECT_EQ(RingRecordStart(0, size), 0u);
  EXPECT_EQ(RingRecordStart(size - kRingMinRecord, size),
            size - kRingMinRecord);
  EXPECT_EQ(RingRecordStart(size - kRingMinRecord + 8, size), size);
  EXPECT_EQ(RingRecordStart(3 * size - 8, size), 3 * size);
  EXPECT_EQ(RingRecordRoom(size - kRingMinRecord, size),
            kRingGenerationEndSize);
  EXPECT_EQ(RingRecordSize(0), kRingRecordHeaderSize);
  EXPECT_EQ(RingRecordSize(1), kRingRecordHeaderSize + 8);
  EXPECT_EQ(RingRecordSize(16), kRingRecordHeaderSize + 16);
}

TEST(RecoverRingFileTest, AllWholeGenerationsInOrder) {
  RingBuilder b(64 << 10);
  std::string want = EncodeHeader(Version::kGo123);
  for (uint64_t g = 5; g <= 8; ++g) {
    const std::string bytes = GenBytes(g, 250 + g);
    b.Gen(g, bytes);
    want += bytes;
  }
  absl::StatusOr<RingRecovery> r = RecoverRingFile(b.file());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->generations.size(), 4u);
  EXPECT_EQ(r->generations.front().gen, 5u);
  EXPECT_EQ(r->generations.back().gen, 8u);
  EXPECT_EQ(r->generations[1].start_ns, 6000u);
  EXPECT_EQ(r->generations[1].records, 3u);  // 256 bytes in 100-byte pieces
  EXPECT_EQ(r->records_valid, 4u * 4u);
  EXPECT_TRUE(r->notes.empty()) << Joined(r->notes);
  EXPECT_EQ(Recovered(*r, b.file()), want);
  EXPECT_EQ(r->trace_bytes(), want.size());
}

TEST(RecoverRingFileTest, WrapsAroundTheRegion) {
  // 4 KiB region, 1000-byte generations in 300-byte records: the ring
  // laps several times; the generations whose records survive whole are
  // the newest ones, and one straddling the region's end is read across it.
  const uint64_t size = 4096;
  bool split = false;
  for (uint64_t n = 3; n <= 16; ++n) {
    SCOPED_TRACE(n);
    RingBuilder b(size);
    std::vector<std::string> gens;
    for (uint64_t g = 1; g <= n; ++g) {
      gens.push_back(GenBytes(g, 1000));
      b.Gen(g, gens.back(), 300);
    }
    absl::StatusOr<RingRecovery> r = RecoverRingFile(b.file());
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_GE(r->generations.size(), 2u);
    EXPECT_EQ(r->generations.back().gen, n);
    std::string want = EncodeHeader(Version::kGo123);
    for (const RecoveredGeneration& g : r->generations) {
      want += gens[g.gen - 1];
      split |= g.pieces.size() > 1 && g.pieces[1].offset < g.pieces[0].offset;
    }
    EXPECT_EQ(Recovered(*r, b.file()), want);
  }
  EXPECT_TRUE(split);
}

TEST(RecoverRingFileTest, TornTailIsReportedAndLeftOut) {
  RingBuilder b(64 << 10);
  b.Gen(3, GenBytes(3, 400));
  b.Gen(4, GenBytes(4, 400));
  // Generation 5: two records done, the third torn (never committed).
  b.Gen(5, GenBytes(5, 200), 100, /*end=*/false);
  const RingBuilder::Placed torn = b.Record(
      0, RingRecordKind::kData, Bytes(GenBytes(5, 100)), /*commit=*/false);
  absl::StatusOr<RingRecovery> r = RecoverRingFile(b.file());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->generations.size(), 2u);
  EXPECT_EQ(r->generations.back().gen, 4u);
  const std::string notes = Joined(r->notes);
  EXPECT_THAT(notes, HasSubstr(absl::StrCat(
                         "record at offset ", kRingFileHeaderSize + torn.pos,
                         " (seq ", torn.seq, "): not committed (torn write)")));
  EXPECT_THAT(notes, HasSubstr("2 data record(s) (200 bytes"));
  EXPECT_THAT(notes, HasSubstr("after generation 4: no end record"));
}

TEST(RecoverRingFileTest, DamagedRecordCutsTheRun) {
  RingBuilder b(64 << 10);
  b.Gen(1, GenBytes(1, 300));
  std::vector<RingBuilder::Placed> g2 = b.Gen(2, GenBytes(2, 300));
  b.Gen(3, GenBytes(3, 300));
  b.Gen(4, GenBytes(4, 300));
  b.at(g2[1].pos)[kRingRecordHeaderSize + 5] ^= 1;
  absl::StatusOr<RingRecovery> r = RecoverRingFile(b.file());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->generations.size(), 2u);
  EXPECT_EQ(r->generations.front().gen, 3u);
  const std::string notes = Joined(r->notes);
  EXPECT_THAT(notes, HasSubstr("checksum mismatch; not trusted"));
  EXPECT_THAT(notes, HasSubstr(absl::StrCat(
                         "generation 2 (end record at offset ",
                         kRingFileHeaderSize + g2.back().pos,
                         "): data record seq ", g2[1].seq, " missing")));
  EXPECT_THAT(
      notes,
      HasSubstr("1 older whole generation(s) (1 to 1): not consecutive"));
}

TEST(RecoverRingFileTest, GapInGenerationNumbersKeepsTheNewestRun) {
  RingBuilder b(64 << 10);
  b.Gen(1, GenBytes(1, 100));
  b.Gen(2, GenBytes(2, 100));
  b.Gen(4, GenBytes(4, 100));
  absl::StatusOr<RingRecovery> r = RecoverRingFile(b.file());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->generations.size(), 1u);
  EXPECT_EQ(r->generations[0].gen, 4u);
}

TEST(RecoverRingFileTest, RecordsOfAnotherSessionAreIgnored) {
  RingBuilder b(64 << 10, /*session=*/1);
  b.Gen(1, GenBytes(1, 100));
  std::vector<uint8_t> f(b.file().begin(), b.file().end());
  // The same file restarted with a new session: old records do not count.
  EncodeRingFileHeader(f.data(), 64 << 10, 2);
  SetRingTraceHeader(f.data(), Bytes(EncodeHeader(Version::kGo123)));
  absl::StatusOr<RingRecovery> r = RecoverRingFile(f);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("no whole generation in the ring (0 valid records)"));
}

TEST(RecoverRingFileTest, BadInputErrors) {
  RingBuilder b(64 << 10);
  b.Gen(1, GenBytes(1, 100));
  // Truncated file.
  absl::StatusOr<RingRecovery> r = RecoverRingFile(b.file().subspan(0, 9000));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("ring file is 9000 bytes; its header (offset 16) says "
                        "69632"));
  // No trace header yet.
  std::vector<uint8_t> f(kRingFileHeaderSize + (64 << 10));
  EncodeRingFileHeader(f.data(), 64 << 10, 9);
  r = RecoverRingFile(f);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("offset 36: the ring never received a trace header"));
  // Not a ring file at all.
  const std::string junk(5000, 'x');
  r = RecoverRingFile(Bytes(junk));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("offset 0: not a gentrace ring file"));
}

}  // namespace
}  // namespace gentrace::format
