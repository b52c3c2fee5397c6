// SPDX-License-Identifier: MIT
// Platforms without a wait that wakes one of several threads (kqueue has no exclusive
// wake-up): synchronous accepts wait through the loop.
#include "platform/accept_wait.h"

namespace openwws::platform {

class accept_waiter {};

accept_waiter* this_thread_accept_waiter() noexcept { return nullptr; }

int wait_for_connection(accept_waiter&, int, std::uint64_t) noexcept { return 0; }

bool this_thread_last_wait_blocked() noexcept { return false; }

bool next_wake_passes_woken_waiter() noexcept { return false; }

void wake(accept_waiter&) noexcept {}

void pin(accept_waiter&) noexcept {}

void wake_and_unpin(accept_waiter&) noexcept {}

}  // namespace openwws::platform
