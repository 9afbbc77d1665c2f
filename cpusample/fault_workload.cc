#include "cpusample/fault_workload.h"

#include <sys/mman.h>
#include <unistd.h>

namespace gentrace::cpusample::testing {

__attribute__((noinline)) bool TouchFreshPages(size_t pages) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, pages * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  madvise(mem, pages * page, MADV_NOHUGEPAGE);
  volatile unsigned char* p = static_cast<volatile unsigned char*>(mem);
  for (size_t i = 0; i < pages; ++i) p[i * page] = 1;
  munmap(mem, pages * page);
  return true;
}

}  // namespace gentrace::cpusample::testing
