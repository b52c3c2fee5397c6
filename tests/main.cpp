// SPDX-License-Identifier: MIT
// Test runner: `--backend=NAME` runs every test on that I/O backend, or exits 77
// (meson's SKIP) when the backend is not available on this machine. `--embedded=uv`
// runs every test with openwws embedded in a host's libuv loop: a thread of the test
// binary runs uv_run on a loop made here, an openwws event loop lives on it, and it is
// the default event loop (OpenwwsSetDefaultEventLoop), so every listener and channel
// the tests make without an EVENT_LOOP property lives there.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "platform/select_backend.h"
#include "tests/support.h"

#ifdef OPENWWS_HAVE_LIBUV
#include <uv.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <csignal>

namespace {

std::thread::id g_host_id{};               // the embedded host's thread, while there is one
OPENWWS_EVENT_LOOP* g_host_loop = nullptr;  // its openwws loop, the default, while set

#ifdef OPENWWS_HAVE_LIBUV
// The application of the embedded suite: a thread that runs a libuv loop with an
// openwws event loop on it, as a libuv server would. uv_run returns only once asked
// to stop: `keep` is a referenced handle while openwws's own handles may all be
// unreferenced (no listener open).
class uv_host {
 public:
  // False, with the reason printed, when the host cannot start.
  bool start() {
    if (int rc = uv_loop_init(&uv_); rc < 0) return failed("uv_loop_init", uv_strerror(rc));
    inited_ = true;
    error_ = nullptr;
    WsCreateError(nullptr, 0, &error_);
    if (HRESULT hr = OpenwwsCreateEventLoop(&uv_, &loop_, error_); FAILED(hr))
      return failed("OpenwwsCreateEventLoop", error_text().c_str());
    if (int rc = uv_async_init(&uv_, &keep_, [](uv_async_t* a) { uv_stop(a->loop); }); rc < 0)
      return failed("uv_async_init", uv_strerror(rc));
    resume();
    if (HRESULT hr = OpenwwsSetDefaultEventLoop(loop_, error_); FAILED(hr))
      return failed("OpenwwsSetDefaultEventLoop", error_text().c_str());
    g_host_loop = loop_;
    return true;
  }

  // Stops the host's thread (its uv_run returns) and starts it again; while stopped,
  // nothing runs the loop.
  void pause() {
    if (!thread_.joinable()) return;
    uv_async_send(&keep_);
    thread_.join();
  }
  void resume() {
    std::atomic<bool> running{false};
    thread_ = std::thread([this, &running] {
      g_host_id = std::this_thread::get_id();
      running = true;
      uv_run(&uv_, UV_RUN_DEFAULT);
    });
    while (!running.load()) std::this_thread::yield();
  }

  // Whether an object made without an EVENT_LOOP property lives on this host: an
  // accept on a fresh listener is called back SHORT on the host's thread. Checked
  // before and after the tests, so that a test that changed the default event loop
  // and did not put it back cannot leave the rest of the suite off the host unnoticed.
  bool is_default() const {
    struct seen_t {
      std::atomic<int> calls{0};
      std::atomic<int> model{-1};
      std::atomic<bool> on_host{false};
    } seen;
    WS_ASYNC_CONTEXT ctx{[](HRESULT hr, WS_CALLBACK_MODEL model, void* p) {
                           auto* s = static_cast<seen_t*>(p);
                           s->model = hr == S_OK ? model : -1;
                           s->on_host = std::this_thread::get_id() == g_host_id;
                           s->calls++;
                         },
                         &seen};
    WS_LISTENER* l = nullptr;
    WS_CHANNEL* ch = nullptr;
    WS_STRING url = WS_STRING_VALUE(u"net.tcp://127.0.0.1:0/");
    USHORT port = 0;
    bool ok = WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                               nullptr) == S_OK &&
              WsOpenListener(l, &url, nullptr, nullptr) == S_OK &&
              WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port, sizeof port, nullptr) == S_OK &&
              WsCreateChannelForListener(l, nullptr, 0, &ch, nullptr) == S_OK &&
              WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC;
    int client = ok ? openwws::test::nettcp_connect(port) : -1;
    ok = ok && client >= 0 && openwws::test::wait_until([&] { return seen.calls.load() == 1; });
    ok = ok && seen.model.load() == WS_SHORT_CALLBACK && seen.on_host.load();
    if (client >= 0) openwws::test::close_rst(client);
    if (ch) {
      WsCloseChannel(ch, nullptr, nullptr);
      WsFreeChannel(ch);
    }
    if (l) {
      WsCloseListener(l, nullptr, nullptr);
      WsFreeListener(l);
    }
    if (!ok) failed("the default event loop", "a listener made without EVENT_LOOP does not live on the host's loop");
    return ok;
  }

  // Undoes start in the order an application would: no default loop any more, the
  // host's loop stopped, the application's handle freed, then the host's loop turned
  // until every handle openwws had on it is closed (uv_close's rule), and closed.
  // False, with the reason printed, when something was left on it.
  bool stop() {
    bool ok = true;
    g_host_loop = nullptr;
    if (loop_ && OpenwwsSetDefaultEventLoop(nullptr, nullptr) != S_OK)
      ok = failed("OpenwwsSetDefaultEventLoop", "NULL refused");
    pause();
    g_host_id = {};
    if (loop_) OpenwwsFreeEventLoop(loop_);
    loop_ = nullptr;
    if (keep_.loop) uv_close(reinterpret_cast<uv_handle_t*>(&keep_), nullptr);
    if (inited_) {
      // Close callbacks run one iteration later; a few turns are plenty. A handle that is
      // still open then belongs to an object a test did not free.
      for (int i = 0; i < 100 && uv_loop_alive(&uv_); ++i) uv_run(&uv_, UV_RUN_NOWAIT);
      if (int rc = uv_loop_close(&uv_); rc < 0) {
        auto show = [](uv_handle_t* h, void*) {
          std::fprintf(stderr, "  open handle: %s\n", uv_handle_type_name(h->type));
        };
        uv_walk(&uv_, show, nullptr);
        ok = failed("uv_loop_close", "handles still open on the host's loop (an object not freed?)");
      }
      inited_ = false;
    }
    WsFreeError(error_);
    error_ = nullptr;
    return ok;
  }

 private:
  static bool failed(const char* what, const char* why) {
    std::fprintf(stderr, "embedded host: %s: %s\n", what, why);
    return false;
  }
  std::string error_text() const {
    WS_STRING s{};
    if (!error_ || WsGetErrorString(error_, 0, &s) != S_OK) return "(no error text)";
    return openwws::test::str(s);
  }

  uv_loop_t uv_{};
  bool inited_ = false;
  uv_async_t keep_{};
  OPENWWS_EVENT_LOOP* loop_ = nullptr;
  WS_ERROR* error_ = nullptr;
  std::thread thread_;
};

