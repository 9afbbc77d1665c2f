#include <unistd.h>
#include <cstdio>
#include <thread>
#include <vector>
#include "tracer/gentrace.h"

int main(int argc, char** argv) {
  gentrace::Options o;
  o.path = argc > 1 ? argv[1] : "/tmp/gt/smoke.trace";
  o.generation_period = absl::Milliseconds(20);
  auto s = gentrace::Start(o);
  if (!s.ok()) { fprintf(stderr, "%s\n", s.ToString().c_str()); return 1; }
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([t] {
      gentrace::SetThreadName("worker-" + std::to_string(t));
      for (int i = 0; i < 2000; ++i) {
        gentrace::Task task = gentrace::Task::Begin("req");
        GENTRACE_REGION("stage");
        gentrace::Log("cat", "message", task.id());
        { gentrace::ScopedSyscall sc; usleep(10); }
        { gentrace::ScopedBlock b(gentrace::BlockReason::kSync); usleep(10); }
      }
    });
  }
  for (auto& t : ts) t.join();
  s = gentrace::Stop();
  fprintf(stderr, "stop: %s\n", s.ToString().c_str());
  auto st = gentrace::GetStats();
  fprintf(stderr, "gens=%lu bytes=%lu threads=%lu\n", st.generations, st.bytes_written, st.threads_seen);
  return 0;
}
