// SPDX-License-Identifier: MIT
// Exported listener functions: validate the arguments, then hand over to core.
#include <webservices.h>

#include "api/validate.h"
#include "core/objects.h"

#include <new>

using namespace openwws;
using openwws::api::check_async;
using openwws::api::invalid;
using openwws::api::usable;


extern "C" {

HRESULT WINAPI WsCreateListener(WS_CHANNEL_TYPE channelType, WS_CHANNEL_BINDING channelBinding,
                                const WS_LISTENER_PROPERTY* properties, ULONG propertyCount,
                                const WS_SECURITY_DESCRIPTION* securityDescription, WS_LISTENER** listener,
                                WS_ERROR* error) {
  const char* fn = "WsCreateListener";
  if (!listener) return invalid(error, fn, "listener is NULL");
  if (!properties && propertyCount) return invalid(error, fn, "properties is NULL but propertyCount is not 0");
  if (channelBinding == WS_CUSTOM_CHANNEL_BINDING)
    return core::fail(error, WS_E_NOT_SUPPORTED, "WsCreateListener: custom channel bindings are not supported");
  if (!api::pair_supported(channelType, channelBinding, api::side::listener))
    return core::fail(error, E_INVALIDARG,
                      core::format("WsCreateListener: channel type 0x%X does not go with binding %d",
                                   static_cast<unsigned>(channelType), static_cast<int>(channelBinding)));
  if (securityDescription && securityDescription->securityBindingCount)
    return core::fail(error, WS_E_NOT_SUPPORTED, "WsCreateListener: security bindings are not supported");
  core::loop* rt = nullptr;
  if (HRESULT hr = api::acquire_loop(properties, propertyCount, OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, rt, error, fn);
      FAILED(hr))
    return hr;
  auto* l = new (std::nothrow) _WS_LISTENER(*rt, channelType, channelBinding);
  if (!l) {
    rt->release();
    return core::fail(error, E_OUTOFMEMORY, "WsCreateListener: out of memory");
  }
  if (HRESULT hr = l->configure(properties, propertyCount, error); FAILED(hr)) {
    delete l;
    rt->release();
    return hr;
  }
  *listener = l;
  return S_OK;
}

HRESULT WINAPI WsOpenListener(WS_LISTENER* listener, const WS_STRING* url, const WS_ASYNC_CONTEXT* asyncContext,
                              WS_ERROR* error) {
  const char* fn = "WsOpenListener";
  if (!usable(listener)) return invalid(error, fn, "listener is NULL or not a listener");
  if (!api::valid_string(url)) return invalid(error, fn, "url is NULL");
  if (HRESULT hr = check_async(asyncContext, error, fn); FAILED(hr)) return hr;
  return listener->open(*url, asyncContext, error);
}

HRESULT WINAPI WsAcceptChannel(WS_LISTENER* listener, WS_CHANNEL* channel, const WS_ASYNC_CONTEXT* asyncContext,
                               WS_ERROR* error) {
  const char* fn = "WsAcceptChannel";
  if (!usable(listener)) return invalid(error, fn, "listener is NULL or not a listener");
  if (!usable(channel)) return invalid(error, fn, "channel is NULL or not a channel");
  if (channel->owner() != listener)
    return invalid(error, fn, "the channel was not made by WsCreateChannelForListener for this listener");
  if (HRESULT hr = check_async(asyncContext, error, fn); FAILED(hr)) return hr;
  return listener->accept(*channel, asyncContext, error);
}

HRESULT WINAPI WsCloseListener(WS_LISTENER* listener, const WS_ASYNC_CONTEXT* asyncContext, WS_ERROR* error) {
  const char* fn = "WsCloseListener";
  if (!usable(listener)) return invalid(error, fn, "listener is NULL or not a listener");
  if (HRESULT hr = check_async(asyncContext, error, fn); FAILED(hr)) return hr;
  return listener->close(asyncContext, error);
}

HRESULT WINAPI WsAbortListener(WS_LISTENER* listener, WS_ERROR* error) {
  if (!usable(listener)) return invalid(error, "WsAbortListener", "listener is NULL or not a listener");
  return listener->abort();
}

HRESULT WINAPI WsResetListener(WS_LISTENER* listener, WS_ERROR* error) {
  if (!usable(listener)) return invalid(error, "WsResetListener", "listener is NULL or not a listener");
  return listener->reset(error);
}

void WINAPI WsFreeListener(WS_LISTENER* listener) {
  if (!usable(listener)) return;
  listener->free();
}

HRESULT WINAPI WsGetListenerProperty(WS_LISTENER* listener, WS_LISTENER_PROPERTY_ID id, void* value,
                                     ULONG valueSize, WS_ERROR* error) {
  if (!usable(listener)) return invalid(error, "WsGetListenerProperty", "listener is NULL or not a listener");
  return listener->get_property(id, value, valueSize, error);
}

HRESULT WINAPI WsSetListenerProperty(WS_LISTENER* listener, WS_LISTENER_PROPERTY_ID id, const void* value,
                                     ULONG valueSize, WS_ERROR* error) {
  if (!usable(listener)) return invalid(error, "WsSetListenerProperty", "listener is NULL or not a listener");
  return listener->set_property(id, value, valueSize, error);
}

HRESULT WINAPI WsCreateChannelForListener(WS_LISTENER* listener, const WS_CHANNEL_PROPERTY* properties,
                                          ULONG propertyCount, WS_CHANNEL** channel, WS_ERROR* error) {
  const char* fn = "WsCreateChannelForListener";
  if (!usable(listener)) return invalid(error, fn, "listener is NULL or not a listener");
  if (!channel) return invalid(error, fn, "channel is NULL");
  if (!properties && propertyCount) return invalid(error, fn, "properties is NULL but propertyCount is not 0");
  // A listener's channels live on its loop.
  core::loop* rt = &listener->rt();
  rt->retain();
  auto* ch = new (std::nothrow) _WS_CHANNEL(*rt, listener->channel_type(), listener->channel_binding(), listener);
  if (!ch) {
    rt->release();
    return core::fail(error, E_OUTOFMEMORY, "WsCreateChannelForListener: out of memory");
  }
  if (HRESULT hr = ch->configure(properties, propertyCount, error); FAILED(hr)) {
    delete ch;
    rt->release();
    return hr;
  }
  *channel = ch;
  return S_OK;
}

}  // extern "C"
