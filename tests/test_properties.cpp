// SPDX-License-Identifier: MIT
// Checks that listener properties (spec section 5 table) and channel properties
// (spec 9.4) have their documented defaults, read back what creation gave them,
// refuse writes and sizes the documentation does not allow, survive a reset, and
// that IP_VERSION and LISTEN_BACKLOG actually shape the listening socket.
#include "tests/support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

using namespace openwws::test;

namespace {

WS_LISTENER* make_listener(WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding,
                           const WS_LISTENER_PROPERTY* props = nullptr, ULONG count = 0) {
  WS_LISTENER* l = nullptr;
  error_object err;
  HRESULT hr = WsCreateListener(type, binding, props, count, nullptr, &l, err);
  REQUIRE_MESSAGE(hr == S_OK, err.text());
  return l;
}

WS_LISTENER* tcp_listener(const WS_LISTENER_PROPERTY* props = nullptr, ULONG count = 0) {
  return make_listener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, count);
}

WS_CHANNEL* make_channel(WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding, const WS_CHANNEL_PROPERTY* props = nullptr,
                         ULONG count = 0) {
  WS_CHANNEL* c = nullptr;
  error_object err;
  HRESULT hr = WsCreateChannel(type, binding, props, count, nullptr, &c, err);
  REQUIRE_MESSAGE(hr == S_OK, err.text());
  return c;
}

WS_CHANNEL* tcp_channel(const WS_CHANNEL_PROPERTY* props = nullptr, ULONG count = 0) {
  return make_channel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, count);
}

template <typename T>
T listener_prop(WS_LISTENER* l, WS_LISTENER_PROPERTY_ID id) {
  T value{};
  error_object err;
  HRESULT hr = WsGetListenerProperty(l, id, &value, sizeof value, err);
  REQUIRE_MESSAGE(hr == S_OK, "listener property ", static_cast<int>(id), ": ", err.text());
  return value;
}

template <typename T>
T channel_prop(WS_CHANNEL* c, WS_CHANNEL_PROPERTY_ID id) {
  T value{};
  error_object err;
  HRESULT hr = WsGetChannelProperty(c, id, &value, sizeof value, err);
  REQUIRE_MESSAGE(hr == S_OK, "channel property ", static_cast<int>(id), ": ", err.text());
  return value;
}

HRESULT open_url(WS_LISTENER* l, const std::string& url) {
  auto text = u16(url);
  WS_STRING s = ws(text);
  error_object err;
  HRESULT hr = WsOpenListener(l, &s, nullptr, err);
  if (FAILED(hr)) MESSAGE("open ", url, ": ", err.text());
  return hr;
}

// Accepts one connection that is already queued (so the accept cannot block).
void accept_queued(WS_LISTENER* l) {
  WS_CHANNEL* c = channel_for(l);
  error_object err;
  HRESULT hr = WsAcceptChannel(l, c, nullptr, err);
  CHECK_MESSAGE(hr == S_OK, err.text());
  if (hr == S_OK) CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  WsCloseChannel(c, nullptr, nullptr);
  WsFreeChannel(c);
}

}  // namespace

