// The bodies of gentrace::Mutex and gentrace::CondVar (tracer/gentrace.h).
// Part of the public headers' implementation; not for direct use. Inline,
// so the same code serves builds with the tracer compiled in and out: the
// traced calls are entry points that do nothing when compiled out.
#ifndef GENTRACE_TRACER_INTERNAL_SYNC_IMPL_H_
#define GENTRACE_TRACER_INTERNAL_SYNC_IMPL_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

GENTRACE_INTERNAL_NAMESPACE_BEGIN

inline void Mutex::LockSlow() {
  internal::GState* g = internal::WaitBegin(BlockReason::kSync);
  if (g != nullptr) {
    std::lock_guard<std::mutex> l(waiters_mu_);
    waiters_.push_back(g);
  }
  mu_.lock();
  if (g != nullptr) {
    {
      std::lock_guard<std::mutex> l(waiters_mu_);
      auto it = std::find(waiters_.begin(), waiters_.end(), g);
      if (it != waiters_.end()) waiters_.erase(it);
    }
    internal::WaitEnd(g);
  }
}

inline void Mutex::UnlockSlow() {
  std::lock_guard<std::mutex> l(waiters_mu_);
  if (waiters_.empty()) return;
  // Record the wake-up while holding waiters_mu_: the waiter takes it to
  // leave the list, so it cannot be waiting on something else by now.
  internal::GState* g = waiters_.front();
  waiters_.erase(waiters_.begin());
  internal::WakeWaiter(g);
}

struct CondVar::Waiter {
  std::condition_variable cv;
  bool signaled = false;
  internal::GState* g = nullptr;
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
};

inline std::cv_status CondVar::wait_for(std::unique_lock<Mutex>& lock,
                                        std::chrono::nanoseconds timeout) {
  Waiter w;
  if (internal::Enabled()) w.g = internal::WaitBegin(BlockReason::kCondWait);
  std::unique_lock<std::mutex> l(mu_);
  w.prev = tail_;
  (tail_ != nullptr ? tail_->next : head_) = &w;
  tail_ = &w;
  lock.unlock();
  bool signaled;
  if (timeout == std::chrono::nanoseconds::max()) {
    w.cv.wait(l, [&] { return w.signaled; });
    signaled = true;
  } else {
    signaled = w.cv.wait_for(l, timeout, [&] { return w.signaled; });
  }
  if (!signaled) {  // still queued: leave
    (w.prev != nullptr ? w.prev->next : head_) = w.next;
    (w.next != nullptr ? w.next->prev : tail_) = w.prev;
  }
  l.unlock();
  if (w.g != nullptr) internal::WaitEnd(w.g);
  lock.lock();
  return signaled ? std::cv_status::no_timeout : std::cv_status::timeout;
}

inline void CondVar::notify_one() {
  std::lock_guard<std::mutex> l(mu_);
  Waiter* w = head_;
  if (w == nullptr) return;
  head_ = w->next;
  (head_ != nullptr ? head_->prev : tail_) = nullptr;
  w->signaled = true;
  if (w->g != nullptr && internal::Enabled()) internal::WakeWaiter(w->g);
  w->cv.notify_one();
}

inline void CondVar::notify_all() {
  std::lock_guard<std::mutex> l(mu_);
  while (Waiter* w = head_) {
    head_ = w->next;
    w->signaled = true;
    if (w->g != nullptr && internal::Enabled()) internal::WakeWaiter(w->g);
    w->cv.notify_one();
  }
  tail_ = nullptr;
}

GENTRACE_INTERNAL_NAMESPACE_END

#endif  // GENTRACE_TRACER_INTERNAL_SYNC_IMPL_H_
