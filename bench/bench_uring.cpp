// SPDX-License-Identifier: MIT
// openwws-bench: the raw io_uring baselines, built when liburing is found
// (OPENWWS_BENCH_IO_URING): a multishot accept loop, and the cancel of a pending
// accept by a thread that waits on its ring. Without liburing both report why they
// cannot run, and their rows say so.
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
// that ends the loop; every CQE reaped, every accepted fd closed.
class raw_uring_server final : public server {
 public:
  ~raw_uring_server() override { close(); }

  std::string open(load& ld) override {
    ld_ = &ld;
    std::string why;
    fd_ = listen_loopback(false, port, why);
    if (fd_ < 0) return why;
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

  void run() {
    io_uring_sqe* sqe = get_sqe(ring_);
    io_uring_prep_read(sqe, stopfd_, &wake_, sizeof wake_, 0);
    io_uring_sqe_set_data64(sqe, ud_wake);
    arm();
    std::uint64_t n = 0;
    bool stopping = false;
    while (!stopping && n < max_per_loop) {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR) return set_error(format("io_uring_submit_and_wait: %s", std::strerror(-rc)));
      io_uring_cqe* cqe;
      unsigned head, seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        if (cqe->user_data == ud_wake) {
          stopping = true;
          continue;
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) armed_ = false;
        if (cqe->res >= 0) {
          ::close(cqe->res);
          ld_->accepted.fetch_add(1, std::memory_order_relaxed);
          ++n;
        } else if (cqe->res == -EINVAL && !armed_) {
          set_error("multishot accept is not supported by this kernel (before 5.19)");
          stopping = true;
        } else if (cqe->res != -EAGAIN && cqe->res != -ECONNABORTED && cqe->res != -EINTR) {
          set_error(format("multishot accept: %s", std::strerror(-cqe->res)));
          stopping = true;
        }
      }
      io_uring_cq_advance(&ring_, seen);
      if (!armed_ && !stopping) arm();
    }
    // Cancel the multishot request and reap until its last CQE, closing what it brings.
    if (armed_) {
      io_uring_sqe* c = get_sqe(ring_);
      io_uring_prep_cancel64(c, ud_accept, 0);
      io_uring_sqe_set_data64(c, ud_cancel);
      auto deadline = clock_type::now() + std::chrono::seconds(2);
      while (armed_ && clock_type::now() < deadline) {
        __kernel_timespec ts{0, 100'000'000};
        io_uring_cqe* cqe = nullptr;
        io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
          ++seen;
          if (cqe->user_data != ud_accept) continue;
          if (cqe->res >= 0) ::close(cqe->res);
          if (!(cqe->flags & IORING_CQE_F_MORE)) armed_ = false;
        }
        io_uring_cq_advance(&ring_, seen);
      }
    }
  }

  load* ld_ = nullptr;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool armed_ = false;
  int fd_ = -1, stopfd_ = -1;
  std::uint64_t wake_ = 0;
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
  bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
            io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL) && io_uring_opcode_supported(probe, IORING_OP_READ);
  if (probe) io_uring_free_probe(probe);
  io_uring_queue_exit(&ring);
  if (!ok) why = "the kernel's io_uring lacks ACCEPT, ASYNC_CANCEL or READ";
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
