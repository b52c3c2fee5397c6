// SPDX-License-Identifier: MIT
// The net.tcp handshake through the public API ([MC-NMF] 3.1): WsAcceptChannel reads a
// client's preamble and answers Preamble Ack, refuses a bad one with its Fault record and
// goes on waiting, drops clients that stay silent past CONNECT_TIMEOUT without holding up
// good ones, and gives the Via as TRANSPORT_URL; WsOpenChannel writes the captured
// clients' preamble and reads the answer; sessions end with End.
#include "tests/support.h"

#include "core/nettcp.h"

#include <webservices.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

using namespace openwws::test;
using namespace std::chrono_literals;
namespace nettcp = openwws::core::nettcp;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OPENWWS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define OPENWWS_SANITIZED 1
#endif
#endif
#ifndef OPENWWS_SANITIZED
#define OPENWWS_SANITIZED 0
#endif

namespace {

using bytes_t = std::vector<std::uint8_t>;

bytes_t record_of(std::span<const std::uint8_t> s) { return bytes_t(s.begin(), s.end()); }
const bytes_t ack{0x0B};

// A captured client stream (tests/vectors/nettcp), hex after '#' comment lines.
bytes_t vector_bytes(const std::string& name) {
  std::ifstream in(std::filesystem::path(OPENWWS_NETTCP_VECTORS) / name);
  REQUIRE(in.good());
  bytes_t out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) out.push_back(static_cast<std::uint8_t>(std::stoul(w, nullptr, 16)));
  }
  return out;
}

// An async accept on its own channel, for the tests that watch it wait.
struct pending_accept {
  WS_LISTENER* l;
  WS_CHANNEL* ch;
  callback_probe probe;
  HRESULT started;
  explicit pending_accept(WS_LISTENER* listener) : l(listener), ch(channel_for(listener)) {
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    started = WsAcceptChannel(l, ch, &ctx, nullptr);
  }
  bool done() const { return started != WS_S_ASYNC || probe.calls.load() > 0; }
  HRESULT result() { return probe.outcome(started); }
  ~pending_accept() {
    WsAbortChannel(ch, nullptr);
    probe.outcome(started);
    WsCloseChannel(ch, nullptr, nullptr);
    WsFreeChannel(ch);
  }
};

std::string transport_url(WS_CHANNEL* c, HRESULT* hr_out = nullptr) {
  WS_STRING s{};
  HRESULT hr = WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_TRANSPORT_URL, &s, sizeof s, nullptr);
  if (hr_out) *hr_out = hr;
  return SUCCEEDED(hr) ? str(s) : std::string();
}

// Reads until the peer's FIN: true if it came (no reset), with what came before it.
bool read_to_eof(int fd, bytes_t& got, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
    std::uint8_t buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return false;
    got.insert(got.end(), buf, buf + n);
  }
}

WS_LISTENER* listener_with_timeout(ULONG ms, USHORT* port, const std::string& url = "net.tcp://127.0.0.1:0/") {
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, &ms, sizeof ms};
  return open_listener(url, port, &prop, 1);
}

// A bad preamble gets its fault and FIN, the accept keeps waiting, a good client after it is accepted.
void expect_fault(const std::function<bytes_t(USHORT)>& make, nettcp::framing_fault fault,
                  const std::string& path = "") {
  fd_guard fds;
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/" + path, &port);
  {
    pending_accept accept(l);
    bytes_t preamble = make(port);
    int bad = raw_connect(port);
    REQUIRE(bad >= 0);
    REQUIRE(send_nosignal(bad, preamble.data(), preamble.size()) == static_cast<long>(preamble.size()));
    bytes_t got;
    CHECK(read_to_eof(bad, got));
    CHECK(got == record_of(nettcp::fault_record(fault)));
    ::close(bad);
    CHECK_FALSE(accept.done());
    int good = nettcp_connect(port, false, path);
    CHECK(read_answer(good) == ack);
    CHECK(accept.result() == S_OK);
    CHECK(transport_url(accept.ch) == loopback_url(port, false, path));
    close_rst(good);
  }
  close_and_free(l);
}

bytes_t with_byte(bytes_t p, std::size_t at, std::uint8_t value) {
  p[at] = value;
  return p;
}

}  // namespace

