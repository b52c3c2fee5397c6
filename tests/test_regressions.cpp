// SPDX-License-Identifier: MIT
// Regression tests for issue 8 (defects F1-F8 found by an independent torture run; F9,
// URLs, is tested elsewhere). Each case sets up the arrangement the issue describes,
// through the public API only, and checks what Microsoft documents:
//  - a call that returned WS_S_ASYNC is called back exactly once, with its own result;
//    a call that returned anything else is never called back (spec section 7);
//  - synchronous calls return; a Ws*Free* from a WS_SHORT_CALLBACK returns promptly;
//  - no callback of another object is lost; nothing is touched after it was freed.
// F5 is a use after free that ASan and TSan see, F6 one that only TSan sees (a mutex
// of a freed listener is locked) and F8 a data race; the plain build runs them as
// ordinary checks, which pass there.
// F7 needs a process in which no object was ever created: tests/test_fresh_process.cpp.
//
// How the I/O thread is held: an accept on a listener with WS_SHORT_CALLBACK is started
// and aborted; its callback runs on the thread that runs the loop and waits at a gate.
// While it waits the loop runs nothing, so operations started meanwhile are queued in
// a known order and complete together once the gate opens.
//
// Calls that might never return run on a thread of their own (bounded_call), so that a
// hang fails a check; such a thread is abandoned, and the objects it uses are leaked,
// only when the check already failed. Whatever a callback writes to (probes, gates)
// lives for the whole process (kept<T>()), so that a stray or late callback after a
// failed check cannot write into a dead stack frame. The F4 cases run in a child
// process of their own (run_isolated()): when such a free hangs, the loop thread is lost
// for good and no later test in the process could run.
#include "tests/support.h"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace openwws::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

const std::string any_port = "net.tcp://127.0.0.1:0/";

std::string hex(HRESULT hr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(hr));
  return buf;
}

// An object that lives as long as the process: never destroyed, not even at exit, when
// a thread left stuck in the library by a failed check may still use it (a deque never
// moves its elements).
template <typename T>
T& kept() {
  static auto* mu = new std::mutex;
  static auto* pool = new std::deque<T>;
  std::lock_guard lock(*mu);
  return pool->emplace_back();
}

// A gate a callback waits at. Open for good once released.
struct gate {
  std::atomic<bool> entered{false};
  void wait() {
    entered.store(true);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }
  bool wait_entered(std::chrono::milliseconds t = 2000ms) const {
    return wait_until([this] { return entered.load(); }, t);
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Opens a gate when the scope ends, however it ends (a failed REQUIRE throws).
struct opener {
  gate& g;
  ~opener() { g.release(); }
};

// What one asynchronous call reported through its callback.
struct probe {
  std::atomic<int> calls{0};
  std::atomic<HRESULT> hr{S_FALSE};
  std::atomic<bool> returned{false};
  std::atomic<bool> early{false};  // called back on the calling thread before the call returned
  std::thread::id starter;
  std::thread::id thread;  // the thread of the (last) callback
  std::function<void(HRESULT)> hook;  // runs inside the callback, after it was counted

  WS_ASYNC_CONTEXT ctx() {
    starter = std::this_thread::get_id();
    return WS_ASYNC_CONTEXT{callback, this};
  }
  bool called(std::chrono::milliseconds t = 2000ms) const {
    return wait_until([this] { return calls.load() > 0; }, t);
  }
  static void CALLBACK callback(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
    auto* p = static_cast<probe*>(state);
    if (!p->returned.load() && std::this_thread::get_id() == p->starter) p->early = true;
    p->thread = std::this_thread::get_id();
    p->hr = hr;
    p->calls.fetch_add(1);
    if (p->hook) p->hook(hr);
  }
};

// The asynchronous calls of a test, checked together against spec section 7.
class ledger {
 public:
  // Records a call made with p.ctx(); returns what the call returned.
  HRESULT note(std::string what, probe& p, HRESULT returned) {
    p.returned.store(true);
    calls_.push_back(entry{std::move(what), returned, &p});
    return returned;
  }
  // WS_S_ASYNC: exactly one callback (waited for up to `timeout`); anything else: none,
  // and never a callback on the calling thread before the call returned.
  void settle(std::chrono::milliseconds timeout = 2000ms, std::chrono::milliseconds grace = 30ms) {
    wait_until(
        [this] {
          for (auto& c : calls_)
            if (c.returned == WS_S_ASYNC && c.p->calls.load() == 0) return false;
          return true;
        },
        timeout);
    std::this_thread::sleep_for(grace);  // a second callback would show by now
    for (auto& c : calls_) {
      int expected = c.returned == WS_S_ASYNC ? 1 : 0;
      CHECK_MESSAGE(c.p->calls.load() == expected, c.what, " returned ", hex(c.returned), " and was called back ",
                    c.p->calls.load(), " times (expected ", expected, ")");
      CHECK_MESSAGE(!c.p->early.load(), c.what, " was called back before it returned, on the calling thread");
    }
    calls_.clear();
  }
  // The final result of a settled call: its callback's HRESULT, or what it returned.
  static HRESULT result(HRESULT returned, const probe& p) { return returned == WS_S_ASYNC ? p.hr.load() : returned; }

 private:
  struct entry {
    std::string what;
    HRESULT returned;
    probe* p;
  };
  std::vector<entry> calls_;
};

// Runs f on a thread of its own so that a call that never returns fails a check
// instead of hanging the run. If f has not returned when this object goes, the thread
// is abandoned (detached): f must capture only handles and kept<> objects.
class bounded_call {
 public:
  explicit bounded_call(std::function<HRESULT()> f) : s_(std::make_shared<shared>()) {
    thread_ = std::thread([s = s_, f = std::move(f)] {
      HRESULT hr = f();
      {
        std::lock_guard lock(s->mu);
        s->hr = hr;
        s->done = true;
      }
      s->cv.notify_all();
    });
  }
  bounded_call(const bounded_call&) = delete;
  bounded_call& operator=(const bounded_call&) = delete;
  ~bounded_call() {
    if (wait(0ms)) {
      thread_.join();
    } else {
      thread_.detach();
      MESSAGE("a call that never returned was abandoned on its thread");
    }
  }
  // True once f returned (waits up to t).
  bool wait(std::chrono::milliseconds t) {
    std::unique_lock lock(s_->mu);
    return s_->cv.wait_for(lock, t, [this] { return s_->done; });
  }
  HRESULT result() {
    std::lock_guard lock(s_->mu);
    return s_->hr;
  }

 private:
  struct shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    HRESULT hr = S_FALSE;
  };
  std::shared_ptr<shared> s_;
  std::thread thread_;
};

WS_LISTENER* listener_with(WS_CALLBACK_MODEL model, USHORT* port = nullptr, const std::string& url = any_port) {
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model};
  return open_listener(url, port, &prop, 1);
}

