// See perfetto_test_decoder.h. Field numbers are Perfetto's, as the test
// schema tests/data/perfetto/perfetto_subset.proto gives them.
#include "tools/gentrace/perfetto_test_decoder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "format/go_quote.h"
#include "tools/gentrace/test_process.h"

namespace gentrace::tools {
namespace {

constexpr char kSchemaDir[] = "tests/data/perfetto";
constexpr char kSchema[] = "perfetto_subset.proto";

// One field of a message: its number, wire type and value (varints and
// fixed64 in `num`, length-delimited fields in `bytes`).
struct Field {
  int number = 0;
  int wire = 0;
  uint64_t num = 0;
  absl::string_view bytes;
};

// The fields of an encoded message; `ok` false if it does not parse.
struct Message {
  std::vector<Field> fields;
  bool ok = true;

  explicit Message(absl::string_view data) {
    size_t i = 0;
    auto varint = [&](uint64_t* v) {
      *v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (i >= data.size()) return false;
        const uint8_t b = static_cast<uint8_t>(data[i++]);
        *v |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return true;
      }
      return false;
    };
    while (i < data.size()) {
      uint64_t key = 0;
      if (!varint(&key)) {
        ok = false;
        return;
      }
      Field f;
      f.number = static_cast<int>(key >> 3);
      f.wire = static_cast<int>(key & 7);
      if (f.wire == 0) {
        if (!varint(&f.num)) ok = false;
      } else if (f.wire == 1) {
        if (i + 8 > data.size()) {
          ok = false;
        } else {
          for (int k = 0; k < 8; ++k) {
            f.num |= static_cast<uint64_t>(static_cast<uint8_t>(data[i + k]))
                     << (8 * k);
          }
          i += 8;
        }
      } else if (f.wire == 2) {
        uint64_t n = 0;
        if (!varint(&n) || n > data.size() - i) {
          ok = false;
        } else {
          f.bytes = data.substr(i, n);
          i += n;
        }
      } else {
        ok = false;
      }
      if (!ok) return;
      fields.push_back(f);
    }
  }

  const Field* Get(int number) const {
    const Field* last = nullptr;
    for (const Field& f : fields) {
      if (f.number == number) last = &f;
    }
    return last;
  }
  uint64_t Num(int number, uint64_t def = 0) const {
    const Field* f = Get(number);
    return f != nullptr ? f->num : def;
  }
  std::string Str(int number) const {
    const Field* f = Get(number);
    return f != nullptr ? std::string(f->bytes) : "";
  }
  // A repeated varint field, packed or not. Perfetto's own decoder
  // (protozero) reads a field packed only when its schema says
  // [packed = true], which the ones read here do not: `*packed` is set
  // when one was.
  std::vector<uint64_t> Repeated(int number, bool* packed) const {
    std::vector<uint64_t> out;
    for (const Field& f : fields) {
      if (f.number != number) continue;
      if (f.wire == 0) {
        out.push_back(f.num);
      } else if (f.wire == 2) {
        *packed = true;
        size_t i = 0;
        while (i < f.bytes.size()) {
          uint64_t v = 0;
          int shift = 0;
          while (i < f.bytes.size()) {
            const uint8_t b = static_cast<uint8_t>(f.bytes[i++]);
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            shift += 7;
            if ((b & 0x80) == 0) break;
          }
          out.push_back(v);
        }
      }
    }
    return out;
  }
};

}  // namespace

int64_t DecodedPerfetto::Tid(const std::string& name) const {
  for (const auto& [uuid, t] : tracks) {
    if (t.thread && t.thread_name == name) return t.tid;
  }
  return -1;
}

uint64_t DecodedPerfetto::ThreadTrack(int64_t tid) const {
  for (const auto& [uuid, t] : tracks) {
    if (t.thread && t.tid == tid) return uuid;
  }
  return 0;
}

uint64_t DecodedPerfetto::ChildTrack(uint64_t parent,
                                     const std::string& child) const {
  for (const auto& [uuid, t] : tracks) {
    if (t.parent == parent && t.name == child) return uuid;
  }
  return 0;
}

