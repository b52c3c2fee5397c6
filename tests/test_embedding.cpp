// SPDX-License-Identifier: MIT
// Checks listeners and channels on an event loop the application drives
// (OpenwwsCreateEventLoop): callbacks on the host's thread, as WS_SHORT_CALLBACK; a
// synchronous call on that thread refused, from other threads served; close and free
// from callbacks; two host loops at once; a host that stops running its loop while
// accepts are pending. The host here is a test thread: poll() on the loop's
// descriptor, or uv_run on a libuv loop when the build has libuv.
#include "tests/support.h"

#include <poll.h>
#include <unistd.h>

#ifdef OPENWWS_HAVE_LIBUV
#include <uv.h>
#endif

#include <atomic>
#include <thread>

using namespace openwws::test;
using namespace std::chrono_literals;

namespace {

// A thread that drives one event loop until stopped: through its descriptor with
// poll(), or (uv) by running a libuv loop the openwws loop lives on.
struct host {
  OPENWWS_EVENT_LOOP* loop = nullptr;
  std::atomic<bool> running{true};
  std::atomic<bool> paused{false};
  std::atomic<long> turns{0};
  std::thread thread;
  std::thread::id id;
  bool uv = false;
#ifdef OPENWWS_HAVE_LIBUV
  uv_loop_t uv_loop{};
  uv_timer_t tick{};  // keeps uv_run turning so the thread sees `running` and `paused`
#endif

  explicit host(bool use_uv) : uv(use_uv) {
#ifdef OPENWWS_HAVE_LIBUV
    if (uv) {
      REQUIRE(uv_loop_init(&uv_loop) == 0);
      REQUIRE(OpenwwsCreateEventLoop(&uv_loop, &loop, nullptr) == S_OK);
    }
#endif
    if (!uv) REQUIRE(OpenwwsCreateEventLoop(nullptr, &loop, nullptr) == S_OK);
    thread = std::thread([this] { uv ? run_uv() : run_poll(); });
    while (turns.load() == 0) std::this_thread::yield();
    id = thread.get_id();
  }

  void run_poll() {
    int fd = -1;
    REQUIRE(OpenwwsGetEventLoopDescriptor(loop, &fd, nullptr) == S_OK);
    while (running.load()) {
      turns++;
      if (paused.load()) {
        std::this_thread::sleep_for(1ms);
        continue;
      }
      int timeout = OpenwwsGetEventLoopTimeout(loop);
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, timeout < 0 || timeout > 5 ? 5 : timeout);  // 5 ms: notice `running`
      OpenwwsRunEventLoop(loop, nullptr);
    }
  }

  void run_uv() {
#ifdef OPENWWS_HAVE_LIBUV
    uv_timer_init(&uv_loop, &tick);
    tick.data = this;
    uv_timer_start(
        &tick,
        [](uv_timer_t* t) {
          auto* self = static_cast<host*>(t->data);
          self->turns++;
          if (!self->running.load()) uv_stop(t->loop);
          while (self->paused.load() && self->running.load()) std::this_thread::sleep_for(1ms);
        },
        0, 2);
    uv_run(&uv_loop, UV_RUN_DEFAULT);
#endif
  }

  void stop() {
    if (!thread.joinable()) return;
    running = false;
    thread.join();
  }

  ~host() {
    stop();
    OpenwwsFreeEventLoop(loop);
#ifdef OPENWWS_HAVE_LIBUV
    if (uv) {
      // The loop's handles close in later iterations of the host's loop.
      uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
      uv_run(&uv_loop, UV_RUN_DEFAULT);
      CHECK(uv_loop_close(&uv_loop) == 0);
    }
#endif
  }
};

WS_LISTENER* listener_on(host& h, USHORT* port, const std::string& url = "net.tcp://127.0.0.1:0/") {
  WS_LISTENER_PROPERTY prop{OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, &h.loop, sizeof h.loop};
  return open_listener(url, port, &prop, 1);
}