std::string url_for(USHORT port) { return "net.tcp://127.0.0.1:" + std::to_string(port) + "/"; }

HRESULT open_at(WS_LISTENER* l, const std::string& url, WS_ERROR* error = nullptr) {
  auto text = u16(url);
  WS_STRING s = ws(text);
  return WsOpenListener(l, &s, nullptr, error);
}

// Starts an asynchronous accept on ch and aborts it at once: its callback comes from
// the loop with WS_E_OPERATION_ABORTED, with no connection involved.
HRESULT aborted_accept(ledger& lg, const std::string& what, WS_LISTENER* l, WS_CHANNEL* ch, probe& p) {
  WS_ASYNC_CONTEXT ctx = p.ctx();
  HRESULT r = lg.note(what, p, WsAcceptChannel(l, ch, &ctx, nullptr));
  if (r == WS_S_ASYNC) CHECK(WsAbortChannel(ch, nullptr) == S_OK);
  return r;
}

// Has the loop take over l's socket (an accept went through it), so that closing l
// needs the loop too, as it does for any listener that has accepted.
void known_to_loop(ledger& lg, WS_LISTENER* l) {
  WS_CHANNEL* ch = channel_for(l);
  auto& p = kept<probe>();
  REQUIRE(aborted_accept(lg, "an accept that makes the loop know the listener", l, ch, p) == WS_S_ASYNC);
  REQUIRE(p.called());
  std::this_thread::sleep_for(1ms);  // the accept stops counting once its callback returned
  WsFreeChannel(ch);
}

// Holds the loop thread: an accept of `l` (WS_SHORT_CALLBACK) whose callback waits at g.
void hold_loop_thread(ledger& lg, WS_LISTENER* l, WS_CHANNEL* ch, probe& p, gate& g) {
  p.hook = [&g](HRESULT) { g.wait(); };
  REQUIRE(aborted_accept(lg, "the accept whose callback holds the loop thread", l, ch, p) == WS_S_ASYNC);
  REQUIRE_MESSAGE(g.wait_entered(), "the callback that should hold the loop thread never ran");
}

// Closes (synchronously, bounded) and frees l; leaks it if the close never returns.
void close_and_free(WS_LISTENER* l, const char* name) {
  bounded_call close([l] { return WsCloseListener(l, nullptr, nullptr); });
  bool returned = close.wait(3000ms);
  CHECK_MESSAGE(returned, "WsCloseListener(", name, ") never returned");
  if (returned) WsFreeListener(l);
}

// ---- running a test case in a process of its own ------------------------------------

#ifndef OPENWWS_TESTS_EXE
#error "tests/meson.build defines OPENWWS_TESTS_EXE, the path of openwws-tests"
#endif

constexpr const char* child_marker = "OPENWWS_REGRESSIONS_CHILD";

bool in_child() { return std::getenv(child_marker) != nullptr; }

// Runs the test case `name` alone in a new openwws-tests process (same backend and
// environment) and checks that it passed; it is killed if it has not ended within
// `limit`. Test names given here must not contain doctest filter syntax (, * ?).
void run_isolated(const char* name, std::chrono::milliseconds limit = 20000ms) {
  std::string filter = std::string("--test-case=") + name;
  std::string marker = std::string(child_marker) + "=1";
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(marker.data());
  envp.push_back(nullptr);
  std::string exe = OPENWWS_TESTS_EXE;
  std::string no_intro = "--no-intro=true", no_version = "--no-version=true";
  // The embedded suite's child runs embedded too: a host loop of its own (tests/main.cpp).
  std::string embedded = "--embedded=uv";
  char* argv[] = {exe.data(), filter.data(), no_intro.data(), no_version.data(),
                  embedded_host() ? embedded.data() : nullptr, nullptr};
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data());
  REQUIRE_MESSAGE(rc == 0, "cannot start ", exe, ": error ", rc);
  int status = 0;
  bool ended = false;
  auto deadline = steady::now() + limit;
  while (steady::now() < deadline) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  CHECK_MESSAGE(ended, "the child process running '", std::string(name), "' had not ended after ", limit.count(),
                " ms and was killed");
  if (ended) {
    bool passed = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK_MESSAGE(passed, "the child process running '", std::string(name), "' failed (",
                  WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                    : "signal " + std::to_string(WTERMSIG(status)),
                  "); its output is above");
  }
}

}  // namespace

