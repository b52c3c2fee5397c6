// SPDX-License-Identifier: MIT
// Checks that client and accepted TCP channels follow the documented channel state
// machine (spec 9.1/9.2 and the Windows-observed lines): open, accept, close, abort,
// reset and session shutdown in each state, what the peer sees on the wire, aborting
// a pending accept, the async open contract, and REMOTE_IP_ADDRESS.
#include "tests/support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

using namespace openwws::test;
using namespace std::chrono_literals;

namespace {

WS_CHANNEL* tcp_channel() {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &c,
                          nullptr) == S_OK);
  return c;
}

HRESULT open_to(WS_CHANNEL* c, const std::string& url, WS_ERROR* error = nullptr) {
  auto text = u16(url);
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(text);
  return WsOpenChannel(c, &ea, nullptr, error);
}

std::string tcp_url(USHORT port) { return "net.tcp://127.0.0.1:" + std::to_string(port) + "/"; }

BOOL is_shut_down(WS_CHANNEL* c) {
  BOOL b = 7;
  REQUIRE(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN, &b, sizeof b, nullptr) == S_OK);
  return b;
}

// A raw IPv4 socket bound to 127.0.0.1 on a kernel-chosen port, listening or not.
struct raw_server {
  int fd = -1;
  USHORT port = 0;
  explicit raw_server(bool listening, int backlog = 8) {
    fd = loopback_socket(&port, listening ? backlog : -1);
    REQUIRE(fd >= 0);
  }
  ~raw_server() { ::close(fd); }
  // Accepts one queued connection, waiting at most 5 s; -1 if none came.
  int accept_one() const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return -1;
    return accept_blocking(fd);
  }
  // On a thread: accepts one connection, reads its net.tcp preamble (up to Preamble
  // End) and answers Preamble Ack, as a server does; the connection goes to peer.
  std::thread ack_one(int& peer) const {
    return std::thread([this, &peer] {
      peer = accept_one();
      if (peer < 0) return;
      std::uint8_t b = 0;
      while (b != 0x0C && ::recv(peer, &b, 1, 0) == 1) {
      }
      const std::uint8_t ack = 0x0B;
      send_nosignal(peer, &ack, 1);
    });
  }
};

// Reads (and discards) until the peer's end of stream, for at most 5 s in all.
// True if recv returned 0; bytes before it (e.g. framing records) are allowed.
bool reads_eof(int fd) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  char buf[512];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return false;
  }
}

// A synchronous WsAcceptChannel running on its own thread.
struct background_accept {
  WS_LISTENER* l;
  WS_CHANNEL* c;
  USHORT port;
  error_object err;  // used by the accepting thread only until done
  std::atomic<bool> done{false};
  std::atomic<HRESULT> hr{E_FAIL};
  std::thread t;
  background_accept(WS_LISTENER* listener, WS_CHANNEL* channel, USHORT listen_port)
      : l(listener), c(channel), port(listen_port) {
    t = std::thread([this] {
      hr = WsAcceptChannel(l, c, nullptr, err.e);
      done = true;
    });
  }
  bool finished(std::chrono::milliseconds timeout) {
    return wait_until([this] { return done.load(); }, timeout);
  }
  // Ends the thread: if the accept still waits, a connection releases it.
  ~background_accept() {
    if (!finished(5s)) {
      int fd = nettcp_connect(port, false);
      finished(5s);
      if (fd >= 0) close_rst(fd);
    }
    t.join();
  }
};

// An OPEN client channel and the channel the listener accepted for it.
struct connected_pair {
  WS_LISTENER* l = nullptr;
  WS_CHANNEL* client = nullptr;
  WS_CHANNEL* server = nullptr;
  USHORT port = 0;
  connected_pair() {
    l = open_listener("net.tcp://127.0.0.1:0/", &port);
    server = channel_for(l);
    client = client_channel_accepted(l, server, "127.0.0.1", port);
  }
  ~connected_pair() {
    WsCloseChannel(client, nullptr, nullptr);
    WsFreeChannel(client);
    WsCloseChannel(server, nullptr, nullptr);
    WsFreeChannel(server);
    WsCloseListener(l, nullptr, nullptr);
    WsFreeListener(l);
  }
};

}  // namespace

