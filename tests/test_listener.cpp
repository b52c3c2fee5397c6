// SPDX-License-Identifier: MIT
// Checks that the listener follows Microsoft's documentation: the WsCloseListener and
// WsAbortListener pages (shared/seeds), and the WS_LISTENER_STATE diagram (spec section 4).
#include "tests/support.h"

#include <latch>
#include <thread>
#include <vector>

using namespace openwws::test;

namespace {

const std::string any_port = "net.tcp://127.0.0.1:0/";

// An OPEN listener driven into CLOSING and held there: an async accept whose LONG
// callback blocks until release(); the close waits for it (seed 000: "waits for any
// pending I/O to complete").
struct closing_listener {
  WS_LISTENER* l = nullptr;
  WS_CHANNEL* ch = nullptr;
  std::latch entered{1};
  std::latch gate{1};
  std::atomic<int> accept_calls{0};
  callback_probe close_probe;
  WS_ASYNC_CONTEXT close_ctx{};

  static void CALLBACK blocking(HRESULT, WS_CALLBACK_MODEL, void* state) {
    auto* self = static_cast<closing_listener*>(state);
    self->accept_calls++;
    self->entered.count_down();
    self->gate.wait();
  }

  closing_listener() {
    l = open_listener(any_port, nullptr);
    ch = channel_for(l);
    WS_ASYNC_CONTEXT ctx{blocking, this};
    REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
    REQUIRE(WsAbortListener(l, nullptr) == S_OK);
    entered.wait();
    close_ctx = close_probe.ctx();
    REQUIRE(WsCloseListener(l, &close_ctx, nullptr) == WS_S_ASYNC);
    REQUIRE(state_of(l) == WS_LISTENER_STATE_CLOSING);
  }
  void release() { gate.count_down(); }
  ~closing_listener() {
    release();
    close_probe.wait();
    WsFreeChannel(ch);
    WsFreeListener(l);
  }
};

WS_LISTENER* created_listener() {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) ==
          S_OK);
  return l;
}

WS_LISTENER* faulted_listener() {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  REQUIRE(WsAbortListener(l, nullptr) == S_OK);
  REQUIRE(state_of(l) == WS_LISTENER_STATE_FAULTED);
  return l;
}

WS_LISTENER* closed_listener() {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  REQUIRE(state_of(l) == WS_LISTENER_STATE_CLOSED);
  return l;
}

HRESULT open_any(WS_LISTENER* l, WS_ERROR* error = nullptr) {
  auto url = u16(any_port);
  WS_STRING s = ws(url);
  return WsOpenListener(l, &s, nullptr, error);
}

HRESULT accept_once(WS_LISTENER* l, WS_ERROR* error = nullptr) {
  WS_CHANNEL* ch = channel_for(l);
  HRESULT hr = WsAcceptChannel(l, ch, nullptr, error);
  if (hr == S_OK) WsCloseChannel(ch, nullptr, nullptr);
  WsFreeChannel(ch);
  return hr;
}

}  // namespace

TEST_SUITE("listener") {

// ---- WsCloseListener (seed 000) ----------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "close_open_listener_returns_ok_and_reaches_closed") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_stops_listening") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(nettcp_connect(port) == -1);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_with_pending_sync_accept_aborts_it_with_operation_aborted") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  WS_CHANNEL* ch = channel_for(l);
  std::atomic<HRESULT> result{S_FALSE};
  std::thread t([&] { result = WsAcceptChannel(l, ch, nullptr, nullptr); });
  REQUIRE(wait_until([&] { return state_of(ch) == WS_CHANNEL_STATE_ACCEPTING; }));
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  t.join();
  CHECK(result.load() == WS_E_OPERATION_ABORTED);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_CREATED);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_with_pending_async_accept_calls_back_once_with_operation_aborted") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  WS_CHANNEL* ch = channel_for(l);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  // The close waited for the pending accept: its callback has already run.
  CHECK(probe.calls == 1);
  CHECK(probe.hr.load() == WS_E_OPERATION_ABORTED);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_waits_for_pending_io_before_reaching_closed") {
  closing_listener c;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(c.close_probe.calls == 0);
  CHECK(state_of(c.l) == WS_LISTENER_STATE_CLOSING);
  c.release();
  REQUIRE(c.close_probe.wait());
  CHECK(c.close_probe.hr.load() == S_OK);
  CHECK(state_of(c.l) == WS_LISTENER_STATE_CLOSED);
  CHECK(c.close_probe.calls == 1);
}

TEST_CASE_FIXTURE(fd_guard, "close_async_with_pending_io_returns_ws_s_async") {
  closing_listener c;  // its constructor asserts WS_S_ASYNC
  CHECK(c.accept_calls == 1);
}