TEST_SUITE("properties") {

// ---- listener: defaults and creation values ----------------------------------------

TEST_CASE_FIXTURE(fd_guard, "listener_properties_default_to_documented_values") {
  WS_LISTENER* l = tcp_listener();
  CHECK(listener_prop<WS_IP_VERSION>(l, WS_LISTENER_PROPERTY_IP_VERSION) == WS_IP_VERSION_AUTO);
  CHECK(listener_prop<WS_CALLBACK_MODEL>(l, WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL) == WS_LONG_CALLBACK);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT) == 15000);
  CHECK(listener_prop<WS_LISTENER_STATE>(l, WS_LISTENER_PROPERTY_STATE) == WS_LISTENER_STATE_CREATED);
  CHECK(listener_prop<WS_CHANNEL_TYPE>(l, WS_LISTENER_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  CHECK(listener_prop<WS_CHANNEL_BINDING>(l, WS_LISTENER_PROPERTY_CHANNEL_BINDING) == WS_TCP_CHANNEL_BINDING);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listener_close_timeout_defaults_to_5000_on_http_reply") {
  WS_LISTENER* l = make_listener(WS_CHANNEL_TYPE_REPLY, WS_HTTP_CHANNEL_BINDING);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_CLOSE_TIMEOUT) == 5000);
  CHECK(listener_prop<WS_CHANNEL_TYPE>(l, WS_LISTENER_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_REPLY);
  CHECK(listener_prop<WS_CHANNEL_BINDING>(l, WS_LISTENER_PROPERTY_CHANNEL_BINDING) == WS_HTTP_CHANNEL_BINDING);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listener_is_multicast_defaults_to_false_on_udp_duplex") {
  WS_LISTENER* l = make_listener(WS_CHANNEL_TYPE_DUPLEX, WS_UDP_CHANNEL_BINDING);
  CHECK(listener_prop<BOOL>(l, WS_LISTENER_PROPERTY_IS_MULTICAST) == FALSE);
  CHECK(listener_prop<WS_IP_VERSION>(l, WS_LISTENER_PROPERTY_IP_VERSION) == WS_IP_VERSION_AUTO);
  CHECK(listener_prop<WS_CHANNEL_TYPE>(l, WS_LISTENER_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX);
  CHECK(listener_prop<WS_CHANNEL_BINDING>(l, WS_LISTENER_PROPERTY_CHANNEL_BINDING) == WS_UDP_CHANNEL_BINDING);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listener_properties_given_at_creation_read_back") {
  ULONG timeout = 1000;
  WS_IP_VERSION ip = WS_IP_VERSION_4;
  ULONG backlog = 16;
  WS_CALLBACK_MODEL model = WS_SHORT_CALLBACK;
  WS_LISTENER_PROPERTY props[] = {
      {WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, sizeof timeout},
      {WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip},
      {WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &backlog, sizeof backlog},
      {WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model},
  };
  WS_LISTENER* l = tcp_listener(props, 4);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT) == 1000);
  CHECK(listener_prop<WS_IP_VERSION>(l, WS_LISTENER_PROPERTY_IP_VERSION) == WS_IP_VERSION_4);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_LISTEN_BACKLOG) == 16);
  CHECK(listener_prop<WS_CALLBACK_MODEL>(l, WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL) == WS_SHORT_CALLBACK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listener_infinite_connect_timeout_is_accepted") {
  ULONG timeout = INFINITE;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, sizeof timeout};
  WS_LISTENER* l = tcp_listener(&prop, 1);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT) == INFINITE);
  WsFreeListener(l);
}

// ---- listener: refused writes, sizes and ids -----------------------------------------

