// Raw wire events; see raw_event.h.
#include "format/raw_event.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "format/header.h"
#include "format/leb128.h"

namespace gentrace::format {
namespace {

// Number of values after the spec args (4 per stack frame).
absl::StatusOr<size_t> ExtraArgs(const EventSpec& spec, const RawEvent& ev) {
  if (ev.args.size() < spec.num_args) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s needs %d arguments, has %d", spec.name,
                        spec.num_args, ev.args.size()));
  }
  size_t extra = ev.args.size() - spec.num_args;
  // extra / 4, not 4 * nframes: nframes is unchecked input, and 4 * 2^62
  // wraps to 0.
  if (spec.is_stack && (extra % 4 != 0 || extra / 4 != ev.args[1])) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s with nframes=%d has %d frame values, expected 4 per frame",
        spec.name, ev.args[1], extra));
  }
  if (!spec.is_stack && extra != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s has %d arguments, expected %d", spec.name,
                        ev.args.size(), spec.num_args));
  }
  return extra;
}

}  // namespace

size_t EncodedSize(const RawEvent& ev) {
  size_t n = 1;
  size_t first = 0;
  if (ev.type == kEvExperimentalBatch && !ev.args.empty()) {
    n += 1;  // the experiment id is a raw byte
    first = 1;
  }
  for (size_t i = first; i < ev.args.size(); ++i) n += UvarintLen(ev.args[i]);
  const EventSpec* spec = LookupSpec(ev.type);
  if (spec != nullptr && spec->has_data) {
    n += UvarintLen(ev.data.size()) + ev.data.size();
  }
  return n;
}

absl::Status AppendRawEvent(const RawEvent& ev, std::string* out) {
  const EventSpec* spec = LookupSpec(ev.type);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("invalid event type %d", ev.type));
  }
  absl::StatusOr<size_t> extra = ExtraArgs(*spec, ev);
  if (!extra.ok()) return extra.status();
  uint8_t buf[kMaxVarintLen];
  auto put = [&](uint64_t v) {
    out->append(reinterpret_cast<char*>(buf),
                static_cast<size_t>(PutUvarint(buf, v) - buf));
  };
  out->push_back(static_cast<char>(ev.type));
  size_t i = 0;
  if (ev.type == kEvExperimentalBatch) {
    if (ev.args[0] > 0xff) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "ExperimentalBatch experiment id %d does not fit in a byte",
          ev.args[0]));
    }
    out->push_back(static_cast<char>(ev.args[0]));
    i = 1;
  }
  for (; i < ev.args.size(); ++i) put(ev.args[i]);
  if (spec->has_data) {
    put(ev.data.size());
    out->append(ev.data);
  } else if (!ev.data.empty()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s carries no data", spec->name));
  }
  return absl::OkStatus();
}

absl::StatusOr<Version> RawReader::ReadHeader() {
  return format::ReadHeader(&in_);
}

absl::StatusOr<bool> RawReader::Next(RawEvent* ev) {
  absl::StatusOr<size_t> n = in_.Ensure(2);
  if (!n.ok()) return n.status();
  if (*n == 0) return false;
  const uint64_t start = in_.offset();
  ev->type = in_.data()[0];
  ev->args.clear();
  ev->data.clear();
  const EventSpec* spec = LookupSpec(ev->type);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrFormat("offset %d: invalid event type %d", start, ev->type));
  }
  in_.Skip(1);
  // Error context is built only on failure: this loop runs per argument.
  auto fail = [&](const absl::Status& st, absl::string_view what) {
    return absl::Status(
        st.code(), absl::StrFormat("%s (%s of %s at offset %d)", st.message(),
                                   what, spec->name, start));
  };
  for (int i = 0; i < spec->num_args; ++i) {
    if (i == 0 && ev->type == kEvExperimentalBatch) {
      if (*n < 2) {
        return absl::DataLossError(absl::StrFormat(
            "offset %d: input ends before the experiment id", in_.offset()));
      }
      ev->args.push_back(in_.data()[0]);
      in_.Skip(1);
      continue;
    }
    absl::StatusOr<uint64_t> v = in_.ReadUvarint("an event argument");
    if (!v.ok()) {
      return fail(v.status(), absl::StrCat("argument ", spec->arg_names[i]));
    }
    ev->args.push_back(*v);
  }
  if (spec->is_stack) {
    // Frames are read one by one: the count is unchecked input, so nothing
    // is reserved from it.
    const uint64_t nframes = ev->args[1];
    for (uint64_t f = 0; f < nframes; ++f) {
      for (int k = 0; k < 4; ++k) {
        absl::StatusOr<uint64_t> v = in_.ReadUvarint("a stack frame");
        if (!v.ok()) return fail(v.status(), absl::StrCat("frame ", f));
        ev->args.push_back(*v);
      }
    }
  }
  if (spec->has_data) {
    absl::StatusOr<uint64_t> len = in_.ReadUvarint("a data length");
    if (!len.ok()) return fail(len.status(), "data length");
    uint64_t left = *len;
    while (left > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, 1 << 16));
      if (!(n = in_.Ensure(want)).ok()) return n.status();
      if (*n == 0) {
        return absl::DataLossError(absl::StrFormat(
            "offset %d: input ends inside the data of %s at offset %d "
            "(%d of %d bytes missing)",
            in_.offset(), spec->name, start, left, *len));
      }
      ev->data.append(reinterpret_cast<const char*>(in_.data()), *n);
      in_.Skip(*n);
      left -= *n;
    }
  }
  return true;
}

}  // namespace gentrace::format