TEST_SUITE("regressions") {

// ---- F1: re-arming an object whose previous callback is still queued ----------------

TEST_CASE_FIXTURE(fd_guard, "F1: re-arming a listener whose close callback is still queued") {
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* g_hold = channel_for(g);
  WS_CHANNEL* g_block = channel_for(g);
  WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK);
  WS_LISTENER* m = listener_with(WS_SHORT_CALLBACK);
  known_to_loop(lg, l);
  known_to_loop(lg, m);
  lg.settle();

  auto& hold1 = kept<gate>();
  auto& hold2 = kept<gate>();
  opener open1{hold1}, open2{hold2};
  auto& ph = kept<probe>();
  hold_loop_thread(lg, g, g_hold, ph, hold1);
  // Queued while the loop thread is held, in this order: an accept of G that ends
  // aborted (its callback holds the thread again), the close of L, the close of M.
  auto& pb = kept<probe>();
  pb.hook = [&hold2](HRESULT) { hold2.wait(); };
  REQUIRE(aborted_accept(lg, "G's second accept", g, g_block, pb) == WS_S_ASYNC);
  auto& pl1 = kept<probe>();
  WS_ASYNC_CONTEXT c1 = pl1.ctx();
  HRESULT r_l1 = lg.note("the first async WsCloseListener(L)", pl1, WsCloseListener(l, &c1, nullptr));
  auto& pm = kept<probe>();
  WS_ASYNC_CONTEXT cm = pm.ctx();
  HRESULT r_m = lg.note("the async WsCloseListener(M) queued behind L's", pm, WsCloseListener(m, &cm, nullptr));
  hold1.release();
  REQUIRE(hold2.wait_entered());
  // The loop has completed L's close (its callback waits behind G's, M's behind L's).
  // Another thread now resets, reopens and closes L again, asynchronously.
  struct rearm_results {
    std::atomic<HRESULT> reset{S_FALSE}, open{S_FALSE}, close{S_FALSE};
  };
  auto& rr = kept<rearm_results>();
  auto& pl2 = kept<probe>();
  bounded_call rearm([l, &rr, &pl2] {
    rr.reset = WsResetListener(l, nullptr);
    rr.open = open_at(l, any_port);
    WS_ASYNC_CONTEXT c2 = pl2.ctx();
    rr.close = WsCloseListener(l, &c2, nullptr);
    return S_OK;
  });
  rearm.wait(300ms);  // it may also wait until L's first close has reported
  hold2.release();
  bool rearmed = rearm.wait(3000ms);
  CHECK_MESSAGE(rearmed, "WsResetListener / WsOpenListener / WsCloseListener on L never returned");
  if (rearmed) {
    MESSAGE("re-arm: reset ", hex(rr.reset), ", open ", hex(rr.open), ", async close ", hex(rr.close));
    lg.note("the second async WsCloseListener(L)", pl2, rr.close);
  }
  lg.settle();
  CHECK(ledger::result(r_l1, pl1) == S_OK);
  CHECK(ledger::result(r_m, pm) == S_OK);
  // Each re-arming call may be refused while L's first close is pending (its callback
  // has not run): WS_E_INVALID_OPERATION; otherwise it succeeds.
  if (rearmed) {
    for (HRESULT hr : {rr.reset.load(), rr.open.load(), ledger::result(rr.close, pl2)})
      CHECK_MESSAGE((hr == S_OK || hr == WS_E_INVALID_OPERATION), "re-arming call: ", hex(hr));
  }
  // And L still closes synchronously.
  if (rearmed) close_and_free(l, "L");
  close_and_free(m, "M");
  close_and_free(g, "G");
  WsFreeChannel(g_hold);
  WsFreeChannel(g_block);
}

TEST_CASE_FIXTURE(fd_guard, "F1: re-accepting on a channel whose aborted accept callback is still queued") {
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* g_hold = channel_for(g);
  WS_CHANNEL* g_block = channel_for(g);
  USHORT port = 0;
  WS_LISTENER* a = listener_with(WS_SHORT_CALLBACK, &port);
  WS_CHANNEL* x = channel_for(a);
  WS_LISTENER* m = listener_with(WS_SHORT_CALLBACK);
  known_to_loop(lg, m);
  lg.settle();

  auto& hold1 = kept<gate>();
  auto& hold2 = kept<gate>();
  opener open1{hold1}, open2{hold2};
  auto& ph = kept<probe>();
  hold_loop_thread(lg, g, g_hold, ph, hold1);
  // Queued in this order: an aborted accept of G (holds the thread again), the aborted
  // accept of channel X, the close of M.
  auto& pb = kept<probe>();
  pb.hook = [&hold2](HRESULT) { hold2.wait(); };
  REQUIRE(aborted_accept(lg, "G's second accept", g, g_block, pb) == WS_S_ASYNC);
  auto& px1 = kept<probe>();
  HRESULT r_x1 = aborted_accept(lg, "X's first (aborted) accept", a, x, px1);
  REQUIRE(r_x1 == WS_S_ASYNC);
  auto& pm = kept<probe>();
  WS_ASYNC_CONTEXT cm = pm.ctx();
  HRESULT r_m = lg.note("the async WsCloseListener(M) queued behind X's accept", pm, WsCloseListener(m, &cm, nullptr));
  hold1.release();
  REQUIRE(hold2.wait_entered());
  // X's accept has ended (X is CREATED again) and its callback waits behind G's.
  // Another thread accepts into X again.
  auto& px2 = kept<probe>();
  struct result_box {
    std::atomic<HRESULT> hr{S_FALSE};
  };
  auto& r2 = kept<result_box>();
  bounded_call again([a, x, &px2, &r2] {
    WS_ASYNC_CONTEXT c = px2.ctx();
    r2.hr = WsAcceptChannel(a, x, &c, nullptr);
    return S_OK;
  });
  again.wait(300ms);
  int client = -1;
  if (again.wait(0ms) && r2.hr == WS_S_ASYNC) client = nettcp_connect(port);  // for the second accept
  hold2.release();
  bool returned = again.wait(3000ms);
  CHECK_MESSAGE(returned, "the second WsAcceptChannel(X) never returned");
  if (returned) {
    MESSAGE("second accept on X returned ", hex(r2.hr));
    if (r2.hr == WS_S_ASYNC && client < 0) client = nettcp_connect(port);
    lg.note("X's second accept", px2, r2.hr);
  }
  if (returned && r2.hr == WS_S_ASYNC && !px2.called()) WsAbortChannel(x, nullptr);  // never lose a pending one
  lg.settle();
  CHECK(ledger::result(r_x1, px1) == WS_E_OPERATION_ABORTED);
  CHECK(ledger::result(r_m, pm) == S_OK);
  if (returned)
    CHECK_MESSAGE((r2.hr == WS_S_ASYNC || r2.hr == WS_E_INVALID_OPERATION), "second accept: ", hex(r2.hr));
  if (returned && r2.hr == WS_S_ASYNC) {
    CHECK(px2.hr.load() == S_OK);
    CHECK(state_of(x) == WS_CHANNEL_STATE_OPEN);
  }
  if (client >= 0) close_rst(client);
  WsCloseChannel(x, nullptr, nullptr);
  close_and_free(m, "M");
  close_and_free(a, "A");
  close_and_free(g, "G");
  if (returned) WsFreeChannel(x);
  WsFreeChannel(g_hold);
  WsFreeChannel(g_block);
}

