// Frame-pointer stack walk for event stacks.
//
// Starts at a given frame (the gentrace API function's own frame, so the
// first PC is the return address into the caller) and follows saved frame
// pointers. It can never fault: every frame must lie inside the thread's
// stack [lo, hi), be 8-byte aligned, and be above the previous one (stacks
// grow down, callers' frames are higher). Code built without frame
// pointers ends the walk early or loses frames; see docs/TRACER.md.
#ifndef GENTRACE_TRACER_STACK_CAPTURE_H_
#define GENTRACE_TRACER_STACK_CAPTURE_H_

#include <cstdint>

namespace gentrace::internal {

inline int WalkFramePointers(void* start_fp, uintptr_t* pcs, int max,
                             uintptr_t lo, uintptr_t hi) {
  uintptr_t fp = reinterpret_cast<uintptr_t>(start_fp);
  int n = 0;
  while (n < max) {
    if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) ||
        (fp & (sizeof(uintptr_t) - 1)) != 0) {
      break;
    }
    const uintptr_t* frame = reinterpret_cast<const uintptr_t*>(fp);
    const uintptr_t ret = frame[1];
    if (ret < 4096) break;  // end of the chain (or garbage)
    pcs[n++] = ret;
    const uintptr_t next = frame[0];
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

}  // namespace gentrace::internal

#endif  // GENTRACE_TRACER_STACK_CAPTURE_H_
