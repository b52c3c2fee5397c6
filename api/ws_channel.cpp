// SPDX-License-Identifier: MIT
// Exported channel functions: validate the arguments, then hand over to core.
#include <webservices.h>

#include "api/validate.h"
#include "core/objects.h"

#include <new>

using namespace openwws;
using openwws::api::check_async;
using openwws::api::invalid;
using openwws::api::usable;

namespace {
constexpr const char* not_a_channel = "channel is NULL or not a channel";
}  // namespace

extern "C" {

HRESULT WINAPI WsCreateChannel(WS_CHANNEL_TYPE channelType, WS_CHANNEL_BINDING channelBinding,
                               const WS_CHANNEL_PROPERTY* properties, ULONG propertyCount,
                               const WS_SECURITY_DESCRIPTION* securityDescription, WS_CHANNEL** channel,
                               WS_ERROR* error) {
  const char* fn = "WsCreateChannel";
  if (!channel) return invalid(error, fn, "channel is NULL");
  if (!properties && propertyCount) return invalid(error, fn, "properties is NULL but propertyCount is not 0");
  if (channelBinding == WS_CUSTOM_CHANNEL_BINDING)
    return core::fail(error, WS_E_NOT_SUPPORTED, "WsCreateChannel: custom channel bindings are not supported");
  if (!api::pair_supported(channelType, channelBinding, api::side::client))
    return core::fail(error, E_INVALIDARG,
                      core::format("WsCreateChannel: channel type 0x%X does not go with binding %d",
                                   static_cast<unsigned>(channelType), static_cast<int>(channelBinding)));
  if (securityDescription && securityDescription->securityBindingCount)
    return core::fail(error, WS_E_NOT_SUPPORTED, "WsCreateChannel: security bindings are not supported");
  core::loop* rt = nullptr;
  if (HRESULT hr = api::acquire_loop(properties, propertyCount, OPENWWS_CHANNEL_PROPERTY_EVENT_LOOP, rt, error, fn);
      FAILED(hr))
    return hr;
  auto* ch = new (std::nothrow) _WS_CHANNEL(*rt, channelType, channelBinding, nullptr);
  if (!ch) {
    rt->release();
    return core::fail(error, E_OUTOFMEMORY, "WsCreateChannel: out of memory");
  }
  if (HRESULT hr = ch->configure(properties, propertyCount, error); FAILED(hr)) {
    delete ch;
    rt->release();
    return hr;
  }
  *channel = ch;
  return S_OK;
}

HRESULT WINAPI WsOpenChannel(WS_CHANNEL* channel, const WS_ENDPOINT_ADDRESS* endpointAddress,
                             const WS_ASYNC_CONTEXT* asyncContext, WS_ERROR* error) {
  const char* fn = "WsOpenChannel";
  if (!usable(channel)) return invalid(error, fn, not_a_channel);
  if (!endpointAddress || !api::valid_string(&endpointAddress->url))
    return invalid(error, fn, "endpointAddress is NULL or its url is");
  if (HRESULT hr = check_async(asyncContext, error, fn); FAILED(hr)) return hr;
  return channel->open(*endpointAddress, asyncContext, error);
}

HRESULT WINAPI WsCloseChannel(WS_CHANNEL* channel, const WS_ASYNC_CONTEXT* asyncContext, WS_ERROR* error) {
  const char* fn = "WsCloseChannel";
  if (!usable(channel)) return invalid(error, fn, not_a_channel);
  if (HRESULT hr = check_async(asyncContext, error, fn); FAILED(hr)) return hr;
  return channel->close(asyncContext, error);
}

HRESULT WINAPI WsAbortChannel(WS_CHANNEL* channel, WS_ERROR* error) {
  if (!usable(channel)) return invalid(error, "WsAbortChannel", not_a_channel);
  return channel->abort(error);
}

HRESULT WINAPI WsResetChannel(WS_CHANNEL* channel, WS_ERROR* error) {
  if (!usable(channel)) return invalid(error, "WsResetChannel", not_a_channel);
  return channel->reset(error);
}

void WINAPI WsFreeChannel(WS_CHANNEL* channel) {
  if (!usable(channel)) return;
  channel->free();
}

HRESULT WINAPI WsGetChannelProperty(WS_CHANNEL* channel, WS_CHANNEL_PROPERTY_ID id, void* value, ULONG valueSize,
                                    WS_ERROR* error) {
  if (!usable(channel)) return invalid(error, "WsGetChannelProperty", not_a_channel);
  return channel->get_property(id, value, valueSize, error);
}

HRESULT WINAPI WsSetChannelProperty(WS_CHANNEL* channel, WS_CHANNEL_PROPERTY_ID id, const void* value,
                                    ULONG valueSize, WS_ERROR* error) {
  if (!usable(channel)) return invalid(error, "WsSetChannelProperty", not_a_channel);
  return channel->set_property(id, value, valueSize, error);
}

HRESULT WINAPI WsShutdownSessionChannel(WS_CHANNEL* channel, const WS_ASYNC_CONTEXT* asyncContext,
                                        WS_ERROR* error) {
  const char* fn = "WsShutdownSessionChannel";
  if (!usable(channel)) return invalid(error, fn, not_a_channel);
  if (HRESULT hr = check_async(asyncContext, error, fn); FAILED(hr)) return hr;
  return channel->shutdown_session(asyncContext, error);
}

}  // extern "C"
