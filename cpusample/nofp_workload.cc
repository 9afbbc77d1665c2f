// A call chain built without frame pointers (see nofp_workload.h). The
// middle function keeps many values live so that the compiler also uses
// rbp for data, as optimized code without frame pointers does.
#include "cpusample/nofp_workload.h"

namespace gentrace::cpusample::testing {

__attribute__((noinline, noclone)) uint64_t NoFpHot(uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 100000; ++i) x = x * 6364136223846793005u + i;
  return x;
}

__attribute__((noinline, noclone)) uint64_t NoFpMiddle(uint64_t seed) {
  // Many live values across the call: callee-saved registers, rbp among
  // them, hold data.
  uint64_t a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11,
           e = seed * 13, f = seed * 17, g = seed * 19;
  const uint64_t h = NoFpHot(seed);
  asm volatile(""
               : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g));
  return h ^ a ^ b ^ c ^ d ^ e ^ f ^ g;
}

__attribute__((noinline, noclone)) uint64_t NoFpOuter(uint64_t rounds) {
  uint64_t x = 1;
  for (uint64_t r = 0; r < rounds; ++r) x += NoFpMiddle(x + r);
  return x;
}

}  // namespace gentrace::cpusample::testing
