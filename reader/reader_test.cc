// Tests of the reader's API and of behaviour a user notices: the same
// events from every kind of input, broken tails, names that outlive their
// generation, error messages, the low-level generation access.
#include "reader/reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "format/batch.h"
#include "format/byte_source.h"
#include "format/chunked_source.h"
#include "format/text.h"
#include "gtest/gtest.h"
#include "reader/dump.h"
#include "reader/generation.h"
#include "reader/validator.h"

namespace gentrace::reader {
namespace {

constexpr char kNoThread[] = "18446744073709551615";

std::string Bin(const std::string& text) {
  absl::StatusOr<std::string> b = format::TextToBinary(text);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : std::string();
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// The tables batches every generation of the test traces needs.
std::string Tables(int gen, const std::string& strings = "") {
  return absl::StrCat(
      "EventBatch gen=", gen, " m=", kNoThread,
      " time=0 size=0\nFrequency freq=1000000000\n", "EventBatch gen=", gen,
      " m=", kNoThread, " time=0 size=0\nStacks\n",
      "Stack id=1 nframes=2\n\tpc=4096 func=1 file=2 line=10\n",
      "\tpc=8192 func=3 file=2 line=20\n", "EventBatch gen=", gen,
      " m=", kNoThread, " time=0 size=0\nStrings\n",
      "String id=1\n\tdata=\"main.f\"\nString id=2\n\tdata=\"main.go\"\n",
      "String id=3\n\tdata=\"main.main\"\n", strings);
}

// A two-generation trace with a task and a region that span both
// generations, under different string ids in each.
std::string TwoGenerations() {
  return absl::StrCat(
      "Trace Go1.23\n", "EventBatch gen=1 m=1 time=100 size=0\n",
      "ProcStatus dt=1 p=0 pstatus=1\n", "GoStatus dt=1 g=1 m=1 gstatus=2\n",
      "UserTaskBegin dt=1 task=7 parent_task=0 name_string=10 stack=1\n",
      "UserRegionBegin dt=1 task=7 name_string=11 stack=1\n",
      "UserLog dt=1 task=7 key_string=10 value_string=11 stack=0\n",
      "GoBlock dt=1 reason_string=12 stack=1\n",
      "EventBatch gen=1 m=2 time=110 size=0\n",
      "ProcStatus dt=1 p=1 pstatus=1\n", "GoStatus dt=1 g=2 m=2 gstatus=2\n",
      "GoUnblock dt=20 g=1 g_seq=1 stack=1\n",
      Tables(1,
             "String id=10\n\tdata=\"my task\"\nString id=11\n"
             "\tdata=\"my region\"\nString id=12\n\tdata=\"sync\"\n"),
      "EventBatch gen=1 m=", kNoThread, " time=0 size=0\nCPUSamples\n",
      "CPUSample time=104 m=1 p=0 g=0 stack=1\n",
      "EventBatch gen=2 m=1 time=200 size=0\n",
      "ProcStatus dt=1 p=0 pstatus=1\n", "GoStatus dt=1 g=1 m=1 gstatus=1\n",
      "GoStart dt=1 g=1 g_seq=1\n",
      "UserRegionEnd dt=1 task=7 name_string=21 stack=0\n",
      "UserTaskEnd dt=1 task=7 stack=0\n", "GoDestroy dt=1\n",
      Tables(2, "String id=21\n\tdata=\"my region\"\n"));
}

// Reads a whole trace and returns its dump (events and END line).
std::string DumpOf(std::unique_ptr<Reader> r) {
  std::string out;
  DumpAll(r.get(), &out);
  return out;
}

std::string DumpBuffer(const std::string& bin) {
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(Bytes(bin));
  if (!r.ok()) return DumpErrorLine(r.status().message());
  return DumpOf(*std::move(r));
}

std::string DumpStream(const std::string& bin, size_t chunk) {
  absl::StatusOr<std::unique_ptr<Reader>> r =
      Reader::FromSource(std::make_unique<format::ChunkedSource>(bin, chunk));
  if (!r.ok()) return DumpErrorLine(r.status().message());
  return DumpOf(*std::move(r));
}

std::string Zstd(const std::string& bin, int frames = 1) {
  std::string out;
  size_t step = (bin.size() + frames - 1) / frames;
  for (size_t off = 0; off < bin.size(); off += step) {
    std::string part = bin.substr(off, step);
    std::string z(ZSTD_compressBound(part.size()), '\0');
    size_t n = ZSTD_compress(z.data(), z.size(), part.data(), part.size(), 3);
    EXPECT_FALSE(ZSTD_isError(n));
    z.resize(n);
    out += z;
  }
  return out;
}

TEST(ReaderTest, DeliversEventsInGoOrderWithAccessors) {
  const std::string dump = DumpBuffer(Bin(TwoGenerations()));
  const std::string kStack =
      "stack=[\"main.f\"@\"main.go\":10 pc=4096;\"main.main\"@\"main.go\":20 "
      "pc=8192]";
  // Go's reader gives exactly these lines (tests/go/gotool.go dump).
  const std::vector<std::string> want = {
      "StateTransition t=101 m=1 p=-1 g=-1 resource=Proc:0 from=Undetermined "
      "to=Running reason=\"\" tstack=[] stack=[]",
      "StateTransition t=102 m=1 p=0 g=-1 resource=Goroutine:1 "
      "from=Undetermined to=Running reason=\"\" tstack=[] stack=[]",
      "TaskBegin t=103 m=1 p=0 g=1 id=7 parent=18446744073709551615 type=\"my "
      "task\" " +
          kStack,
      "RegionBegin t=104 m=1 p=0 g=1 task=7 type=\"my region\" " + kStack,
      "StackSample t=105 m=1 p=0 g=-1 " + kStack,
      "Log t=106 m=1 p=0 g=1 task=7 category=\"my task\" message=\"my region\" "
      "stack=[]",
      "StateTransition t=107 m=1 p=0 g=1 resource=Goroutine:1 from=Running "
      "to=Waiting reason=\"sync\" tstack=[\"main.f\"@\"main.go\":10 "
      "pc=4096;\"main.main\"@\"main.go\":20 pc=8192] " +
          kStack,
      "StateTransition t=111 m=2 p=-1 g=-1 resource=Proc:1 from=Undetermined "
      "to=Running reason=\"\" tstack=[] stack=[]",
      "StateTransition t=112 m=2 p=1 g=-1 resource=Goroutine:2 "
      "from=Undetermined to=Running reason=\"\" tstack=[] stack=[]",
      "StateTransition t=132 m=2 p=1 g=2 resource=Goroutine:1 from=Waiting "
      "to=Runnable reason=\"\" tstack=[] " +
          kStack,
      "Sync t=133 m=-1 p=-1 g=-1 stack=[]",
      "StateTransition t=201 m=1 p=0 g=-1 resource=Proc:0 from=Running "
      "to=Running reason=\"\" tstack=[] stack=[]",
      "StateTransition t=202 m=1 p=0 g=-1 resource=Goroutine:1 from=Runnable "
      "to=Runnable reason=\"\" tstack=[] stack=[]",
      "StateTransition t=203 m=1 p=0 g=-1 resource=Goroutine:1 from=Runnable "
      "to=Running reason=\"\" tstack=[] stack=[]",
      "RegionEnd t=204 m=1 p=0 g=1 task=7 type=\"my region\" stack=[]",
      "TaskEnd t=205 m=1 p=0 g=1 id=7 parent=18446744073709551615 type=\"my "
      "task\" stack=[]",
      "StateTransition t=206 m=1 p=0 g=1 resource=Goroutine:1 from=Running "
      "to=NotExist reason=\"\" tstack=[] stack=[]",
      "Sync t=207 m=-1 p=-1 g=-1 stack=[]",
      "END ok",
  };
  EXPECT_EQ(dump, absl::StrJoin(want, "\n") + "\n");
}

TEST(ReaderTest, EveryInputGivesTheSameEvents) {
  const std::string bin = Bin(TwoGenerations());
  const std::string want = DumpBuffer(bin);
  ASSERT_TRUE(absl::EndsWith(want, "END ok\n")) << want;
  EXPECT_EQ(DumpStream(bin, 1 << 20), want);
  // One byte at a time exercises every refill of the input window.
  EXPECT_EQ(DumpStream(bin, 1), want);
  EXPECT_EQ(DumpStream(bin, 7), want);
  const std::string z = Zstd(bin);
  EXPECT_EQ(DumpBuffer(z), want);
  EXPECT_EQ(DumpStream(z, 3), want);
  // Concatenated zstd frames are one stream.
  EXPECT_EQ(DumpStream(Zstd(bin, 5), 1000), want);

  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/two.trace");
  {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, bin.data(), bin.size()),
              static_cast<ssize_t>(bin.size()));
    close(fd);
  }
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(DumpOf(*std::move(r)), want);
}

TEST(ReaderTest, BrokenTailDeliversCompleteGenerationsFirst) {
  const std::string bin = Bin(TwoGenerations());
  // Cut inside the last batch of generation 2.
  const std::string cut = bin.substr(0, bin.size() - 5);
  for (const std::string& dump :
       {DumpBuffer(cut), DumpStream(cut, 3), DumpStream(Zstd(cut), 64)}) {
    std::vector<std::string> lines = absl::StrSplit(dump, '\n');
    // Generation 1 (10 events and its Sync), then generation 2 fails: its
    // string table is cut short, but the first failure is the short read
    // of the batch, held back until generation 2 is parsed.
    ASSERT_GE(lines.size(), 12u) << dump;
    EXPECT_TRUE(absl::StartsWith(lines[10], "Sync ")) << dump;
    EXPECT_TRUE(absl::StartsWith(lines[11], "END error: ")) << dump;
  }
  // A trace that ends right after a complete generation's last batch but
  // with the first batch of the next one cut: the generation comes out
  // whole, Sync included, then the error (Go 1.23's held-back error).
  const std::string gen1_end = Bin(
      absl::StrCat("Trace Go1.23\n", "EventBatch gen=1 m=1 time=100 size=0\n",
                   "ProcStatus dt=1 p=0 pstatus=1\n", Tables(1),
                   "EventBatch gen=2 m=1 time=200 size=0\n",
                   "ProcStatus dt=1 p=0 pstatus=1\n"));
  const std::string dump = DumpBuffer(gen1_end.substr(0, gen1_end.size() - 2));
  EXPECT_EQ(dump,
            "StateTransition t=101 m=1 p=-1 g=-1 resource=Proc:0 "
            "from=Undetermined to=Running reason=\"\" tstack=[] stack=[]\n"
            "Sync t=102 m=-1 p=-1 g=-1 stack=[]\n"
            "END error: failed to read full batch: read 2 but wanted 4\n");
}

// Go's reader ends the trace without an error when a table batch stops
// where a varint should start (its parser returns io.EOF, which the reader
// passes on as the end of the trace). We do the same.
TEST(ReaderTest, TableBatchEndingAtAVarintEndsTheTrace) {
  std::string bin = Bin(
      absl::StrCat("Trace Go1.23\n", "EventBatch gen=1 m=1 time=100 size=0\n",
                   "ProcStatus dt=1 p=0 pstatus=2\n", Tables(1)));
  // Generation 2: a Frequency batch holding only its type byte.
  bin += std::string("\x01\x02\x00\x00\x01\x08", 6);
  EXPECT_EQ(DumpBuffer(bin),
            "StateTransition t=101 m=1 p=-1 g=-1 resource=Proc:0 "
            "from=Undetermined to=Idle reason=\"\" tstack=[] stack=[]\n"
            "Sync t=102 m=-1 p=-1 g=-1 stack=[]\n"
            "END ok\n");
}

TEST(ReaderTest, ErrorsNameTheEventAndAreFinal) {
  const std::string bin = Bin(
      absl::StrCat("Trace Go1.22\n", "EventBatch gen=1 m=5 time=100 size=0\n",
                   "GoStatus dt=1 g=1 m=5 gstatus=2\n",
                   "GoCreate dt=1 new_g=2 new_stack=0 stack=0\n", Tables(1)));
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(Bytes(bin));
  ASSERT_TRUE(r.ok());
  Event ev;
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  EXPECT_FALSE((*r)->ReadEvent(&ev));
  EXPECT_EQ((*r)->status().message(),
            "expected a proc but didn't have one (at GoCreate on thread 5, "
            "generation 1)");
  EXPECT_FALSE((*r)->ReadEvent(&ev));
  EXPECT_FALSE((*r)->status().ok());
  EXPECT_EQ((*r)->complete_generations(), 0u);
}

TEST(ReaderTest, RejectsWhatIsNotATrace) {
  // Go's words for anything that is not a header.
  EXPECT_EQ(DumpBuffer(""),
            "END error: bad file format: not a Go execution trace?");
  EXPECT_EQ(DumpBuffer("hello world, not a trace"),
            "END error: bad file format: not a Go execution trace?");
  EXPECT_EQ(DumpBuffer(std::string("go 1.99 trace\0\0\0", 16)),
            "END error: unknown or unsupported trace version go 1.99");
  // Go reads the header with fmt.Fscanf, so spaces stretch and leading
  // zeros count.
  EXPECT_EQ(DumpBuffer(std::string("go\t 1. 0023  trace\0\0\0", 21)),
            "END error: no frequency event found\n");
  // A header and nothing else: Go finds no frequency.
  EXPECT_EQ(DumpBuffer(std::string("go 1.23 trace\0\0\0", 16)),
            "END error: no frequency event found\n");
  EXPECT_EQ(DumpBuffer(std::string("go 1.21 trace\0\0\0", 16)).substr(0, 33),
            "END error: trace is from go 1.21,");
}

TEST(ReaderTest, SameTimeEventsBecomeStrictlyIncreasing) {
  const std::string bin = Bin(absl::StrCat(
      "Trace Go1.22\n", "EventBatch gen=1 m=1 time=0 size=0\n",
      "ProcStatus dt=0 p=0 pstatus=2\n", "ProcStatus dt=0 p=1 pstatus=2\n",
      "ProcStatus dt=0 p=2 pstatus=2\n", "ProcStatus dt=5 p=3 pstatus=2\n",
      Tables(1)));
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(Bytes(bin));
  ASSERT_TRUE(r.ok());
  Event ev;
  std::vector<int64_t> times, raw_times;
  while ((*r)->ReadEvent(&ev)) {
    times.push_back(ev.time());
    raw_times.push_back((*r)->last_raw_time());
  }
  ASSERT_TRUE((*r)->status().ok()) << (*r)->status();
  EXPECT_EQ(times, (std::vector<int64_t>{1, 2, 3, 5, 6}));
  // The times as the trace gave them; the Sync's is the last time before
  // it (Go's, too).
  EXPECT_EQ(raw_times, (std::vector<int64_t>{0, 0, 0, 5, 5}));
}

TEST(ReaderTest, ExperimentalEventsAndBatches) {
  const std::string bin = Bin(absl::StrCat(
      "Trace Go1.23\n", "EventBatch gen=1 m=1 time=100 size=0\n",
      "ProcStatus dt=1 p=0 pstatus=1\n",
      "HeapObjectAlloc dt=1 id=4096 type=3\n", Tables(1),
      "ExperimentalBatch exp=1 gen=1 m=1 time=0\n\tdata=\"abc\"\n",
      "ExperimentalBatch exp=199 gen=1 m=2 time=0\n\tdata=\"xyz\"\n"));
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(Bytes(bin));
  ASSERT_TRUE(r.ok());
  Event ev;
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  ASSERT_EQ(ev.kind(), EventKind::kExperimental);
  ExperimentalEvent x = ev.experimental();
  EXPECT_EQ(x.name, "HeapObjectAlloc");
  EXPECT_EQ(x.experiment, 1);
  ASSERT_EQ(x.args.size(), 2u);
  EXPECT_EQ(x.arg_names[0], "id");
  EXPECT_EQ(x.args[0], 4096u);
  EXPECT_EQ(x.arg_names[1], "type");
  EXPECT_EQ(x.args[1], 3u);
  std::vector<ExperimentalBatch> batches =
      x.generation->ExperimentalBatchesOf(1);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].thread, 1u);
  EXPECT_EQ(std::string(batches[0].data.begin(), batches[0].data.end()), "abc");
  // An experiment Go does not know is kept too.
  ASSERT_EQ(x.generation->ExperimentalBatchesOf(199).size(), 1u);
  EXPECT_FALSE(x.generation->HasExperiment(2));
}