TEST_CASE_FIXTURE(fd_guard, "set_listener_property_read_only_ids_return_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  WS_LISTENER_STATE state = WS_LISTENER_STATE_OPEN;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &state, sizeof state, err) == E_INVALIDARG);
  ULONG backlog = 5;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &backlog, sizeof backlog, err) ==
        E_INVALIDARG);
  WS_IP_VERSION ip = WS_IP_VERSION_6;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip, err) == E_INVALIDARG);
  WS_CHANNEL_TYPE type = WS_CHANNEL_TYPE_DUPLEX;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CHANNEL_TYPE, &type, sizeof type, err) == E_INVALIDARG);
  WS_CHANNEL_BINDING binding = WS_UDP_CHANNEL_BINDING;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CHANNEL_BINDING, &binding, sizeof binding, err) ==
        E_INVALIDARG);
  CHECK(err.count() >= 5);
  // Nothing changed.
  CHECK(listener_prop<WS_LISTENER_STATE>(l, WS_LISTENER_PROPERTY_STATE) == WS_LISTENER_STATE_CREATED);
  CHECK(listener_prop<WS_IP_VERSION>(l, WS_LISTENER_PROPERTY_IP_VERSION) == WS_IP_VERSION_AUTO);
  CHECK(listener_prop<WS_CHANNEL_TYPE>(l, WS_LISTENER_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  CHECK(listener_prop<WS_CHANNEL_BINDING>(l, WS_LISTENER_PROPERTY_CHANNEL_BINDING) == WS_TCP_CHANNEL_BINDING);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "set_listener_property_create_only_ids_return_invalidarg") {
  // Set is marked as not supported for these in the section 5 table.
  WS_LISTENER* l = tcp_listener();
  error_object err;
  BOOL loopback = FALSE;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_MULTICAST_LOOPBACK, &loopback, sizeof loopback, err) ==
        E_INVALIDARG);
  ULONG flags = 0;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_TO_HEADER_MATCHING_OPTIONS, &flags, sizeof flags, err) ==
        E_INVALIDARG);
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS, &flags, sizeof flags, err) ==
        E_INVALIDARG);
  WS_DISALLOWED_USER_AGENT_SUBSTRINGS agents{};
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT, &agents, sizeof agents, err) ==
        E_INVALIDARG);
  void* instance = nullptr;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CUSTOM_LISTENER_INSTANCE, &instance, sizeof instance, err) ==
        E_INVALIDARG);
  CHECK(err.count() >= 5);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "get_listener_property_ids_without_get_return_invalidarg") {
  // Get is not documented for these ids (section 5 table): E_INVALIDARG, buffer untouched.
  WS_LISTENER* l = tcp_listener();
  error_object err;
  const WS_LISTENER_PROPERTY_ID ids[] = {
      WS_LISTENER_PROPERTY_MULTICAST_LOOPBACK, WS_LISTENER_PROPERTY_TO_HEADER_MATCHING_OPTIONS,
      WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS, WS_LISTENER_PROPERTY_MULTICAST_INTERFACES};
  for (auto id : ids) {
    CAPTURE(static_cast<int>(id));
    ULONG value = 0xDEADBEEF;
    CHECK(WsGetListenerProperty(l, id, &value, sizeof value, err) == E_INVALIDARG);
    CHECK(value == 0xDEADBEEF);
  }
  WS_DISALLOWED_USER_AGENT_SUBSTRINGS agents{7, nullptr};
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT, &agents, sizeof agents, err) ==
        E_INVALIDARG);
  CHECK(agents.subStringCount == 7);
  CHECK(err.count() >= 5);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "create_listener_get_only_ids_return_invalidarg") {
  // STATE, CHANNEL_TYPE, CHANNEL_BINDING and CUSTOM_LISTENER_INSTANCE cannot be given at creation.
  WS_LISTENER_STATE state = WS_LISTENER_STATE_CREATED;
  WS_CHANNEL_TYPE type = WS_CHANNEL_TYPE_DUPLEX_SESSION;
  WS_CHANNEL_BINDING binding = WS_TCP_CHANNEL_BINDING;
  void* instance = nullptr;
  WS_LISTENER_PROPERTY props[] = {
      {WS_LISTENER_PROPERTY_STATE, &state, sizeof state},
      {WS_LISTENER_PROPERTY_CHANNEL_TYPE, &type, sizeof type},
      {WS_LISTENER_PROPERTY_CHANNEL_BINDING, &binding, sizeof binding},
      {WS_LISTENER_PROPERTY_CUSTOM_LISTENER_INSTANCE, &instance, sizeof instance},
  };
  for (const auto& p : props) {
    CAPTURE(static_cast<int>(p.id));
    error_object err;
    WS_LISTENER* l = reinterpret_cast<WS_LISTENER*>(0x1);
    CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &p, 1, nullptr, &l, err) ==
          E_INVALIDARG);
    CHECK(l == reinterpret_cast<WS_LISTENER*>(0x1));
    CHECK(err.count() >= 1);
  }
}

