// SPDX-License-Identifier: MIT
// State-machine fuzzer for WS_LISTENER (spec section 4). Each input byte picks a call
// on one TCP listener, its channels (up to 8) or raw loopback clients; after every call
// the HRESULT and the listener's STATE are checked against a model of the state diagram
// (CREATED, OPEN, FAULTED, CLOSED: OPENING and CLOSING are not observable when one
// thread makes every call and opens and closes synchronously).
//
// Byte 0 configures the input: bits 0-1 the backend (io_uring, epoll, io_uring
// single-shot, io_uring with an 8-entry ring; only when OPENWWS_BACKEND is not set
// outside and io_uring works here), bit 2 WS_SHORT_CALLBACK instead of LONG, bit 3 pass a
// WS_ERROR to synchronous calls. Then ops, each one byte plus the operands named at
// run_op. Sockets: 127.0.0.1 only, port 0 (the kernel's choice).
//
// At the end: close, wait (at most 5 s) until every accept that returned WS_S_ASYNC has
// had exactly one callback, free everything, and compare the process's descriptor count
// with the one the input started with.
#include "fuzz/fuzz_common.h"
#include "core/nettcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class model { created, open, faulted, closed };

WS_LISTENER_STATE ws_state(model m) {
  switch (m) {
    case model::created: return WS_LISTENER_STATE_CREATED;
    case model::open: return WS_LISTENER_STATE_OPEN;
    case model::faulted: return WS_LISTENER_STATE_FAULTED;
    default: return WS_LISTENER_STATE_CLOSED;
  }
}

const char* name(model m) {
  static const char* const names[] = {"CREATED", "OPEN", "FAULTED", "CLOSED"};
  return names[static_cast<int>(m)];
}

constexpr int max_slots = 8;
constexpr std::size_t max_raw = 16;
constexpr int max_ops = 64;

// One channel and the async accepts made into it. `expected` counts accepts that may
// call back: raised before the call (the callback can run on another thread before
// WsAcceptChannel has even returned here) and lowered again unless it returned WS_S_ASYNC.
struct slot {
  WS_CHANNEL* ch = nullptr;
  WS_ERROR* err = nullptr;  // the async accept's own error object (WS_ERROR is single-threaded)
  std::atomic<int> expected{0};
  std::atomic<int> calls{0};
  bool pending() const { return calls.load(std::memory_order_acquire) < expected.load(std::memory_order_acquire); }
};

// Async WsOpenListener, same counting.
struct open_op {
  std::atomic<int> expected{0};
  std::atomic<int> calls{0};
  std::atomic<HRESULT> hr{S_OK};
};

struct run_state {
  WS_LISTENER* l = nullptr;
  model m = model::created;
  USHORT port = 0;  // of the last successful open
  slot slots[max_slots];
  open_op open;
  std::vector<int> raw;
  WS_ERROR* err = nullptr;  // for synchronous calls, or NULL
};

void check_hr(HRESULT got, HRESULT want, const char* call, model before) {
  FUZZ_CHECK(got == want, "%s with the listener %s returned 0x%08X (%s), expected %s", call, name(before),
             static_cast<unsigned>(got), fuzz::hr_name(got), fuzz::hr_name(want));
}

WS_LISTENER_STATE listener_state(WS_LISTENER* l) {
  WS_LISTENER_STATE s = static_cast<WS_LISTENER_STATE>(-1);
  HRESULT hr = WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &s, sizeof s, nullptr);
  FUZZ_CHECK(hr == S_OK, "WsGetListenerProperty(STATE) returned %s", fuzz::hr_name(hr));
  return s;
}

WS_CHANNEL_STATE channel_state(WS_CHANNEL* c) {
  WS_CHANNEL_STATE s = static_cast<WS_CHANNEL_STATE>(-1);
  HRESULT hr = WsGetChannelProperty(c, WS_CHANNEL_PROPERTY_STATE, &s, sizeof s, nullptr);
  FUZZ_CHECK(hr == S_OK, "WsGetChannelProperty(STATE) returned %s", fuzz::hr_name(hr));
  return s;
}