TEST(GenerationReaderTest, BatchesKeepTheirExactBytes) {
  const std::string bin = Bin(TwoGenerations());
  for (bool zero_copy : {true, false}) {
    format::SpanSource src(Bytes(bin));
    std::unique_ptr<format::BatchReader> in =
        zero_copy ? std::make_unique<format::BatchReader>(Bytes(bin))
                  : std::make_unique<format::BatchReader>(&src);
    ASSERT_TRUE(in->ReadHeader().ok());
    GenerationReader gens(in.get(), zero_copy);
    Generation g;
    std::string copy = bin.substr(0, 16);
    std::vector<uint64_t> numbers;
    for (;;) {
      absl::StatusOr<bool> more = gens.Next(&g);
      ASSERT_TRUE(more.ok()) << more.status();
      if (!*more) break;
      numbers.push_back(g.number());
      for (const Batch& b : g.batches()) {
        copy.append(reinterpret_cast<const char*>(b.raw.data()), b.raw.size());
      }
      EXPECT_EQ(g.ticks_per_second(), 1000000000u);
      EXPECT_EQ(g.threads().size(), g.number() == 1 ? 2u : 1u);
    }
    EXPECT_EQ(numbers, (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ(copy, bin);
  }
}

TEST(GenerationReaderTest, TablesAndFrames) {
  const std::string bin = Bin(TwoGenerations());
  format::BatchReader in(Bytes(bin));
  ASSERT_TRUE(in.ReadHeader().ok());
  GenerationReader gens(&in, true);
  Generation g;
  ASSERT_TRUE(*gens.Next(&g));
  ASSERT_NE(g.FindString(10), nullptr);
  EXPECT_EQ(*g.FindString(10), "my task");
  EXPECT_EQ(*g.FindString(0), "");
  EXPECT_EQ(g.FindString(99), nullptr);
  StackView s;
  ASSERT_TRUE(g.FindStack(1, &s));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].func, "main.main");
  EXPECT_EQ(s[1].line, 20u);
  EXPECT_FALSE(g.FindStack(2, &s));
  ASSERT_EQ(g.cpu_samples().size(), 1u);
  EXPECT_EQ(g.cpu_samples()[0].g, format::kNoGoroutine);
  EXPECT_EQ(g.cpu_samples()[0].time, 104);
}

TEST(ValidatorTest, AcceptsValidStreamAndRejectsThreadlessRunningProc) {
  {
    const std::string bin = Bin(TwoGenerations());
    absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(Bytes(bin));
    ASSERT_TRUE(r.ok());
    Validator v;
    Event ev;
    while ((*r)->ReadEvent(&ev)) EXPECT_TRUE(v.Event(ev).ok()) << v.Event(ev);
  }
  // Go's parser accepts a running P whose status comes from a batch
  // without a thread; its validator does not.
  const std::string bin = Bin(absl::StrCat(
      "Trace Go1.22\n", "EventBatch gen=1 m=", kNoThread, " time=100 size=0\n",
      "ProcStatus dt=1 p=0 pstatus=1\n", Tables(1)));
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::FromBuffer(Bytes(bin));
  ASSERT_TRUE(r.ok());
  Validator v;
  Event ev;
  ASSERT_TRUE((*r)->ReadEvent(&ev));
  EXPECT_EQ(v.Event(ev).message(), "must have thread, but thread ID is none");
}

}  // namespace
}  // namespace gentrace::reader
