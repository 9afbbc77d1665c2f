// The modules (executable and shared libraries) loaded in this process,
// as gentrace's Module records (format/gentrace_batch.h): path, load bias,
// the hull of the executable segments, GNU build-id. With them, `gentrace
// symbolize` can name code addresses that a crash dump wrote bare.
//
// Invariants:
//
//  M1. Refresh runs only under the runtime's control lock (at Start and at
//      each generation's advance), so a holder of that lock reads a list
//      and encoding that do not change under it.
//  M2. The encoded copy is complete whenever the control lock is free:
//      the crash path (crash_completion.h), which takes that lock, writes
//      it without allocating.
#ifndef GENTRACE_TRACER_INTERNAL_MODULE_LIST_H_
#define GENTRACE_TRACER_INTERNAL_MODULE_LIST_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "format/gentrace_batch.h"

namespace gentrace::internal {

class ModuleList {
 public:
  // Rereads the loaded modules (dl_iterate_phdr) and re-encodes them
  // (M1: under the control lock). Modules with no executable segment are
  // left out.
  void Refresh();

  // f(bytes) for each module's encoded record in turn (kind and length
  // included). Allocates nothing; async-signal-safe under M2.
  template <typename F>
  void ForEachEncoded(F&& f) const {
    size_t begin = 0;
    for (size_t end : ends_) {
      f(absl::Span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(encoded_.data()) + begin,
          end - begin));
      begin = end;
    }
  }

 private:
  // Paths as the loader names them -> with links resolved.
  std::map<std::string, std::string> resolved_;
  std::string encoded_;       // the records, one after the other
  std::vector<size_t> ends_;  // where each ends in encoded_
};

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_INTERNAL_MODULE_LIST_H_
