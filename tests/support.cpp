// SPDX-License-Identifier: MIT
// Shared test helpers.
#include "tests/support.h"

#include "platform/accept_wait.h"
#include "platform/socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace openwws::test {

namespace {

// Server channels open_with_accept made for itself: they stay OPEN (a closed server end
// would turn the client's next send into a reset) until the test's fd_guard ends.
std::mutex parked_mu;
std::vector<WS_CHANNEL*> parked;

void free_parked() {
  std::vector<WS_CHANNEL*> mine;
  {
    std::lock_guard lock(parked_mu);
    mine.swap(parked);
  }
  for (WS_CHANNEL* c : mine) {
    WsAbortChannel(c, nullptr);
    WsCloseChannel(c, nullptr, nullptr);
    WsFreeChannel(c);
  }
}

}  // namespace

void close_and_free(WS_LISTENER* l) {
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

void close_and_free(WS_CHANNEL* c) {
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  WsFreeChannel(c);
}

// A thread's accept waiter (platform/accept_wait.h) holds its descriptors until the
// thread exits: made before the count, it is not taken for a leak of the test.
fd_guard::fd_guard() : before((platform::this_thread_accept_waiter(), platform::open_descriptor_count())) {}

fd_guard::~fd_guard() {
  free_parked();
  // Sockets a test closed with FIN may take a moment to leave the table of a
  // runtime thread still winding down; descriptors never linger once close returned.
  int after = platform::open_descriptor_count();
  CHECK_MESSAGE(after == before, "descriptors open before: ", before, ", after: ", after);
}

error_object::error_object() { REQUIRE(WsCreateError(nullptr, 0, &e) == S_OK); }
error_object::~error_object() { WsFreeError(e); }

ULONG error_object::count() const {
  ULONG n = 0;
  WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, &n, sizeof n);
  return n;
}

std::string error_object::text() const {
  std::string out;
  for (ULONG i = 0; i < count(); ++i) {
    WS_STRING s{};
    if (WsGetErrorString(e, i, &s) != S_OK) break;
    if (!out.empty()) out += " | ";
    out += str(s);
  }
  return out;
}

std::u16string u16(const std::string& s) { return std::u16string(s.begin(), s.end()); }

std::string narrow(const std::u16string& s) {
  std::string out;
  for (char16_t c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
      out += buf;
    }
  }
  return out;
}

std::string str(const WS_STRING& s) {
  return s.length ? narrow(std::u16string(reinterpret_cast<const char16_t*>(s.chars), s.length)) : std::string();
}

WS_STRING ws(const std::u16string& s) {
  return WS_STRING{static_cast<ULONG>(s.size()), const_cast<WCHAR*>(reinterpret_cast<const WCHAR*>(s.data()))};
}

WS_LISTENER* open_listener(const std::string& url, USHORT* port, const WS_LISTENER_PROPERTY* props, ULONG count) {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, count, nullptr, &l,
                           nullptr) == S_OK);
  auto text = u16(url);
  WS_STRING s = ws(text);
  error_object err;
  HRESULT hr = WsOpenListener(l, &s, nullptr, err);
  REQUIRE_MESSAGE(hr == S_OK, "open ", url, ": ", err.text());
  if (port) *port = port_of(l);
  return l;
}

WS_CHANNEL* channel_for(WS_LISTENER* l) {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannelForListener(l, nullptr, 0, &c, nullptr) == S_OK);
  return c;
}

USHORT port_of(WS_LISTENER* l) {
  USHORT port = 0;
  REQUIRE(WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port, sizeof port, nullptr) == S_OK);
  return port;
}

WS_LISTENER_STATE state_of(WS_LISTENER* l) {
  WS_LISTENER_STATE s{};
  REQUIRE(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &s, sizeof s, nullptr) == S_OK);
  return s;
}

WS_CHANNEL_STATE state_of(WS_CHANNEL* c) {
  WS_CHANNEL_STATE s{};
  REQUIRE(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, &s, sizeof s, nullptr) == S_OK);
  return s;
}

int make_socket(bool v6, bool nonblocking) {
  int fd = platform::stream_socket(v6 ? AF_INET6 : AF_INET, nonblocking);
  if (fd < 0) {
    errno = -fd;
    return -1;
  }
  return fd;
}

