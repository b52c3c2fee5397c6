// SPDX-License-Identifier: MIT
// io_uring backend: a single-shot accept for a lone waiting accept, one multishot accept
// per listening socket while more wait (single-shot only where the kernel lacks
// multishot), IORING_OP_ASYNC_CANCEL for cancellation, an eventfd read to wake the ring
// from other threads.
//
// Facts coded to (liburing test/accept.c, io_uring_cancelation(7)): a cancelled accept
// completes with -ECANCELED, or -EINTR if it had started; its CQE and the cancel's come
// in either order; an accept may still deliver a socket after the cancel was issued; a
// request's memory may go only once its own last CQE (no IORING_CQE_F_MORE) arrived.
#include "platform/select_backend.h"
#include "platform/socket.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace openwws::platform {

namespace {

// user_data: a pointer with a tag in its low three bits (every target is 8-aligned).
enum tag : std::uint64_t {
  tag_wake = 0,     // the eventfd read
  tag_accept = 1,   // single-shot accept, an io_op
  tag_poll = 2,     // POLLOUT on a connecting socket or POLLIN on a read one, an io_op
  tag_source = 3,   // multishot accept, an accept_source
  tag_ignore = 4,   // cancel requests: their own CQEs carry nothing we need
};
constexpr std::uint64_t tag_mask = 7;

std::uint64_t tagged(const void* p, tag t) noexcept { return reinterpret_cast<std::uintptr_t>(p) | t; }

// The multishot accept of one listening socket. Owned by the backend, not the slot:
// the kernel may post CQEs for it after the listener let go of its slot.
struct accept_source {
  listener_slot* slot;  // nullptr once remove_listener detached it
  int fd;
  bool armed = false;        // a multishot request is in the kernel
  bool cancel_sent = false;  // and we asked it to stop
  bool finished = false;     // detached, and its last CQE has arrived
  std::uint32_t singles = 0;  // single-shot accepts of this socket in the kernel
  std::vector<int> ready;    // connections accepted with no accept waiting
};

class io_uring_backend final : public backend {
 public:
  io_uring_backend() = default;
  ~io_uring_backend() override {
    if (ring_ok_) io_uring_queue_exit(&ring_);
    close_fd(wakefd_);
  }

