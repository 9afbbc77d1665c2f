// The ring layout (see ring_file.h): encoding, record checks, and the
// recovery scan.
#include "format/ring_file.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "format/crc32c.h"

namespace gentrace::format {
namespace {

// Field offsets of the file header.
constexpr size_t kFhVersion = 8;
constexpr size_t kFhHeaderSize = 12;
constexpr size_t kFhRegionSize = 16;
constexpr size_t kFhSession = 24;
constexpr size_t kFhFixedCrc = 32;
constexpr size_t kFhTraceHeaderSize = 36;
constexpr size_t kFhTraceHeaderCrc = 40;
constexpr size_t kFhTraceHeader = 48;

// Field offsets of a record header.
constexpr size_t kRecCommit = 0;
constexpr size_t kRecSeq = 8;
constexpr size_t kRecPos = 16;
constexpr size_t kRecGen = 24;
constexpr size_t kRecLength = 32;
constexpr size_t kRecKind = 36;
constexpr size_t kRecReserved = 38;
constexpr size_t kRecMagic = 40;
constexpr size_t kRecCrc = 44;

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(v));
}

// The commit word: an acquire load where it is aligned (the live ring,
// whose writer may run concurrently), a plain copy elsewhere (a file read
// into a buffer).
uint64_t LoadCommit(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 7) == 0) {
    return __atomic_load_n(reinterpret_cast<const uint64_t*>(p),
                           __ATOMIC_ACQUIRE);
  }
  return Load<uint64_t>(p);
}

uint32_t TraceHeaderCrc(const uint8_t* dst, uint32_t size) {
  uint32_t crc = Crc32c(dst + kFhTraceHeaderSize, 4);
  return Crc32cExtend(crc, dst + kFhTraceHeader, size);
}

}  // namespace

uint32_t RingSessionSeed(uint64_t session) {
  uint8_t b[8];
  Store(b, session);
  return Crc32c(b, sizeof(b));
}

void EncodeRingFileHeader(uint8_t* dst, uint64_t region_size,
                          uint64_t session) {
  std::memset(dst, 0, kRingFileHeaderSize);
  std::memcpy(dst, kRingFileMagic, sizeof(kRingFileMagic));
  Store<uint32_t>(dst + kFhVersion, kRingFileVersion);
  Store<uint32_t>(dst + kFhHeaderSize, kRingFileHeaderSize);
  Store<uint64_t>(dst + kFhRegionSize, region_size);
  Store<uint64_t>(dst + kFhSession, session);
  Store<uint32_t>(dst + kFhFixedCrc, Crc32c(dst, kFhFixedCrc));
  Store<uint32_t>(dst + kFhTraceHeaderCrc, TraceHeaderCrc(dst, 0));
}

void SetRingTraceHeader(uint8_t* dst, absl::Span<const uint8_t> trace_header) {
  const uint32_t n =
      static_cast<uint32_t>(std::min(trace_header.size(), kRingMaxTraceHeader));
  std::memcpy(dst + kFhTraceHeader, trace_header.data(), n);
  Store<uint32_t>(dst + kFhTraceHeaderSize, n);
  Store<uint32_t>(dst + kFhTraceHeaderCrc, TraceHeaderCrc(dst, n));
}

