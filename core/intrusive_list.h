// SPDX-License-Identifier: MIT
// A doubly-linked FIFO threaded through its elements (no allocation), for the
// listener's pending accepts and handshakes. Not thread-safe: its owner guards it.
#pragma once

namespace openwws::core {

template <class T, T* T::*Prev, T* T::*Next>
class intrusive_list {
 public:
  T* front() const noexcept { return head_; }
  bool empty() const noexcept { return head_ == nullptr; }

  void push_back(T& x) noexcept {
    x.*Next = nullptr;
    x.*Prev = tail_;
    if (tail_)
      tail_->*Next = &x;
    else
      head_ = &x;
    tail_ = &x;
  }

  void remove(T& x) noexcept {
    if (x.*Prev)
      (x.*Prev)->*Next = x.*Next;
    else
      head_ = x.*Next;
    if (x.*Next)
      (x.*Next)->*Prev = x.*Prev;
    else
      tail_ = x.*Prev;
    x.*Prev = x.*Next = nullptr;
  }

  T* pop_front() noexcept {
    T* x = head_;
    if (x) remove(*x);
    return x;
  }

  static T* next(const T& x) noexcept { return x.*Next; }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace openwws::core
