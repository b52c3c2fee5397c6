// SPDX-License-Identifier: MIT
// The runtime: one I/O loop thread that owns the backend, a lock-free command queue
// into it, and a pool of threads for WS_LONG_CALLBACK completions.
#pragma once

#include <webservices.h>

#include "platform/backend.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace openwws::core {

// Work for the loop thread, embedded in the object it belongs to (no allocation).
// A command is in the queue at most once at a time; its owner keeps it alive until run.
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
  // Takes a reference on the process's runtime, starting it on first use.
  // S_OK, or an HRESULT with a sentence in error (no backend, no thread).
  static HRESULT acquire(runtime*& out, WS_ERROR* error) noexcept;
  // Drops a reference; the last one stops the threads, unless it comes from one of them.
  static void release() noexcept;

  // Queues c to run on the loop thread, in FIFO order with other posts. Any thread.
  void post(command& c) noexcept;
  // Reports c's result: wakes its synchronous caller, or runs its callback (SHORT on
  // the loop thread after the current turn, LONG on a pool thread). An async
  // completion must be reported from the loop thread.
  void complete(completion& c, HRESULT hr) noexcept;

  bool on_loop_thread() const noexcept;

  // True while this thread runs a callback whose completion's after_owner is owner
  // and whose `after` step has not been taken over (see consume_delivery).
  static bool delivering_for(const void* owner) noexcept;
  // The caller does that completion's `after` work itself (e.g. a WsCloseListener
  // inside an accept callback, which must not wait for its own callback to return).
  static void consume_delivery() noexcept;
  platform::backend& io() noexcept { return *backend_; }
  std::string_view backend_name() const noexcept { return backend_ ? backend_->name() : "unavailable"; }
  // S_OK when the runtime has a backend; otherwise fails with the reason (e.g.
  // OPENWWS_BACKEND names a backend this machine lacks). Opening anything needs it.
  HRESULT check_usable(WS_ERROR* error, const char* fn) const noexcept;

 private:
  runtime() = default;
  void loop() noexcept;
  void drain_commands() noexcept;
  void drain_ready() noexcept;
  void deliver_long(completion& c) noexcept;
  void worker() noexcept;
  static void invoke(completion& c, WS_CALLBACK_MODEL model) noexcept;
  void stop() noexcept;

  std::unique_ptr<platform::backend> backend_;
  std::string unusable_why_;
  HRESULT unusable_hr_ = S_OK;
  std::thread loop_thread_;
  std::atomic<command*> incoming_{nullptr};  // Treiber stack, reversed when drained
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> stopping_{false};
  completion* ready_head_ = nullptr;  // SHORT callbacks; loop thread only
  completion* ready_tail_ = nullptr;

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  completion* pool_head_ = nullptr;
  completion* pool_tail_ = nullptr;
  std::size_t pool_queued_ = 0;
  std::size_t pool_idle_ = 0;
  bool pool_stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace openwws::core
