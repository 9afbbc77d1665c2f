// GenerationRing: see generation_ring.h for the semantics and the
// invariants R1-R5 this file keeps.
#include "tracer/internal/generation_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/sys.h"
#include "format/byte_sink.h"

namespace gentrace::internal {
namespace {

using format::RingGenerationEnd;
using format::RingRecord;
using format::RingRecordError;
using format::RingRecordKind;
using format::RingRecordSize;
using format::RingRecordStart;

constexpr uint64_t kMinRegion = 64 << 10;
// Largest payload of one record (the length field is 32 bits).
constexpr uint64_t kMaxChunk = uint64_t{1} << 30;

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t NewSession() {
  uint64_t s = 0;
  if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s)) {
    s = MonotonicNs() ^ (static_cast<uint64_t>(getpid()) << 32);
  }
  return s == 0 ? 1 : s;
}

// The newest run of consecutive, verified whole generations among the
// records in [from, to). Async-signal-safe.
struct Run {
  uint64_t first_pos = 0;  // [first_pos, end_pos) holds the run
  uint64_t end_pos = 0;
  uint64_t gens = 0;
  uint64_t first_gen = 0;
  uint64_t last_gen = 0;
  uint64_t last_end_seq = 0;
  uint64_t bytes = 0;
  uint64_t skipped = 0;  // generations with an end record left out
};

// Checks generation `end` (end record at `end_pos`) record by record from
// its first record; for when the forward walk lost track of it.
bool CheckGenerationStrict(const uint8_t* region, uint64_t size, uint32_t seed,
                           uint64_t from, const RingGenerationEnd& end,
                           uint64_t end_pos) {
  if (end.first_pos < from || end.first_pos >= end_pos || end.records == 0 ||
      end_pos - end.first_pos > size) {
    return false;
  }
  uint64_t pos = end.first_pos;
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < end.records; ++i) {
    const uint64_t p = RingRecordStart(pos, size);
    RingRecord rec;
    if (p >= end_pos ||
        format::ReadRingRecord(region, size, seed, p, true, &rec) !=
            RingRecordError::kOk ||
        rec.kind != RingRecordKind::kData || rec.seq != end.first_seq + i) {
      return false;
    }
    bytes += rec.length;
    pos = p + RingRecordSize(rec.length);
  }
  return RingRecordStart(pos, size) == end_pos && bytes == end.bytes;
}

Run FindRun(const uint8_t* region, uint64_t size, uint32_t seed, uint64_t from,
            uint64_t to) {
  Run run;
  uint64_t pos = from;
  uint64_t gen_start = from;  // where the current generation's records start
  bool gen_ok = true;
  uint64_t records = 0, bytes = 0, first_seq = 0;
  while (pos < to) {
    const uint64_t p = RingRecordStart(pos, size);
    if (p >= to) break;
    RingRecord rec;
    if (format::ReadRingRecord(region, size, seed, p, true, &rec) !=
        RingRecordError::kOk) {
      // Damage: find the next record (its generation is checked on its own).
      gen_ok = false;
      pos = p + format::kRingRecordAlign;
      continue;
    }
    const uint64_t next = p + RingRecordSize(rec.length);
    if (next > to) break;
    if (rec.kind == RingRecordKind::kData) {
      if (records == 0) {
        first_seq = rec.seq;
      } else if (rec.seq != first_seq + records) {
        gen_ok = false;
      }
      ++records;
      bytes += rec.length;
      pos = next;
      continue;
    }
    RingGenerationEnd end;
    format::DecodeGenerationEnd(rec, &end);
    bool ok = rec.gen != 0 && end.records > 0 &&
              rec.seq == end.first_seq + end.records;
    if (ok) {
      const bool tracked = gen_ok && records == end.records &&
                           first_seq == end.first_seq && bytes == end.bytes &&
                           RingRecordStart(gen_start, size) == end.first_pos;
      ok = tracked || CheckGenerationStrict(region, size, seed, from, end, p);
    }
    if (ok && run.gens > 0 && rec.gen == run.last_gen + 1 &&
        end.first_seq == run.last_end_seq + 1) {
      ++run.gens;
      run.last_gen = rec.gen;
      run.last_end_seq = rec.seq;
      run.end_pos = next;
      run.bytes += end.bytes;
    } else if (ok) {
      run.skipped += run.gens;
      run.first_pos = end.first_pos;
      run.end_pos = next;
      run.gens = 1;
      run.first_gen = run.last_gen = rec.gen;
      run.last_end_seq = rec.seq;
      run.bytes = end.bytes;
    } else {
      run.skipped += run.gens + 1;
      run.gens = 0;
    }
    gen_start = next;
    gen_ok = true;
    records = bytes = 0;
    pos = next;
  }
  return run;
}

