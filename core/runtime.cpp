// SPDX-License-Identifier: MIT
// Loop thread, command queue, callback delivery and the worker pool.
#include "core/runtime.h"

#include "core/error.h"
#include "platform/select_backend.h"

#include <cerrno>
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

// The callback this thread is running.
struct delivery {
  const void* owner;
  const void* group;
  bool group_taken;
};
thread_local delivery* tls_delivery = nullptr;

bool is_shortage(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS || err == EAGAIN;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void completion::arm(const WS_ASYNC_CONTEXT* ctx, WS_CALLBACK_MODEL preferred, sync_waiter* w) noexcept {
  next = nullptr;
  callback = ctx ? ctx->callback : nullptr;
  callback_state = ctx ? ctx->callbackState : nullptr;
  model = preferred;
  hr = S_OK;
  waiter = ctx ? nullptr : w;
}

HRESULT sync_waiter::wait() noexcept {
  while (done.load(std::memory_order_acquire) == 0) done.wait(0, std::memory_order_acquire);
  return hr;
}

HRESULT completion::wait_and_report(sync_waiter& w) noexcept {
  HRESULT result = w.wait();
  void* o = owner;  // finish may free the object that holds this record
  auto fin = finish;
  if (publish) publish(o, result);
  if (fin) fin(o, false);
  return result;
}

HRESULT runtime::acquire(runtime*& out, WS_ERROR* error) noexcept {
  std::lock_guard lock(g_mu);
  if (!g_runtime) {
    g_runtime = new (std::nothrow) runtime();
    if (!g_runtime) return fail(error, E_OUTOFMEMORY, "cannot allocate the I/O runtime");
    // A backend that cannot start yet is not an error here: objects can be created
    // and configured, and opening says why it cannot go on (never a silent fallback).
    std::lock_guard start(g_runtime->start_mu_);
    g_runtime->start_backend();
  }
  ++g_refs;
  out = g_runtime;
  return S_OK;
}

HRESULT runtime::start_backend() noexcept {
  std::unique_ptr<platform::backend> made;
  std::string why;
  int rc;
  try {
    rc = platform::create_backend(made, why);
  } catch (const std::bad_alloc&) {
    rc = -ENOMEM;
  }
  if (rc < 0) {
    unusable_hr_ = is_shortage(-rc) ? WS_E_QUOTA_EXCEEDED : WS_E_NOT_SUPPORTED;
    try {
      unusable_why_ = why.empty() ? "cannot start the I/O backend" : why;
    } catch (const std::bad_alloc&) {
    }
    return unusable_hr_;
  }
  backend_ = std::move(made);
  if (!spawn(false)) {
    backend_.reset();
    unusable_hr_ = WS_E_QUOTA_EXCEEDED;
    unusable_why_ = "cannot start the I/O thread";
    return unusable_hr_;
  }
  usable_.store(true, std::memory_order_release);
  return S_OK;
}

HRESULT runtime::check_usable(WS_ERROR* error, const char* fn) noexcept {
  if (usable_.load(std::memory_order_acquire)) return S_OK;
  std::lock_guard lock(start_mu_);
  // A shortage is tried again: it passes when descriptors or memory come back.
  if (!usable_.load(std::memory_order_relaxed) && unusable_hr_ != WS_E_NOT_SUPPORTED) start_backend();
  if (usable_.load(std::memory_order_relaxed)) return S_OK;
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
  if (!usable_.load(std::memory_order_acquire)) return;
  stopping_.store(true);
  backend_->wake();
  {
    std::lock_guard lock(monitor_mu_);
  }
  monitor_cv_.notify_all();
  park_cv_.notify_all();
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
  try {
    auto& t = threads_.emplace_back();
    try {
      t.thread = std::thread([this, as_monitor] { thread_main(as_monitor); });
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
  for (;;) {
    if (has_role) {
      if (run_loop()) return;  // stopping
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

bool runtime::park() noexcept {
  std::unique_lock lock(monitor_mu_);
  ++parked_;
  park_cv_.wait(lock, [this] { return monitor_wanted_ > 0 || stopping_.load(); });
  --parked_;
  if (monitor_wanted_ == 0) return false;
  --monitor_wanted_;
  return true;
}

// A LONG callback is about to run with the role let go: someone must watch the loop.
bool runtime::call_monitor() noexcept {
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

bool runtime::run_loop() noexcept {
  tls_role = this;
  role_free_since_.store(0, std::memory_order_relaxed);
  while (!stopping_.load(std::memory_order_relaxed)) {
    drain_commands();
    if (!drain_ready()) return false;
    sleeping_.store(true, std::memory_order_seq_cst);
    bool idle = incoming_.load(std::memory_order_seq_cst) == nullptr && ready_head_ == nullptr &&
                !stopping_.load(std::memory_order_relaxed);
    backend_->run_once(idle ? timers_.wait_ms(timer_clock::now()) : 0);
    sleeping_.store(false, std::memory_order_relaxed);
    if (timers_.size()) timers_.run_due(timer_clock::now());
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
  // Copy out first: once published, the record may be armed again by another thread,
  // and finish may free the object that holds it.
  WS_ASYNC_CALLBACK cb = c.callback;
  void* state = c.callback_state;
  HRESULT hr = c.hr;
  void* owner = c.owner;
  auto finish = c.finish;
  delivery d{owner, c.group, false};
  if (c.publish) c.publish(owner, hr);
  delivery* outer = tls_delivery;
  tls_delivery = &d;
  cb(hr, model, state);
  tls_delivery = outer;
  if (finish) finish(owner, d.group_taken);
}

bool runtime::delivering(const void* owner) noexcept { return owner && tls_delivery && tls_delivery->owner == owner; }

bool runtime::delivering_group(const void* group) noexcept {
  const delivery* d = tls_delivery;
  return group && d && d->group == group && !d->group_taken;
}

bool runtime::take_group_delivery(const void* group) noexcept {
  if (!delivering_group(group)) return false;
  tls_delivery->group_taken = true;
  return true;
}

void runtime::complete(completion& c, HRESULT hr) noexcept {
  c.hr = hr;
  if (c.callback) {
    c.next = nullptr;
    if (ready_tail_)
      ready_tail_->next = &c;
    else
      ready_head_ = &c;
    ready_tail_ = &c;
    return;
  }
  if (sync_waiter* w = c.waiter) {
    // The caller publishes and finishes on its own thread; c is not touched again here.
    w->hr = hr;
    w->done.store(1, std::memory_order_release);
    w->done.notify_all();
    return;
  }
  void* owner = c.owner;
  auto finish = c.finish;
  if (c.publish) c.publish(owner, hr);
  if (finish) finish(owner, false);
}

}  // namespace openwws::core