absl::StatusOr<RingFileHeader> DecodeRingFileHeader(
    absl::Span<const uint8_t> bytes) {
  if (bytes.size() < kRingFileHeaderSize) {
    return absl::DataLossError(
        absl::StrCat("ring file is ", bytes.size(), " bytes, shorter than its ",
                     kRingFileHeaderSize, "-byte header"));
  }
  const uint8_t* p = bytes.data();
  if (std::memcmp(p, kRingFileMagic, sizeof(kRingFileMagic)) != 0) {
    return absl::InvalidArgumentError(
        "offset 0: not a gentrace ring file (bad magic)");
  }
  if (Load<uint32_t>(p + kFhFixedCrc) != Crc32c(p, kFhFixedCrc)) {
    return absl::DataLossError(absl::StrCat(
        "offset ", kFhFixedCrc, ": ring file header checksum mismatch"));
  }
  if (const uint32_t v = Load<uint32_t>(p + kFhVersion);
      v != kRingFileVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", kFhVersion, ": ring file version ", v,
                     ", this reader knows version ", kRingFileVersion));
  }
  if (const uint32_t h = Load<uint32_t>(p + kFhHeaderSize);
      h != kRingFileHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", kFhHeaderSize, ": header size ", h,
                     ", expected ", kRingFileHeaderSize));
  }
  RingFileHeader h;
  h.region_size = Load<uint64_t>(p + kFhRegionSize);
  h.session = Load<uint64_t>(p + kFhSession);
  if (h.region_size == 0 || h.region_size % kRingRegionAlign != 0 ||
      h.region_size > (uint64_t{1} << 48)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "offset ", kFhRegionSize, ": bad region size ", h.region_size));
  }
  if (h.session == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", kFhSession, ": session 0"));
  }
  h.trace_header_size = Load<uint32_t>(p + kFhTraceHeaderSize);
  if (h.trace_header_size > kRingMaxTraceHeader) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", kFhTraceHeaderSize, ": trace header size ",
                     h.trace_header_size, " exceeds ", kRingMaxTraceHeader));
  }
  if (Load<uint32_t>(p + kFhTraceHeaderCrc) !=
      TraceHeaderCrc(p, h.trace_header_size)) {
    return absl::DataLossError(absl::StrCat(
        "offset ", kFhTraceHeaderCrc, ": trace header checksum mismatch"));
  }
  std::memcpy(h.trace_header, p + kFhTraceHeader, h.trace_header_size);
  return h;
}

