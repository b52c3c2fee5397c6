// SPDX-License-Identifier: MIT
// Linux: an epoll instance per thread that watches the listening socket with
// EPOLLEXCLUSIVE (Linux 4.5: a connection wakes one of the instances waiting on the
// socket, not all) and an eventfd for wake().
//
// The socket stays registered between waits, so that a thread accepting in a loop
// makes no epoll_ctl per connection. That takes nothing from the threads still
// waiting: the kernel passes an exclusive wake-up over an instance nobody waits on
// (ep_poll_callback returns 0 then). Registrations are keyed by the socket's id, not
// its descriptor number, which the next socket may reuse; a thread that moves to
// another socket starts a new instance rather than touch a number that may be closed.
#include "platform/accept_wait.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

namespace openwws::platform {

namespace {
constexpr std::uint64_t wake_tag = 0;  // socket ids start at 1
// Longer than an epoll_wait that finds its event ready takes, shorter than a client's
// connect: a wait that took longer slept.
constexpr auto blocked_after = std::chrono::microseconds(10);
thread_local bool last_wait_blocked = false;  // apart from the waiter, which it must not make
}  // namespace

class accept_waiter {
 public:
  accept_waiter() noexcept {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ok_ = wake_fd_ >= 0 && make_instance();
  }
  ~accept_waiter() {
    while (pins_.load(std::memory_order_acquire) > 0) std::this_thread::yield();  // a wake in flight
    if (ep_ >= 0) ::close(ep_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  accept_waiter(const accept_waiter&) = delete;
  accept_waiter& operator=(const accept_waiter&) = delete;

  bool ok() const noexcept { return ok_; }

  int wait(int listen_fd, std::uint64_t socket_id) noexcept {
    if (socket_id != watched_id_) {
      // Another socket: the old one's descriptor may be closed and its number reused
      // by anyone, so no epoll_ctl on it; a new instance drops its registration.
      int rc = watched_id_ == wake_tag ? watch(listen_fd, socket_id) : renew(listen_fd, socket_id);
      if (rc < 0) return rc;
    }
    for (;;) {
      epoll_event got[4];
      int n;
      auto start = std::chrono::steady_clock::now();
      do n = ::epoll_wait(ep_, got, 4, -1);
      while (n < 0 && errno == EINTR);
      if (n < 0) return -errno;
      last_wait_blocked = std::chrono::steady_clock::now() - start > blocked_after;
      bool woken = false, ready = false, stale = false;
      for (int i = 0; i < n; ++i) {
        woken |= got[i].data.u64 == wake_tag;
        ready |= got[i].data.u64 == socket_id;
        stale |= got[i].data.u64 != wake_tag && got[i].data.u64 != socket_id;
      }
      if (woken) {
        std::uint64_t count;
        while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
        }
        return 0;
      }
      if (ready) return 1;
      if (stale)
        if (int rc = renew(listen_fd, socket_id); rc < 0) return rc;
    }
  }

  void wake() noexcept {
    std::uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  void pin() noexcept { pins_.fetch_add(1, std::memory_order_relaxed); }
  void unpin() noexcept { pins_.fetch_sub(1, std::memory_order_release); }

 private:
  bool make_instance() noexcept {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = wake_tag;
    return ep_ >= 0 && ::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0;
  }

  int watch(int listen_fd, std::uint64_t socket_id) noexcept {
    epoll_event ev{};
    ev.events = EPOLLIN | (exclusive_ ? EPOLLEXCLUSIVE : 0u);
    ev.data.u64 = socket_id;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
      if (errno != EINVAL || !exclusive_) return -errno;
      exclusive_ = false;  // a kernel before 4.5: every waiter wakes, each tries accept
      ev.events = EPOLLIN;
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) return -errno;
    }
    watched_id_ = socket_id;
    return 0;
  }

  // A new instance in place of this one, watching listen_fd: it drops the old socket's
  // registration, also one that outlived its descriptor (another process still holds
  // the socket, and its number now names ours), which no epoll_ctl can reach. The
  // eventfd keeps any wake() that came meanwhile.
  int renew(int listen_fd, std::uint64_t socket_id) noexcept {
    ::close(ep_);
    watched_id_ = wake_tag;
    if (!make_instance()) {
      ok_ = false;  // descriptors ran out: the thread's later accepts wait through the loop
      return -EMFILE;
    }
    return watch(listen_fd, socket_id);
  }

  int ep_ = -1;
  int wake_fd_ = -1;
  std::uint64_t watched_id_ = wake_tag;
  bool ok_ = false;
  bool exclusive_ = true;
  std::atomic<int> pins_{0};
};

accept_waiter* this_thread_accept_waiter() noexcept {
  thread_local accept_waiter waiter;
  return waiter.ok() ? &waiter : nullptr;
}

int wait_for_connection(accept_waiter& w, int listen_fd, std::uint64_t socket_id) noexcept {
  return w.wait(listen_fd, socket_id);
}

bool this_thread_last_wait_blocked() noexcept { return last_wait_blocked; }

bool next_wake_passes_woken_waiter() noexcept {
  // ep_autoremove_wake_function (6.2): before it, a woken waiter stayed on its
  // instance's queue until its thread ran, and took the next exclusive wake-up too.
  static const bool passes = [] {
    utsname u{};
    int major = 0, minor = 0;
    return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
           (major > 6 || (major == 6 && minor >= 2));
  }();
  return passes;
}

void wake(accept_waiter& w) noexcept { w.wake(); }

void pin(accept_waiter& w) noexcept { w.pin(); }

void wake_and_unpin(accept_waiter& w) noexcept {
  w.wake();
  w.unpin();
}

}  // namespace openwws::platform
