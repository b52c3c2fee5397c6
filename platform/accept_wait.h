// SPDX-License-Identifier: MIT
// A thread's own wait for a connection on a listening socket: the kernel wakes this
// thread directly when one arrives (no hop through the I/O thread), and, where several
// threads wait on one socket, only one of them. Another thread ends the wait with
// wake(). Where the platform has no such wait, this_thread_accept_waiter() is null and
// callers wait through the loop.
#pragma once

#include <cstdint>

namespace openwws::platform {

class accept_waiter;

// The calling thread's waiter, made on first use; nullptr where there is none, or
// when making it failed (descriptors ran out).
accept_waiter* this_thread_accept_waiter() noexcept;

// Blocks until listen_fd may have a connection to accept (returns 1) or wake() was
// called (returns 0; a wake that came before the call counts, once). Both may be true:
// 0 wins, and the caller checks why it was woken. -errno on failure. socket_id names
// the listening socket (listener_slot::id): the waiter may keep watching it between
// calls, and descriptor numbers are reused.
int wait_for_connection(accept_waiter& w, int listen_fd, std::uint64_t socket_id) noexcept;

// Whether the calling thread's last wait_for_connection slept before it returned: the
// thread found nothing queued then, and likely will again. Makes no waiter.
bool this_thread_last_wait_blocked() noexcept;

// Whether the kernel's exclusive wake-up for the next connection reaches another
// waiting thread while this one, woken for the last, has yet to run (Linux 6.2 takes a
// woken epoll waiter off the queue at once). Where it may not, a thread that took a
// connection looks for more and wakes another waiter itself.
bool next_wake_passes_woken_waiter() noexcept;

// Any thread: ends w's current or next wait_for_connection.
void wake(accept_waiter& w) noexcept;

// For a wake() after the lock under which w was found is let go (a waiter woken under
// it would at once wait for that lock): pin keeps w alive, since its thread's exit
// waits until wake_and_unpin.
void pin(accept_waiter& w) noexcept;
void wake_and_unpin(accept_waiter& w) noexcept;

}  // namespace openwws::platform
