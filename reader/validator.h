// A checker for a stream of reader events: the consistency rules Go's own
// reader tests apply to every event (Go's internal/trace/testtrace
// Validator). The reader validates the wire data; this checks what the
// reader hands out: strictly increasing times, state transitions that
// follow each other and bind to threads consistently, ranges begun before
// they end, tasks with sensible ids.
//
//   Validator v;
//   while (r->ReadEvent(&ev)) {
//     if (absl::Status s = v.Event(ev); !s.ok()) ...;
//   }
#ifndef GENTRACE_READER_VALIDATOR_H_
#define GENTRACE_READER_VALIDATOR_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "reader/event.h"

namespace gentrace::reader {

class Validator {
 public:
  Validator() = default;

  // Checks ev as the next event. Returns every problem found, joined by
  // newlines (Go's errors.Join), or OK.
  absl::Status Event(const reader::Event& ev);

 private:
  struct SchedContext {
    int64_t m, p, g;
  };
  struct GoEntry {
    GoState state;
    int ctx = -1;  // index into ctxs_ or -1
  };
  struct ProcEntry {
    ProcState state;
    int ctx = -1;
  };

  // The context of thread m, created on first use; -1 (with an error) for
  // no thread.
  int GetOrCreateThread(std::vector<std::string>* errs, int64_t m);
  bool HasRange(const ResourceId& r, const std::string& name) const;
  bool HasAnyRange(const ResourceId& r) const;

  int64_t last_ts_ = 0;
  bool seen_sync_ = false;
  absl::flat_hash_map<int64_t, GoEntry> gs_;
  absl::flat_hash_map<int64_t, ProcEntry> ps_;
  absl::flat_hash_map<int64_t, int> ms_;  // thread -> ctxs_ index
  std::vector<SchedContext> ctxs_;
  absl::flat_hash_map<ResourceId, std::vector<std::string>> ranges_;
  absl::flat_hash_map<uint64_t, std::string> tasks_;
};

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_VALIDATOR_H_
