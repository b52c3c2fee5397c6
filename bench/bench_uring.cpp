// SPDX-License-Identifier: MIT
// openwws-bench: the raw io_uring baselines, built when liburing is found
// (OPENWWS_BENCH_IO_URING): a multishot accept loop that answers the net.tcp handshake
// through the ring, and the cancel of a pending accept by a thread that waits on its
// ring. Without liburing both report why they cannot run, and their rows say so.
//
// The ring is set up as the library's backend sets up its own (COOP_TASKRUN where the
// kernel has it, 5.19), so that the two differ in what they do, not in how the ring is
// configured.
#include "bench_common.h"

#ifdef OPENWWS_BENCH_IO_URING

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace openwws::bench {

namespace {

constexpr std::uint64_t ud_accept = 1, ud_wake = 2, ud_cancel = 3;

int ring_init(io_uring& ring, unsigned entries) {
  int rc = io_uring_queue_init(entries, &ring, IORING_SETUP_COOP_TASKRUN);
  if (rc == -EINVAL) rc = io_uring_queue_init(entries, &ring, 0);
  return rc;
}

io_uring_sqe* get_sqe(io_uring& ring) {
  io_uring_sqe* sqe;
  for (int i = 0; i < 1000 && !(sqe = io_uring_get_sqe(&ring)); ++i) io_uring_submit(&ring);
  return sqe;
}

// One thread: a multishot accept (re-armed when the kernel ends it) and an eventfd read
// that ends the loop. Each accepted socket gets a recv for its preamble (again while
// part of it is missing), then a send of the ack linked to a close; the close's CQE
// counts the accept. A connection's ops carry its record's address in user_data, the
// low bits naming the op.
class raw_uring_server final : public server {
 public:
  ~raw_uring_server() override { close(); }

  std::string open(load& ld) override {
    ld_ = &ld;
    std::string why;
    fd_ = listen_loopback(false, port, why);
    if (fd_ < 0) return why;
    want_ = make_preamble(port);
    stopfd_ = ::eventfd(0, EFD_CLOEXEC);
    if (stopfd_ < 0) return format("eventfd: %s", std::strerror(errno));
    if (int rc = ring_init(ring_, 256); rc < 0) return format("io_uring_queue_init: %s", std::strerror(-rc));
    ring_ok_ = true;
    return "";
  }
  void start() override {
    thread_ = std::thread([this] {
      run();
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
  }
  void stop() override {
    stop_.store(true);
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(stopfd_, &one, sizeof one);
  }
  bool wait(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  void force() override { stop(); }
  std::string close() override {
    if (thread_.joinable()) thread_.join();
    if (ring_ok_) io_uring_queue_exit(&ring_);
    ring_ok_ = false;
    // run() waited for every connection's last CQE, or gave up after 2 s. A descriptor
    // whose close was in flight may be closed and reused already: it is left alone (the
    // run's descriptor count then tells).
    for (auto& c : conns_)
      if (c.fd >= 0 && !c.closing) ::close(c.fd);
    conns_.clear();
    free_ = nullptr;
    for (int* fd : {&fd_, &stopfd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    return "";
  }
  std::string error() override {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  struct alignas(8) conn {
    int fd = -1;
    std::size_t got = 0;
    bool reading = false;  // a recv is in flight
    bool closing = false;  // the send and the close are in flight (the ring owns fd)
    bool acked = false;
    conn* next = nullptr;  // the free list
    char buf[max_preamble];
  };
  enum : std::uint64_t { op_recv = 0, op_send = 1, op_close = 2, op_mask = 7 };  // conn is 8-aligned
  static constexpr std::uint64_t ud_special = 8;  // ud_accept etc. are below it; addresses above

  void set_error(std::string e) {
    std::lock_guard lock(mu_);
    if (error_.empty()) error_ = std::move(e);
  }

  void arm() {
    io_uring_sqe* sqe = get_sqe(ring_);
    io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_accept);
    armed_ = true;
  }

  // A deque keeps records in place as it grows; the free list reuses them.
  conn* take(int fd) {
    conn* c = free_;
    if (c) {
      free_ = c->next;
    } else {
      c = &conns_.emplace_back();
    }
    *c = conn{};
    c->fd = fd;
    return c;
  }

  // Names the connection and the op in user_data, and counts the op in flight.
  void tag(io_uring_sqe* sqe, conn* c, std::uint64_t op) {
    io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(c) | op);
    ++live_ops_;
  }

  void recv_more(conn* c) {
    io_uring_sqe* sqe = get_sqe(ring_);
    io_uring_prep_recv(sqe, c->fd, c->buf, want_.size() - c->got, 0);
    tag(sqe, c, op_recv);
    c->reading = true;
  }

  void on_conn(std::uint64_t ud, int res) {
    conn* c = reinterpret_cast<conn*>(ud & ~op_mask);
    --live_ops_;
    switch (ud & op_mask) {
      case op_recv:
        c->reading = false;
        if (res <= 0) return release(c);  // the client left, or the run ended
        switch (feed_preamble(want_, c->got, c->buf, static_cast<std::size_t>(res))) {
          case feed_result::more: return recv_more(c);
          case feed_result::bad:
            set_error("a client's preamble differs from the one expected");
            return release(c);
          case feed_result::complete: return ack_and_close(c);
        }
        return;
      case op_send: c->acked = res == 1; return;
      case op_close:
        // Links run in order, so the send's CQE came first. A failed send cancels the
        // close (-ECANCELED): then the descriptor is still ours to close.
        if (res < 0) ::close(c->fd);
        if (c->acked) ld_->accepted.fetch_add(1, std::memory_order_relaxed);
        c->fd = -1;
        return release(c);
    }
  }

  void ack_and_close(conn* c) {
    io_uring_sqe* sqe = get_sqe(ring_);
    io_uring_prep_send(sqe, c->fd, &preamble_ack, 1, MSG_NOSIGNAL);
    io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
    tag(sqe, c, op_send);
    sqe = get_sqe(ring_);
    io_uring_prep_close(sqe, c->fd);
    tag(sqe, c, op_close);
    c->closing = true;
  }

  void release(conn* c) {
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
    c->closing = false;
    c->next = free_;
    free_ = c;
  }

  // Every CQE ready; false once the stop eventfd's has come.
  bool reap() {
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    bool go_on = true;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      std::uint64_t ud = cqe->user_data;
      if (ud >= ud_special) {
        on_conn(ud, cqe->res);
        continue;
      }
      if (ud == ud_wake) {
        go_on = false;
        continue;
      }
      if (ud != ud_accept) continue;  // the cancel's own CQE
      if (!(cqe->flags & IORING_CQE_F_MORE)) armed_ = false;
      if (cqe->res >= 0) {
        if (stop_.load(std::memory_order_relaxed)) {
          ::close(cqe->res);  // the run is over: no new connection
        } else {
          recv_more(take(cqe->res));
          ++accepts_;
        }
      } else if (cqe->res == -EINVAL && !armed_) {
        set_error("multishot accept is not supported by this kernel (before 5.19)");
        go_on = false;
      } else if (cqe->res != -EAGAIN && cqe->res != -ECONNABORTED && cqe->res != -EINTR &&
                 cqe->res != -ECANCELED) {
        set_error(format("multishot accept: %s", std::strerror(-cqe->res)));
        go_on = false;
      }
    }
    io_uring_cq_advance(&ring_, seen);
    return go_on;
  }

  void run() {
    io_uring_sqe* sqe = get_sqe(ring_);
    io_uring_prep_read(sqe, stopfd_, &wake_, sizeof wake_, 0);
    io_uring_sqe_set_data64(sqe, ud_wake);
    arm();
    for (bool go_on = true; go_on && accepts_ < max_per_loop;) {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR) return set_error(format("io_uring_submit_and_wait: %s", std::strerror(-rc)));
      go_on = reap();
      if (!armed_ && go_on) arm();
    }
    // Cancel the multishot accept and every pending recv (the clients are gone, so a recv
    // would end anyway; a slow connection's would not), then reap until the last CQE.
    stop_.store(true);
    if (armed_) {
      io_uring_sqe* c = get_sqe(ring_);
      io_uring_prep_cancel64(c, ud_accept, 0);
      io_uring_sqe_set_data64(c, ud_cancel);
    }
    for (auto& c : conns_)
      if (c.reading) ::shutdown(c.fd, SHUT_RDWR);  // ends its recv with 0
    auto deadline = clock_type::now() + std::chrono::seconds(2);
    while ((armed_ || live_ops_ > 0) && clock_type::now() < deadline) {
      __kernel_timespec ts{0, 100'000'000};
      io_uring_cqe* cqe = nullptr;
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      reap();
    }
  }

  load* ld_ = nullptr;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool armed_ = false;
  int fd_ = -1, stopfd_ = -1;
  std::string want_;
  std::uint64_t wake_ = 0;
  std::uint64_t accepts_ = 0;
  std::int64_t live_ops_ = 0;  // conn ops in flight; the ring's thread only
  std::deque<conn> conns_;
  conn* free_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string error_;
};

}  // namespace

bool raw_io_uring_available(std::string& why) {
  io_uring ring{};
  int rc = ring_init(ring, 8);
  if (rc < 0) {
    why = format("io_uring_queue_init: %s", std::strerror(-rc));
    return false;
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  bool ok = probe;
  for (int op : {IORING_OP_ACCEPT, IORING_OP_ASYNC_CANCEL, IORING_OP_READ, IORING_OP_RECV, IORING_OP_SEND,
                 IORING_OP_CLOSE})
    ok = ok && io_uring_opcode_supported(probe, op);
  if (probe) io_uring_free_probe(probe);
  io_uring_queue_exit(&ring);
  if (!ok) why = "the kernel's io_uring lacks ACCEPT, ASYNC_CANCEL, READ, RECV, SEND or CLOSE";
  return ok;
}

std::unique_ptr<server> make_raw_io_uring_server(std::string& why) {
  if (!raw_io_uring_available(why)) return nullptr;
  return std::make_unique<raw_uring_server>();
}

// Per try, the worker arms an accept (nobody connects) and an eventfd read, then waits
// on its ring. The driver sees it asleep, takes t0 and writes the eventfd; the worker
// wakes, submits IORING_OP_ASYNC_CANCEL for the accept and takes t1 when the accept's
// own CQE arrives (-ECANCELED; the cancel's CQE may come before or after it). This is
// the least any io_uring backend must do when another thread cancels its accept.
cancel_result raw_io_uring_cancel_latency(int tries, double budget_s, const placement& pl) {
  cancel_result out;
  std::string why;
  if (!raw_io_uring_available(why)) {
    out.error = why;
    return out;
  }
  set_thread_affinity(pl.waiters);  // the worker inherits it
  USHORT port = 0;
  int lfd = listen_loopback(false, port, why);
  int efd = ::eventfd(0, EFD_CLOEXEC);
  if (lfd < 0 || efd < 0) {
    out.error = lfd < 0 ? why : format("eventfd: %s", std::strerror(errno));
    if (lfd >= 0) ::close(lfd);
    if (efd >= 0) ::close(efd);
    set_thread_affinity(pl.all);
    return out;
  }
  // armed: the try the worker has armed (and then waits on); done: the try it finished.
  // Leaving early, the worker sets both to `tries`, so no wait of the driver outlasts it.
  std::atomic<int> armed{-1}, done{-1};
  std::atomic<bool> quit{false};
  std::vector<clock_type::time_point> t1(static_cast<size_t>(tries));
  std::string worker_error;  // the worker's until it is joined
  std::thread worker([&] {
    io_uring ring{};
    bool complete = false;
    if (int rc = ring_init(ring, 8); rc < 0) {
      worker_error = format("io_uring_queue_init: %s", std::strerror(-rc));
    } else {
      std::uint64_t wake = 0;
      for (int i = 0; i < tries && !quit.load(); ++i) {
        io_uring_sqe* sqe = get_sqe(ring);
        io_uring_prep_accept(sqe, lfd, nullptr, nullptr, SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, ud_accept);
        sqe = get_sqe(ring);
        io_uring_prep_read(sqe, efd, &wake, sizeof wake, 0);
        io_uring_sqe_set_data64(sqe, ud_wake);
        io_uring_submit(&ring);
        armed.store(i, std::memory_order_release);
        wake_all(armed);
        bool accept_done = false, cancel_done = false;
        auto deadline = clock_type::now() + std::chrono::seconds(5);
        while (!(accept_done && cancel_done) && clock_type::now() < deadline) {
          io_uring_cqe* cqe = nullptr;
          __kernel_timespec ts{1, 0};
          int rc = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
          if (rc == -ETIME || rc == -EINTR) continue;
          if (rc < 0) break;
          std::uint64_t ud = cqe->user_data;
          int res = cqe->res;
          io_uring_cqe_seen(&ring, cqe);
          if (ud == ud_wake) {
            io_uring_sqe* c = get_sqe(ring);
            io_uring_prep_cancel64(c, ud_accept, 0);
            io_uring_sqe_set_data64(c, ud_cancel);
            io_uring_submit(&ring);
          } else if (ud == ud_accept) {
            t1[static_cast<size_t>(i)] = clock_type::now();
            accept_done = true;
            if (res >= 0) ::close(res);
          } else if (ud == ud_cancel) {
            cancel_done = true;
          }
        }
        if (!(accept_done && cancel_done)) {
          worker_error = "a cancelled accept did not complete within 5 s";
          break;
        }
        done.store(i, std::memory_order_release);
        wake_all(done);
        complete = i + 1 == tries;
      }
      io_uring_queue_exit(&ring);
    }
    if (!complete) {
      armed.store(tries);
      done.store(tries);
      wake_all(armed);
      wake_all(done);
    }
  });

  pid_t me = this_tid();
  set_thread_affinity(pl.canceller);
  auto budget_end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(budget_s));
  for (int i = 0; i < tries && clock_type::now() < budget_end; ++i) {
    if (!wait_at_least(armed, i, milliseconds(5000)) || armed.load() >= tries) {
      out.error = "the io_uring worker did not arm its accept";
      break;
    }
    if (!wait_others_asleep(me, milliseconds(200))) ++out.unsettled;
    auto t0 = clock_type::now();
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(efd, &one, sizeof one);
    if (!wait_at_least(done, i, milliseconds(6000)) || done.load() >= tries) {
      out.error = "the io_uring worker did not see its accept cancelled";
      break;
    }
    out.us.push_back(std::chrono::duration<double, std::micro>(t1[static_cast<size_t>(i)] - t0).count());
  }
  // The worker may have armed (or be about to arm) one more try: the eventfd's count
  // stays until read, so one write wakes it either way; it cancels, sees quit, leaves.
  quit.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(efd, &one, sizeof one);
  worker.join();
  ::close(lfd);
  ::close(efd);
  set_thread_affinity(pl.all);
  if (!worker_error.empty()) out.error = worker_error;
  return out;
}

}  // namespace openwws::bench

#else  // no liburing

namespace openwws::bench {

bool raw_io_uring_available(std::string& why) {
  why = "built without liburing (apt-get install liburing-dev)";
  return false;
}

std::unique_ptr<server> make_raw_io_uring_server(std::string& why) {
  raw_io_uring_available(why);
  return nullptr;
}

cancel_result raw_io_uring_cancel_latency(int, double, const placement&) {
  cancel_result out;
  raw_io_uring_available(out.error);
  return out;
}

}  // namespace openwws::bench

#endif
