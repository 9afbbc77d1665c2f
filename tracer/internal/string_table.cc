// String table; see string_table.h.
#include "tracer/internal/string_table.h"

namespace gentrace::internal {

uint64_t StringTable::Put(absl::string_view s, uint64_t gen,
                          StringCache* cache) {
  s = Truncate(s);
  if (s.empty()) return 0;
  const uint64_t hash = HashBytes(s.data(), s.size());
  if (uint64_t id = cache->Find(gen, s.data(), s.size(), hash)) return id;
  const TraceMap::Node* n = map_.PutNode(s.data(), s.size(), hash);
  cache->Add(gen, n);
  return n->id;
}

void StringTable::Dump(TableWriter& w) const {
  map_.ForEach([&](uint64_t id, const unsigned char* data, size_t size) {
    absl::string_view s(reinterpret_cast<const char*>(data), size);
    WriteStringEntry(w.Ensure(StringEntrySize(s)), id, s);
  });
}

}  // namespace gentrace::internal