// Records the thread and model of every callback.
struct thread_probe {
  std::atomic<int> calls{0};
  std::atomic<HRESULT> hr{S_FALSE};
  std::atomic<int> model{-1};
  std::atomic<bool> on_host{true};
  std::thread::id host_id;
  static void CALLBACK done(HRESULT hr, WS_CALLBACK_MODEL model, void* state) {
    auto* p = static_cast<thread_probe*>(state);
    if (std::this_thread::get_id() != p->host_id) p->on_host = false;
    p->model = model;
    p->hr = hr;
    p->calls++;
  }
  WS_ASYNC_CONTEXT ctx() { return {done, this}; }
};

std::vector<bool> host_kinds() {
#ifdef OPENWWS_HAVE_LIBUV
  return {false, true};
#else
  return {false};
#endif
}

}  // namespace

TEST_SUITE("embedding") {

TEST_CASE("event_loop_arguments_are_checked") {
  error_object err;
  CHECK(OpenwwsCreateEventLoop(nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(OpenwwsRunEventLoop(nullptr, err) == E_INVALIDARG);
  CHECK(OpenwwsGetEventLoopDescriptor(nullptr, nullptr, err) == E_INVALIDARG);
  CHECK(OpenwwsGetEventLoopTimeout(nullptr) == -1);
  OpenwwsFreeEventLoop(nullptr);
  void* not_a_loop = &err;
  WS_LISTENER_PROPERTY wrong_size{OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, &not_a_loop, 1};
  WS_LISTENER* l = nullptr;
  CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &wrong_size, 1, nullptr, &l, err) ==
        E_INVALIDARG);
  CHECK(err.text().find("EVENT_LOOP") != std::string::npos);
}

TEST_CASE("callbacks_run_on_the_host_thread_as_short_and_sync_calls_there_are_refused") {
  for (bool uv : host_kinds()) {
    CAPTURE(uv);
    fd_guard fds;
    host h(uv);
    USHORT port = 0;
    WS_LISTENER* l = listener_on(h, &port);
    // A LONG preference is invoked short: no thread of openwws's own keeps the loop going.
    WS_CALLBACK_MODEL long_model = WS_LONG_CALLBACK;
    REQUIRE(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &long_model, sizeof long_model,
                                  nullptr) == S_OK);
    WS_CHANNEL* ch = channel_for(l);
    thread_probe probe;
    probe.host_id = h.id;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
    int client = nettcp_connect(port);
    REQUIRE(client >= 0);
    REQUIRE(wait_until([&] { return probe.calls.load() == 1; }, 5s));
    CHECK(probe.hr.load() == S_OK);
    CHECK(probe.model.load() == WS_SHORT_CALLBACK);
    CHECK(probe.on_host.load());
    close_rst(client);

    // On the host's thread, a synchronous accept would wait for itself.
    struct refusal {
      WS_LISTENER* l;
      WS_CHANNEL* ch;
      std::atomic<HRESULT> hr{S_FALSE};
      std::string text;
    } r{l, nullptr, S_FALSE, {}};
    REQUIRE(WsCloseChannel(ch, nullptr, nullptr) == S_OK);
    REQUIRE(WsResetChannel(ch, nullptr) == S_OK);
    r.ch = ch;
    WS_CHANNEL* trigger = channel_for(l);
    WS_ASYNC_CONTEXT refuse_ctx{[](HRESULT, WS_CALLBACK_MODEL, void* s) {
                                  auto* rr = static_cast<refusal*>(s);
                                  error_object err;
                                  HRESULT hr = WsAcceptChannel(rr->l, rr->ch, nullptr, err);
                                  rr->text = err.text();
                                  rr->hr = hr;
                                },
                                &r};
    REQUIRE(WsAcceptChannel(l, trigger, &refuse_ctx, nullptr) == WS_S_ASYNC);
    client = nettcp_connect(port);
    REQUIRE(wait_until([&] { return r.hr.load() != S_FALSE; }, 5s));
    CHECK(r.hr.load() == WS_E_INVALID_OPERATION);
    CHECK(r.text.find("host") != std::string::npos);
    close_rst(client);

    // From another thread, a synchronous accept is served while the host runs its loop.
    client = -1;
    std::thread connector([&] {
      std::this_thread::sleep_for(20ms);
      client = nettcp_connect(port);
    });
    CHECK(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
    connector.join();
    close_rst(client);

    WsFreeChannel(trigger);
    WsFreeChannel(ch);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    WsFreeListener(l);
  }
}

TEST_CASE("close_and_free_from_callbacks_on_the_host_thread") {
  for (bool uv : host_kinds()) {
    CAPTURE(uv);
    fd_guard fds;
    host h(uv);
    USHORT port = 0;
    WS_LISTENER* l = listener_on(h, &port);
    WS_CHANNEL* ch = channel_for(l);
    // The accept callback closes the listener asynchronously; the close callback frees
    // the channel and the listener, from the host's thread.
    struct chain {
      WS_LISTENER* l;
      WS_CHANNEL* ch;
      thread_probe close_probe;
      std::atomic<HRESULT> close_returned{S_FALSE};
      std::atomic<bool> freed{false};
    } c{l, ch, {}, S_FALSE, false};
    c.close_probe.host_id = h.id;
    WS_ASYNC_CONTEXT accept_ctx{[](HRESULT, WS_CALLBACK_MODEL, void* s) {
                                  auto* cc = static_cast<chain*>(s);
                                  WS_ASYNC_CONTEXT close_ctx{[](HRESULT, WS_CALLBACK_MODEL, void* s2) {
                                                               auto* c2 = static_cast<chain*>(s2);
                                                               c2->close_probe.calls++;
                                                               WsFreeChannel(c2->ch);
                                                               WsFreeListener(c2->l);
                                                               c2->freed = true;
                                                             },
                                                             cc};
                                  HRESULT hr = WsCloseListener(cc->l, &close_ctx, nullptr);
                                  cc->close_returned = hr;
                                  if (hr != WS_S_ASYNC) {
                                    WsFreeChannel(cc->ch);
                                    WsFreeListener(cc->l);
                                    cc->freed = true;
                                  }
                                },
                                &c};
    REQUIRE(WsAcceptChannel(l, ch, &accept_ctx, nullptr) == WS_S_ASYNC);
    int client = nettcp_connect(port);
    REQUIRE(wait_until([&] { return c.freed.load(); }, 5s));
    HRESULT returned = c.close_returned.load();
    CHECK((returned == S_OK || returned == WS_S_ASYNC));
    CHECK(c.close_probe.calls.load() == (returned == WS_S_ASYNC ? 1 : 0));
    close_rst(client);
  }
}

TEST_CASE("listeners_on_two_host_loops_call_back_on_their_own_threads") {
  for (bool uv : host_kinds()) {
    CAPTURE(uv);
    fd_guard fds;
    host a(uv), b(uv);
    USHORT port_a = 0, port_b = 0;
    WS_LISTENER* la = listener_on(a, &port_a);
    WS_LISTENER* lb = listener_on(b, &port_b);
    WS_CHANNEL* ca = channel_for(la);
    WS_CHANNEL* cb = channel_for(lb);
    thread_probe pa, pb;
    pa.host_id = a.id;
    pb.host_id = b.id;
    WS_ASYNC_CONTEXT xa = pa.ctx(), xb = pb.ctx();
    REQUIRE(WsAcceptChannel(la, ca, &xa, nullptr) == WS_S_ASYNC);
    REQUIRE(WsAcceptChannel(lb, cb, &xb, nullptr) == WS_S_ASYNC);
    int c1 = nettcp_connect(port_a), c2 = nettcp_connect(port_b);
    REQUIRE(wait_until([&] { return pa.calls.load() == 1 && pb.calls.load() == 1; }, 5s));
    CHECK(pa.on_host.load());
    CHECK(pb.on_host.load());
    CHECK(pa.hr.load() == S_OK);
    CHECK(pb.hr.load() == S_OK);
    close_rst(c1);
    close_rst(c2);
    WsFreeChannel(ca);
    WsFreeChannel(cb);
    WsFreeListener(la);
    WsFreeListener(lb);
  }
}

TEST_CASE("a_host_that_stops_its_loop_with_accepts_pending_gets_their_results_when_it_runs_again") {
  for (bool uv : host_kinds()) {
    CAPTURE(uv);
    fd_guard fds;
    host h(uv);
    USHORT port = 0;
    // A path of its own: a late client of an earlier test that reused this port (its
    // Via names only the port) gets a fault, not this accept, which no client may end.
    WS_LISTENER* l = listener_on(h, &port, "net.tcp://127.0.0.1:0/host-paused/");
    WS_CHANNEL* ch = channel_for(l);
    thread_probe accept_probe, close_probe;
    accept_probe.host_id = close_probe.host_id = h.id;
    WS_ASYNC_CONTEXT ax = accept_probe.ctx(), cx = close_probe.ctx();
    REQUIRE(WsAcceptChannel(l, ch, &ax, nullptr) == WS_S_ASYNC);
    std::this_thread::sleep_for(20ms);  // the accept reaches the loop
    h.paused = true;
    std::this_thread::sleep_for(20ms);
    // The host does not run its loop: the close from this thread waits for it.
    REQUIRE(WsCloseListener(l, &cx, nullptr) == WS_S_ASYNC);
    std::this_thread::sleep_for(50ms);
    CHECK(accept_probe.calls.load() == 0);
    CHECK(close_probe.calls.load() == 0);
    h.paused = false;
    REQUIRE(wait_until([&] { return close_probe.calls.load() == 1; }, 5s));
    CHECK(accept_probe.calls.load() == 1);
    CHECK(accept_probe.hr.load() == WS_E_OPERATION_ABORTED);
    CHECK(close_probe.hr.load() == S_OK);
    CHECK(accept_probe.on_host.load());
    CHECK(close_probe.on_host.load());
    WsFreeChannel(ch);
    WsFreeListener(l);
  }
}

TEST_CASE("a_client_channel_connects_on_a_host_loop") {
  for (bool uv : host_kinds()) {
    CAPTURE(uv);
    fd_guard fds;
    host h(uv);
    USHORT port = 0;
    WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
    WS_CHANNEL_PROPERTY prop{OPENWWS_CHANNEL_PROPERTY_EVENT_LOOP, &h.loop, sizeof h.loop};
    WS_CHANNEL* client = nullptr;
    REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &client,
                            nullptr) == S_OK);
    auto url = u16("net.tcp://127.0.0.1:" + std::to_string(port) + "/");
    WS_ENDPOINT_ADDRESS address{};
    address.url = ws(url);
    thread_probe probe;
    probe.host_id = h.id;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    HRESULT hr = WsOpenChannel(client, &address, &ctx, nullptr);
    CHECK((hr == S_OK || hr == WS_S_ASYNC));
    WS_CHANNEL* server = channel_for(l);  // its accept answers the client's preamble
    CHECK(WsAcceptChannel(l, server, nullptr, nullptr) == S_OK);
    if (hr == WS_S_ASYNC) {
      REQUIRE(wait_until([&] { return probe.calls.load() == 1; }, 5s));
      CHECK(probe.hr.load() == S_OK);
      CHECK(probe.on_host.load());
    }
    CHECK(state_of(client) == WS_CHANNEL_STATE_OPEN);
    CHECK(WsCloseChannel(server, nullptr, nullptr) == S_OK);
    WsFreeChannel(server);
    CHECK(WsCloseChannel(client, nullptr, nullptr) == S_OK);
    WsFreeChannel(client);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    WsFreeListener(l);
  }
}