// ---- F2: a new state visible before the operation that caused it has reported -------

TEST_CASE_FIXTURE(fd_guard, "F2: a synchronous WsCloseListener returns though another thread re-arms the listener it sees CLOSED") {
  // A race: thread A closes synchronously; this thread reopens and closes the listener
  // again the moment it reads CLOSED. A must return, and the second close is reported
  // only to its own caller. Repeated, since the window is A's wake-up.
  WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK);
  bool healthy = true;
  int rounds = 0;
  auto deadline = steady::now() + 1500ms;
  while (healthy && rounds < 400 && steady::now() < deadline) {
    ++rounds;
    ledger lg;
    known_to_loop(lg, l);
    bounded_call a([l] { return WsCloseListener(l, nullptr, nullptr); });
    bool closed = false;
    auto until = steady::now() + 2000ms;
    while (!(closed = state_of(l) == WS_LISTENER_STATE_CLOSED) && steady::now() < until) {
    }
    REQUIRE_MESSAGE(closed, "round ", rounds, ": the listener never read CLOSED");
    HRESULT r_reset = WsResetListener(l, nullptr);
    HRESULT r_open = r_reset == S_OK ? open_at(l, any_port) : r_reset;
    auto& pb = kept<probe>();
    WS_ASYNC_CONTEXT cb = pb.ctx();
    lg.note("round " + std::to_string(rounds) + ": the re-armed listener's async close", pb,
            WsCloseListener(l, &cb, nullptr));
    bool returned = a.wait(2000ms);
    CHECK_MESSAGE(returned, "round ", rounds, ": the synchronous WsCloseListener never returned (reset ", hex(r_reset),
                  ", open ", hex(r_open), ")");
    if (returned) CHECK(a.result() == S_OK);
    lg.settle(500ms, 0ms);  // rounds are short: no grace period for doubles here
    if (!returned) {
      // Rescue A: a synchronous close that goes through the loop wakes it too.
      healthy = false;
      WsResetListener(l, nullptr);
      if (open_at(l, any_port) == S_OK) {
        known_to_loop(lg, l);
        bounded_call c([l] { return WsCloseListener(l, nullptr, nullptr); });
        c.wait(2000ms);
        lg.settle();
      }
      if (!a.wait(1000ms)) {
        MESSAGE("the stuck WsCloseListener could not be woken: the listener is leaked");
        return;
      }
    }
    if (!returned) break;
    REQUIRE(WsResetListener(l, nullptr) == S_OK);
    REQUIRE(open_at(l, any_port) == S_OK);
  }
  MESSAGE(rounds, " rounds");
  close_and_free(l, "L");
}

TEST_CASE_FIXTURE(fd_guard, "F2: a synchronous WsAcceptChannel returns though another thread re-arms the channel it sees OPEN") {
  // The same race on a channel: thread A accepts synchronously; this thread closes,
  // resets and accepts into the channel again (async) the moment it reads OPEN.
  USHORT port = 0;
  WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK, &port);
  WS_CHANNEL* ch = channel_for(l);
  int rounds = 0;
  auto deadline = steady::now() + 1500ms;
  while (rounds < 400 && steady::now() < deadline) {
    ++rounds;
    ledger lg;
    bounded_call a([l, ch] { return WsAcceptChannel(l, ch, nullptr, nullptr); });
    REQUIRE(wait_until([&] { return state_of(ch) == WS_CHANNEL_STATE_ACCEPTING; }, 2000ms));
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // A waits for the loop now
    int client = nettcp_connect(port);
    REQUIRE(client >= 0);
    bool open = false;
    auto until = steady::now() + 2000ms;
    while (!(open = state_of(ch) == WS_CHANNEL_STATE_OPEN) && steady::now() < until) {
    }
    REQUIRE_MESSAGE(open, "round ", rounds, ": the channel never read OPEN");
    WsCloseChannel(ch, nullptr, nullptr);
    HRESULT r_reset = WsResetChannel(ch, nullptr);
    auto& pb = kept<probe>();
    WS_ASYNC_CONTEXT cb = pb.ctx();
    HRESULT r_b = lg.note("round " + std::to_string(rounds) + ": the re-armed channel's async accept", pb,
                          WsAcceptChannel(l, ch, &cb, nullptr));
    bool returned = a.wait(2000ms);
    CHECK_MESSAGE(returned, "round ", rounds, ": the synchronous WsAcceptChannel never returned (reset ", hex(r_reset),
                  ", async accept ", hex(r_b), ")");
    if (returned) CHECK(a.result() == S_OK);
    if (r_b == WS_S_ASYNC) WsAbortChannel(ch, nullptr);
    lg.settle(500ms, 0ms);  // rounds are short: no grace period for doubles here
    if (r_b == WS_S_ASYNC) CHECK(pb.hr.load() == WS_E_OPERATION_ABORTED);
    close_rst(client);
    if (!returned) {
      // Rescue A: a synchronous accept that completes wakes it too.
      WsCloseChannel(ch, nullptr, nullptr);
      WsResetChannel(ch, nullptr);
      bounded_call c([l, ch] { return WsAcceptChannel(l, ch, nullptr, nullptr); });
      wait_until([&] { return state_of(ch) == WS_CHANNEL_STATE_ACCEPTING; }, 1000ms);
      std::this_thread::sleep_for(5ms);
      int rescue = nettcp_connect(port);
      c.wait(2000ms);
      if (rescue >= 0) close_rst(rescue);
      if (!a.wait(1000ms)) {
        MESSAGE("the stuck WsAcceptChannel could not be woken: listener and channel are leaked");
        return;
      }
      break;
    }
    WsCloseChannel(ch, nullptr, nullptr);
    REQUIRE(WsResetChannel(ch, nullptr) == S_OK);
  }
  MESSAGE(rounds, " rounds");
  WsCloseChannel(ch, nullptr, nullptr);
  close_and_free(l, "L");
  WsFreeChannel(ch);
}

