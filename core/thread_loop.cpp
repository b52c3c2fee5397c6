// SPDX-License-Identifier: MIT
// The own-thread driver: the process's default loop, its threads, the loop role and
// the monitor that takes the role over from a blocked LONG callback.
#include "core/drivers.h"

#include "core/error.h"
#include "platform/select_backend.h"

namespace openwws::core {

namespace {

std::mutex g_mu;
thread_loop* g_loop = nullptr;

// Which loop's internal thread this is, if any: such a thread cannot join itself.
thread_local const thread_loop* tls_internal = nullptr;
// The loop whose role this thread holds.
thread_local const thread_loop* tls_role = nullptr;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HRESULT thread_loop::acquire(loop*& out, WS_ERROR* error) noexcept {
  std::lock_guard lock(g_mu);
  if (!g_loop) {
    g_loop = new (std::nothrow) thread_loop();
    if (!g_loop) return fail(error, E_OUTOFMEMORY, "cannot allocate the I/O loop");
    // A backend that cannot start yet is not an error here: objects can be created
    // and configured, and opening says why it cannot go on (never a silent fallback).
    std::lock_guard start(g_loop->start_mu_);
    g_loop->start_backend();
  }
  ++g_loop->refs_;
  out = g_loop;
  return S_OK;
}

void thread_loop::retain() noexcept {
  std::lock_guard lock(g_mu);
  ++refs_;
}

void thread_loop::release() noexcept {
  {
    std::lock_guard lock(g_mu);
    if (--refs_ != 0 || tls_internal == this) return;  // an internal thread leaves it running
    g_loop = nullptr;
  }
  stop();
  delete this;
}

int thread_loop::make_backend(std::unique_ptr<platform::backend>& out, std::string& why) noexcept {
  try {
    return platform::create_backend(out, why);
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

bool thread_loop::on_loop_thread() const noexcept { return tls_role == this; }

void thread_loop::stop() noexcept {
  if (!usable_.load(std::memory_order_acquire)) return;
  stopping_.store(true);
  backend_->wake();
  {
    std::lock_guard lock(monitor_mu_);
  }
  monitor_cv_.notify_all();
  park_cv_.notify_all();
  // spawn() refuses once stopping_ is set, so what is taken here is every thread.
  std::list<std::thread> all;
  {
    std::lock_guard lock(threads_mu_);
    all.splice(all.end(), threads_);
  }
  for (auto& t : all) t.join();
}

bool thread_loop::spawn(bool as_monitor) noexcept {
  std::lock_guard lock(threads_mu_);
  if (stopping_.load()) return false;
  try {
    auto& t = threads_.emplace_back();
    try {
      t = std::thread([this, as_monitor] { thread_main(as_monitor); });
    } catch (...) {
      threads_.pop_back();
      return false;
    }
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void thread_loop::thread_main(bool as_monitor) noexcept {
  tls_internal = this;
  bool has_role = false;
  if (as_monitor) {
    has_role = monitor();
  } else {
    role_.lock();
    has_role = true;
  }
  for (;;) {
    if (has_role) {
      if (run()) return;  // stopping
    } else if (stopping_.load()) {
      return;
    }
    // Without the role (lost in a LONG callback): watch the new holder, unless someone
    // does; then wait parked until a monitor is wanted. Never exit while the runtime
    // lives, or the kernel would cancel what this thread submitted.
    if (monitor_present_.exchange(true) && !park()) return;
    has_role = monitor();
  }
}

bool thread_loop::park() noexcept {
  std::unique_lock lock(monitor_mu_);
  ++parked_;
  park_cv_.wait(lock, [this] { return monitor_wanted_ > 0 || stopping_.load(); });
  --parked_;
  if (monitor_wanted_ == 0) return false;
  --monitor_wanted_;
  return true;
}

// A LONG callback is about to run with the role let go: someone must watch the loop.
bool thread_loop::call_monitor() noexcept {
  {
    std::lock_guard lock(monitor_mu_);
    if (parked_ > monitor_wanted_) {
      ++monitor_wanted_;
      park_cv_.notify_one();
      return true;
    }
  }
  return spawn(true);
}

bool thread_loop::run() noexcept {
  tls_role = this;
  role_free_since_.store(0, std::memory_order_relaxed);
  while (!stopping_.load(std::memory_order_relaxed)) {
    drain_commands();
    if (!deliver_ready()) return false;
    // A callback usually posts its next operation: start it now rather than after a
    // poll that cannot wait (one system call per operation). Once: I/O still gets its turn.
    if (has_posted()) {
      drain_commands();
      if (!deliver_ready()) return false;
    }
    bool busy = prepare_to_sleep() || stopping_.load(std::memory_order_relaxed);
    poll_io(busy ? 0 : -1);
    woke();
  }
  drain_commands();
  deliver_ready();
  tls_role = nullptr;
  role_.unlock();
  return true;
}

bool thread_loop::deliver_ready() noexcept {
  while (completion* c = pop_ready()) {
    if (c->model == WS_SHORT_CALLBACK || stopping_.load(std::memory_order_relaxed)) {
      invoke(*c, WS_SHORT_CALLBACK);
      continue;
    }
    // LONG: run it here, on the thread that took it off the queue, with the loop role
    // let go so that the monitor can take over if the callback blocks.
    if (!monitor_present_.load(std::memory_order_acquire)) {
      monitor_present_.store(true);
      if (!call_monitor()) {
        // No thread to keep the loop going: Microsoft's model says invoke it short.
        monitor_present_.store(false);
        invoke(*c, WS_SHORT_CALLBACK);
        continue;
      }
    }
    tls_role = nullptr;
    role_free_since_.store(now_ns(), std::memory_order_release);
    role_.unlock();
    arm_monitor();
    invoke(*c, WS_LONG_CALLBACK);
    if (!role_.try_lock()) return false;
    tls_role = this;
    role_free_since_.store(0, std::memory_order_relaxed);
  }
  return true;
}

void thread_loop::arm_monitor() noexcept {
  if (monitor_armed_.load(std::memory_order_relaxed) || monitor_armed_.exchange(true)) return;
  {
    std::lock_guard lock(monitor_mu_);
    monitor_deadline_ = std::chrono::steady_clock::now() + takeover_delay;
  }
  monitor_cv_.notify_one();
}

bool thread_loop::monitor() noexcept {
  std::unique_lock lock(monitor_mu_);
  for (;;) {
    monitor_cv_.wait(lock, [this] { return monitor_armed_.load() || stopping_.load(); });
    if (stopping_.load()) break;
    monitor_cv_.wait_until(lock, monitor_deadline_, [this] { return stopping_.load(); });
    if (stopping_.load()) break;
    monitor_armed_.store(false);
    std::int64_t since = role_free_since_.load(std::memory_order_acquire);
    if (since == 0) continue;  // the loop is running
    auto held_up = std::chrono::nanoseconds(now_ns() - since);
    if (held_up >= takeover_delay) {
      if (role_.try_lock()) {
        monitor_present_.store(false);
        return true;  // this thread runs the loop now
      }
      continue;
    }
    // Freed only lately: look again when that release is takeover_delay old.
    monitor_armed_.store(true);
    monitor_deadline_ = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(takeover_delay - held_up);
  }
  monitor_present_.store(false);
  return false;
}

}  // namespace openwws::core
