// The scheduler model that validates events and decides their order (Go's
// internal/trace order.go).
//
// The ordering tracks, across generations, each thread's bound goroutine and
// proc, each goroutine's and proc's status and sequence number, goroutine
// regions and special ranges (GC, sweep, mark assist, stop-the-world),
// active tasks and the GC state. Advance() is offered a thread's next event:
// it either accepts it (queueing one or more finished events for Next()),
// reports "not yet" (the event depends on another thread's event that has
// not been accepted yet: the reader then offers other threads' events), or
// fails because the trace is inconsistent.
//
// Invariants kept here, as in Go:
//  1. A thread's state changes only when one of its events is accepted,
//     except that ProcSteal takes the P from the thread it names and a
//     GoStatus(Syscall) naming another thread may create that thread.
//  2. Sequence numbers are per generation: a status event resets them to 0,
//     and an event with a sequence number is accepted only as the
//     immediate successor, in the same generation.
//  3. Thread states are created the first time one of their events is
//     offered (not when their batches are seen), and never removed.
//  4. Nothing is mutated when an event is "not yet" advanceable.
#ifndef GENTRACE_READER_ORDERING_H_
#define GENTRACE_READER_ORDERING_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "reader/event.h"

namespace gentrace::reader {

class Ordering {
 public:
  static constexpr uint32_t kNoState = ~uint32_t{0};

  Ordering();

  // Offers *ev, an event of thread m in generation gen. *mstate caches the
  // thread's state index (start with kNoState). Returns true if ev was
  // accepted; false if it cannot be yet, or on error (*error set). ev may
  // be modified (facts passed to accessors).
  //
  // The first finished event goes straight to *out when the queue is empty
  // (the common case: no copy through the queue); any others are queued
  // for Next(). Returns true with *out filled, or false.
  bool Advance(Event* ev, uint64_t m, uint32_t* mstate, uint64_t gen,
               Event* out, absl::Status* error);

  // True if no finished event is waiting.
  bool empty() const { return head_ == tail_; }

  // Takes the next finished event; false if there is none.
  bool Next(Event* ev) {
    if (head_ == tail_) return false;
    *ev = queue_[head_ & mask_];
    ++head_;
    return true;
  }

  // Copies names the ordering keeps across generations (active task
  // types, open region types) out of the current generation's storage.
  // Call before that storage is reused.
  void CarryNames();

  // A description of the whole state, for "failed to advance" errors
  // (Go's dumpOrdering). At most `limit` goroutines are listed.
  std::string Dump(size_t limit) const;

  size_t num_goroutines() const { return gs_.size(); }
  size_t MemoryUsage() const;

 private:
  struct Ctx {
    uint64_t m, p, g;
  };
  struct Seq {
    uint64_t gen = 0;
    uint64_t seq = 0;
  };
  static bool Succeeds(Seq a, Seq b) {
    return a.gen == b.gen && a.seq == b.seq + 1;
  }
  // A special range in progress: the type of its begin event and, for
  // stop-the-world, the string id of its kind.
  struct RangeType {
    uint8_t type = 0;
    uint64_t desc = 0;
    bool operator==(const RangeType& o) const {
      return type == o.type && desc == o.desc;
    }
  };
  struct Region {
    uint64_t task;
    absl::string_view name;
  };
  // Kept small: there may be many goroutines and every event looks one
  // up. The rare regions and ranges live in gx_.
  struct GState {
    Seq seq;
    uint8_t status = 0;
    bool has_extra = false;  // gx_ has an entry for this goroutine
  };
  struct GExtra {
    std::vector<Region> regions;
    std::vector<RangeType> ranges;
  };
  struct PState {
    uint8_t status = 0;
    Seq seq;
    std::vector<RangeType> ranges;
  };
  struct MState {
    uint64_t id;
    uint64_t g;
    uint64_t p;
    // The state of goroutine g, remembered when g started running here;
    // valid while gs_epoch_ equals gs_epoch (no insertion or removal in
    // gs_ since), which saves a lookup on most events of a running g.
    GState* gs = nullptr;
    uint64_t gs_epoch = 0;
  };
  struct TaskState {
    absl::string_view name;
    uint64_t parent;
  };
  enum class GcState : uint8_t { kUndetermined, kNotRunning, kRunning };
  enum Req : uint8_t { kMustNot, kMay, kMust };
  // The result of a handler.
  enum Result : uint8_t { kOk, kNotYet, kFail };