DecodedPerfetto DecodePerfetto(const std::string& bytes) {
  DecodedPerfetto d;
  auto problem = [&d](std::string p) {
    if (d.problems.size() < 20) d.problems.push_back(std::move(p));
  };
  const Message trace(bytes);
  if (!trace.ok) problem("the Trace message does not parse");

  absl::flat_hash_map<uint64_t, std::vector<PerfettoSlice>> open;
  absl::flat_hash_map<uint64_t, int64_t> last_time;  // by track
  absl::flat_hash_map<uint64_t, uint64_t> flows;     // id -> times ended
  // Interning state.
  bool interning_valid = false;
  absl::flat_hash_map<uint64_t, std::string> functions, paths, mapping_paths;
  absl::flat_hash_map<uint64_t, std::string> frames;
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> callstacks;
  absl::flat_hash_map<uint64_t, bool> mappings;
  // Every entry ever interned, by field and iid: an iid names one value
  // for the whole trace, even across clearings.
  std::map<std::pair<int, uint64_t>, std::string> ever_interned;

  for (const Field& pf : trace.fields) {
    if (pf.number != 1 || pf.wire != 2) {
      problem(absl::StrCat("Trace field ", pf.number, " is not a packet"));
      continue;
    }
    ++d.packets;
    const Message p(pf.bytes);
    if (!p.ok) {
      problem(absl::StrCat("packet ", d.packets, " does not parse"));
      continue;
    }
    const std::string where = absl::StrCat("packet ", d.packets, ": ");
    if (p.Get(8) == nullptr) problem(where + "no timestamp");
    const int64_t ts = static_cast<int64_t>(p.Num(8));
    if (p.Num(10) != 1) problem(where + "trusted_packet_sequence_id is not 1");
    const uint64_t flags = p.Num(13);
    if (flags & 1) {
      interning_valid = true;
      functions.clear();
      paths.clear();
      mapping_paths.clear();
      frames.clear();
      callstacks.clear();
      mappings.clear();
    }
    if (const Field* idf = p.Get(12); idf != nullptr) {
      const Message id(idf->bytes);
      for (const Field& f : id.fields) {
        const Message e(f.bytes);
        const uint64_t iid = e.Num(1);
        if (iid == 0) problem(where + "interned entry with iid 0");
        auto [was, added] =
            ever_interned.try_emplace({f.number, iid}, std::string(f.bytes));
        if (!added && was->second != f.bytes) {
          problem(absl::StrCat(where, "iid ", iid, " of interned field ",
                               f.number, " reused for another value"));
        }
        switch (f.number) {
          case 5:
            functions[iid] = e.Str(2);
            break;
          case 17:
            mapping_paths[iid] = e.Str(2);
            break;
          case 18:
            paths[iid] = e.Str(2);
            break;
          case 19: {
            bool packed = false;
            for (uint64_t s : e.Repeated(7, &packed)) {
              if (mapping_paths.count(s) == 0) {
                problem(where + "mapping path not interned");
              }
            }
            if (packed) problem(where + "mapping's path_string_ids packed");
            mappings[iid] = true;
            break;
          }
          case 6: {
            auto fn = functions.find(e.Num(2));
            if (fn == functions.end()) {
              problem(where + "frame's function not interned");
              break;
            }
            if (mappings.count(e.Num(3)) == 0) {
              problem(where + "frame's mapping not interned");
            }
            std::string text = fn->second;
            if (e.Get(5) != nullptr) {
              auto path = paths.find(e.Num(5));
              if (path == paths.end()) {
                problem(where + "frame's source path not interned");
              } else {
                absl::StrAppend(&text, " ", path->second, ":", e.Num(6));
              }
            }
            frames[iid] = text;
            break;
          }
          case 7: {
            bool packed = false;
            callstacks[iid] = e.Repeated(2, &packed);
            if (packed) problem(where + "callstack's frame_ids packed");
            break;
          }
          default:
            problem(
                absl::StrCat(where, "unexpected interned field ", f.number));
        }
      }
    }

    if (const Field* f = p.Get(60); f != nullptr) {  // TrackDescriptor
      const Message m(f->bytes);
      PerfettoTrack t;
      t.uuid = m.Num(1);
      t.parent = m.Num(5);
      t.name = m.Str(2);
      if (const Field* pr = m.Get(3); pr != nullptr) {
        const Message pd(pr->bytes);
        t.process = true;
        t.pid = static_cast<int64_t>(pd.Num(1));
        t.thread_name = pd.Str(6);
      }
      if (const Field* th = m.Get(4); th != nullptr) {
        const Message td(th->bytes);
        t.thread = true;
        t.pid = static_cast<int64_t>(td.Num(1));
        t.tid = static_cast<int64_t>(td.Num(2));
        t.thread_name = td.Str(5);
      }
      ++d.track_descriptors;
      if (t.uuid == 0) problem(where + "track uuid 0");
      if (t.parent != 0 && d.tracks.count(t.parent) == 0) {
        problem(where + "track's parent not described before it");
      }
      d.tracks[t.uuid] = t;
    }

    if (const Field* f = p.Get(11); f != nullptr) {  // TrackEvent
      ++d.track_events;
      const Message e(f->bytes);
      const uint64_t track = e.Num(11);
      if (d.tracks.count(track) == 0) {
        problem(absl::StrCat(where, "event on track ", track,
                             " not described before"));
      }
      if (auto lt = last_time.find(track);
          lt != last_time.end() && ts < lt->second) {
        problem(absl::StrCat(where, "time goes back on track ", track));
      }
      last_time[track] = ts;
      std::map<std::string, std::string> args;
      for (const Field& a : e.fields) {
        if (a.number != 4) continue;
        const Message am(a.bytes);
        if (am.Get(6) != nullptr) {
          args[am.Str(10)] = am.Str(6);
        } else {
          args[am.Str(10)] = absl::StrCat(static_cast<int64_t>(am.Num(4)));
        }
      }
      std::vector<uint64_t> flow_out, flow_in;
      for (const Field& x : e.fields) {
        if (x.number == 47 || x.number == 48) {
          if (x.wire != 1) problem(where + "flow id not fixed64");
          (x.number == 47 ? flow_out : flow_in).push_back(x.num);
        }
      }
      const uint64_t type = e.Num(9);
      if (type == 1) {
        PerfettoSlice s;
        s.track = track;
        s.name = e.Str(23);
        s.begin = ts;
        s.args = std::move(args);
        s.depth = static_cast<int>(open[track].size());
        for (uint64_t id : flow_in) {
          auto fl = flows.find(id);
          if (fl == flows.end()) {
            problem(absl::StrCat(where, "flow ", id, " ends before it began"));
          } else if (fl->second++ > 0) {
            problem(absl::StrCat(where, "flow ", id, " ends twice"));
          }
          if (s.name != "running") {
            problem(absl::StrCat(where, "flow ends on \"", s.name, "\""));
          }
          ++d.flows_ended;
        }
        s.flows_in = flow_in;
        open[track].push_back(std::move(s));
      } else if (type == 2) {
        std::vector<PerfettoSlice>& stack = open[track];
        if (stack.empty()) {
          problem(absl::StrCat(where, "slice end with no slice open on track ",
                               track));
          continue;
        }
        PerfettoSlice s = std::move(stack.back());
        stack.pop_back();
        s.end = ts;
        if (s.end < s.begin) problem(where + "slice ends before it begins");
        if (!stack.empty() && s.begin < stack.back().begin) {
          problem(where + "slice begins before its parent");
        }
        if (!flow_in.empty() || !flow_out.empty()) {
          problem(where + "flow on a slice end");
        }
        d.slices.push_back(std::move(s));
      } else if (type == 3) {
        PerfettoInstant in;
        in.track = track;
        in.name = e.Str(23);
        in.time = ts;
        in.args = std::move(args);
        in.flows_out = flow_out;
        for (uint64_t id : flow_out) {
          if (!flows.emplace(id, 0).second) {
            problem(absl::StrCat(where, "flow id ", id, " begins twice"));
          }
          ++d.flows_begun;
        }
        d.instants.push_back(std::move(in));
      } else {
        problem(absl::StrCat(where, "track event of type ", type));
      }
    }

    if (const Field* f = p.Get(66); f != nullptr) {  // PerfSample
      const Message m(f->bytes);
      PerfettoSample s;
      s.time = ts;
      s.pid = static_cast<int64_t>(m.Num(2));
      s.tid = static_cast<int64_t>(m.Num(3));
      if (m.Get(4) != nullptr) {
        if ((flags & 2) == 0) {
          problem(where + "sample without SEQ_NEEDS_INCREMENTAL_STATE");
        }
        if (!interning_valid) problem(where + "no interning state yet");
        auto cs = callstacks.find(m.Num(4));
        if (cs == callstacks.end()) {
          problem(where + "sample's callstack not interned");
        } else {
          for (auto it = cs->second.rbegin(); it != cs->second.rend(); ++it) {
            auto fr = frames.find(*it);
            if (fr == frames.end()) {
              problem(where + "callstack's frame not interned");
            } else {
              s.frames.push_back(fr->second);
            }
          }
        }
      }
      d.samples.push_back(std::move(s));
    }
  }
  for (const auto& [track, stack] : open) {
    if (!stack.empty()) {
      problem(absl::StrCat(stack.size(), " slices left open on track ", track,
                           ", the innermost \"", stack.back().name, "\""));
    }
  }
  // A flow may have no end: its goroutine did not run again in the trace.
  // ExpectMatchesTrace counts the ends against the dump.
  return d;
}

