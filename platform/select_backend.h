// SPDX-License-Identifier: MIT
// Which backends exist, which of them work here, and which one a runtime uses.
#pragma once

#include "platform/backend.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct uv_loop_s;  // uv_loop_t, without <uv.h> for everyone who includes this

namespace openwws::platform {

// Compiled-in backends whose probe passes on this machine, in preference order.
std::vector<std::string_view> available_backends();

// Every backend compiled in, available or not.
std::vector<std::string_view> compiled_backends();

// Creates the backend named by OPENWWS_BACKEND, or the first available one.
// 0, or -errno with a sentence in why (e.g. an unknown or unavailable name).
int create_backend(std::unique_ptr<backend>& out, std::string& why);

// Creates the named backend: 0 or -errno (-ENOENT: not compiled in).
int create_backend_named(std::string_view name, std::unique_ptr<backend>& out) noexcept;

// Factories, one per mechanism file.
int make_epoll_backend(std::unique_ptr<backend>& out) noexcept;
int make_io_uring_backend(std::unique_ptr<backend>& out) noexcept;
int make_kqueue_backend(std::unique_ptr<backend>& out) noexcept;
// libuv on a loop of its own, which it runs inside run_once.
int make_libuv_backend(std::unique_ptr<backend>& out) noexcept;
// libuv on a loop it does not own (not closed when the backend goes; the loop must
// outlive it). run_once runs that loop, so nobody else may run it at the same time.
int make_libuv_backend_on(uv_loop_s* loop, std::unique_ptr<backend>& out) noexcept;
// libuv as a guest on an application's loop, which the application runs: the backend
// never runs that loop itself; its handles call activity(ctx) from the loop's thread
// when there is work for run_once(0) (readiness, a wake(), a scheduled activity), and
// iteration(ctx) at the start of each of the loop's iterations.
int make_libuv_backend_hosted(uv_loop_s* loop, void (*activity)(void*) noexcept, void (*iteration)(void*) noexcept,
                              void* ctx, std::unique_ptr<backend>& out) noexcept;

}  // namespace openwws::platform
