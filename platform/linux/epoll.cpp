// SPDX-License-Identifier: MIT
// epoll backend: the readiness core (platform/readiness.cpp) over EPOLLONESHOT
// interest, with an eventfd to wake the loop from other threads.
#include "platform/readiness.h"
#include "platform/select_backend.h"
#include "platform/socket.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>

namespace openwws::platform {

namespace {

// epoll_event.data.u64 of the wake eventfd; readiness tokens are never 0.
constexpr std::uint64_t wake_tag = 0;

class epoll_poller final : public poller {
 public:
  epoll_poller(int epfd, int wakefd) noexcept : epfd_(epfd), wakefd_(wakefd) {}
  ~epoll_poller() override {
    close_fd(wakefd_);
    close_fd(epfd_);
  }

  int add(int fd, interest what, std::uintptr_t token, void*&) noexcept override {
    return ctl(EPOLL_CTL_ADD, fd, what, token);
  }

  int rearm(int fd, interest what, std::uintptr_t token, void*&) noexcept override {
    return ctl(EPOLL_CTL_MOD, fd, what, token);
  }

  void remove(int fd, interest, void*&) noexcept override { ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

  int wait(int timeout_ms, std::uintptr_t* tokens, int max) noexcept override {
    if (max > max_events) max = max_events;
    int n = ::epoll_wait(epfd_, events_, max, timeout_ms);
    if (n < 0) return 0;  // EINTR: the caller loops
    int out = 0;
    for (int i = 0; i < n; ++i) {
      if (events_[i].data.u64 == wake_tag) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wakefd_, &count, sizeof count);
      } else {
        tokens[out++] = static_cast<std::uintptr_t>(events_[i].data.u64);
      }
    }
    return out;
  }

  int descriptor() const noexcept override { return epfd_; }

  void wake() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }

 private:
  static constexpr int max_events = 128;

  int ctl(int op, int fd, interest what, std::uintptr_t token) noexcept {
    epoll_event ev{};
    ev.events = (what == interest::read ? EPOLLIN : EPOLLOUT) | EPOLLONESHOT;
    ev.data.u64 = token;
    return ::epoll_ctl(epfd_, op, fd, &ev) < 0 ? -errno : 0;
  }

  int epfd_;
  int wakefd_;
  epoll_event events_[max_events];
};

}  // namespace

int make_epoll_backend(std::unique_ptr<backend>& out) noexcept {
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -errno;
  int wakefd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) {
    int err = -errno;
    close_fd(epfd);
    return err;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  if (::epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0) {
    int err = -errno;
    close_fd(wakefd);
    close_fd(epfd);
    return err;
  }
  std::unique_ptr<poller> p(new (std::nothrow) epoll_poller(epfd, wakefd));
  if (!p) {
    close_fd(wakefd);
    close_fd(epfd);
    return -ENOMEM;
  }
  return make_readiness_backend("epoll", std::move(p), out);
}

}  // namespace openwws::platform