TEST_CASE_FIXTURE(fd_guard, "get_listener_property_buffer_too_small_returns_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  unsigned char buffer[4] = {0xAA, 0xAA, 0xAA, 0xAA};
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, buffer, 2, err) == E_INVALIDARG);
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, buffer, 3, err) == E_INVALIDARG);
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_IP_VERSION, buffer, 0, err) == E_INVALIDARG);
  for (unsigned char b : buffer) CHECK(b == 0xAA);
  CHECK(err.count() >= 3);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "set_listener_property_wrong_size_returns_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  ULONGLONG wide = 1000;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &wide, sizeof wide, err) == E_INVALIDARG);
  USHORT narrow = 1000;
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &narrow, sizeof narrow, err) ==
        E_INVALIDARG);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT) == 15000);
  CHECK(err.count() >= 2);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "create_listener_property_wrong_size_returns_invalidarg") {
  USHORT narrow = 1000;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &narrow, sizeof narrow};
  error_object err;
  WS_LISTENER* l = reinterpret_cast<WS_LISTENER*>(0x1);
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &l, err) ==
        E_INVALIDARG);
  CHECK(l == reinterpret_cast<WS_LISTENER*>(0x1));
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "listener_property_unknown_id_returns_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  ULONG value = 0xDEADBEEF;
  auto unknown = static_cast<WS_LISTENER_PROPERTY_ID>(999);
  CHECK(WsGetListenerProperty(l, unknown, &value, sizeof value, err) == E_INVALIDARG);
  CHECK(value == 0xDEADBEEF);
  CHECK(WsSetListenerProperty(l, unknown, &value, sizeof value, err) == E_INVALIDARG);
  WS_LISTENER_PROPERTY prop{unknown, &value, sizeof value};
  WS_LISTENER* other = nullptr;
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &other, err) ==
        E_INVALIDARG);
  CHECK(other == nullptr);
  CHECK(err.count() >= 3);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listener_property_null_value_returns_invalidarg") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, nullptr, sizeof(WS_LISTENER_STATE), err) ==
        E_INVALIDARG);
  CHECK(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, nullptr, sizeof(ULONG), err) ==
        E_INVALIDARG);
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, nullptr, sizeof(ULONG), err) ==
        E_INVALIDARG);
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, nullptr, sizeof(ULONG)};
  WS_LISTENER* other = nullptr;
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &other, err) ==
        E_INVALIDARG);
  CHECK(other == nullptr);
  CHECK(err.count() >= 4);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "create_listener_out_of_range_values_return_invalidarg") {
  int ip = 7;
  int model = 5;
  WS_LISTENER_PROPERTY bad[] = {
      {WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip},
      {WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model},
  };
  for (const auto& p : bad) {
    CAPTURE(static_cast<int>(p.id));
    error_object err;
    WS_LISTENER* l = reinterpret_cast<WS_LISTENER*>(0x1);
    CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &p, 1, nullptr, &l, err) ==
          E_INVALIDARG);
    CHECK(l == reinterpret_cast<WS_LISTENER*>(0x1));
    CHECK(err.count() >= 1);
  }
}

