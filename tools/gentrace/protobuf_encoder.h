// A small protobuf encoder for the subcommands that write protobuf formats
// (`gentrace pprof`: profile.proto; `gentrace perfetto`: Perfetto's trace
// protos). A message is built by appending fields to a std::string; a
// nested message is built in a string of its own and appended with
// PutBytes. Field numbers come from the callers' own tables.
//
// Only what those formats use: varints (wire type 0; negative int64 values
// are written as their two's complement, as protobuf does for int64),
// fixed64 (wire type 1), length-delimited strings, bytes and messages
// (wire type 2), and packed repeated varints.
#ifndef GENTRACE_TOOLS_GENTRACE_PROTOBUF_ENCODER_H_
#define GENTRACE_TOOLS_GENTRACE_PROTOBUF_ENCODER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace gentrace::tools::protobuf {

inline constexpr int kWireVarint = 0;
inline constexpr int kWireFixed64 = 1;
inline constexpr int kWireBytes = 2;

inline void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void PutTag(int field, int wire_type, std::string* out) {
  PutVarint((static_cast<uint64_t>(field) << 3) | wire_type, out);
}

// A varint field, written whatever its value (proto2 `optional` fields
// whose presence matters, e.g. a timestamp or a thread id that may be 0).
inline void PutUint(int field, uint64_t v, std::string* out) {
  PutTag(field, kWireVarint, out);
  PutVarint(v, out);
}

// A varint field left out when it is zero, the default (proto3 style, as
// profile.proto expects).
inline void PutInt(int field, uint64_t v, std::string* out) {
  if (v == 0) return;
  PutUint(field, v, out);
}

// A fixed64 field.
inline void PutFixed64(int field, uint64_t v, std::string* out) {
  PutTag(field, kWireFixed64, out);
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>(v >> (8 * i)));
  }
}

// A length-delimited field: a string, bytes or an encoded message.
inline void PutBytes(int field, absl::string_view b, std::string* out) {
  PutTag(field, kWireBytes, out);
  PutVarint(b.size(), out);
  out->append(b.data(), b.size());
}

// A packed repeated varint field; nothing when `v` is empty.
inline void PutPacked(int field, absl::Span<const uint64_t> v,
                      std::string* out) {
  if (v.empty()) return;
  std::string packed;
  for (uint64_t x : v) PutVarint(x, &packed);
  PutBytes(field, packed, out);
}

}  // namespace gentrace::tools::protobuf

#endif  // GENTRACE_TOOLS_GENTRACE_PROTOBUF_ENCODER_H_
