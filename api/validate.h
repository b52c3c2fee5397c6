// SPDX-License-Identifier: MIT
// Argument checks shared by the exported functions.
#pragma once

#include <webservices.h>

#include "core/drivers.h"
#include "core/error.h"

#include <cstring>

namespace openwws::api {

// A handle is usable when it is non-NULL and still carries its live magic value
// (catches a wrong handle type; a freed handle only where the memory is intact).
template <typename T>
bool usable(T* handle) noexcept {
  return handle && handle->is_live();
}

// WS_ASYNC_CONTEXT: NULL means synchronous; a context must carry a callback.
inline HRESULT check_async(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error, const char* fn) noexcept {
  if (ctx && !ctx->callback)
    return core::fail(error, E_INVALIDARG, std::string(fn) + ": the WS_ASYNC_CONTEXT has no callback");
  return S_OK;
}

inline HRESULT invalid(WS_ERROR* error, const char* fn, const char* what) noexcept {
  return core::fail(error, E_INVALIDARG, std::string(fn) + ": " + what);
}

// A WS_STRING must point at its characters unless it is empty.
inline bool valid_string(const WS_STRING* s) noexcept { return s && (s->chars || s->length == 0); }

enum class side { listener, client };

// The channel type/binding pairs Microsoft documents: HTTP serves REPLY on the listener
// side and REQUEST on the client side; TCP and named pipes are sessions; UDP is duplex.
inline bool pair_supported(WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding, side s) noexcept {
  switch (binding) {
    case WS_TCP_CHANNEL_BINDING:
    case WS_NAMEDPIPE_CHANNEL_BINDING:
      return type == WS_CHANNEL_TYPE_DUPLEX_SESSION;
    case WS_UDP_CHANNEL_BINDING:
      return type == WS_CHANNEL_TYPE_DUPLEX;
    case WS_HTTP_CHANNEL_BINDING:
      return type == (s == side::listener ? WS_CHANNEL_TYPE_REPLY : WS_CHANNEL_TYPE_REQUEST);
    default:
      return false;
  }
}

// The loop behind an OPENWWS_EVENT_LOOP handle; nullptr if it is none.
core::loop* event_loop_of(OPENWWS_EVENT_LOOP* handle) noexcept;
// The loop set by OpenwwsSetDefaultEventLoop, or the process's own; one reference.
HRESULT acquire_default_loop(core::loop*& out, WS_ERROR* error) noexcept;

// The loop that objects made with these properties live on: the one the openwws
// EVENT_LOOP property names, or the default one. One reference for the caller.
template <typename Prop, typename Id>
HRESULT acquire_loop(const Prop* props, ULONG count, Id loop_id, core::loop*& out, WS_ERROR* error,
                     const char* fn) noexcept {
  for (ULONG i = 0; i < count; ++i) {
    if (props[i].id != loop_id) continue;
    if (!props[i].value || props[i].valueSize != sizeof(OPENWWS_EVENT_LOOP*))
      return invalid(error, fn, "the EVENT_LOOP property needs an OPENWWS_EVENT_LOOP * (valueSize sizeof(void *))");
    OPENWWS_EVENT_LOOP* handle;
    std::memcpy(&handle, props[i].value, sizeof handle);
    core::loop* chosen = event_loop_of(handle);
    if (!chosen) return invalid(error, fn, "the EVENT_LOOP property is not an event loop from OpenwwsCreateEventLoop");
    chosen->retain();
    out = chosen;
    return S_OK;
  }
  return acquire_default_loop(out, error);
}

}  // namespace openwws::api