TEST_CASE_FIXTURE(fd_guard, "listener_properties_survive_reset_after_close") {
  ULONG timeout = 1000;
  ULONG backlog = 16;
  WS_IP_VERSION ip = WS_IP_VERSION_4;
  WS_LISTENER_PROPERTY props[] = {
      {WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &timeout, sizeof timeout},
      {WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &backlog, sizeof backlog},
      {WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip},
  };
  WS_LISTENER* l = tcp_listener(props, 3);
  REQUIRE(open_url(l, "net.tcp://127.0.0.1:0/") == S_OK);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  REQUIRE(WsResetListener(l, nullptr) == S_OK);
  CHECK(listener_prop<WS_LISTENER_STATE>(l, WS_LISTENER_PROPERTY_STATE) == WS_LISTENER_STATE_CREATED);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_CONNECT_TIMEOUT) == 1000);
  CHECK(listener_prop<ULONG>(l, WS_LISTENER_PROPERTY_LISTEN_BACKLOG) == 16);
  CHECK(listener_prop<WS_IP_VERSION>(l, WS_LISTENER_PROPERTY_IP_VERSION) == WS_IP_VERSION_4);
  CHECK(listener_prop<WS_CHANNEL_TYPE>(l, WS_LISTENER_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listener_state_property_follows_open_and_close") {
  WS_LISTENER* l = tcp_listener();
  CHECK(listener_prop<WS_LISTENER_STATE>(l, WS_LISTENER_PROPERTY_STATE) == WS_LISTENER_STATE_CREATED);
  REQUIRE(open_url(l, "net.tcp://127.0.0.1:0/") == S_OK);
  CHECK(listener_prop<WS_LISTENER_STATE>(l, WS_LISTENER_PROPERTY_STATE) == WS_LISTENER_STATE_OPEN);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(listener_prop<WS_LISTENER_STATE>(l, WS_LISTENER_PROPERTY_STATE) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

// ---- listener: openwws extensions ----------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "backend_name_extension_returns_the_backend_in_use") {
  WS_LISTENER* l = tcp_listener();
  const char* name = nullptr;
  REQUIRE(WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_BACKEND_NAME, &name, sizeof name, nullptr) == S_OK);
  REQUIRE(name != nullptr);
  CHECK(std::strlen(name) > 0);
  std::string wanted = backend_under_test();
  if (!wanted.empty()) CHECK(std::string(name) == wanted);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "local_port_extension_needs_an_open_listener") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  USHORT port = 0xBEEF;
  CHECK(WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port, sizeof port, err) == E_INVALIDARG);
  CHECK(port == 0xBEEF);
  CHECK(err.count() >= 1);
  REQUIRE(open_url(l, "net.tcp://127.0.0.1:0/") == S_OK);
  port = 0;
  CHECK(WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port, sizeof port, nullptr) == S_OK);
  CHECK(port != 0);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  USHORT after = 0xBEEF;
  CHECK(WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &after, sizeof after, nullptr) ==
        E_INVALIDARG);
  WsFreeListener(l);
}

// ---- listener: IP_VERSION and LISTEN_BACKLOG reach the socket --------------------------

namespace {
// A listener opened on "localhost" takes Vias that name localhost.
int localhost_client(USHORT port, bool v6) {
  return nettcp_connect_via(port, "net.tcp://localhost:" + std::to_string(port) + "/", v6);
}
}  // namespace

TEST_CASE_FIXTURE(fd_guard, "ip_version_4_listener_on_localhost_accepts_ipv4_client") {
  WS_IP_VERSION ip = WS_IP_VERSION_4;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip};
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://localhost:0/", &port, &prop, 1);
  int fd = localhost_client(port, false);
  CHECK(fd >= 0);
  if (fd >= 0) {
    accept_queued(l);
    close_rst(fd);
  }
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "ip_version_6_listener_on_localhost_accepts_ipv6_only") {
  WS_IP_VERSION ip = WS_IP_VERSION_6;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip};
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://localhost:0/", &port, &prop, 1);
  int v4 = localhost_client(port, false);
  CHECK(v4 < 0);
  if (v4 >= 0) close_rst(v4);
  int v6 = localhost_client(port, true);
  CHECK(v6 >= 0);
  if (v6 >= 0) {
    accept_queued(l);
    close_rst(v6);
  }
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "ip_version_auto_listener_on_localhost_accepts_both_families") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://localhost:0/", &port);
  int v4 = localhost_client(port, false);
  CHECK(v4 >= 0);
  if (v4 >= 0) accept_queued(l);
  int v6 = localhost_client(port, true);
  CHECK(v6 >= 0);
  if (v6 >= 0) accept_queued(l);
  if (v4 >= 0) close_rst(v4);
  if (v6 >= 0) close_rst(v6);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "listen_backlog_16_queues_16_connections_before_accept") {
  ULONG backlog = 16;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &backlog, sizeof backlog};
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port, &prop, 1);
  std::vector<int> clients;
  for (int i = 0; i < 16; ++i) {
    int fd = nettcp_connect(port, false);
    CHECK(fd >= 0);
    if (fd >= 0) clients.push_back(fd);
  }
  for (std::size_t i = 0; i < clients.size(); ++i) accept_queued(l);
  for (int fd : clients) close_rst(fd);
  close_and_free(l);
}