TEST_SUITE("channel") {

// ---- open ----------------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "open_channel_to_open_listener_is_open") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = tcp_channel();
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  error_object err;
  CHECK_MESSAGE(open_with_accept(l, nullptr, c, tcp_url(port), err) == S_OK, err.text());
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_with_connected_client_is_open") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* server = channel_for(l);
  WS_CHANNEL* client = client_channel_accepted(l, server, "127.0.0.1", port);
  CHECK(state_of(server) == WS_CHANNEL_STATE_OPEN);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  close_and_free(server);
  close_and_free(client);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_twice_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  error_object err;
  CHECK(open_to(c, tcp_url(port), err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_nothing_listening_returns_endpoint_not_found") {
  raw_server bound(false);  // holds the port, refuses connections
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  CHECK(open_to(c, tcp_url(bound.port), err) == WS_E_ENDPOINT_NOT_FOUND);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_after_failed_open_opens_again") {
  raw_server bound(false);
  WS_CHANNEL* c = tcp_channel();
  REQUIRE(open_to(c, tcp_url(bound.port)) == WS_E_ENDPOINT_NOT_FOUND);
  REQUIRE(state_of(c) == WS_CHANNEL_STATE_CREATED);
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  error_object err;
  CHECK_MESSAGE(open_with_accept(l, nullptr, c, tcp_url(port), err) == S_OK, err.text());
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_url_not_for_binding_returns_invalid_endpoint_url") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  CHECK(open_to(c, "http://127.0.0.1:1/", err) == WS_E_INVALID_ENDPOINT_URL);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_unparseable_url_returns_invalid_format") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  CHECK(open_to(c, "net.tcp:/127.0.0.1", err) == WS_E_INVALID_FORMAT);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_closed_or_faulted_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* faulted = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  REQUIRE(WsAbortChannel(faulted, nullptr) == S_OK);
  error_object err;
  CHECK(open_to(faulted, tcp_url(port), err) == WS_E_INVALID_OPERATION);
  CHECK(state_of(faulted) == WS_CHANNEL_STATE_FAULTED);
  WS_CHANNEL* closed = tcp_channel();
  REQUIRE(WsCloseChannel(closed, nullptr, nullptr) == S_OK);
  CHECK(open_to(closed, tcp_url(port), err) == WS_E_INVALID_OPERATION);
  CHECK(state_of(closed) == WS_CHANNEL_STATE_CLOSED);
  CHECK(err.count() >= 2);
  WsFreeChannel(closed);
  close_and_free(faulted);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_channel_opening_aborts_the_open_and_returns_to_created") {
  // A server whose queue (backlog 0) is already full: the kernel drops the next
  // SYN, so the client's connect stays in progress and the channel in OPENING.
  raw_server full(true, 0);
  int first = nettcp_connect(full.port, false);
  REQUIRE(first >= 0);
  WS_CHANNEL* c = tcp_channel();
  std::atomic<bool> done{false};
  std::atomic<HRESULT> hr{E_FAIL};
  error_object err;
  std::string url = tcp_url(full.port);
  std::thread t([&] {
    hr = open_to(c, url, err.e);
    done = true;
  });
  bool opening = wait_until([&] { return state_of(c) == WS_CHANNEL_STATE_OPENING || done.load(); }, 5s);
  CHECK(opening);
  CHECK(!done.load());
  CHECK(WsAbortChannel(c, nullptr) == S_OK);
  bool finished = wait_until([&] { return done.load(); }, 5s);
  CHECK(finished);
  if (!finished) {
    // Let the connect through so that the thread can end: accept the queued one.
    int a = full.accept_one();
    wait_until([&] { return done.load(); }, 10s);
    if (a >= 0) close_rst(a);
  }
  t.join();
  CHECK(hr.load() == WS_E_OPERATION_ABORTED);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  close_rst(first);
  WsCloseChannel(c, nullptr, nullptr);
  WsFreeChannel(c);
}

// ---- close ---------------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "close_channel_created_returns_ok_and_is_closed") {
  WS_CHANNEL* c = tcp_channel();
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "close_channel_twice_returns_ok") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_channel_faulted_returns_ok") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  REQUIRE(WsAbortChannel(c, nullptr) == S_OK);
  REQUIRE(state_of(c) == WS_CHANNEL_STATE_FAULTED);
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_channel_open_session_peer_reads_eof") {
  // Closing an OPEN session channel implies a session shutdown.
  raw_server server(true);
  WS_CHANNEL* c = tcp_channel();
  int peer = -1;
  std::thread acker = server.ack_one(peer);
  REQUIRE(open_to(c, tcp_url(server.port)) == S_OK);
  acker.join();
  REQUIRE(peer >= 0);
  CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(reads_eof(peer));
  ::close(peer);
  WsFreeChannel(c);
}

