// A test workload with a known number of page faults, for tests of perf
// page-fault sampling (cpusample/perf_ring_test, tests/tracer/
// cpu_samples_test): the faults are taken inside TouchFreshPages, so a
// sample's PC names it.
#ifndef GENTRACE_CPUSAMPLE_FAULT_WORKLOAD_H_
#define GENTRACE_CPUSAMPLE_FAULT_WORKLOAD_H_

#include <cstddef>

namespace gentrace::cpusample::testing {

// Maps `pages` fresh anonymous pages (huge pages off: one fault a page),
// writes one byte to each, and unmaps them: `pages` page faults in this
// function. Returns false if the mapping failed.
bool TouchFreshPages(size_t pages);

}  // namespace gentrace::cpusample::testing

#endif  // GENTRACE_CPUSAMPLE_FAULT_WORKLOAD_H_
