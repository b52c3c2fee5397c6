// SPDX-License-Identifier: MIT
// The runtime: the I/O loop that owns the backend, a lock-free command queue into it,
// and callback delivery for both callback models.
//
// Threads: whichever internal thread holds the loop role runs the loop. A SHORT
// callback runs on it, role held. A LONG callback also runs on the thread that
// dequeued its completion (no hop, as Windows' I/O completion threads do), but the
// role is let go first; if the callback is still running after takeover_delay, a
// monitor thread takes the role over, so a callback that blocks for seconds delays
// other completions by at most that delay.
#pragma once

#include <webservices.h>

#include "core/timers.h"
#include "platform/backend.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

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
  // (an accept's listener), as runtime::delivering sees them.
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

class runtime {
 public:
  // How long a LONG callback may hold up the loop before another thread takes it.
  static constexpr std::chrono::microseconds takeover_delay{2000};

  // Takes a reference on the process's runtime, starting it on first use. A runtime
  // without a usable backend is still returned (see check_usable).
  static HRESULT acquire(runtime*& out, WS_ERROR* error) noexcept;
  // Drops a reference; the last one stops the threads, unless it comes from one of them.
  static void release() noexcept;

  // Queues c to run on the loop, in FIFO order with other posts. Any thread.
  void post(command& c) noexcept;
  // Reports c's result: wakes its synchronous caller (who publishes and finishes), or
  // queues its callback to run after the current loop turn, or, with nobody to tell,
  // publishes and finishes at once. Called by the loop (the role holder) only.
  void complete(completion& c, HRESULT hr) noexcept;

  // The loop's timers: their next deadline bounds the loop's wait; a due timer's
  // callback runs on the loop thread. Loop thread only (e.g. from a command).
  timer_queue& timers() noexcept { return timers_; }

  // True on the thread that holds the loop role right now.
  bool on_loop_thread() const noexcept;
  platform::backend& io() noexcept { return *backend_; }
  std::string_view backend_name() const noexcept {
    return usable_.load(std::memory_order_acquire) ? backend_->name() : "unavailable";
  }
  // S_OK when the runtime has a backend; otherwise fails with the reason (e.g.
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
  // True when a call on this thread may block until other operations report: not on
  // the loop thread, and not inside a callback of owner's own.
  bool may_wait_for(const void* owner) const noexcept { return !on_loop_thread() && !delivering(owner); }

 private:
  runtime() = default;
  bool spawn(bool as_monitor) noexcept;
  void thread_main(bool as_monitor) noexcept;
  bool run_loop() noexcept;  // false: the role was lost while in a LONG callback
  void drain_commands() noexcept;
  bool drain_ready() noexcept;
  bool monitor() noexcept;  // true: took the role over
  void arm_monitor() noexcept;
  static void invoke(completion& c, WS_CALLBACK_MODEL model) noexcept;
  bool park() noexcept;  // false: stopping
  bool call_monitor() noexcept;
  HRESULT start_backend() noexcept;
  void stop() noexcept;

  std::unique_ptr<platform::backend> backend_;
  std::atomic<bool> usable_{false};
  std::mutex start_mu_;  // guards starting the backend and the two below
  std::string unusable_why_;
  HRESULT unusable_hr_ = S_OK;

  std::mutex role_;  // held by the thread running the loop
  std::atomic<std::int64_t> role_free_since_{0};  // steady-clock ns; 0 while held
  std::atomic<command*> incoming_{nullptr};  // Treiber stack, reversed when drained
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};
  timer_queue timers_;                // the role holder's
  completion* ready_head_ = nullptr;  // callbacks due; the role holder's
  completion* ready_tail_ = nullptr;

  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  std::condition_variable park_cv_;
  std::atomic<bool> monitor_present_{false};
  std::atomic<bool> monitor_armed_{false};
  std::chrono::steady_clock::time_point monitor_deadline_{};
  // Threads that let the loop go stay parked rather than exit: io_uring ties requests
  // to the thread that submitted them, and cancels them when it exits.
  std::uint32_t parked_ = 0;          // guarded by monitor_mu_
  std::uint32_t monitor_wanted_ = 0;  // parked threads asked to become the monitor

  struct worker_thread {
    std::thread thread;
  };
  std::mutex threads_mu_;
  std::list<worker_thread> threads_;
};

}  // namespace openwws::core