  int init(unsigned entries, bool multishot) noexcept {
    multishot_ = multishot;
    // COOP_TASKRUN (5.19): completions are processed when we enter the ring, not by
    // interrupting the loop thread. Older kernels reject the flag: retry without.
    int rc = io_uring_queue_init(entries, &ring_, IORING_SETUP_COOP_TASKRUN);
    if (rc == -EINVAL) rc = io_uring_queue_init(entries, &ring_, 0);
    if (rc < 0) return rc;
    ring_ok_ = true;
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    if (!probe) return -ENOSYS;
    bool ok = io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
              io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL) &&
              io_uring_opcode_supported(probe, IORING_OP_READ) && io_uring_opcode_supported(probe, IORING_OP_POLL_ADD);
    io_uring_free_probe(probe);
    if (!ok) return -ENOSYS;
    wakefd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wakefd_ < 0) return -errno;
    arm_wake();
    return 0;
  }

  std::string_view name() const noexcept override { return "io_uring"; }

  void start_accept(listener_slot& slot, io_op& op) noexcept override {
    accept_source* src = source_of(slot);
    if (!src) {
      op.complete(op, -ENOMEM);
      return;
    }
    if (!src->ready.empty()) {
      int fd = src->ready.front();
      src->ready.erase(src->ready.begin());
      slot.ready.store(static_cast<std::uint32_t>(src->ready.size()), std::memory_order_relaxed);
      op.complete(op, fd);
      return;
    }
    // A lone accept costs one SQE and one CQE single-shot; a multishot would cost a
    // cancel too once it is served. From the second waiting accept on, one multishot
    // request serves them all.
    if (!multishot_ || (!src->armed && src->singles == 0)) {
      ++src->singles;
      submit_accept(op);
      return;
    }
    fifo_push(slot, op);
    if (!src->armed) arm(*src);
  }

  void start_connect(io_op& op) noexcept override { submit_poll(op, POLLOUT); }
  void start_readable(io_op& op) noexcept override { submit_poll(op, POLLIN); }

  void cancel(io_op& op) noexcept override {
    if (!op.queued_) return;
    if (op.kind == op_kind::accept && op.in_fifo_) {
      // Waiting in our FIFO, not in the kernel: it ends here.
      fifo_remove(*op.slot, op);
      op.complete(op, -ECANCELED);
      return;
    }
    // In the kernel: its own CQE will report -ECANCELED, -EINTR or (if it won the
    // race) a result; only then does it complete.
    submit_cancel(tagged(&op, op.kind == op_kind::accept ? tag_accept : tag_poll));
  }

  void remove_listener(listener_slot& slot) noexcept override {
    auto* src = static_cast<accept_source*>(slot.backend_data_);
    if (!src) return;
    slot.backend_data_ = nullptr;
    src->slot = nullptr;
    for (int fd : src->ready) close_fd(fd);
    src->ready.clear();
    slot.ready.store(0, std::memory_order_relaxed);
    if (src->armed) {
      if (!src->cancel_sent) submit_cancel(tagged(src, tag_source));
      src->cancel_sent = true;
      // The request holds the socket open inside the kernel: wait for its last CQE so
      // that the caller's close() really stops listening.
      while (!src->finished) {
        io_uring_submit_and_wait(&ring_, 1);
        reap();
      }
    }
    delete src;
  }

  void run_once(int timeout_ms) noexcept override {
    auto since = wait_clock::now();
    if (timeout_ms < 0) {
      io_uring_submit_and_wait(&ring_, 1);
    } else if (timeout_ms == 0) {
      io_uring_submit(&ring_);
    } else {
      __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000LL};
      io_uring_cqe* cqe = nullptr;
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    waited(since, timeout_ms);
    reap();
  }

  // Readable when completions wait in the ring; run_once(0) submits and reaps them.
  int poll_fd() const noexcept override { return ring_.ring_fd; }
  void flush() noexcept override { io_uring_submit(&ring_); }

  void wake() noexcept override {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
  }

 private:
  // A full submission queue is flushed, never dropped from.
  io_uring_sqe* get_sqe() noexcept {
    io_uring_sqe* sqe;
    while (!(sqe = io_uring_get_sqe(&ring_))) io_uring_submit(&ring_);
    return sqe;
  }

  void arm_wake() noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, wakefd_, &wake_count_, sizeof wake_count_, 0);
    io_uring_sqe_set_data64(sqe, tag_wake);
  }

  void submit_accept(io_op& op) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_accept(sqe, op.slot->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tagged(&op, tag_accept));
    op.queued_ = true;
  }

  void submit_poll(io_op& op, unsigned events) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, op.fd, events);
    io_uring_sqe_set_data64(sqe, tagged(&op, tag_poll));
    op.queued_ = true;
  }

  void submit_cancel(std::uint64_t user_data) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, user_data, 0);
    io_uring_sqe_set_data64(sqe, tag_ignore);
  }

  accept_source* source_of(listener_slot& slot) noexcept {
    if (!slot.backend_data_) {
      auto* src = new (std::nothrow) accept_source{&slot, slot.fd, false, false, false, 0, {}};
      if (!src) return nullptr;
      try {
        src->ready.reserve(slot.backlog > 0 && slot.backlog < 4096 ? static_cast<std::size_t>(slot.backlog) : 4096);
      } catch (const std::bad_alloc&) {
      }
      slot.backend_data_ = src;
    }
    return static_cast<accept_source*>(slot.backend_data_);
  }

  void arm(accept_source& src) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, src.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, tagged(&src, tag_source));
    src.armed = true;
    if (src.slot) src.slot->accepts_ahead.store(true, std::memory_order_relaxed);
    src.cancel_sent = false;
  }

  void reap() noexcept {
    io_uring_cqe* cqe;
    // One CQE at a time: a handler may submit, and remove_listener may reap inside.
    while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
      std::uint64_t data = io_uring_cqe_get_data64(cqe);
      int res = cqe->res;
      unsigned flags = cqe->flags;
      io_uring_cqe_seen(&ring_, cqe);
      dispatch(data, res, flags);
    }
  }

  void dispatch(std::uint64_t data, int res, unsigned flags) noexcept {
    void* ptr = reinterpret_cast<void*>(data & ~tag_mask);
    switch (static_cast<tag>(data & tag_mask)) {
      case tag_wake:
        arm_wake();
        break;
      case tag_accept:
        accept_done(*static_cast<io_op*>(ptr), res);
        break;
      case tag_poll: {
        auto& op = *static_cast<io_op*>(ptr);
        op.queued_ = false;
        if (res >= 0) res = op.kind == op_kind::connect ? connect_result(op.fd) : 0;
        op.complete(op, res);
        break;
      }
      case tag_source:
        source_event(*static_cast<accept_source*>(ptr), res, flags);
        break;
      default:
        break;
    }
  }

  void accept_done(io_op& op, int res) noexcept {
    // -EINTR: the accept had started when a cancel hit it. Only ours count as cancels.
    if (res == -EINTR) {
      if (!op.cancel_requested.load(std::memory_order_acquire)) {
        submit_accept(op);
        return;
      }
      res = -ECANCELED;
    }
    if (auto* src = static_cast<accept_source*>(op.slot->backend_data_)) --src->singles;
    op.queued_ = false;
    op.complete(op, res);
  }

  void source_event(accept_source& src, int res, unsigned flags) noexcept {
    listener_slot* slot = src.slot;
    if (!(flags & IORING_CQE_F_MORE)) {
      src.armed = false;
      if (slot) slot->accepts_ahead.store(false, std::memory_order_relaxed);
    }
    if (res >= 0) {
      if (!slot) {
        close_fd(res);  // the listener is going away; nobody will take it
      } else if (io_op* op = slot->head_) {
        fifo_remove(*slot, *op);
        op->complete(*op, res);
      } else {
        try {
          src.ready.push_back(res);
          slot->ready.store(static_cast<std::uint32_t>(src.ready.size()), std::memory_order_relaxed);
        } catch (const std::bad_alloc&) {
          close_fd(res);
        }
      }
    } else if (res == -EINVAL && !src.armed && slot && !seen_multishot_) {
      // A kernel without multishot accept (before 5.19): single-shot from now on.
      multishot_ = false;
      while (io_op* op = slot->head_) {
        fifo_remove(*slot, *op);
        ++src.singles;
        submit_accept(*op);
      }
      return;
    } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN && res != -ECONNABORTED && slot) {
      // A real failure (EMFILE, ENOMEM, ...) goes to the oldest waiting accept.
      if (io_op* op = slot->head_) {
        fifo_remove(*slot, *op);
        op->complete(*op, res);
      }
    }
    if (res >= 0) seen_multishot_ = true;
    if (!slot) {
      if (!src.armed) src.finished = true;
      return;
    }
    if (!src.armed) {
      if (slot->head_) arm(src);
    } else if (!slot->head_ && !src.cancel_sent) {
      // Nobody waits: leave new connections in the kernel's backlog, where accept4
      // on the caller's thread takes them without a trip through this loop.
      submit_cancel(tagged(&src, tag_source));
      src.cancel_sent = true;
    }
  }

  io_uring ring_{};
  bool ring_ok_ = false;
  bool multishot_ = true;
  bool seen_multishot_ = false;
  int wakefd_ = -1;
  std::uint64_t wake_count_ = 0;
};

}  // namespace

int make_io_uring_backend(std::unique_ptr<backend>& out) noexcept {
  auto* b = new (std::nothrow) io_uring_backend();
  if (!b) return -ENOMEM;
  unsigned entries = 256;
  if (const char* e = std::getenv("OPENWWS_IO_URING_ENTRIES")) entries = static_cast<unsigned>(std::atoi(e));
  const char* single = std::getenv("OPENWWS_IO_URING_SINGLESHOT");
  int rc = b->init(entries ? entries : 256, !(single && *single == '1'));
  if (rc < 0) {
    delete b;
    return rc;
  }
  out.reset(b);
  return 0;
}

}  // namespace openwws::platform