// Calls data(rec, next_pos) for each data record and end(gen) for each
// generation-end record in [from, to), a range FindRun verified. Stops
// (returning false) when a callback does, or when a record is not there.
// Async-signal-safe if the callbacks are.
template <typename DataFn, typename EndFn>
bool EmitRange(const uint8_t* region, uint64_t size, uint32_t seed,
               uint64_t from, uint64_t to, DataFn data, EndFn end) {
  uint64_t pos = from;
  while (pos < to) {
    const uint64_t p = RingRecordStart(pos, size);
    if (p >= to) break;
    RingRecord rec;
    if (format::ReadRingRecord(region, size, seed, p, false, &rec) !=
        RingRecordError::kOk) {
      return false;
    }
    const uint64_t next = p + RingRecordSize(rec.length);
    if (rec.kind == RingRecordKind::kData) {
      if (!data(rec, next)) return false;
    } else if (!end(rec.gen)) {
      return false;
    }
    pos = next;
  }
  return true;
}

}  // namespace

// Marks the writer busy for the duration of a write (the crash path waits
// for it, bounded), and tells whether the ring was frozen before it began.
class GenerationRing::BusyScope {
 public:
  explicit BusyScope(GenerationRing* r) : r_(r) {
    r->busy_tid_.store(base::GetTid(), std::memory_order_relaxed);
    r->busy_.store(true, std::memory_order_seq_cst);
    ok_ = !r->frozen_.load(std::memory_order_seq_cst);
  }
  ~BusyScope() { r_->busy_.store(false, std::memory_order_seq_cst); }
  bool ok() const { return ok_; }

 private:
  GenerationRing* r_;
  bool ok_;
};

absl::StatusOr<std::unique_ptr<GenerationRing>> GenerationRing::Create(
    const GenerationRingOptions& options) {
  std::unique_ptr<GenerationRing> r(new GenerationRing);
  r->options_ = options;
  const uint64_t max_bytes =
      options.max_bytes == 0 ? uint64_t{10} << 20 : options.max_bytes;
  const absl::Duration min_age = options.min_age <= absl::ZeroDuration()
                                     ? absl::Seconds(10)
                                     : options.min_age;
  r->min_age_ns_ = static_cast<uint64_t>(absl::ToInt64Nanoseconds(min_age));
  if (options.max_generations == 0) {
    return absl::InvalidArgumentError("max_generations must be at least 1");
  }
  r->size_ = max_bytes / format::kRingRegionAlign * format::kRingRegionAlign;
  if (r->size_ < kMinRegion) {
    return absl::InvalidArgumentError(
        absl::StrCat("flight recorder max_bytes ", max_bytes,
                     " is below the minimum ", kMinRegion));
  }
  r->map_size_ = format::kRingFileHeaderSize + r->size_;
  void* m;
  if (options.file_path.empty()) {
    m = mmap(nullptr, r->map_size_, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      return absl::ResourceExhaustedError(
          absl::StrCat("flight recorder: mmap of ", r->map_size_,
                       " bytes: ", std::strerror(errno)));
    }
  } else {
    const std::string& path = options.file_path;
    r->fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->fd_ < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "flight recorder file ", path, ": ", std::strerror(errno)));
    }
    // Blocks are allocated now, so stores into the mapping never meet a
    // full disk (which would be SIGBUS).
    int e = posix_fallocate(r->fd_, 0, static_cast<off_t>(r->map_size_));
    if (e == EOPNOTSUPP || e == EINVAL) {
      e = ftruncate(r->fd_, static_cast<off_t>(r->map_size_)) == 0 ? 0 : errno;
    }
    if (e != 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("flight recorder file ", path, ": allocating ",
                       r->map_size_, " bytes: ", std::strerror(e)));
    }
    m = mmap(nullptr, r->map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd_,
             0);
    if (m == MAP_FAILED) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "flight recorder file ", path, ": mmap: ", std::strerror(errno)));
    }
  }
  r->map_ = static_cast<uint8_t*>(m);
  r->region_ = r->map_ + format::kRingFileHeaderSize;
  const uint64_t session = NewSession();
  format::EncodeRingFileHeader(r->map_, r->size_, session);
  r->seed_.store(format::RingSessionSeed(session), std::memory_order_release);
  return r;
}

