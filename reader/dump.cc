// The canonical event dump; see dump.h. Field order and spelling follow
// tests/go/gotool.go's formatEvent exactly.
#include "reader/dump.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace gentrace::reader {
namespace {

void AppendStack(const StackView& s, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out->push_back(';');
    StackFrame f = s[i];
    AppendDumpString(f.func, out);
    out->push_back('@');
    AppendDumpString(f.file, out);
    absl::StrAppend(out, ":", f.line, " pc=", f.pc);
  }
  out->push_back(']');
}

void AppendResource(const ResourceId& r, std::string* out) {
  out->append(ResourceString(r));
}

}  // namespace

void AppendDumpString(absl::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c <= 0x7e) {
      out->push_back(static_cast<char>(c));
    } else {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    }
  }
  out->push_back('"');
}

void AppendDumpLine(const Event& ev, std::string* out) {
  const EventKind kind = ev.kind();
  absl::StrAppend(out, EventKindName(kind), " t=", ev.time(),
                  " m=", ev.thread(), " p=", ev.proc(), " g=", ev.goroutine());
  switch (kind) {
    case EventKind::kSync:
    case EventKind::kStackSample:
      break;
    case EventKind::kStateTransition: {
      StateTransition st = ev.state_transition();
      out->append(" resource=");
      AppendResource(st.resource, out);
      absl::string_view from = "-", to = "-";
      if (st.resource.kind == ResourceKind::kGoroutine) {
        from = GoStateName(st.go_from());
        to = GoStateName(st.go_to());
      } else if (st.resource.kind == ResourceKind::kProc) {
        from = ProcStateName(st.proc_from());
        to = ProcStateName(st.proc_to());
      }
      absl::StrAppend(out, " from=", from, " to=", to, " reason=");
      AppendDumpString(st.reason, out);
      out->append(" tstack=");
      AppendStack(st.stack, out);
      break;
    }
    case EventKind::kRangeBegin:
    case EventKind::kRangeActive:
    case EventKind::kRangeEnd: {
      Range r = ev.range();
      out->append(" name=");
      AppendDumpString(r.FullName(), out);
      out->append(" scope=");
      AppendResource(r.scope, out);
      if (kind == EventKind::kRangeEnd) {
        out->append(" attrs=[");
        bool first = true;
        for (const RangeAttribute& a : ev.range_attributes()) {
          if (!first) out->push_back(',');
          first = false;
          AppendDumpString(a.name, out);
          absl::StrAppend(out, "=", a.value);
        }
        out->push_back(']');
      }
      break;
    }
    case EventKind::kTaskBegin:
    case EventKind::kTaskEnd: {
      Task t = ev.task();
      absl::StrAppend(out, " id=", t.id, " parent=", t.parent, " type=");
      AppendDumpString(t.type, out);
      break;
    }
    case EventKind::kRegionBegin:
    case EventKind::kRegionEnd: {
      Region r = ev.region();
      absl::StrAppend(out, " task=", r.task, " type=");
      AppendDumpString(r.type, out);
      break;
    }
    case EventKind::kLog: {
      Log l = ev.log();
      absl::StrAppend(out, " task=", l.task, " category=");
      AppendDumpString(l.category, out);
      out->append(" message=");
      AppendDumpString(l.message, out);
      break;
    }
    case EventKind::kMetric: {
      Metric m = ev.metric();
      out->append(" name=");
      AppendDumpString(m.name, out);
      absl::StrAppend(out, " value=", m.value);
      break;
    }
    case EventKind::kLabel: {
      Label l = ev.label();
      out->append(" label=");
      AppendDumpString(l.label, out);
      out->append(" resource=");
      AppendResource(l.resource, out);
      break;
    }
    case EventKind::kExperimental: {
      ExperimentalEvent x = ev.experimental();
      absl::StrAppend(out, " name=", x.name, " args=[");
      for (size_t i = 0; i < x.arg_names.size(); ++i) {
        if (i > 0) out->push_back(',');
        absl::StrAppend(out, x.arg_names[i], "=",
                        i < x.args.size() ? x.args[i] : 0);
      }
      out->push_back(']');
      break;
    }
    case EventKind::kBad:
      absl::StrAppend(out, " unknown_kind=", static_cast<int>(kind));
      break;
  }
  out->append(" stack=");
  AppendStack(ev.stack(), out);
}

void AppendDumpStack(const StackView& s, std::string* out) {
  AppendStack(s, out);
}

std::string DumpErrorLine(absl::string_view message) {
  std::string s(absl::StripAsciiWhitespace(message));
  s = absl::StrReplaceAll(s, {{"\r", ""}, {"\n", " | "}});
  return absl::StrCat("END error: ", s);
}

uint64_t DumpAll(Reader* r, std::string* out) {
  Event ev;
  uint64_t n = 0;
  while (r->ReadEvent(&ev)) {
    AppendDumpLine(ev, out);
    out->push_back('\n');
    ++n;
  }
  if (r->status().ok()) {
    out->append("END ok\n");
  } else {
    out->append(DumpErrorLine(r->status().message()));
    out->push_back('\n');
  }
  return n;
}

}  // namespace gentrace::reader
