// SPDX-License-Identifier: MIT
// The I/O backend interface: asynchronous accept, connect and cancel over one mechanism.
//
// The contract every backend keeps (tests/test_backend_contract.cpp checks it on each
// compiled backend, without the listener):
//
// - Threads. Every method but wake() is called by the thread that runs the loop, one
//   call at a time; that role may pass from one thread to another between calls
//   (core/runtime.cpp hands it over), never during one. wake() may come from any
//   thread at any time.
// - Exactly once. Every op given to start_accept, start_connect or start_readable
//   completes exactly once, through op.complete, on the loop thread: inline, before the
//   start call returns (a connection already queued, a registration that failed),
//   inline from cancel (the op was waiting in a FIFO or a poller), or from a later
//   run_once, or from remove_listener (io_uring reaps completions of other ops while
//   it waits for its own). Nothing completes from wake() or on another thread.
// - Hands off. From the moment op.complete is called, the op and its fd belong to
//   core again: the backend never touches them afterwards (a synchronous caller may
//   free the op as soon as it sees the result).
// - Results. res >= 0 is the accepted fd (non-blocking, close-on-exec, SO_NOSIGPIPE
//   where it exists), or 0 for a connect or for a readable socket (bytes, EOF or an
//   error wait for the read that follows); res < 0 is -errno. A cancelled op completes
//   with -ECANCELED, or with its real result if the kernel had finished it before the
//   cancel took effect (io_uring); cancel of an op that completed already, or was
//   never started, does nothing.
// - remove_listener is called with no op pending on the slot. Once it returns the
//   backend holds no reference to the slot or its fd (io_uring waits for its multishot
//   accept's last completion; libuv has stopped its poll handle), so the caller may
//   close the fd and free the slot.
// - run_once(timeout_ms) waits at most about timeout_ms (-1: no limit, 0: does not
//   block) and returns early after a wake(); a wake() made before run_once began makes
//   it return without waiting. Several wake() calls may be merged into one. It may
//   also return early for no reason (EINTR): callers loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace openwws::platform {

struct io_op;

// Called on the loop thread when an op completes: res >= 0 is an fd (accept) or 0
// (connect, readable), res < 0 is -errno. Every started op completes exactly once; a cancelled
// op completes with -ECANCELED unless the kernel had already finished it.
using completion_fn = void (*)(io_op&, int res) noexcept;

enum class op_kind : std::uint8_t { accept, connect, readable };

// One listening socket as a backend sees it. Owned by core (embedded in the listener);
// its backend_* fields belong to the loop thread.
struct listener_slot {
  int fd = -1;
  std::uint64_t id = 0;  // unique per opened socket, from 1: descriptor numbers are reused
  int backlog = 0;  // as given to listen(): a backend queues at most about this many
  // Connections a backend accepted ahead of any request, waiting for the next
  // start_accept. While non-zero, core sends accepts to the loop instead of trying
  // accept4 itself, so that queued connections are served first. Loop thread writes.
  std::atomic<std::uint32_t> ready{0};
  // A backend request that accepts whether or not an accept waits (io_uring's
  // multishot) is in the kernel: connections may go to `ready`, not to a thread that
  // waits on the socket itself. Loop thread writes.
  std::atomic<bool> accepts_ahead{false};
  io_op* head_ = nullptr;  // accepts waiting for a connection, FIFO
  io_op* tail_ = nullptr;
  void* backend_data_ = nullptr;
  bool registered_ = false;
  bool armed_ = false;
};

// One pending accept, connect or wait for bytes. Owned by core (embedded in the channel
// or the handshake it serves), never allocated per operation. Fields below the line are the backend's.
struct io_op {
  op_kind kind = op_kind::accept;
  int fd = -1;  // the connecting or read socket; unused for accept
  listener_slot* slot = nullptr;  // accept only
  completion_fn complete = nullptr;
  std::atomic<bool> cancel_requested{false};
  // Accept: whether to try accept() before waiting. Core clears it when it has just
  // found nothing queued, or judges so; waiting without trying is never wrong.
  bool try_first = true;
  // ---- backend-private ----
  io_op* prev_ = nullptr;
  io_op* next_ = nullptr;
  void* backend_data_ = nullptr;  // a readiness poller's word for a connecting socket
  bool queued_ = false;   // waiting in a slot FIFO or in the kernel
  bool in_fifo_ = false;  // waiting in a slot FIFO (not in the kernel)
};

