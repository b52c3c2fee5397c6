// SPDX-License-Identifier: MIT
// Exported openwws-only functions: an event loop driven by the application.
#include <webservices.h>

#include "api/validate.h"
#include "core/drivers.h"

#include <atomic>
#include <mutex>
#include <new>

using namespace openwws;

// The application's handle on a host loop: one reference, dropped by the free.
struct _OPENWWS_EVENT_LOOP {
  static constexpr std::uint32_t live_magic = 0x5745564C;  // "WEVL"
  std::atomic<std::uint32_t> magic{live_magic};
  core::host_loop* loop = nullptr;
  bool is_live() const noexcept { return magic.load(std::memory_order_relaxed) == live_magic; }
};

namespace openwws::api {

namespace {
std::mutex g_default_mu;
core::loop* g_default = nullptr;  // one reference while set
}  // namespace

core::loop* event_loop_of(OPENWWS_EVENT_LOOP* handle) noexcept {
  return usable(handle) ? handle->loop : nullptr;
}

HRESULT acquire_default_loop(core::loop*& out, WS_ERROR* error) noexcept {
  {
    std::lock_guard lock(g_default_mu);
    if (g_default) {
      g_default->retain();
      out = g_default;
      return S_OK;
    }
  }
  return core::thread_loop::acquire(out, error);
}

}  // namespace openwws::api

extern "C" {

HRESULT WINAPI OpenwwsCreateEventLoop(void* uvLoop, OPENWWS_EVENT_LOOP** loop, WS_ERROR* error) {
  if (!loop) return api::invalid(error, "OpenwwsCreateEventLoop", "loop is NULL");
  auto* handle = new (std::nothrow) _OPENWWS_EVENT_LOOP();
  if (!handle) return core::fail(error, E_OUTOFMEMORY, "OpenwwsCreateEventLoop: out of memory");
  if (HRESULT hr = core::host_loop::create(static_cast<uv_loop_s*>(uvLoop), handle->loop, error); FAILED(hr)) {
    delete handle;
    return hr;
  }
  *loop = handle;
  return S_OK;
}

HRESULT WINAPI OpenwwsGetEventLoopDescriptor(OPENWWS_EVENT_LOOP* loop, int* descriptor, WS_ERROR* error) {
  const char* fn = "OpenwwsGetEventLoopDescriptor";
  if (!api::usable(loop)) return api::invalid(error, fn, "loop is NULL or not an event loop");
  if (!descriptor) return api::invalid(error, fn, "descriptor is NULL");
  int fd = loop->loop->descriptor();
  if (fd < 0)
    return core::fail(error, WS_E_INVALID_OPERATION,
                      "OpenwwsGetEventLoopDescriptor: this loop runs on a libuv loop; run that loop instead");
  *descriptor = fd;
  return S_OK;
}

int WINAPI OpenwwsGetEventLoopTimeout(OPENWWS_EVENT_LOOP* loop) {
  if (!api::usable(loop)) return -1;
  return loop->loop->timeout_ms();
}

HRESULT WINAPI OpenwwsRunEventLoop(OPENWWS_EVENT_LOOP* loop, WS_ERROR* error) {
  if (!api::usable(loop)) return api::invalid(error, "OpenwwsRunEventLoop", "loop is NULL or not an event loop");
  loop->loop->run();
  return S_OK;
}

HRESULT WINAPI OpenwwsSetDefaultEventLoop(OPENWWS_EVENT_LOOP* loop, WS_ERROR* error) {
  core::loop* chosen = nullptr;
  if (loop) {
    chosen = api::event_loop_of(loop);
    if (!chosen) return api::invalid(error, "OpenwwsSetDefaultEventLoop", "loop is not an event loop");
    chosen->retain();
  }
  core::loop* previous;
  {
    std::lock_guard lock(api::g_default_mu);
    previous = api::g_default;
    api::g_default = chosen;
  }
  if (previous) previous->release();
  return S_OK;
}

void WINAPI OpenwwsFreeEventLoop(OPENWWS_EVENT_LOOP* loop) {
  if (!api::usable(loop)) return;
  loop->magic.store(0, std::memory_order_relaxed);
  core::host_loop* l = loop->loop;
  delete loop;
  l->release();
}

}  // extern "C"