GenerationRing::~GenerationRing() {
  if (map_ != nullptr) munmap(map_, map_size_);
  if (fd_ >= 0) close(fd_);
}

uint64_t GenerationRing::HeadPos() const {
  if (!held_.empty()) return held_.front().first_pos;
  if (active_.started) return active_.first_pos;
  return RingRecordStart(tail_, size_);
}

void GenerationRing::WriteRecord(uint64_t pos, uint64_t gen,
                                 RingRecordKind kind,
                                 absl::Span<const uint8_t> payload) {
  format::WriteRingRecord(region_, size_, seed_.load(std::memory_order_relaxed),
                          pos, next_seq_, gen, kind, payload);
  if (auto* hook = before_commit_hook_.load(std::memory_order_acquire)) {
    hook(next_seq_, before_commit_arg_.load(std::memory_order_relaxed));
  }
  format::CommitRingRecord(region_, size_, pos, next_seq_);  // R2
  ++next_seq_;
}

absl::Status GenerationRing::SetHeader(absl::Span<const uint8_t> header) {
  BusyScope busy(this);
  if (!busy.ok()) {
    return absl::FailedPreconditionError("flight recorder is frozen");
  }
  if (header.empty() || header.size() > format::kRingMaxTraceHeader) {
    return absl::InvalidArgumentError(
        absl::StrCat("trace header of ", header.size(), " bytes"));
  }
  std::lock_guard<std::mutex> l(ring_mu_);
  if (header_size_.load(std::memory_order_relaxed) != 0) {
    // A new trace: nothing held so far may be joined to it.
    evicted_.fetch_add(held_.size(), std::memory_order_relaxed);
    held_.clear();
    active_ = Active();
    tail_ = RingRecordStart(tail_, size_);
    head_.store(tail_, std::memory_order_seq_cst);
    committed_end_.store(tail_, std::memory_order_release);
    active_start_.store(tail_, std::memory_order_relaxed);
    active_end_.store(tail_, std::memory_order_release);
    last_gen_ = 0;
    window_broken_ = false;
    header_size_.store(0, std::memory_order_release);
    const uint64_t session = NewSession();
    format::EncodeRingFileHeader(map_, size_, session);
    seed_.store(format::RingSessionSeed(session), std::memory_order_release);
  }
  std::memcpy(header_, header.data(), header.size());
  format::SetRingTraceHeader(map_, header);
  header_size_.store(static_cast<uint32_t>(header.size()),
                     std::memory_order_release);
  return absl::OkStatus();
}

GenerationRing::Room GenerationRing::MakeRoom(uint64_t need_end) {
  const uint64_t need = need_end > size_ ? need_end - size_ : 0;
  if (need <= write_limit_) return Room::kOk;
  // The generation being written cannot make room out of itself.
  if (active_.started && need > active_.first_pos) return Room::kTooBig;
  std::unique_lock<std::mutex> l(ring_mu_);
  bool evicted = false;
  while (!held_.empty() && held_.front().first_pos < need) {
    held_.pop_front();
    evicted_.fetch_add(1, std::memory_order_relaxed);
    evicted = true;
  }
  const uint64_t head = HeadPos();
  if (evicted) {
    head_.store(head, std::memory_order_seq_cst);  // R1: publish, then check
    if (held_.empty()) {
      active_follows_.store(active_.started && !active_.dropped,
                            std::memory_order_release);
    }
  }
  if (frozen_.load(std::memory_order_seq_cst)) return Room::kFrozen;
  if (pin_ < need) {
    // A WriteTo still needs these bytes: give it writer_wait to move on.
    const auto deadline = std::chrono::steady_clock::now() +
                          absl::ToChronoNanoseconds(options_.writer_wait);
    pin_cv_.wait_until(l, deadline, [&] { return pin_ >= need; });
    if (pin_ < need) return Room::kPinned;
    if (frozen_.load(std::memory_order_seq_cst)) return Room::kFrozen;
  }
  write_limit_ = std::min(head, pin_);
  return Room::kOk;
}

void GenerationRing::DropActive(Room why) {
  if (why == Room::kTooBig) {
    dropped_too_big_.fetch_add(1, std::memory_order_relaxed);
  } else {
    dropped_pinned_.fetch_add(1, std::memory_order_relaxed);
  }
  bytes_dropped_.fetch_add(active_.bytes, std::memory_order_relaxed);
  active_.dropped = true;
  // R5: the next commit lets go of everything before this generation.
  window_broken_ = true;
  active_follows_.store(false, std::memory_order_release);
}