ULONG string_count(WS_ERROR* e) {
  ULONG n = 0;
  FUZZ_CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, &n, sizeof n) == S_OK, "STRING_COUNT");
  return n;
}

void CALLBACK on_accept(HRESULT hr, WS_CALLBACK_MODEL cm, void* state) {
  auto* s = static_cast<slot*>(state);
  FUZZ_CHECK(cm == WS_SHORT_CALLBACK || cm == WS_LONG_CALLBACK, "callback model %d", static_cast<int>(cm));
  FUZZ_CHECK(hr == S_OK || hr == WS_E_OPERATION_ABORTED, "accept callback with 0x%08X (%s)",
             static_cast<unsigned>(hr), fuzz::hr_name(hr));
  // Section 9.1: a finished accept leaves the channel OPEN (FAULTED if it was aborted
  // just after), a failed one CREATED. Section 7: the error is filled before the callback.
  WS_CHANNEL_STATE cs = channel_state(s->ch);
  if (hr == S_OK)
    FUZZ_CHECK(cs == WS_CHANNEL_STATE_OPEN || cs == WS_CHANNEL_STATE_FAULTED, "accept succeeded, channel state %d",
               static_cast<int>(cs));
  else
    FUZZ_CHECK(cs == WS_CHANNEL_STATE_CREATED, "accept failed, channel state %d", static_cast<int>(cs));
  if (FAILED(hr)) FUZZ_CHECK(string_count(s->err) > 0, "failed accept left no string in its WS_ERROR");
  // Last: from here on the main thread may reuse or free the channel.
  int n = s->calls.fetch_add(1, std::memory_order_acq_rel) + 1;
  FUZZ_CHECK(n <= s->expected.load(std::memory_order_acquire), "accept callback ran %d times for %d WS_S_ASYNC", n,
             s->expected.load());
}

void CALLBACK on_open(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
  auto* o = static_cast<open_op*>(state);
  o->hr.store(hr);
  int n = o->calls.fetch_add(1, std::memory_order_acq_rel) + 1;
  FUZZ_CHECK(n <= o->expected.load(std::memory_order_acquire), "open callback ran %d times", n);
}

