// The loaded modules; see module_list.h.
#include "tracer/internal/module_list.h"

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>

namespace gentrace::internal {
namespace {

// The executable's own path: the loader names it "".
std::string ExecutablePath() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The bytes of the NT_GNU_BUILD_ID note in a PT_NOTE segment (mapped at
// `p`, `size` bytes), or "" if it has none. Notes are 4-byte aligned.
std::string BuildIdFromNotes(const uint8_t* p, size_t size) {
  auto align4 = [](size_t n) { return (n + 3) & ~size_t{3}; };
  size_t off = 0;
  while (off + sizeof(ElfW(Nhdr)) <= size) {
    ElfW(Nhdr) nh;
    std::memcpy(&nh, p + off, sizeof(nh));
    const size_t name_off = off + sizeof(nh);
    const size_t desc_off = name_off + align4(nh.n_namesz);
    const size_t next = desc_off + align4(nh.n_descsz);
    if (next > size || desc_off + nh.n_descsz > size) break;
    if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
        std::memcmp(p + name_off, "GNU", 4) == 0) {
      return std::string(reinterpret_cast<const char*>(p + desc_off),
                         nh.n_descsz);
    }
    off = next;
  }
  return "";
}

struct Collect {
  std::vector<format::ModuleRecord>* out;
  std::map<std::string, std::string>* resolved;
};

int AddModule(dl_phdr_info* info, size_t, void* data) {
  Collect* c = static_cast<Collect*>(data);
  format::ModuleRecord m;
  m.bias = info->dlpi_addr;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      lo = std::min<uint64_t>(lo, info->dlpi_addr + ph.p_vaddr);
      hi = std::max<uint64_t>(hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
    } else if (ph.p_type == PT_NOTE && m.build_id.empty()) {
      m.build_id = BuildIdFromNotes(
          reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr),
          ph.p_memsz);
    }
  }
  if (hi == 0) return 0;  // no code
  m.lo = lo;
  m.hi = hi;
  const char* name = info->dlpi_name;
  m.path = name != nullptr && name[0] != '\0' ? name : ExecutablePath();
  // The path with links resolved, as /proc/self/maps shows it (and so the
  // live symbolizer names code it finds no symbol for: "path+0x1234").
  // Resolved once per name: this runs at every generation's end.
  auto [it, added] = c->resolved->try_emplace(m.path, m.path);
  if (added) {
    char resolved[PATH_MAX];
    if (realpath(m.path.c_str(), resolved) != nullptr) it->second = resolved;
  }
  m.path = it->second;
  c->out->push_back(std::move(m));
  return 0;
}

}  // namespace

void ModuleList::Refresh() {
  std::vector<format::ModuleRecord> modules;
  Collect c = {&modules, &resolved_};
  dl_iterate_phdr(&AddModule, &c);
  encoded_.clear();
  ends_.clear();
  for (const format::ModuleRecord& m : modules) {
    format::AppendInfoRecord(m, &encoded_);
    ends_.push_back(encoded_.size());
  }
}

}  // namespace gentrace::internal
