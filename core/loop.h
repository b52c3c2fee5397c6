// SPDX-License-Identifier: MIT
// The loop: one I/O backend, a lock-free command queue into it, the callbacks due,
// timers, and one turn of work. What drives it is a separate concern, a driver
// (core/drivers.h): openwws's own threads (the process's default loop), or an
// application's event loop (libuv, or any loop through a pollable descriptor).
//
// The rules every driver keeps: one thread at a time runs the loop (it "holds the
// role"); commands run in the order posted; an operation's result reaches its caller
// once, and its callback never runs on the thread that started it before that call
// returned (a command runs on the loop, after the post).
#pragma once

#include <webservices.h>

#include "core/timers.h"
#include "platform/backend.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace openwws::core {

// The object that embeds member (a command, an op) as its field ptr.
template <typename T, typename M>
T& owner_of(M& member, M T::*ptr) noexcept {
  auto offset = reinterpret_cast<std::uintptr_t>(&(static_cast<T*>(nullptr)->*ptr));
  return *reinterpret_cast<T*>(reinterpret_cast<char*>(&member) - offset);
}

// Work for the loop, embedded in the object it belongs to (no allocation). A command
// is in the queue at most once at a time; its owner keeps it alive until run.
struct command {
  command* next = nullptr;
  void (*run)(command&) noexcept = nullptr;
};

// Where a synchronous caller waits for its operation's result: on its own stack, so
// that nothing of the object's is still in use once the loop has let it go.
struct sync_waiter {
  std::atomic<std::uint32_t> done{0};
  HRESULT hr = S_OK;
  HRESULT wait() noexcept;
};

// How one operation reports its result: to a synchronous caller, to a callback, or (an
// operation the library started for itself) to nobody. Embedded in its object; in use
// from arm() until the report has begun, and never re-armed before that, because the
// object's new state is published only then (see publish).
struct completion {
  completion* next = nullptr;
  WS_ASYNC_CALLBACK callback = nullptr;
  void* callback_state = nullptr;
  WS_CALLBACK_MODEL model = WS_LONG_CALLBACK;
  HRESULT hr = S_OK;
  sync_waiter* waiter = nullptr;
  // The object the operation belongs to, and the one whose bookkeeping counts it too
  // (an accept's listener), as loop::delivering sees them.
  void* owner = nullptr;
  const void* group = nullptr;
  // Publishes the state the operation led to, immediately before its caller is told:
  // on the loop before a callback, on the caller's thread after a synchronous wait. An
  // object never shows a new state while the report of the operation behind it is
  // still on its way, so no one can start another operation on the object before.
  void (*publish)(void* owner, HRESULT hr) noexcept = nullptr;
  // Runs once the callback returned (or right after publish when nobody is told):
  // bookkeeping that may delete the owner. group_taken: a call made inside the
  // callback took over the group's part (see take_group_delivery).
  void (*finish)(void* owner, bool group_taken) noexcept = nullptr;

  // Arms for a new operation: ctx NULL means a synchronous caller waiting on waiter,
  // or, with waiter NULL too, nobody to tell.
  void arm(const WS_ASYNC_CONTEXT* ctx, WS_CALLBACK_MODEL preferred, sync_waiter* w) noexcept;
  // The synchronous caller's side: waits on w, then publishes and finishes on this
  // thread. Returns the operation's result; the owner may be gone by then.
  HRESULT wait_and_report(sync_waiter& w) noexcept;
};

class loop {
 public:
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  // References held by the objects on this loop (and, for a hosted loop, by the
  // application's handle). The last release ends the loop (see the drivers).
  virtual void retain() noexcept = 0;
  virtual void release() noexcept = 0;

  // Queues c to run on the loop, in FIFO order with other posts. Any thread.
  void post(command& c) noexcept;
  // Reports c's result: wakes its synchronous caller (who publishes and finishes), or
  // queues its callback to run after the current loop turn, or, with nobody to tell,
  // publishes and finishes at once. Loop thread only, but for a synchronous caller's.
  void complete(completion& c, HRESULT hr) noexcept;
  // The loop's timers: their next deadline bounds the loop's wait; a due timer's
  // callback runs on the loop thread. Loop thread only (e.g. from a command).
  timer_queue& timers() noexcept { return timers_; }
  platform::backend& io() noexcept { return *backend_; }