uv_host* g_host = nullptr;  // the embedded suite's host, in the process that runs the tests
#endif

}  // namespace

namespace openwws::test {

bool embedded_host() { return g_host_id != std::thread::id{}; }
std::thread::id host_thread_id() { return g_host_id; }
OPENWWS_EVENT_LOOP* embedded_event_loop() { return g_host_loop; }

pid_t fork_for_test() {
#ifdef OPENWWS_HAVE_LIBUV
  if (g_host && embedded_host()) {
    // Forked with the host's thread stopped, so that the child is single-threaded
    // (ThreadSanitizer refuses new threads after a multi-threaded fork).
    g_host->pause();
    pid_t pid = ::fork();
    if (pid != 0) g_host->resume();
    return pid;
  }
#endif
  return ::fork();
}

void host_for_forked_child() {
#ifdef OPENWWS_HAVE_LIBUV
  if (!embedded_host()) return;
  // The host's thread was not copied into the child, so nothing would run the loop the
  // child inherited: the child gets a host of its own, left for _exit to end.
  auto* child = new uv_host();
  if (!child->start()) ::_exit(91);
#endif
}

}  // namespace openwws::test

int main(int argc, char** argv) {
  // Probing makes each backend once, so that what a backend's library keeps open for
  // the whole process (libuv's signal lock pipe, made by its first uv_loop_init)
  // exists before any test counts descriptors.
  auto avail = openwws::platform::available_backends();
  std::vector<char*> rest;
  bool embedded = false;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--backend=", 10) == 0) {
      std::string name = argv[i] + 10;
      if (std::find(avail.begin(), avail.end(), name) == avail.end()) {
        std::printf("backend '%s' is not available on this machine: skipped\n", name.c_str());
        return 77;
      }
      ::setenv("OPENWWS_BACKEND", name.c_str(), 1);
    } else if (std::strncmp(argv[i], "--embedded=", 11) == 0) {
      if (std::strcmp(argv[i] + 11, "uv") != 0) {
        std::fprintf(stderr, "--embedded: only 'uv' (a host's libuv loop) is known\n");
        return 2;
      }
#ifndef OPENWWS_HAVE_LIBUV
      std::printf("--embedded=uv: this build has no libuv: skipped\n");
      return 77;
#endif
      embedded = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  doctest::Context ctx(static_cast<int>(rest.size()), rest.data());
  if (!embedded) return ctx.run();
#ifdef OPENWWS_HAVE_LIBUV
  uv_host host;
  g_host = &host;
  if (!host.start() || !host.is_default()) {
    host.stop();
    return 1;
  }
  int rc = ctx.run();
  if (!host.is_default() && rc == 0) rc = 1;
  if (!host.stop() && rc == 0) rc = 1;
  g_host = nullptr;
  return rc;
#else
  return 77;
#endif
}
