// SPDX-License-Identifier: MIT
// The readiness core shared by epoll, kqueue and libuv: what to do when a listening
// socket is readable, a connecting socket writable or a connected one readable,
// independent of how that is learnt.
//
// Accepts wait in a FIFO per listening socket; the socket is armed (one-shot) while the
// FIFO is non-empty. On readiness, accept until EAGAIN or the FIFO is empty, then re-arm
// if anyone still waits. A start_accept with nobody queued first tries accept() at once
// (Asio's speculative accept), which keeps the FIFO fair and saves a trip through the
// poller under load. Completing an op may let its owner free it at once (a synchronous
// waiter wakes up), so an op is never touched after op.complete.
#include "platform/readiness.h"

#include "platform/socket.h"

#include <cerrno>
#include <new>

namespace openwws::platform {

namespace {

// Tokens: a slot pointer as is, an op pointer (connect) with the low bit set (both
// structs are at least 8-byte aligned). 0 is never a token: it marks a dropped event.
constexpr std::uintptr_t op_bit = 1;
constexpr std::uintptr_t forgotten = 0;

std::uintptr_t token_of(listener_slot& slot) noexcept { return reinterpret_cast<std::uintptr_t>(&slot); }
std::uintptr_t token_of(io_op& op) noexcept { return reinterpret_cast<std::uintptr_t>(&op) | op_bit; }

class readiness_backend final : public backend {
 public:
  readiness_backend(std::string_view name, std::unique_ptr<poller> p) noexcept : name_(name), poller_(std::move(p)) {}

  std::string_view name() const noexcept override { return name_; }

  void start_accept(listener_slot& slot, io_op& op) noexcept override {
    // Try at once only when nobody is queued, which keeps the FIFO fair (Asio's rule).
    // Arming looks at the socket again, so a connection queued meanwhile is not missed.
    if (!slot.head_ && op.try_first) {
      int fd = accept_one(slot.fd);
      if (fd != -EAGAIN) {
        op.complete(op, fd);
        return;
      }
    }
    fifo_push(slot, op);
    arm(slot);
  }

  void start_connect(io_op& op) noexcept override { watch(op); }
  void start_readable(io_op& op) noexcept override { watch(op); }

  void cancel(io_op& op) noexcept override {
    if (!op.queued_) return;  // completed already, or never started
    if (op.kind == op_kind::accept) {
      // The slot stays armed even if its FIFO is now empty: one spurious wake-up at
      // most, where disarming would cost a syscall on every cancel.
      fifo_remove(*op.slot, op);
    } else {
      poller_->remove(op.fd, interest_of(op), op.backend_data_);
      op.queued_ = false;
      forget_harvested(token_of(op));
    }
    op.complete(op, -ECANCELED);
  }

  void remove_listener(listener_slot& slot) noexcept override {
    if (slot.registered_) poller_->remove(slot.fd, interest::read, slot.backend_data_);
    slot.registered_ = false;
    slot.armed_ = false;
    forget_harvested(token_of(slot));
  }

  void run_once(int timeout_ms) noexcept override {
    auto since = wait_clock::now();
    harvested_ = poller_->wait(timeout_ms, tokens_, max_events);
    waited(since, timeout_ms);
    for (next_ = 0; next_ < harvested_; ++next_) {
      std::uintptr_t token = tokens_[next_];
      if (token == forgotten) continue;
      if (token & op_bit)
        op_ready(*reinterpret_cast<io_op*>(token & ~op_bit));
      else
        accept_ready(*reinterpret_cast<listener_slot*>(token));
    }
    harvested_ = next_ = 0;
  }

  void wake() noexcept override { poller_->wake(); }
  int poll_fd() const noexcept override { return poller_->descriptor(); }
  void flush() noexcept override { poller_->flush(); }
  void schedule_activity(int timeout_ms) noexcept override { poller_->schedule_activity(timeout_ms); }

 private:
  static constexpr int max_events = 128;

  void arm(listener_slot& slot) noexcept {
    if (slot.armed_) return;
    int rc = slot.registered_ ? poller_->rearm(slot.fd, interest::read, token_of(slot), slot.backend_data_)
                              : poller_->add(slot.fd, interest::read, token_of(slot), slot.backend_data_);
    if (rc < 0) {
      // Without readiness nothing would ever wake the queued accepts: fail them now.
      fail_all(slot, rc);
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

  static interest interest_of(const io_op& op) noexcept {
    return op.kind == op_kind::connect ? interest::write : interest::read;
  }

  // A connect's or a read's socket, watched once until it is ready.
  void watch(io_op& op) noexcept {
    op.backend_data_ = nullptr;
    if (int rc = poller_->add(op.fd, interest_of(op), token_of(op), op.backend_data_); rc < 0) {
      op.complete(op, rc);
      return;
    }
    op.queued_ = true;
  }

  void op_ready(io_op& op) noexcept {
    poller_->remove(op.fd, interest_of(op), op.backend_data_);
    op.queued_ = false;
    op.complete(op, op.kind == op_kind::connect ? connect_result(op.fd) : 0);
  }

  // Events harvested by this run_once but not dispatched yet may name a source that is
  // going away (libuv's uv__platform_invalidate_fd does the same).
  void forget_harvested(std::uintptr_t token) noexcept {
    for (int i = next_ + 1; i < harvested_; ++i)
      if (tokens_[i] == token) tokens_[i] = forgotten;
  }

  std::string_view name_;
  std::unique_ptr<poller> poller_;
  std::uintptr_t tokens_[max_events];
  int harvested_ = 0;
  int next_ = 0;
};

}  // namespace

int make_readiness_backend(std::string_view name, std::unique_ptr<poller> p, std::unique_ptr<backend>& out) noexcept {
  out.reset(new (std::nothrow) readiness_backend(name, std::move(p)));
  return out ? 0 : -ENOMEM;
}

}  // namespace openwws::platform