// Waits until pred() or the deadline; returns pred().
template <typename P>
bool wait_for(P pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

bool any_pending(run_state& r) {
  for (auto& s : r.slots)
    if (s.pending()) return true;
  return false;
}

// A blocking connect to the listener's port that sends a net.tcp preamble at once, as
// real clients do: the accept completes with it (a silent client would hold a sync
// accept until CONNECT_TIMEOUT). The connection is queued by the kernel once this
// returns, whether or not anything accepts it. -1 on failure.
int raw_connect(USHORT port) {
  int fd = openwws::platform::stream_socket(AF_INET, false);
  FUZZ_CHECK(fd >= 0, "socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  std::vector<std::uint8_t> preamble;
  std::string why;
  std::string via = "net.tcp://127.0.0.1:" + std::to_string(port) + "/";
  FUZZ_CHECK(openwws::core::nettcp::encode_client_preamble(via, WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_ENCODING_XML_BINARY_SESSION_1,
                                                     WS_ENVELOPE_VERSION_SOAP_1_2, preamble, why) == S_OK,
             "encode_client_preamble: %s", why.c_str());
  FUZZ_CHECK(::send(fd, preamble.data(), preamble.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(preamble.size()),
             "sending the preamble failed");
  return fd;
}

void close_with_reset(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);
}

// Brings a slot's channel to CREATED (making it if needed); false if an accept into it
// is still pending.
bool ready_channel(run_state& r, slot& s) {
  if (s.pending()) return false;
  if (!s.ch) {
    HRESULT hr = WsCreateChannelForListener(r.l, nullptr, 0, &s.ch, r.err);
    FUZZ_CHECK(hr == S_OK, "WsCreateChannelForListener returned %s", fuzz::hr_name(hr));
    return true;
  }
  WS_CHANNEL_STATE cs = channel_state(s.ch);
  FUZZ_CHECK(cs != WS_CHANNEL_STATE_ACCEPTING && cs != WS_CHANNEL_STATE_OPENING,
             "channel state %d with no accept pending", static_cast<int>(cs));
  if (cs == WS_CHANNEL_STATE_OPEN || cs == WS_CHANNEL_STATE_FAULTED) {
    HRESULT hr = WsCloseChannel(s.ch, nullptr, r.err);
    FUZZ_CHECK(hr == S_OK, "WsCloseChannel from state %d returned %s", static_cast<int>(cs), fuzz::hr_name(hr));
    cs = channel_state(s.ch);
    FUZZ_CHECK(cs == WS_CHANNEL_STATE_CLOSED, "channel state %d after WsCloseChannel", static_cast<int>(cs));
  }
  HRESULT hr = WsResetChannel(s.ch, r.err);
  FUZZ_CHECK(hr == S_OK, "WsResetChannel from state %d returned %s", static_cast<int>(cs), fuzz::hr_name(hr));
  cs = channel_state(s.ch);
  FUZZ_CHECK(cs == WS_CHANNEL_STATE_CREATED, "channel state %d after WsResetChannel", static_cast<int>(cs));
  return true;
}

WCHAR url_text[] = u"net.tcp://127.0.0.1:0/";
WS_STRING url = WS_STRING_VALUE(url_text);

void op_open(run_state& r, bool async) {
  model before = r.m;
  HRESULT hr;
  if (async) {
    // Section 7: any result but WS_S_ASYNC means no callback.
    r.open.expected.fetch_add(1);
    WS_ASYNC_CONTEXT ctx{on_open, &r.open};
    hr = WsOpenListener(r.l, &url, &ctx, r.err);
    if (hr != WS_S_ASYNC) {
      r.open.expected.fetch_sub(1);
      FUZZ_CHECK(r.open.calls.load() <= r.open.expected.load(), "open called back after returning %s",
                 fuzz::hr_name(hr));
    } else {
      FUZZ_CHECK(wait_for([&] { return r.open.calls.load() == r.open.expected.load(); },
                          std::chrono::milliseconds(5000)),
                 "async open never called back");
      hr = r.open.hr.load();
    }
  } else {
    hr = WsOpenListener(r.l, &url, nullptr, r.err);
  }
  if (before == model::created) {
    check_hr(hr, S_OK, "WsOpenListener", before);
    r.m = model::open;
    USHORT port = 0;
    HRESULT p = WsGetListenerProperty(r.l, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port, sizeof port, nullptr);
    FUZZ_CHECK(p == S_OK && port != 0, "LOCAL_PORT of an open listener: %s, port %u", fuzz::hr_name(p), port);
    r.port = port;
  } else {
    check_hr(hr, WS_E_INVALID_OPERATION, "WsOpenListener", before);
  }
}

void op_close(run_state& r) {
  model before = r.m;
  check_hr(WsCloseListener(r.l, nullptr, r.err), S_OK, "WsCloseListener", before);
  r.m = model::closed;
  // Section 3.4: the close waits for pending I/O; section 7: an async operation is
  // pending until its callback is invoked. So no accept may still be waiting for its
  // callback once a synchronous close has returned.
  for (int i = 0; i < max_slots; ++i)
    FUZZ_CHECK(!r.slots[i].pending(), "slot %d: accept still without callback after WsCloseListener returned", i);
}

void op_accept_async(run_state& r, slot& s) {
  if (!ready_channel(r, s)) return;
  model before = r.m;
  FUZZ_CHECK(WsResetError(s.err) == S_OK, "WsResetError");
  s.expected.fetch_add(1, std::memory_order_acq_rel);
  WS_ASYNC_CONTEXT ctx{on_accept, &s};
  HRESULT hr = WsAcceptChannel(r.l, s.ch, &ctx, s.err);
  if (hr != WS_S_ASYNC) {
    s.expected.fetch_sub(1, std::memory_order_acq_rel);
    FUZZ_CHECK(s.calls.load() <= s.expected.load(), "accept called back after returning %s", fuzz::hr_name(hr));
  }
  switch (before) {
    case model::open:
      FUZZ_CHECK(hr == S_OK || hr == WS_S_ASYNC, "async WsAcceptChannel on an OPEN listener returned 0x%08X (%s)",
                 static_cast<unsigned>(hr), fuzz::hr_name(hr));
      if (hr == S_OK)
        FUZZ_CHECK(channel_state(s.ch) == WS_CHANNEL_STATE_OPEN, "accept returned S_OK, channel not OPEN");
      return;
    case model::faulted:
      check_hr(hr, WS_E_OBJECT_FAULTED, "WsAcceptChannel", before);
      break;
    default:
      check_hr(hr, WS_E_INVALID_OPERATION, "WsAcceptChannel", before);
      break;
  }
  FUZZ_CHECK(channel_state(s.ch) == WS_CHANNEL_STATE_CREATED, "refused accept left the channel in state %d",
             static_cast<int>(channel_state(s.ch)));
}

// Synchronous accept, only where it cannot block: listener OPEN, no async accept
// queued ahead of it, and a connection made just now.
void op_accept_sync(run_state& r, slot& s) {
  if (r.m != model::open || any_pending(r) || r.raw.size() >= max_raw) return;
  int fd = raw_connect(r.port);
  FUZZ_CHECK(fd >= 0, "connect to the OPEN listener's port %u failed", r.port);
  r.raw.push_back(fd);
  if (!ready_channel(r, s)) return;
  HRESULT hr = WsAcceptChannel(r.l, s.ch, nullptr, r.err);
  check_hr(hr, S_OK, "synchronous WsAcceptChannel with a connection waiting", r.m);
  FUZZ_CHECK(channel_state(s.ch) == WS_CHANNEL_STATE_OPEN, "synchronous accept: channel not OPEN");
}

void op_new_channel(run_state& r, slot& s) {
  if (s.pending()) return;
  if (s.ch) {
    HRESULT hr = WsCloseChannel(s.ch, nullptr, r.err);
    FUZZ_CHECK(hr == S_OK, "WsCloseChannel returned %s", fuzz::hr_name(hr));
    WsFreeChannel(s.ch);
    s.ch = nullptr;
  }
  // Section 3.9: any listener state.
  HRESULT hr = WsCreateChannelForListener(r.l, nullptr, 0, &s.ch, r.err);
  FUZZ_CHECK(hr == S_OK, "WsCreateChannelForListener with the listener %s returned %s", name(r.m),
             fuzz::hr_name(hr));
  FUZZ_CHECK(channel_state(s.ch) == WS_CHANNEL_STATE_CREATED, "new channel not CREATED");
  WS_CHANNEL_TYPE type{};
  FUZZ_CHECK(WsGetChannelProperty(s.ch, WS_CHANNEL_PROPERTY_CHANNEL_TYPE, &type, sizeof type, nullptr) == S_OK &&
                 type == WS_CHANNEL_TYPE_DUPLEX_SESSION,
             "channel for a TCP listener is not DUPLEX_SESSION");
}

void op_raw_connect(run_state& r) {
  // A FAULTED listener may or may not still take connections (not documented).
  if ((r.m != model::open && r.m != model::faulted) || r.raw.size() >= max_raw) return;
  int fd = raw_connect(r.port);
  if (r.m == model::open) FUZZ_CHECK(fd >= 0, "connect to the OPEN listener's port %u failed", r.port);
  if (fd >= 0) r.raw.push_back(fd);
}

// OPENWWS_FUZZ_TRACE=1 prints each op and the states it leaves (to read a finding).
bool trace() {
  static const bool on = [] {
    const char* e = std::getenv("OPENWWS_FUZZ_TRACE");
    return e && *e == '1';
  }();
  return on;
}

void check_model(run_state& r, const char* after) {
  WS_LISTENER_STATE s = listener_state(r.l);
  FUZZ_CHECK(s == ws_state(r.m), "after %s the listener is in state %d, the model says %s", after,
             static_cast<int>(s), name(r.m));
  for (int i = 0; i < max_slots; ++i) {
    slot& sl = r.slots[i];
    if (!sl.ch || sl.pending()) continue;
    WS_CHANNEL_STATE cs = channel_state(sl.ch);
    FUZZ_CHECK(cs != WS_CHANNEL_STATE_ACCEPTING, "after %s: slot %d ACCEPTING with no accept pending", after, i);
  }
}

// Op byte % 12, then operands:
//   0 open (operand: bit 0 async)      6 new channel (slot)
//   1 close                            7 abort channel (slot)
//   2 abort                            8 raw connect
//   3 reset                            9 set ASYNC_CALLBACK_MODEL (bit 0: LONG)
//   4 async accept (slot)             10 wait up to (operand % 8) ms for pending accepts
//   5 sync accept (slot)              11 close and reset a channel (slot)
void run_op(run_state& r, fuzz::reader& in) {
  static const char* const names[] = {"open",         "close",       "abort",         "reset",
                                      "async accept", "sync accept", "new channel",   "abort channel",
                                      "raw connect",  "set model",   "wait",          "recycle channel"};
  const unsigned op = in.u8() % 12u;
  model before = r.m;
  switch (op) {
    case 0:
      op_open(r, in.u8() & 1);
      break;
    case 1:
      op_close(r);
      break;
    case 2:
      check_hr(WsAbortListener(r.l, r.err), S_OK, "WsAbortListener", before);
      if (before == model::open) r.m = model::faulted;
      break;
    case 3:
      if (before == model::created || before == model::closed) {
        check_hr(WsResetListener(r.l, r.err), S_OK, "WsResetListener", before);
        r.m = model::created;
      } else {
        check_hr(WsResetListener(r.l, r.err), WS_E_INVALID_OPERATION, "WsResetListener", before);
      }
      break;
    case 4:
      op_accept_async(r, r.slots[in.u8() % max_slots]);
      break;
    case 5:
      op_accept_sync(r, r.slots[in.u8() % max_slots]);
      break;
    case 6:
      op_new_channel(r, r.slots[in.u8() % max_slots]);
      break;
    case 7: {
      slot& s = r.slots[in.u8() % max_slots];
      // Section 9.2: abort works in every state and does not fail for resources.
      if (s.ch) FUZZ_CHECK(WsAbortChannel(s.ch, nullptr) == S_OK, "WsAbortChannel failed");
      break;
    }
    case 8:
      op_raw_connect(r);
      break;
    case 9: {
      WS_CALLBACK_MODEL cm = (in.u8() & 1) ? WS_LONG_CALLBACK : WS_SHORT_CALLBACK;
      HRESULT hr = WsSetListenerProperty(r.l, WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &cm, sizeof cm, r.err);
      FUZZ_CHECK(hr == S_OK, "set ASYNC_CALLBACK_MODEL returned %s", fuzz::hr_name(hr));
      break;
    }
    case 10: {
      int ms = in.u8() % 8;
      wait_for([&] { return !any_pending(r); }, std::chrono::milliseconds(ms));
      break;
    }
    default: {
      slot& s = r.slots[in.u8() % max_slots];
      if (s.ch) ready_channel(r, s);
      break;
    }
  }
  if (trace()) {
    std::fprintf(stderr, "op %-15s listener %-7s -> %-7s slots:", names[op], name(before), name(r.m));
    for (auto& s : r.slots)
      std::fprintf(stderr, " %c%d/%d", s.ch ? "COAOFLD"[channel_state(s.ch)] : '-', s.calls.load(),
                   s.expected.load());
    std::fprintf(stderr, " raw %zu\n", r.raw.size());
  }
  check_model(r, names[op]);
}

// OPENWWS_BACKEND etc. are read when the runtime starts, which happens with the first
// object of an input (the previous input freed everything, so it had stopped).
bool g_choose_backend = false;

void choose_backend(unsigned which) {
  if (!g_choose_backend) return;
  ::setenv("OPENWWS_BACKEND", which == 1 ? "epoll" : "io_uring", 1);
  if (which == 2)
    ::setenv("OPENWWS_IO_URING_SINGLESHOT", "1", 1);
  else
    ::unsetenv("OPENWWS_IO_URING_SINGLESHOT");
  if (which == 3)
    ::setenv("OPENWWS_IO_URING_ENTRIES", "8", 1);
  else
    ::unsetenv("OPENWWS_IO_URING_ENTRIES");
}

// io_uring may be missing (old kernel, seccomp in containers): then every input uses
// the default backend.
bool io_uring_works() {
  ::setenv("OPENWWS_BACKEND", "io_uring", 1);
  WS_LISTENER* l = nullptr;
  bool ok = false;
  if (WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) ==
      S_OK) {
    ok = WsOpenListener(l, &url, nullptr, nullptr) == S_OK;
    WsCloseListener(l, nullptr, nullptr);
    WsFreeListener(l);
  }
  ::unsetenv("OPENWWS_BACKEND");
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* forced = std::getenv("OPENWWS_BACKEND");
  if (forced && *forced) {
    std::fprintf(stderr, "fuzz_listener_state: OPENWWS_BACKEND=%s for every input\n", forced);
  } else if (io_uring_works()) {
    g_choose_backend = true;
  } else {
    std::fprintf(stderr, "fuzz_listener_state: io_uring unavailable; the default backend for every input\n");
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fuzz::reader in(data, size);
  const std::uint8_t cfg = in.u8();
  const int fds_before = fuzz::open_fds();
  choose_backend(cfg & 3);

  run_state r;
  if (cfg & 8) FUZZ_CHECK(WsCreateError(nullptr, 0, &r.err) == S_OK, "WsCreateError");
  WS_LISTENER_PROPERTY prop;
  WS_CALLBACK_MODEL cm = (cfg & 4) ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
  prop.id = WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL;
  prop.value = &cm;
  prop.valueSize = sizeof cm;
  HRESULT hr =
      WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &prop, 1, nullptr, &r.l, r.err);
  FUZZ_CHECK(hr == S_OK, "WsCreateListener returned %s", fuzz::hr_name(hr));
  for (auto& s : r.slots) FUZZ_CHECK(WsCreateError(nullptr, 0, &s.err) == S_OK, "WsCreateError");
  check_model(r, "create");

  for (int ops = 0; ops < max_ops && !in.empty(); ++ops) run_op(r, in);

  // Teardown: close, then every async accept must have called back exactly once.
  model before = r.m;
  check_hr(WsCloseListener(r.l, nullptr, r.err), S_OK, "WsCloseListener at the end", before);
  r.m = model::closed;
  check_model(r, "the final close");
  bool all = wait_for([&] { return !any_pending(r); }, std::chrono::milliseconds(5000));
  for (int i = 0; i < max_slots; ++i) {
    slot& s = r.slots[i];
    FUZZ_CHECK(all || !s.pending(), "slot %d: %d accepts returned WS_S_ASYNC, %d callbacks after 5 s", i,
               s.expected.load(), s.calls.load());
    FUZZ_CHECK(s.calls.load() == s.expected.load(), "slot %d: %d callbacks for %d WS_S_ASYNC", i, s.calls.load(),
               s.expected.load());
  }
  FUZZ_CHECK(r.open.calls.load() == r.open.expected.load(), "open: %d callbacks for %d WS_S_ASYNC",
             r.open.calls.load(), r.open.expected.load());
  for (auto& s : r.slots) {
    if (s.ch) {
      FUZZ_CHECK(WsCloseChannel(s.ch, nullptr, nullptr) == S_OK, "WsCloseChannel at the end");
      WsFreeChannel(s.ch);
    }
    WsFreeError(s.err);
  }
  WsFreeListener(r.l);
  for (int fd : r.raw) close_with_reset(fd);
  if (r.err) WsFreeError(r.err);

  // The last object is gone, so the runtime has stopped and closed its own descriptors.
  const int fds_after = fuzz::open_fds_settled(fds_before);
  FUZZ_CHECK(fds_after == fds_before, "descriptors before the input: %d, after: %d", fds_before, fds_after);
  return 0;
}
