// SPDX-License-Identifier: MIT
// Linux: an epoll instance per thread that watches the listening socket with
// EPOLLEXCLUSIVE (Linux 4.5: a connection wakes one of the instances waiting on the
// socket, not all) and an eventfd for wake().
#include "platform/accept_wait.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace openwws::platform {

class accept_waiter {
 public:
  accept_waiter() noexcept {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ok_ = ep_ >= 0 && wake_fd_ >= 0 && ::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0;
  }
  ~accept_waiter() {
    if (ep_ >= 0) ::close(ep_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  accept_waiter(const accept_waiter&) = delete;
  accept_waiter& operator=(const accept_waiter&) = delete;

  bool ok() const noexcept { return ok_; }

  int wait(int listen_fd) noexcept {
    // Added for this wait only: an instance that keeps watching a socket after its
    // thread stopped waiting would take exclusive wake-ups meant for the threads still
    // waiting. Adding also reports a connection already queued.
    epoll_event ev{};
    ev.events = EPOLLIN | (exclusive_ ? EPOLLEXCLUSIVE : 0u);
    ev.data.fd = listen_fd;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
      if (errno != EINVAL || !exclusive_) return -errno;
      exclusive_ = false;  // a kernel before 4.5: every waiter wakes, each tries accept
      ev.events = EPOLLIN;
      if (::epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) return -errno;
    }
    epoll_event got[2];
    int n;
    do n = ::epoll_wait(ep_, got, 2, -1);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, listen_fd, nullptr);
    if (n < 0) return -err;
    for (int i = 0; i < n; ++i)
      if (got[i].data.fd == wake_fd_) {
        std::uint64_t count;
        while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
        }
        return 0;
      }
    return 1;
  }

  void wake() noexcept {
    std::uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

 private:
  int ep_ = -1;
  int wake_fd_ = -1;
  bool ok_ = false;
  bool exclusive_ = true;
};

accept_waiter* this_thread_accept_waiter() noexcept {
  thread_local accept_waiter waiter;
  return waiter.ok() ? &waiter : nullptr;
}

int wait_for_connection(accept_waiter& w, int listen_fd) noexcept { return w.wait(listen_fd); }

void wake(accept_waiter& w) noexcept { w.wake(); }

}  // namespace openwws::platform
