// SPDX-License-Identifier: MIT
// epoll backend: one-shot readiness on each listening socket, accept4 on the loop
// thread, an eventfd to wake the loop from other threads.
#include "platform/select_backend.h"
#include "platform/socket.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace openwws::platform {

namespace {

// epoll_event.data.u64: 0 is the wake eventfd, a slot pointer as is, an op pointer
// (connect) with the low bit set. Both structs are at least 8-byte aligned.
constexpr std::uint64_t wake_tag = 0;
constexpr std::uint64_t op_bit = 1;

class epoll_backend final : public backend {
 public:
  epoll_backend(int epfd, int wakefd) noexcept : epfd_(epfd), wakefd_(wakefd) {}
  ~epoll_backend() override {
    close_fd(wakefd_);
    close_fd(epfd_);
  }

  std::string_view name() const noexcept override { return "epoll"; }

  void start_accept(listener_slot& slot, io_op& op) noexcept override {
    // Try at once only when nobody is queued, which keeps the FIFO fair (Asio's rule).
    if (!slot.head_) {
      int fd = accept_one(slot.fd);
      if (fd != -EAGAIN) {
        op.complete(op, fd);
        return;
      }
    }
    fifo_push(slot, op);
    arm(slot);
  }

  void start_connect(io_op& op) noexcept override {
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLONESHOT;
    ev.data.u64 = reinterpret_cast<std::uintptr_t>(&op) | op_bit;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, op.fd, &ev) < 0) {
      op.complete(op, -errno);
      return;
    }
    op.queued_ = true;
  }

  void cancel(io_op& op) noexcept override {
    if (!op.queued_) return;  // completed already, or never started
    if (op.kind == op_kind::accept) {
      fifo_remove(*op.slot, op);
    } else {
      ::epoll_ctl(epfd_, EPOLL_CTL_DEL, op.fd, nullptr);
      op.queued_ = false;
      forget_harvested(reinterpret_cast<std::uintptr_t>(&op) | op_bit);
    }
    op.complete(op, -ECANCELED);
  }

  void remove_listener(listener_slot& slot) noexcept override {
    if (slot.registered_) ::epoll_ctl(epfd_, EPOLL_CTL_DEL, slot.fd, nullptr);
    slot.registered_ = false;
    slot.armed_ = false;
    forget_harvested(reinterpret_cast<std::uintptr_t>(&slot));
  }

  void run_once(int timeout_ms) noexcept override {
    int n = ::epoll_wait(epfd_, events_, max_events, timeout_ms);
    if (n < 0) return;  // EINTR: the caller loops
    harvested_ = n;
    for (next_ = 0; next_ < harvested_; ++next_) {
      std::uint64_t tag = events_[next_].data.u64;
      if (tag == wake_tag) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wakefd_, &count, sizeof count);
      } else if (tag == forgotten) {
        continue;
      } else if (tag & op_bit) {
        connect_ready(*reinterpret_cast<io_op*>(tag & ~op_bit));
      } else {
        accept_ready(*reinterpret_cast<listener_slot*>(tag));
      }
    }
    harvested_ = 0;
  }

  int poll_fd() const noexcept override { return epfd_; }

  void wake() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }

 private:
  static constexpr int max_events = 128;
  static constexpr std::uint64_t forgotten = 2;

  void arm(listener_slot& slot) noexcept {
    if (slot.armed_) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = reinterpret_cast<std::uintptr_t>(&slot);
    int rc = ::epoll_ctl(epfd_, slot.registered_ ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, slot.fd, &ev);
    if (rc < 0) {
      // Without readiness nothing would ever wake the queued accepts: fail them now.
      fail_all(slot, -errno);
      return;
    }
    slot.registered_ = true;
    slot.armed_ = true;
  }

  void fail_all(listener_slot& slot, int res) noexcept {
    while (io_op* op = slot.head_) {
      fifo_remove(slot, *op);
      op->complete(*op, res);
    }
  }

  void accept_ready(listener_slot& slot) noexcept {
    slot.armed_ = false;  // one-shot: the event disarmed it
    while (io_op* op = slot.head_) {
      int fd = accept_one(slot.fd);
      if (fd == -EAGAIN) break;
      fifo_remove(slot, *op);
      op->complete(*op, fd);
    }
    if (slot.head_) arm(slot);
  }

  void connect_ready(io_op& op) noexcept {
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, op.fd, nullptr);
    op.queued_ = false;
    op.complete(op, connect_result(op.fd));
  }

  // Events harvested by this run_once but not dispatched yet may name a source that is
  // going away (libuv's uv__platform_invalidate_fd).
  void forget_harvested(std::uint64_t tag) noexcept {
    for (int i = next_ + 1; i < harvested_; ++i)
      if (events_[i].data.u64 == tag) events_[i].data.u64 = forgotten;
  }

  int epfd_;
  int wakefd_;
  epoll_event events_[max_events];
  int harvested_ = 0;
  int next_ = 0;
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
  out.reset(new (std::nothrow) epoll_backend(epfd, wakefd));
  if (!out) {
    close_fd(wakefd);
    close_fd(epfd);
    return -ENOMEM;
  }
  return 0;
}

}  // namespace openwws::platform
