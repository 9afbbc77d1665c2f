// The byte layer: sinks (string, callback, fd with its one write loop and
// its SIGPIPE handling, zstd with one frame per generation) and sources
// (prefix put back, zstd decompression, sniffing).
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "format/byte_sink.h"
#include "format/byte_source.h"
#include "format/header.h"
#include "format/zstd.h"

namespace gentrace::format {
namespace {

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

std::string TempPath(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return absl::StrCat(d != nullptr ? d : "/tmp", "/", getpid(), "-", name);
}

std::string ReadFileBytes(const std::string& path) {
  absl::StatusOr<std::unique_ptr<FdSource>> f = FdSource::Open(path);
  EXPECT_TRUE(f.ok()) << f.status();
  if (!f.ok()) return "";
  absl::StatusOr<std::string> all = ReadAll(f->get());
  EXPECT_TRUE(all.ok()) << all.status();
  return all.ok() ? *all : "";
}

// Reads a source to its end (or its first error, returned in *err).
std::string Drain(ByteSource* src, absl::Status* err, size_t chunk = 4096) {
  std::string got;
  std::vector<uint8_t> buf(chunk);
  for (;;) {
    absl::StatusOr<size_t> n = src->Read(buf.data(), buf.size());
    if (!n.ok()) {
      *err = n.status();
      return got;
    }
    if (*n == 0) return got;
    got.append(reinterpret_cast<char*>(buf.data()), *n);
  }
}

// Data that compresses, but not to nothing.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7) ^ (i >> 9));
  return s;
}

// The frames of a zstd stream, each decompressed on its own.
std::vector<std::string> Frames(const std::string& z) {
  std::vector<std::string> frames;
  size_t pos = 0;
  while (pos < z.size()) {
    const size_t len =
        ZSTD_findFrameCompressedSize(z.data() + pos, z.size() - pos);
    EXPECT_FALSE(ZSTD_isError(len)) << ZSTD_getErrorName(len);
    if (ZSTD_isError(len)) break;
    std::string out(4 << 20, '\0');
    const size_t n =
        ZSTD_decompress(out.data(), out.size(), z.data() + pos, len);
    EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
    out.resize(ZSTD_isError(n) ? 0 : n);
    frames.push_back(out);
    pos += len;
  }
  return frames;
}

// A thread that reads fd to its end into *out.
std::thread DrainInto(int fd, std::string* out) {
  return std::thread([fd, out] {
    char buf[4096];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      out->append(buf, static_cast<size_t>(n));
    }
  });
}

bool SigpipeBlocked() {
  sigset_t cur;
  pthread_sigmask(SIG_BLOCK, nullptr, &cur);
  return sigismember(&cur, SIGPIPE) == 1;
}

bool SigpipePending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

// ------------------------------------------------------------------ sinks

TEST(ByteSinkTest, StringAndCallbackSinksCountTheirBytes) {
  std::string out;
  StringSink s(&out);
  ASSERT_TRUE(s.WriteString("go 1.23").ok());
  ASSERT_TRUE(s.Write(Bytes(" trace")).ok());
  EXPECT_EQ(out, "go 1.23 trace");
  EXPECT_EQ(s.bytes_written(), 13u);
  EXPECT_TRUE(s.EndGeneration().ok());
  EXPECT_TRUE(s.Close().ok());

  std::vector<size_t> chunks;
  CallbackSink c([&](absl::Span<const uint8_t> b) {
    chunks.push_back(b.size());
    return b.size() > 5 ? absl::ResourceExhaustedError("full")
                        : absl::OkStatus();
  });
  EXPECT_TRUE(c.WriteString("abc").ok());
  EXPECT_EQ(c.WriteString("abcdefgh").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(chunks, (std::vector<size_t>{3, 8}));
  EXPECT_EQ(c.bytes_written(), 11u);
}

TEST(FdSinkTest, UnbufferedWritesGoStraightToTheFile) {
  const std::string path = TempPath("unbuffered");
  absl::StatusOr<std::unique_ptr<FdSink>> s =
      FdSink::Create(path, "trace file", {});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->WriteString("0123456789").ok());
  // Nothing held back: the file has it before any flush.
  EXPECT_EQ(ReadFileBytes(path), "0123456789");
  EXPECT_EQ((*s)->bytes_written(), 10u);
  ASSERT_TRUE((*s)->Close().ok());
  EXPECT_EQ((*s)->WriteString("x").code(),
            absl::StatusCode::kFailedPrecondition);
  unlink(path.c_str());
}