void WriteRingRecord(uint8_t* region, uint64_t region_size, uint32_t seed,
                     uint64_t pos, uint64_t seq, uint64_t gen,
                     RingRecordKind kind, absl::Span<const uint8_t> payload) {
  uint8_t* r = region + pos % region_size;
  // Invalidate first: whatever record was here before stops counting
  // before any of its bytes change.
  __atomic_store_n(reinterpret_cast<uint64_t*>(r + kRecCommit), uint64_t{0},
                   __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  uint8_t h[kRingRecordHeaderSize];
  Store<uint64_t>(h + kRecCommit, 0);
  Store<uint64_t>(h + kRecSeq, seq);
  Store<uint64_t>(h + kRecPos, pos);
  Store<uint64_t>(h + kRecGen, gen);
  Store<uint32_t>(h + kRecLength, static_cast<uint32_t>(payload.size()));
  Store<uint16_t>(h + kRecKind, static_cast<uint16_t>(kind));
  Store<uint16_t>(h + kRecReserved, 0);
  Store<uint32_t>(h + kRecMagic, kRingRecordMagic);
  uint32_t crc = Crc32cExtend(seed, h + kRecSeq, kRecCrc - kRecSeq);
  crc = Crc32cExtend(crc, payload.data(), payload.size());
  Store<uint32_t>(h + kRecCrc, crc);
  std::memcpy(r + kRecSeq, h + kRecSeq, kRingRecordHeaderSize - kRecSeq);
  if (!payload.empty()) {
    std::memcpy(r + kRingRecordHeaderSize, payload.data(), payload.size());
  }
  const uint64_t padded =
      RingRecordSize(payload.size()) - kRingRecordHeaderSize - payload.size();
  if (padded > 0) {
    std::memset(r + kRingRecordHeaderSize + payload.size(), 0, padded);
  }
}

void CommitRingRecord(uint8_t* region, uint64_t region_size, uint64_t pos,
                      uint64_t seq) {
  __atomic_store_n(
      reinterpret_cast<uint64_t*>(region + pos % region_size + kRecCommit),
      seq ^ kRingCommitKey, __ATOMIC_RELEASE);
}

const char* RingRecordErrorName(RingRecordError e) {
  switch (e) {
    case RingRecordError::kOk:
      return "ok";
    case RingRecordError::kNoRecord:
      return "no record";
    case RingRecordError::kUncommitted:
      return "not committed (torn write)";
    case RingRecordError::kBadHeader:
      return "bad record header";
    case RingRecordError::kBadChecksum:
      return "checksum mismatch";
  }
  return "?";
}

RingRecordError ReadRingRecord(const uint8_t* region, uint64_t region_size,
                               uint32_t seed, uint64_t pos, bool verify,
                               RingRecord* rec) {
  const uint64_t off = pos % region_size;
  if (off % kRingRecordAlign != 0 ||
      region_size - off < kRingRecordHeaderSize) {
    return RingRecordError::kNoRecord;
  }
  const uint8_t* r = region + off;
  const uint64_t commit = LoadCommit(r + kRecCommit);
  if (Load<uint32_t>(r + kRecMagic) != kRingRecordMagic ||
      Load<uint64_t>(r + kRecPos) != pos) {
    return RingRecordError::kNoRecord;
  }
  rec->pos = pos;
  rec->seq = Load<uint64_t>(r + kRecSeq);
  rec->gen = Load<uint64_t>(r + kRecGen);
  rec->length = Load<uint32_t>(r + kRecLength);
  const uint16_t kind = Load<uint16_t>(r + kRecKind);
  rec->kind = static_cast<RingRecordKind>(kind);
  rec->payload = r + kRingRecordHeaderSize;
  if (commit != (rec->seq ^ kRingCommitKey)) {
    return RingRecordError::kUncommitted;
  }
  if (rec->seq == 0 || Load<uint16_t>(r + kRecReserved) != 0 ||
      rec->length > RingRecordRoom(off, region_size) ||
      (kind != static_cast<uint16_t>(RingRecordKind::kData) &&
       kind != static_cast<uint16_t>(RingRecordKind::kGenerationEnd)) ||
      (rec->kind == RingRecordKind::kGenerationEnd &&
       rec->length != kRingGenerationEndSize)) {
    return RingRecordError::kBadHeader;
  }
  if (verify) {
    uint32_t crc = Crc32cExtend(seed, r + kRecSeq, kRecCrc - kRecSeq);
    crc = Crc32cExtend(crc, rec->payload, rec->length);
    if (crc != Load<uint32_t>(r + kRecCrc)) {
      return RingRecordError::kBadChecksum;
    }
  }
  return RingRecordError::kOk;
}

void EncodeGenerationEnd(const RingGenerationEnd& end, uint8_t* dst) {
  Store<uint64_t>(dst + 0, end.start_ns);
  Store<uint64_t>(dst + 8, end.end_ns);
  Store<uint64_t>(dst + 16, end.first_seq);
  Store<uint64_t>(dst + 24, end.first_pos);
  Store<uint64_t>(dst + 32, end.records);
  Store<uint64_t>(dst + 40, end.bytes);
}

bool DecodeGenerationEnd(const RingRecord& rec, RingGenerationEnd* end) {
  if (rec.kind != RingRecordKind::kGenerationEnd ||
      rec.length != kRingGenerationEndSize) {
    return false;
  }
  const uint8_t* p = rec.payload;
  end->start_ns = Load<uint64_t>(p + 0);
  end->end_ns = Load<uint64_t>(p + 8);
  end->first_seq = Load<uint64_t>(p + 16);
  end->first_pos = Load<uint64_t>(p + 24);
  end->records = Load<uint64_t>(p + 32);
  end->bytes = Load<uint64_t>(p + 40);
  return true;
}

// ---- Recovery

uint64_t RingRecovery::trace_bytes() const {
  uint64_t n = header.trace_header_size;
  for (const RecoveredGeneration& g : generations) n += g.bytes;
  return n;
}

namespace {

// At most this many notes of one kind; the rest are counted.
constexpr size_t kMaxNotes = 16;

struct FoundRecord {
  uint64_t seq;
  uint64_t pos;
  uint64_t gen;
  RingRecordKind kind;
  uint32_t length;
  uint64_t file_offset;  // of the record header
  RingGenerationEnd end;
};

class Notes {
 public:
  explicit Notes(std::vector<std::string>* out) : out_(out) {}
  ~Notes() {
    if (dropped_ > 0) {
      out_->push_back(absl::StrCat("(", dropped_, " more notes)"));
    }
  }
  void Add(std::string s) {
    if (out_->size() < kMaxNotes) {
      out_->push_back(std::move(s));
    } else {
      ++dropped_;
    }
  }

 private:
  std::vector<std::string>* out_;
  uint64_t dropped_ = 0;
};

// Finds every committed, verified record of the session in the region.
// Walks from record to record; where no valid record is, steps 8 bytes at a
// time until one is found again.
std::vector<FoundRecord> ScanRegion(const uint8_t* region, uint64_t size,
                                    uint32_t seed, Notes* notes) {
  std::vector<FoundRecord> found;
  uint64_t off = 0;
  while (size - off >= kRingMinRecord) {
    const uint64_t pos = Load<uint64_t>(region + off + kRecPos);
    RingRecordError e = RingRecordError::kNoRecord;
    RingRecord rec;
    if (pos % size == off)
      e = ReadRingRecord(region, size, seed, pos, true, &rec);
    if (e == RingRecordError::kOk) {
      FoundRecord f;
      f.seq = rec.seq;
      f.pos = rec.pos;
      f.gen = rec.gen;
      f.kind = rec.kind;
      f.length = rec.length;
      f.file_offset = kRingFileHeaderSize + off;
      if (rec.kind == RingRecordKind::kGenerationEnd) {
        DecodeGenerationEnd(rec, &f.end);
      }
      found.push_back(f);
      off += RingRecordSize(rec.length);
      continue;
    }
    if (e != RingRecordError::kNoRecord) {
      notes->Add(absl::StrCat("record at offset ", kRingFileHeaderSize + off,
                              " (seq ", rec.seq, "): ", RingRecordErrorName(e),
                              "; not trusted"));
    }
    // Unused space, the headless rest of a record overwritten in part, or
    // damage: look for the next record.
    off += kRingRecordAlign;
  }
  return found;
}

std::string GenName(const FoundRecord& end) {
  return absl::StrCat("generation ", end.gen, " (end record at offset ",
                      end.file_offset, ")");
}

// Checks that the data records before end record `e` (found[i]) form its
// generation; fills *g if so, else says why in *why.
bool CheckGeneration(const std::vector<FoundRecord>& found, size_t i,
                     uint64_t size, RecoveredGeneration* g, std::string* why) {
  const FoundRecord& e = found[i];
  const RingGenerationEnd& end = e.end;
  if (e.gen == 0) {
    *why = "generation number 0";
    return false;
  }
  if (end.records == 0 || end.first_seq + end.records != e.seq) {
    *why = absl::StrCat("its end record names records ", end.first_seq, "+",
                        end.records, ", not ending right before seq ", e.seq);
    return false;
  }
  if (e.pos < end.first_pos || e.pos - end.first_pos >= size) {
    *why = "it would span more than the region";
    return false;
  }
  // found is sorted by seq: the generation's records sit right before i.
  const size_t first = static_cast<size_t>(
      std::lower_bound(
          found.begin(), found.begin() + i, end.first_seq,
          [](const FoundRecord& r, uint64_t seq) { return r.seq < seq; }) -
      found.begin());
  uint64_t expect_pos = end.first_pos;
  uint64_t bytes = 0;
  g->pieces.clear();
  for (uint64_t k = 0; k < end.records; ++k) {
    const uint64_t want_seq = end.first_seq + k;
    if (first + k >= i || found[first + k].seq != want_seq) {
      *why = absl::StrCat("data record seq ", want_seq,
                          " missing (overwritten or torn)");
      return false;
    }
    const FoundRecord& r = found[first + k];
    if (r.kind != RingRecordKind::kData) {
      *why = absl::StrCat("record seq ", r.seq, " at offset ", r.file_offset,
                          " is not a data record");
      return false;
    }
    if (r.pos != RingRecordStart(expect_pos, size)) {
      *why = absl::StrCat("data record seq ", r.seq, " at offset ",
                          r.file_offset, " is not where the previous ends");
      return false;
    }
    expect_pos = r.pos + RingRecordSize(r.length);
    bytes += r.length;
    if (r.length > 0) {
      const uint64_t off = r.file_offset + kRingRecordHeaderSize;
      if (!g->pieces.empty() &&
          g->pieces.back().offset + g->pieces.back().length == off) {
        g->pieces.back().length += r.length;
      } else {
        g->pieces.push_back({off, r.length});
      }
    }
  }
  if (e.pos != RingRecordStart(expect_pos, size)) {
    *why = "its end record is not where its last data record ends";
    return false;
  }
  if (bytes != end.bytes) {
    *why = absl::StrCat("its records hold ", bytes,
                        " bytes, its end record says ", end.bytes);
    return false;
  }
  g->gen = e.gen;
  g->start_ns = end.start_ns;
  g->end_ns = end.end_ns;
  g->bytes = bytes;
  g->first_seq = end.first_seq;
  g->records = end.records;
  g->file_offset = found[first].file_offset;
  return true;
}

}  // namespace

absl::StatusOr<RingRecovery> RecoverRingFile(absl::Span<const uint8_t> file) {
  absl::StatusOr<RingFileHeader> h = DecodeRingFileHeader(file);
  if (!h.ok()) return h.status();
  RingRecovery out;
  out.header = *h;
  const uint64_t size = h->region_size;
  if (file.size() - kRingFileHeaderSize < size) {
    return absl::DataLossError(absl::StrCat(
        "ring file is ", file.size(), " bytes; its header (offset ",
        kFhRegionSize, ") says ", kRingFileHeaderSize + size));
  }
  if (h->trace_header_size == 0) {
    return absl::NotFoundError(absl::StrCat(
        "offset ", kFhTraceHeaderSize,
        ": the ring never received a trace header, so it holds no trace"));
  }
  const uint8_t* region = file.data() + kRingFileHeaderSize;
  const uint32_t seed = RingSessionSeed(h->session);
  Notes notes(&out.notes);
  std::vector<FoundRecord> found = ScanRegion(region, size, seed, &notes);
  out.records_valid = found.size();
  std::sort(
      found.begin(), found.end(),
      [](const FoundRecord& a, const FoundRecord& b) { return a.seq < b.seq; });
  // The same seq twice can only come from damaged or forged data: keep the
  // first.
  {
    size_t kept = 0;
    for (size_t i = 0; i < found.size(); ++i) {
      if (kept > 0 && found[kept - 1].seq == found[i].seq) {
        notes.Add(absl::StrCat("record at offset ", found[i].file_offset,
                               " repeats seq ", found[i].seq, "; ignored"));
        continue;
      }
      found[kept++] = found[i];
    }
    found.resize(kept);
  }

  // Whole generations, in seq order.
  std::vector<RecoveredGeneration> whole;
  std::vector<uint64_t> end_seqs;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].kind != RingRecordKind::kGenerationEnd) continue;
    RecoveredGeneration g;
    std::string why;
    if (CheckGeneration(found, i, size, &g, &why)) {
      whole.push_back(std::move(g));
      end_seqs.push_back(found[i].seq);
    } else {
      notes.Add(absl::StrCat(GenName(found[i]), ": ", why));
    }
  }
  if (whole.empty()) {
    std::string msg = absl::StrCat("no whole generation in the ring (",
                                   found.size(), " valid records)");
    for (const std::string& n : out.notes) absl::StrAppend(&msg, "; ", n);
    return absl::NotFoundError(msg);
  }

  // The newest run: generation numbers and record numbers both follow on.
  size_t first = whole.size() - 1;
  while (first > 0 && whole[first - 1].gen + 1 == whole[first].gen &&
         end_seqs[first - 1] + 1 == whole[first].first_seq) {
    --first;
  }
  if (first > 0) {
    notes.Add(absl::StrCat(first, " older whole generation(s) (",
                           whole.front().gen, " to ", whole[first - 1].gen,
                           "): not consecutive with generation ",
                           whole[first].gen, ", where the newest run starts"));
  }
  // Data records after the newest generation: the one being written when
  // the writer stopped.
  {
    uint64_t n = 0, bytes = 0, offset = 0;
    for (const FoundRecord& r : found) {
      if (r.seq > end_seqs.back() && r.kind == RingRecordKind::kData) {
        if (n == 0) offset = r.file_offset;
        ++n;
        bytes += r.length;
      }
    }
    if (n > 0) {
      notes.Add(absl::StrCat(n, " data record(s) (", bytes,
                             " bytes, from offset ", offset,
                             ") of the unfinished generation after generation ",
                             whole.back().gen, ": no end record"));
    }
  }
  out.generations.assign(std::make_move_iterator(whole.begin() + first),
                         std::make_move_iterator(whole.end()));
  return out;
}

absl::Status WriteRecoveredTrace(const RingRecovery& recovery,
                                 absl::Span<const uint8_t> file,
                                 ByteSink* out) {
  if (absl::Status s = out->WriteString(absl::string_view(
          reinterpret_cast<const char*>(recovery.header.trace_header),
          recovery.header.trace_header_size));
      !s.ok()) {
    return s;
  }
  for (const RecoveredGeneration& g : recovery.generations) {
    for (const RingPiece& p : g.pieces) {
      if (p.offset > file.size() || file.size() - p.offset < p.length) {
        return absl::InvalidArgumentError(
            absl::StrCat("generation ", g.gen, ": piece at offset ", p.offset,
                         " is outside the file"));
      }
      if (absl::Status s = out->WriteString(absl::string_view(
              reinterpret_cast<const char*>(file.data() + p.offset), p.length));
          !s.ok()) {
        return s;
      }
    }
  }
  return out->Flush();
}

}  // namespace gentrace::format
