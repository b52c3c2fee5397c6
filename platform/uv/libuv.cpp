// SPDX-License-Identifier: MIT
// libuv backend: the readiness core (platform/readiness.cpp) over uv_poll_t handles on
// the listening and connecting sockets, a uv_async_t to wake the loop and a uv_timer_t
// to bound a wait. Accepts stay openwws's own: a listening uv_tcp_t would accept by
// itself (uv__server_io) and race them.
//
// The poller drives a uv_loop_t it is given (uv_backend_on_loop) or one it makes; it
// runs that loop only inside wait(), one uv_run per call, so a host could later drive
// the same handles from its own loop. Handle memory follows uv_close's rule: a poll
// handle is reused or freed only once its close callback has run, in a later loop
// iteration; remove() has already stopped it, and libuv's uv__poll_stop stops watching
// the descriptor at once (epoll_ctl DEL, or nothing left for kqueue to report), so the
// caller may close the fd as soon as remove() returns.
#include "platform/readiness.h"
#include "platform/select_backend.h"
#include "platform/socket.h"

#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

// ThreadSanitizer and the system's libuv: see tsan_note_loop_closes.
#if defined(__SANITIZE_THREAD__)
#define OPENWWS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OPENWWS_TSAN 1
#endif
#endif
#if defined(OPENWWS_TSAN) && defined(__linux__)
extern "C" void __sanitizer_syscall_pre_impl_close(long fd);
#endif

namespace openwws::platform {

namespace {

// libuv built without ThreadSanitizer (Debian's) closes its descriptors with
// syscall(SYS_close), which TSan does not see. TSan then still holds the creating
// thread's write to each of these descriptor numbers, and reports a data race when
// another thread's socket() or accept() is given the number again. Telling TSan about
// each close just before uv_loop_close makes it, while the descriptors are still open
// and only this thread uses them (a newer libuv does the same when built with TSan).
void tsan_note_loop_closes([[maybe_unused]] uv_loop_t* loop) noexcept {
#if defined(OPENWWS_TSAN) && defined(__linux__)
  int fds[] = {loop->backend_fd, loop->async_io_watcher.fd, loop->async_wfd, loop->signal_pipefd[0],
               loop->signal_pipefd[1], loop->inotify_fd};
  for (std::size_t i = 0; i < sizeof fds / sizeof fds[0]; ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i; ++j) seen = seen || fds[j] == fds[i];
    if (fds[i] > 2 && !seen) __sanitizer_syscall_pre_impl_close(fds[i]);
  }
#endif
}

class uv_poller;

// One watched descriptor. Pooled by the poller: a closed handle goes back to the free
// list from its close callback, so steady-state adds allocate nothing.
struct poll_handle {
  uv_poll_t h;  // first member: uv callbacks hand back &h
  uv_poller* owner = nullptr;
  std::uintptr_t token = 0;
  poll_handle* next_free = nullptr;
  bool open = false;    // initialised, not closing
  bool active = false;  // uv_poll_start'ed
  bool fired = false;   // reported by this round's wait and not re-armed yet
};

// Hosted: a guest on the application's loop (activity non-null), which only that
// application runs; readiness found by its uv_run waits in pending_ until the core's
// next wait(), and activity tells the core to come and take it.
class uv_poller final : public poller {
 public:
  uv_poller(uv_loop_t* loop, bool own_loop, void (*activity)(void*) noexcept, void (*iteration)(void*) noexcept,
            void* ctx) noexcept
      : loop_(loop), own_loop_(own_loop), activity_(activity), iteration_(iteration), activity_ctx_(ctx) {}

  ~uv_poller() override {
    if (own_loop_) {
      tsan_note_loop_closes(loop_);
      uv_loop_close(loop_);
      delete loop_;
    }
  }

