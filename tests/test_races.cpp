// SPDX-License-Identifier: MIT
// Checks that cancellation races end with every accept completing exactly once and no
// descriptor leaked: a cancel racing a connection that is being accepted, a thousand
// pending accepts aborted at once (with a tiny io_uring submission queue, that also
// exercises cancels issued while the queue is full).
#include "tests/support.h"

#include <random>
#include <thread>
#include <vector>

using namespace openwws::test;

namespace {

struct once_counter {
  std::atomic<int> calls{0};
  std::atomic<HRESULT> hr{S_FALSE};
  static void CALLBACK done(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
    auto* c = static_cast<once_counter*>(state);
    c->hr = hr;
    c->calls.fetch_add(1);
  }
};

}  // namespace

TEST_SUITE("races") {

TEST_CASE_FIXTURE(fd_guard, "cancel_racing_a_completing_accept_completes_once_ten_thousand_times") {
  USHORT port = 0;
  WS_CALLBACK_MODEL model = WS_SHORT_CALLBACK;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model};
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port, &prop, 1);
  WS_CHANNEL* ch = channel_for(l);
  std::mt19937 rng(7);
  int accepted = 0, aborted = 0, at_once = 0;
  std::vector<int> clients;
  int races = 0;  // iterations where the accept was pending when the cancel came
  for (int i = 0; races < 10000 && i < 40000; ++i) {
    once_counter c;
    WS_ASYNC_CONTEXT ctx{once_counter::done, &c};
    HRESULT hr = WsAcceptChannel(l, ch, &ctx, nullptr);
    int fd = -1;
    if (hr == WS_S_ASYNC) {
      ++races;
      // The connection and the cancel race for the pending accept.
      std::thread client([&] { fd = nettcp_connect(port); });
      for (unsigned spin = rng() % 4000; spin; --spin) std::atomic_signal_fence(std::memory_order_seq_cst);
      WsAbortChannel(ch, nullptr);
      client.join();
      REQUIRE(wait_until([&] { return c.calls.load() > 0; }));
      hr = c.hr.load();
    } else {
      ++at_once;
    }
    REQUIRE_MESSAGE((hr == S_OK || hr == WS_E_OPERATION_ABORTED), "iteration ", i, " hr ", hr);
    REQUIRE(c.calls.load() <= 1);
    if (hr == S_OK) {
      ++accepted;
      // The abort may land after the accept finished: it then faults the open channel.
      WS_CHANNEL_STATE st = state_of(ch);
      REQUIRE((st == WS_CHANNEL_STATE_OPEN || st == WS_CHANNEL_STATE_FAULTED));
      WsCloseChannel(ch, nullptr, nullptr);
    } else {
      ++aborted;
      REQUIRE(state_of(ch) == WS_CHANNEL_STATE_CREATED);
    }
    REQUIRE(WsResetChannel(ch, nullptr) == S_OK);
    if (fd >= 0) clients.push_back(fd);
    if (clients.size() > 64) {
      for (int c2 : clients) close_rst(c2);
      clients.clear();
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (int c2 : clients) close_rst(c2);
  MESSAGE("races ", races, ": accepted ", accepted, ", aborted ", aborted, ", completed at once ", at_once);
  CHECK(races >= 10000);
  CHECK(aborted > 0);
  CHECK(accepted > 0);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_of_a_thousand_pending_accepts_completes_each_once_with_operation_aborted") {
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", nullptr);
  constexpr int n = 1000;
  std::vector<WS_CHANNEL*> channels(n);
  std::vector<once_counter> counters(n);
  for (int i = 0; i < n; ++i) {
    channels[i] = channel_for(l);
    WS_ASYNC_CONTEXT ctx{once_counter::done, &counters[i]};
    REQUIRE(WsAcceptChannel(l, channels[i], &ctx, nullptr) == WS_S_ASYNC);
  }
  REQUIRE(wait_until([&] { return state_of(channels[n - 1]) == WS_CHANNEL_STATE_ACCEPTING; }));
  CHECK(WsAbortListener(l, nullptr) == S_OK);
  REQUIRE(wait_until([&] {
    for (auto& c : counters)
      if (c.calls.load() == 0) return false;
    return true;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int wrong = 0;
  for (auto& c : counters) wrong += c.calls.load() != 1 || c.hr.load() != WS_E_OPERATION_ABORTED;
  CHECK(wrong == 0);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  for (WS_CHANNEL* ch : channels) WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "connections_queued_before_accepts_are_neither_dropped_nor_leaked") {
  // More connections than accepts, then accepts in bursts: every connection is served
  // once, and closing the listener frees whatever a backend had queued.
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  std::vector<int> clients;
  for (int i = 0; i < 32; ++i) clients.push_back(nettcp_connect(port));
  std::vector<WS_CHANNEL*> channels;
  std::vector<once_counter> counters(24);
  for (int i = 0; i < 24; ++i) {
    channels.push_back(channel_for(l));
    WS_ASYNC_CONTEXT ctx{once_counter::done, &counters[i]};
    HRESULT hr = WsAcceptChannel(l, channels[i], &ctx, nullptr);
    if (hr != WS_S_ASYNC) {
      counters[i].hr = hr;
      counters[i].calls = 1;
    }
  }
  REQUIRE(wait_until([&] {
    for (auto& c : counters)
      if (c.calls.load() == 0) return false;
    return true;
  }));
  for (auto& c : counters) CHECK(c.hr.load() == S_OK);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  for (WS_CHANNEL* ch : channels) {
    WsCloseChannel(ch, nullptr, nullptr);
    WsFreeChannel(ch);
  }
  for (int fd : clients) close_rst(fd);
  WsFreeListener(l);
}

}  // TEST_SUITE