absl::StatusOr<std::string> ProtocDecode(const std::string& path) {
  std::string protoc;
  std::vector<std::string> dirs;
  if (const char* env_path = std::getenv("PATH"); env_path != nullptr) {
    dirs = absl::StrSplit(env_path, ':', absl::SkipEmpty());
  }
  dirs.push_back("/usr/bin");
  for (const std::string& dir : dirs) {
    const std::string p = dir + "/protoc";
    if (access(p.c_str(), X_OK) == 0) {
      protoc = p;
      break;
    }
  }
  if (protoc.empty()) {
    return absl::NotFoundError(
        "protoc not found on PATH or in /usr/bin: install Debian's "
        "protobuf-compiler (./dev deps does)");
  }
  const std::string data = ReadFileOrEmpty(path);
  absl::StatusOr<ProcessResult> r =
      RunProcess(protoc,
                 {"--decode=perfetto.protos.Trace",
                  absl::StrCat("--proto_path=", kSchemaDir),
                  absl::StrCat(kSchemaDir, "/", kSchema)},
                 data);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat("protoc exited with ", r->exit_code,
                                            ": ", r->stderr_data));
  }
  return r->stdout_data;
}

namespace {

// The value of ` key=` in a `gentrace dump` line: a Go-quoted string
// unquoted, or the text up to the next space; "" if absent.
std::string DumpValue(absl::string_view line, absl::string_view key) {
  const std::string k = absl::StrCat(" ", key, "=");
  size_t p = line.find(k);
  if (p == absl::string_view::npos) return "";
  p += k.size();
  if (p < line.size() && line[p] == '"') {
    size_t e = p + 1;
    while (e < line.size() && line[e] != '"') e += line[e] == '\\' ? 2 : 1;
    absl::StatusOr<std::string> u =
        format::GoUnquote(line.substr(p, e + 1 - p));
    EXPECT_TRUE(u.ok()) << line;
    return u.ok() ? *u : "";
  }
  const size_t e = line.find(' ', p);
  return std::string(line.substr(p, e == absl::string_view::npos ? e : e - p));
}

int64_t DumpInt(absl::string_view line, absl::string_view key) {
  int64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(DumpValue(line, key), &v))
      << key << " in " << line;
  return v;
}

