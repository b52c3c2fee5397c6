// SPDX-License-Identifier: MIT
// openwws-bench: cancel latency, the time from WsAbortListener or WsCloseListener to the
// completion of the accept it ends, and the raw mechanism it is compared with (an
// eventfd wake; the io_uring cancel is in bench_uring.cpp).
//
// One try: a listener open with one accept pending and nobody connecting; once every
// other thread of the process is seen asleep (the accepting thread blocked, the I/O
// thread waiting in the kernel), t0 is taken and the call made; t1 is taken by whoever
// sees the accept end: the thread whose synchronous WsAcceptChannel returns, or the
// callback. Every wait is bounded; a try that cannot end stops the benchmark.
#include "bench_common.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace openwws::bench {

namespace {

// What the accepting side reports per try; written by that side before it bumps done.
struct try_record {
  std::atomic<int> done{-1};
  std::vector<clock_type::time_point> t1;
  std::vector<HRESULT> hr;
  int current = 0;  // the try an async callback belongs to
};

void CALLBACK on_accept(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
  auto* rec = static_cast<try_record*>(state);
  auto now = clock_type::now();
  auto i = static_cast<size_t>(rec->current);
  rec->t1[i] = now;
  rec->hr[i] = hr;
  rec->done.store(rec->current, std::memory_order_release);
  wake_all(rec->done);
}

double micros(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

}  // namespace

cancel_result api_cancel_latency(const std::string& backend, cancel_how how, bool close, int tries, double budget_s,
                                 const placement& pl) {
  cancel_result out;
  ::setenv("OPENWWS_BACKEND", backend.c_str(), 1);
  set_thread_affinity(pl.waiters);  // the runtime's threads start with the listener
  WS_ERROR* err = nullptr;  // the driver's
  WS_ERROR* werr = nullptr;  // the accepting side's
  WS_LISTENER* listener = nullptr;
  WS_CHANNEL* channel = nullptr;
  try_record rec;
  rec.t1.resize(static_cast<size_t>(tries));
  rec.hr.resize(static_cast<size_t>(tries), S_OK);
  std::atomic<int> go{-1};
  std::atomic<bool> quit{false};
  std::thread worker;
  auto cleanup = [&] {
    if (worker.joinable()) {
      if (listener) WsAbortListener(listener, nullptr);  // ends an accept still pending
      quit.store(true);
      go.store(tries);
      wake_all(go);
      worker.join();
    }
    if (channel) WsFreeChannel(channel);
    if (listener) WsFreeListener(listener);
    if (werr) WsFreeError(werr);
    if (err) WsFreeError(err);
    set_thread_affinity(pl.all);
  };
  auto fail = [&](std::string e) {
    out.error = std::move(e);
    cleanup();
    return out;
  };

  if (FAILED(WsCreateError(nullptr, 0, &err)) || FAILED(WsCreateError(nullptr, 0, &werr)))
    return fail("WsCreateError failed");
  WS_CALLBACK_MODEL model = how == cancel_how::async_short ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
  WS_LISTENER_PROPERTY props[] = {{WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model}};
  HRESULT hr = WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, 1, nullptr, &listener,
                                err);
  if (FAILED(hr)) return fail(describe("WsCreateListener", hr, err));
  hr = WsCreateChannelForListener(listener, nullptr, 0, &channel, err);
  if (FAILED(hr)) return fail(describe("WsCreateChannelForListener", hr, err));
  const char* name = nullptr;
  hr = WsGetListenerProperty(listener, OPENWWS_LISTENER_PROPERTY_BACKEND_NAME, &name, sizeof name, err);
  if (FAILED(hr)) return fail(describe("WsGetListenerProperty(BACKEND_NAME)", hr, err));
  if (backend != name) return fail(format("the listener runs on backend '%s', not '%s'", name, backend.c_str()));