TEST_CASE("objects_without_the_property_live_on_the_default_event_loop_while_one_is_set") {
  for (bool uv : host_kinds()) {
    CAPTURE(uv);
    fd_guard fds;
    host h(uv);
    error_object err;
    void* not_a_loop = &err;
    CHECK(OpenwwsSetDefaultEventLoop(static_cast<OPENWWS_EVENT_LOOP*>(not_a_loop), err) == E_INVALIDARG);
    REQUIRE(OpenwwsSetDefaultEventLoop(h.loop, nullptr) == S_OK);
    USHORT port = 0;
    WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);  // no EVENT_LOOP property
    // Back to the binary's default: openwws's own threads, or the embedded suite's host.
    REQUIRE(OpenwwsSetDefaultEventLoop(embedded_event_loop(), nullptr) == S_OK);
    WS_CHANNEL* ch = channel_for(l);
    thread_probe probe;
    probe.host_id = h.id;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
    int client = nettcp_connect(port);
    REQUIRE(wait_until([&] { return probe.calls.load() == 1; }, 5s));
    CHECK(probe.on_host.load());
    CHECK(probe.model.load() == WS_SHORT_CALLBACK);
    close_rst(client);
    WsFreeChannel(ch);
    WsFreeListener(l);
  }
}

// A host that sleeps on the descriptor for as long as OpenwwsGetEventLoopTimeout says
// (the `host` above caps each wait at 5 ms, which would hide a missed wake-up): every
// accept of a chain that re-arms from its callback, on the host's thread, completes.
TEST_CASE("a_host_that_waits_as_long_as_the_timeout_says_is_woken_for_every_accept") {
  fd_guard fds;
  OPENWWS_EVENT_LOOP* loop = nullptr;
  REQUIRE(OpenwwsCreateEventLoop(nullptr, &loop, nullptr) == S_OK);
  int fd = -1;
  REQUIRE(OpenwwsGetEventLoopDescriptor(loop, &fd, nullptr) == S_OK);
  int stop[2];
  REQUIRE(::pipe(stop) == 0);
  std::thread runner([&] {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop[0], POLLIN, 0}};
    for (;;) {
      ::poll(p, 2, OpenwwsGetEventLoopTimeout(loop));
      if (p[1].revents) break;
      OpenwwsRunEventLoop(loop, nullptr);
    }
  });
  // The host sleeps in poll() before anything is posted to its loop: the very first
  // post must wake it too.
  std::this_thread::sleep_for(50ms);
  WS_LISTENER_PROPERTY prop{OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, &loop, sizeof loop};
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port, &prop, 1);
  struct chain {
    WS_LISTENER* l;
    WS_CHANNEL* ch;
    WS_ASYNC_CONTEXT ctx;
    std::atomic<int> accepted{0};
    std::atomic<HRESULT> failed{S_OK};
    // Counts this accept and starts the next, for as long as they complete at once.
    void next() {
      do {
        accepted++;
        WsCloseChannel(ch, nullptr, nullptr);
        WsResetChannel(ch, nullptr);
      } while (start() == S_OK);
    }
    HRESULT start() {
      HRESULT hr = WsAcceptChannel(l, ch, &ctx, nullptr);
      if (FAILED(hr)) failed = hr;
      return hr;
    }
  } c{l, channel_for(l), {}};
  c.ctx = {[](HRESULT hr, WS_CALLBACK_MODEL, void* s) {
             auto* cc = static_cast<chain*>(s);
             if (FAILED(hr)) {
               cc->failed = hr;
               return;
             }
             cc->next();
           },
           &c};
  HRESULT first = c.start();  // from this thread
  REQUIRE((first == WS_S_ASYNC || first == S_OK));
  if (first == S_OK) c.next();
  constexpr int connections = 50;
  for (int i = 0; i < connections; ++i) {
    int client = nettcp_connect(port);
    REQUIRE(wait_until([&] { return c.accepted.load() > i || FAILED(c.failed.load()); }, 5s));
    close_rst(client);
  }
  CHECK(c.failed.load() == S_OK);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);  // ends the pending accept; from this thread
  WsFreeChannel(c.ch);
  WsFreeListener(l);
  char one = 0;
  REQUIRE(::write(stop[1], &one, 1) == 1);
  runner.join();
  OpenwwsFreeEventLoop(loop);
  ::close(stop[0]);
  ::close(stop[1]);
}

}  // TEST_SUITE

