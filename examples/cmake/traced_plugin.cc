// A plugin (a MODULE library) linked with gentrace's shared tracer, for
// plugin_host to dlopen(): the tracer then arrives in the process late, with
// the plugin. Its one entry point traces a few threads into a file.
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "tracer/gentrace.h"

namespace {

void Work(int index) {
  gentrace::SetThreadName("plugin-" + std::to_string(index));
  gentrace::Task task = gentrace::Task::Begin("plugin-task");
  GENTRACE_TASK_REGION(task.id(), "plugin-work");
  gentrace::Logf("plugin", "thread %d", index);
}

}  // namespace

// Returns 0 when the trace was written, 1 when the tracer failed.
extern "C" int TracedPluginRun(const char* path) {
  gentrace::Options options;
  options.path = path;
  if (!gentrace::Start(options).ok()) return 1;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back(Work, i);
  for (std::thread& t : threads) t.join();
  return gentrace::Stop().ok() ? 0 : 1;
}