int loopback_socket(USHORT* port, int backlog) {
  int fd = make_socket();
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || (backlog >= 0 && ::listen(fd, backlog) != 0) ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

int accept_blocking(int listen_fd) {
  int fd = platform::accept_socket(listen_fd, false);
  if (fd < 0) {
    errno = -fd;
    return -1;
  }
  return fd;
}

long send_nosignal(int fd, const void* data, std::size_t len) {
  ssize_t n = platform::send_nosignal(fd, data, len);
  if (n < 0) {
    errno = static_cast<int>(-n);
    return -1;
  }
  return static_cast<long>(n);
}

int raw_connect(USHORT port, bool v6) {
  int fd = make_socket(v6);
  if (fd < 0) return -1;
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void close_rst(int fd) { platform::close_with_reset(fd); }

std::vector<std::uint8_t> nettcp_preamble(const std::string& via) {
  std::vector<std::uint8_t> out{0x00, 0x01, 0x00, 0x01, 0x02, 0x02};
  std::size_t n = via.size();
  do {
    std::uint8_t b = n & 0x7F;
    n >>= 7;
    out.push_back(static_cast<std::uint8_t>(n ? b | 0x80 : b));
  } while (n);
  out.insert(out.end(), via.begin(), via.end());
  out.insert(out.end(), {0x03, 0x08, 0x0C});
  return out;
}

std::string loopback_url(USHORT port, bool v6, const std::string& path) {
  return std::string("net.tcp://") + (v6 ? "[::1]" : "127.0.0.1") + ":" + std::to_string(port) + "/" + path;
}

int nettcp_connect_via(USHORT port, const std::string& via, bool v6) {
  int fd = raw_connect(port, v6);
  if (fd < 0) return -1;
  std::vector<std::uint8_t> p = nettcp_preamble(via);
  if (send_nosignal(fd, p.data(), p.size()) != static_cast<long>(p.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int nettcp_connect(USHORT port, bool v6, const std::string& path) {
  return nettcp_connect_via(port, loopback_url(port, v6, path), v6);
}

std::vector<std::uint8_t> read_answer(int fd, std::chrono::milliseconds timeout) {
  std::vector<std::uint8_t> got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    int wait_ms = got.empty() ? static_cast<int>(std::max<long long>(left.count(), 0)) : 200;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) return got;
    std::uint8_t buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return got;
    got.insert(got.end(), buf, buf + n);
  }
}

HRESULT open_with_accept(WS_LISTENER* l, WS_CHANNEL* server, WS_CHANNEL* client, const std::string& url,
                         WS_ERROR* error) {
  WS_CHANNEL* own = server ? nullptr : channel_for(l);
  callback_probe accepted;
  WS_ASYNC_CONTEXT ctx = accepted.ctx();
  HRESULT started = WsAcceptChannel(l, server ? server : own, &ctx, nullptr);
  auto text = u16(url);
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(text);
  HRESULT hr = WsOpenChannel(client, &ea, nullptr, error);
  if (FAILED(hr)) WsAbortChannel(server ? server : own, nullptr);  // no client came: the accept ends
  HRESULT accept_hr = accepted.outcome(started);
  if (SUCCEEDED(hr)) CHECK(accept_hr == S_OK);
  if (own) {
    std::lock_guard lock(parked_mu);
    parked.push_back(own);
  }
  return hr;
}

WS_CHANNEL* client_channel_accepted(WS_LISTENER* l, WS_CHANNEL* server, const std::string& host, USHORT port,
                                    const std::string& path) {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &c, nullptr) ==
          S_OK);
  error_object err;
  HRESULT hr = open_with_accept(l, server, c, "net.tcp://" + host + ":" + std::to_string(port) + "/" + path, err);
  REQUIRE_MESSAGE(hr == S_OK, err.text());
  return c;
}

WS_CHANNEL* client_channel(const std::string& host, USHORT port, HRESULT* hr_out, const std::string& path) {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &c, nullptr) ==
          S_OK);
  auto url = u16("net.tcp://" + host + ":" + std::to_string(port) + "/" + path);
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(url);
  HRESULT hr = WsOpenChannel(c, &ea, nullptr, nullptr);
  if (hr_out)
    *hr_out = hr;
  else
    REQUIRE(hr == S_OK);
  return c;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

WS_ASYNC_CONTEXT callback_probe::ctx() { return WS_ASYNC_CONTEXT{callback, this}; }

bool callback_probe::wait(std::chrono::milliseconds timeout) const {
  return wait_until([this] { return calls.load() > 0; }, timeout);
}

HRESULT callback_probe::outcome(HRESULT returned) {
  bool async = returned == WS_S_ASYNC;
  if (async) REQUIRE(wait());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // a second callback would show by now
  CHECK(calls.load() == (async ? 1 : 0));
  CHECK_FALSE(on_caller_thread.load());
  if (async && embedded_host()) {
    CHECK(thread.load() == host_thread_id());
    CHECK(model.load() == WS_SHORT_CALLBACK);
  }
  return async ? hr.load() : returned;
}

void CALLBACK callback_probe::callback(HRESULT hr, WS_CALLBACK_MODEL model, void* state) {
  auto* p = static_cast<callback_probe*>(state);
  if (std::this_thread::get_id() == p->caller) p->on_caller_thread = true;
  p->hr = hr;
  p->model = model;
  p->thread = std::this_thread::get_id();
  p->calls.fetch_add(1);
}

std::string backend_under_test() {
  const char* b = std::getenv("OPENWWS_BACKEND");
  return b ? b : "";
}

WS_CALLBACK_MODEL invoked_model(WS_CALLBACK_MODEL preferred) {
  return embedded_host() ? WS_SHORT_CALLBACK : preferred;
}

on_own_threads::on_own_threads() {
  if (embedded_host()) REQUIRE(OpenwwsSetDefaultEventLoop(nullptr, nullptr) == S_OK);
}

on_own_threads::~on_own_threads() {
  if (embedded_host()) CHECK(OpenwwsSetDefaultEventLoop(embedded_event_loop(), nullptr) == S_OK);
}

}  // namespace openwws::test
