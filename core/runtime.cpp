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

// The after_owner of the completion whose callback this thread is running.
thread_local const void* tls_delivering = nullptr;

// More pool threads than this and LONG callbacks queue for a free one.
constexpr std::size_t max_workers = 256;

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
    if (rt->backend_) {
      try {
        rt->loop_thread_ = std::thread([r = rt.get()] { r->loop(); });
      } catch (const std::system_error&) {
        return fail(error, E_OUTOFMEMORY, "cannot start the I/O thread");
      }
    }
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
  loop_thread_.join();
  {
    std::lock_guard lock(pool_mu_);
    pool_stop_ = true;
  }
  pool_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

bool runtime::on_loop_thread() const noexcept {
  return tls_internal == this && std::this_thread::get_id() == loop_thread_.get_id();
}

void runtime::post(command& c) noexcept {
  command* head = incoming_.load(std::memory_order_relaxed);
  do {
    c.next = head;
  } while (!incoming_.compare_exchange_weak(head, &c, std::memory_order_seq_cst, std::memory_order_relaxed));
  // Dekker with loop(): it sets sleeping_ and then looks at incoming_; we push and then
  // look at sleeping_. One of us sees the other, so no post is left asleep.
  if (sleeping_.load(std::memory_order_seq_cst) && sleeping_.exchange(false)) backend_->wake();
}

void runtime::loop() noexcept {
  tls_internal = this;
  while (!stopping_.load(std::memory_order_relaxed)) {
    drain_commands();
    drain_ready();
    sleeping_.store(true, std::memory_order_seq_cst);
    bool idle = incoming_.load(std::memory_order_seq_cst) == nullptr && ready_head_ == nullptr &&
                !stopping_.load(std::memory_order_relaxed);
    backend_->run_once(idle ? -1 : 0);
    sleeping_.store(false, std::memory_order_relaxed);
  }
  drain_commands();
  drain_ready();
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

void runtime::drain_ready() noexcept {
  while (completion* c = ready_head_) {
    ready_head_ = c->next;
    if (!ready_head_) ready_tail_ = nullptr;
    invoke(*c, WS_SHORT_CALLBACK);
  }
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
  if (c.model == WS_LONG_CALLBACK) {
    deliver_long(c);
    return;
  }
  c.next = nullptr;
  if (ready_tail_)
    ready_tail_->next = &c;
  else
    ready_head_ = &c;
  ready_tail_ = &c;
}

void runtime::deliver_long(completion& c) noexcept {
  std::unique_lock lock(pool_mu_);
  c.next = nullptr;
  if (pool_tail_)
    pool_tail_->next = &c;
  else
    pool_head_ = &c;
  pool_tail_ = &c;
  ++pool_queued_;
  // Every queued callback gets a thread of its own, so one that blocks for seconds
  // delays no other completion.
  if (pool_queued_ > pool_idle_ && workers_.size() < max_workers) {
    try {
      workers_.emplace_back([this] { worker(); });
    } catch (const std::exception&) {
      if (workers_.empty()) {
        // No thread for a long callback: Microsoft's model says invoke it short.
        pool_head_ = pool_tail_ = nullptr;
        pool_queued_ = 0;
        lock.unlock();
        invoke(c, WS_SHORT_CALLBACK);
        return;
      }
    }
  }
  lock.unlock();
  pool_cv_.notify_one();
}

void runtime::worker() noexcept {
  tls_internal = this;
  std::unique_lock lock(pool_mu_);
  for (;;) {
    if (completion* c = pool_head_) {
      pool_head_ = c->next;
      if (!pool_head_) pool_tail_ = nullptr;
      --pool_queued_;
      lock.unlock();
      invoke(*c, WS_LONG_CALLBACK);
      lock.lock();
      continue;
    }
    if (pool_stop_) return;
    ++pool_idle_;
    pool_cv_.wait(lock);
    --pool_idle_;
  }
}

}  // namespace openwws::core
