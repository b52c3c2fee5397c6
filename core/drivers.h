// SPDX-License-Identifier: MIT
// What drives a loop: openwws's own threads (thread_loop, the process's default), or an
// application's event loop (host_loop).
#pragma once

#include "core/loop.h"

#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

struct uv_loop_s;

namespace openwws::core {

// The process's default loop, run by threads of its own. Whichever of them holds the
// role runs the loop. A SHORT callback runs on it, role held. A LONG callback also
// runs on the thread that dequeued its completion (no hop, as Windows' I/O completion
// threads do), but the role is let go first; if the callback is still running after
// takeover_delay, a monitor thread takes the role over, so a callback that blocks for
// seconds delays other completions by at most that delay. Threads that let the role
// go stay parked rather than exit: io_uring ties requests to the thread that submitted
// them and cancels them when it exits.
class thread_loop final : public loop {
 public:
  static constexpr std::chrono::microseconds takeover_delay{2000};

  // Takes a reference on the process's default loop, making it on first use. A loop
  // without a usable backend is still returned (see check_usable).
  static HRESULT acquire(loop*& out, WS_ERROR* error) noexcept;
  void retain() noexcept override;
  // The last reference stops the threads, unless it comes from one of them.
  void release() noexcept override;

  bool on_loop_thread() const noexcept override;
  const char* why_sync_refused() const noexcept override {
    return "a synchronous call from a WS_SHORT_CALLBACK would block the I/O thread";
  }

 private:
  thread_loop() = default;
  ~thread_loop() override = default;
  int make_backend(std::unique_ptr<platform::backend>& out, std::string& why) noexcept override;
  bool start_driver() noexcept override { return spawn(false); }
  bool spawn(bool as_monitor) noexcept;
  void thread_main(bool as_monitor) noexcept;
  bool run() noexcept;  // false: the role was lost while in a LONG callback
  bool deliver_ready() noexcept;
  bool monitor() noexcept;  // true: took the role over
  void arm_monitor() noexcept;
  bool park() noexcept;  // false: stopping
  bool call_monitor() noexcept;
  void stop() noexcept;

  std::size_t refs_ = 0;  // guarded by the process-wide mutex of acquire
  std::mutex role_;       // held by the thread running the loop
  std::atomic<std::int64_t> role_free_since_{0};  // steady-clock ns; 0 while held
  std::atomic<bool> stopping_{false};

  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  std::condition_variable park_cv_;
  std::atomic<bool> monitor_present_{false};
  std::atomic<bool> monitor_armed_{false};
  std::chrono::steady_clock::time_point monitor_deadline_{};
  std::uint32_t parked_ = 0;          // guarded by monitor_mu_
  std::uint32_t monitor_wanted_ = 0;  // parked threads asked to become the monitor

  std::mutex threads_mu_;
  std::list<std::thread> threads_;
};

// A loop with no thread of its own, run by the application's event loop: a libuv
// loop it passes in (the backend's handles live on that loop and call into this one),
// or any other loop, which watches descriptor(), waits at most timeout_ms() and then
// calls run(). Every callback runs on the host's thread, as WS_SHORT_CALLBACK: with no
// thread of openwws's own, nobody could keep the loop going while a LONG one blocks,
// which is when Microsoft's model says to invoke it short. A synchronous call from
// the host's thread would wait for itself and is refused with WS_E_INVALID_OPERATION.
class host_loop final : public loop {
 public:
  // uv: the application's libuv loop, or nullptr for a loop driven through descriptor().
  static HRESULT create(uv_loop_s* uv, host_loop*& out, WS_ERROR* error) noexcept;
  void retain() noexcept override { refs_.fetch_add(1, std::memory_order_relaxed); }
  // The last reference (the application's handle, or the last object on the loop)
  // deletes it.
  void release() noexcept override;

  bool on_loop_thread() const noexcept override;
  const char* why_sync_refused() const noexcept override {
    return "a synchronous call on the thread that runs the host's event loop would wait forever";
  }

  // A descriptor that becomes readable when run() has work (-1 for a libuv host).
  int descriptor() const noexcept { return backend_->poll_fd(); }
  // How long the host may wait before calling run() again: 0 when work is queued, the
  // next timer's deadline otherwise, -1 for no limit.
  int timeout_ms() noexcept;
  // Runs what is ready: commands, I/O, due timers, callbacks. Never blocks. Calls from
  // two threads at once are serialised.
  void run() noexcept;

 private:
  explicit host_loop(uv_loop_s* uv) noexcept : uv_(uv) { end_cmd_.run = run_end; }
  ~host_loop() override = default;
  int make_backend(std::unique_ptr<platform::backend>& out, std::string& why) noexcept override;
  bool start_driver() noexcept override;
  static void on_activity(void* self) noexcept;
  static void on_iteration(void* self) noexcept;
  static void run_end(command& c) noexcept;

  uv_loop_s* uv_;
  std::atomic<std::size_t> refs_{1};
  std::mutex run_mu_;
  std::atomic<std::thread::id> host_thread_{};  // the thread that ran the loop last
  bool doomed_ = false;                         // released inside run(): run() deletes
  command end_cmd_;                             // the last release, off the host's thread
};

}  // namespace openwws::core