namespace {

// Starts a non-blocking connect to 127.0.0.1:port and waits up to wait_ms for it to
// complete. Returns the fd (connected true/false) or -1.
int connect_within(USHORT port, int wait_ms, bool& connected) {
  connected = false;
  int fd = make_socket(false, true);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc == 0) {
    connected = true;
    return fd;
  }
  if (errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, wait_ms) == 1) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    connected = err == 0;
  }
  return fd;
}

}  // namespace

TEST_CASE_FIXTURE(fd_guard, "listen_backlog_small_bounds_the_pending_connection_queue") {
  // Connections are made one at a time, each finished before the next starts, so the
  // kernel sees a full queue when the next SYN arrives (Linux queues backlog + 1).
  // A CONNECT_TIMEOUT under 10 s keeps TCP_DEFER_ACCEPT off, which would hold these
  // silent connections out of the accept queue.
  ULONG backlog = 2, connect_timeout = 5000;
  WS_LISTENER_PROPERTY props[] = {{WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &backlog, sizeof backlog},
                                  {WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &connect_timeout, sizeof connect_timeout}};
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port, props, 2);
  std::vector<int> fds;
  int connected = 0;
  for (int i = 0; i < 12; ++i) {
    bool ok = false;
    int fd = connect_within(port, 300, ok);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
    if (!ok) break;
    ++connected;
  }
  CAPTURE(connected);
  CHECK(connected >= 2);
  CHECK(connected <= 3);
  for (int fd : fds) close_rst(fd);
  close_and_free(l);
}

