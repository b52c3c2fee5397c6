// SPDX-License-Identifier: MIT
// A binary min-heap kept as a tree of pointers (as libuv's heap-inl.h does), so that
// the nodes can live inside their owners: no array to grow, no allocation to fail.
#include "core/timers.h"

#include <bit>
#include <climits>

namespace openwws::core {

// Equal deadlines fire in start order, which the heap alone would not keep.
bool timer_queue::earlier(const timer& a, const timer& b) noexcept {
  return a.deadline_ < b.deadline_ || (a.deadline_ == b.deadline_ && a.sequence_ < b.sequence_);
}

void timer_queue::start(timer& t, time_point deadline, timer::callback cb) noexcept {
  stop(t);
  t.deadline_ = deadline;
  t.callback_ = cb;
  t.sequence_ = next_sequence_++;  // 2^64 starts: no wrap in practice
  heap_insert(t);
}

void timer_queue::stop(timer& t) noexcept {
  if (t.where_ == timer::where::heap) heap_remove(t);
  else if (t.where_ == timer::where::due_list) due_unlink(t);
  t.where_ = timer::where::idle;
}

std::optional<timer_queue::time_point> timer_queue::next_deadline() const noexcept {
  // The due list is non-empty only while run_due runs; a callback may still ask.
  if (due_head_ && (!root_ || due_head_->deadline_ < root_->deadline_)) return due_head_->deadline_;
  if (root_) return root_->deadline_;
  return std::nullopt;
}

int timer_queue::wait_ms(time_point now) const noexcept {
  auto next = next_deadline();
  if (!next) return -1;
  if (*next <= now) return 0;
  // Rounded up: a poller that woke a fraction of a millisecond early would find
  // nothing due and wait 0 ms until the deadline, spinning. Clamped before it narrows
  // to int, for far deadlines such as time_point::max().
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return left >= INT_MAX ? INT_MAX : static_cast<int>(left);
}

std::size_t timer_queue::run_due(time_point now) noexcept {
  // First take every due timer out of the heap, in order; then fire from that list.
  // Firing straight from the heap would fire a timer that a callback re-armed at now
  // again in this pass, forever. The list is doubly linked so that a callback can
  // stop (and free) or restart any timer still on it.
  while (root_ && root_->deadline_ <= now) {
    timer& t = *root_;
    heap_remove(t);
    t.where_ = timer::where::due_list;
    t.left_ = due_tail_;
    t.right_ = nullptr;
    (due_tail_ ? due_tail_->right_ : due_head_) = &t;
    due_tail_ = &t;
    ++due_count_;
  }
  std::size_t fired = 0;
  while (due_head_) {
    timer& t = *due_head_;
    due_unlink(t);
    t.where_ = timer::where::idle;  // disarmed before the callback, which may re-arm it
    t.callback_(t);  // last touch of t: the callback may destroy it
    ++fired;
  }
  return fired;
}

void timer_queue::due_unlink(timer& t) noexcept {
  (t.left_ ? t.left_->right_ : due_head_) = t.right_;
  (t.right_ ? t.right_->left_ : due_tail_) = t.left_;
  t.left_ = t.right_ = nullptr;
  --due_count_;
}

// The link (root_ or a child pointer) at which heap slot number slot (1-based, in
// breadth-first order) hangs, and that slot's parent. The bits of slot after its
// leading 1 spell the path from the root: 0 goes left, 1 goes right.
timer** timer_queue::link_to_slot(std::size_t slot, timer*& parent) noexcept {
  timer** link = &root_;
  parent = nullptr;
  for (int bit = static_cast<int>(std::bit_width(slot)) - 2; bit >= 0; --bit) {
    parent = *link;
    link = (slot >> bit) & 1 ? &parent->right_ : &parent->left_;
  }
  return link;
}

void timer_queue::heap_insert(timer& t) noexcept {
  timer* parent;
  *link_to_slot(++heap_count_, parent) = &t;  // the first free slot keeps the tree complete
  t.parent_ = parent;
  t.left_ = t.right_ = nullptr;
  t.where_ = timer::where::heap;
  while (t.parent_ && earlier(t, *t.parent_))
    swap_with_parent(t);
}

void timer_queue::heap_remove(timer& t) noexcept {
  // The last slot's node fills the hole, which keeps the tree complete, then moves
  // down or up to where its deadline belongs.
  timer* last_parent;
  timer** last_link = link_to_slot(heap_count_--, last_parent);
  timer* last = *last_link;
  *last_link = nullptr;
  if (last != &t) {
    last->parent_ = t.parent_;
    last->left_ = t.left_;
    last->right_ = t.right_;
    if (last->left_) last->left_->parent_ = last;
    if (last->right_) last->right_->parent_ = last;
    if (!t.parent_) root_ = last;
    else (t.parent_->left_ == &t ? t.parent_->left_ : t.parent_->right_) = last;
    for (;;) {
      timer* child = last->left_;
      if (last->right_ && earlier(*last->right_, *child))
        child = last->right_;
      if (!child || !earlier(*child, *last)) break;
      swap_with_parent(*child);
    }
    while (last->parent_ && earlier(*last, *last->parent_))
      swap_with_parent(*last);
  }
  t.parent_ = t.left_ = t.right_ = nullptr;
}

// Exchanges child and its parent in the tree: six links move, no node is copied.
void timer_queue::swap_with_parent(timer& child) noexcept {
  timer& parent = *child.parent_;
  timer* grandparent = parent.parent_;
  timer* child_left = child.left_;
  timer* child_right = child.right_;
  if (parent.left_ == &child) {
    child.left_ = &parent;
    child.right_ = parent.right_;
    if (child.right_) child.right_->parent_ = &child;
  } else {
    child.right_ = &parent;
    child.left_ = parent.left_;
    if (child.left_) child.left_->parent_ = &child;
  }
  parent.left_ = child_left;
  parent.right_ = child_right;
  if (child_left) child_left->parent_ = &parent;
  if (child_right) child_right->parent_ = &parent;
  parent.parent_ = &child;
  child.parent_ = grandparent;
  if (!grandparent) root_ = &child;
  else (grandparent->left_ == &parent ? grandparent->left_ : grandparent->right_) = &child;
}

}  // namespace openwws::core
