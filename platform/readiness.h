// SPDX-License-Identifier: MIT
// The readiness core: accept and connect over any mechanism that reports "this
// descriptor is ready" (epoll, kqueue, libuv's uv_poll), written once. A mechanism
// supplies a poller; make_readiness_backend wraps it into a backend.
#pragma once

#include "platform/backend.h"

#include <cstdint>
#include <memory>
#include <string_view>

namespace openwws::platform {

// What a source waits for: read (a listening socket has a connection to accept) or
// write (a connecting socket finished connecting, or failed to).
enum class interest : std::uint8_t { read, write };

// One readiness mechanism. Interest is one-shot: once wait() has reported a source,
// the source stays quiet until rearm(). Every method runs on the loop thread except
// wake(). `data` is a word the poller may keep per source (libuv: its uv_poll_t); it
// lives in the caller's record of that source, starts as nullptr, and is handed back
// on every later call for the same source.
class poller {
 public:
  virtual ~poller() = default;
  // Starts watching fd (not watched yet) for what, armed: 0 or -errno.
  virtual int add(int fd, interest what, std::uintptr_t token, void*& data) noexcept = 0;
  // Arms fd again (added before, and reported or armed since): 0 or -errno.
  virtual int rearm(int fd, interest what, std::uintptr_t token, void*& data) noexcept = 0;
  // Stops watching fd: once it returns, the mechanism no longer refers to fd, so the
  // caller may close it. Events for fd that a wait already gathered are the caller's
  // to drop. Cannot fail.
  virtual void remove(int fd, interest what, void*& data) noexcept = 0;
  // Waits up to timeout_ms (-1: no limit, 0: just looks) for ready sources or wake(),
  // and stores the tokens of at most max ready sources: their count (0 on a wake-up,
  // a timeout or EINTR).
  virtual int wait(int timeout_ms, std::uintptr_t* tokens, int max) noexcept = 0;
  // Makes a wait in progress, or the next one, return. Any thread.
  virtual void wake() noexcept = 0;
  // See backend::poll_fd, backend::flush and backend::schedule_activity.
  virtual int descriptor() const noexcept { return -1; }
  virtual void flush() noexcept {}
  virtual void schedule_activity(int /*timeout_ms*/) noexcept {}
};

// A backend called `name` (a static string) doing its accepts and connects through p:
// the FIFO of waiting accepts per listening socket, an accept tried at once when
// nobody waits, accept until EAGAIN on readiness, connect results from SO_ERROR, and
// events dropped for sources that went away in the middle of a batch.
// 0, or -ENOMEM (p is destroyed then).
int make_readiness_backend(std::string_view name, std::unique_ptr<poller> p, std::unique_ptr<backend>& out) noexcept;

}  // namespace openwws::platform
