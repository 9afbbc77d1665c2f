// Synthetic Go-format traces of any size, valid by Go's rules, for
// benchmarks, memory tests and fuzz seeds (no Go toolchain needed).
//
// Each thread owns a proc and a goroutine that runs all the time; per round
// it writes a region with a log in it, blocks and wakes itself, makes a
// system call and reports the heap (nine events). Every generation repeats
// the statuses and the tables, and carries a few CPU samples.
#ifndef GENTRACE_READER_SYNTHETIC_TRACE_H_
#define GENTRACE_READER_SYNTHETIC_TRACE_H_

#include <cstdint>
#include <string>

namespace gentrace::reader {

struct SyntheticTraceOptions {
  int threads = 8;
  int generations = 4;
  int rounds_per_generation = 1000;  // per thread; nine events a round
  int cpu_samples_per_generation = 16;
};

// The trace bytes ("go 1.23 trace" header included).
std::string SyntheticTrace(const SyntheticTraceOptions& options);

// The number of events a reader delivers for it (Syncs included).
uint64_t SyntheticTraceEvents(const SyntheticTraceOptions& options);

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_SYNTHETIC_TRACE_H_