// ---- channel properties ----------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "tcp_channel_properties_default_to_documented_values") {
  WS_CHANNEL* c = tcp_channel();
  CHECK(channel_prop<WS_CHANNEL_STATE>(c, WS_CHANNEL_PROPERTY_STATE) == WS_CHANNEL_STATE_CREATED);
  CHECK(channel_prop<WS_CHANNEL_TYPE>(c, WS_CHANNEL_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE) == 65536);
  CHECK(channel_prop<WS_ENCODING>(c, WS_CHANNEL_PROPERTY_ENCODING) == WS_ENCODING_XML_BINARY_SESSION_1);
  CHECK(channel_prop<WS_IP_VERSION>(c, WS_CHANNEL_PROPERTY_IP_VERSION) == WS_IP_VERSION_AUTO);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_CONNECT_TIMEOUT) == 30000);
  CHECK(channel_prop<WS_CALLBACK_MODEL>(c, WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL) == WS_LONG_CALLBACK);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE) == 2048);
  CHECK(channel_prop<WS_ENVELOPE_VERSION>(c, WS_CHANNEL_PROPERTY_ENVELOPE_VERSION) == WS_ENVELOPE_VERSION_SOAP_1_2);
  CHECK(channel_prop<WS_ADDRESSING_VERSION>(c, WS_CHANNEL_PROPERTY_ADDRESSING_VERSION) ==
        WS_ADDRESSING_VERSION_1_0);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_SEND_TIMEOUT) == 30000);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT) == 30000);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_CLOSE_TIMEOUT) == 30000);
  CHECK(channel_prop<BOOL>(c, WS_CHANNEL_PROPERTY_ENABLE_TIMEOUTS) == TRUE);
  CHECK(channel_prop<WS_TRANSFER_MODE>(c, WS_CHANNEL_PROPERTY_TRANSFER_MODE) == WS_BUFFERED_TRANSFER_MODE);
  CHECK(channel_prop<BOOL>(c, WS_CHANNEL_PROPERTY_NO_DELAY) == FALSE);
  CHECK(channel_prop<BOOL>(c, WS_CHANNEL_PROPERTY_SEND_KEEP_ALIVES) == FALSE);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_TRIM_BUFFERED_MESSAGE_SIZE) == 65536);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "http_and_udp_channel_encoding_defaults_to_utf8") {
  WS_CHANNEL* http = make_channel(WS_CHANNEL_TYPE_REQUEST, WS_HTTP_CHANNEL_BINDING);
  CHECK(channel_prop<WS_ENCODING>(http, WS_CHANNEL_PROPERTY_ENCODING) == WS_ENCODING_XML_UTF8);
  CHECK(channel_prop<WS_CHANNEL_TYPE>(http, WS_CHANNEL_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_REQUEST);
  WsFreeChannel(http);
  WS_CHANNEL* udp = make_channel(WS_CHANNEL_TYPE_DUPLEX, WS_UDP_CHANNEL_BINDING);
  CHECK(channel_prop<WS_ENCODING>(udp, WS_CHANNEL_PROPERTY_ENCODING) == WS_ENCODING_XML_UTF8);
  WsFreeChannel(udp);
}

TEST_CASE_FIXTURE(fd_guard, "set_channel_property_state_returns_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  WS_CHANNEL_STATE state = WS_CHANNEL_STATE_OPEN;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, &state, sizeof state, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "set_channel_property_get_only_ids_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  WS_CHANNEL_TYPE type = WS_CHANNEL_TYPE_DUPLEX;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_CHANNEL_TYPE, &type, sizeof type, err) == E_INVALIDARG);
  BOOL shut = TRUE;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN, &shut, sizeof shut, err) == E_INVALIDARG);
  SOCKADDR_STORAGE addr{};
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS, &addr, sizeof addr, err) == E_INVALIDARG);
  CHECK(err.count() >= 3);
  CHECK(channel_prop<WS_CHANNEL_TYPE>(c, WS_CHANNEL_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "set_channel_property_create_only_ids_return_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  WS_ENCODING encoding = WS_ENCODING_XML_UTF8;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_ENCODING, &encoding, sizeof encoding, err) == E_INVALIDARG);
  ULONG dict = 4096;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, &dict, sizeof dict, err) ==
        E_INVALIDARG);
  CHECK(err.count() >= 2);
  CHECK(channel_prop<WS_ENCODING>(c, WS_CHANNEL_PROPERTY_ENCODING) == WS_ENCODING_XML_BINARY_SESSION_1);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE) == 2048);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "create_channel_create_only_values_read_back") {
  ULONG dict = 4096;
  WS_ENCODING encoding = WS_ENCODING_XML_BINARY_SESSION_1;
  ULONG max_buffered = 1000;
  WS_CHANNEL_PROPERTY props[] = {
      {WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, &dict, sizeof dict},
      {WS_CHANNEL_PROPERTY_ENCODING, &encoding, sizeof encoding},
      {WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE, &max_buffered, sizeof max_buffered},
  };
  WS_CHANNEL* c = tcp_channel(props, 3);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE) == 4096);
  CHECK(channel_prop<WS_ENCODING>(c, WS_CHANNEL_PROPERTY_ENCODING) == WS_ENCODING_XML_BINARY_SESSION_1);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE) == 1000);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "create_channel_max_buffered_message_size_zero_returns_invalidarg") {
  ULONG zero = 0;  // documented minimum is 1
  WS_CHANNEL_PROPERTY prop{WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE, &zero, sizeof zero};
  error_object err;
  WS_CHANNEL* c = reinterpret_cast<WS_CHANNEL*>(0x1);
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &c, err) ==
        E_INVALIDARG);
  CHECK(c == reinterpret_cast<WS_CHANNEL*>(0x1));
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "set_channel_property_receive_timeout_reads_back") {
  WS_CHANNEL* c = tcp_channel();
  ULONG timeout = 1234;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &timeout, sizeof timeout, nullptr) == S_OK);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT) == 1234);
  ULONG resolve = 5000;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT, &resolve, sizeof resolve, nullptr) == S_OK);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT) == 5000);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "set_channel_property_timeouts_settable_in_any_state") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  const WS_CHANNEL_PROPERTY_ID ids[] = {WS_CHANNEL_PROPERTY_SEND_TIMEOUT, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT,
                                        WS_CHANNEL_PROPERTY_CLOSE_TIMEOUT, WS_CHANNEL_PROPERTY_CONNECT_TIMEOUT};
  ULONG value = 2500;
  for (auto id : ids) {
    CAPTURE(static_cast<int>(id));
    CHECK(WsSetChannelProperty(c, id, &value, sizeof value, nullptr) == S_OK);  // OPEN
    CHECK(channel_prop<ULONG>(c, id) == 2500);
  }
  REQUIRE(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  value = 3500;
  for (auto id : ids) {
    CAPTURE(static_cast<int>(id));
    CHECK(WsSetChannelProperty(c, id, &value, sizeof value, nullptr) == S_OK);  // CLOSED
    CHECK(channel_prop<ULONG>(c, id) == 3500);
  }
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "http_channel_max_session_dictionary_size_returns_invalidarg") {
  WS_CHANNEL* c = make_channel(WS_CHANNEL_TYPE_REQUEST, WS_HTTP_CHANNEL_BINDING);
  error_object err;
  ULONG value = 0xDEADBEEF;
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, &value, sizeof value, err) ==
        E_INVALIDARG);
  CHECK(value == 0xDEADBEEF);
  CHECK(err.count() >= 1);
  WsFreeChannel(c);
  ULONG dict = 4096;
  WS_CHANNEL_PROPERTY prop{WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, &dict, sizeof dict};
  WS_CHANNEL* other = nullptr;
  CHECK(WsCreateChannel(WS_CHANNEL_TYPE_REQUEST, WS_HTTP_CHANNEL_BINDING, &prop, 1, nullptr, &other, nullptr) ==
        E_INVALIDARG);
  CHECK(other == nullptr);
}

