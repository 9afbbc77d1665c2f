// The perf mmap ring as a signal-free sample source (perf_ring.h).
#include "cpusample/perf_ring.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/sys.h"

namespace gentrace::cpusample {

namespace {

constexpr uint64_t kSampleType = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |
                                 PERF_SAMPLE_TID | PERF_SAMPLE_TIME;

// Fills attr for one event of the ring. Returns whether kernel mode is
// excluded (for error messages).
bool FillAttr(const PerfRingEvent& ev, const PerfRingOptions& options,
              perf_event_attr* attr) {
  memset(attr, 0, sizeof(*attr));
  attr->size = sizeof(*attr);
  attr->type = ev.spec.type;
  attr->config = ev.spec.config;
  attr->config1 = ev.spec.config1;
  attr->config2 = ev.spec.config2;
  if (ev.period != 0) {
    attr->sample_period = ev.period;
  } else {
    attr->freq = 1;
    attr->sample_freq = ev.freq;
  }
  attr->sample_type = kSampleType;
  if (options.callchain) {
    attr->sample_type |= PERF_SAMPLE_CALLCHAIN;
    attr->exclude_callchain_kernel = 1;
    attr->sample_max_stack = static_cast<uint16_t>(options.max_callchain);
  }
  attr->disabled = 1;
  bool exclude_user = false;
  bool exclude_kernel = true;
  switch (ev.spec.levels) {
    case PerfLevels::kUser:
      break;
    case PerfLevels::kKernel:
      exclude_user = true;
      exclude_kernel = false;
      break;
    case PerfLevels::kUserKernel:
      exclude_kernel = false;
      break;
    case PerfLevels::kDefault:
      exclude_kernel = options.kernel != PerfKernel::kInclude;
      break;
  }
  attr->exclude_user = exclude_user ? 1 : 0;
  attr->exclude_kernel = exclude_kernel ? 1 : 0;
  attr->exclude_hv = ev.spec.exclude_hv ? 1 : 0;
  attr->precise_ip = static_cast<unsigned>(ev.spec.precise_ip) & 3;
  attr->use_clockid = 1;
  attr->clockid = options.clock;
  // Wake a poller when a quarter of the ring holds records.
  attr->watermark = 1;
  attr->wakeup_watermark = static_cast<uint32_t>(
      options.data_pages * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 4);
  return exclude_kernel;
}

bool IsPowerOfTwo(size_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

absl::StatusOr<std::unique_ptr<PerfRing>> PerfRing::Open(
    const std::vector<PerfRingEvent>& events, pid_t tid,
    const PerfRingOptions& options) {
  if (events.empty()) {
    return absl::InvalidArgumentError("perf ring: no events");
  }
  if (!IsPowerOfTwo(options.data_pages) || options.data_pages > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("perf ring: data_pages must be a power of two from 1 "
                     "to 65536, got ",
                     options.data_pages));
  }
  if (options.callchain &&
      (options.max_callchain < 1 || options.max_callchain > 1024)) {
    return absl::InvalidArgumentError(
        absl::StrCat("perf ring: max_callchain must be 1..1024, got ",
                     options.max_callchain));
  }
  for (const PerfRingEvent& ev : events) {
    if (ev.period == 0 && ev.freq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "perf ring: event '", ev.spec.name, "' needs a period or a freq"));
    }
  }
  std::unique_ptr<PerfRing> ring(new PerfRing());
  ring->callchain_ = options.callchain;
  // The kernel refuses (ENOENT) a sample_max_stack above
  // kernel.perf_event_max_stack: ask for at most that.
  PerfRingOptions opts = options;
  const std::string max_stack =
      base::ReadSmallFile("/proc/sys/kernel/perf_event_max_stack");
  if (const int limit = atoi(max_stack.c_str());
      limit > 0 && opts.max_callchain > limit) {
    opts.max_callchain = limit;
  }
  for (const PerfRingEvent& ev : events) {
    perf_event_attr attr;
    const bool exclude_kernel = FillAttr(ev, opts, &attr);
    // The kernel's own count of this event's lost samples (Linux 6.0+),
    // read back with the event's value; older kernels refuse the flag.
    attr.read_format = PERF_FORMAT_LOST;
    int fd = static_cast<int>(
        syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0 && errno == EINVAL) {
      attr.read_format = 0;
      fd = static_cast<int>(syscall(SYS_perf_event_open, &attr, tid, -1, -1,
                                    PERF_FLAG_FD_CLOEXEC));
    }
    if (fd >= 0 && ring->fds_.empty()) {
      ring->lost_counts_ = attr.read_format == PERF_FORMAT_LOST;
    } else if (fd >= 0 &&
               ring->lost_counts_ != (attr.read_format == PERF_FORMAT_LOST)) {
      ring->lost_counts_ = false;  // mixed: do not trust either
    }
    if (fd < 0) {
      return internal::PerfOpenError(ev.spec.name, ev.spec.hardware, errno,
                                     exclude_kernel,
                                     internal::ReadSystemFacts());
    }
    ring->fds_.push_back(fd);
    uint64_t id = 0;
    if (ioctl(fd, PERF_EVENT_IOC_ID, &id) != 0) {
      return absl::InternalError(
          absl::StrCat("perf ring: PERF_EVENT_IOC_ID on '", ev.spec.name,
                       "': ", base::ErrnoText(errno)));
    }
    ring->ids_.push_back(id);
  }

  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  ring->data_size_ = options.data_pages * page;
  ring->map_size_ = ring->data_size_ + page;
  void* map = mmap(nullptr, ring->map_size_, PROT_READ | PROT_WRITE, MAP_SHARED,
                   ring->fds_[0], 0);
  if (map == MAP_FAILED) {
    const int err = errno;
    return absl::ResourceExhaustedError(absl::StrCat(
        "perf ring: mapping ", ring->map_size_ / 1024, " KiB failed (",
        base::ErrnoText(err),
        err == EPERM
            ? "): an unprivileged process may lock perf_event_mlock_kb "
              "(kernel.perf_event_mlock_kb) per CPU of perf rings in all, "
              "then RLIMIT_MEMLOCK; use fewer or smaller rings, or raise "
              "either limit"
            : ")"));
  }
  ring->map_ = map;
  ring->data_ = static_cast<unsigned char*>(map) + page;
  for (size_t i = 1; i < ring->fds_.size(); ++i) {
    if (ioctl(ring->fds_[i], PERF_EVENT_IOC_SET_OUTPUT, ring->fds_[0]) != 0) {
      return absl::InternalError(
          absl::StrCat("perf ring: PERF_EVENT_IOC_SET_OUTPUT for '",
                       events[i].spec.name, "': ", base::ErrnoText(errno)));
    }
  }
  // The largest record: header.size is 16 bits.
  ring->scratch_.resize(1 << 16);
  ring->chain_.reserve(1 << 13);
  return ring;
}

