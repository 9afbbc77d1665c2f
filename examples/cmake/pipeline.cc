// A program instrumented with gentrace, built with find_package(gentrace)
// (see CMakeLists.txt next to this file):
//
//   pipeline OUT.trace
//
// traces a producer and a few consumer threads passing requests through a
// queue (tasks, regions, logs, blocking on a gentrace::Mutex and CondVar),
// then reads the trace back with gentrace's reader and prints how many
// events it holds. Exits non-zero if tracing or reading fails.
#include <cstdio>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "reader/reader.h"
#include "tracer/gentrace.h"

namespace {

struct Queue {
  gentrace::Mutex mu;
  gentrace::CondVar cv;
  std::deque<int> items;
  bool closed = false;
};

void Consumer(Queue* q, int index) {
  gentrace::SetThreadName("consumer-" + std::to_string(index));
  for (;;) {
    int item;
    {
      std::unique_lock<gentrace::Mutex> lock(q->mu);
      while (q->items.empty() && !q->closed) q->cv.wait(lock);
      if (q->items.empty()) return;
      item = q->items.front();
      q->items.pop_front();
    }
    gentrace::Task request = gentrace::Task::Begin("request");
    GENTRACE_TASK_REGION(request.id(), "serve");
    unsigned x = item;
    for (int i = 0; i < 200000; ++i) x = x * 1664525u + 1013904223u;
    gentrace::Logf("served", "item=%d hash=%u", item, x);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pipeline OUT.trace\n");
    return 2;
  }
  gentrace::Options options;
  options.path = argv[1];
  if (absl::Status s = gentrace::Start(options); !s.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", s.ToString().c_str());
    return 1;
  }
  Queue q;
  std::vector<std::thread> consumers;
  for (int i = 0; i < 3; ++i) consumers.emplace_back(Consumer, &q, i);
  {
    GENTRACE_REGION("produce");
    for (int i = 0; i < 60; ++i) {
      std::lock_guard<gentrace::Mutex> lock(q.mu);
      q.items.push_back(i);
      q.cv.notify_one();
    }
    gentrace::Log("producer", "all queued");
  }
  {
    std::lock_guard<gentrace::Mutex> lock(q.mu);
    q.closed = true;
    q.cv.notify_all();
  }
  for (std::thread& t : consumers) t.join();
  if (absl::Status s = gentrace::Stop(); !s.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", s.ToString().c_str());
    return 1;
  }

  absl::StatusOr<std::unique_ptr<gentrace::reader::Reader>> reader =
      gentrace::reader::Reader::Open(argv[1]);
  if (!reader.ok()) {
    std::fprintf(stderr, "pipeline: %s\n", reader.status().ToString().c_str());
    return 1;
  }
  gentrace::reader::Event ev;
  long events = 0;
  while ((*reader)->ReadEvent(&ev)) ++events;
  if (!(*reader)->status().ok()) {
    std::fprintf(stderr, "pipeline: reading back: %s\n",
                 (*reader)->status().ToString().c_str());
    return 1;
  }
  std::printf("pipeline: wrote %s, %ld events\n", argv[1], events);
  return 0;
}