TEST(FdSinkTest, BufferedWritesWaitForFlushOrGeneration) {
  const std::string path = TempPath("buffered");
  absl::StatusOr<std::unique_ptr<FdSink>> s =
      FdSink::Create(path, "file", {/*buffer_size=*/16, ""});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->WriteString("0123456789").ok());
  EXPECT_EQ(ReadFileBytes(path), "");
  EXPECT_EQ((*s)->bytes_written(), 0u);
  // Overflowing the buffer writes the buffer out; a write as large as the
  // buffer goes straight through.
  ASSERT_TRUE((*s)->WriteString("abcdefghij").ok());
  EXPECT_EQ(ReadFileBytes(path), "0123456789");
  ASSERT_TRUE((*s)->WriteString(std::string(20, 'z')).ok());
  EXPECT_EQ(ReadFileBytes(path), "0123456789abcdefghij" + std::string(20, 'z'));
  ASSERT_TRUE((*s)->WriteString("tail").ok());
  ASSERT_TRUE((*s)->EndGeneration().ok());
  EXPECT_EQ(ReadFileBytes(path),
            "0123456789abcdefghij" + std::string(20, 'z') + "tail");
  EXPECT_EQ((*s)->bytes_written(), 44u);
  ASSERT_TRUE((*s)->Close().ok());
  unlink(path.c_str());
}

TEST(FdSinkTest, OwnedFdIsClosedBorrowedFdStaysOpen) {
  const std::string path = TempPath("owned");
  const int owned = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int borrowed = open(path.c_str(), O_WRONLY);
  ASSERT_GE(owned, 0);
  ASSERT_GE(borrowed, 0);
  {
    FdSink a(owned, /*owned=*/true, FdSink::Options{});
    FdSink b(borrowed, /*owned=*/false, FdSink::Options{});
    EXPECT_TRUE(a.Close().ok());
    EXPECT_TRUE(b.Close().ok());
  }
  EXPECT_EQ(fcntl(owned, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_GE(fcntl(borrowed, F_GETFD), 0);
  close(borrowed);
  unlink(path.c_str());
}

TEST(FdSinkTest, ErrorsNameTheDestination) {
  absl::StatusOr<std::unique_ptr<FdSink>> s =
      FdSink::Create("/nonexistent-dir/x.trace", "trace file", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "cannot create trace file /nonexistent-dir/x.trace: No such file "
            "or directory");
  // A full disk is kResourceExhausted, and says so.
  const int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  FdSink full(fd, /*owned=*/true, FdSink::Options{0, "the disk"});
  absl::Status st = full.WriteString("x");
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "the disk: No space left on device");
  EXPECT_EQ(full.bytes_written(), 0u);
}

TEST(FdSinkTest, PipeWithoutReaderIsEpipeNotSigpipe) {
  // The test would die of SIGPIPE (its default action) if the sink let the
  // signal through.
  ASSERT_FALSE(SigpipeBlocked());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  FdSink s(fds[1], /*owned=*/true, FdSink::Options{0, "trace fd"});
  absl::Status st = s.WriteString("data");
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(st.message(), "trace fd: Broken pipe");
  // The thread's mask is as it was, and the raised SIGPIPE was consumed.
  EXPECT_FALSE(SigpipeBlocked());
  EXPECT_FALSE(SigpipePending());

  // A thread that blocks SIGPIPE itself keeps it blocked; the signal the
  // write raised stays its business (pending).
  std::thread t([] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    close(p[0]);
    FdSink s2(p[1], /*owned=*/true, FdSink::Options{});
    EXPECT_EQ(s2.WriteString("data").message(),
              absl::StrCat("fd ", p[1], ": Broken pipe"));
    EXPECT_TRUE(SigpipeBlocked());
    const timespec zero = {0, 0};
    EXPECT_EQ(sigtimedwait(&set, nullptr, &zero), SIGPIPE);
  });
  t.join();
}