// The leaf frame of ` stack=[...]` as the export shows it: "FUNC FILE:LINE"
// ("FUNC" without a file); "" for an empty stack.
std::string DumpLeaf(absl::string_view line) {
  const size_t p = line.find(" stack=[");
  if (p == absl::string_view::npos || line.substr(p + 8, 1) == "]") return "";
  absl::string_view rest = line.substr(p + 8);
  auto quoted = [&rest]() {
    size_t e = 1;
    while (e < rest.size() && rest[e] != '"') e += rest[e] == '\\' ? 2 : 1;
    absl::StatusOr<std::string> u = format::GoUnquote(rest.substr(0, e + 1));
    rest.remove_prefix(std::min(rest.size(), e + 1));
    return u.ok() ? *u : "?";
  };
  const std::string func = quoted();
  rest.remove_prefix(1);  // '@'
  const std::string file = quoted();
  rest.remove_prefix(1);  // ':'
  const std::string line_no(rest.substr(0, rest.find(' ')));
  return file.empty() ? func : absl::StrCat(func, " ", file, ":", line_no);
}

// The part of stats' JSON from `"key": ` on.
std::string JsonFrom(const std::string& json, absl::string_view key) {
  const size_t p = json.find(absl::StrCat("\"", key, "\": "));
  return p == std::string::npos ? "" : json.substr(p);
}

