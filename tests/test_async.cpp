// SPDX-License-Identifier: MIT
// Checks that the asynchronous model holds (spec section 7): a call either returns its
// result and never calls back, or returns WS_S_ASYNC and calls back exactly once, never
// on the calling thread before returning, never while a library lock is held; and that
// many accepts may be pending at once, each connection going to exactly one of them.
#include "tests/support.h"

#include <latch>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

using namespace openwws::test;

namespace {

const std::string any_port = "net.tcp://127.0.0.1:0/";

WS_LISTENER* listener_with_model(WS_CALLBACK_MODEL model, USHORT* port) {
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model};
  return open_listener(any_port, port, &prop, 1);
}

// One accept, sync (in a thread of its own) or async, with everything it reported.
struct accept_slot {
  WS_CHANNEL* ch = nullptr;
  bool async = false;
  std::thread thread;
  std::atomic<int> completions{0};
  std::atomic<HRESULT> hr{S_FALSE};
  std::atomic<bool> returned{false};
  std::atomic<bool> early_callback{false};  // callback before the call returned, same thread
  std::thread::id starter;

  static void CALLBACK done(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
    auto* s = static_cast<accept_slot*>(state);
    if (!s->returned.load() && std::this_thread::get_id() == s->starter) s->early_callback = true;
    s->hr = hr;
    s->completions.fetch_add(1);
  }

  void start(WS_LISTENER* l) {
    if (async) {
      starter = std::this_thread::get_id();
      WS_ASYNC_CONTEXT ctx{done, this};
      HRESULT r = WsAcceptChannel(l, ch, &ctx, nullptr);
      returned = true;
      if (r != WS_S_ASYNC) {
        hr = r;
        completions.fetch_add(1);
      }
    } else {
      thread = std::thread([this, l] {
        hr = WsAcceptChannel(l, ch, nullptr, nullptr);
        completions.fetch_add(1);
      });
    }
  }
  void join() {
    if (thread.joinable()) thread.join();
  }
};

struct accept_set {
  WS_LISTENER* l;
  std::vector<std::unique_ptr<accept_slot>> slots;
  accept_set(WS_LISTENER* listener, int n) : l(listener) {
    for (int i = 0; i < n; ++i) {
      auto s = std::make_unique<accept_slot>();
      s->ch = channel_for(l);
      s->async = i % 2 == 1;
      slots.push_back(std::move(s));
    }
  }
  void start_all() {
    for (auto& s : slots) s->start(l);
  }
  bool all_accepting() {
    for (auto& s : slots)
      if (s->completions == 0 && state_of(s->ch) != WS_CHANNEL_STATE_ACCEPTING) return false;
    return true;
  }
  bool all_completed() {
    for (auto& s : slots)
      if (s->completions.load() == 0) return false;
    return true;
  }
  ~accept_set() {
    for (auto& s : slots) {
      s->join();
      WsCloseChannel(s->ch, nullptr, nullptr);
      WsFreeChannel(s->ch);
    }
  }
};

}  // namespace

