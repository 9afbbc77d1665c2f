// A call chain built without frame pointers (-fomit-frame-pointer), for the
// tests that document what the frame-pointer walk sees in such code.
#ifndef GENTRACE_CPUSAMPLE_NOFP_WORKLOAD_H_
#define GENTRACE_CPUSAMPLE_NOFP_WORKLOAD_H_

#include <cstdint>

namespace gentrace::cpusample::testing {

// NoFpOuter -> NoFpMiddle -> NoFpHot, each without a frame pointer; rbp is
// a general register in them. Runs about `rounds` x 10^5 multiply-adds.
uint64_t NoFpOuter(uint64_t rounds);

}  // namespace gentrace::cpusample::testing

#endif  // GENTRACE_CPUSAMPLE_NOFP_WORKLOAD_H_