// ---- abort ---------------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "abort_channel_open_moves_to_faulted") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  CHECK(WsAbortChannel(c, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_FAULTED);
  CHECK(WsAbortChannel(c, nullptr) == S_OK);  // FAULTED -> FAULTED
  CHECK(state_of(c) == WS_CHANNEL_STATE_FAULTED);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_channel_created_or_closed_keeps_state") {
  WS_CHANNEL* c = tcp_channel();
  CHECK(WsAbortChannel(c, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  REQUIRE(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(WsAbortChannel(c, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  WsFreeChannel(c);
}

// ---- reset ---------------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "reset_channel_open_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  error_object err;
  CHECK(WsResetChannel(c, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_channel_faulted_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  REQUIRE(WsAbortChannel(c, nullptr) == S_OK);
  error_object err;
  CHECK(WsResetChannel(c, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_FAULTED);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_channel_created_stays_created") {
  WS_CHANNEL* c = tcp_channel();
  CHECK(WsResetChannel(c, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "reset_channel_after_close_is_created_and_keeps_properties") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  ULONG dict = 4096;
  WS_CHANNEL_PROPERTY prop{WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, &dict, sizeof dict};
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &c, nullptr) ==
          S_OK);
  ULONG resolve = 5000;
  REQUIRE(WsSetChannelProperty(c, WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT, &resolve, sizeof resolve, nullptr) == S_OK);
  REQUIRE(open_with_accept(l, nullptr, c, tcp_url(port)) == S_OK);
  REQUIRE(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  CHECK(WsResetChannel(c, nullptr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  ULONG got = 0;
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT, &got, sizeof got, nullptr) == S_OK);
  CHECK(got == 5000);
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, &got, sizeof got, nullptr) == S_OK);
  CHECK(got == 4096);
  WS_CHANNEL_TYPE type{};
  CHECK(WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_CHANNEL_TYPE, &type, sizeof type, nullptr) == S_OK);
  CHECK(type == WS_CHANNEL_TYPE_DUPLEX_SESSION);
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_channel_after_close_opens_again") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  REQUIRE(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  REQUIRE(WsResetChannel(c, nullptr) == S_OK);
  error_object err;
  CHECK_MESSAGE(open_with_accept(l, nullptr, c, tcp_url(port), err) == S_OK, err.text());
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "accepted_channel_reset_after_close_accepts_again") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* server = channel_for(l);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    int fd = nettcp_connect(port, false);
    REQUIRE(fd >= 0);
    error_object err;
    CHECK_MESSAGE(WsAcceptChannel(l, server, nullptr, err) == S_OK, err.text());
    CHECK(state_of(server) == WS_CHANNEL_STATE_OPEN);
    CHECK(WsCloseChannel(server, nullptr, nullptr) == S_OK);
    CHECK(WsResetChannel(server, nullptr) == S_OK);
    CHECK(state_of(server) == WS_CHANNEL_STATE_CREATED);
    close_rst(fd);
  }
  WsFreeChannel(server);
  close_and_free(l);
}

// ---- session shutdown ----------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_created_returns_invalid_operation") {
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  CHECK(WsShutdownSessionChannel(c, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_udp_channel_returns_invalid_operation") {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX, WS_UDP_CHANNEL_BINDING, nullptr, 0, nullptr, &c, nullptr) == S_OK);
  error_object err;
  CHECK(WsShutdownSessionChannel(c, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_open_succeeds_and_sets_is_session_shut_down") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  CHECK(is_shut_down(c) == FALSE);
  error_object err;
  CHECK_MESSAGE(WsShutdownSessionChannel(c, nullptr, err) == S_OK, err.text());
  CHECK(is_shut_down(c) == TRUE);
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_twice_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  REQUIRE(WsShutdownSessionChannel(c, nullptr, nullptr) == S_OK);
  error_object err;
  CHECK(WsShutdownSessionChannel(c, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(is_shut_down(c) == TRUE);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_faulted_returns_object_faulted") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  REQUIRE(WsAbortChannel(c, nullptr) == S_OK);
  error_object err;
  CHECK(WsShutdownSessionChannel(c, nullptr, err) == WS_E_OBJECT_FAULTED);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_FAULTED);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_client_peer_reads_eof") {
  raw_server server(true);
  WS_CHANNEL* c = tcp_channel();
  int peer = -1;
  std::thread acker = server.ack_one(peer);
  REQUIRE(open_to(c, tcp_url(server.port)) == S_OK);
  acker.join();
  REQUIRE(peer >= 0);
  REQUIRE(WsShutdownSessionChannel(c, nullptr, nullptr) == S_OK);
  CHECK(reads_eof(peer));
  close_rst(peer);
  close_and_free(c);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_accepted_channel_peer_reads_eof") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  int client = nettcp_connect(port, false);
  REQUIRE(client >= 0);
  WS_CHANNEL* server = channel_for(l);
  REQUIRE(WsAcceptChannel(l, server, nullptr, nullptr) == S_OK);
  CHECK(WsShutdownSessionChannel(server, nullptr, nullptr) == S_OK);
  CHECK(reads_eof(client));
  close_rst(client);
  close_and_free(server);
  close_and_free(l);
}

// ---- accept state rules --------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "accept_channel_into_open_channel_returns_invalid_operation") {
  connected_pair pair;
  int extra = nettcp_connect(pair.port, false);  // a connection that must not be taken
  REQUIRE(extra >= 0);
  error_object err;
  CHECK(WsAcceptChannel(pair.l, pair.server, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(state_of(pair.server) == WS_CHANNEL_STATE_OPEN);
  // The queued connection is still there for a proper accept.
  WS_CHANNEL* next = channel_for(pair.l);
  CHECK(WsAcceptChannel(pair.l, next, nullptr, nullptr) == S_OK);
  close_and_free(next);
  close_rst(extra);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_into_closed_channel_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  REQUIRE(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  int fd = nettcp_connect(port, false);
  REQUIRE(fd >= 0);
  error_object err;
  CHECK(WsAcceptChannel(l, c, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  close_rst(fd);
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_channel_accepting_aborts_the_accept_and_returns_to_created") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  {
    background_accept pending(l, c, port);
    REQUIRE(wait_until([&] { return state_of(c) == WS_CHANNEL_STATE_ACCEPTING; }, 5s));
    CHECK(!pending.finished(50ms));
    CHECK(WsAbortChannel(c, nullptr) == S_OK);
    REQUIRE(pending.finished(5s));
    CHECK(pending.hr.load() == WS_E_OPERATION_ABORTED);
    CHECK(pending.err.count() >= 1);
  }
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  // A later accept into the same channel works.
  int fd = nettcp_connect(port, false);
  REQUIRE(fd >= 0);
  error_object err;
  CHECK_MESSAGE(WsAcceptChannel(l, c, nullptr, err) == S_OK, err.text());
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_rst(fd);
  close_and_free(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_already_accepting_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  {
    background_accept pending(l, c, port);
    REQUIRE(wait_until([&] { return state_of(c) == WS_CHANNEL_STATE_ACCEPTING; }, 5s));
    error_object err;
    CHECK(WsAcceptChannel(l, c, nullptr, err) == WS_E_INVALID_OPERATION);
    CHECK(err.count() >= 1);
    CHECK(state_of(c) == WS_CHANNEL_STATE_ACCEPTING);
    CHECK(WsAbortChannel(c, nullptr) == S_OK);
    CHECK(pending.finished(5s));
  }
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_or_reset_channel_accepting_returns_invalid_operation") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = channel_for(l);
  {
    background_accept pending(l, c, port);
    REQUIRE(wait_until([&] { return state_of(c) == WS_CHANNEL_STATE_ACCEPTING; }, 5s));
    error_object err;
    CHECK(WsCloseChannel(c, nullptr, err) == WS_E_INVALID_OPERATION);
    CHECK(WsResetChannel(c, err) == WS_E_INVALID_OPERATION);
    CHECK(err.count() >= 2);
    CHECK(state_of(c) == WS_CHANNEL_STATE_ACCEPTING);
    CHECK(WsAbortChannel(c, nullptr) == S_OK);
    CHECK(pending.finished(5s));
  }
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
  close_and_free(l);
}

// ---- async open ----------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "open_channel_async_calls_back_exactly_once_iff_async") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = tcp_channel();
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  auto text = u16(tcp_url(port));
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(text);
  HRESULT hr = WsOpenChannel(c, &ea, &ctx, nullptr);
  // The endpoint address is not needed after the call returns, even when async.
  std::fill(text.begin(), text.end(), u'#');
  ctx = WS_ASYNC_CONTEXT{};
  CHECK((hr == S_OK || hr == WS_S_ASYNC));
  WS_CHANNEL* server = channel_for(l);  // its accept answers the preamble: the open ends
  CHECK(WsAcceptChannel(l, server, nullptr, nullptr) == S_OK);
  CHECK(probe.outcome(hr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  close_and_free(c);
  close_and_free(server);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_async_refused_reports_endpoint_not_found_once") {
  raw_server bound(false);
  WS_CHANNEL* c = tcp_channel();
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  auto text = u16(tcp_url(bound.port));
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(text);
  error_object err;
  HRESULT hr = WsOpenChannel(c, &ea, &ctx, err);
  CHECK(probe.outcome(hr) == WS_E_ENDPOINT_NOT_FOUND);
  CHECK(err.count() >= 1);  // filled before the callback ran (or before returning)
  CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "close_channel_async_calls_back_exactly_once_iff_async") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  HRESULT hr = WsCloseChannel(c, &ctx, nullptr);
  CHECK((hr == S_OK || hr == WS_S_ASYNC));
  CHECK(probe.outcome(hr) == S_OK);
  CHECK(state_of(c) == WS_CHANNEL_STATE_CLOSED);
  WsFreeChannel(c);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_async_calls_back_exactly_once_iff_async") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = client_channel_accepted(l, nullptr, "127.0.0.1", port);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  HRESULT hr = WsShutdownSessionChannel(c, &ctx, nullptr);
  CHECK((hr == S_OK || hr == WS_S_ASYNC));
  CHECK(probe.outcome(hr) == S_OK);
  CHECK(is_shut_down(c) == TRUE);
  close_and_free(c);
  close_and_free(l);
}

// ---- REMOTE_IP_ADDRESS ---------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "remote_ip_address_of_accepted_channel_is_ipv4_loopback") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  int client = nettcp_connect(port, false);
  REQUIRE(client >= 0);
  sockaddr_in local{};
  socklen_t len = sizeof local;
  REQUIRE(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &len) == 0);
  WS_CHANNEL* server = channel_for(l);
  REQUIRE(WsAcceptChannel(l, server, nullptr, nullptr) == S_OK);
  SOCKADDR_STORAGE addr{};
  error_object err;
  REQUIRE_MESSAGE(WsGetChannelProperty(server, WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS, &addr, sizeof addr, err) ==
                      S_OK,
                  err.text());
  CHECK(addr.ss_family == AF_INET);
  if (addr.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr);
    CHECK(ntohl(sin->sin_addr.s_addr) == INADDR_LOOPBACK);
    CHECK(sin->sin_port == local.sin_port);
  }
  close_rst(client);
  close_and_free(server);
  close_and_free(l);
}

}  // TEST_SUITE("channel")