TEST_SUITE("async") {

TEST_CASE_FIXTURE(fd_guard, "async_accept_that_completes_at_once_returns_result_and_never_calls_back") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port);
  WS_CHANNEL* ch = channel_for(l);
  int fd = nettcp_connect(port);
  REQUIRE(fd >= 0);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  HRESULT hr = WsAcceptChannel(l, ch, &ctx, nullptr);
  REQUIRE((hr == S_OK || hr == WS_S_ASYNC));
  CHECK(probe.outcome(hr) == S_OK);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_OPEN);
  close_rst(fd);
  WsCloseChannel(ch, nullptr, nullptr);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "async_accept_pending_calls_back_once_on_another_thread_with_long_model") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port);
  WS_CHANNEL* ch = channel_for(l);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_ACCEPTING);
  int fd = nettcp_connect(port);
  REQUIRE(probe.wait());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(probe.calls == 1);
  CHECK(probe.hr.load() == S_OK);
  // The listener's model is the default, LONG; a host's loop invokes it SHORT, on its thread.
  CHECK(probe.model.load() == invoked_model(WS_LONG_CALLBACK));
  if (embedded_host()) CHECK(probe.thread.load() == host_thread_id());
  CHECK_FALSE(probe.on_caller_thread.load());
  CHECK(state_of(ch) == WS_CHANNEL_STATE_OPEN);
  close_rst(fd);
  WsCloseChannel(ch, nullptr, nullptr);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "short_callback_model_runs_callback_as_short") {
  USHORT port = 0;
  WS_LISTENER* l = listener_with_model(WS_SHORT_CALLBACK, &port);
  WS_CHANNEL* ch = channel_for(l);
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  int fd = nettcp_connect(port);
  REQUIRE(probe.wait());
  CHECK(probe.model.load() == WS_SHORT_CALLBACK);
  CHECK(probe.hr.load() == S_OK);
  CHECK_FALSE(probe.on_caller_thread.load());
  close_rst(fd);
  WsCloseChannel(ch, nullptr, nullptr);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

namespace {
// An accept chain: each callback checks the library is callable (no lock held) and
// starts the next accept, until `remaining` reaches zero.
struct chain {
  WS_LISTENER* l;
  WS_CHANNEL* ch;
  std::atomic<int> remaining;
  std::atomic<int> ok{0};
  std::atomic<int> callbacks{0};
  std::atomic<bool> finished{false};
  std::atomic<bool> bad{false};

  static void CALLBACK on_accept(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
    auto* c = static_cast<chain*>(state);
    c->callbacks++;
    c->handle(hr);
    c->next();
  }
  void handle(HRESULT hr) {
    if (hr != S_OK) {
      bad = true;
      return;
    }
    ok++;
    // Calls into the library from the callback: a lock held by the caller would hang here.
    WS_LISTENER_STATE s;
    if (WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &s, sizeof s, nullptr) != S_OK) bad = true;
    WS_CHANNEL* extra = nullptr;
    if (WsCreateChannelForListener(l, nullptr, 0, &extra, nullptr) != S_OK) bad = true;
    WsFreeChannel(extra);
    WsCloseChannel(ch, nullptr, nullptr);
    WsResetChannel(ch, nullptr);
  }
  void next() {
    while (remaining.fetch_sub(1) > 0) {
      WS_ASYNC_CONTEXT ctx{on_accept, this};
      HRESULT hr = WsAcceptChannel(l, ch, &ctx, nullptr);
      if (hr == WS_S_ASYNC) return;
      handle(hr);
    }
    finished = true;
  }
};
}  // namespace