void GenerationRing::ResetActive() {
  active_ = Active();
  active_appends_.store(0, std::memory_order_relaxed);
  active_start_.store(tail_, std::memory_order_relaxed);
  active_end_.store(tail_, std::memory_order_release);
}

absl::Status GenerationRing::Append(absl::Span<const uint8_t> bytes) {
  BusyScope busy(this);
  if (!busy.ok()) {
    return absl::FailedPreconditionError("flight recorder is frozen");
  }
  if (header_size_.load(std::memory_order_relaxed) == 0) {
    return absl::FailedPreconditionError(
        "flight recorder: SetHeader must come before Append");
  }
  if (bytes.empty()) return absl::OkStatus();
  if (!active_.started) {
    active_.started = true;
    active_.first_pos = RingRecordStart(tail_, size_);
    active_.first_seq = next_seq_;
    active_start_.store(active_.first_pos, std::memory_order_relaxed);
    active_end_.store(active_.first_pos, std::memory_order_release);
    active_follows_.store(held_.empty() || !window_broken_,
                          std::memory_order_release);
  }
  if (active_.dropped) {
    bytes_dropped_.fetch_add(bytes.size(), std::memory_order_relaxed);
    return absl::OkStatus();
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const uint64_t pos = RingRecordStart(tail_, size_);
    const uint64_t chunk = std::min<uint64_t>(
        {bytes.size() - done, format::RingRecordRoom(pos, size_), kMaxChunk});
    const uint64_t next = pos + RingRecordSize(chunk);
    const Room room = MakeRoom(next);
    if (room == Room::kFrozen) {
      // Nothing of this Append is published (R4).
      return absl::FailedPreconditionError("flight recorder is frozen");
    }
    if (room != Room::kOk) {
      DropActive(room);  // counts what it held, this Append's start included
      bytes_dropped_.fetch_add(bytes.size() - done, std::memory_order_relaxed);
      return absl::OkStatus();
    }
    WriteRecord(pos, 0, RingRecordKind::kData, bytes.subspan(done, chunk));
    tail_ = next;
    ++active_.records;
    active_.bytes += chunk;
    done += chunk;
  }
  ++active_.appends;
  active_appends_.store(active_.appends, std::memory_order_release);
  active_end_.store(tail_, std::memory_order_release);  // R4
  return absl::OkStatus();
}