TEST_SUITE("handshake") {

TEST_CASE_FIXTURE(fd_guard, "accept_answers_the_preamble_with_ack_and_gives_the_via_as_transport_url") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/echo", &port);
  WS_CHANNEL* ch = channel_for(l);
  HRESULT hr = S_OK;
  transport_url(ch, &hr);
  CHECK(hr == WS_E_INVALID_OPERATION);  // before the accept
  int fd = nettcp_connect(port, false, "echo");
  REQUIRE(fd >= 0);
  error_object err;
  REQUIRE_MESSAGE(WsAcceptChannel(l, ch, nullptr, err) == S_OK, err.text());
  CHECK(read_answer(fd) == ack);
  CHECK(transport_url(ch) == loopback_url(port, false, "echo"));
  CHECK(WsCloseChannel(ch, nullptr, nullptr) == S_OK);
  CHECK(transport_url(ch) == loopback_url(port, false, "echo"));  // until reset or free
  CHECK(WsResetChannel(ch, nullptr) == S_OK);
  transport_url(ch, &hr);
  CHECK(hr == WS_E_INVALID_OPERATION);
  ::close(fd);
  WsFreeChannel(ch);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "transport_url_of_a_client_channel_is_invalidarg") {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &c, nullptr) ==
          S_OK);
  HRESULT hr = S_OK;
  transport_url(c, &hr);
  CHECK(hr == E_INVALIDARG);
  WsFreeChannel(c);
}