TEST_CASE_FIXTURE(fd_guard, "callbacks_may_call_back_into_the_library_for_both_models") {
  for (WS_CALLBACK_MODEL model : {WS_SHORT_CALLBACK, WS_LONG_CALLBACK}) {
    CAPTURE(model);
    USHORT port = 0;
    WS_LISTENER* l = listener_with_model(model, &port);
    chain c{l, channel_for(l), 20};
    c.next();
    std::thread clients([&] {
      for (int i = 0; i < 20; ++i) {
        int fd = nettcp_connect(port);
        if (fd >= 0) close_rst(fd);
      }
    });
    clients.join();
    REQUIRE(wait_until([&] { return c.finished.load(); }));
    CHECK(c.ok == 20);
    CHECK_FALSE(c.bad.load());
    WsCloseListener(l, nullptr, nullptr);
    WsFreeChannel(c.ch);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "long_callback_that_blocks_does_not_delay_another_listener") {
  // On a host's loop every callback runs SHORT on the host's thread, so one that blocks
  // holds every other completion up; openwws has no thread to take the loop over.
  OPENWWS_SKIP_WHEN_EMBEDDED("a LONG callback that blocks, and the loop taken over meanwhile");
  USHORT port_a = 0, port_b = 0;
  WS_LISTENER* a = open_listener(any_port, &port_a);
  WS_LISTENER* b = open_listener(any_port, &port_b);
  WS_CHANNEL* ca = channel_for(a);
  WS_CHANNEL* cb = channel_for(b);
  std::latch gate{1};
  std::atomic<bool> a_called{false};
  struct st_t {
    std::latch* gate;
    std::atomic<bool>* called;
  } st{&gate, &a_called};
  WS_ASYNC_CONTEXT blocking{[](HRESULT, WS_CALLBACK_MODEL, void* s) {
                              auto* p = static_cast<st_t*>(s);
                              *p->called = true;
                              // Blocks for up to 3 s, as a LONG callback may.
                              auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
                              while (!p->gate->try_wait() && std::chrono::steady_clock::now() < deadline)
                                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                            },
                            &st};
  REQUIRE(WsAcceptChannel(a, ca, &blocking, nullptr) == WS_S_ASYNC);
  int fa = nettcp_connect(port_a);
  REQUIRE(wait_until([&] { return a_called.load(); }));
  callback_probe probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  REQUIRE(WsAcceptChannel(b, cb, &ctx, nullptr) == WS_S_ASYNC);
  auto start = std::chrono::steady_clock::now();
  int fb = nettcp_connect(port_b);
  REQUIRE(probe.wait(std::chrono::seconds(2)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1000));
  CHECK(probe.hr.load() == S_OK);
  gate.count_down();
  close_rst(fa);
  close_rst(fb);
  for (WS_CHANNEL* c : {ca, cb}) WsCloseChannel(c, nullptr, nullptr);
  for (WS_LISTENER* l : {a, b}) WsCloseListener(l, nullptr, nullptr);
  for (WS_CHANNEL* c : {ca, cb}) WsFreeChannel(c);
  for (WS_LISTENER* l : {a, b}) WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "sixty_four_pending_accepts_half_sync_half_async_all_aborted_by_close") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  {
    accept_set set(l, 64);
    set.start_all();
    REQUIRE(wait_until([&] { return set.all_accepting(); }));
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    REQUIRE(wait_until([&] { return set.all_completed(); }));
    for (auto& s : set.slots) s->join();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& s : set.slots) {
      CHECK(s->completions.load() == 1);
      CHECK(s->hr.load() == WS_E_OPERATION_ABORTED);
      CHECK_FALSE(s->early_callback.load());
      CHECK(state_of(s->ch) == WS_CHANNEL_STATE_CREATED);
    }
    CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "sixty_four_pending_accepts_half_sync_half_async_all_aborted_by_abort") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  {
    accept_set set(l, 64);
    set.start_all();
    REQUIRE(wait_until([&] { return set.all_accepting(); }));
    CHECK(WsAbortListener(l, nullptr) == S_OK);
    REQUIRE(wait_until([&] { return set.all_completed(); }));
    for (auto& s : set.slots) s->join();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& s : set.slots) {
      CHECK(s->completions.load() == 1);
      CHECK(s->hr.load() == WS_E_OPERATION_ABORTED);
    }
    CHECK(state_of(l) == WS_LISTENER_STATE_FAULTED);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "each_connection_goes_to_exactly_one_pending_accept") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener(any_port, &port);
  {
    accept_set set(l, 40);
    set.start_all();
    REQUIRE(wait_until([&] { return set.all_accepting(); }));
    std::vector<int> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(nettcp_connect(port));
    auto accepted = [&] {
      int n = 0;
      for (auto& s : set.slots) n += s->hr.load() == S_OK;
      return n;
    };
    REQUIRE(wait_until([&] { return accepted() == 20; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    CHECK(accepted() == 20);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    REQUIRE(wait_until([&] { return set.all_completed(); }));
    for (auto& s : set.slots) s->join();
    int ok = 0, aborted = 0;
    for (auto& s : set.slots) {
      CHECK(s->completions.load() == 1);
      if (s->hr.load() == S_OK) {
        ++ok;
        CHECK(state_of(s->ch) == WS_CHANNEL_STATE_OPEN);
      } else {
        ++aborted;
        CHECK(s->hr.load() == WS_E_OPERATION_ABORTED);
      }
    }
    CHECK(ok == 20);
    CHECK(aborted == 20);
    for (int fd : clients) close_rst(fd);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "abort_channel_in_accepting_calls_back_once_with_operation_aborted") {
  WS_LISTENER* l = open_listener(any_port, nullptr);
  WS_CHANNEL* ch = channel_for(l);
  WS_CHANNEL* other = channel_for(l);
  callback_probe probe, other_probe;
  WS_ASYNC_CONTEXT ctx = probe.ctx(), other_ctx = other_probe.ctx();
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  REQUIRE(WsAcceptChannel(l, other, &other_ctx, nullptr) == WS_S_ASYNC);
  CHECK(WsAbortChannel(ch, nullptr) == S_OK);
  REQUIRE(probe.wait());
  CHECK(probe.hr.load() == WS_E_OPERATION_ABORTED);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_CREATED);
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(other_probe.calls == 0);  // only that channel's accept was cancelled
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  CHECK(other_probe.calls == 1);
  CHECK(probe.calls == 1);
  WsFreeChannel(ch);
  WsFreeChannel(other);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "close_called_from_inside_an_accept_callback_completes") {
  for (WS_CALLBACK_MODEL model : {WS_LONG_CALLBACK, WS_SHORT_CALLBACK}) {
    CAPTURE(model);
    USHORT port = 0;
    WS_LISTENER* l = listener_with_model(model, &port);
    WS_CHANNEL* ch = channel_for(l);
    struct st_t {
      WS_LISTENER* l;
      WS_CALLBACK_MODEL model;
      std::atomic<HRESULT> close_hr{S_FALSE};
      std::atomic<int> close_callbacks{0};
      std::atomic<HRESULT> sync_refused{S_FALSE};  // embedded: the synchronous close tried first
    } st{l, model};
    WS_ASYNC_CONTEXT ctx{[](HRESULT, WS_CALLBACK_MODEL, void* s) {
                           auto* p = static_cast<st_t*>(s);
                           if (p->model == WS_LONG_CALLBACK && embedded_host()) {
                             // Invoked SHORT on the host's thread: a synchronous close
                             // there is refused, whatever the listener's model.
                             p->sync_refused = WsCloseListener(p->l, nullptr, nullptr);
                           }
                           if (p->model == WS_LONG_CALLBACK && !embedded_host()) {
                             p->close_hr = WsCloseListener(p->l, nullptr, nullptr);  // may block: LONG
                           } else {
                             WS_ASYNC_CONTEXT c{[](HRESULT, WS_CALLBACK_MODEL, void* s2) {
                                                  static_cast<st_t*>(s2)->close_callbacks++;
                                                },
                                                p};
                             p->close_hr = WsCloseListener(p->l, &c, nullptr);
                           }
                         },
                         &st};
    REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
    int fd = nettcp_connect(port);
    REQUIRE(wait_until([&] { return st.close_hr.load() != S_FALSE; }));
    CHECK(wait_until([&] { return state_of(l) == WS_LISTENER_STATE_CLOSED; }));
    if (st.close_hr.load() == WS_S_ASYNC) REQUIRE(wait_until([&] { return st.close_callbacks.load() == 1; }));
    CHECK((st.close_hr.load() == S_OK || st.close_hr.load() == WS_S_ASYNC));
    if (model == WS_LONG_CALLBACK && embedded_host()) CHECK(st.sync_refused.load() == WS_E_INVALID_OPERATION);
    close_rst(fd);
    WsCloseChannel(ch, nullptr, nullptr);
    WsFreeChannel(ch);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "accepts_racing_abort_and_close_under_load_complete_exactly_once") {
  // Clients connect while accepts start and another thread aborts or closes at a
  // random moment: every accept completes once, with S_OK or WS_E_OPERATION_ABORTED
  // (or is refused, if it started after the abort or close).
  std::mt19937 rng(12345);
  int iterations = 150;
  int ok_total = 0, aborted_total = 0;
  for (int it = 0; it < iterations; ++it) {
    USHORT port = 0;
    WS_CALLBACK_MODEL model = it % 3 == 0 ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
    WS_LISTENER* l = listener_with_model(model, &port);
    std::atomic<bool> stop{false};
    std::thread clients([&] {
      for (int i = 0; i < 5 && !stop; ++i) {
        int fd = nettcp_connect(port);
        if (fd < 0) break;
        close_rst(fd);
      }
    });
    {
      accept_set set(l, 8);
      set.start_all();
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
      bool use_abort = it % 2 == 0;
      std::thread killer([&] {
        if (use_abort) WsAbortListener(l, nullptr);
        WsCloseListener(l, nullptr, nullptr);
      });
      killer.join();
      REQUIRE(wait_until([&] { return set.all_completed(); }));
      for (auto& s : set.slots) s->join();
      for (auto& s : set.slots) {
        CHECK(s->completions.load() == 1);
        HRESULT hr = s->hr.load();
        // An accept that starts after the abort or close is refused at once instead.
        bool refused = hr == WS_E_INVALID_OPERATION || (use_abort && hr == WS_E_OBJECT_FAULTED);
        CHECK_MESSAGE((hr == S_OK || hr == WS_E_OPERATION_ABORTED || refused), "hr ", hr);
        ok_total += hr == S_OK;
        aborted_total += hr == WS_E_OPERATION_ABORTED;
        CHECK(state_of(s->ch) == (hr == S_OK ? WS_CHANNEL_STATE_OPEN : WS_CHANNEL_STATE_CREATED));
      }
      stop = true;
      clients.join();
    }
    CHECK(state_of(l) == WS_LISTENER_STATE_CLOSED);
    WsFreeListener(l);
  }
  MESSAGE("accepted ", ok_total, ", aborted ", aborted_total, " over ", iterations, " iterations");
  CHECK(ok_total > 0);
  CHECK(aborted_total > 0);
}

}  // TEST_SUITE