TEST_CASE_FIXTURE(fd_guard, "F2: a synchronous WsCloseListener does not report CLOSED before a pending async close has reported") {
  // L's async close has completed on the loop but its callback is still queued (the
  // loop thread is held): the close is still pending (spec 3.10). A synchronous close
  // now may be refused (WS_E_INVALID_OPERATION) or wait; if it says S_OK the first
  // close must have reported, since the caller may free the listener right away.
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* g_hold = channel_for(g);
  WS_CHANNEL* g_block = channel_for(g);
  WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK);
  known_to_loop(lg, l);
  lg.settle();
  auto& hold1 = kept<gate>();
  auto& hold2 = kept<gate>();
  opener open1{hold1}, open2{hold2};
  auto& ph = kept<probe>();
  hold_loop_thread(lg, g, g_hold, ph, hold1);
  auto& pb = kept<probe>();
  pb.hook = [&hold2](HRESULT) { hold2.wait(); };
  REQUIRE(aborted_accept(lg, "G's second accept", g, g_block, pb) == WS_S_ASYNC);
  auto& pl1 = kept<probe>();
  WS_ASYNC_CONTEXT c1 = pl1.ctx();
  HRESULT r_l1 = lg.note("the async WsCloseListener(L)", pl1, WsCloseListener(l, &c1, nullptr));
  REQUIRE(r_l1 == WS_S_ASYNC);
  hold1.release();
  REQUIRE(hold2.wait_entered());
  struct seen_box {
    std::atomic<int> first_close_calls{-1};
  };
  auto& seen = kept<seen_box>();
  bounded_call sync_close([l, &pl1, &seen] {
    HRESULT hr = WsCloseListener(l, nullptr, nullptr);
    seen.first_close_calls = pl1.calls.load();
    return hr;
  });
  sync_close.wait(200ms);
  hold2.release();
  bool returned = sync_close.wait(3000ms);
  CHECK_MESSAGE(returned, "the synchronous WsCloseListener never returned");
  HRESULT hr = returned ? sync_close.result() : S_FALSE;
  if (returned) {
    CHECK_MESSAGE((hr == S_OK || hr == WS_E_INVALID_OPERATION), "synchronous close: ", hex(hr));
    if (hr == S_OK)
      CHECK_MESSAGE(seen.first_close_calls.load() == 1,
                    "the synchronous close returned S_OK while the pending close had not reported yet");
  }
  lg.settle();
  CHECK(pl1.hr.load() == S_OK);
  if (returned) close_and_free(l, "L");  // CLOSED by now, whichever way the sync close went
  close_and_free(g, "G");
  WsFreeChannel(g_hold);
  WsFreeChannel(g_block);
}

// ---- F3: io_uring requests of a runtime thread that exits ---------------------------

namespace {

// Makes the thread that runs the loop now give it up and end: a LONG callback it runs
// blocks past the takeover delay (2 ms), the monitor takes the loop over and runs a
// LONG callback itself (so that a new monitor starts), then the first callback
// returns, and its thread, finding the loop taken and a monitor present, ends.
// `inside` runs in the blocking callback, on the thread that ends, before it blocks.
void retire_loop_thread(ledger& lg, WS_LISTENER* p, WS_CHANNEL* c1, WS_CHANNEL* c2,
                        std::function<void()> inside = nullptr) {
  auto& g = kept<gate>();
  opener o{g};
  auto& p1 = kept<probe>();
  p1.hook = [&g, inside = std::move(inside)](HRESULT) {
    if (inside) inside();
    g.wait();
  };
  REQUIRE(aborted_accept(lg, "the LONG callback that blocks", p, c1, p1) == WS_S_ASYNC);
  REQUIRE(g.wait_entered());
  std::this_thread::sleep_for(20ms);  // well past the takeover delay
  auto& p2 = kept<probe>();
  REQUIRE(aborted_accept(lg, "a LONG callback on the thread that took the loop over", p, c2, p2) == WS_S_ASYNC);
  REQUIRE(p2.called());
  CHECK(p2.thread != p1.thread);
  g.release();
  std::this_thread::sleep_for(50ms);  // the first callback's thread returns and ends
  WsResetChannel(c1, nullptr);
  WsResetChannel(c2, nullptr);
}

}  // namespace

TEST_CASE_FIXTURE(fd_guard, "F3: an accept submitted by a loop thread that then exits is satisfied by a later connection and the port reopens") {
  // On io_uring the accept was submitted by the thread that ran the loop; that thread
  // then exits. The accept must still take the next connection (nothing aborted it).
  // Then WsCloseListener and a reopen on the same port must work at once. (On epoll
  // there are no per-thread requests; it passes there trivially.)
  // A host's loop has no thread of openwws's own to take over or to exit.
  OPENWWS_SKIP_WHEN_EMBEDDED("a loop thread that exits after a LONG callback's takeover");
  MESSAGE("backend: ", backend_under_test());
  ledger lg;
  USHORT port = 0;
  WS_LISTENER* l = listener_with(WS_LONG_CALLBACK, &port);
  WS_CHANNEL* x = channel_for(l);
  WS_LISTENER* p = listener_with(WS_LONG_CALLBACK);
  WS_CHANNEL* c1 = channel_for(p);
  WS_CHANNEL* c2 = channel_for(p);
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    auto& px = kept<probe>();
    WS_ASYNC_CONTEXT cx = px.ctx();
    HRESULT r = lg.note("the accept pending across the takeover", px, WsAcceptChannel(l, x, &cx, nullptr));
    REQUIRE(r == WS_S_ASYNC);
    std::this_thread::sleep_for(20ms);  // the loop thread has submitted it
    retire_loop_thread(lg, p, c1, c2);
    CHECK_MESSAGE(px.calls.load() == 0, "the pending accept ended (", hex(px.hr), ") with no connection and no abort");
    int client = nettcp_connect(port);
    REQUIRE(client >= 0);
    if (!px.called()) WsAbortChannel(x, nullptr);
    lg.settle();
    bool taken = px.hr.load() == S_OK;
    CHECK_MESSAGE(taken, "the accept reported ", hex(px.hr), " instead of taking the connection");
    if (!taken) {
      // The connection still waits in the backlog: take it, so that the next part
      // starts from the same place.
      bounded_call drain([l, x] { return WsAcceptChannel(l, x, nullptr, nullptr); });
      CHECK(drain.wait(2000ms));
      WsCloseChannel(x, nullptr, nullptr);
    }
    close_rst(client);
    WsCloseChannel(x, nullptr, nullptr);
    WsResetChannel(x, nullptr);
    // Again, and this time close the listener with the accept pending, then reopen the
    // same port.
    auto& py = kept<probe>();
    WS_ASYNC_CONTEXT cy = py.ctx();
    r = lg.note("the accept pending when the listener closes", py, WsAcceptChannel(l, x, &cy, nullptr));
    CHECK(r == WS_S_ASYNC);
    if (r != WS_S_ASYNC) break;
    std::this_thread::sleep_for(20ms);
    retire_loop_thread(lg, p, c1, c2);
    bounded_call close([l] { return WsCloseListener(l, nullptr, nullptr); });
    auto t0 = steady::now();
    bool closed = close.wait(3000ms);
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0).count();
    REQUIRE_MESSAGE(closed, "WsCloseListener never returned");
    CHECK(close.result() == S_OK);
    MESSAGE("WsCloseListener took ", took, " us");
    lg.settle();
    CHECK(py.hr.load() == WS_E_OPERATION_ABORTED);
    WsResetChannel(x, nullptr);
    REQUIRE(WsResetListener(l, nullptr) == S_OK);
    error_object err;
    HRESULT reopen = open_at(l, url_for(port), err);
    REQUIRE_MESSAGE(reopen == S_OK, "reopening port ", port, ": ", hex(reopen), " ", err.text());
  }
  close_and_free(l, "L");
  close_and_free(p, "P");
  WsFreeChannel(x);
  WsFreeChannel(c1);
  WsFreeChannel(c2);
}