TEST_CASE_FIXTURE(fd_guard, "close_async_with_nothing_pending_completes_without_callback_or_says_async") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  HRESULT hr = WsCloseListener(l, &ctx, nullptr);
  REQUIRE((hr == S_OK || hr == WS_S_ASYNC));
  CHECK(probe.outcome(hr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_aborted_while_closing_returns_operation_aborted") {
  closing_listener c;
  error_object err;
  CHECK(WsAbortListener(c.l, nullptr) == S_OK);
  CHECK(state_of(c.l) == WS_LISTENER_STATE_CLOSING);  // abort leaves CLOSING as it is
  c.release();
  REQUIRE(c.close_probe.wait());
  CHECK(c.close_probe.hr.load() == WS_E_OPERATION_ABORTED);
  CHECK(state_of(c.l) == WS_LISTENER_STATE_CLOSED);  // "CLOSING | error | CLOSED"
}

TEST_CASE_FIXTURE(fd_guard, "close_sync_aborted_while_closing_returns_operation_aborted_with_error_string") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  WS_CHANNEL* ch = channel_for(l);
  std::latch entered{1}, gate{1};
  struct ctx_state {
    std::latch* entered;
    std::latch* gate;
  } st{&entered, &gate};
  WS_ASYNC_CONTEXT ctx{[](HRESULT, WS_CALLBACK_MODEL, void* s) {
                         auto* p = static_cast<ctx_state*>(s);
                         p->entered->count_down();
                         p->gate->wait();
                       },
                       &st};
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  REQUIRE(WsAbortListener(l, nullptr) == S_OK);
  entered.wait();
  error_object err;
  std::atomic<HRESULT> close_hr{S_FALSE};
  std::thread closer([&] { close_hr = WsCloseListener(l, nullptr, err); });
  REQUIRE(wait_until([&] { return state_of(l) == WS_LISTENER_STATE_CLOSING; }));
  REQUIRE(WsAbortListener(l, nullptr) == S_OK);
  gate.count_down();
  closer.join();
  CHECK(close_hr.load() == WS_E_OPERATION_ABORTED);
  CHECK(err.count() >= 1);
  CHECK(err.text().find("WsAbortListener") != std::string::npos);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_while_closing_returns_invalid_operation") {
  closing_listener c;
  error_object err;
  CHECK(WsCloseListener(c.l, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "close_null_listener_returns_invalid_arg") {
  error_object err;
  CHECK(WsCloseListener(nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "close_created_listener_returns_ok_and_reaches_closed") {
  WS_LISTENER* l = created_listener();
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_faulted_listener_returns_ok_and_reaches_closed") {
  WS_LISTENER* l = faulted_listener();
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_closed_listener_is_a_no_op") {
  WS_LISTENER* l = closed_listener();
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

// ---- WsAbortListener (seed 001) ----------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "abort_open_listener_faults_it") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_FAULTED);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_then_accept_fails_at_once_with_object_faulted") {
  WS_LISTENER* l = faulted_listener();
  WS_CHANNEL* ch = channel_for(l);
  error_object err;
  auto start = std::chrono::steady_clock::now();
  CHECK(WsAcceptChannel(l, ch, nullptr, err) == WS_E_OBJECT_FAULTED);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  CHECK(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_E_OBJECT_FAULTED);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(err.count() >= 1);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_CREATED);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(probe.calls == 0);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_faulted_listener_stays_faulted") {
  WS_LISTENER* l = faulted_listener();
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_FAULTED);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_created_listener_stays_created") {
  WS_LISTENER* l = created_listener();
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  CHECK(open_any(l) == S_OK);  // still usable
  WsCloseListener(l, nullptr, nullptr);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_closed_listener_stays_closed") {
  WS_LISTENER* l = closed_listener();
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_closing_listener_stays_closing") {
  closing_listener c;
  CHECK(WsAbortListener(c.l, nullptr) == S_OK);
  CHECK(state_of(c.l) == WS_LISTENER_STATE_CLOSING);
}

TEST_CASE_FIXTURE(fd_guard, "abort_null_listener_returns_invalid_arg") {
  CHECK(WsAbortListener(nullptr, nullptr) == E_INVALIDARG);
}

TEST_CASE_FIXTURE(fd_guard, "abort_cancels_pending_sync_accept_with_operation_aborted") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  WS_CHANNEL* ch = channel_for(l);
  std::atomic<HRESULT> result{S_FALSE};
  std::thread t([&] { result = WsAcceptChannel(l, ch, nullptr, nullptr); });
  REQUIRE(wait_until([&] { return state_of(ch) == WS_CHANNEL_STATE_ACCEPTING; }));
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  t.join();
  CHECK(result.load() == WS_E_OPERATION_ABORTED);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_does_not_wait_for_pending_io") {
  // The accept's callback blocks for a long time; abort must return regardless.
  WS_LISTENER* l = open_listener(any_port, nullptr);
  WS_CHANNEL* ch = channel_for(l);
  std::latch gate{1};
  std::atomic<int> calls{0};
  struct st_t {
    std::latch* gate;
    std::atomic<int>* calls;
  } st{&gate, &calls};
  WS_ASYNC_CONTEXT ctx{[](HRESULT, WS_CALLBACK_MODEL, void* s) {
                         auto* p = static_cast<st_t*>(s);
                         p->calls->fetch_add(1);
                         p->gate->wait();
                       },
                       &st};
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  auto start = std::chrono::steady_clock::now();
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
  REQUIRE(wait_until([&] { return calls.load() == 1; }));
  CHECK(WsAbortListener(l, nullptr) == S_OK);  // and again, while the callback still blocks
  gate.count_down();
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_after_connection_arrived_reports_aborted_and_leaks_nothing") {
  // A connection that races the abort is closed, and the accept still says aborted.
  for (int i = 0; i < 50; ++i) {
    USHORT port = 0;
    WS_LISTENER* l = open_listener(any_port, &port);
    WS_CHANNEL* ch = channel_for(l);
    callback_probe probe;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    HRESULT hr = WsAcceptChannel(l, ch, &ctx, nullptr);
    REQUIRE(hr == WS_S_ASYNC);
    int fd = nettcp_connect(port);
    CHECK(WsAbortListener(l, nullptr) == S_OK);
    REQUIRE(probe.wait());
    CHECK((probe.hr.load() == WS_E_OPERATION_ABORTED || probe.hr.load() == S_OK));
    CHECK(state_of(ch) == (probe.hr.load() == S_OK ? WS_CHANNEL_STATE_OPEN : WS_CHANNEL_STATE_CREATED));
    WsCloseChannel(ch, nullptr, nullptr);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    CHECK(probe.calls == 1);
    close_rst(fd);
    WsFreeChannel(ch);
    WsFreeListener(l);
  }
}

// ---- The state matrix (spec section 4) ---------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "open_created_listener_reaches_open") {
  WS_LISTENER* l = created_listener();
  CHECK(open_any(l) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_in_every_state_but_created_returns_invalid_operation") {
  error_object err;
  WS_LISTENER* open = open_listener(any_port, nullptr);
  CHECK(open_any(open, err) == WS_E_INVALID_OPERATION);
  CHECK(state_of(open) == WS_LISTENER_STATE_OPEN);
  WS_LISTENER* faulted = faulted_listener();
  CHECK(open_any(faulted, err) == WS_E_INVALID_OPERATION);
  WS_LISTENER* closed = closed_listener();
  CHECK(open_any(closed, err) == WS_E_INVALID_OPERATION);
  {
    closing_listener c;
    CHECK(open_any(c.l, err) == WS_E_INVALID_OPERATION);
  }
  CHECK(err.count() >= 4);
  for (WS_LISTENER* l : {open, faulted, closed}) {
    WsCloseListener(l, nullptr, nullptr);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "accept_on_created_listener_returns_invalid_operation") {
  WS_LISTENER* l = created_listener();
  error_object err;
  CHECK(accept_once(l, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_on_closed_listener_returns_invalid_operation") {
  WS_LISTENER* l = closed_listener();
  CHECK(accept_once(l) == WS_E_INVALID_OPERATION);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_on_closing_listener_returns_invalid_operation") {
  closing_listener c;
  WS_CHANNEL* ch = channel_for(c.l);
  CHECK(WsAcceptChannel(c.l, ch, nullptr, nullptr) == WS_E_INVALID_OPERATION);
  WsFreeChannel(ch);
}

TEST_CASE_FIXTURE(fd_guard, "accept_on_open_listener_returns_open_channel") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port);
  WS_CHANNEL* ch = channel_for(l);
  int fd = nettcp_connect(port);
  REQUIRE(fd >= 0);
  CHECK(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_OPEN);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  CHECK(WsCloseChannel(ch, nullptr, nullptr) == S_OK);
  close_rst(fd);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_created_listener_stays_created") {
  WS_LISTENER* l = created_listener();
  CHECK(WsResetListener(l, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_closed_listener_reaches_created") {
  WS_LISTENER* l = closed_listener();
  CHECK(WsResetListener(l, nullptr) == S_OK);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "reset_open_faulted_or_closing_listener_returns_invalid_operation") {
  error_object err;
  WS_LISTENER* open = open_listener(any_port, nullptr);
  CHECK(WsResetListener(open, err) == WS_E_INVALID_OPERATION);
  WS_LISTENER* faulted = faulted_listener();
  CHECK(WsResetListener(faulted, err) == WS_E_INVALID_OPERATION);
  {
    closing_listener c;
    CHECK(WsResetListener(c.l, err) == WS_E_INVALID_OPERATION);
  }
  CHECK(err.count() == 3);
  for (WS_LISTENER* l : {open, faulted}) {
    WsCloseListener(l, nullptr, nullptr);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "create_channel_for_listener_works_in_every_state") {
  WS_LISTENER* created = created_listener();
  WS_LISTENER* open = open_listener(any_port, nullptr);
  WS_LISTENER* faulted = faulted_listener();
  WS_LISTENER* closed = closed_listener();
  for (WS_LISTENER* l : {created, open, faulted, closed}) {
    WS_CHANNEL* ch = nullptr;
    CHECK(WsCreateChannelForListener(l, nullptr, 0, &ch, nullptr) == S_OK);
    CHECK(state_of(ch) == WS_CHANNEL_STATE_CREATED);
    WsFreeChannel(ch);
  }
  {
    closing_listener c;
    WS_CHANNEL* ch = nullptr;
    CHECK(WsCreateChannelForListener(c.l, nullptr, 0, &ch, nullptr) == S_OK);
    WsFreeChannel(ch);
  }
  for (WS_LISTENER* l : {created, open, faulted, closed}) {
    WsCloseListener(l, nullptr, nullptr);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "free_created_or_closed_listener_releases_everything") {
  WsFreeListener(created_listener());
  WsFreeListener(closed_listener());
}

TEST_CASE_FIXTURE(fd_guard, "free_open_listener_closes_it_first") {
  // Undefined on Windows; openwws closes the listener rather than crash or leak.
  WsFreeListener(open_listener(any_port, nullptr));
}

// ---- Reuse, backlog, IPv6 ----------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "close_reset_reopen_accept_works_without_spurious_abort") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port);
  WS_CHANNEL* ch = channel_for(l);
  for (int round = 0; round < 3; ++round) {
    REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
    REQUIRE(WsResetListener(l, nullptr) == S_OK);
    auto url = u16("net.tcp://127.0.0.1:" + std::to_string(port) + "/");
    WS_STRING s = ws(url);
    REQUIRE(WsOpenListener(l, &s, nullptr, nullptr) == S_OK);
    // An accept with no client yet must wait, not fail with a stale abort (Wine does).
    callback_probe probe;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(probe.calls == 0);
    int fd = nettcp_connect(port);
    REQUIRE(fd >= 0);
    REQUIRE(probe.wait());
    CHECK(probe.hr.load() == S_OK);
    CHECK(state_of(ch) == WS_CHANNEL_STATE_OPEN);
    WsCloseChannel(ch, nullptr, nullptr);
    WsResetChannel(ch, nullptr);
    close_rst(fd);
  }
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "backlog_of_16_clients_before_any_accept_are_all_accepted") {
  ULONG backlog = 16;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &backlog, sizeof backlog};
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port, &prop, 1);
  std::vector<int> clients;
  for (int i = 0; i < 16; ++i) {
    int fd = nettcp_connect(port);
    REQUIRE(fd >= 0);
    clients.push_back(fd);
  }
  WS_CHANNEL* ch = channel_for(l);
  for (int i = 0; i < 16; ++i) {
    REQUIRE(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
    CHECK(state_of(ch) == WS_CHANNEL_STATE_OPEN);
    WsCloseChannel(ch, nullptr, nullptr);
    WsResetChannel(ch, nullptr);
  }
  for (int fd : clients) close_rst(fd);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "ipv6_loopback_listener_accepts_ipv6_client") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://[::1]:0/service", &port);
  WS_CHANNEL* ch = channel_for(l);
  WS_CHANNEL* client = client_channel_accepted(l, ch, "[::1]", port, "service");
  SOCKADDR_STORAGE peer{};
  CHECK(WsGetChannelProperty(ch, WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS, &peer, sizeof peer, nullptr) == S_OK);
  CHECK(peer.ss_family == AF_INET6);
  WsCloseChannel(client, nullptr, nullptr);
  WsCloseChannel(ch, nullptr, nullptr);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(client);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "wildcard_listener_accepts_ipv4_and_ipv6_clients") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://+:0/", &port);
  WS_CHANNEL* ch = channel_for(l);
  for (bool v6 : {false, true}) {
    int fd = nettcp_connect(port, v6);
    REQUIRE(fd >= 0);
    CHECK(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
    WsCloseChannel(ch, nullptr, nullptr);
    WsResetChannel(ch, nullptr);
    close_rst(fd);
  }
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "client_channel_through_public_api_is_accepted") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://localhost:0/path", &port);
  WS_CHANNEL* ch = channel_for(l);
  WS_CHANNEL* client = client_channel_accepted(l, ch, "localhost", port, "path");
  CHECK(state_of(client) == WS_CHANNEL_STATE_OPEN);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_OPEN);
  WsCloseChannel(client, nullptr, nullptr);
  WsCloseChannel(ch, nullptr, nullptr);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(client);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

}  // TEST_SUITE