TEST_CASE_FIXTURE(fd_guard, "channel_property_wrong_size_or_unknown_id_returns_invalidarg") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  unsigned char buffer[4] = {0xAA, 0xAA, 0xAA, 0xAA};
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, buffer, 2, err) == E_INVALIDARG);
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, buffer, 1, err) == E_INVALIDARG);
  for (unsigned char b : buffer) CHECK(b == 0xAA);
  ULONGLONG wide = 1000;
  CHECK(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, &wide, sizeof wide, err) == E_INVALIDARG);
  CHECK(channel_prop<ULONG>(c, WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT) == 30000);
  ULONG value = 0;
  auto unknown = static_cast<WS_CHANNEL_PROPERTY_ID>(999);
  CHECK(WsGetChannelProperty(c, unknown, &value, sizeof value, err) == E_INVALIDARG);
  CHECK(WsSetChannelProperty(c, unknown, &value, sizeof value, err) == E_INVALIDARG);
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, nullptr, sizeof(WS_CHANNEL_STATE), err) ==
        E_INVALIDARG);
  CHECK(err.count() >= 6);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "channel_for_listener_is_created_duplex_session") {
  WS_LISTENER* l = tcp_listener();
  WS_CHANNEL* c = channel_for(l);
  CHECK(channel_prop<WS_CHANNEL_TYPE>(c, WS_CHANNEL_PROPERTY_CHANNEL_TYPE) == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  CHECK(channel_prop<WS_CHANNEL_STATE>(c, WS_CHANNEL_PROPERTY_STATE) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "channel_for_listener_inherits_short_callback_model") {
  WS_CALLBACK_MODEL model = WS_SHORT_CALLBACK;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model};
  WS_LISTENER* l = tcp_listener(&prop, 1);
  WS_CHANNEL* c = channel_for(l);
  CHECK(channel_prop<WS_CALLBACK_MODEL>(c, WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL) == WS_SHORT_CALLBACK);
  WsFreeChannel(c);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "channel_for_listener_ip_version_follows_listener") {
  WS_IP_VERSION ip = WS_IP_VERSION_6;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_IP_VERSION, &ip, sizeof ip};
  WS_LISTENER* l = tcp_listener(&prop, 1);
  WS_CHANNEL* c = channel_for(l);
  CHECK(channel_prop<WS_IP_VERSION>(c, WS_CHANNEL_PROPERTY_IP_VERSION) == WS_IP_VERSION_6);
  WsFreeChannel(c);
  WsFreeListener(l);
}

}  // TEST_SUITE("properties")