constexpr int64_t kSyntheticTidBase = int64_t{1} << 22;

}  // namespace

DecodedPerfetto ExportAndDecode(const std::string& trace_path,
                                const std::string& out_path) {
  ProcessResult r = RunGentrace({"perfetto", trace_path, out_path});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stderr_data, "");
  DecodedPerfetto d = DecodePerfetto(ReadFileOrEmpty(out_path));
  EXPECT_TRUE(d.problems.empty()) << absl::StrJoin(d.problems, "\n");
  EXPECT_GT(d.packets, 0u);
  absl::StatusOr<std::string> text = ProtocDecode(out_path);
  EXPECT_TRUE(text.ok()) << text.status();
  if (text.ok()) {
    auto count = [&text](absl::string_view what) {
      uint64_t n = 0;
      for (absl::string_view l : absl::StrSplit(*text, '\n')) {
        if (absl::StripLeadingAsciiWhitespace(l) == what) ++n;
      }
      return n;
    };
    EXPECT_EQ(count("packet {"), d.packets);
    EXPECT_EQ(count("track_event {"), d.track_events);
    EXPECT_EQ(count("track_descriptor {"), d.track_descriptors);
    EXPECT_EQ(count("perf_sample {"), d.samples.size());
    // Every field is one the schema names: protoc prints unknown fields
    // by number ("47: ...").
    for (absl::string_view l : absl::StrSplit(*text, '\n')) {
      l = absl::StripLeadingAsciiWhitespace(l);
      if (!l.empty() && l[0] >= '0' && l[0] <= '9') {
        ADD_FAILURE() << "field unknown to the schema: " << l;
        break;
      }
    }
  }
  return d;
}

