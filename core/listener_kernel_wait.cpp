// SPDX-License-Identifier: MIT
// Synchronous accepts that wait on their own thread: the kernel wakes the caller when a
// connection arrives, with no hop through the loop's thread (platform/accept_wait.h).
//
// One place waits for a listener's connections at a time: either its callers here, or
// the loop. An accept handed to the loop (an async one, or a synchronous one that
// cannot wait here) sends the waiters here to the loop too, and none comes back while
// the loop holds accepts, handshakes or connections of its own.
#include "core/objects.h"

#include "core/error.h"
#include "platform/error_map.h"
#include "platform/socket.h"

#include <cerrno>

namespace openwws::core {

bool listener::may_wait_in_kernel_locked() const noexcept {
  // A loop that accepts ahead (io_uring multishot) would take connections these
  // waiters never see; a handshake needs an accept in the loop to become ready for.
  return pending_.empty() && handshake_count_ == 0 && ready_count_ == 0 &&
         slot_.ready.load(std::memory_order_relaxed) == 0 && !slot_.accepts_ahead.load(std::memory_order_relaxed);
}

bool listener::accept_aborted_locked(const channel& ch) const noexcept {
  return state_ != WS_LISTENER_STATE_OPEN || ch.op_.cancel_requested.load(std::memory_order_relaxed);
}

void listener::wake_kernel_waiters_locked(bool leave, kernel_wakes* later) noexcept {
  for (kernel_waiter* k = kernel_waiters_.front(); k; k = kernel_waiters_.next(*k)) {
    if (leave) k->leave = true;
    if (later && later->count < later->pinned.size()) {
      platform::pin(*k->waiter);
      later->pinned[later->count++] = k->waiter;
    } else {
      platform::wake(*k->waiter);
    }
  }
}

void kernel_wakes::wake_all() noexcept {
  for (std::size_t i = 0; i < count; ++i) platform::wake_and_unpin(*pinned[i]);
  count = 0;
}

HRESULT listener::finish_off_loop(channel& ch, int fd, bool aborted, WS_ERROR* error) noexcept {
  if (fd >= 0 && aborted) {
    platform::close_fd(fd);
    fd = -ECANCELED;
  }
  HRESULT hr = S_OK;
  if (fd == -ECANCELED)
    hr = fail(error, WS_E_OPERATION_ABORTED, "WsAcceptChannel: the listener was aborted or closed");
  else if (fd < 0)
    hr = fail_errno(error, platform::hresult_from_errno(-fd), "WsAcceptChannel: accept failed", -fd);
  ch.end_early(fd);
  accept_finished();
  return hr;
}

bool listener::wait_in_kernel(channel& ch, platform::accept_waiter& w, std::unique_lock<std::mutex>& lock,
                              WS_ERROR* error, HRESULT& hr) noexcept {
  kernel_waiter me;
  me.waiter = &w;
  kernel_waiters_.push_back(me);
  ch.in_kernel_ = &me;
  // Leaving: the kernel may have woken this thread alone for a connection it does not
  // take (or, on older kernels, for the next one too); then another waiter looks again.
  auto unlink = [&](bool took) {
    kernel_waiters_.remove(me);
    ch.in_kernel_ = nullptr;
    if (took && platform::next_wake_passes_woken_waiter()) return;
    if (kernel_waiter* other = kernel_waiters_.front(); other && platform::connection_queued(slot_.fd))
      platform::wake(*other->waiter);
  };
  for (;;) {
    if (accept_aborted_locked(ch)) {
      unlink(false);
      lock.unlock();
      hr = finish_off_loop(ch, -ECANCELED, true, error);
      return true;
    }
    if (me.leave || !may_wait_in_kernel_locked()) {
      unlink(false);
      return false;
    }
    lock.unlock();
    int woke = platform::wait_for_connection(w, slot_.fd, slot_.id);  // the socket outlives accepts in flight
    int fd = -EAGAIN;
    if (woke > 0) {
      fd = platform::accept_one(slot_.fd);
      if (fd >= 0) fd = take_connection(ch, fd, false) ? ch.result_fd_ : -EAGAIN;
    }
    lock.lock();
    if (woke < 0) me.leave = true;  // no wait here (descriptors ran out?): the loop's
    if (fd == -EAGAIN) continue;
    unlink(fd >= 0);
    bool aborted = accept_aborted_locked(ch);
    lock.unlock();
    hr = finish_off_loop(ch, fd, aborted, error);
    return true;
  }
}

}  // namespace openwws::core
