// SPDX-License-Identifier: MIT
// Checks that every function declared in webservices.h rejects bad arguments with
// E_INVALIDARG and without crashing: NULL for each pointer that is not optional,
// a wrong valueSize, properties == NULL with propertyCount > 0, a WS_ASYNC_CONTEXT
// without a callback, a handle of the wrong type, a channel that belongs to another
// listener, an unsupported type/binding pair; that a WS_ERROR passed along gains a
// string each time; and that the WsFree* functions take NULL harmlessly.
#include "tests/support.h"

#include <string>

using namespace openwws::test;

namespace {

WS_LISTENER* tcp_listener() {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                           nullptr) == S_OK);
  return l;
}

WS_CHANNEL* tcp_channel() {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &c,
                          nullptr) == S_OK);
  return c;
}

// Wrong-type handles: a channel where a listener is expected, and so on.
WS_LISTENER* as_listener(void* p) { return static_cast<WS_LISTENER*>(p); }
WS_CHANNEL* as_channel(void* p) { return static_cast<WS_CHANNEL*>(p); }
WS_ERROR* as_error(void* p) { return static_cast<WS_ERROR*>(p); }
WS_HEAP* as_heap(void* p) { return static_cast<WS_HEAP*>(p); }

// Each E_INVALIDARG must add at least one string: counts strings before and after.
struct string_counter {
  error_object& err;
  ULONG last;
  explicit string_counter(error_object& e) : err(e), last(e.count()) {}
  bool grew() {
    ULONG now = err.count();
    bool g = now > last;
    last = now;
    return g;
  }
};

}  // namespace

TEST_SUITE("arguments") {

// ---- WsCreateListener -------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "create_listener_null_listener_returns_invalidarg") {
  error_object err;
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, nullptr, err) ==
        E_INVALIDARG);
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "create_listener_null_properties_with_count_returns_invalidarg") {
  error_object err;
  WS_LISTENER* l = nullptr;
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 1, nullptr, &l, err) ==
        E_INVALIDARG);
  CHECK(l == nullptr);
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "create_listener_mismatched_type_and_binding_returns_invalidarg") {
  struct {
    WS_CHANNEL_TYPE type;
    WS_CHANNEL_BINDING binding;
  } pairs[] = {
      {WS_CHANNEL_TYPE_REPLY, WS_TCP_CHANNEL_BINDING},
      {WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_UDP_CHANNEL_BINDING},
      {WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_HTTP_CHANNEL_BINDING},
  };
  for (const auto& p : pairs) {
    CAPTURE(static_cast<int>(p.type));
    CAPTURE(static_cast<int>(p.binding));
    error_object err;
    WS_LISTENER* l = nullptr;
    CHECK(WsCreateListener(p.type, p.binding, nullptr, 0, nullptr, &l, err) == E_INVALIDARG);
    CHECK(l == nullptr);
    CHECK(err.count() >= 1);
  }
}

TEST_CASE_FIXTURE(fd_guard, "create_listener_property_bad_value_returns_invalidarg") {
  error_object err;
  string_counter strings(err);
  WS_LISTENER* l = nullptr;
  ULONG timeout = 1000;
  WS_LISTENER_PROPERTY wrong_size{WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, 2};
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &wrong_size, 1, nullptr, &l, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  WS_LISTENER_PROPERTY null_value{WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, nullptr, sizeof timeout};
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &null_value, 1, nullptr, &l, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(l == nullptr);
}