TEST_CASE_FIXTURE(fd_guard, "F3: an accept started inside a LONG callback whose thread then exits is satisfied by a later connection") {
  // The same, with the accept started by WsAcceptChannel on the callback thread that
  // ends afterwards (an implementation that submits on the calling thread would lose it).
  OPENWWS_SKIP_WHEN_EMBEDDED("a LONG callback's thread that exits after the loop's takeover");
  MESSAGE("backend: ", backend_under_test());
  ledger lg;
  USHORT port = 0;
  WS_LISTENER* l = listener_with(WS_LONG_CALLBACK, &port);
  WS_CHANNEL* x = channel_for(l);
  WS_LISTENER* p = listener_with(WS_LONG_CALLBACK);
  WS_CHANNEL* c1 = channel_for(p);
  WS_CHANNEL* c2 = channel_for(p);
  auto& px = kept<probe>();
  struct result_box {
    std::atomic<HRESULT> hr{S_FALSE};
  };
  auto& started = kept<result_box>();
  retire_loop_thread(lg, p, c1, c2, [l, x, &px, &started] {
    WS_ASYNC_CONTEXT cx = px.ctx();
    started.hr = WsAcceptChannel(l, x, &cx, nullptr);
  });
  HRESULT r = lg.note("the accept started inside the LONG callback", px, started.hr);
  REQUIRE(r == WS_S_ASYNC);
  CHECK_MESSAGE(px.calls.load() == 0, "the pending accept ended (", hex(px.hr), ") with no connection and no abort");
  int client = nettcp_connect(port);
  REQUIRE(client >= 0);
  if (!px.called()) WsAbortChannel(x, nullptr);
  lg.settle();
  CHECK_MESSAGE(px.hr.load() == S_OK, "the accept reported ", hex(px.hr), " instead of taking the connection");
  close_rst(client);
  WsCloseChannel(x, nullptr, nullptr);
  close_and_free(l, "L");
  close_and_free(p, "P");
  WsFreeChannel(x);
  WsFreeChannel(c1);
  WsFreeChannel(c2);
}

// ---- F4: Ws*Free* from a WS_SHORT_CALLBACK -------------------------------------------
// Each case runs in a child process (see run_isolated): a free that never returns
// there holds the loop thread for good. Embedded, the callbacks run on the host's
// thread, where a free from a callback returns at once too (webservices.h).

namespace {

// What a freeing callback did.
struct free_record {
  std::atomic<int> calls{0};
  std::atomic<bool> done{false};
  std::atomic<long long> took_us{-1};
  std::function<void()> work;
  static void CALLBACK callback(HRESULT, WS_CALLBACK_MODEL, void* state) {
    auto* r = static_cast<free_record*>(state);
    r->calls.fetch_add(1);
    auto t0 = steady::now();
    r->work();
    r->took_us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0).count();
    r->done = true;
  }
};

// Starts an aborted accept of `l` (WS_SHORT_CALLBACK) on ch whose callback runs
// r.work, and checks that it returns within 2 s. False: it did not (the loop thread is
// lost; the caller leaks everything).
bool free_from_short_callback(WS_LISTENER* l, WS_CHANNEL* ch, free_record& r) {
  WS_ASYNC_CONTEXT ctx{free_record::callback, &r};
  REQUIRE(WsAcceptChannel(l, ch, &ctx, nullptr) == WS_S_ASYNC);
  REQUIRE(WsAbortChannel(ch, nullptr) == S_OK);
  bool done = wait_until([&] { return r.done.load(); }, 2500ms);
  CHECK_MESSAGE(done, "the free called from the WS_SHORT_CALLBACK had not returned after 2.5 s");
  if (!done) return false;
  CHECK_MESSAGE(r.took_us.load() < 2000000, "the free from the WS_SHORT_CALLBACK took ", r.took_us.load(), " us");
  std::this_thread::sleep_for(30ms);
  CHECK(r.calls.load() == 1);
  return true;
}

constexpr const char* f4_own = "F4: WsFreeListener of the callback's own open listener from a SHORT callback returns";
constexpr const char* f4_other =
    "F4: WsFreeListener of another open listener from a SHORT callback returns";
constexpr const char* f4_channel =
    "F4: WsFreeChannel of another channel with a pending accept from a SHORT callback returns";
constexpr const char* f4_last = "F4: freeing the last objects of the process from a SHORT callback returns";

}  // namespace

