// The event stream checker; see validator.h. The checks and their messages
// follow Go's testtrace.Validator.
#include "reader/validator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reader/dump.h"

namespace gentrace::reader {
namespace {

// Go's ResourceID.String(): "None" or "Goroutine(5)".
std::string GoResource(const ResourceId& r) {
  switch (r.kind) {
    case ResourceKind::kNone:
      return "None";
    case ResourceKind::kGoroutine:
      return absl::StrCat("Goroutine(", r.id, ")");
    case ResourceKind::kProc:
      return absl::StrCat("Proc(", r.id, ")");
    case ResourceKind::kThread:
      return absl::StrCat("Thread(", r.id, ")");
  }
  return "Bad";
}

std::string Quote(absl::string_view s) {
  std::string out;
  AppendDumpString(s, &out);
  return out;
}

}  // namespace

int Validator::GetOrCreateThread(std::vector<std::string>* errs, int64_t m) {
  if (m == kNone) {
    errs->push_back("must have thread, but thread ID is none");
    return -1;
  }
  auto [it, inserted] = ms_.try_emplace(m, static_cast<int>(ctxs_.size()));
  if (inserted) ctxs_.push_back(SchedContext{m, kNone, kNone});
  return it->second;
}

bool Validator::HasRange(const ResourceId& r, const std::string& name) const {
  auto it = ranges_.find(r);
  return it != ranges_.end() && std::find(it->second.begin(), it->second.end(),
                                          name) != it->second.end();
}

bool Validator::HasAnyRange(const ResourceId& r) const {
  auto it = ranges_.find(r);
  return it != ranges_.end() && !it->second.empty();
}

absl::Status Validator::Event(const reader::Event& ev) {
  std::vector<std::string> errs;

  // Times strictly increase.
  if (last_ts_ != 0) {
    if (ev.time() <= last_ts_) {
      std::string line;
      AppendDumpLine(ev, &line);
      errs.push_back(absl::StrCat("timestamp out-of-order for ", line));
    } else {
      last_ts_ = ev.time();
    }
  } else {
    last_ts_ = ev.time();
  }

  switch (ev.kind()) {
    case EventKind::kSync:
      seen_sync_ = true;
      break;
    case EventKind::kMetric: {
      Metric m = ev.metric();
      if (m.name.find(':') == absl::string_view::npos) {
        errs.push_back(absl::StrCat("invalid metric name ", Quote(m.name)));
      }
      break;
    }
    case EventKind::kLabel: {
      Label l = ev.label();
      if (l.label.empty()) {
        errs.push_back(absl::StrCat("invalid label ", Quote(l.label)));
      }
      if (l.resource.kind == ResourceKind::kNone) {
        errs.push_back("label resource none");
      } else if (l.resource.kind == ResourceKind::kGoroutine &&
                 !gs_.contains(l.resource.id)) {
        errs.push_back(
            absl::StrCat("label for invalid goroutine ", l.resource.id));
      } else if (l.resource.kind == ResourceKind::kProc &&
                 !ps_.contains(l.resource.id)) {
        errs.push_back(absl::StrCat("label for invalid proc ", l.resource.id));
      } else if (l.resource.kind == ResourceKind::kThread &&
                 !ms_.contains(l.resource.id)) {
        errs.push_back(
            absl::StrCat("label for invalid thread ", l.resource.id));
      }
      break;
    }
    case EventKind::kStateTransition: {
      StateTransition tr = ev.state_transition();
      if (tr.resource.kind == ResourceKind::kGoroutine) {
        const int64_t id = tr.resource.id;
        const GoState old = tr.go_from(), now = tr.go_to();
        if (now == GoState::kUndetermined) {
          errs.push_back(absl::StrCat(
              "transition to undetermined state for goroutine ", id));
        }
        if (seen_sync_ && old == GoState::kUndetermined) {
          errs.push_back(absl::StrCat("undetermined goroutine ", id,
                                      " after first global sync"));
        }
        if (now == GoState::kNotExist && HasAnyRange(tr.resource)) {
          errs.push_back(
              absl::StrCat("goroutine ", id, " died with active ranges"));
        }
        auto it = gs_.find(id);
        if (it != gs_.end()) {
          if (old != it->second.state) {
            errs.push_back(absl::StrCat("bad old state for goroutine ", id,
                                        ": got ", GoStateName(old), ", want ",
                                        GoStateName(it->second.state)));
          }
          it->second.state = now;
        } else {
          if (old != GoState::kUndetermined && old != GoState::kNotExist) {
            errs.push_back(
                absl::StrCat("bad old state for unregistered "
                             "goroutine ",
                             id, ": ", GoStateName(old)));
          }
          it = gs_.emplace(id, GoEntry{now, -1}).first;
        }
        if (Executing(now)) {
          int c = GetOrCreateThread(&errs, ev.thread());
          if (c >= 0) {
            SchedContext& ctx = ctxs_[c];
            if (ctx.g != kNone && ctx.g != id) {
              errs.push_back(absl::StrCat("tried to run goroutine ", id,
                                          " when one was already executing (",
                                          ctx.g, ") on thread ", ev.thread()));
            }
            ctx.g = id;
            gs_[id].ctx = c;
          }
        } else if (Executing(old)) {
          if (tr.stack.id() != ev.stack().id()) {
            errs.push_back("StateTransition.Stack doesn't match Event.Stack");
          }
          GoEntry& st = gs_[id];
          if (st.ctx >= 0) {
            SchedContext& ctx = ctxs_[st.ctx];
            if (ctx.g != id) {
              errs.push_back(absl::StrCat(
                  "tried to stop goroutine ", id,
                  " when it wasn't currently executing (currently executing ",
                  ctx.g, ") on thread ", ev.thread()));
            }
            ctx.g = kNone;
            st.ctx = -1;
          } else {
            errs.push_back(absl::StrCat("stopping goroutine ", id,
                                        " not bound to any active context"));
          }
        }
      } else if (tr.resource.kind == ResourceKind::kProc) {
        const int64_t id = tr.resource.id;
        const ProcState old = tr.proc_from(), now = tr.proc_to();
        if (now == ProcState::kUndetermined) {
          errs.push_back(
              absl::StrCat("transition to undetermined state for proc ", id));
        }
        if (seen_sync_ && old == ProcState::kUndetermined) {
          errs.push_back(absl::StrCat("undetermined proc ", id,
                                      " after first global sync"));
        }
        if (now == ProcState::kNotExist && HasAnyRange(tr.resource)) {
          errs.push_back(absl::StrCat("proc ", id, " died with active ranges"));
        }
        auto it = ps_.find(id);
        if (it != ps_.end()) {
          if (old != it->second.state) {
            errs.push_back(absl::StrCat("bad old state for proc ", id, ": got ",
                                        ProcStateName(old), ", want ",
                                        ProcStateName(it->second.state)));
          }
          it->second.state = now;
        } else {
          if (old != ProcState::kUndetermined && old != ProcState::kNotExist) {
            errs.push_back(absl::StrCat("bad old state for unregistered proc ",
                                        id, ": ", ProcStateName(old)));
          }
          ps_.emplace(id, ProcEntry{now, -1});
        }
        if (Executing(now)) {
          int c = GetOrCreateThread(&errs, ev.thread());
          if (c >= 0) {
            SchedContext& ctx = ctxs_[c];
            if (ctx.p != kNone && ctx.p != id) {
              errs.push_back(absl::StrCat("tried to run proc ", id,
                                          " when one was already executing (",
                                          ctx.p, ") on thread ", ev.thread()));
            }
            ctx.p = id;
            ps_[id].ctx = c;
          }
        } else if (Executing(old)) {
          ProcEntry& st = ps_[id];
          if (st.ctx >= 0) {
            SchedContext& ctx = ctxs_[st.ctx];
            if (ctx.p != id) {
              errs.push_back(absl::StrCat(
                  "tried to stop proc ", id,
                  " when it wasn't currently executing (currently executing ",
                  ctx.p, ") on thread ", ctx.m));
            }
            ctx.p = kNone;
            st.ctx = -1;
          } else {
            errs.push_back(absl::StrCat("stopping proc ", id,
                                        " not bound to any active context"));
          }
        }
      }
      break;
    }
    case EventKind::kRangeBegin:
    case EventKind::kRangeActive:
    case EventKind::kRangeEnd: {
      Range r = ev.range();
      const std::string name = r.FullName();
      if (ev.kind() == EventKind::kRangeBegin) {
        if (HasRange(r.scope, name)) {
          errs.push_back(absl::StrCat("already active range ", Quote(name),
                                      " on ", GoResource(r.scope),
                                      " begun again"));
        }
        ranges_[r.scope].push_back(name);
      } else if (ev.kind() == EventKind::kRangeActive) {
        if (!HasRange(r.scope, name)) ranges_[r.scope].push_back(name);
      } else {
        if (!HasRange(r.scope, name)) {
          errs.push_back(absl::StrCat("inactive range ", Quote(name), " on ",
                                      GoResource(r.scope), " ended"));
        }
        auto it = ranges_.find(r.scope);
        if (it != ranges_.end()) {
          auto pos = std::find(it->second.begin(), it->second.end(), name);
          if (pos != it->second.end()) it->second.erase(pos);
        }
      }
      break;
    }
    case EventKind::kTaskBegin: {
      Task t = ev.task();
      if (t.id == kNoTaskId || t.id == kBackgroundTask) {
        errs.push_back(
            absl::StrCat("found invalid task ID for task of type ", t.type));
      }
      if (t.parent == kBackgroundTask) {
        errs.push_back(absl::StrCat(
            "found background task as the parent for task of type ", t.type));
      }
      tasks_[t.id] = std::string(t.type);
      break;
    }
    case EventKind::kTaskEnd: {
      // An end without a begin is fine; with one, the types must agree.
      Task t = ev.task();
      auto it = tasks_.find(t.id);
      if (it != tasks_.end()) {
        if (t.type != it->second) {
          errs.push_back(absl::StrCat("task end type ", Quote(t.type),
                                      " doesn't match task start type ",
                                      Quote(it->second), " for task ", t.id));
        }
        tasks_.erase(it);
      }
      break;
    }
    default:
      break;
  }
  if (errs.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errs, "\n"));
}

}  // namespace gentrace::reader