TEST(FdSinkTest, WriteFullyCountsWhatWasWritten) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string data = Pattern(200000);  // more than a pipe holds
  std::string got;
  std::thread reader = DrainInto(fds[0], &got);
  size_t written = 0;
  EXPECT_EQ(WriteFully(fds[1], data.data(), data.size(), &written), 0);
  EXPECT_EQ(written, data.size());
  close(fds[1]);
  reader.join();
  close(fds[0]);
  EXPECT_EQ(got, data);
  EXPECT_EQ(WriteFully(-1, "x", 1, &written), EBADF);
  EXPECT_EQ(written, 0u);
}

// ------------------------------------------------------------------- zstd

TEST(ZstdSinkTest, OneFramePerGenerationAndCloseEndsTheLast) {
  std::string z;
  auto inner = std::make_unique<StringSink>(&z);
  StringSink* inner_view = inner.get();
  absl::StatusOr<std::unique_ptr<ZstdSink>> s =
      ZstdSink::Create(std::move(inner), 3);
  ASSERT_TRUE(s.ok()) << s.status();
  const std::string g1 = Pattern(100000), g2 = "second generation",
                    g3 = Pattern(3000);
  ASSERT_TRUE((*s)->WriteString(g1.substr(0, 5000)).ok());
  ASSERT_TRUE((*s)->WriteString(g1.substr(5000)).ok());
  ASSERT_TRUE((*s)->EndGeneration().ok());
  // A generation boundary with nothing written adds no frame.
  ASSERT_TRUE((*s)->EndGeneration().ok());
  ASSERT_TRUE((*s)->WriteString(g2).ok());
  ASSERT_TRUE((*s)->EndGeneration().ok());
  ASSERT_TRUE((*s)->WriteString(g3).ok());
  ASSERT_TRUE((*s)->Close().ok());
  EXPECT_EQ(Frames(z), (std::vector<std::string>{g1, g2, g3}));
  EXPECT_EQ((*s)->bytes_written(), z.size());
  EXPECT_EQ(inner_view->bytes_written(), z.size());
}

TEST(ZstdSinkTest, FlushMakesEverythingSoFarReadable) {
  std::string z;
  absl::StatusOr<std::unique_ptr<ZstdSink>> s =
      ZstdSink::Create(std::make_unique<StringSink>(&z), 1);
  ASSERT_TRUE(s.ok());
  const std::string data = Pattern(50000);
  ASSERT_TRUE((*s)->WriteString(data).ok());
  ASSERT_TRUE((*s)->Flush().ok());
  // The frame is not finished, but every byte written so far decompresses.
  ZstdSource src(std::make_unique<SpanSource>(Bytes(z)));
  absl::Status err;
  EXPECT_EQ(Drain(&src, &err), data);
  EXPECT_TRUE(absl::StrContains(err.message(), "ends inside a frame")) << err;
}

TEST(ZstdSinkTest, RefusesLevelsOutsideZstdsRange) {
  std::string z;
  absl::StatusOr<std::unique_ptr<ZstdSink>> s =
      ZstdSink::Create(std::make_unique<StringSink>(&z), 99);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(
      absl::StartsWith(s.status().message(), "zstd level 99 is outside"))
      << s.status();
}

TEST(ZstdSourceTest, ConcatenatedFramesAreOneStream) {
  std::string z;
  {
    absl::StatusOr<std::unique_ptr<ZstdSink>> s =
        ZstdSink::Create(std::make_unique<StringSink>(&z), 3);
    ASSERT_TRUE(s.ok());
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE((*s)->WriteString(Pattern(10000 + i)).ok());
      ASSERT_TRUE((*s)->EndGeneration().ok());
    }
  }
  ASSERT_EQ(Frames(z).size(), 4u);
  std::string want;
  for (int i = 0; i < 4; ++i) want += Pattern(10000 + i);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{65536}}) {
    ZstdSource src(std::make_unique<SpanSource>(Bytes(z)));
    absl::Status err;
    EXPECT_EQ(Drain(&src, &err, chunk), want) << chunk;
    EXPECT_TRUE(err.ok()) << err;
    EXPECT_EQ(src.compressed_offset(), z.size());
  }
}