TEST_CASE(f4_own) {
  if (!in_child()) return run_isolated(f4_own);
  fd_guard guard;
  WS_LISTENER* spare = nullptr;  // so that G is not the last object (that is f4_last)
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &spare,
                           nullptr) == S_OK);
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* ch = channel_for(g);
  auto& r = kept<free_record>();
  r.work = [g] { WsFreeListener(g); };
  if (!free_from_short_callback(g, ch, r)) return;
  WsFreeChannel(ch);
  WsFreeListener(spare);
}

TEST_CASE(f4_other) {
  if (!in_child()) return run_isolated(f4_other);
  fd_guard guard;
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* ch = channel_for(g);
  WS_LISTENER* y = listener_with(WS_SHORT_CALLBACK);
  known_to_loop(lg, y);
  lg.settle();
  auto& r = kept<free_record>();
  r.work = [y] { WsFreeListener(y); };
  if (!free_from_short_callback(g, ch, r)) return;
  close_and_free(g, "G");
  WsFreeChannel(ch);
}

TEST_CASE(f4_channel) {
  if (!in_child()) return run_isolated(f4_channel);
  fd_guard guard;
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* ch = channel_for(g);
  WS_LISTENER* z = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* cz = channel_for(z);
  auto& pz = kept<probe>();
  WS_ASYNC_CONTEXT cctx = pz.ctx();
  REQUIRE(lg.note("the accept pending on the channel that is freed", pz, WsAcceptChannel(z, cz, &cctx, nullptr)) ==
          WS_S_ASYNC);
  std::this_thread::sleep_for(20ms);  // started on the loop
  auto& r = kept<free_record>();
  r.work = [cz] { WsFreeChannel(cz); };
  if (!free_from_short_callback(g, ch, r)) return;
  lg.settle();
  CHECK(pz.hr.load() == WS_E_OPERATION_ABORTED);
  close_and_free(z, "Z");
  close_and_free(g, "G");
  WsFreeChannel(ch);
}

TEST_CASE(f4_last) {
  if (!in_child()) return run_isolated(f4_last);
  fd_guard guard;
  // In this process G and its channel are the only objects.
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* ch = channel_for(g);
  auto& r = kept<free_record>();
  r.work = [g, ch] {
    WsFreeChannel(ch);
    WsFreeListener(g);
  };
  if (!free_from_short_callback(g, ch, r)) return;
  // The process can go on: a new listener accepts.
  ledger lg;
  USHORT port = 0;
  WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK, &port);
  WS_CHANNEL* c = channel_for(l);
  auto& p = kept<probe>();
  WS_ASYNC_CONTEXT ctx = p.ctx();
  HRESULT hr = lg.note("an accept after the last objects were freed", p, WsAcceptChannel(l, c, &ctx, nullptr));
  int client = nettcp_connect(port);
  lg.settle();
  CHECK(ledger::result(hr, p) == S_OK);
  if (client >= 0) close_rst(client);
  WsCloseChannel(c, nullptr, nullptr);
  WsFreeChannel(c);
  close_and_free(l, "L");
}

// ---- F5: an accept callback delivered after its channel was freed ------------------

namespace {

// Two accepts of L end aborted in the same loop turn (started and aborted while the
// loop thread is held): the first one's callback runs first1 (which may hold the
// loop), the second's is queued behind it with its channel CREATED again.
struct two_aborted_accepts {
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* g_hold = channel_for(g);
  WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* ch1 = channel_for(l);
  WS_CHANNEL* ch2 = channel_for(l);
  probe& p1 = kept<probe>();
  probe& p2 = kept<probe>();
  gate& hold = kept<gate>();

  void start(std::function<void(HRESULT)> first) {
    opener o{hold};
    auto& ph = kept<probe>();
    hold_loop_thread(lg, g, g_hold, ph, hold);
    p1.hook = std::move(first);
    WS_ASYNC_CONTEXT c1 = p1.ctx();
    REQUIRE(lg.note("the first accept", p1, WsAcceptChannel(l, ch1, &c1, nullptr)) == WS_S_ASYNC);
    WS_ASYNC_CONTEXT c2 = p2.ctx();
    REQUIRE(lg.note("the second accept", p2, WsAcceptChannel(l, ch2, &c2, nullptr)) == WS_S_ASYNC);
    REQUIRE(WsAbortListener(l, nullptr) == S_OK);
  }
  void finish(bool ch2_freed) {
    lg.settle();
    CHECK(p1.hr.load() == WS_E_OPERATION_ABORTED);
    CHECK(p2.hr.load() == WS_E_OPERATION_ABORTED);
    close_and_free(l, "L");
    close_and_free(g, "G");
    WsFreeChannel(ch1);
    if (!ch2_freed) WsFreeChannel(ch2);
    WsFreeChannel(g_hold);
  }
};

}  // namespace

TEST_CASE_FIXTURE(fd_guard, "F5: WsFreeChannel from another thread while that channel's accept callback is queued") {
  two_aborted_accepts t;
  auto& blocker = kept<gate>();
  opener o{blocker};
  t.start([&blocker](HRESULT) { blocker.wait(); });  // "the first callback blocks 300 ms"
  REQUIRE(blocker.wait_entered());
  // The second accept has ended and its callback is queued behind the blocked one.
  WS_CHANNEL* ch2 = t.ch2;
  bounded_call free2([ch2] {
    WsFreeChannel(ch2);
    return S_OK;
  });
  free2.wait(300ms);
  blocker.release();
  bool freed = free2.wait(3000ms);
  CHECK_MESSAGE(freed, "WsFreeChannel never returned");
  if (!freed) return;
  t.finish(true);
}

TEST_CASE_FIXTURE(fd_guard, "F5: WsFreeChannel from inside another accept callback while that channel's callback is queued") {
  two_aborted_accepts t;
  struct took_box {
    std::atomic<long long> us{-1};
  };
  auto& took = kept<took_box>();
  WS_CHANNEL* ch2 = t.ch2;
  t.start([ch2, &took](HRESULT) {
    auto t0 = steady::now();
    WsFreeChannel(ch2);
    took.us = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0).count();
  });
  REQUIRE_MESSAGE(wait_until([&] { return took.us.load() >= 0; }, 2500ms),
                  "WsFreeChannel from the callback had not returned after 2.5 s");
  CHECK(took.us.load() < 2000000);
  t.finish(true);
}