// ---- WsOpenListener ---------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "open_listener_null_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  string_counter strings(err);
  auto text = u16("net.tcp://127.0.0.1:0/");
  WS_STRING url = ws(text);
  CHECK(WsOpenListener(nullptr, nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsOpenListener(l, nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsOpenListener(nullptr, &url, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_STRING no_chars{5, nullptr};
  CHECK(WsOpenListener(l, &no_chars, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_async_context_without_callback_returns_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  auto text = u16("net.tcp://127.0.0.1:0/");
  WS_STRING url = ws(text);
  WS_ASYNC_CONTEXT ctx{nullptr, nullptr};
  CHECK(WsOpenListener(l, &url, &ctx, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_wrong_handle_type_returns_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  auto text = u16("net.tcp://127.0.0.1:0/");
  WS_STRING url = ws(text);
  CHECK(WsOpenListener(as_listener(c), &url, nullptr, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

// ---- WsAcceptChannel --------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "accept_channel_null_arguments_return_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  error_object err;
  string_counter strings(err);
  CHECK(WsAcceptChannel(nullptr, nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsAcceptChannel(l, nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsAcceptChannel(nullptr, c, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_async_context_without_callback_returns_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  error_object err;
  WS_ASYNC_CONTEXT ctx{nullptr, nullptr};
  CHECK(WsAcceptChannel(l, c, &ctx, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_wrong_handle_types_return_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  error_object err;
  string_counter strings(err);
  CHECK(WsAcceptChannel(as_listener(c), c, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsAcceptChannel(l, as_channel(l), nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_channel_of_another_listener_returns_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_LISTENER* other = tcp_listener();
  WS_CHANNEL* foreign = channel_for(other);
  error_object err;
  CHECK(WsAcceptChannel(l, foreign, nullptr, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
  CHECK(state_of(foreign) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(foreign);
  WsFreeListener(other);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_client_channel_returns_invalidarg") {
  // The channel must come from WsCreateChannelForListener for this listener.
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* client = tcp_channel();
  error_object err;
  CHECK(WsAcceptChannel(l, client, nullptr, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
  CHECK(state_of(client) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(client);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

// ---- WsCloseListener, WsAbortListener, WsResetListener, WsFreeListener ----------------------

TEST_CASE_FIXTURE(fd_guard, "close_listener_bad_arguments_return_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  string_counter strings(err);
  CHECK(WsCloseListener(nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_ASYNC_CONTEXT ctx{nullptr, nullptr};
  CHECK(WsCloseListener(l, &ctx, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  CHECK(WsCloseListener(as_listener(c), nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_listener_bad_arguments_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  string_counter strings(err);
  CHECK(WsAbortListener(nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsAbortListener(as_listener(c), err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "reset_listener_bad_arguments_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  string_counter strings(err);
  CHECK(WsResetListener(nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsResetListener(as_listener(c), err) == E_INVALIDARG);
  CHECK(strings.grew());
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "free_listener_null_or_wrong_handle_is_harmless") {
  WsFreeListener(nullptr);
  WS_CHANNEL* c = tcp_channel();
  WsFreeListener(as_listener(c));  // a channel is no listener: left alone
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

// ---- WsGetListenerProperty, WsSetListenerProperty -------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "get_listener_property_bad_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  string_counter strings(err);
  WS_LISTENER_STATE state{};
  CHECK(WsGetListenerProperty(nullptr, WS_LISTENER_PROPERTY_STATE, &state, sizeof state, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, nullptr, sizeof state, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &state, sizeof state - 1, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsGetListenerProperty(as_listener(c), WS_LISTENER_PROPERTY_STATE, &state, sizeof state, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  WsFreeChannel(c);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "set_listener_property_bad_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  string_counter strings(err);
  ULONG timeout = 1000;
  CHECK(WsSetListenerProperty(nullptr, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, sizeof timeout, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, nullptr, sizeof timeout, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, sizeof timeout + 1, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsSetListenerProperty(as_listener(c), WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, sizeof timeout,
                              err) == E_INVALIDARG);
  CHECK(strings.grew());
  WsFreeChannel(c);
  WsFreeListener(l);
}

// ---- WsCreateChannelForListener ---------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "create_channel_for_listener_bad_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  WS_CHANNEL* client = tcp_channel();
  error_object err;
  string_counter strings(err);
  WS_CHANNEL* c = nullptr;
  CHECK(WsCreateChannelForListener(nullptr, nullptr, 0, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsCreateChannelForListener(nullptr, nullptr, 0, &c, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsCreateChannelForListener(l, nullptr, 0, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsCreateChannelForListener(l, nullptr, 1, &c, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsCreateChannelForListener(as_listener(client), nullptr, 0, &c, err) == E_INVALIDARG);
  CHECK(strings.grew());
  ULONG timeout = 1000;
  WS_CHANNEL_PROPERTY wrong_size{WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &timeout, 2};
  CHECK(WsCreateChannelForListener(l, &wrong_size, 1, &c, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(c == nullptr);
  WsFreeChannel(client);
  WsFreeListener(l);
}

// ---- WsCreateChannel --------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "create_channel_bad_arguments_return_invalidarg") {
  error_object err;
  string_counter strings(err);
  WS_CHANNEL* c = nullptr;
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, nullptr, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 1, nullptr, &c, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  ULONG timeout = 1000;
  WS_CHANNEL_PROPERTY wrong_size{WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &timeout, 8};
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &wrong_size, 1, nullptr, &c, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  WS_CHANNEL_PROPERTY null_value{WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, nullptr, sizeof timeout};
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &null_value, 1, nullptr, &c, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(c == nullptr);
}

TEST_CASE_FIXTURE(fd_guard, "create_channel_mismatched_type_and_binding_returns_invalidarg") {
  error_object err;
  WS_CHANNEL* c = nullptr;
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_UDP_CHANNEL_BINDING, nullptr, 0, nullptr, &c, err) ==
        E_INVALIDARG);
  CHECK(c == nullptr);
  CHECK(err.count() >= 1);
}

// ---- WsOpenChannel, WsCloseChannel, WsAbortChannel, WsResetChannel, WsFreeChannel ---------

TEST_CASE_FIXTURE(fd_guard, "open_channel_bad_arguments_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  WS_LISTENER* l = tcp_listener();
  error_object err;
  string_counter strings(err);
  auto text = u16("net.tcp://127.0.0.1:1/");
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(text);
  CHECK(WsOpenChannel(nullptr, &ea, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsOpenChannel(c, nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_ENDPOINT_ADDRESS no_chars{};
  no_chars.url = WS_STRING{4, nullptr};
  CHECK(WsOpenChannel(c, &no_chars, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_ASYNC_CONTEXT ctx{nullptr, nullptr};
  CHECK(WsOpenChannel(c, &ea, &ctx, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsOpenChannel(as_channel(l), &ea, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "close_channel_bad_arguments_return_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  error_object err;
  string_counter strings(err);
  CHECK(WsCloseChannel(nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_ASYNC_CONTEXT ctx{nullptr, nullptr};
  CHECK(WsCloseChannel(c, &ctx, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  CHECK(WsCloseChannel(as_channel(l), nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_channel_bad_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  string_counter strings(err);
  CHECK(WsAbortChannel(nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsAbortChannel(as_channel(l), err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_channel_bad_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  string_counter strings(err);
  CHECK(WsResetChannel(nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsResetChannel(as_channel(l), err) == E_INVALIDARG);
  CHECK(strings.grew());
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "free_channel_null_or_wrong_handle_is_harmless") {
  WsFreeChannel(nullptr);
  WS_LISTENER* l = tcp_listener();
  WsFreeChannel(as_channel(l));  // a listener is no channel: left alone
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

// ---- WsGetChannelProperty, WsSetChannelProperty, WsShutdownSessionChannel -----------------

TEST_CASE_FIXTURE(fd_guard, "get_channel_property_bad_arguments_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  WS_LISTENER* l = tcp_listener();
  error_object err;
  string_counter strings(err);
  WS_CHANNEL_STATE state{};
  CHECK(WsGetChannelProperty(nullptr, WS_CHANNEL_PROPERTY_STATE, &state, sizeof state, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, nullptr, sizeof state, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, &state, 1, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsGetChannelProperty(as_channel(l), WS_CHANNEL_PROPERTY_STATE, &state, sizeof state, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WsFreeListener(l);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "set_channel_property_bad_arguments_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  WS_LISTENER* l = tcp_listener();
  error_object err;
  string_counter strings(err);
  ULONG timeout = 1000;
  CHECK(WsSetChannelProperty(nullptr, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &timeout, sizeof timeout, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, nullptr, sizeof timeout, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &timeout, 3, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsSetChannelProperty(as_channel(l), WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &timeout, sizeof timeout, err) ==
        E_INVALIDARG);
  CHECK(strings.grew());
  WsFreeListener(l);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_channel_bad_arguments_return_invalidarg") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  error_object err;
  string_counter strings(err);
  CHECK(WsShutdownSessionChannel(nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_ASYNC_CONTEXT ctx{nullptr, nullptr};
  CHECK(WsShutdownSessionChannel(c, &ctx, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsShutdownSessionChannel(as_channel(l), nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  BOOL shut = TRUE;
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN, &shut, sizeof shut, nullptr) == S_OK);
  CHECK(shut == FALSE);
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

// ---- error object functions (they take no WS_ERROR* of their own) --------------------------

TEST_CASE_FIXTURE(fd_guard, "create_error_bad_arguments_return_invalidarg") {
  CHECK(WsCreateError(nullptr, 0, nullptr) == E_INVALIDARG);
  WS_ERROR* e = nullptr;
  CHECK(WsCreateError(nullptr, 1, &e) == E_INVALIDARG);
  LANGID langid = 0x0409;
  WS_ERROR_PROPERTY wrong_size{WS_ERROR_PROPERTY_LANGID, &langid, 4};
  CHECK(WsCreateError(&wrong_size, 1, &e) == E_INVALIDARG);
  WS_ERROR_PROPERTY null_value{WS_ERROR_PROPERTY_LANGID, nullptr, sizeof langid};
  CHECK(WsCreateError(&null_value, 1, &e) == E_INVALIDARG);
  CHECK(e == nullptr);
}

TEST_CASE_FIXTURE(fd_guard, "reset_error_bad_arguments_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  CHECK(WsResetError(nullptr) == E_INVALIDARG);
  CHECK(WsResetError(as_error(l)) == E_INVALIDARG);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "get_error_property_bad_arguments_return_invalidarg") {
  error_object err;
  WS_LISTENER* l = tcp_listener();
  ULONG value = 0;
  CHECK(WsGetErrorProperty(nullptr, WS_ERROR_PROPERTY_STRING_COUNT, &value, sizeof value) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, nullptr, sizeof value) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, &value, 2) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(as_error(l), WS_ERROR_PROPERTY_STRING_COUNT, &value, sizeof value) == E_INVALIDARG);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_bad_arguments_return_invalidarg") {
  error_object err;
  WS_LISTENER* l = tcp_listener();
  ULONG code = 1;
  CHECK(WsSetErrorProperty(nullptr, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == E_INVALIDARG);
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, nullptr, sizeof code) == E_INVALIDARG);
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, 8) == E_INVALIDARG);
  CHECK(WsSetErrorProperty(as_error(l), WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == E_INVALIDARG);
  CHECK(err.count() == 0);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "get_error_string_bad_arguments_return_invalidarg") {
  error_object err;
  std::u16string text = u"x";
  WS_STRING s = ws(text);
  REQUIRE(WsAddErrorString(err, &s) == S_OK);
  WS_LISTENER* l = tcp_listener();
  WS_STRING out{};
  CHECK(WsGetErrorString(nullptr, 0, &out) == E_INVALIDARG);
  CHECK(WsGetErrorString(err, 0, nullptr) == E_INVALIDARG);
  CHECK(WsGetErrorString(as_error(l), 0, &out) == E_INVALIDARG);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "add_error_string_bad_arguments_return_invalidarg") {
  error_object err;
  WS_LISTENER* l = tcp_listener();
  std::u16string text = u"x";
  WS_STRING s = ws(text);
  CHECK(WsAddErrorString(nullptr, &s) == E_INVALIDARG);
  CHECK(WsAddErrorString(err, nullptr) == E_INVALIDARG);
  WS_STRING no_chars{3, nullptr};
  CHECK(WsAddErrorString(err, &no_chars) == E_INVALIDARG);
  CHECK(WsAddErrorString(as_error(l), &s) == E_INVALIDARG);
  CHECK(err.count() == 0);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "copy_error_bad_arguments_return_invalidarg") {
  error_object a;
  WS_LISTENER* l = tcp_listener();
  CHECK(WsCopyError(nullptr, a) == E_INVALIDARG);
  CHECK(WsCopyError(a, nullptr) == E_INVALIDARG);
  CHECK(WsCopyError(as_error(l), a) == E_INVALIDARG);
  CHECK(WsCopyError(a, as_error(l)) == E_INVALIDARG);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

// ---- heap functions -----------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "create_heap_bad_arguments_return_invalidarg") {
  error_object err;
  string_counter strings(err);
  WS_HEAP* h = nullptr;
  CHECK(WsCreateHeap(1024, 0, nullptr, 0, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsCreateHeap(1024, 0, nullptr, 1, &h, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(h == nullptr);
}

TEST_CASE_FIXTURE(fd_guard, "alloc_bad_arguments_return_invalidarg") {
  WS_HEAP* h = nullptr;
  REQUIRE(WsCreateHeap(1024, 0, nullptr, 0, &h, nullptr) == S_OK);
  error_object err;
  string_counter strings(err);
  void* p = nullptr;
  CHECK(WsAlloc(nullptr, 16, &p, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsAlloc(h, 16, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  error_object victim;
  CHECK(WsAlloc(as_heap(static_cast<WS_ERROR*>(victim)), 16, &p, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(p == nullptr);
  WsFreeHeap(h);
}

TEST_CASE_FIXTURE(fd_guard, "reset_heap_bad_arguments_return_invalidarg") {
  error_object err;
  string_counter strings(err);
  CHECK(WsResetHeap(nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  error_object victim;
  CHECK(WsResetHeap(as_heap(static_cast<WS_ERROR*>(victim)), err) == E_INVALIDARG);
  CHECK(strings.grew());
}

// ---- WsDecodeUrl ------------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "decode_url_bad_arguments_return_invalidarg") {
  WS_HEAP* h = nullptr;
  REQUIRE(WsCreateHeap(4096, 0, nullptr, 0, &h, nullptr) == S_OK);
  error_object err;
  string_counter strings(err);
  std::u16string text = u"net.tcp://host/";
  WS_STRING url = ws(text);
  WS_URL* out = nullptr;
  CHECK(WsDecodeUrl(nullptr, 0, h, &out, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsDecodeUrl(&url, 0, nullptr, &out, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(WsDecodeUrl(&url, 0, h, nullptr, err) == E_INVALIDARG);
  CHECK(strings.grew());
  WS_STRING no_chars{5, nullptr};
  CHECK(WsDecodeUrl(&no_chars, 0, h, &out, err) == E_INVALIDARG);
  CHECK(strings.grew());
  error_object victim;
  CHECK(WsDecodeUrl(&url, 0, as_heap(static_cast<WS_ERROR*>(victim)), &out, err) == E_INVALIDARG);
  CHECK(strings.grew());
  CHECK(out == nullptr);
  WsFreeHeap(h);
}

// ---- async contexts on channels (callback may never run for a refused call) ----------------

TEST_CASE_FIXTURE(fd_guard, "refused_async_call_never_invokes_a_callback") {
  // A context whose callback is set but whose call is refused for another argument:
  // the call finished (not WS_S_ASYNC), so the callback must not run.
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  error_object err;
  CHECK(WsOpenChannel(nullptr, nullptr, &ctx, err) == E_INVALIDARG);
  CHECK(WsCloseChannel(nullptr, &ctx, err) == E_INVALIDARG);
  CHECK(WsShutdownSessionChannel(nullptr, &ctx, err) == E_INVALIDARG);
  CHECK(WsOpenListener(nullptr, nullptr, &ctx, err) == E_INVALIDARG);
  CHECK(WsAcceptChannel(nullptr, nullptr, &ctx, err) == E_INVALIDARG);
  CHECK(WsCloseListener(nullptr, &ctx, err) == E_INVALIDARG);
  CHECK(err.count() >= 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(probe.calls.load() == 0);
}

}  // TEST_SUITE("arguments")

// Regression for fuzz/findings/properties-1: ids and bindings outside every enum's list
// are plain ints to the caller; they must give E_INVALIDARG, never undefined behaviour.
TEST_SUITE("arguments") {
TEST_CASE_FIXTURE(openwws::test::fd_guard, "out_of_range_enum_values_return_invalid_arg") {
  WS_CHANNEL* ch = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &ch, nullptr) ==
          S_OK);
  ULONG v = 0;
  CHECK(WsGetChannelProperty(ch, static_cast<WS_CHANNEL_PROPERTY_ID>(255), &v, sizeof v, nullptr) == E_INVALIDARG);
  CHECK(WsGetChannelProperty(ch, static_cast<WS_CHANNEL_PROPERTY_ID>(0x7FFFFFFF), &v, sizeof v, nullptr) ==
        E_INVALIDARG);
  WsFreeChannel(ch);
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) ==
          S_OK);
  CHECK(WsGetListenerProperty(l, static_cast<WS_LISTENER_PROPERTY_ID>(0x20000), &v, sizeof v, nullptr) ==
        E_INVALIDARG);
  WsFreeListener(l);
  WS_CHANNEL* bad = nullptr;
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, static_cast<WS_CHANNEL_BINDING>(255), nullptr, 0, nullptr, &bad,
                        nullptr) == E_INVALIDARG);
  CHECK(bad == nullptr);
}
}  // TEST_SUITE
