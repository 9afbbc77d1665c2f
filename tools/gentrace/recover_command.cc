// `gentrace recover RINGFILE OUT`: the whole generations left in a flight
// recorder's ring file (after a crash, kill -9 or an OOM kill), as a trace.
// See the help text below and format/ring_file.h for what is recovered and
// how it is checked.

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "format/ring_file.h"
#include "tools/gentrace/command.h"
#include "tools/gentrace/output_file.h"

namespace gentrace::tools {
namespace {

constexpr char kHelp[] =
    R"(usage: gentrace recover RINGFILE OUT

Reads the ring file of a gentrace flight recorder (a ring kept in a file,
which survives the process that wrote it: a crash, kill -9, the OOM killer)
and writes every whole generation it still holds as a Go execution trace to
OUT ("-" for standard output).

Every record in the ring carries a checksum and a commit word written last,
so a record torn by the kill, or overwritten in part, is never trusted. What
is written is the newest run of consecutive whole generations (Go's parser
needs consecutive generations); older generations cut off by a gap, the
unfinished generation being written at the end, and damaged records are
listed as skipped, with their file offsets.

OUT is written to a temporary file next to it and renamed into place, so it
never holds a partial trace.

Prints what was recovered (generations, their numbers, bytes) and each
skipped item on its own line ("skipped: ..."), on standard output (standard
error if OUT is "-").

Flags:
  -h, --help  show this help

Exit status: 0 recovered, 1 nothing recoverable or bad input (one line
saying why, with the file offset), 2 usage error.
)";

// A read-only mapping of a whole file.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) munmap(data_, size_);
    if (fd_ >= 0) close(fd_);
  }
  absl::Status Open(const std::string& path) {
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return absl::NotFoundError(std::strerror(errno));
    struct stat st;
    if (fstat(fd_, &st) != 0) return absl::InternalError(std::strerror(errno));
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError("not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) return absl::OkStatus();
    void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (m == MAP_FAILED) return absl::InternalError(std::strerror(errno));
    data_ = static_cast<uint8_t*>(m);
    return absl::OkStatus();
  }
  absl::Span<const uint8_t> bytes() const {
    return absl::MakeConstSpan(data_, size_);
  }

 private:
  int fd_ = -1;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Writes the trace through an OutputFile: whole or not at all.
absl::Status WriteOut(const format::RingRecovery& r,
                      absl::Span<const uint8_t> file, const std::string& out) {
  absl::StatusOr<std::unique_ptr<OutputFile>> o = OutputFile::Create(out);
  if (!o.ok()) return o.status();
  absl::Status s = format::WriteRecoveredTrace(r, file, (*o)->sink());
  if (s.ok()) s = (*o)->Commit();
  return s;
}

int RunRecover(const ParsedArgs& args) {
  const Command& self = RecoverCommand();
  const std::string& in = args.positional[0];
  const std::string& out = args.positional[1];
  MappedFile f;
  if (absl::Status s = f.Open(in); !s.ok()) {
    return Failure(self, absl::StrCat(in, ": ", s.message()));
  }
  absl::StatusOr<format::RingRecovery> r = format::RecoverRingFile(f.bytes());
  if (!r.ok()) {
    return Failure(self, absl::StrCat(in, ": ", r.status().message()));
  }
  if (absl::Status s = WriteOut(*r, f.bytes(), out); !s.ok()) {
    return Failure(self, absl::StrCat(out, ": ", s.message()));
  }
  std::FILE* report = out == "-" ? stderr : stdout;
  const format::RecoveredGeneration& first = r->generations.front();
  const format::RecoveredGeneration& last = r->generations.back();
  std::fprintf(report,
               "recovered %zu generation(s) (%llu to %llu), %llu bytes, "
               "from %llu valid records, into %s\n",
               r->generations.size(),
               static_cast<unsigned long long>(first.gen),
               static_cast<unsigned long long>(last.gen),
               static_cast<unsigned long long>(r->trace_bytes()),
               static_cast<unsigned long long>(r->records_valid), out.c_str());
  for (const std::string& n : r->notes) {
    std::fprintf(report, "skipped: %s\n", n.c_str());
  }
  return kExitOk;
}

}  // namespace

const Command& RecoverCommand() {
  static const Command kCommand = {
      "recover",
      "get the whole generations out of a flight recorder's ring file",
      kHelp,
      {},
      {"RINGFILE", "OUT"},
      &RunRecover,
  };
  return kCommand;
}

}  // namespace gentrace::tools
