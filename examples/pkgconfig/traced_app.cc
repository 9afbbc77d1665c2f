// A program instrumented with gentrace and built against an installed
// gentrace with pkg-config (see the Makefile next to this file):
//
//   traced_app OUT.trace
//
// records a trace of a few worker threads, each running tasks with nested
// regions and logs, with CPU samples on, and exits non-zero if the tracer
// fails. Outside the Bazel build: it uses only the installed headers.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "tracer/gentrace.h"

namespace {

// Busy work, so CPU samples have something to land on.
unsigned Spin(int rounds) {
  unsigned x = 1;
  for (int i = 0; i < rounds * 100000; ++i) x = x * 1664525u + 1013904223u;
  return x;
}

void Worker(int index, int jobs) {
  gentrace::SetThreadName("worker-" + std::to_string(index));
  for (int j = 0; j < jobs; ++j) {
    gentrace::Task job = gentrace::Task::Begin("job");
    GENTRACE_TASK_REGION(job.id(), "handle");
    {
      GENTRACE_REGION("compute");
      gentrace::Logf("result", "job=%d value=%u", j, Spin(3));
    }
    gentrace::Log("state", "done", job.id());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: traced_app OUT.trace\n");
    return 2;
  }
  gentrace::Options options;
  options.path = argv[1];
  options.cpu.enabled = true;
  options.generation_period = absl::Milliseconds(20);
  if (absl::Status s = gentrace::Start(options); !s.ok()) {
    std::fprintf(stderr, "traced_app: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(Worker, i, 20);
  for (std::thread& t : threads) t.join();
  if (absl::Status s = gentrace::Stop(); !s.ok()) {
    std::fprintf(stderr, "traced_app: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("traced_app: wrote %s\n", argv[1]);
  return 0;
}
