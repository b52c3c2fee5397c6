// SPDX-License-Identifier: MIT
// The loop's queues, callback delivery and timers, whatever drives it.
#include "core/loop.h"

#include "core/error.h"

#include <cerrno>
#include <string>

namespace openwws::core {

namespace {

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

// ---- starting ------------------------------------------------------------------------

HRESULT loop::start_backend() noexcept {
  std::unique_ptr<platform::backend> made;
  std::string why;
  int rc = make_backend(made, why);
  if (rc < 0) {
    unusable_hr_ = is_shortage(-rc) ? WS_E_QUOTA_EXCEEDED : WS_E_NOT_SUPPORTED;
    try {
      unusable_why_ = why.empty() ? "cannot start the I/O backend" : why;
    } catch (const std::bad_alloc&) {
    }
    return unusable_hr_;
  }
  backend_ = std::move(made);
  if (!start_driver()) {
    backend_.reset();
    unusable_hr_ = WS_E_QUOTA_EXCEEDED;
    unusable_why_ = "cannot start the I/O thread";
    return unusable_hr_;
  }
  usable_.store(true, std::memory_order_release);
  return S_OK;
}

HRESULT loop::check_usable(WS_ERROR* error, const char* fn) noexcept {
  if (usable_.load(std::memory_order_acquire)) return S_OK;
  std::lock_guard lock(start_mu_);
  // A shortage is tried again: it passes when descriptors or memory come back.
  if (!usable_.load(std::memory_order_relaxed) && unusable_hr_ != WS_E_NOT_SUPPORTED) start_backend();
  if (usable_.load(std::memory_order_relaxed)) return S_OK;
  return fail(error, unusable_hr_, std::string(fn) + ": " + unusable_why_);
}

// ---- commands and callbacks ----------------------------------------------------------

void loop::post(command& c) noexcept {
  command* head = incoming_.load(std::memory_order_relaxed);
  do {
    c.next = head;
  } while (!incoming_.compare_exchange_weak(head, &c, std::memory_order_seq_cst, std::memory_order_relaxed));
  // Dekker with prepare_to_sleep(): it sets sleeping_ and then looks at incoming_; we
  // push and then look at sleeping_. One of us sees the other, so no post is left asleep.
  if (sleeping_.load(std::memory_order_seq_cst) && sleeping_.exchange(false)) wake();
}

bool loop::prepare_to_sleep() noexcept {
  sleeping_.store(true, std::memory_order_seq_cst);
  return incoming_.load(std::memory_order_seq_cst) != nullptr || ready_head_ != nullptr;
}

void loop::drain_commands() noexcept {
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

completion* loop::pop_ready() noexcept {
  completion* c = ready_head_;
  if (c) {
    ready_head_ = c->next;
    if (!ready_head_) ready_tail_ = nullptr;
  }
  return c;
}

void loop::poll_io(int timeout_ms) noexcept {
  int bound = timers_.wait_ms(timer_clock::now());
  if (bound >= 0 && (timeout_ms < 0 || bound < timeout_ms)) timeout_ms = bound;
  backend_->run_once(timeout_ms);
  if (timers_.size()) timers_.run_due(timer_clock::now());
}

void loop::invoke(completion& c, WS_CALLBACK_MODEL model) noexcept {
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

bool loop::delivering(const void* owner) noexcept { return owner && tls_delivery && tls_delivery->owner == owner; }

bool loop::delivering_group(const void* group) noexcept {
  const delivery* d = tls_delivery;
  return group && d && d->group == group && !d->group_taken;
}

bool loop::take_group_delivery(const void* group) noexcept {
  if (!delivering_group(group)) return false;
  tls_delivery->group_taken = true;
  return true;
}

void loop::complete(completion& c, HRESULT hr) noexcept {
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
