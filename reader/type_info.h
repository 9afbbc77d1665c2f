// Per-event-type facts the reader needs on every event, precomputed from
// format/spec.h (the one event table) into a flat array indexed by type.
#ifndef GENTRACE_READER_TYPE_INFO_H_
#define GENTRACE_READER_TYPE_INFO_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "format/spec.h"
#include "reader/event.h"

namespace gentrace::reader {

struct TypeInfo {
  const format::EventSpec* spec = nullptr;  // nullptr: undefined type
  bool timed = false;
  uint8_t num_args = 0;  // arguments after dt
  EventKind kind = EventKind::kBad;
  // Argument indices (after dt) of stack ids, the event's own first, and
  // of string ids; -1 terminated.
  int8_t own_stack = -1;
  std::array<int8_t, 3> stacks{-1, -1, -1};
  std::array<int8_t, 3> strings{-1, -1, -1};
  // Whether delivering such an event needs a check (any stack or string
  // argument; a CPU sample, STWEnd or status event).
  bool check_ids = false;
  // Argument names after dt (for experimental events).
  std::array<absl::string_view, format::kMaxEventArgs> arg_names{};
};

namespace internal {
// The table, built during static initialization (event.cc).
extern const TypeInfo* const kTypeInfoTable;
}  // namespace internal

// The facts for `type` (all 256 values are valid indices).
inline const TypeInfo& GetTypeInfo(uint8_t type) {
  return internal::kTypeInfoTable[type];
}

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_TYPE_INFO_H_