TEST_CASE_FIXTURE(fd_guard, "captured_client_streams_with_their_first_message_are_accepted_and_closed_without_reset") {
  for (const char* name : {"mono-client.c2s.hex", "wine-client-send.c2s.hex", "wine-client-rr.c2s.hex"}) {
    CAPTURE(name);
    bytes_t stream = vector_bytes(name);
    REQUIRE(stream.size() > 40);
    USHORT port = 0;
    WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/echo", &port);
    WS_CHANNEL* ch = channel_for(l);
    // The captured preamble and first message in one segment, with this listener's port in the Via.
    bytes_t sent = nettcp_preamble(loopback_url(port, false, "echo"));
    sent.insert(sent.end(), stream.begin() + 40, stream.end());
    int fd = raw_connect(port);
    REQUIRE(send_nosignal(fd, sent.data(), sent.size()) == static_cast<long>(sent.size()));
    error_object err;
    CHECK_MESSAGE(WsAcceptChannel(l, ch, nullptr, err) == S_OK, err.text());
    CHECK(transport_url(ch) == loopback_url(port, false, "echo"));
    CHECK(WsCloseChannel(ch, nullptr, nullptr) == S_OK);
    bytes_t got;
    CHECK(read_to_eof(fd, got));  // FIN, not a reset: nothing was left unread
    CHECK(got == bytes_t{0x0B, 0x07});  // Preamble Ack, then End
    ::close(fd);
    WsFreeChannel(ch);
    close_and_free(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "a_preamble_split_one_byte_per_segment_is_accepted") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  pending_accept accept(l);
  int fd = raw_connect(port);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (std::uint8_t b : nettcp_preamble(loopback_url(port))) {
    CHECK_FALSE(accept.done());
    REQUIRE(send_nosignal(fd, &b, 1) == 1);
    std::this_thread::sleep_for(1ms);
  }
  CHECK(accept.result() == S_OK);
  CHECK(read_answer(fd) == ack);
  close_rst(fd);
  close_and_free(l);
}

TEST_CASE("every_bad_preamble_gets_its_fault_and_the_accept_goes_on") {
  auto good = [](USHORT port) { return nettcp_preamble(loopback_url(port)); };
  SUBCASE("version 2.0: UnsupportedVersion") {
    expect_fault([&](USHORT port) { return with_byte(good(port), 1, 2); }, nettcp::framing_fault::unsupported_version);
  }
  SUBCASE("an HTTP request: UnsupportedVersion") {
    std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_fault([&](USHORT) { return bytes_t(http.begin(), http.end()); }, nettcp::framing_fault::unsupported_version);
  }
  SUBCASE("mode simplex: UnsupportedMode") {
    expect_fault([&](USHORT port) { return with_byte(good(port), 4, 3); }, nettcp::framing_fault::unsupported_mode);
  }
  SUBCASE("a Via for another path: EndpointNotFound") {
    expect_fault([](USHORT port) { return nettcp_preamble(loopback_url(port, false, "elsewhere")); },
                 nettcp::framing_fault::endpoint_not_found, "svc");
  }
  SUBCASE("a Via for another port: EndpointNotFound") {
    expect_fault([](USHORT port) { return nettcp_preamble(loopback_url(static_cast<USHORT>(port + 1))); },
                 nettcp::framing_fault::endpoint_not_found);
  }
  SUBCASE("SOAP 1.1 text: ContentTypeInvalid") {
    expect_fault([&](USHORT port) { bytes_t p = good(port); p[p.size() - 2] = 0x00; return p; },
                 nettcp::framing_fault::content_type_invalid);
  }
  SUBCASE("an upgrade request: UpgradeInvalid") {
    expect_fault(
        [&](USHORT port) {
          bytes_t p = good(port);
          std::string tls = "application/ssl-tls";
          p.pop_back();  // Preamble End goes after the upgrade request
          p.push_back(0x09);
          p.push_back(static_cast<std::uint8_t>(tls.size()));
          p.insert(p.end(), tls.begin(), tls.end());
          p.push_back(0x0C);
          return p;
        },
        nettcp::framing_fault::upgrade_invalid);
  }
  SUBCASE("a Via length past the limit: ViaTooLong") {
    expect_fault([](USHORT) { return bytes_t{0x00, 0x01, 0x00, 0x01, 0x02, 0x02, 0xFF, 0xFF, 0x03}; },
                 nettcp::framing_fault::via_too_long);
  }
}

TEST_CASE_FIXTURE(fd_guard, "a_silent_client_is_dropped_at_connect_timeout_and_holds_up_no_good_client") {
  const ULONG timeout_ms = OPENWWS_SANITIZED ? 1500 : 600;
  USHORT port = 0;
  WS_LISTENER* l = listener_with_timeout(timeout_ms, &port);
  {
    pending_accept first(l);
    auto t0 = std::chrono::steady_clock::now();
    int silent = raw_connect(port);
    REQUIRE(silent >= 0);
    // The accept took the silent connection and went back to waiting: a good client is
    // accepted long before the silent one's time is up.
    int good = nettcp_connect(port);
    CHECK(read_answer(good, std::chrono::milliseconds(timeout_ms / 2)) == ack);
    CHECK(first.result() == S_OK);
    bytes_t got;
    CHECK(read_to_eof(silent, got, 10s));
    double ratio = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / timeout_ms;
    CAPTURE(ratio);
    CHECK(ratio >= 0.95);
    CHECK(ratio <= (OPENWWS_SANITIZED ? 2.0 : 1.5));
    CHECK(got.empty());  // closed without a fault: the client never spoke
    ::close(silent);
    close_rst(good);
  }
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "many_silent_and_trickling_clients_do_not_delay_a_good_one") {
  const int silent_count = OPENWWS_SANITIZED ? 100 : 500;
  USHORT port = 0;
  WS_LISTENER* l = listener_with_timeout(5000, &port);
  {
    pending_accept accept(l);
    std::vector<int> slow;
    for (int i = 0; i < silent_count; ++i) {
      int fd = raw_connect(port);
      REQUIRE(fd >= 0);
      if (i % 2) {
        const std::uint8_t first = 0x00;
        send_nosignal(fd, &first, 1);
      }
      slow.push_back(fd);
    }
    CHECK_FALSE(accept.done());
    auto t0 = std::chrono::steady_clock::now();
    int good = nettcp_connect(port);
    CHECK(read_answer(good, 3s) == ack);
    CHECK(accept.result() == S_OK);
    double waited_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    CAPTURE(waited_ms);
    CHECK(waited_ms < 2000);
    for (int fd : slow) close_rst(fd);
    close_rst(good);
  }
  close_and_free(l);  // every half-done connection goes with it: fd_guard checks
}

TEST_CASE_FIXTURE(fd_guard, "close_and_abort_during_handshakes_end_the_accepts_and_leak_nothing") {
  for (bool abort_first : {false, true}) {
    CAPTURE(abort_first);
    USHORT port = 0;
    // Below 10 s, so that the kernel hands the silent connections over at once
    // (with TCP_DEFER_ACCEPT it keeps them, and drops them when the socket closes).
    WS_LISTENER* l = listener_with_timeout(9000, &port);
    WS_CHANNEL* ch = channel_for(l);
    callback_probe probe;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    HRESULT started = WsAcceptChannel(l, ch, &ctx, nullptr);
    std::vector<int> slow;
    for (int i = 0; i < 20; ++i) slow.push_back(raw_connect(port));
    std::this_thread::sleep_for(50ms);
    if (abort_first) CHECK(WsAbortListener(l, nullptr) == S_OK);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    CHECK(probe.outcome(started) == WS_E_OPERATION_ABORTED);
    for (int fd : slow) {
      bytes_t got;
      CHECK(read_to_eof(fd, got, 5s));  // the listener closed every half-done connection
      ::close(fd);
    }
    WsFreeChannel(ch);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_writes_the_captured_preamble_and_opens_on_the_ack") {
  USHORT port = 0;
  int server = loopback_socket(&port, 4);
  REQUIRE(server >= 0);
  for (const char* answer : {"ack", "fault", "silence"}) {
    CAPTURE(answer);
    std::string url = loopback_url(port, false, "echo");
    bytes_t seen;
    std::thread peer([&] {
      int fd = accept_blocking(server);
      if (fd < 0) return;
      std::uint8_t b = 0;
      while (b != 0x0C && ::recv(fd, &b, 1, 0) == 1) seen.push_back(b);
      if (std::string(answer) == "ack") send_nosignal(fd, ack.data(), 1);
      if (std::string(answer) == "fault") {
        auto f = nettcp::fault_record(nettcp::framing_fault::endpoint_not_found);
        send_nosignal(fd, f.data(), f.size());
      }
      bytes_t rest;
      read_to_eof(fd, rest, 5s);
      ::close(fd);
    });
    WS_CHANNEL* c = nullptr;
    ULONG timeout_ms = 500;
    WS_CHANNEL_PROPERTY prop{WS_CHANNEL_PROPERTY_CONNECT_TIMEOUT, &timeout_ms, sizeof timeout_ms};
    REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &c, nullptr) ==
            S_OK);
    auto text = u16(url);
    WS_ENDPOINT_ADDRESS ea{};
    ea.url = ws(text);
    error_object err;
    auto t0 = std::chrono::steady_clock::now();
    HRESULT hr = WsOpenChannel(c, &ea, nullptr, err);
    double ratio = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / timeout_ms;
    if (std::string(answer) == "ack") {
      CHECK_MESSAGE(hr == S_OK, err.text());
      CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
      WsCloseChannel(c, nullptr, nullptr);
    } else if (std::string(answer) == "fault") {
      CHECK(hr == WS_E_ENDPOINT_NOT_FOUND);
      CHECK(err.text().find("EndpointNotFound") != std::string::npos);
      CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
    } else {
      CHECK(hr == WS_E_OPERATION_TIMED_OUT);
      CAPTURE(ratio);
      CHECK(ratio >= 0.95);
      CHECK(ratio <= (OPENWWS_SANITIZED ? 3.0 : 1.5));
      CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
    }
    WsFreeChannel(c);
    peer.join();
    // Byte for byte the captured clients' preamble, with this Via (they differ only there).
    bytes_t expected = vector_bytes("mono-client.c2s.hex");
    expected.resize(40);
    std::string captured_via = "net.tcp://127.0.0.1:26001/echo";
    bytes_t head(expected.begin(), expected.begin() + 6);
    CHECK(expected[6] == captured_via.size());
    bytes_t ours = head;
    ours.push_back(static_cast<std::uint8_t>(url.size()));
    ours.insert(ours.end(), url.begin(), url.end());
    ours.insert(ours.end(), expected.end() - 3, expected.end());
    CHECK(seen == ours);
  }
  ::close(server);
}