  // Closes every handle, then deletes the poller once their close callbacks have run:
  // at once by turning a loop of its own, or in a later iteration of the host's loop.
  void shutdown() noexcept {
    // Every source should be gone; close whatever is left so the loop can wind down.
    for (auto& ph : all_)
      if (ph->open) close_handle(*ph);
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&async_), reinterpret_cast<uv_handle_t*>(&timer_),
                           reinterpret_cast<uv_handle_t*>(&prepare_)}) {
      if (!h->loop) continue;  // never initialised
      ++closing_;
      uv_close(h, on_closed_count);
    }
    if (hosted()) {
      dying_ = true;
      if (closing_ == 0) delete this;
      return;
    }
    // Close callbacks run in a later iteration: turn the loop until all of ours ran.
    while (closing_ > 0) uv_run(loop_, UV_RUN_NOWAIT);
    delete this;
  }

  int init() noexcept {
    if (int rc = uv_async_init(loop_, &async_, on_async); rc < 0) return rc;
    async_.data = this;
    if (int rc = uv_timer_init(loop_, &timer_); rc < 0) return rc;
    timer_.data = this;
    // The timer only bounds a wait (or schedules activity): it must not keep a loop
    // alive by itself.
    uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
    if (hosted()) {
      // The wake-up stays referenced, as any open libuv handle: the host's uv_run goes
      // on while the openwws loop lives, so that a free made off its thread (which
      // ends the loop there, through this handle) is always carried out.
      // Every iteration of the host's loop tells the core which thread runs it, before
      // any of the application's callbacks could make a synchronous call there.
      if (int rc = uv_prepare_init(loop_, &prepare_); rc < 0) return rc;
      prepare_.data = this;
      uv_prepare_start(&prepare_, [](uv_prepare_t* h) {
        auto& self = *static_cast<uv_poller*>(h->data);
        self.iteration_(self.activity_ctx_);
      });
      uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
    }
    try {
      all_.reserve(16);
    } catch (const std::bad_alloc&) {
      return -ENOMEM;
    }
    return 0;
  }

  int add(int fd, interest what, std::uintptr_t token, void*& data) noexcept override {
    poll_handle* ph = take_handle();
    if (!ph) return -ENOMEM;
    if (int rc = uv_poll_init_socket(loop_, &ph->h, fd); rc < 0) {
      give_back(*ph);
      return rc;  // libuv's codes are -errno on Unix
    }
    ph->open = true;
    ph->h.data = ph;
    ph->token = token;
    if (int rc = start(*ph, what); rc < 0) {
      close_handle(*ph);
      return rc;
    }
    data = ph;
    return 0;
  }

  int rearm(int fd, interest what, std::uintptr_t token, void*& data) noexcept override {
    auto* ph = static_cast<poll_handle*>(data);
    if (!ph) return add(fd, what, token, data);
    ph->token = token;
    ph->fired = false;
    // Still started (its stop was deferred): nothing to do. uv_poll_start would stop
    // and start again, an epoll_ctl DEL and ADD for nothing.
    if (ph->active) return 0;
    return start(*ph, what);
  }

  void remove(int, interest, void*& data) noexcept override {
    auto* ph = static_cast<poll_handle*>(data);
    data = nullptr;
    if (!ph) return;
    // Readiness found for it but not taken yet names a source that is going away.
    for (int i = 0; i < pending_count_; ++i)
      if (pending_[i] == ph) pending_[i] = nullptr;
    close_handle(*ph);
  }

  int wait(int timeout_ms, std::uintptr_t* tokens, int max) noexcept override {
    // One-shot interest, applied late: a handle reported last time and not re-armed
    // since is stopped now, before the loop could report it again. A handle that the
    // core re-arms at once (a listener with accepts still queued) is never stopped.
    for (int i = 0; i < fired_count_; ++i) {
      poll_handle* ph = fired_[i];
      if (ph->fired && ph->active) {
        uv_poll_stop(&ph->h);
        ph->active = false;
      }
      ph->fired = false;
    }
    fired_count_ = 0;
    if (hosted()) return take_pending(tokens, max);
    batch_ = tokens;
    batch_max_ = max < max_events ? max : max_events;
    batch_count_ = 0;
    if (timeout_ms == 0) {
      uv_run(loop_, UV_RUN_NOWAIT);
    } else {
      if (timeout_ms > 0) {
        uv_update_time(loop_);  // uv_timer_start counts from the loop's cached time
        uv_timer_start(&timer_, [](uv_timer_t*) {}, static_cast<std::uint64_t>(timeout_ms), 0);
      }
      uv_run(loop_, UV_RUN_ONCE);
      if (timeout_ms > 0) uv_timer_stop(&timer_);
    }
    batch_ = nullptr;
    return batch_count_;
  }

  void wake() noexcept override { uv_async_send(&async_); }

  int descriptor() const noexcept override { return hosted() ? -1 : uv_backend_fd(loop_); }

  // libuv hands a started uv_poll_t to epoll/kqueue only when the loop next polls, and
  // drops a stopped one from it only when an event for it shows up there: poll once,
  // without waiting, so that uv_backend_fd() tells the truth. Whatever that poll finds
  // is left where it is (no wait() is collecting): level-triggered, it makes the
  // descriptor readable again at once.
  void flush() noexcept override {
    if (!hosted()) uv_run(loop_, UV_RUN_NOWAIT);
  }

  void schedule_activity(int timeout_ms) noexcept override {
    if (!hosted()) return;
    if (timeout_ms < 0)
      uv_timer_stop(&timer_);
    else
      uv_timer_start(&timer_, on_timer, static_cast<std::uint64_t>(timeout_ms), 0);
  }

 private:
  static constexpr int max_events = 128;

  int start(poll_handle& ph, interest what) noexcept {
    int rc = uv_poll_start(&ph.h, what == interest::read ? UV_READABLE : UV_WRITABLE, on_poll);
    ph.active = rc == 0;
    ph.fired = false;
    return rc;
  }

  bool hosted() const noexcept { return activity_ != nullptr; }

  static void on_async(uv_async_t* h) noexcept {
    auto& self = *static_cast<uv_poller*>(h->data);
    if (self.hosted()) self.activity_(self.activity_ctx_);
  }

  static void on_timer(uv_timer_t* h) noexcept {
    auto& self = *static_cast<uv_poller*>(h->data);
    self.activity_(self.activity_ctx_);
  }

  // Hosted: what the host's loop found, handed to the core's next wait().
  int take_pending(std::uintptr_t* tokens, int max) noexcept {
    int out = 0;
    for (int i = 0; i < pending_count_; ++i) {
      poll_handle* ph = pending_[i];
      if (!ph) continue;  // removed meanwhile
      if (out == max) {
        ph->fired = false;  // level-triggered: the host's loop reports it again
        continue;
      }
      tokens[out++] = ph->token;
      fired_[fired_count_++] = ph;
    }
    pending_count_ = 0;
    return out;
  }

  static void on_poll(uv_poll_t* h, int status, int) noexcept {
    auto* ph = static_cast<poll_handle*>(h->data);
    uv_poller& self = *ph->owner;
    // POLLERR makes libuv stop the handle itself and report UV_EBADF: accept() or
    // SO_ERROR tells the real story, so it is reported as readiness like any other.
    if (status < 0) ph->active = false;
    if (ph->fired) return;  // reported already in this wait (libuv may poll twice)
    if (self.hosted()) {
      if (self.pending_count_ == max_events) return;  // level-triggered: it comes back
      ph->fired = true;
      self.pending_[self.pending_count_++] = ph;
      self.activity_(self.activity_ctx_);
      return;
    }
    if (!self.batch_ || self.batch_count_ == self.batch_max_) {
      // No room: leave it started; level-triggered, it comes back on the next wait.
      return;
    }
    self.batch_[self.batch_count_++] = ph->token;
    ph->fired = true;
    self.fired_[self.fired_count_++] = ph;
  }

  poll_handle* take_handle() noexcept {
    if (poll_handle* ph = free_) {
      free_ = ph->next_free;
      ph->next_free = nullptr;
      return ph;
    }
    // The pool grows only: a handle's memory must outlive its close callback, and
    // every one is freed with the poller.
    std::unique_ptr<poll_handle> fresh(new (std::nothrow) poll_handle());
    if (!fresh) return nullptr;
    fresh->owner = this;
    try {
      all_.push_back(std::move(fresh));
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
    return all_.back().get();
  }

  void give_back(poll_handle& ph) noexcept {
    ph.open = ph.active = ph.fired = false;
    ph.next_free = free_;
    free_ = &ph;
  }

  void close_handle(poll_handle& ph) noexcept {
    ph.open = ph.active = ph.fired = false;
    ++closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(&ph.h), [](uv_handle_t* h) {
      auto* closed = static_cast<poll_handle*>(h->data);
      uv_poller& self = *closed->owner;
      self.give_back(*closed);
      self.closed_one();
    });
  }

  static void on_closed_count(uv_handle_t* h) noexcept { static_cast<uv_poller*>(h->data)->closed_one(); }

  void closed_one() noexcept {
    if (--closing_ == 0 && dying_) delete this;
  }

  uv_loop_t* loop_;
  bool own_loop_;
  void (*activity_)(void*) noexcept;
  void (*iteration_)(void*) noexcept;
  void* activity_ctx_;
  uv_prepare_t prepare_{};
  bool dying_ = false;  // hosted, shut down: the last close callback deletes
  poll_handle* pending_[max_events];
  int pending_count_ = 0;
  uv_async_t async_{};
  uv_timer_t timer_{};
  int closing_ = 0;  // uv_close calls whose callback has not run yet
  std::vector<std::unique_ptr<poll_handle>> all_;
  poll_handle* free_ = nullptr;
  // The wait in progress: where on_poll stores tokens.
  std::uintptr_t* batch_ = nullptr;
  int batch_max_ = 0;
  int batch_count_ = 0;
  poll_handle* fired_[max_events];
  int fired_count_ = 0;
};