// Two defects of the libuv host loop, found by the embedded suite's work; these fail
// until they are fixed (see the comments for where).
#ifdef OPENWWS_HAVE_LIBUV
TEST_SUITE("embedding") {

// webservices.h: "a synchronous call from the loop's thread ... fails at once with
// WS_E_INVALID_OPERATION". host_loop::on_loop_thread (core/host_loop.cpp) knows the
// host's thread only once run() has run on it, and a libuv host runs it only when
// openwws has work (an accept posted, a timer): opening a listener posts nothing. So
// a synchronous accept from the application's own uv callback, before openwws's loop
// ever ran, is not refused: it posts its start and waits for the thread it blocks.
TEST_CASE("a_synchronous_call_on_the_host_thread_before_the_loop_ever_ran_is_refused") {
  fd_guard fds;
  uv_loop_t uv{};
  REQUIRE(uv_loop_init(&uv) == 0);
  OPENWWS_EVENT_LOOP* loop = nullptr;
  REQUIRE(OpenwwsCreateEventLoop(&uv, &loop, nullptr) == S_OK);
  WS_LISTENER_PROPERTY prop{OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, &loop, sizeof loop};
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port, &prop, 1);  // opening posts nothing
  WS_CHANNEL* ch = channel_for(l);
  struct app_t {
    WS_LISTENER* l;
    WS_CHANNEL* ch;
    std::atomic<HRESULT> hr{S_FALSE};
  } app{l, ch};
  // The application's own timer, 20 ms after its loop started, on the host's thread:
  // a synchronous accept there would wait for itself.
  uv_timer_t timer{};
  uv_timer_init(&uv, &timer);
  timer.data = &app;
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        auto* a = static_cast<app_t*>(t->data);
        a->hr = WsAcceptChannel(a->l, a->ch, nullptr, nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
      },
      20, 0);
  uv_async_t stop{};
  uv_async_init(&uv, &stop, [](uv_async_t* a) { uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr); });
  std::thread host_thread([&] { uv_run(&uv, UV_RUN_DEFAULT); });
  bool returned = wait_until([&] { return app.hr.load() != S_FALSE; }, 2s);
  CHECK_MESSAGE(returned, "the synchronous accept on the host's thread waits for itself");
  if (!returned) {
    // Unblock it: abort the accept and run the loop from here.
    WsAbortChannel(ch, nullptr);
    wait_until([&] {
      OpenwwsRunEventLoop(loop, nullptr);
      return app.hr.load() != S_FALSE;
    }, 5s);
  }
  CHECK(app.hr.load() == WS_E_INVALID_OPERATION);
  // Closed and freed while the host still runs its loop (asynchronously: this thread may
  // count as the loop's after running it above).
  thread_probe closed;
  closed.host_id = host_thread.get_id();
  WS_ASYNC_CONTEXT close_ctx = closed.ctx();
  if (WsCloseListener(l, &close_ctx, nullptr) == WS_S_ASYNC) wait_until([&] { return closed.calls.load() == 1; }, 5s);
  WsFreeChannel(ch);
  WsFreeListener(l);
  // As with any libuv handle: the openwws loop keeps the host's loop alive until it is
  // freed; its handles then close in the host's next iterations and uv_run returns.
  OpenwwsFreeEventLoop(loop);
  uv_async_send(&stop);
  host_thread.join();
  CHECK(uv_loop_close(&uv) == 0);
}