TEST_CASE_FIXTURE(fd_guard, "openwws_client_and_listener_complete_the_handshake_and_end_the_session") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/svc", &port);
  WS_CHANNEL* server = channel_for(l);
  WS_CHANNEL* client = client_channel_accepted(l, server, "127.0.0.1", port, "svc");
  CHECK(transport_url(server) == loopback_url(port, false, "svc"));
  CHECK(WsShutdownSessionChannel(client, nullptr, nullptr) == S_OK);
  CHECK(WsCloseChannel(client, nullptr, nullptr) == S_OK);
  CHECK(WsCloseChannel(server, nullptr, nullptr) == S_OK);
  WsFreeChannel(client);
  WsFreeChannel(server);
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "shutdown_session_sends_end_then_fin") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* ch = channel_for(l);
  int fd = nettcp_connect(port);
  REQUIRE(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
  CHECK(WsShutdownSessionChannel(ch, nullptr, nullptr) == S_OK);
  bytes_t got;
  CHECK(read_to_eof(fd, got));
  CHECK(got == bytes_t{0x0B, 0x07});
  CHECK(WsCloseChannel(ch, nullptr, nullptr) == S_OK);
  ::close(fd);
  WsFreeChannel(ch);
  close_and_free(l);
}

}  // TEST_SUITE