TEST(ZstdSourceTest, TruncatedStreamFailsAfterItsData) {
  const std::string data = Pattern(100000);
  std::string z;
  {
    absl::StatusOr<std::unique_ptr<ZstdSink>> s =
        ZstdSink::Create(std::make_unique<StringSink>(&z), 3);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->WriteString(data).ok());
    ASSERT_TRUE((*s)->Close().ok());
  }
  ZstdSource src(
      std::make_unique<SpanSource>(Bytes(z).subspan(0, z.size() - 10)));
  absl::Status err;
  const std::string got = Drain(&src, &err);
  EXPECT_FALSE(err.ok());
  EXPECT_EQ(err.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StartsWith(data, got));
  // Errors are final.
  uint8_t b;
  EXPECT_EQ(src.Read(&b, 1).status(), err);
}

// What the tracer's writer thread does: zstd into the caller's fd (a pipe
// here), header first, a frame per generation; bytes_written() is what
// reached the fd; Close() leaves the caller's fd open.
TEST(ZstdSinkTest, TracerStyleIntoACallersPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string got;
  std::thread reader = DrainInto(fds[0], &got);
  const std::string header = EncodeHeader(Version::kGo123);
  const std::string g1 = Pattern(70000), g2 = Pattern(500);
  {
    absl::StatusOr<std::unique_ptr<ZstdSink>> s = ZstdSink::Create(
        std::make_unique<FdSink>(fds[1], /*owned=*/false,
                                 FdSink::Options{0, "trace fd"}),
        3);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*s)->WriteString(header).ok());
    ASSERT_TRUE((*s)->WriteString(g1).ok());
    ASSERT_TRUE((*s)->EndGeneration().ok());
    ASSERT_TRUE((*s)->WriteString(g2).ok());
    ASSERT_TRUE((*s)->EndGeneration().ok());
    ASSERT_TRUE((*s)->Close().ok());
    EXPECT_GE(fcntl(fds[1], F_GETFD), 0);  // still open
    close(fds[1]);
    reader.join();
    EXPECT_EQ((*s)->bytes_written(), got.size());
  }
  close(fds[0]);
  EXPECT_EQ(Frames(got), (std::vector<std::string>{header + g1, g2}));
}

// ---------------------------------------------------------------- sources

TEST(ByteSourceTest, PrefixIsReadBackBeforeTheRest) {
  SpanSource rest(Bytes("0123456789"));
  absl::StatusOr<std::string> head = ReadPrefix(&rest, 4);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, "0123");
  PrefixedSource again(*head, &rest);
  absl::Status err;
  EXPECT_EQ(Drain(&again, &err, 3), "0123456789");
  // Fewer bytes than asked only at the end.
  SpanSource small(Bytes("ab"));
  EXPECT_EQ(*ReadPrefix(&small, 4), "ab");
}

TEST(ByteSourceTest, MaybeDecompressSniffsZstdAndPassesTheRestThrough) {
  const std::string plain = EncodeHeader(Version::kGo123) + Pattern(30000);
  std::string z;
  {
    absl::StatusOr<std::unique_ptr<ZstdSink>> s =
        ZstdSink::Create(std::make_unique<StringSink>(&z), 3);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->WriteString(plain).ok());
    ASSERT_TRUE((*s)->Close().ok());
  }
  ASSERT_TRUE(LooksLikeZstd(Bytes(z)));
  for (const std::string& in : {plain, z, std::string("go"), std::string()}) {
    absl::StatusOr<std::unique_ptr<ByteSource>> src =
        MaybeDecompress(std::make_unique<SpanSource>(Bytes(in)));
    ASSERT_TRUE(src.ok()) << src.status();
    absl::Status err;
    EXPECT_EQ(Drain(src->get(), &err), in == z ? plain : in);
    EXPECT_TRUE(err.ok()) << err;
  }
  // A file, the same way.
  const std::string path = TempPath("input.zst");
  {
    absl::StatusOr<std::unique_ptr<FdSink>> f = FdSink::Open(path);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteString(z).ok());
  }
  absl::StatusOr<std::unique_ptr<ByteSource>> src = OpenInput(path);
  ASSERT_TRUE(src.ok()) << src.status();
  absl::Status err;
  EXPECT_EQ(Drain(src->get(), &err), plain);
  unlink(path.c_str());
  EXPECT_EQ(OpenInput(path).status().message(),
            absl::StrCat("cannot open ", path, ": No such file or directory"));
}

}  // namespace
}  // namespace gentrace::format