// ---- F6: WsAbortChannel racing WsFreeListener ---------------------------------------

namespace {

std::atomic<int> stalls{0};

// Stalls the thread it is delivered to for 10 ms, wherever it is: long enough for a
// listener free to finish meanwhile.
void stall(int) {
  stalls.fetch_add(1);
  int saved = errno;
  timespec ts{0, 10000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  errno = saved;
}

}  // namespace

TEST_CASE_FIXTURE(fd_guard, "F6: WsAbortChannel racing WsFreeListener of the channel's listener") {
  // Freeing a listener aborts its pending accepts and leaves the channels valid (they
  // are CREATED afterwards). Meanwhile another thread aborts those channels: an abort
  // that read ACCEPTING must not go on to the listener once it is freed.
  // The window is a few instructions, so each round widens it: while the loop thread
  // is held the accepts stay ACCEPTING however often they are aborted, and a thread
  // aborts them over and over; a signal stalls that thread for 10 ms wherever it is;
  // then the loop is let go and the listener freed, within the stall. In the rounds
  // where the stall fell between reading ACCEPTING and reaching the listener, the
  // thread then reaches a freed listener. (TSan delivers the signal at the end of the
  // next intercepted call, often the unlock of the channel's mutex: in the window.)
  struct handler_scope {
    struct sigaction old {};
    handler_scope() {
      struct sigaction sa {};
      sa.sa_handler = stall;
      sa.sa_flags = SA_RESTART;
      sigemptyset(&sa.sa_mask);
      REQUIRE(sigaction(SIGUSR2, &sa, &old) == 0);
    }
    ~handler_scope() { sigaction(SIGUSR2, &old, nullptr); }
  } handler;
  constexpr int channels = 8;
  ledger lg;
  WS_LISTENER* g = listener_with(WS_SHORT_CALLBACK);
  WS_CHANNEL* g_hold = channel_for(g);
  int rounds = 0;
  auto deadline = steady::now() + 1500ms;
  while (rounds < 300 && steady::now() < deadline) {
    ++rounds;
    WS_LISTENER* l = listener_with(WS_SHORT_CALLBACK);
    std::vector<WS_CHANNEL*> chs(channels);
    for (auto& ch : chs) {
      ch = channel_for(l);
      auto& p = kept<probe>();
      WS_ASYNC_CONTEXT ctx = p.ctx();
      REQUIRE(lg.note("an accept pending when its listener is freed", p, WsAcceptChannel(l, ch, &ctx, nullptr)) ==
              WS_S_ASYNC);
    }
    auto& hold = kept<gate>();
    opener release_hold{hold};
    auto& ph = kept<probe>();
    hold_loop_thread(lg, g, g_hold, ph, hold);
    auto& free_go = kept<std::atomic<bool>>();
    bounded_call free_l([l, &free_go] {
      while (!free_go.load()) {
      }
      WsFreeListener(l);
      return S_OK;
    });
    std::atomic<bool> stop{false}, sweeping{false};
    std::thread aborter([&] {
      while (!stop.load()) {
        for (WS_CHANNEL* ch : chs) WsAbortChannel(ch, nullptr);
        sweeping = true;
      }
    });
    while (!sweeping.load()) {
    }
    int before = stalls.load();
    pthread_kill(aborter.native_handle(), SIGUSR2);
    bool stalled = wait_until([&] { return stalls.load() != before; }, 1000ms);
    hold.release();
    free_go = true;
    bool freed = free_l.wait(3000ms);
    stop = true;
    aborter.join();
    CHECK_MESSAGE(freed, "round ", rounds, ": WsFreeListener never returned");
    if (!freed) break;  // the channels are leaked with the listener
    if (!stalled) MESSAGE("round ", rounds, ": the signal did not arrive while the thread was aborting");
    lg.settle(2000ms, 0ms);
    for (WS_CHANNEL* ch : chs) {
      CHECK(state_of(ch) == WS_CHANNEL_STATE_CREATED);
      WsFreeChannel(ch);
    }
  }
  lg.settle();
  MESSAGE(rounds, " rounds");
  close_and_free(g, "G");
  WsFreeChannel(g_hold);
}

// ---- F8: WsCreateChannelForListener racing WsSetListenerProperty --------------------

TEST_CASE_FIXTURE(fd_guard, "F8: WsCreateChannelForListener racing WsSetListenerProperty ASYNC_CALLBACK_MODEL") {
  // Both objects are free-threaded: a channel made while another thread changes the
  // listener's callback model takes the old or the new value (TSan: no data race).
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                           nullptr) == S_OK);
  std::atomic<bool> stop{false};
  std::atomic<int> bad_sets{0};
  std::thread setter([&] {
    for (unsigned i = 0; !stop.load(); ++i) {
      WS_CALLBACK_MODEL m = i % 2 ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
      if (WsSetListenerProperty(l, WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &m, sizeof m, nullptr) != S_OK)
        bad_sets++;
    }
  });
  int made = 0, bad = 0;
  auto deadline = steady::now() + 200ms;
  while (steady::now() < deadline) {
    WS_CHANNEL* ch = nullptr;
    if (WsCreateChannelForListener(l, nullptr, 0, &ch, nullptr) != S_OK) {
      ++bad;
      continue;
    }
    WS_CALLBACK_MODEL m{};
    if (WsGetChannelProperty(ch, WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL, &m, sizeof m, nullptr) != S_OK ||
        (m != WS_SHORT_CALLBACK && m != WS_LONG_CALLBACK))
      ++bad;
    WS_IP_VERSION v{};
    if (WsGetChannelProperty(ch, WS_CHANNEL_PROPERTY_IP_VERSION, &v, sizeof v, nullptr) != S_OK ||
        v != WS_IP_VERSION_AUTO)
      ++bad;
    WsFreeChannel(ch);
    ++made;
  }
  stop = true;
  setter.join();
  MESSAGE(made, " channels made");
  CHECK(bad == 0);
  CHECK(bad_sets.load() == 0);
  WsFreeListener(l);
}

}  // TEST_SUITE
