// Per-generation lookup tables: strings, stacks and stack frames (Go's
// evTable). Ids are local to one generation and arbitrary uint64s; id 0 is
// always present (the empty string, the empty stack).
//
// Tables are built while a generation is loaded and then frozen with
// Finish(), which turns a densely numbered table into a plain array (the
// runtime numbers strings and stacks from 1, so this is the common case).
// Strings are views into the generation's batch storage: nothing is copied.
#ifndef GENTRACE_READER_TABLES_H_
#define GENTRACE_READER_TABLES_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace gentrace::reader {

// One stack frame as a reader hands it out.
struct StackFrame {
  uint64_t pc = 0;
  absl::string_view func;
  absl::string_view file;
  uint64_t line = 0;
};

// A frame as stored: string ids, resolved on access.
struct FrameRecord {
  uint64_t pc = 0;
  uint64_t func_id = 0;
  uint64_t file_id = 0;
  uint64_t line = 0;
};

// A map from uint64 ids to small values, dense when the ids allow it.
// Value must be default-constructible; id 0 is always found and maps to
// Value{} (Go's dataTable.get).
template <typename Value>
class IdTable {
 public:
  // Adds id -> v during loading. Returns false if id is already present
  // (including id 0, which always is); *existing then holds its value.
  bool Insert(uint64_t id, const Value& v, Value* existing) {
    if (id == 0) {
      *existing = Value{};
      return false;
    }
    auto [it, inserted] = sparse_.try_emplace(id, v);
    if (!inserted) *existing = it->second;
    return inserted;
  }

  // Freezes the table: switches to an array when ids are dense enough.
  void Finish() {
    if (sparse_.empty()) return;
    uint64_t max_id = 0;
    for (const auto& [id, v] : sparse_) max_id = id > max_id ? id : max_id;
    if (max_id > 2 * sparse_.size() + 64) return;
    dense_.assign(max_id + 1, Value{});
    present_.assign(max_id + 1, 0);
    for (const auto& [id, v] : sparse_) {
      dense_[id] = v;
      present_[id] = 1;
    }
    sparse_.clear();
  }

  // The value for id, or nullptr if absent.
  ABSL_ATTRIBUTE_ALWAYS_INLINE const Value* Find(uint64_t id) const {
    static const Value kZero{};
    if (id == 0) return &kZero;
    if (id < dense_.size()) return present_[id] ? &dense_[id] : nullptr;
    return FindSparse(id);
  }

  const Value* FindSparse(uint64_t id) const {
    if (sparse_.empty()) return nullptr;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? nullptr : &it->second;
  }

  // Calls f(id, value) for every entry but id 0, in increasing id order.
  template <typename F>
  void ForEachSorted(F f) const {
    for (size_t i = 1; i < dense_.size(); ++i) {
      if (present_[i]) f(uint64_t{i}, dense_[i]);
    }
    if (sparse_.empty()) return;
    std::vector<uint64_t> ids;
    ids.reserve(sparse_.size());
    for (const auto& [id, v] : sparse_) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (uint64_t id : ids) f(id, sparse_.at(id));
  }

  size_t size() const {
    size_t n = sparse_.size();
    for (uint8_t p : present_) n += p;
    return n;
  }

  void Clear() {
    sparse_.clear();
    dense_.clear();
    present_.clear();
  }

  size_t MemoryUsage() const {
    return sparse_.capacity() * (sizeof(uint64_t) + sizeof(Value) + 1) +
           dense_.capacity() * sizeof(Value) + present_.capacity();
  }

 private:
  absl::flat_hash_map<uint64_t, Value> sparse_;
  std::vector<Value> dense_;
  std::vector<uint8_t> present_;  // 1 where dense_ has an entry
};

// A stack as stored: a run of frame indices in StackTable::frame_refs.
struct StackRecord {
  uint32_t first = 0;
  uint32_t count = 0;
};

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_TABLES_H_