  // True on the thread that runs this loop: the role holder, or a host loop's thread,
  // where a synchronous call would wait for itself.
  virtual bool on_loop_thread() const noexcept = 0;
  // Whether the loop's last wait for I/O slept (it had nothing to do): an accept then
  // most likely finds no connection queued. A hint, read from any thread once the
  // loop is usable (as every accept's listener is).
  bool last_poll_slept() const noexcept { return backend_->last_wait_slept(); }
  // True when a call on this thread may block until other operations report: not on
  // the loop thread, and not inside a callback of owner's own.
  bool may_wait_for(const void* owner) const noexcept { return !on_loop_thread() && !delivering(owner); }
  // What a refused synchronous call says, after "<function>: ".
  virtual const char* why_sync_refused() const noexcept = 0;

  std::string_view backend_name() const noexcept {
    return usable_.load(std::memory_order_acquire) ? backend_->name() : "unavailable";
  }
  // S_OK when the loop has a backend; otherwise fails with the reason (e.g.
  // OPENWWS_BACKEND names a backend this machine lacks). Opening anything needs it. A
  // shortage (no descriptor or memory for the backend) is WS_E_QUOTA_EXCEEDED and is
  // tried again by the next call, so it passes when the shortage does.
  HRESULT check_usable(WS_ERROR* error, const char* fn) noexcept;

  // True while this thread runs a callback of an operation of owner's.
  static bool delivering(const void* owner) noexcept;
  // True, once, while this thread runs a callback of an operation counted by group (an
  // accept of that listener): the caller then does the group's part of finish itself
  // (e.g. a WsCloseListener inside an accept callback, which must not wait for that
  // callback to return).
  static bool take_group_delivery(const void* group) noexcept;
  // Whether take_group_delivery(group) would succeed, without taking it.
  static bool delivering_group(const void* group) noexcept;

 protected:
  loop() = default;
  virtual ~loop() = default;

  // Makes a backend for this loop and starts the driver (start_driver); a failure is
  // remembered for check_usable. Called with start_mu_ held.
  HRESULT start_backend() noexcept;
  virtual int make_backend(std::unique_ptr<platform::backend>& out, std::string& why) noexcept = 0;
  virtual bool start_driver() noexcept = 0;
  // A post found the loop possibly asleep.
  virtual void wake() noexcept { backend_->wake(); }

  // The pieces of a turn, for the driver that holds the role.
  void drain_commands() noexcept;
  completion* pop_ready() noexcept;
  bool has_ready() const noexcept { return ready_head_ != nullptr; }
  bool has_posted() const noexcept { return incoming_.load(std::memory_order_acquire) != nullptr; }
  // Waits for I/O up to timeout_ms, bounded by the timers (-1: only they bound it),
  // then fires the timers that are due.
  void poll_io(int timeout_ms) noexcept;
  // Before a wait: announce sleep and say whether anything is queued already (the
  // Dekker pair with post: one of the two sees the other).
  bool prepare_to_sleep() noexcept;
  void woke() noexcept { sleeping_.store(false, std::memory_order_relaxed); }
  // Runs c's callback with this model, then its finish. c may be re-armed, and its
  // owner freed, as soon as it has been published.
  static void invoke(completion& c, WS_CALLBACK_MODEL model) noexcept;

  std::unique_ptr<platform::backend> backend_;
  std::atomic<bool> usable_{false};
  std::mutex start_mu_;  // guards starting the backend and the two below
  std::string unusable_why_;
  HRESULT unusable_hr_ = S_OK;

 private:
  std::atomic<command*> incoming_{nullptr};  // Treiber stack, reversed when drained
  std::atomic<bool> sleeping_{false};
  timer_queue timers_;                // the role holder's
  completion* ready_head_ = nullptr;  // callbacks due; the role holder's
  completion* ready_tail_ = nullptr;
};

}  // namespace openwws::core
