// The output file of a gentrace subcommand, which appears whole or not at
// all: the command writes into a temporary file next to it and Commit()
// renames that over the output name once everything is written. A command
// that fails (or returns early) drops the OutputFile without committing,
// which removes the temporary file, and an output file that existed
// before is left exactly as it was.
//
//   absl::StatusOr<std::unique_ptr<OutputFile>> out = OutputFile::Create(path);
//   if (!out.ok()) return Fail(out.status());
//   absl::Status st = Convert(in, (*out)->sink(), ...);
//   if (st.ok()) st = (*out)->Commit();
//   if (!st.ok()) return Fail(st);  // nothing was written to `path`
//
// Details:
// * "-" is standard output, written directly (a pipe cannot be replaced).
//   So is an existing path that is not a regular file (/dev/null, a FIFO, a
//   terminal): replacing it would be wrong, and it holds nothing to keep.
// * A symbolic link is followed: the file it names is replaced, the link
//   stays.
// * The new file gets the permission bits of the file it replaces, or, if
//   there was none, those of any new file (0666 less the umask).
// * The data is flushed to the disk (fsync) before the rename, so the file
//   holds either the old contents or all of the new ones even after a
//   crash.
// * A process killed while writing leaves its temporary file behind:
//   ".<name>.tmp-<pid>-<n>" in the output's directory.
#ifndef GENTRACE_TOOLS_GENTRACE_OUTPUT_FILE_H_
#define GENTRACE_TOOLS_GENTRACE_OUTPUT_FILE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "format/byte_sink.h"

namespace gentrace::tools {

class OutputFile {
 public:
  // Opens a temporary file in the directory of `path` (see above for "-"
  // and files that are not regular). Fails if that cannot be done, before
  // anything is written.
  static absl::StatusOr<std::unique_ptr<OutputFile>> Create(
      const std::string& path);

  // Removes the temporary file unless Commit() succeeded.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Where the command writes its output.
  format::ByteSink* sink() { return sink_.get(); }

  // Flushes, syncs and closes the temporary file and renames it to the
  // output path. On error the temporary file is removed and the output path
  // is untouched. Call once.
  absl::Status Commit();

  // The name the output gets (after following a symbolic link).
  const std::string& path() const { return path_; }

 private:
  OutputFile() = default;
  void RemoveTemporary();

  std::string path_;       // the output's final name
  std::string temp_path_;  // "" when writing directly
  int fd_ = -1;            // the temporary file's, owned by sink_
  std::unique_ptr<format::FdSink> sink_;
  bool committed_ = false;
};

}  // namespace gentrace::tools

#endif  // GENTRACE_TOOLS_GENTRACE_OUTPUT_FILE_H_