void ExpectMatchesTrace(const DecodedPerfetto& d,
                        const std::string& trace_path) {
  ProcessResult st = RunGentrace({"stats", "--json", trace_path});
  ASSERT_EQ(st.exit_code, 0) << st.stderr_data;
  ProcessResult dump = RunGentrace({"dump", trace_path});
  ASSERT_EQ(dump.exit_code, 0) << dump.stderr_data;
  const std::string& j = st.stdout_data;

  // ---- from the dump
  std::map<std::string, int64_t> regions, states;
  std::vector<std::pair<std::string, std::string>> logs;  // category, message
  std::vector<std::tuple<int64_t, int64_t, std::string>> samples;  // g, m
  int64_t tasks = 0, flows_begun = 0, flows_ended = 0;
  std::set<int64_t> pending;  // woken goroutines, until they run
  for (absl::string_view line : absl::StrSplit(dump.stdout_data, '\n')) {
    const absl::string_view kind = line.substr(0, line.find(' '));
    if (kind == "RegionBegin") {
      ++regions[DumpValue(line, "type")];
    } else if (kind == "TaskBegin") {
      ++tasks;
    } else if (kind == "Log") {
      logs.emplace_back(DumpValue(line, "category"),
                        DumpValue(line, "message"));
    } else if (kind == "StackSample") {
      samples.emplace_back(DumpInt(line, "g"), DumpInt(line, "m"),
                           DumpLeaf(line));
    } else if (kind == "StateTransition") {
      const std::string res = DumpValue(line, "resource");
      if (!absl::StartsWith(res, "Goroutine:")) continue;
      int64_t id = 0;
      ASSERT_TRUE(absl::SimpleAtoi(res.substr(10), &id)) << line;
      const std::string from = DumpValue(line, "from");
      const std::string to = DumpValue(line, "to");
      if (from == to && from != "Undetermined") continue;
      const int64_t g = DumpInt(line, "g");
      if (from == "Waiting" && to == "Runnable" && g != -1 && g != id) {
        ++flows_begun;
        pending.insert(id);
      }
      if (to == "Running") {
        ++states["running"];
        if (pending.erase(id) > 0) ++flows_ended;
      } else if (to == "Syscall") {
        ++states["syscall"];
      } else if (to == "Waiting") {
        const std::string reason = DumpValue(line, "reason");
        ++states[reason.empty() ? "blocked" : "blocked: " + reason];
      } else if (to == "NotExist") {
        pending.erase(id);
      }
    }
  }

  // ---- from the export
  std::map<std::string, int64_t> got_regions, got_states;
  std::vector<std::pair<std::string, std::string>> got_logs;
  int64_t got_tasks = 0;
  for (const PerfettoSlice& s : d.slices) {
    const PerfettoTrack& t = d.tracks.at(s.track);
    if (t.thread) {
      ++got_regions[s.name];
    } else if (t.name == "state") {
      ++got_states[s.name];
    } else if (absl::StartsWith(t.name, "tasks ")) {
      ++got_tasks;
    } else {
      ADD_FAILURE() << "slice on track " << t.name;
    }
  }
  for (const PerfettoInstant& in : d.instants) {
    if (d.tracks.at(in.track).thread) {
      got_logs.emplace_back(
          in.args.count("category") ? in.args.at("category") : "?",
          in.args.count("message") ? in.args.at("message") : "?");
    }
  }
  EXPECT_EQ(got_regions, regions);
  EXPECT_EQ(got_states, states);
  EXPECT_EQ(got_tasks, tasks);
  EXPECT_EQ(got_logs, logs);
  EXPECT_EQ(static_cast<int64_t>(d.flows_begun), flows_begun);
  EXPECT_EQ(static_cast<int64_t>(d.flows_ended), flows_ended);

  // ---- stats agrees with the dump
  const std::string json_regions = JsonFrom(j, "regions");
  for (const auto& [name, n] : regions) {
    const std::string anchor =
        absl::StrCat("{\"name\": ", format::GoQuote(name));
    EXPECT_EQ(JsonInt(json_regions, anchor, "count") +
                  JsonInt(json_regions, anchor, "unfinished"),
              n)
        << name;
  }
  std::map<std::string, int64_t> log_counts;
  for (const auto& [category, message] : logs) ++log_counts[category];
  for (const auto& [category, n] : log_counts) {
    EXPECT_EQ(
        JsonInt(j, absl::StrCat("{\"category\": ", format::GoQuote(category)),
                "count"),
        n)
        << category;
  }
  EXPECT_EQ(JsonInt(j, "\"cpu\"", "samples"),
            static_cast<int64_t>(samples.size()));

  // ---- threads, and the samples by thread
  std::map<int64_t, int64_t> thread_of;  // goroutine -> thread
  const std::string json_threads = JsonFrom(j, "threads");
  const std::string threads =
      json_threads.substr(0, json_threads.find("\"goroutines\": "));
  for (absl::string_view entry : absl::StrSplit(threads, "{\"thread\": ")) {
    int64_t m = 0;
    if (!absl::SimpleAtoi(entry.substr(0, entry.find(',')), &m)) continue;
    const std::string e(entry);
    const int64_t g = JsonInt(absl::StrCat("{", e), "{", "goroutine");
    const size_t q = e.find("\"name\": \"");
    ASSERT_NE(q, std::string::npos) << e;
    const size_t b = q + 9;
    size_t x = b;
    while (x < e.size() && e[x] != '"') x += e[x] == '\\' ? 2 : 1;
    const std::string name = e.substr(b, x - b);  // plain names only
    if (g < 0) continue;
    thread_of[g] = m;
    const uint64_t track = d.ThreadTrack(m);
    ASSERT_NE(track, 0u) << "no track for thread " << m << " " << name;
    EXPECT_EQ(d.tracks.at(track).thread_name, name);
  }
  ASSERT_EQ(d.samples.size(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& [g, m, leaf] = samples[i];
    int64_t tid = m;
    if (g != -1) {
      auto t = thread_of.find(g);
      tid = t != thread_of.end() ? t->second : kSyntheticTidBase + g;
    }
    EXPECT_EQ(d.samples[i].tid, tid) << "sample " << i;
    EXPECT_EQ(d.samples[i].pid, 1) << "sample " << i;
    if (leaf.empty()) {
      EXPECT_TRUE(d.samples[i].frames.empty()) << "sample " << i;
    } else {
      EXPECT_FALSE(d.samples[i].frames.empty()) << "sample " << i;
      if (!d.samples[i].frames.empty()) {
        EXPECT_EQ(d.samples[i].frames[0], leaf) << "sample " << i;
      }
    }
  }
}

}  // namespace gentrace::tools
