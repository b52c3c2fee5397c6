// SPDX-License-Identifier: MIT
// The loop's timers: intrusive nodes in a binary min-heap of steady-clock deadlines.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace openwws::core {

using timer_clock = std::chrono::steady_clock;

// A timer embedded in the object it serves (listener, channel, handshake), so that
// arming it never allocates. It is not copyable or movable: the queue links to it.
// Its owner stops it before destroying it.
class timer {
public:
  // Runs on the loop thread, inside timer_queue::run_due, with the timer disarmed.
  using callback = void (*)(timer&) noexcept;

  explicit timer(void* owner = nullptr) noexcept : owner_(owner) {}
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  void* owner() const noexcept { return owner_; }  // what the callback works on
  timer_clock::time_point deadline() const noexcept { return deadline_; }  // of the last start

private:
  friend class timer_queue;
  enum class where : std::uint8_t { idle, heap, due_list };

  void* owner_;
  callback callback_ = nullptr;
  timer_clock::time_point deadline_{};
  std::uint64_t sequence_ = 0;  // start order, breaks ties between equal deadlines
  // In the heap: parent and children. In the due list: left_ is previous, right_ next.
  timer* parent_ = nullptr;
  timer* left_ = nullptr;
  timer* right_ = nullptr;
  where where_ = where::idle;
};

// The timers of one loop. Single-threaded by contract: the loop thread owns the queue
// and every timer armed in it, and calls every member; nothing here locks. Nothing
// allocates: start and stop are O(log n) pointer moves, n the number armed.
class timer_queue {
public:
  using time_point = timer_clock::time_point;

  timer_queue() = default;
  timer_queue(const timer_queue&) = delete;
  timer_queue& operator=(const timer_queue&) = delete;

  // Arms t to call cb once at deadline. An armed t is moved (restarted), and then
  // counts as started last among equal deadlines. Safe inside any callback.
  void start(timer& t, time_point deadline, timer::callback cb) noexcept;
  // Disarms t; a no-op when t is not armed. Safe inside any callback, for any timer,
  // the firing one included; once it returns, t may be destroyed.
  void stop(timer& t) noexcept;
  bool armed(const timer& t) const noexcept { return t.where_ != timer::where::idle; }
  std::size_t size() const noexcept { return heap_count_ + due_count_; }  // armed timers

  // The earliest deadline armed, or nothing when no timer is armed.
  std::optional<time_point> next_deadline() const noexcept;
  // How long the poller may wait at now: -1 when no timer is armed, 0 when one is
  // due, else milliseconds rounded up (so that the loop never wakes early and spins),
  // at most INT_MAX.
  int wait_ms(time_point now) const noexcept;
  // Fires, in (deadline, start) order, each timer whose deadline is <= now when the
  // call begins, exactly once; returns how many fired. A timer started by a callback
  // fires on the next call even if already due, as libuv does: a callback that
  // re-arms itself at now cannot keep this call from returning. Not reentrant.
  std::size_t run_due(time_point now) noexcept;

private:
  static bool earlier(const timer& a, const timer& b) noexcept;
  timer** link_to_slot(std::size_t slot, timer*& parent) noexcept;
  void heap_insert(timer& t) noexcept;
  void heap_remove(timer& t) noexcept;
  void swap_with_parent(timer& child) noexcept;
  void due_unlink(timer& t) noexcept;

  timer* root_ = nullptr;
  std::size_t heap_count_ = 0;
  timer* due_head_ = nullptr;  // taken from the heap by run_due, not fired yet
  timer* due_tail_ = nullptr;
  std::size_t due_count_ = 0;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace openwws::core