// The FIFO of accepts waiting on a slot, for backends that keep one (loop thread).
inline void fifo_push(listener_slot& slot, io_op& op) noexcept {
  op.next_ = nullptr;
  op.prev_ = slot.tail_;
  if (slot.tail_)
    slot.tail_->next_ = &op;
  else
    slot.head_ = &op;
  slot.tail_ = &op;
  op.queued_ = true;
  op.in_fifo_ = true;
}

inline void fifo_remove(listener_slot& slot, io_op& op) noexcept {
  if (op.prev_)
    op.prev_->next_ = op.next_;
  else
    slot.head_ = op.next_;
  if (op.next_)
    op.next_->prev_ = op.prev_;
  else
    slot.tail_ = op.prev_;
  op.prev_ = op.next_ = nullptr;
  op.queued_ = false;
  op.in_fifo_ = false;
}

// A mechanism (epoll, io_uring, kqueue, libuv). Every method but wake() runs on the
// loop thread only; none of them blocks except run_once.
class backend {
 public:
  virtual ~backend() = default;
  virtual std::string_view name() const noexcept = 0;
  // Starts an accept on slot.fd; completes through op.complete.
  virtual void start_accept(listener_slot& slot, io_op& op) noexcept = 0;
  // op.fd is a non-blocking socket whose connect() returned EINPROGRESS.
  virtual void start_connect(io_op& op) noexcept = 0;
  // Completes with 0 once op.fd (a connected non-blocking socket) has something to read:
  // bytes, the peer's FIN or an error, which the caller's next recv tells apart.
  virtual void start_readable(io_op& op) noexcept = 0;
  // Cancels a started op; a no-op if it already completed. Cannot fail.
  virtual void cancel(io_op& op) noexcept = 0;
  // Forgets slot.fd; no op may be pending on it. The caller closes the fd afterwards.
  virtual void remove_listener(listener_slot& slot) noexcept = 0;
  // Waits up to timeout_ms (-1: forever) for events or wake(), dispatches completions.
  virtual void run_once(int timeout_ms) noexcept = 0;
  // Makes a run_once in progress (or the next one) return. Any thread.
  virtual void wake() noexcept = 0;
  // For a loop an application drives: a descriptor that becomes readable when
  // run_once(0) has something to do (-1: none; a backend on a libuv host instead
  // calls back from that host's loop).
  virtual int poll_fd() const noexcept { return -1; }
  // For a loop an application drives through poll_fd(), when the loop is made and last
  // in each of its runs: hands the kernel what is only queued in user space (io_uring:
  // unsubmitted SQEs, the wake-up's read among them; libuv: watchers it registers when
  // it next polls), so that poll_fd() becomes readable when any of it completes.
  // Without it, a host that waits without a timeout sleeps for good.
  virtual void flush() noexcept {}
  // A backend on a libuv host: call the activity hook again after timeout_ms (-1:
  // not at all), for the loop's timers. Others ignore it.
  virtual void schedule_activity(int /*timeout_ms*/) noexcept {}

  // Whether the last run_once's wait slept (longer than a wake-up takes): nothing was
  // ready, and a caller may guess that nothing will be at once either. A hint, read
  // from any thread.
  bool last_wait_slept() const noexcept { return last_wait_slept_.load(std::memory_order_relaxed); }

 protected:
  using wait_clock = std::chrono::steady_clock;
  // Called by run_once right after its wait, before it dispatches what it found.
  void waited(wait_clock::time_point since, int timeout_ms) noexcept {
    bool slept = timeout_ms != 0 && wait_clock::now() - since > std::chrono::microseconds(10);
    last_wait_slept_.store(slept, std::memory_order_relaxed);
  }

 private:
  std::atomic<bool> last_wait_slept_{false};  // written by the loop thread
};

}  // namespace openwws::platform