// webservices.h: "OpenwwsFreeEventLoop drops the application's handle; the loop goes
// when the last object on it is freed too". When that last free runs on another
// thread while the host runs its loop, host_loop::release (core/host_loop.cpp) deletes
// the loop on that thread, and uv_poller::shutdown (platform/uv/libuv.cpp) calls
// uv_close on the host's handles from there, racing the host's uv_run (libuv loops are
// not thread-safe). ThreadSanitizer reports it (closed_one against shutdown's
// closing_); other builds may pass or corrupt the host's loop.
TEST_CASE("the_last_object_freed_off_the_host_thread_after_the_handle_leaves_the_host_loop_to_its_thread") {
  fd_guard fds;
  host h(true);
  USHORT port = 0;
  WS_LISTENER* l = listener_on(h, &port);
  WS_CHANNEL* ch = channel_for(l);
  thread_probe probe;
  probe.host_id = h.id;
  WS_ASYNC_CONTEXT ctx = probe.ctx();
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  int client = nettcp_connect(port);
  REQUIRE(wait_until([&] { return probe.calls.load() == 1; }, 5s));
  close_rst(client);
  // The application lets its handle go while the host still runs; the last object,
  // freed from this thread, then ends the loop.
  OpenwwsFreeEventLoop(h.loop);
  h.loop = nullptr;
  CHECK(WsCloseChannel(ch, nullptr, nullptr) == S_OK);
  WsFreeChannel(ch);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
  std::this_thread::sleep_for(50ms);  // the host's next iterations run the close callbacks
}

}  // TEST_SUITE
#endif
