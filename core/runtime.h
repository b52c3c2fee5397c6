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

// How one operation reports its result: to a blocked caller, or to a callback.
struct completion {
  completion* next = nullptr;
  WS_ASYNC_CALLBACK callback = nullptr;  // NULL: a synchronous caller waits on done
  void* callback_state = nullptr;
  WS_CALLBACK_MODEL model = WS_LONG_CALLBACK;
  HRESULT hr = S_OK;
  std::atomic<std::uint32_t> done{0};
  // Runs once the caller has been told (after the callback returned, or before a
  // synchronous waiter is released), e.g. to let a close that waits go on.
  void (*after)(void* owner) noexcept = nullptr;
  void* after_owner = nullptr;

  // Arms for a new operation: ctx NULL means synchronous.
  void prepare(const WS_ASYNC_CONTEXT* ctx, WS_CALLBACK_MODEL preferred) noexcept;
  // For a synchronous caller: blocks until the operation completed, returns its hr.
  HRESULT wait() noexcept;
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
  // Reports c's result: wakes its synchronous caller, or queues its callback to run
  // after the current loop turn. Called by the loop (the role holder) only, except
  // for synchronous completions.
  void complete(completion& c, HRESULT hr) noexcept;

  // True on the thread that holds the loop role right now.
  bool on_loop_thread() const noexcept;
  platform::backend& io() noexcept { return *backend_; }
  std::string_view backend_name() const noexcept { return backend_ ? backend_->name() : "unavailable"; }
  // S_OK when the runtime has a backend; otherwise fails with the reason (e.g.
  // OPENWWS_BACKEND names a backend this machine lacks). Opening anything needs it.
  HRESULT check_usable(WS_ERROR* error, const char* fn) const noexcept;

  // True while this thread runs a callback whose completion's after_owner is owner
  // and whose `after` step has not been taken over (see consume_delivery).
  static bool delivering_for(const void* owner) noexcept;
  // The caller does that completion's `after` work itself (e.g. a WsCloseListener
  // inside an accept callback, which must not wait for its own callback to return).
  static void consume_delivery() noexcept;

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
  void stop() noexcept;

  std::unique_ptr<platform::backend> backend_;
  std::string unusable_why_;
  HRESULT unusable_hr_ = S_OK;

  std::mutex role_;  // held by the thread running the loop
  std::atomic<std::int64_t> role_free_since_{0};  // steady-clock ns; 0 while held
  std::atomic<command*> incoming_{nullptr};  // Treiber stack, reversed when drained
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};
  completion* ready_head_ = nullptr;  // callbacks due; the role holder's
  completion* ready_tail_ = nullptr;

  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  std::atomic<bool> monitor_present_{false};
  std::atomic<bool> monitor_armed_{false};
  std::chrono::steady_clock::time_point monitor_deadline_{};

  struct worker_thread {
    std::thread thread;
    std::atomic<bool> finished{false};
  };
  std::mutex threads_mu_;
  std::list<worker_thread> threads_;
};

}  // namespace openwws::core
