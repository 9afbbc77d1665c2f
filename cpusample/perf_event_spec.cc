// Perf event names resolved through libpfm4 (perf_event_spec.h).
#include "cpusample/perf_event_spec.h"

#include <linux/perf_event.h>
#include <perfmon/pfmlib_perf_event.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace gentrace::cpusample {

namespace {

// The names `perf list` prints for the kernel's generic events: hardware,
// software and hardware cache events. Aliases included (both spellings are
// accepted by perf). Only those libpfm4 resolves are offered as known.
constexpr const char* kGenericNames[] = {
    // Hardware.
    "cycles", "cpu-cycles", "instructions", "cache-references", "cache-misses",
    "branch-instructions", "branches", "branch-misses", "bus-cycles",
    "stalled-cycles-frontend", "stalled-cycles-backend", "ref-cycles",
    // Software.
    "cpu-clock", "task-clock", "page-faults", "faults", "minor-faults",
    "major-faults", "context-switches", "cs", "cpu-migrations", "migrations",
    "alignment-faults", "emulation-faults",
    // Hardware cache.
    "L1-dcache-loads", "L1-dcache-load-misses", "L1-dcache-stores",
    "L1-dcache-store-misses", "L1-dcache-prefetches",
    "L1-dcache-prefetch-misses", "L1-icache-loads", "L1-icache-load-misses",
    "LLC-loads", "LLC-load-misses", "LLC-stores", "LLC-store-misses",
    "dTLB-loads", "dTLB-load-misses", "dTLB-stores", "dTLB-store-misses",
    "iTLB-loads", "iTLB-load-misses", "branch-loads", "branch-load-misses",
    "node-loads", "node-load-misses"};

std::mutex g_pfm_mu;  // libpfm4 is not documented as thread-safe
int g_pfm_init = -1;  // pfm_initialize()'s result, once (under g_pfm_mu)

// Initializes libpfm4 once. Caller holds g_pfm_mu.
int PfmInitLocked() {
  if (g_pfm_init == -1) g_pfm_init = pfm_initialize();
  return g_pfm_init;
}

struct Encoding {
  perf_event_attr attr;
  std::string canonical;
};

// Encodes `event` (no perf-style modifiers) with libpfm4. Caller holds
// g_pfm_mu. Returns libpfm4's error code.
int EncodeLocked(const std::string& event, Encoding* out) {
  memset(&out->attr, 0, sizeof(out->attr));
  pfm_perf_encode_arg_t arg;
  memset(&arg, 0, sizeof(arg));
  arg.size = sizeof(arg);
  arg.attr = &out->attr;
  char* fstr = nullptr;
  arg.fstr = &fstr;
  const int ret = pfm_get_os_event_encoding(event.c_str(), PFM_PLM3,
                                            PFM_OS_PERF_EVENT, &arg);
  if (ret == PFM_SUCCESS) {
    // fstr is "pmu::EVENT:UMASK:attr=value:...": keep the parts without '='.
    std::vector<std::string> parts;
    for (absl::string_view p : absl::StrSplit(fstr ? fstr : "", ':')) {
      if (p.find('=') == absl::string_view::npos) parts.emplace_back(p);
    }
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    out->canonical = absl::StrJoin(parts, ":");
    if (out->canonical.empty() || out->canonical.back() == ':') {
      absl::StrAppend(&out->canonical, event);  // perf_raw::rNNNN
    }
  }
  free(fstr);
  return ret;
}

// Splits "event:mods" into the event and perf's modifier letters, if the
// last ':'-separated part (not part of a "pmu::" prefix) is made only of
// modifier letters.
std::pair<std::string, std::string> SplitModifiers(absl::string_view name) {
  const size_t colon = name.rfind(':');
  if (colon == absl::string_view::npos || colon == 0 ||
      name[colon - 1] == ':') {
    return {std::string(name), ""};
  }
  const absl::string_view mods = name.substr(colon + 1);
  if (mods.empty() || mods.size() > 6) return {std::string(name), ""};
  for (char c : mods) {
    if (c != 'u' && c != 'k' && c != 'h' && c != 'p') {
      return {std::string(name), ""};
    }
  }
  return {std::string(name.substr(0, colon)), std::string(mods)};
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const bool same =
          absl::ascii_tolower(static_cast<unsigned char>(a[i - 1])) ==
          absl::ascii_tolower(static_cast<unsigned char>(b[j - 1]));
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (same ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> KnownNamesLocked() {
  std::vector<std::string> names;
  if (PfmInitLocked() != PFM_SUCCESS) return names;
  Encoding enc;
  for (const char* n : kGenericNames) {
    if (EncodeLocked(n, &enc) == PFM_SUCCESS) names.emplace_back(n);
  }
  for (int p = PFM_PMU_NONE; p < PFM_PMU_MAX; ++p) {
    const pfm_pmu_t pmu = static_cast<pfm_pmu_t>(p);
    pfm_pmu_info_t pinfo;
    memset(&pinfo, 0, sizeof(pinfo));
    pinfo.size = sizeof(pinfo);
    if (pfm_get_pmu_info(pmu, &pinfo) != PFM_SUCCESS || !pinfo.is_present) {
      continue;
    }
    for (int i = pinfo.first_event; i != -1; i = pfm_get_event_next(i)) {
      pfm_event_info_t einfo;
      memset(&einfo, 0, sizeof(einfo));
      einfo.size = sizeof(einfo);
      if (pfm_get_event_info(i, PFM_OS_PERF_EVENT, &einfo) != PFM_SUCCESS) {
        continue;
      }
      const std::string event = absl::StrCat(pinfo.name, "::", einfo.name);
      if (EncodeLocked(event, &enc) == PFM_SUCCESS) {
        names.push_back(event);
        continue;
      }
      // An event with no default unit mask is offered with each of its
      // unit masks that encodes.
      for (int a = 0; a < einfo.nattrs; ++a) {
        pfm_event_attr_info_t ainfo;
        memset(&ainfo, 0, sizeof(ainfo));
        ainfo.size = sizeof(ainfo);
        if (pfm_get_event_attr_info(i, a, PFM_OS_PERF_EVENT, &ainfo) !=
                PFM_SUCCESS ||
            ainfo.type != PFM_ATTR_UMASK) {
          continue;
        }
        const std::string with_umask = absl::StrCat(event, ":", ainfo.name);
        if (EncodeLocked(with_umask, &enc) == PFM_SUCCESS) {
          names.push_back(with_umask);
        }
      }
    }
  }
  return names;
}

}  // namespace

std::vector<std::string> ClosestNames(absl::string_view name,
                                      const std::vector<std::string>& known,
                                      size_t max) {
  std::vector<std::pair<size_t, size_t>> scored;  // (distance, index)
  scored.reserve(known.size());
  for (size_t i = 0; i < known.size(); ++i) {
    // A pmu::EVENT name is also compared by its event part alone, so
    // "RETIRED_INSTRUCTION" finds "amd64_...::RETIRED_INSTRUCTIONS".
    size_t d = EditDistance(name, known[i]);
    const size_t sep = known[i].find("::");
    if (sep != std::string::npos &&
        name.find("::") == absl::string_view::npos) {
      d = std::min(
          d, EditDistance(name, absl::string_view(known[i]).substr(sep + 2)));
    }
    scored.emplace_back(d, i);
  }
  std::stable_sort(
      scored.begin(), scored.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && out.size() < max; ++i) {
    out.push_back(known[scored[i].second]);
  }
  return out;
}

std::vector<std::string> KnownPerfEventNames() {
  std::lock_guard<std::mutex> lock(g_pfm_mu);
  return KnownNamesLocked();
}

absl::StatusOr<PerfEventSpec> ResolvePerfEvent(absl::string_view name) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(name);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError("empty perf event name");
  }
  if (trimmed.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "perf event '", trimmed,
        "': the pmu/term=value/ syntax is not supported; name the event "
        "(e.g. cycles, L1-dcache-load-misses) or give a raw code as rUUEE"));
  }
  auto [event, mods] = SplitModifiers(trimmed);
  PerfEventSpec spec;
  spec.name = std::string(trimmed);
  bool user = false, kernel = false;
  for (char c : mods) {
    switch (c) {
      case 'u':
        user = true;
        break;
      case 'k':
        kernel = true;
        break;
      case 'h':
        spec.exclude_hv = false;
        break;
      case 'p':
        ++spec.precise_ip;
        break;
    }
  }
  if (spec.precise_ip > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("perf event '", trimmed,
                     "': at most three 'p' modifiers (precise "
                     "levels 1 to 3), got ",
                     spec.precise_ip));
  }
  spec.levels = user && kernel ? PerfLevels::kUserKernel
                : user         ? PerfLevels::kUser
                : kernel       ? PerfLevels::kKernel
                               : PerfLevels::kDefault;

  std::lock_guard<std::mutex> lock(g_pfm_mu);
  const int init = PfmInitLocked();
  if (init != PFM_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("libpfm4 failed to initialize: ", pfm_strerror(init)));
  }
  Encoding enc;
  const int ret = EncodeLocked(event, &enc);
  if (ret != PFM_SUCCESS) {
    if (ret == PFM_ERR_NOTFOUND) {
      const std::vector<std::string> close =
          ClosestNames(event, KnownNamesLocked(), 5);
      return absl::NotFoundError(absl::StrCat(
          "no perf event '", event, "' on this machine",
          close.empty() ? "" : "; closest: ", absl::StrJoin(close, ", ")));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("perf event '", trimmed, "': ", pfm_strerror(ret)));
  }
  spec.canonical = std::move(enc.canonical);
  spec.type = enc.attr.type;
  spec.config = enc.attr.config;
  spec.config1 = enc.attr.config1;
  spec.config2 = enc.attr.config2;
  spec.hardware = spec.type == PERF_TYPE_HARDWARE ||
                  spec.type == PERF_TYPE_HW_CACHE ||
                  spec.type == PERF_TYPE_RAW || spec.type >= PERF_TYPE_MAX;
  spec.clock = spec.type == PERF_TYPE_SOFTWARE &&
               (spec.config == PERF_COUNT_SW_CPU_CLOCK ||
                spec.config == PERF_COUNT_SW_TASK_CLOCK);
  if (spec.precise_ip > 0 && !spec.hardware) {
    return absl::InvalidArgumentError(
        absl::StrCat("perf event '", trimmed,
                     "': the precise modifier 'p' applies to "
                     "hardware events only; '",
                     event, "' is a software event"));
  }
  return spec;
}

}  // namespace gentrace::cpusample
