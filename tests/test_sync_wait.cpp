// SPDX-License-Identifier: MIT
// Synchronous accepts that find nothing queued wait on their own threads (woken by the
// kernel where the platform allows, through the loop elsewhere). Whichever way: each
// connection is taken by one of them, none is left queued while another sleeps, an
// async accept that joins them is served too, and a cancel reaches each of them.
#include "support.h"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <initializer_list>
#include <atomic>
#include <thread>

using namespace openwws::test;
using namespace std::chrono_literals;

namespace {

constexpr HRESULT not_yet = static_cast<HRESULT>(0x8000000AL);  // E_PENDING: still waiting

// The first byte the server sent (the ack, 0x0B), or -1 if none came within 2 s.
int first_byte(int fd) {
  pollfd p{fd, POLLIN, 0};
  std::uint8_t b = 0;
  if (::poll(&p, 1, 2000) != 1 || ::recv(fd, &b, 1, 0) != 1) return -1;
  return b;
}

// Synchronous accepts on threads of their own, one channel each.
struct sync_accepts {
  WS_LISTENER* l;
  std::vector<WS_CHANNEL*> channels;
  std::array<std::atomic<HRESULT>, 3> results{};  // read while the others may still wait
  std::vector<std::thread> threads;
  std::atomic<int> done{0};

  sync_accepts(WS_LISTENER* listener, int n) : l(listener) {
    for (int i = 0; i < n; ++i) channels.push_back(channel_for(l));
  }
  void start() {
    done = 0;
    for (auto& r : results) r = not_yet;
    for (size_t i = 0; i < channels.size(); ++i)
      threads.emplace_back([this, i] {
        results[i] = WsAcceptChannel(l, channels[i], nullptr, nullptr);
        done.fetch_add(1);
      });
    std::this_thread::sleep_for(5ms);  // most likely all asleep by now; the tests hold either way
  }
  // Waits for them all; a lost wake-up would leave one waiting: the abort ends it.
  bool join() {
    bool all = wait_until([&] { return done.load() == static_cast<int>(threads.size()); }, 5s);
    if (!all) WsAbortListener(l, nullptr);
    for (auto& t : threads) t.join();
    threads.clear();
    return all;
  }
  // Every accept succeeded and every client got its ack; the clients are closed.
  void expect_all_served(std::initializer_list<int> clients) {
    REQUIRE(join());
    for (size_t i = 0; i < channels.size(); ++i) CHECK(results[i] == S_OK);
    for (int fd : clients) {
      CHECK(first_byte(fd) == 0x0B);
      close_rst(fd);
    }
  }
  void recycle() {
    for (WS_CHANNEL* c : channels) {
      WsCloseChannel(c, nullptr, nullptr);
      WsResetChannel(c, nullptr);
    }
  }
  ~sync_accepts() {
    for (WS_CHANNEL* c : channels) WsAbortChannel(c, nullptr);
    for (auto& t : threads) t.join();
    for (WS_CHANNEL* c : channels) {
      WsCloseChannel(c, nullptr, nullptr);
      WsFreeChannel(c);
    }
  }
};

}  // namespace

TEST_SUITE("sync wait") {

TEST_CASE_FIXTURE(fd_guard, "two_synchronous_accepts_each_take_one_of_two_clients_alone_or_at_once") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  {
    sync_accepts accepts(l, 2);
    for (int round = 0; round < 60; ++round) {
      CAPTURE(round);
      accepts.start();
      int a = nettcp_connect(port);
      if (round % 2 == 0) wait_until([&] { return accepts.done.load() == 1; }, 5s);
      int b = nettcp_connect(port);
      accepts.expect_all_served({a, b});
      accepts.recycle();
    }
  }
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "async_accepts_that_join_waiting_synchronous_ones_and_they_are_all_served") {
  // Two async accepts: on io_uring the loop then accepts ahead (multishot), and the
  // synchronous accepts must be waiting where those connections go.
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  {
    sync_accepts accepts(l, 2);
    accepts.start();
    std::array<WS_CHANNEL*, 2> async_channels{};
    std::array<callback_probe, 2> probes;
    std::array<HRESULT, 2> started{};
    for (size_t i = 0; i < 2; ++i) {
      async_channels[i] = channel_for(l);
      WS_ASYNC_CONTEXT ctx = probes[i].ctx();
      started[i] = WsAcceptChannel(l, async_channels[i], &ctx, nullptr);
    }
    int c[4];
    for (int& fd : c) fd = nettcp_connect(port);
    for (size_t i = 0; i < 2; ++i) CHECK(probes[i].outcome(started[i]) == S_OK);
    accepts.expect_all_served({c[0], c[1], c[2], c[3]});
    // Once the async accepts are over, synchronous ones are still served.
    accepts.recycle();
    accepts.start();
    int a = nettcp_connect(port), b = nettcp_connect(port);
    accepts.expect_all_served({a, b});
    for (WS_CHANNEL* ch : async_channels) {
      WsCloseChannel(ch, nullptr, nullptr);
      WsFreeChannel(ch);
    }
  }
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "aborting_one_waiting_synchronous_accept_leaves_the_other_waiting") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  {
    sync_accepts accepts(l, 2);
    accepts.start();
    WsAbortChannel(accepts.channels[0], nullptr);
    REQUIRE(wait_until([&] { return accepts.done.load() == 1; }, 5s));
    CHECK(accepts.results[0] == WS_E_OPERATION_ABORTED);
    CHECK(accepts.results[1] == not_yet);
    int fd = nettcp_connect(port);
    REQUIRE(accepts.join());
    CHECK(accepts.results[1] == S_OK);
    CHECK(first_byte(fd) == 0x0B);
    close_rst(fd);
  }
  close_and_free(l);
}

TEST_CASE_FIXTURE(fd_guard, "closing_or_aborting_the_listener_ends_every_waiting_synchronous_accept") {
  for (bool close : {false, true}) {
    CAPTURE(close);
    USHORT port = 0;
    WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
    {
      sync_accepts accepts(l, 3);
      accepts.start();
      std::thread closer;
      if (close)
        closer = std::thread([l] { CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK); });
      else
        WsAbortListener(l, nullptr);
      REQUIRE(accepts.join());
      if (closer.joinable()) closer.join();
      for (size_t i = 0; i < accepts.channels.size(); ++i) CHECK(accepts.results[i] == WS_E_OPERATION_ABORTED);
    }
    close_and_free(l);
  }
}

}  // TEST_SUITE("sync wait")
