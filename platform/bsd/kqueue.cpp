// SPDX-License-Identifier: MIT
// kqueue backend (macOS, FreeBSD): the readiness core (platform/readiness.cpp) over
// EVFILT_READ / EVFILT_WRITE with EV_DISPATCH, and EVFILT_USER to wake the loop.
//
// EV_DISPATCH delivers one event and then disables the filter until EV_ENABLE, which is
// what EPOLLONESHOT does on Linux; the knote stays, so re-arming is one kevent() call.
// Accepted sockets need no care here: platform::accept_one does accept + fcntl where
// accept4 is missing (macOS), retries ECONNABORTED, and sets SO_NOSIGPIPE.
#include "platform/readiness.h"
#include "platform/select_backend.h"
#include "platform/socket.h"

#include <fcntl.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>

namespace openwws::platform {

namespace {

// The EVFILT_USER event's ident; sockets use their fd as ident under other filters.
constexpr uintptr_t wake_ident = 0;

short filter_of(interest what) noexcept { return what == interest::read ? EVFILT_READ : EVFILT_WRITE; }

class kqueue_poller final : public poller {
 public:
  explicit kqueue_poller(int kq) noexcept : kq_(kq) {}
  ~kqueue_poller() override { close_fd(kq_); }
  int descriptor() const noexcept override { return kq_; }

  int add(int fd, interest what, std::uintptr_t token, void*&) noexcept override {
    return change(fd, filter_of(what), EV_ADD | EV_ENABLE | EV_DISPATCH, token);
  }

  int rearm(int fd, interest what, std::uintptr_t token, void*&) noexcept override {
    // EV_ADD on an existing knote updates it (udata included) and EV_ENABLE re-arms it.
    return change(fd, filter_of(what), EV_ADD | EV_ENABLE | EV_DISPATCH, token);
  }

  void remove(int fd, interest what, void*&) noexcept override {
    // ENOENT (the fd was already closed, which drops its knotes) is fine.
    change(fd, filter_of(what), EV_DELETE, 0);
  }

  int wait(int timeout_ms, std::uintptr_t* tokens, int max) noexcept override {
    if (max > max_events) max = max_events;
    timespec ts{};
    if (timeout_ms > 0) {
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
    }
    int n = ::kevent(kq_, nullptr, 0, events_, max, timeout_ms < 0 ? nullptr : &ts);
    if (n < 0) return 0;  // EINTR: the caller loops
    int out = 0;
    for (int i = 0; i < n; ++i) {
      const struct kevent& ev = events_[i];
      if (ev.filter == EVFILT_USER) continue;  // a wake-up; EV_CLEAR reset it
      // EV_ERROR here would be a failed change, but changes are applied one by one
      // in change(), so every event is readiness (EV_EOF included: a reset peer or a
      // failed connect, which accept() and SO_ERROR then report).
      tokens[out++] = reinterpret_cast<std::uintptr_t>(ev.udata);
    }
    return out;
  }

  void wake() noexcept override {
    struct kevent ev;
    EV_SET(&ev, wake_ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    ::kevent(kq_, &ev, 1, nullptr, 0, nullptr);
  }

  int init() noexcept {
    struct kevent ev;
    // EV_CLEAR: the trigger resets once delivered, so one wait sees one wake-up.
    EV_SET(&ev, wake_ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    return ::kevent(kq_, &ev, 1, nullptr, 0, nullptr) < 0 ? -errno : 0;
  }

 private:
  static constexpr int max_events = 128;

  int change(int fd, short filter, unsigned short flags, std::uintptr_t token) noexcept {
    struct kevent ev;
    EV_SET(&ev, static_cast<uintptr_t>(fd), filter, flags, 0, 0, reinterpret_cast<void*>(token));
    for (;;) {
      if (::kevent(kq_, &ev, 1, nullptr, 0, nullptr) == 0) return 0;
      if (errno != EINTR) return -errno;
    }
  }

  int kq_;
  struct kevent events_[max_events];
};

int make_kqueue_fd() noexcept {
  int kq = ::kqueue();
  if (kq < 0) return -errno;
  // kqueue descriptors are not inherited by fork() children, but exec keeps other fds:
  // close-on-exec like every descriptor the library opens.
  int flags = ::fcntl(kq, F_GETFD);
  if (flags >= 0) ::fcntl(kq, F_SETFD, flags | FD_CLOEXEC);
  return kq;
}

}  // namespace

int make_kqueue_backend(std::unique_ptr<backend>& out) noexcept {
  int kq = make_kqueue_fd();
  if (kq < 0) return kq;
  std::unique_ptr<kqueue_poller> p(new (std::nothrow) kqueue_poller(kq));
  if (!p) {
    close_fd(kq);
    return -ENOMEM;
  }
  if (int rc = p->init(); rc < 0) return rc;
  return make_readiness_backend("kqueue", std::move(p), out);
}

}  // namespace openwws::platform