  if (how == cancel_how::sync) {
    worker = std::thread([&] {
      for (int i = 0; i < tries; ++i) {
        if (!wait_at_least(go, i, milliseconds(60000)) || quit.load()) return;
        rec.current = i;
        HRESULT h = WsAcceptChannel(listener, channel, nullptr, werr);
        on_accept(h, WS_LONG_CALLBACK, &rec);
      }
    });
  }
  WS_ASYNC_CONTEXT ctx{on_accept, &rec};
  static const WCHAR url_text[] = u"net.tcp://127.0.0.1:0/";
  WS_STRING url = WS_STRING_VALUE(url_text);
  pid_t me = this_tid();
  set_thread_affinity(pl.canceller);
  auto budget_end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(budget_s));

  for (int i = 0; i < tries && clock_type::now() < budget_end; ++i) {
    hr = WsOpenListener(listener, &url, nullptr, err);
    if (FAILED(hr)) return fail(describe("WsOpenListener", hr, err));
    if (how == cancel_how::sync) {
      go.store(i, std::memory_order_release);
      wake_all(go);
      // ACCEPTING is set as the call begins; asleep follows once it waits.
      auto limit = clock_type::now() + milliseconds(2000);
      for (;;) {
        WS_CHANNEL_STATE st = WS_CHANNEL_STATE_CREATED;
        WsGetChannelProperty(channel, WS_CHANNEL_PROPERTY_STATE, &st, sizeof st, nullptr);
        if (st == WS_CHANNEL_STATE_ACCEPTING) break;
        if (clock_type::now() > limit) return fail("the synchronous accept did not start within 2 s");
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
    } else {
      rec.current = i;
      hr = WsAcceptChannel(listener, channel, &ctx, werr);
      if (hr != WS_S_ASYNC)
        return fail(describe("WsAcceptChannel (async, nobody connecting) did not return WS_S_ASYNC", hr, werr));
    }
    bool settled = wait_others_asleep(me, milliseconds(200));
    if (!settled) ++out.unsettled;

    auto t0 = clock_type::now();
    hr = close ? WsCloseListener(listener, nullptr, err) : WsAbortListener(listener, err);
    if (FAILED(hr)) {
      std::string e = describe(close ? "WsCloseListener" : "WsAbortListener", hr, err);
      WsAbortListener(listener, nullptr);
      if (!wait_at_least(rec.done, i, milliseconds(5000))) {
        std::fprintf(stderr, "openwws-bench: %s; the pending accept never ended\n", e.c_str());
        std::_Exit(3);  // the accept still uses the objects
      }
      return fail(e);
    }
    if (!wait_at_least(rec.done, i, milliseconds(5000))) {
      std::fprintf(stderr, "openwws-bench: %s on %s: the pending accept did not end within 5 s; giving up\n",
                   close ? "WsCloseListener" : "WsAbortListener", backend.c_str());
      std::_Exit(3);
    }
    HRESULT got = rec.hr[static_cast<size_t>(i)];
    // A synchronous accept not yet seen asleep may meet the faulted (or closed) listener
    // before it waits: a correct end, but not the one measured here.
    bool raced = !settled && (got == WS_E_OBJECT_FAULTED || got == WS_E_INVALID_OPERATION);
    if (got != WS_E_OPERATION_ABORTED && !raced)
      return fail(format("the cancelled accept reported 0x%08X %s, not WS_E_OPERATION_ABORTED",
                         static_cast<unsigned>(got), hresult_name(got)));
    WsResetError(werr);
    if (!raced) out.us.push_back(micros(t0, rec.t1[static_cast<size_t>(i)]));
    if (!close) {
      hr = WsCloseListener(listener, nullptr, err);
      if (FAILED(hr)) return fail(describe("WsCloseListener (after the abort)", hr, err));
    }
    hr = WsResetListener(listener, err);
    if (FAILED(hr)) return fail(describe("WsResetListener", hr, err));
  }
  cleanup();
  return out;
}

// A thread blocked in read() on an eventfd; t0 before write(), t1 when read() returns.
// The least any cross-thread cancel needs: one thread waking another that sleeps.
cancel_result raw_eventfd_latency(int tries, double budget_s, const placement& pl) {
  cancel_result out;
  set_thread_affinity(pl.waiters);
  int efd = ::eventfd(0, EFD_CLOEXEC);
  if (efd < 0) {
    out.error = format("eventfd: %s", std::strerror(errno));
    set_thread_affinity(pl.all);
    return out;
  }
  std::atomic<int> done{-1};
  std::atomic<bool> quit{false};
  std::vector<clock_type::time_point> t1(static_cast<size_t>(tries));
  std::thread worker([&] {
    for (int i = 0; i < tries; ++i) {
      std::uint64_t v = 0;
      ssize_t n;
      do {
        n = ::read(efd, &v, sizeof v);
      } while (n < 0 && errno == EINTR);
      t1[static_cast<size_t>(i)] = clock_type::now();
      if (quit.load() || n != sizeof v) {
        // Leaving early: `tries` tells the driver, and frees it from any wait.
        done.store(tries);
        wake_all(done);
        return;
      }
      done.store(i, std::memory_order_release);
      wake_all(done);
    }
  });
  pid_t me = this_tid();
  set_thread_affinity(pl.canceller);
  auto budget_end = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                            std::chrono::duration<double>(budget_s));
  for (int i = 0; i < tries && clock_type::now() < budget_end; ++i) {
    if (!wait_others_asleep(me, milliseconds(200))) ++out.unsettled;
    auto t0 = clock_type::now();
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(efd, &one, sizeof one);
    if (!wait_at_least(done, i, milliseconds(5000)) || done.load() >= tries) {
      out.error = "the eventfd reader did not wake within 5 s";
      break;
    }
    out.us.push_back(micros(t0, t1[static_cast<size_t>(i)]));
  }
  quit.store(true);
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(efd, &one, sizeof one);  // its last read returns
  worker.join();
  ::close(efd);
  set_thread_affinity(pl.all);
  return out;
}

}  // namespace openwws::bench