  // Advance for any event (the fast path in Advance handles the common
  // cases and defers everything else here).
  bool AdvanceSlow(Event* ev, uint64_t m, uint32_t* mstate, uint64_t gen,
                   Event* out, absl::Status* error);
  uint32_t FindOrAddM(uint64_t m);
  // The state of the goroutine thread ms runs (ms.g), through its cache.
  GState* RunningG(MState& ms);
  void Push(const Event& ev, const Ctx& ctx);
  Result Fail(absl::Status* error, std::string msg);
  bool CheckCtx(const Ctx& c, Req thread, Req proc, Req go,
                absl::Status* error);
  static RangeType MakeRangeType(uint8_t type, uint64_t desc);
  Result BeginRange(std::vector<RangeType>* r, RangeType t,
                    absl::Status* error);
  Result ActiveRange(std::vector<RangeType>* r, RangeType t, bool initial,
                     absl::Status* error);
  Result EndRange(std::vector<RangeType>* r, uint8_t type, uint64_t* desc,
                  absl::Status* error);

  // Handlers, one per group of event types (Go's advance* methods).
  Result ProcStatusEv(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                      absl::Status* error);
  Result ProcStart(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                   absl::Status* error);
  Result ProcStop(Event* ev, Ctx* cur, Ctx* next, absl::Status* error);
  Result ProcSteal(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                   absl::Status* error);
  Result GoStatusEv(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                    absl::Status* error);
  Result GoCreate(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GoStopExec(Event* ev, Ctx* cur, Ctx* next, absl::Status* error);
  Result GoStart(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                 absl::Status* error);
  Result GoUnblock(Event* ev, uint64_t gen, Ctx* cur);
  Result GoSwitch(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                  absl::Status* error);
  Result GoSyscallBegin(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GoSyscallEnd(Event* ev, Ctx* cur, absl::Status* error);
  Result GoSyscallEndBlocked(Event* ev, Ctx* cur, Ctx* next,
                             absl::Status* error);
  Result GoCreateSyscall(Event* ev, uint64_t gen, Ctx* cur, Ctx* next,
                         absl::Status* error);
  Result GoDestroySyscall(Event* ev, Ctx* cur, Ctx* next, absl::Status* error);
  Result UserTaskBegin(Event* ev, Ctx* cur, absl::Status* error);
  Result UserTaskEnd(Event* ev, Ctx* cur, absl::Status* error);
  Result UserRegion(Event* ev, Ctx* cur, absl::Status* error);
  Result GCActive(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GCBegin(Event* ev, Ctx* cur, absl::Status* error);
  Result GCEnd(Event* ev, Ctx* cur, absl::Status* error);
  Result GCSweep(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);
  Result GoRange(Event* ev, uint64_t gen, Ctx* cur, absl::Status* error);

  using GMap = absl::flat_hash_map<uint64_t, GState>;
  // The goroutine's regions and ranges (created on first use).
  GExtra& Extra(GMap::iterator it);
  // Removes a goroutine and its extras.
  void EraseG(GMap::iterator it);

  GMap gs_;
  uint64_t gs_epoch_ = 1;  // bumped whenever gs_ may move its elements
  absl::flat_hash_map<uint64_t, GExtra> gx_;
  absl::flat_hash_map<uint64_t, PState> ps_;
  absl::flat_hash_map<uint64_t, uint32_t> m_index_;
  std::vector<MState> ms_;
  absl::flat_hash_map<uint64_t, TaskState> tasks_;
  uint64_t gc_seq_ = 0;
  GcState gc_state_ = GcState::kUndetermined;
  uint64_t initial_gen_ = 0;

  // Where the next finished event goes if not to the queue.
  Event* direct_ = nullptr;
  // Finished events: a ring buffer (capacity a power of two).
  std::vector<Event> queue_;
  uint64_t head_ = 0, tail_ = 0, mask_ = 0;

  // Names carried over from earlier generations (see CarryNames).
  std::deque<std::string> carried_;
};

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_ORDERING_H_
