// SPDX-License-Identifier: MIT
// Loop thread, command queue, callback delivery and the worker pool.
#include "core/runtime.h"

#include "core/error.h"
#include "platform/select_backend.h"

#include <string>

namespace openwws::core {

namespace {

std::mutex g_mu;
runtime* g_runtime = nullptr;
std::size_t g_refs = 0;

// Which runtime's internal thread this is, if any: such a thread cannot join itself.
thread_local const runtime* tls_internal = nullptr;
// The runtime whose loop role this thread holds.
thread_local const runtime* tls_role = nullptr;
// The after_owner of the completion whose callback this thread is running.
thread_local const void* tls_delivering = nullptr;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void completion::prepare(const WS_ASYNC_CONTEXT* ctx, WS_CALLBACK_MODEL preferred) noexcept {
  next = nullptr;
  callback = ctx ? ctx->callback : nullptr;
  callback_state = ctx ? ctx->callbackState : nullptr;
  model = preferred;
  hr = S_OK;
  done.store(0, std::memory_order_relaxed);
}

HRESULT completion::wait() noexcept {
  while (done.load(std::memory_order_acquire) == 0) done.wait(0, std::memory_order_acquire);
  return hr;
}

HRESULT runtime::acquire(runtime*& out, WS_ERROR* error) noexcept {
  std::lock_guard lock(g_mu);
  if (!g_runtime) {
    std::unique_ptr<runtime> rt(new (std::nothrow) runtime());
    if (!rt) return fail(error, E_OUTOFMEMORY, "cannot allocate the I/O runtime");
    try {
      int rc = platform::create_backend(rt->backend_, rt->unusable_why_);
      // No backend is not an error yet: objects can be created and configured, and
      // the open says why it cannot go on (never a silent fallback to another one).
      if (rc < 0) {
        rt->backend_.reset();
        rt->unusable_hr_ = WS_E_NOT_SUPPORTED;
      }
    } catch (const std::bad_alloc&) {
      return fail(error, E_OUTOFMEMORY, "cannot allocate the I/O backend");
    }
    if (rt->backend_ && !rt->spawn(false)) return fail(error, E_OUTOFMEMORY, "cannot start the I/O thread");
    g_runtime = rt.release();
  }
  ++g_refs;
  out = g_runtime;
  return S_OK;
}

HRESULT runtime::check_usable(WS_ERROR* error, const char* fn) const noexcept {
  if (backend_) return S_OK;
  return fail(error, unusable_hr_, std::string(fn) + ": " + unusable_why_);
}

void runtime::release() noexcept {
  runtime* doomed = nullptr;
  {
    std::lock_guard lock(g_mu);
    if (--g_refs != 0 || tls_internal == g_runtime) return;  // an internal thread leaves it running
    doomed = g_runtime;
    g_runtime = nullptr;
  }
  doomed->stop();
  delete doomed;
}

void runtime::stop() noexcept {
  if (!backend_) return;
  stopping_.store(true);
  backend_->wake();
  {
    std::lock_guard lock(monitor_mu_);
  }
  monitor_cv_.notify_all();
  // spawn() refuses once stopping_ is set, so what is taken here is every thread.
  std::list<worker_thread> all;
  {
    std::lock_guard lock(threads_mu_);
    all.splice(all.end(), threads_);
  }
  for (auto& t : all) t.thread.join();
}

bool runtime::spawn(bool as_monitor) noexcept {
  std::lock_guard lock(threads_mu_);
  if (stopping_.load()) return false;
  // Threads that ended (a LONG callback outlived the takeover and found a monitor
  // already there) are joined here, so the list does not grow.
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->finished.load(std::memory_order_acquire)) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  try {
    auto& t = threads_.emplace_back();
    try {
      t.thread = std::thread([this, as_monitor, &t] {
        thread_main(as_monitor);
        t.finished.store(true, std::memory_order_release);
      });
    } catch (...) {
      threads_.pop_back();
      return false;
    }
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

bool runtime::on_loop_thread() const noexcept { return tls_role == this; }

void runtime::post(command& c) noexcept {
  command* head = incoming_.load(std::memory_order_relaxed);
  do {
    c.next = head;
  } while (!incoming_.compare_exchange_weak(head, &c, std::memory_order_seq_cst, std::memory_order_relaxed));
  // Dekker with run_loop(): it sets sleeping_ and then looks at incoming_; we push and
  // then look at sleeping_. One of us sees the other, so no post is left asleep.
  if (sleeping_.load(std::memory_order_seq_cst) && sleeping_.exchange(false)) backend_->wake();
}

void runtime::thread_main(bool as_monitor) noexcept {
  tls_internal = this;
  bool has_role = false;
  if (as_monitor) {
    has_role = monitor();
  } else {
    role_.lock();
    has_role = true;
  }
  while (has_role) {
    if (run_loop()) return;  // stopping
    // Lost the role during a LONG callback: watch the new holder, unless someone does.
    if (monitor_present_.exchange(true)) return;
    has_role = monitor();
  }
}

bool runtime::run_loop() noexcept {
  tls_role = this;
  role_free_since_.store(0, std::memory_order_relaxed);
  while (!stopping_.load(std::memory_order_relaxed)) {
    drain_commands();
    if (!drain_ready()) return false;
    sleeping_.store(true, std::memory_order_seq_cst);
    bool idle = incoming_.load(std::memory_order_seq_cst) == nullptr && ready_head_ == nullptr &&
                !stopping_.load(std::memory_order_relaxed);
    backend_->run_once(idle ? -1 : 0);
    sleeping_.store(false, std::memory_order_relaxed);
  }
  drain_commands();
  drain_ready();
  tls_role = nullptr;
  role_.unlock();
  return true;
}

void runtime::drain_commands() noexcept {
  while (command* stack = incoming_.exchange(nullptr, std::memory_order_acquire)) {
    command* fifo = nullptr;
    while (stack) {  // reverse the stack into posting order
      command* next = stack->next;
      stack->next = fifo;
      fifo = stack;
      stack = next;
    }
    while (fifo) {
      command* c = fifo;
      fifo = c->next;
      c->next = nullptr;
      c->run(*c);  // may free the owner of c: c is not touched again
    }
  }
}

bool runtime::drain_ready() noexcept {
  while (completion* c = ready_head_) {
    ready_head_ = c->next;
    if (!ready_head_) ready_tail_ = nullptr;
    if (c->model == WS_SHORT_CALLBACK || stopping_.load(std::memory_order_relaxed)) {
      invoke(*c, WS_SHORT_CALLBACK);
      continue;
    }
    // LONG: run it here, on the thread that took it off the queue, with the loop role
    // let go so that the monitor can take over if the callback blocks.
    if (!monitor_present_.load(std::memory_order_acquire)) {
      monitor_present_.store(true);
      if (!spawn(true)) {
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

void runtime::arm_monitor() noexcept {
  if (monitor_armed_.load(std::memory_order_relaxed) || monitor_armed_.exchange(true)) return;
  {
    std::lock_guard lock(monitor_mu_);
    monitor_deadline_ = std::chrono::steady_clock::now() + takeover_delay;
  }
  monitor_cv_.notify_one();
}

bool runtime::monitor() noexcept {
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

void runtime::invoke(completion& c, WS_CALLBACK_MODEL model) noexcept {
  // Copy out first: the callback may free the object that holds c.
  WS_ASYNC_CALLBACK cb = c.callback;
  void* state = c.callback_state;
  HRESULT hr = c.hr;
  auto after = c.after;
  void* owner = c.after_owner;
  const void* outer = tls_delivering;
  tls_delivering = owner;
  cb(hr, model, state);
  bool taken_over = tls_delivering != owner;
  tls_delivering = outer;
  if (after && !taken_over) after(owner);
}

bool runtime::delivering_for(const void* owner) noexcept { return owner && tls_delivering == owner; }

void runtime::consume_delivery() noexcept { tls_delivering = nullptr; }

void runtime::complete(completion& c, HRESULT hr) noexcept {
  c.hr = hr;
  if (!c.callback) {
    if (c.after) c.after(c.after_owner);
    c.done.store(1, std::memory_order_release);
    c.done.notify_all();
    return;
  }
  c.next = nullptr;
  if (ready_tail_)
    ready_tail_->next = &c;
  else
    ready_head_ = &c;
  ready_tail_ = &c;
}

}  // namespace openwws::core