PerfRing::~PerfRing() {
  Disable();
  if (map_ != nullptr) munmap(map_, map_size_);
  for (int fd : fds_) close(fd);
}

bool PerfRing::Enable() {
  bool ok = true;
  for (int fd : fds_) ok &= ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) == 0;
  return ok;
}

void PerfRing::Disable() {
  for (int fd : fds_) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

absl::StatusOr<uint64_t> PerfRing::ReadCount(size_t event) const {
  if (event >= fds_.size()) {
    return absl::OutOfRangeError(absl::StrCat("perf ring: no event ", event));
  }
  uint64_t values[2] = {0, 0};  // value, and lost with PERF_FORMAT_LOST
  const size_t want = lost_counts_ ? sizeof(values) : sizeof(values[0]);
  const ssize_t n = read(fds_[event], values, sizeof(values));
  if (n != static_cast<ssize_t>(want)) {
    return absl::InternalError(absl::StrCat(
        "perf ring: read of counter ", event, ": ", base::ErrnoText(errno)));
  }
  return values[0];
}

absl::StatusOr<uint64_t> PerfRing::ReadLost(size_t event) const {
  if (event >= fds_.size()) {
    return absl::OutOfRangeError(absl::StrCat("perf ring: no event ", event));
  }
  if (!lost_counts_) {
    return absl::UnimplementedError(
        "perf ring: this kernel does not count lost samples per event "
        "(PERF_FORMAT_LOST needs Linux 6.0)");
  }
  uint64_t values[2] = {0, 0};
  if (read(fds_[event], values, sizeof(values)) !=
      static_cast<ssize_t>(sizeof(values))) {
    return absl::InternalError(absl::StrCat(
        "perf ring: read of counter ", event, ": ", base::ErrnoText(errno)));
  }
  return values[1];
}

uint64_t PerfRing::UnreportedLost() const {
  if (!lost_counts_) return 0;
  uint64_t kernel_lost = 0;
  for (size_t i = 0; i < fds_.size(); ++i) {
    absl::StatusOr<uint64_t> n = ReadLost(i);
    if (n.ok()) kernel_lost += *n;
  }
  return kernel_lost > total_.lost ? kernel_lost - total_.lost : 0;
}

PerfRingDrainStats PerfRing::Drain(
    absl::FunctionRef<void(const PerfRingSample&)> on_sample) {
  PerfRingDrainStats stats;
  stats.samples_by_event.assign(fds_.size(), 0);
  stats.lost_by_event.assign(fds_.size(), 0);
  if (map_ == nullptr) return stats;
  auto* meta = static_cast<perf_event_mmap_page*>(map_);
  // The kernel publishes data_head after the records before it are
  // written (acquire pairs with its barrier); we publish data_tail after
  // we are done reading them (release), and only then may it reuse them.
  const uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = meta->data_tail;
  const uint64_t mask = data_size_ - 1;
  while (tail < head) {
    const size_t off = static_cast<size_t>(tail & mask);
    perf_event_header hdr;
    // The header itself may wrap (records are 8-byte aligned, the header is
    // 8 bytes, so it never does; copy anyway for clarity of aliasing).
    memcpy(&hdr, data_ + off, sizeof(hdr));
    if (hdr.size < sizeof(hdr) || tail + hdr.size > head) break;  // torn
    const unsigned char* rec = data_ + off;
    if (off + hdr.size > data_size_) {
      const size_t first = data_size_ - off;
      memcpy(scratch_.data(), data_ + off, first);
      memcpy(scratch_.data() + first, data_, hdr.size - first);
      rec = scratch_.data();
    }
    const unsigned char* p = rec + sizeof(hdr);
    const unsigned char* end = rec + hdr.size;
    auto u64 = [&p, end](uint64_t* v) {
      if (p + 8 > end) return false;
      memcpy(v, p, 8);
      p += 8;
      return true;
    };
    if (hdr.type == PERF_RECORD_SAMPLE) {
      PerfRingSample s;
      uint64_t id = 0, pidtid = 0;
      bool ok = u64(&id) && u64(&s.ip) && u64(&pidtid) && u64(&s.time);
      s.pid = static_cast<pid_t>(pidtid & 0xffffffffu);
      s.tid = static_cast<pid_t>(pidtid >> 32);
      chain_.clear();
      if (ok && callchain_) {
        uint64_t nr = 0;
        ok = u64(&nr) && nr <= static_cast<uint64_t>(end - p) / 8;
        for (uint64_t i = 0; ok && i < nr; ++i) {
          uint64_t pc = 0;
          u64(&pc);
          // PERF_CONTEXT_* markers (user, kernel...) are the top 4095
          // values; they separate the chain's parts and are not frames.
          if (pc >= static_cast<uint64_t>(PERF_CONTEXT_MAX)) continue;
          chain_.push_back(pc);
        }
      }
      if (ok) {
        s.event = fds_.size();
        for (size_t i = 0; i < ids_.size(); ++i) {
          if (ids_[i] == id) s.event = i;
        }
        s.callchain = chain_.data();
        s.callchain_size = chain_.size();
      }
      if (ok && s.event < fds_.size()) {
        ++stats.samples;
        ++stats.samples_by_event[s.event];
        on_sample(s);
      } else {
        ++stats.other_records;  // malformed or not ours: not trusted
      }
    } else if (hdr.type == PERF_RECORD_LOST) {
      uint64_t id = 0, lost = 0;
      if (u64(&id) && u64(&lost)) {
        stats.lost += lost;
        if (!lost_counts_) {
          size_t event = 0;  // an id not ours: the primary
          for (size_t i = 0; i < ids_.size(); ++i) {
            if (ids_[i] == id) event = i;
          }
          stats.lost_by_event[event] += lost;
        }
      }
    } else {
      ++stats.other_records;
    }
    tail += hdr.size;
  }
  __atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
  if (lost_counts_) {
    // After the records: a sample the kernel failed to write after we
    // read data_head is counted now, and was not among them.
    kernel_lost_seen_.resize(fds_.size(), 0);
    for (size_t i = 0; i < fds_.size(); ++i) {
      absl::StatusOr<uint64_t> n = ReadLost(i);
      if (n.ok() && *n > kernel_lost_seen_[i]) {
        stats.lost_by_event[i] = *n - kernel_lost_seen_[i];
        kernel_lost_seen_[i] = *n;
      }
    }
  }
  total_.samples += stats.samples;
  total_.lost += stats.lost;
  total_.other_records += stats.other_records;
  return stats;
}

}  // namespace gentrace::cpusample