absl::Status GenerationRing::EndGeneration(uint64_t gen, uint64_t start_ns,
                                           uint64_t end_ns) {
  BusyScope busy(this);
  if (!busy.ok()) {
    return absl::FailedPreconditionError("flight recorder is frozen");
  }
  if (!active_.started) {
    return absl::FailedPreconditionError(
        absl::StrCat("flight recorder: generation ", gen, " has no bytes"));
  }
  if (gen == 0 || gen <= last_gen_) {
    // Its records stay outside what is held (R5).
    window_broken_ = true;
    active_follows_.store(false, std::memory_order_release);
    ResetActive();
    return absl::InvalidArgumentError(
        absl::StrCat("flight recorder: generation ", gen, " after generation ",
                     last_gen_, " (numbers must increase)"));
  }
  if (active_.dropped) {
    last_gen_ = gen;
    ResetActive();
    return absl::OkStatus();
  }
  const uint64_t pos = RingRecordStart(tail_, size_);
  const uint64_t next = pos + RingRecordSize(format::kRingGenerationEndSize);
  const Room room = MakeRoom(next);
  if (room == Room::kFrozen) {
    return absl::FailedPreconditionError("flight recorder is frozen");
  }
  if (room != Room::kOk) {
    DropActive(room);
    last_gen_ = gen;
    ResetActive();
    return absl::OkStatus();
  }
  RingGenerationEnd end;
  end.start_ns = start_ns;
  end.end_ns = end_ns;
  end.first_seq = active_.first_seq;
  end.first_pos = active_.first_pos;
  end.records = active_.records;
  end.bytes = active_.bytes;
  uint8_t payload[format::kRingGenerationEndSize];
  format::EncodeGenerationEnd(end, payload);
  const uint64_t end_seq = next_seq_;
  WriteRecord(pos, gen, RingRecordKind::kGenerationEnd,
              absl::MakeConstSpan(payload));
  tail_ = next;
  {
    std::lock_guard<std::mutex> l(ring_mu_);
    if (!held_.empty() && (window_broken_ || held_.back().gen + 1 != gen)) {
      evicted_.fetch_add(held_.size(), std::memory_order_relaxed);
      held_.clear();
    }
    held_.push_back({gen, active_.first_pos, tail_, start_ns, end_ns,
                     active_.bytes, end_seq});
    // MinAge (Go's rule): the oldest goes once the newer ones already
    // cover min_age back from the newest generation's end.
    while (held_.size() > 1 && (held_.size() > options_.max_generations ||
                                (end_ns > held_[1].start_ns &&
                                 end_ns - held_[1].start_ns > min_age_ns_))) {
      held_.pop_front();
      evicted_.fetch_add(1, std::memory_order_relaxed);
    }
    head_.store(held_.front().first_pos, std::memory_order_seq_cst);
    committed_end_.store(tail_, std::memory_order_release);  // R3
  }
  committed_.fetch_add(1, std::memory_order_relaxed);
  last_gen_ = gen;
  window_broken_ = false;
  ResetActive();
  active_follows_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<SnapshotInfo> GenerationRing::WriteTo(Sink* sink) {
  std::unique_lock<std::mutex> w(writing_, std::try_to_lock);
  if (!w.owns_lock()) {
    return absl::AbortedError(
        "a WriteTo of this flight recorder is already in progress (use its "
        "result)");
  }
  uint64_t from, to;
  uint32_t seed, header_size;
  uint8_t header[format::kRingMaxTraceHeader];
  {
    std::lock_guard<std::mutex> l(ring_mu_);
    if (held_.empty()) {
      return absl::FailedPreconditionError(
          "flight recorder holds no whole generation yet");
    }
    from = head_.load(std::memory_order_relaxed);
    to = committed_end_.load(std::memory_order_relaxed);
    seed = seed_.load(std::memory_order_relaxed);
    header_size = header_size_.load(std::memory_order_relaxed);
    std::memcpy(header, header_, header_size);
    pin_ = from;
  }
  struct Unpin {
    GenerationRing* r;
    ~Unpin() {
      {
        std::lock_guard<std::mutex> l(r->ring_mu_);
        r->pin_ = kNoPin;
      }
      r->pin_cv_.notify_all();
    }
  } unpin{this};

  const Run run = FindRun(region_, size_, seed, from, to);
  if (run.gens == 0) {
    return absl::DataLossError(
        absl::StrCat("flight recorder: none of the ", run.skipped,
                     " held generations passes its checks"));
  }
  {
    std::lock_guard<std::mutex> l(ring_mu_);
    pin_ = run.first_pos;
  }
  pin_cv_.notify_all();
  SnapshotInfo info;
  info.generations_skipped = run.skipped;
  absl::Status st = sink->Write(absl::MakeConstSpan(header, header_size));
  if (!st.ok()) return st;
  info.bytes = header_size;
  const bool complete = EmitRange(
      region_, size_, seed, run.first_pos, run.end_pos,
      [&](const RingRecord& rec, uint64_t next) {
        st = sink->Write(absl::MakeConstSpan(rec.payload, rec.length));
        if (!st.ok()) return false;
        info.bytes += rec.length;
        {
          std::lock_guard<std::mutex> l(ring_mu_);
          pin_ = next;
        }
        pin_cv_.notify_all();
        return true;
      },
      [&](uint64_t gen) {
        st = sink->EndGeneration();
        if (!st.ok()) return false;
        if (info.generations++ == 0) info.first_gen = gen;
        info.last_gen = gen;
        return true;
      });
  if (!st.ok()) return st;
  if (!complete) {
    return absl::InternalError(
        "flight recorder: a pinned record changed during WriteTo");
  }
  snapshots_.fetch_add(1, std::memory_order_relaxed);
  return info;
}

GenerationRingStats GenerationRing::stats() const {
  GenerationRingStats s;
  {
    std::lock_guard<std::mutex> l(ring_mu_);
    s.generations_held = held_.size();
    if (!held_.empty()) {
      s.first_gen = held_.front().gen;
      s.last_gen = held_.back().gen;
    }
    for (const Held& h : held_) s.bytes_held += h.bytes;
  }
  s.generations_committed = committed_.load(std::memory_order_relaxed);
  s.generations_evicted = evicted_.load(std::memory_order_relaxed);
  s.generations_dropped_too_big =
      dropped_too_big_.load(std::memory_order_relaxed);
  s.generations_dropped_pinned =
      dropped_pinned_.load(std::memory_order_relaxed);
  s.bytes_dropped = bytes_dropped_.load(std::memory_order_relaxed);
  s.snapshots = snapshots_.load(std::memory_order_relaxed);
  return s;
}

void GenerationRing::Freeze() {
  frozen_.store(true, std::memory_order_seq_cst);
}

CrashSnapshotResult GenerationRing::WriteCrashSnapshot(
    int fd, const CrashSnapshotOptions& options) {
  const int saved_errno = errno;  // a signal handler must leave it alone
  struct RestoreErrno {
    int e;
    ~RestoreErrno() { errno = e; }
  } restore{saved_errno};
  CrashSnapshotResult res;
  Freeze();
  // Give a write in progress on another thread the chance to finish, so
  // its bytes can be included; never wait for ourselves.
  if (busy_.load(std::memory_order_seq_cst)) {
    const uint64_t deadline = MonotonicNs() + options.wait_ns;
    const bool self =
        busy_tid_.load(std::memory_order_relaxed) == base::GetTid();
    while (busy_.load(std::memory_order_seq_cst)) {
      if (self || MonotonicNs() >= deadline) {
        res.writer_busy = true;
        break;
      }
      const timespec pause = {0, 20000};
      nanosleep(&pause, nullptr);
    }
  }
  const uint32_t header_size = header_size_.load(std::memory_order_acquire);
  if (header_size == 0) return res;
  const uint64_t to = committed_end_.load(std::memory_order_acquire);  // R3
  const uint64_t from = head_.load(std::memory_order_seq_cst);         // R1
  const uint32_t seed = seed_.load(std::memory_order_acquire);

  Run run;
  if (from < to) run = FindRun(region_, size_, seed, from, to);
  res.generations_skipped = run.skipped;

  // The active generation, if wanted and usable: read its bounds until
  // they are stable (they are, unless a stuck writer wakes up meanwhile).
  bool active = false;
  uint64_t a_from = 0, a_to = 0, a_appends = 0, a_bytes = 0;
  if (options.include_active &&
      active_follows_.load(std::memory_order_acquire) &&
      (run.gens > 0 ? run.end_pos == to : from >= to)) {
    for (int tries = 0; tries < 4 && !active; ++tries) {
      const uint64_t n1 = active_appends_.load(std::memory_order_acquire);
      a_from = active_start_.load(std::memory_order_acquire);
      a_to = active_end_.load(std::memory_order_acquire);
      const uint64_t n2 = active_appends_.load(std::memory_order_acquire);
      if (n1 == n2 && a_to == active_end_.load(std::memory_order_acquire)) {
        a_appends = n1;
        active = a_appends > 0 && a_from >= to && a_to > a_from &&
                 a_to - a_from <= size_;
      }
    }
    // Every record of it must pass its checks.
    uint64_t pos = a_from, seq = 0;
    while (active && pos < a_to) {
      const uint64_t p = RingRecordStart(pos, size_);
      RingRecord rec;
      if (p >= a_to ||
          format::ReadRingRecord(region_, size_, seed, p, true, &rec) !=
              RingRecordError::kOk ||
          rec.kind != RingRecordKind::kData ||
          (seq != 0 && rec.seq != seq + 1)) {
        active = false;
        break;
      }
      seq = rec.seq;
      a_bytes += rec.length;
      pos = p + RingRecordSize(rec.length);
    }
  }

  if ((res.error = format::WriteFully(fd, header_, header_size)) != 0)
    return res;
  res.bytes = header_size;
  auto write_data = [&](const RingRecord& rec, uint64_t) {
    if ((res.error = format::WriteFully(fd, rec.payload, rec.length)) != 0)
      return false;
    res.bytes += rec.length;
    return true;
  };
  if (run.gens > 0) {
    const bool ok = EmitRange(region_, size_, seed, run.first_pos, run.end_pos,
                              write_data, [&](uint64_t gen) {
                                if (res.generations++ == 0) res.first_gen = gen;
                                res.last_gen = gen;
                                return true;
                              });
    if (!ok) return res;
  }
  if (active) {
    const bool ok = EmitRange(region_, size_, seed, a_from, a_to, write_data,
                              [](uint64_t) { return true; });
    if (!ok) return res;
    res.active_included = true;
    res.active_appends = a_appends;
    res.active_bytes = a_bytes;
  }
  return res;
}

}  // namespace gentrace::internal