// What the readiness core owns: deleting it shuts the poller down, which may finish
// only in a later iteration of a host's loop (uv_close's rule).
class uv_poller_owner final : public poller {
 public:
  explicit uv_poller_owner(uv_poller* p) noexcept : p_(p) {}
  ~uv_poller_owner() override { p_->shutdown(); }
  int add(int fd, interest what, std::uintptr_t token, void*& data) noexcept override {
    return p_->add(fd, what, token, data);
  }
  int rearm(int fd, interest what, std::uintptr_t token, void*& data) noexcept override {
    return p_->rearm(fd, what, token, data);
  }
  void remove(int fd, interest what, void*& data) noexcept override { p_->remove(fd, what, data); }
  int wait(int timeout_ms, std::uintptr_t* tokens, int max) noexcept override {
    return p_->wait(timeout_ms, tokens, max);
  }
  void wake() noexcept override { p_->wake(); }
  int descriptor() const noexcept override { return p_->descriptor(); }
  void flush() noexcept override { p_->flush(); }
  void schedule_activity(int timeout_ms) noexcept override { p_->schedule_activity(timeout_ms); }

 private:
  uv_poller* p_;
};

int make_on(uv_loop_t* loop, bool own_loop, void (*activity)(void*) noexcept, void (*iteration)(void*) noexcept,
            void* ctx, std::unique_ptr<backend>& out) noexcept {
  auto* p = new (std::nothrow) uv_poller(loop, own_loop, activity, iteration, ctx);
  if (!p) {
    if (own_loop) {
      uv_loop_close(loop);
      delete loop;
    }
    return -ENOMEM;
  }
  std::unique_ptr<uv_poller_owner> owner(new (std::nothrow) uv_poller_owner(p));
  if (!owner) {
    p->shutdown();
    return -ENOMEM;
  }
  if (int rc = p->init(); rc < 0) return rc;
  return make_readiness_backend("libuv", std::move(owner), out);
}

}  // namespace

int make_libuv_backend(std::unique_ptr<backend>& out) noexcept {
  auto* loop = new (std::nothrow) uv_loop_t;
  if (!loop) return -ENOMEM;
  if (int rc = uv_loop_init(loop); rc < 0) {
    delete loop;
    return rc;
  }
  return make_on(loop, true, nullptr, nullptr, nullptr, out);
}

int make_libuv_backend_on(uv_loop_s* loop, std::unique_ptr<backend>& out) noexcept {
  return make_on(loop, false, nullptr, nullptr, nullptr, out);
}

int make_libuv_backend_hosted(uv_loop_s* loop, void (*activity)(void*) noexcept, void (*iteration)(void*) noexcept,
                              void* ctx, std::unique_ptr<backend>& out) noexcept {
  return make_on(loop, false, activity, iteration, ctx, out);
}

}  // namespace openwws::platform
