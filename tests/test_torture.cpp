// SPDX-License-Identifier: MIT
// Torture: a model-checking harness over the public API. A few listeners and several
// channels per listener are shared by worker threads that pick random operations
// (open, sync and async accept, close, abort, reset, free and recreate, callback-model
// changes, state reads), including re-arming an object right after its state changed,
// while its previous result may still be on its way. Callbacks re-arm, block (LONG,
// past the loop's takeover delay), hold the loop briefly (SHORT) and free objects
// (both callback models). Client threads connect and reset all the while.
//
// What is checked, for every call: the HRESULT is one the call documents; WS_S_ASYNC
// means exactly one callback, anything else none; a callback never runs on the
// caller's thread before the call returned; WS_E_OPERATION_ABORTED only when an abort,
// close or free of the object could have caused it; WS_E_ADDRESS_IN_USE never (each
// listener slot has a port of its own); no callback is due any more once a free of
// the object returned; no synchronous call takes longer than the hang limit (a
// watchdog reports the call and the object's recent history); at the end everything
// is closed and freed, every callback accounted for, and no descriptor leaked. In the
// embedded suite (--embedded=uv) every object lives on a host's libuv loop: each
// callback must then run SHORT on the host's thread, and a synchronous call a plan
// makes there is refused unless it completes at once (both already documented results).
//
// Harness rules: each object slot has a shared_mutex; calls on a live handle hold it
// shared (any number of threads, any calls, concurrently: the objects are
// free-threaded), frees and recreations hold it exclusive, so the harness never
// passes a freed handle. Callbacks only try-lock, so they never wait for a thread
// that may be waiting for them. Operation records are never freed before the end.
// Listener slot 0 and its channels are disturbed (closed, aborted, freed) fifty times
// less often and get few clients, so that their accepts stay pending through loop
// takeovers and thread exits: an abort of one of them then has no excuse.
//
// Environment:
//   OPENWWS_TORTURE_SEED     master seed (decimal or 0x...); each thread's generator
//                            derives from it. Thread timing is not reproducible, so a
//                            seed reproduces the operation mix, not the interleaving.
//   OPENWWS_TORTURE_SECONDS  run this long (no operation budget); default: a budget of
//                            operations scaled by OPENWWS_STRESS_SCALE, capped at 3 s.
//   OPENWWS_TORTURE_SKIP     comma-separated behaviours to leave out, to get past a
//                            known defect: sync_accept, free_listener, free_channel,
//                            free_open, free_in_short, free_in_long, block, hold_short,
//                            rearm, cycle, sync_close_in_callback, listener_model,
//                            channel_model, rearm_before_callback (then a channel is
//                            only accepted into or freed, and a listener only opened,
//                            reset, closed or freed, once its earlier accepts, resp.
//                            closes, have reported: returned, or their callback began).
//   OPENWWS_TORTURE_HANG_MS  a synchronous call slower than this is a hang (5000); the
//                            process exits 2 s later (nothing can be freed any more).
//   OPENWWS_TORTURE_VERBOSE  1: print every failure as it happens, not only the first
//                            three of each kind.
#include "tests/support.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace openwws::test;

namespace {

using steady = std::chrono::steady_clock;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch()).count();
}

std::uint64_t mix(std::uint64_t& x) {  // splitmix64
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

double stress_scale() {
  const char* s = env("OPENWWS_STRESS_SCALE");
  double v = s ? std::atof(s) : 1.0;
  return v > 0 ? v : 1.0;
}

std::string hr_name(HRESULT hr) {
  switch (hr) {
    case S_OK: return "S_OK";
    case WS_S_ASYNC: return "WS_S_ASYNC";
    case WS_E_INVALID_OPERATION: return "WS_E_INVALID_OPERATION";
    case WS_E_OPERATION_ABORTED: return "WS_E_OPERATION_ABORTED";
    case WS_E_OBJECT_FAULTED: return "WS_E_OBJECT_FAULTED";
    case WS_E_ADDRESS_IN_USE: return "WS_E_ADDRESS_IN_USE";
    case WS_E_ENDPOINT_DISCONNECTED: return "WS_E_ENDPOINT_DISCONNECTED";
    case WS_E_QUOTA_EXCEEDED: return "WS_E_QUOTA_EXCEEDED";
    case WS_E_NOT_SUPPORTED: return "WS_E_NOT_SUPPORTED";
    case WS_E_OTHER: return "WS_E_OTHER";
    case E_INVALIDARG: return "E_INVALIDARG";
    case E_OUTOFMEMORY: return "E_OUTOFMEMORY";
    default: {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(hr));
      return buf;
    }
  }
}

// ---- configuration ------------------------------------------------------------------

enum feature : unsigned {
  f_sync_accept = 1u << 0,
  f_free_listener = 1u << 1,
  f_free_channel = 1u << 2,
  f_free_open = 1u << 3,  // free an object that is not CREATED/CLOSED (openwws closes it first)
  f_free_in_short = 1u << 4,
  f_free_in_long = 1u << 5,
  f_block = 1u << 6,
  f_hold_short = 1u << 7,
  f_rearm = 1u << 8,
  f_cycle = 1u << 9,
  f_sync_close_in_callback = 1u << 10,
  f_listener_model = 1u << 11,
  f_channel_model = 1u << 12,
  f_rearm_before_callback = 1u << 13,
};

struct feature_name {
  const char* name;
  unsigned bit;
};
constexpr feature_name feature_names[] = {
    {"sync_accept", f_sync_accept},
    {"free_listener", f_free_listener},
    {"free_channel", f_free_channel},
    {"free_open", f_free_open},
    {"free_in_short", f_free_in_short},
    {"free_in_long", f_free_in_long},
    {"block", f_block},
    {"hold_short", f_hold_short},
    {"rearm", f_rearm},
    {"cycle", f_cycle},
    {"sync_close_in_callback", f_sync_close_in_callback},
    {"listener_model", f_listener_model},
    {"channel_model", f_channel_model},
    {"rearm_before_callback", f_rearm_before_callback},
};

struct config {
  std::uint64_t seed = 0x70A7'2026'0008'5EEDull;
  int listeners = 3;
  int channels_per_listener = 4;
  int workers = 4;
  long ops_per_worker = 0;  // 0: no budget, time only
  double seconds = 3.0;
  int hang_ms = 5000;
  unsigned features = ~0u;
  std::string skipped;
  bool verbose = false;

  static config from_env() {
    config c;
    if (const char* s = env("OPENWWS_TORTURE_SEED")) c.seed = std::strtoull(s, nullptr, 0);
    c.ops_per_worker = std::max(200L, static_cast<long>(40000 * stress_scale()));
    if (const char* s = env("OPENWWS_TORTURE_SECONDS")) {
      c.seconds = std::atof(s);
      c.ops_per_worker = 0;
    }
    if (const char* s = env("OPENWWS_TORTURE_HANG_MS")) c.hang_ms = std::max(100, std::atoi(s));
    if (const char* s = env("OPENWWS_TORTURE_SKIP")) {
      std::string list = s;
      std::size_t pos = 0;
      while (pos <= list.size()) {
        std::size_t end = list.find(',', pos);
        if (end == std::string::npos) end = list.size();
        std::string item = list.substr(pos, end - pos);
        bool known = item.empty();
        for (const auto& f : feature_names)
          if (item == f.name) {
            c.features &= ~f.bit;
            known = true;
          }
        if (!known) FAIL("OPENWWS_TORTURE_SKIP: unknown behaviour '", item, "'");
        pos = end + 1;
      }
      c.skipped = list;
    }
    c.verbose = env("OPENWWS_TORTURE_VERBOSE") != nullptr;
    return c;
  }
};

// ---- records ------------------------------------------------------------------------

enum class op_kind : std::uint8_t {
  create_listener,
  open_listener,
  accept,
  close_listener,
  abort_listener,
  reset_listener,
  free_listener,
  set_listener_model,
  get_listener_state,
  create_channel,
  close_channel,
  abort_channel,
  reset_channel,
  free_channel,
  set_channel_model,
  get_channel_state,
};

const char* op_name(op_kind k) {
  switch (k) {
    case op_kind::create_listener: return "WsCreateListener";
    case op_kind::open_listener: return "WsOpenListener";
    case op_kind::accept: return "WsAcceptChannel";
    case op_kind::close_listener: return "WsCloseListener";
    case op_kind::abort_listener: return "WsAbortListener";
    case op_kind::reset_listener: return "WsResetListener";
    case op_kind::free_listener: return "WsFreeListener";
    case op_kind::set_listener_model: return "WsSetListenerProperty(ASYNC_CALLBACK_MODEL)";
    case op_kind::get_listener_state: return "WsGetListenerProperty(STATE)";
    case op_kind::create_channel: return "WsCreateChannelForListener";
    case op_kind::close_channel: return "WsCloseChannel";
    case op_kind::abort_channel: return "WsAbortChannel";
    case op_kind::reset_channel: return "WsResetChannel";
    case op_kind::free_channel: return "WsFreeChannel";
    case op_kind::set_channel_model: return "WsSetChannelProperty(ASYNC_CALLBACK_MODEL)";
    case op_kind::get_channel_state: return "WsGetChannelProperty(STATE)";
  }
  return "?";
}

// What a callback does once it has checked its call.
enum class plan : std::uint8_t { none, rearm, block, block_rearm, free_channel, free_listener, sync_close };

const char* plan_name(plan p) {
  switch (p) {
    case plan::none: return "none";
    case plan::rearm: return "rearm";
    case plan::block: return "block";
    case plan::block_rearm: return "block+rearm";
    case plan::free_channel: return "free-channel";
    case plan::free_listener: return "free-listener";
    case plan::sync_close: return "sync-close";
  }
  return "?";
}

class harness;
struct lslot;
struct cslot;

// One object's life between a create and a free.
struct incarnation {
  // Calls that have not reported yet: synchronous ones until they return, asynchronous
  // ones until they return anything but WS_S_ASYNC or their callback begins.
  std::atomic<int> due{0};
  std::atomic<int> due_close{0};  // of which WsCloseListener
  std::atomic<bool> freed{false};
  std::atomic<bool> freed_in_callback{false};
};

struct op_record {
  harness* h = nullptr;
  std::uint64_t id = 0;
  op_kind kind{};
  bool async = false;
  plan pl = plan::none;
  int origin = 0;  // worker index; -1: a callback; -2: the test's own thread
  std::uint64_t parent = 0;  // the op whose callback made this call
  int depth = 0;
  std::uint64_t rand = 0;  // the callback's own random choices
  lslot* ls = nullptr;
  int lgen = -1;
  incarnation* linc = nullptr;
  cslot* cs = nullptr;
  int cgen = -1;
  incarnation* cinc = nullptr;
  int variant = 0;  // free: how; model: which; state: value read
  // Counters of the calls that could abort this one, as they were before it started.
  std::uint64_t lstop0 = 0, labort0 = 0, cabort0 = 0;
  std::thread::id caller;
  std::int64_t start_us = 0;
  std::atomic<std::int64_t> end_us{0};
  std::atomic<HRESULT> ret{0};
  std::atomic<bool> returned{false};
  std::atomic<int> callbacks{0};
  std::atomic<HRESULT> cb_hr{0};
  std::atomic<int> cb_model{-1};
  std::atomic<bool> reported{false};
  std::atomic<bool> hang_reported{false};
  std::atomic<std::int64_t> rescued_us{0};
  std::uint64_t lhist0 = 0, chist0 = 0;  // where its start went in the slots' histories
};

struct event {
  std::int64_t t_us = 0;
  const op_record* op = nullptr;
  char what = 0;  // 's' call starts, 'r' call returned, 'c' callback runs
  HRESULT hr = 0;
  int model = -1;
};

struct history {
  std::mutex mu;
  std::array<event, 256> ring{};
  std::uint64_t n = 0;
  std::uint64_t add(const event& e) {
    std::lock_guard lock(mu);
    ring[n % ring.size()] = e;
    return n++;
  }
  // Events [from, to) that the ring still holds.
  std::vector<event> range(std::uint64_t from, std::uint64_t to) {
    std::lock_guard lock(mu);
    std::vector<event> out;
    to = std::min(to, n);
    if (n > ring.size()) from = std::max(from, n - ring.size());
    for (std::uint64_t i = from; i < to; ++i) out.push_back(ring[i % ring.size()]);
    return out;
  }
  std::uint64_t size() {
    std::lock_guard lock(mu);
    return n;
  }
};

struct cslot;

struct lslot {
  int index = 0;
  std::shared_mutex mu;  // shared: calls on h; exclusive: free, create
  WS_LISTENER* h = nullptr;
  int gen = 0;
  incarnation* inc = nullptr;
  USHORT port = 0;
  std::u16string url_text;
  WS_STRING url{};
  // Calls that can abort this listener's accepts (abort, close, free), and those that
  // can abort its open or close (abort, free): counted before and after each call.
  std::atomic<std::uint64_t> stop_begun{0}, stop_ended{0}, abort_begun{0}, abort_ended{0};
  std::atomic<std::int64_t> freed_in_callback_us{0};
  history hist;
  std::vector<cslot*> channels;
};

struct cslot {
  int index = 0;  // within its listener slot
  lslot* l = nullptr;
  std::shared_mutex mu;
  WS_CHANNEL* h = nullptr;
  int gen = 0;
  int owner_gen = -1;  // the listener generation it was created for
  incarnation* inc = nullptr;
  std::atomic<std::uint64_t> abort_begun{0}, abort_ended{0};
  history hist;
};

// The calls each thread is inside, for the watchdog. A fixed pool, never freed: library
// threads come and go and their thread_local owners release entries as they exit.
struct call_stack {
  std::atomic<bool> used{false};
  std::atomic<int> depth{0};
  std::array<std::atomic<op_record*>, 8> ops{};
};
std::array<call_stack, 512> g_call_stacks;

struct call_stack_owner {
  call_stack* s = nullptr;
  call_stack* get() {
    if (!s)
      for (auto& c : g_call_stacks) {
        bool f = false;
        if (c.used.compare_exchange_strong(f, true)) {
          c.depth.store(0);
          s = &c;
          break;
        }
      }
    return s;
  }
  ~call_stack_owner() {
    if (s) s->used.store(false);
  }
};
thread_local call_stack_owner t_calls;
thread_local std::uint64_t t_seen_run = 0;
std::atomic<std::uint64_t> g_run_ids{0};

int connect_briefly(USHORT port, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err ? -1 : 0;
    }
  }
  if (rc < 0) {
    ::close(fd);
    return -1;
  }
  // A net.tcp client: its preamble right after connecting, as real clients send it.
  std::vector<std::uint8_t> preamble = nettcp_preamble(loopback_url(port));
  send_nosignal(fd, preamble.data(), preamble.size());
  return fd;
}

// ---- the harness --------------------------------------------------------------------

class harness {
 public:
  explicit harness(config c) : cfg(std::move(c)), run_id(++g_run_ids) {}

  // Runs the whole test; false if it could not finish (a hang): then nothing may be freed.
  bool run();

  config cfg;
  const std::uint64_t run_id;
  std::int64_t t0 = now_us();

  // arena: records live until the harness goes
  std::mutex arena_mu;
  std::deque<op_record> records;
  std::deque<incarnation> incarnations;
  std::atomic<std::uint64_t> next_id{1};

  std::vector<std::unique_ptr<lslot>> ls;
  std::vector<std::unique_ptr<cslot>> cs;

  std::atomic<bool> stopping{false};
  std::atomic<bool> clients_stop{false};
  std::atomic<bool> watchdog_stop{false};
  std::atomic<int> workers_done{0};
  std::atomic<int> in_plan{0};

  // statistics
  std::atomic<std::uint64_t> ops{0}, peeks{0}, async_returns{0}, first_callbacks{0}, all_callbacks{0};
  std::atomic<std::uint64_t> cb_short{0}, cb_long{0}, callback_threads{0};
  std::atomic<std::uint64_t> accepted{0}, aborted{0}, refused{0}, faulted{0}, connects{0};
  std::atomic<std::uint64_t> frees_worker{0}, frees_short{0}, frees_long{0}, blocks_long{0}, holds_short{0};
  std::atomic<std::uint64_t> rearms{0}, cycles{0}, sync_accepts{0}, late_after_callback_free{0};

  // failures
  std::mutex fail_mu;
  std::vector<std::string> failure_texts;
  std::map<std::string, long> failure_counts;
  std::atomic<long> failures{0};

  bool on(unsigned f) const { return (cfg.features & f) != 0; }
  std::string repro() const;
  void fail(const char* category, const op_record* r, const std::string& what);
  std::string dump_history(lslot* l, cslot* c, const op_record* r = nullptr);
  std::string describe(const op_record& r) const;
  std::string still_due(const incarnation* inc);

  op_record& newrec(op_kind k, int origin, const op_record* parent, lslot* l, cslot* c);
  incarnation* new_incarnation();
  template <typename F>
  HRESULT call(op_record& r, F&& fn);
  void callback(op_record& r, HRESULT hr, WS_CALLBACK_MODEL model);
  static void CALLBACK on_callback(HRESULT hr, WS_CALLBACK_MODEL model, void* state) {
    auto* r = static_cast<op_record*>(state);
    r->h->callback(*r, hr, model);
  }
  void check_result(op_record& r, HRESULT hr, bool in_callback);

  // operations; the caller holds the slot locks the comment names
  HRESULT create_listener(lslot& L, std::uint64_t x, int origin, const op_record* parent);  // L exclusive
  HRESULT create_channel(lslot& L, cslot& C, std::uint64_t x, int origin, const op_record* parent);  // L shared, C excl.
  HRESULT open_listener(lslot& L, bool async, plan p, std::uint64_t x, int origin, const op_record* parent);
  HRESULT accept(lslot& L, cslot& C, bool async, plan p, std::uint64_t x, int origin, const op_record* parent);
  HRESULT close_listener(lslot& L, bool async, plan p, std::uint64_t x, int origin, const op_record* parent);
  HRESULT simple_listener(lslot& L, op_kind k, std::uint64_t x, int origin, const op_record* parent);
  HRESULT close_channel(cslot& C, bool async, plan p, std::uint64_t x, int origin, const op_record* parent);
  HRESULT simple_channel(cslot& C, op_kind k, std::uint64_t x, int origin, const op_record* parent);
  WS_LISTENER_STATE listener_state(lslot& L, int origin, const op_record* parent);
  // Untracked state reads for polling loops (they would flood the histories).
  WS_LISTENER_STATE peek(lslot& L);
  WS_CHANNEL_STATE peek(cslot& C);
  WS_CHANNEL_STATE channel_state(cslot& C, int origin, const op_record* parent);
  // Free and recreate, taking the locks themselves (try-locks when from a callback).
  bool free_listener_slot(lslot& L, std::uint64_t x, int origin, const op_record* parent, bool from_callback);
  bool free_channel_slot(cslot& C, std::uint64_t x, int origin, const op_record* parent, bool from_callback);

  plan pick_plan(std::uint64_t x, op_kind k) const;
  bool early(const incarnation* inc, bool closes_only, int origin) const;
  static bool calm(const lslot& L, std::uint64_t x) { return L.index == 0 && (x >> 56) % 50 != 0; }
  void run_plan(op_record& r, HRESULT hr, WS_CALLBACK_MODEL model);
  void rearm(op_record& r, HRESULT hr, std::uint64_t x);
  void block(bool is_short, std::uint64_t x);

  void worker(int w);
  void worker_step(int w, std::mt19937& rng);
  void client(int index);
  void watchdog();
  bool setup();
  void teardown();
  void final_checks();
  std::string stats() const;
  void emergency_exit(const char* why);
};

std::string harness::repro() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "reproduce: OPENWWS_TORTURE_SEED=0x%" PRIX64
                " OPENWWS_STRESS_SCALE=%g%s%s%s --backend=%s%s -ts=torture",
                cfg.seed, stress_scale(), cfg.skipped.empty() ? "" : " OPENWWS_TORTURE_SKIP=",
                cfg.skipped.c_str(), env("OPENWWS_TORTURE_SECONDS") ? " OPENWWS_TORTURE_SECONDS=..." : "",
                backend_under_test().empty() ? "(default)" : backend_under_test().c_str(),
                embedded_host() ? " --embedded=uv" : "");
  return buf;
}

std::string harness::describe(const op_record& r) const {
  std::string s = "#" + std::to_string(r.id) + " ";
  s += r.origin >= 0 ? "w" + std::to_string(r.origin) : r.origin == -1 ? "cb(#" + std::to_string(r.parent) + ")" : "main";
  s += " ";
  s += op_name(r.kind);
  s += "(";
  if (r.ls) s += "L" + std::to_string(r.ls->index) + "#" + std::to_string(r.lgen);
  if (r.cs) s += std::string(r.ls ? ", " : "") + "C" + std::to_string(r.cs->l->index) + "." +
                 std::to_string(r.cs->index) + "#" + std::to_string(r.cgen);
  s += ")";
  if (r.async) s += std::string(" async plan=") + plan_name(r.pl);
  if (r.kind == op_kind::free_listener || r.kind == op_kind::free_channel)
    s += r.variant == 0 ? " (direct)" : r.variant == 1 ? " (after abort+close)" : " (after close)";
  if (r.kind == op_kind::set_listener_model || r.kind == op_kind::set_channel_model)
    s += r.variant == WS_SHORT_CALLBACK ? " SHORT" : " LONG";
  return s;
}

// The last calls on the slots, and when r started long ago, the calls around its start.
std::string harness::dump_history(lslot* l, cslot* c, const op_record* r) {
  std::string out;
  auto line = [&](const event& e) {
    char t[32];
    std::snprintf(t, sizeof t, "    +%.3fms ", (e.t_us - t0) / 1000.0);
    out += t + describe(*e.op);
    if (e.what == 's') out += ": starts";
    if (e.what == 'r') out += ": returned " + hr_name(e.hr);
    if (e.what == 'c') out += ": callback " + hr_name(e.hr) + (e.model == WS_SHORT_CALLBACK ? " SHORT" : " LONG");
    out += "\n";
  };
  auto one = [&](history& h, const std::string& name, std::uint64_t at) {
    std::uint64_t n = h.size();
    std::uint64_t tail = n > 14 ? n - 14 : 0;
    out += "  last calls on " + name + ":\n";
    if (r && at + 10 < tail) {
      for (const event& e : h.range(at > 4 ? at - 4 : 0, at + 10)) line(e);
      out += "    ...\n";
    }
    for (const event& e : h.range(tail, n)) line(e);
  };
  if (l) one(l->hist, "listener slot L" + std::to_string(l->index), r ? r->lhist0 : 0);
  if (c) one(c->hist, "channel slot C" + std::to_string(c->l->index) + "." + std::to_string(c->index), r ? r->chist0 : 0);
  return out;
}

void harness::fail(const char* category, const op_record* r, const std::string& what) {
  if (r && const_cast<op_record*>(r)->reported.exchange(true)) return;  // one report per call
  failures++;
  std::string text;
  {
    std::lock_guard lock(fail_mu);
    long n = ++failure_counts[category];
    if (failure_texts.size() >= 12 || (n > 3 && !cfg.verbose)) return;
  }
  char head[96];
  std::snprintf(head, sizeof head, "torture [%s] at +%.3fms: ", category, (now_us() - t0) / 1000.0);
  text = head + what + "\n";
  if (r) text += "  call: " + describe(*r) + "\n" + dump_history(r->ls, r->cs, r);
  text += "  " + repro() + "\n";
  {
    std::lock_guard lock(fail_mu);
    if (failure_texts.size() < 12) failure_texts.push_back(text);
  }
  std::fprintf(stderr, "%s", text.c_str());
  std::fflush(stderr);
}

// The calls of an object that returned WS_S_ASYNC and have not been called back.
std::string harness::still_due(const incarnation* inc) {
  std::vector<const op_record*> due;
  {
    std::lock_guard lock(arena_mu);
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      const op_record& r = *it;
      if ((r.linc == inc || r.cinc == inc) && r.returned.load() && r.ret.load() == WS_S_ASYNC &&
          r.callbacks.load() == 0)
        due.push_back(&r);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < due.size(); ++i) {
    const op_record& r = *due[i];
    char t[48];
    std::snprintf(t, sizeof t, "  still due: +%.3fms ", (r.start_us - t0) / 1000.0);
    out += t + describe(r) + "\n";
    if (i >= 2) continue;
    // What happened on its objects around its start.
    auto around = [&](history& h, std::uint64_t at, const std::string& name) {
      out += "    around its start, on " + name + ":\n";
      for (const event& e : h.range(at > 6 ? at - 6 : 0, at + 12)) {
        std::snprintf(t, sizeof t, "      +%.3fms ", (e.t_us - t0) / 1000.0);
        out += t + describe(*e.op);
        if (e.what == 's') out += ": starts";
        if (e.what == 'r') out += ": returned " + hr_name(e.hr);
        if (e.what == 'c')
          out += ": callback " + hr_name(e.hr) + (e.model == WS_SHORT_CALLBACK ? " SHORT" : " LONG");
        out += "\n";
      }
    };
    if (r.ls) around(r.ls->hist, r.lhist0, "L" + std::to_string(r.ls->index));
    if (r.cs) around(r.cs->hist, r.chist0, "C" + std::to_string(r.cs->l->index) + "." + std::to_string(r.cs->index));
  }
  return out;
}

incarnation* harness::new_incarnation() {
  std::lock_guard lock(arena_mu);
  return &incarnations.emplace_back();
}

op_record& harness::newrec(op_kind k, int origin, const op_record* parent, lslot* l, cslot* c) {
  op_record* r;
  {
    std::lock_guard lock(arena_mu);
    r = &records.emplace_back();
  }
  r->h = this;
  r->id = next_id++;
  r->kind = k;
  r->origin = origin;
  if (parent) {
    r->parent = parent->id;
    r->depth = parent->depth + 1;
  }
  if (l) {
    r->ls = l;
    r->lgen = l->gen;
    r->linc = l->inc;
  }
  if (c) {
    r->cs = c;
    r->cgen = c->gen;
    r->cinc = c->inc;
  }
  return *r;
}

// Every call goes through here: counters for the abort check, the watchdog's stack,
// the objects' histories, and the checks on what it returned.
template <typename F>
HRESULT harness::call(op_record& r, F&& fn) {
  lslot* L = r.ls;
  cslot* C = r.cs;
  if (L) {
    r.lstop0 = L->stop_ended.load();
    r.labort0 = L->abort_ended.load();
  }
  if (C) r.cabort0 = C->abort_ended.load();
  bool stops_l = r.kind == op_kind::abort_listener || r.kind == op_kind::close_listener ||
                 r.kind == op_kind::free_listener;
  bool aborts_l = r.kind == op_kind::abort_listener || r.kind == op_kind::free_listener;
  bool aborts_c = r.kind == op_kind::abort_channel || r.kind == op_kind::free_channel;
  if (L && stops_l) L->stop_begun++;
  if (L && aborts_l) L->abort_begun++;
  if (C && aborts_c) C->abort_begun++;
  bool reports = r.kind == op_kind::accept || r.kind == op_kind::open_listener ||
                 r.kind == op_kind::close_listener || r.kind == op_kind::close_channel;
  bool closes = r.kind == op_kind::close_listener;
  if (reports) {
    if (r.linc) r.linc->due++;
    if (r.cinc) r.cinc->due++;
    if (closes) r.linc->due_close++;
  }
  r.caller = std::this_thread::get_id();
  r.start_us = now_us();
  event e{r.start_us, &r, 's', 0, -1};
  if (L) r.lhist0 = L->hist.add(e);
  if (C) r.chist0 = C->hist.add(e);
  call_stack* st = t_calls.get();
  int d = st ? st->depth.load(std::memory_order_relaxed) : 0;
  if (st && d < static_cast<int>(st->ops.size())) {
    st->ops[d].store(&r, std::memory_order_release);
    st->depth.store(d + 1, std::memory_order_release);
  }
  HRESULT hr = fn();
  if (st && d < static_cast<int>(st->ops.size())) st->depth.store(d, std::memory_order_release);
  if (L && stops_l) L->stop_ended++;
  if (L && aborts_l) L->abort_ended++;
  if (C && aborts_c) C->abort_ended++;
  r.ret.store(hr);
  r.end_us.store(now_us());
  r.returned.store(true);
  e = event{r.end_us.load(), &r, 'r', hr, -1};
  if (L) L->hist.add(e);
  if (C) C->hist.add(e);
  ops++;
  if (reports && hr != WS_S_ASYNC) {
    if (r.linc) r.linc->due--;
    if (r.cinc) r.cinc->due--;
    if (closes) r.linc->due_close--;
  }
  if (hr == WS_S_ASYNC) async_returns++;
  check_result(r, hr, false);
  if (hr != WS_S_ASYNC && r.callbacks.load() > 0)
    fail("callback_for_non_async", &r, "the call returned " + hr_name(hr) + " but its callback was called");
  return hr;
}

// The documented results (../shared/spec/wwsapi.md sections 3, 4, 7, 9), and whether
// an abort was possible when one is reported.
void harness::check_result(op_record& r, HRESULT hr, bool in_callback) {
  const char* where = in_callback ? "callback" : "returned";
  auto undocumented = [&] {
    fail("undocumented_hresult", &r, std::string(op_name(r.kind)) + " " + where + " " + hr_name(hr));
  };
  if (!in_callback && hr == WS_S_ASYNC && !r.async) {
    fail("async_without_context", &r, "a synchronous call returned WS_S_ASYNC");
    return;
  }
  if (!in_callback && hr == WS_S_ASYNC) return;
  bool ok = false;
  bool inv = !in_callback && hr == WS_E_INVALID_OPERATION;
  switch (r.kind) {
    case op_kind::open_listener:
      ok = hr == S_OK || inv || hr == WS_E_OPERATION_ABORTED || hr == WS_E_ADDRESS_IN_USE;
      break;
    case op_kind::accept:
      ok = hr == S_OK || inv || hr == WS_E_OPERATION_ABORTED || hr == WS_E_OBJECT_FAULTED ||
           hr == WS_E_ENDPOINT_DISCONNECTED;
      break;
    case op_kind::close_listener:
      ok = hr == S_OK || inv || hr == WS_E_OPERATION_ABORTED;
      break;
    case op_kind::close_channel:
      ok = hr == S_OK || inv || hr == WS_E_OPERATION_ABORTED || hr == WS_E_ENDPOINT_DISCONNECTED;
      break;
    case op_kind::reset_listener:
    case op_kind::reset_channel:
      ok = hr == S_OK || inv;
      break;
    default:
      ok = hr == S_OK;
      break;
  }
  if (!ok) return undocumented();
  if (r.kind == op_kind::accept) {
    if (hr == S_OK) accepted++;
    if (hr == WS_E_OPERATION_ABORTED) aborted++;
    if (hr == WS_E_INVALID_OPERATION) refused++;
    if (hr == WS_E_OBJECT_FAULTED) faulted++;
  }
  if (hr == WS_E_OPERATION_ABORTED) {
    // Only a call begun before this one ended (or after it started) can have aborted it.
    bool provoked = false;
    if (r.kind == op_kind::accept)
      provoked = r.ls->stop_begun.load() > r.lstop0 || r.cs->abort_begun.load() > r.cabort0;
    else if (r.ls)
      provoked = r.ls->abort_begun.load() > r.labort0;
    else if (r.cs)
      provoked = r.cs->abort_begun.load() > r.cabort0;
    if (!provoked)
      fail("unprovoked_abort", &r,
           std::string(op_name(r.kind)) + " " + where +
               " WS_E_OPERATION_ABORTED, but no abort, close or free of its objects ran since it started");
  }
  if (hr == WS_E_ADDRESS_IN_USE) {
    // Each slot has a port no other listener uses; a listener freed from inside a
    // callback may legitimately hold it a little longer.
    std::int64_t f = r.ls->freed_in_callback_us.load();
    if (!(f && now_us() - f < 500000))
      fail("address_in_use", &r,
           "WsOpenListener on port " + std::to_string(r.ls->port) +
               " gave WS_E_ADDRESS_IN_USE, and no other listener of this process holds that port");
  }
}

void harness::callback(op_record& r, HRESULT hr, WS_CALLBACK_MODEL model) {
  // First of all, whether a free of the objects had already returned: the free checks
  // `due` right after it returns, and this callback has begun once `due` went down.
  bool lfreed = r.linc && r.linc->freed.load();
  bool cfreed = r.cinc && r.cinc->freed.load();
  int n = r.callbacks.fetch_add(1) + 1;
  all_callbacks++;
  if (n == 1) {
    r.cb_hr.store(hr);
    r.cb_model.store(model);
    if (r.linc) r.linc->due--;
    if (r.cinc) r.cinc->due--;
    if (r.kind == op_kind::close_listener) r.linc->due_close--;
    first_callbacks++;
  }
  if (t_seen_run != run_id) {
    t_seen_run = run_id;
    callback_threads++;
  }
  (model == WS_SHORT_CALLBACK ? cb_short : cb_long)++;
  event e{now_us(), &r, 'c', hr, model};
  if (r.ls) r.ls->hist.add(e);
  if (r.cs) r.cs->hist.add(e);
  if (n > 1) {
    r.reported.store(false);  // a second report on this call is worth having
    fail("called_back_twice", &r, "callback number " + std::to_string(n) + ", with " + hr_name(hr));
    return;
  }
  bool returned = r.returned.load();
  if (returned && r.ret.load() != WS_S_ASYNC)
    fail("callback_for_non_async", &r, "called back (" + hr_name(hr) + ") though the call returned " +
                                           hr_name(r.ret.load()));
  if (!returned && r.caller == std::this_thread::get_id())
    fail("callback_on_caller_thread", &r, "called back on the calling thread before the call returned");
  if (model != WS_SHORT_CALLBACK && model != WS_LONG_CALLBACK)
    fail("bad_callback_model", &r, "callback model " + std::to_string(model));
  // On a host's loop (the embedded suite) every callback runs on the host's thread,
  // SHORT whatever the object's model; a LONG plan then blocks nothing, and a
  // synchronous call it makes is refused unless it completes at once.
  if (embedded_host() && (model != WS_SHORT_CALLBACK || std::this_thread::get_id() != host_thread_id()))
    fail("off_host", &r, std::string("called back ") + (model == WS_SHORT_CALLBACK ? "SHORT" : "LONG") +
                             (std::this_thread::get_id() == host_thread_id() ? " on" : " off") +
                             " the host's thread");
  for (incarnation* inc : {lfreed ? r.linc : nullptr, cfreed ? r.cinc : nullptr}) {
    if (!inc) continue;
    if (inc->freed_in_callback.load())
      late_after_callback_free++;
    else
      fail("callback_after_free", &r, "called back (" + hr_name(hr) + ") after the free of its object returned");
  }
  check_result(r, hr, true);
  // The teardown waits for plans under way (in_plan) once it has set stopping.
  in_plan++;
  if (!stopping.load()) run_plan(r, hr, model);
  in_plan--;
}

// ---- operations ---------------------------------------------------------------------

HRESULT harness::create_listener(lslot& L, std::uint64_t x, int origin, const op_record* parent) {
  L.gen++;
  L.inc = new_incarnation();
  op_record& r = newrec(op_kind::create_listener, origin, parent, &L, nullptr);
  WS_CALLBACK_MODEL model = (x & 1) ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
  WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model};
  WS_LISTENER* l = nullptr;
  HRESULT hr = call(r, [&] {
    return WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, (x & 2) ? &prop : nullptr,
                            (x & 2) ? 1 : 0, nullptr, &l, nullptr);
  });
  L.h = SUCCEEDED(hr) ? l : nullptr;
  return hr;
}

HRESULT harness::create_channel(lslot& L, cslot& C, std::uint64_t x, int origin, const op_record* parent) {
  C.gen++;
  C.inc = new_incarnation();
  C.owner_gen = L.gen;
  op_record& r = newrec(op_kind::create_channel, origin, parent, &L, &C);
  WS_CALLBACK_MODEL model = (x & 1) ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
  WS_CHANNEL_PROPERTY prop{WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model};
  WS_CHANNEL* c = nullptr;
  HRESULT hr = call(r, [&] { return WsCreateChannelForListener(L.h, (x & 2) ? &prop : nullptr, (x & 2) ? 1 : 0, &c, nullptr); });
  C.h = SUCCEEDED(hr) ? c : nullptr;
  return hr;
}

// With rearm_before_callback skipped: whether an earlier call's callback on the object
// has yet to begin (then the call is left out, and S_FALSE returned for it).
bool harness::early(const incarnation* inc, bool closes_only, int origin) const {
  if (on(f_rearm_before_callback) || origin == -2 || !inc) return false;
  return (closes_only ? inc->due_close.load() : inc->due.load()) > 0;
}

HRESULT harness::open_listener(lslot& L, bool async, plan p, std::uint64_t x, int origin, const op_record* parent) {
  if (early(L.inc, true, origin)) return S_FALSE;
  op_record& r = newrec(op_kind::open_listener, origin, parent, &L, nullptr);
  r.async = async;
  r.pl = p;
  r.rand = x;
  WS_ASYNC_CONTEXT ctx{on_callback, &r};
  return call(r, [&] { return WsOpenListener(L.h, &L.url, async ? &ctx : nullptr, nullptr); });
}

HRESULT harness::accept(lslot& L, cslot& C, bool async, plan p, std::uint64_t x, int origin, const op_record* parent) {
  if (early(C.inc, false, origin)) return S_FALSE;
  op_record& r = newrec(op_kind::accept, origin, parent, &L, &C);
  r.async = async;
  r.pl = p;
  r.rand = x;
  if (!async) sync_accepts++;
  WS_ASYNC_CONTEXT ctx{on_callback, &r};
  return call(r, [&] { return WsAcceptChannel(L.h, C.h, async ? &ctx : nullptr, nullptr); });
}

HRESULT harness::close_listener(lslot& L, bool async, plan p, std::uint64_t x, int origin, const op_record* parent) {
  if (early(L.inc, true, origin)) return S_FALSE;
  op_record& r = newrec(op_kind::close_listener, origin, parent, &L, nullptr);
  r.async = async;
  r.pl = p;
  r.rand = x;
  WS_ASYNC_CONTEXT ctx{on_callback, &r};
  return call(r, [&] { return WsCloseListener(L.h, async ? &ctx : nullptr, nullptr); });
}

HRESULT harness::simple_listener(lslot& L, op_kind k, std::uint64_t x, int origin, const op_record* parent) {
  if (k == op_kind::reset_listener && early(L.inc, true, origin)) return S_FALSE;
  op_record& r = newrec(k, origin, parent, &L, nullptr);
  WS_CALLBACK_MODEL model = (x & 1) ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
  r.variant = model;
  return call(r, [&]() -> HRESULT {
    switch (k) {
      case op_kind::abort_listener: return WsAbortListener(L.h, nullptr);
      case op_kind::reset_listener: return WsResetListener(L.h, nullptr);
      case op_kind::set_listener_model:
        return WsSetListenerProperty(L.h, WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model, nullptr);
      default: return E_UNEXPECTED;
    }
  });
}

HRESULT harness::close_channel(cslot& C, bool async, plan p, std::uint64_t x, int origin, const op_record* parent) {
  op_record& r = newrec(op_kind::close_channel, origin, parent, nullptr, &C);
  r.async = async;
  r.pl = p;
  r.rand = x;
  WS_ASYNC_CONTEXT ctx{on_callback, &r};
  return call(r, [&] { return WsCloseChannel(C.h, async ? &ctx : nullptr, nullptr); });
}

HRESULT harness::simple_channel(cslot& C, op_kind k, std::uint64_t x, int origin, const op_record* parent) {
  op_record& r = newrec(k, origin, parent, nullptr, &C);
  WS_CALLBACK_MODEL model = (x & 1) ? WS_SHORT_CALLBACK : WS_LONG_CALLBACK;
  r.variant = model;
  return call(r, [&]() -> HRESULT {
    switch (k) {
      case op_kind::abort_channel: return WsAbortChannel(C.h, nullptr);
      case op_kind::reset_channel: return WsResetChannel(C.h, nullptr);
      case op_kind::set_channel_model:
        return WsSetChannelProperty(C.h, WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL, &model, sizeof model, nullptr);
      default: return E_UNEXPECTED;
    }
  });
}

WS_LISTENER_STATE harness::listener_state(lslot& L, int origin, const op_record* parent) {
  op_record& r = newrec(op_kind::get_listener_state, origin, parent, &L, nullptr);
  WS_LISTENER_STATE s = static_cast<WS_LISTENER_STATE>(-1);
  call(r, [&] { return WsGetListenerProperty(L.h, WS_LISTENER_PROPERTY_STATE, &s, sizeof s, nullptr); });
  r.variant = s;
  if (s < WS_LISTENER_STATE_CREATED || s > WS_LISTENER_STATE_CLOSED)
    fail("bad_state", &r, "listener state " + std::to_string(s));
  return s;
}

WS_CHANNEL_STATE harness::channel_state(cslot& C, int origin, const op_record* parent) {
  op_record& r = newrec(op_kind::get_channel_state, origin, parent, nullptr, &C);
  WS_CHANNEL_STATE s = static_cast<WS_CHANNEL_STATE>(-1);
  call(r, [&] { return WsGetChannelProperty(C.h, WS_CHANNEL_PROPERTY_STATE, &s, sizeof s, nullptr); });
  r.variant = s;
  if (s < WS_CHANNEL_STATE_CREATED || s > WS_CHANNEL_STATE_CLOSED)
    fail("bad_state", &r, "channel state " + std::to_string(s));
  return s;
}

WS_LISTENER_STATE harness::peek(lslot& L) {
  WS_LISTENER_STATE s = static_cast<WS_LISTENER_STATE>(-1);
  HRESULT hr = WsGetListenerProperty(L.h, WS_LISTENER_PROPERTY_STATE, &s, sizeof s, nullptr);
  peeks++;
  if (hr != S_OK || s < WS_LISTENER_STATE_CREATED || s > WS_LISTENER_STATE_CLOSED) return listener_state(L, -2, nullptr);
  return s;
}

WS_CHANNEL_STATE harness::peek(cslot& C) {
  WS_CHANNEL_STATE s = static_cast<WS_CHANNEL_STATE>(-1);
  HRESULT hr = WsGetChannelProperty(C.h, WS_CHANNEL_PROPERTY_STATE, &s, sizeof s, nullptr);
  peeks++;
  if (hr != S_OK || s < WS_CHANNEL_STATE_CREATED || s > WS_CHANNEL_STATE_CLOSED) return channel_state(C, -2, nullptr);
  return s;
}

bool take_shared(std::shared_lock<std::shared_mutex>& lk, bool try_only) {
  if (try_only) return lk.try_lock();
  lk.lock();
  return true;
}

bool take_unique(std::unique_lock<std::shared_mutex>& lk, bool try_only) {
  if (try_only) return lk.try_lock();
  lk.lock();
  return true;
}

bool harness::free_listener_slot(lslot& L, std::uint64_t x, int origin, const op_record* parent,
                                 bool from_callback) {
  std::unique_lock lk(L.mu, std::defer_lock);
  if (!take_unique(lk, from_callback)) return false;
  if (stopping.load() && from_callback) return false;
  if (parent && parent->ls == &L && L.gen != parent->lgen) return false;  // already another listener
  if (early(L.inc, true, origin)) return false;  // pending accepts are fine: the free aborts them
  if (L.h) {
    int variant = static_cast<int>(mix(x) % 3);
    if (variant == 0 && !on(f_free_open)) variant = 2;
    if (variant == 1) simple_listener(L, op_kind::abort_listener, x, origin, parent);
    HRESULT closed = S_FALSE;
    if (variant != 0) closed = close_listener(L, false, plan::none, x, origin, parent);
    if (closed == S_OK) {
      // Nobody else can touch this listener now: a close that succeeded left it CLOSED.
      WS_LISTENER_STATE s = listener_state(L, origin, parent);
      if (s != WS_LISTENER_STATE_CLOSED) {
        fail("state_after_close", nullptr,
             "listener slot L" + std::to_string(L.index) + " is " + std::to_string(s) +
                 " right after a synchronous WsCloseListener returned S_OK, with no other call on it\n" +
                 dump_history(&L, nullptr));
      }
    }
    op_record& r = newrec(op_kind::free_listener, origin, parent, &L, nullptr);
    r.variant = variant;
    call(r, [&] {
      WsFreeListener(L.h);
      return S_OK;
    });
    incarnation* inc = L.inc;
    inc->freed_in_callback.store(from_callback);
    inc->freed.store(true);
    if (from_callback) L.freed_in_callback_us.store(now_us());
    int due = inc->due.load();
    if (due > 0 && !from_callback)
      fail("free_returned_with_callbacks_due", &r,
           "WsFreeListener returned while " + std::to_string(due) + " callback(s) of its calls had not run\n" +
               still_due(inc));
    L.h = nullptr;
  }
  create_listener(L, mix(x), origin, parent);
  return true;
}

bool harness::free_channel_slot(cslot& C, std::uint64_t x, int origin, const op_record* parent,
                                bool from_callback) {
  lslot& L = *C.l;
  std::shared_lock llk(L.mu, std::defer_lock);
  if (!take_shared(llk, from_callback)) return false;
  std::unique_lock lk(C.mu, std::defer_lock);
  if (!take_unique(lk, from_callback)) return false;
  if (stopping.load() && from_callback) return false;
  if (parent && parent->cs == &C && C.gen != parent->cgen) return false;
  if (early(C.inc, false, origin)) return false;
  if (C.h) {
    int variant = static_cast<int>(mix(x) % 3);
    if (variant == 0 && !on(f_free_open)) variant = 1;
    if (variant == 1) simple_channel(C, op_kind::abort_channel, x, origin, parent);
    HRESULT closed = S_FALSE;
    if (variant != 0) closed = close_channel(C, false, plan::none, x, origin, parent);
    if (closed == S_OK && variant == 1) {
      WS_CHANNEL_STATE s = channel_state(C, origin, parent);
      if (s != WS_CHANNEL_STATE_CLOSED)
        fail("state_after_close", nullptr,
             "channel slot C" + std::to_string(L.index) + "." + std::to_string(C.index) + " is " +
                 std::to_string(s) + " right after WsAbortChannel and WsCloseChannel returned S_OK\n" +
                 dump_history(&L, &C));
    }
    op_record& r = newrec(op_kind::free_channel, origin, parent, nullptr, &C);
    r.variant = variant;
    call(r, [&] {
      WsFreeChannel(C.h);
      return S_OK;
    });
    incarnation* inc = C.inc;
    inc->freed_in_callback.store(from_callback);
    inc->freed.store(true);
    int due = inc->due.load();
    if (due > 0 && !from_callback)
      fail("free_returned_with_callbacks_due", &r,
           "WsFreeChannel returned while " + std::to_string(due) + " callback(s) of its calls had not run\n" +
               still_due(inc));
    C.h = nullptr;
  }
  if (L.h) create_channel(L, C, mix(x), origin, parent);
  return true;
}

plan harness::pick_plan(std::uint64_t x, op_kind k) const {
  struct w {
    plan p;
    unsigned weight;
    bool on;
  };
  bool frees = on(f_free_in_short) || on(f_free_in_long);
  const w table[] = {
      {plan::none, 30, true},
      {plan::rearm, 25, on(f_rearm)},
      {plan::block, 10, on(f_block) || on(f_hold_short)},
      {plan::block_rearm, 10, on(f_rearm) && (on(f_block) || on(f_hold_short))},
      {plan::free_channel, 8, frees && on(f_free_channel) && k != op_kind::open_listener},
      {plan::free_listener, 4, frees && on(f_free_listener)},
      {plan::sync_close, 5, on(f_sync_close_in_callback) && k != op_kind::close_channel},
  };
  unsigned total = 0;
  for (const auto& e : table) total += e.on ? e.weight : 0;
  unsigned pick = static_cast<unsigned>(x % total);
  for (const auto& e : table) {
    if (!e.on) continue;
    if (pick < e.weight) return e.p;
    pick -= e.weight;
  }
  return plan::none;
}

void harness::block(bool is_short, std::uint64_t x) {
  if (!is_short && on(f_block)) {
    // Past the runtime's 2 ms takeover delay: another thread must take the loop over.
    blocks_long++;
    std::this_thread::sleep_for(std::chrono::microseconds(3000 + mix(x) % 2000));
  } else if (is_short && on(f_hold_short)) {
    // Hold the I/O thread a little: callbacks queue up behind this one.
    holds_short++;
    auto until = steady::now() + std::chrono::microseconds(50 + mix(x) % 250);
    while (steady::now() < until) std::this_thread::yield();
  }
}

void harness::run_plan(op_record& r, HRESULT hr, WS_CALLBACK_MODEL model) {
  if (r.depth >= 24) return;
  std::uint64_t x = r.rand ^ 0xC0FFEEull;
  bool is_short = model == WS_SHORT_CALLBACK;
  switch (r.pl) {
    case plan::none:
      return;
    case plan::block:
      block(is_short, x);
      return;
    case plan::block_rearm:
      block(is_short, x);
      rearm(r, hr, x);
      return;
    case plan::rearm:
      rearm(r, hr, x);
      return;
    case plan::free_channel: {
      if (!on(is_short ? f_free_in_short : f_free_in_long)) return;
      cslot* C = r.cs;
      if (!C && r.ls) C = r.ls->channels[mix(x) % r.ls->channels.size()];
      if (C && calm(*C->l, x)) return;
      if (C && free_channel_slot(*C, mix(x), -1, &r, true)) (is_short ? frees_short : frees_long)++;
      return;
    }
    case plan::free_listener: {
      if (!on(is_short ? f_free_in_short : f_free_in_long)) return;
      lslot* L = r.ls ? r.ls : r.cs->l;
      if (calm(*L, x)) return;
      if (free_listener_slot(*L, mix(x), -1, &r, true)) (is_short ? frees_short : frees_long)++;
      return;
    }
    case plan::sync_close: {
      lslot* L = r.ls ? r.ls : r.cs->l;
      if (calm(*L, x)) return;
      std::shared_lock lk(L->mu, std::try_to_lock);
      if (!lk.owns_lock() || !L->h || (r.ls && L->gen != r.lgen)) return;
      close_listener(*L, false, plan::none, x, -1, &r);
      return;
    }
  }
}

// Start the next operation on the same objects from inside the callback.
void harness::rearm(op_record& r, HRESULT hr, std::uint64_t x) {
  if (!on(f_rearm)) return;
  rearms++;
  lslot* L = r.ls ? r.ls : r.cs->l;
  std::shared_lock llk(L->mu, std::try_to_lock);
  if (!llk.owns_lock() || !L->h || (r.ls && L->gen != r.lgen)) return;
  std::uint64_t y = mix(x);
  plan next = pick_plan(mix(x), op_kind::accept);
  cslot* C = r.cs ? r.cs : L->channels[y % L->channels.size()];
  if (r.kind == op_kind::close_listener || r.kind == op_kind::open_listener) {
    // The listener just closed (or opened): reset, reopen, and go on at once.
    if (r.kind == op_kind::close_listener) {
      simple_listener(*L, op_kind::reset_listener, y, -1, &r);
      open_listener(*L, false, plan::none, y, -1, &r);
    }
    if ((y >> 8) % 3 == 0) {
      close_listener(*L, true, pick_plan(mix(x), op_kind::close_listener), mix(x), -1, &r);
      return;
    }
  }
  std::shared_lock clk(C->mu, std::try_to_lock);
  if (!clk.owns_lock() || !C->h || C->owner_gen != L->gen || (r.cs && C->gen != r.cgen)) return;
  if (r.kind == op_kind::accept || r.kind == op_kind::close_channel) {
    if (hr == S_OK) close_channel(*C, false, plan::none, y, -1, &r);
    simple_channel(*C, op_kind::reset_channel, y, -1, &r);
  }
  accept(*L, *C, true, next, mix(x), -1, &r);
}

// ---- threads ------------------------------------------------------------------------

void harness::worker(int w) {
  std::seed_seq seq{static_cast<std::uint32_t>(cfg.seed), static_cast<std::uint32_t>(cfg.seed >> 32),
                    static_cast<std::uint32_t>(w)};
  std::mt19937 rng(seq);
  auto deadline = steady::now() + std::chrono::microseconds(static_cast<std::int64_t>(cfg.seconds * 1e6));
  for (long i = 0; !stopping.load(); ++i) {
    if (cfg.ops_per_worker && i >= cfg.ops_per_worker) break;
    if ((i & 15) == 0 && steady::now() > deadline) break;
    worker_step(w, rng);
  }
  workers_done++;
}

enum class wop {
  accept_async,
  accept_sync,
  open,
  open_async,
  close_l,
  close_l_async,
  abort_l,
  reset_l,
  cycle_l,
  cycle_c,
  close_c,
  abort_c,
  reset_c,
  free_c,
  free_l,
  model_l,
  model_c,
  state,
  pause,
};

void harness::worker_step(int w, std::mt19937& rng) {
  auto r64 = [&] { return (static_cast<std::uint64_t>(rng()) << 32) | rng(); };
  lslot& L = *ls[rng() % ls.size()];
  cslot& C = *L.channels[rng() % L.channels.size()];
  struct entry {
    wop op;
    unsigned weight;
    bool on;
  };
  const entry table[] = {
      {wop::accept_async, 24, true},
      {wop::accept_sync, 2, on(f_sync_accept)},
      {wop::open, 10, true},
      {wop::open_async, 3, true},
      {wop::close_l, 3, true},
      {wop::close_l_async, 4, true},
      {wop::abort_l, 2, true},
      {wop::reset_l, 4, true},
      {wop::cycle_l, 4, on(f_cycle)},
      {wop::cycle_c, 4, on(f_cycle)},
      {wop::close_c, 6, true},
      {wop::abort_c, 4, true},
      {wop::reset_c, 6, true},
      {wop::free_c, 2, on(f_free_channel)},
      {wop::free_l, 1, on(f_free_listener)},
      {wop::model_l, 2, on(f_listener_model)},
      {wop::model_c, 2, on(f_channel_model)},
      {wop::state, 3, true},
      {wop::pause, 1, true},
  };
  unsigned total = 0;
  for (const auto& e : table) total += e.on ? e.weight : 0;
  unsigned pick = rng() % total;
  wop op = wop::pause;
  for (const auto& e : table) {
    if (!e.on) continue;
    if (pick < e.weight) {
      op = e.op;
      break;
    }
    pick -= e.weight;
  }
  std::uint64_t x = r64();
  // Listener slot 0 and its channels are closed, aborted and freed fifty times less
  // often, and get few clients, so that its
  // accepts stay pending long enough to meet thread exits and takeovers with nothing
  // that could abort them.
  bool disruptive = op == wop::close_l || op == wop::close_l_async || op == wop::abort_l || op == wop::cycle_l ||
                    op == wop::free_l || op == wop::abort_c || op == wop::cycle_c || op == wop::free_c;
  if (disruptive && calm(L, x)) op = wop::accept_async;

  switch (op) {
    case wop::free_l:
      if (free_listener_slot(L, x, w, nullptr, false)) frees_worker++;
      return;
    case wop::free_c:
      if (free_channel_slot(C, x, w, nullptr, false)) frees_worker++;
      return;
    case wop::close_c:
    case wop::abort_c:
    case wop::reset_c:
    case wop::model_c: {
      std::shared_lock clk(C.mu);
      if (!C.h) return;
      if (op == wop::close_c) close_channel(C, x & 1, pick_plan(x >> 1, op_kind::close_channel), x, w, nullptr);
      if (op == wop::abort_c) simple_channel(C, op_kind::abort_channel, x, w, nullptr);
      if (op == wop::reset_c) simple_channel(C, op_kind::reset_channel, x, w, nullptr);
      if (op == wop::model_c) simple_channel(C, op_kind::set_channel_model, x, w, nullptr);
      return;
    }
    case wop::pause:
      std::this_thread::sleep_for(std::chrono::microseconds(x % 300));
      return;
    default:
      break;
  }

  std::shared_lock llk(L.mu);
  if (!L.h) return;
  switch (op) {
    case wop::open:
    case wop::open_async:
      // Bring a closed or faulted listener back first, most of the time.
      if ((x & 3) != 0) {
        WS_LISTENER_STATE st = peek(L);
        if (st == WS_LISTENER_STATE_FAULTED) close_listener(L, false, plan::none, x, w, nullptr);
        if (st == WS_LISTENER_STATE_FAULTED || st == WS_LISTENER_STATE_CLOSED)
          simple_listener(L, op_kind::reset_listener, x, w, nullptr);
      }
      open_listener(L, op == wop::open_async, pick_plan(x, op_kind::open_listener), x >> 8, w, nullptr);
      return;
    case wop::close_l:
    case wop::close_l_async:
      close_listener(L, op == wop::close_l_async, pick_plan(x, op_kind::close_listener), x >> 8, w, nullptr);
      return;
    case wop::abort_l:
      simple_listener(L, op_kind::abort_listener, x, w, nullptr);
      return;
    case wop::reset_l:
      simple_listener(L, op_kind::reset_listener, x, w, nullptr);
      return;
    case wop::model_l:
      simple_listener(L, op_kind::set_listener_model, x, w, nullptr);
      return;
    case wop::state: {
      listener_state(L, w, nullptr);
      std::shared_lock clk(C.mu);
      if (C.h) channel_state(C, w, nullptr);
      return;
    }
    case wop::cycle_l: {
      // Close, and the moment the state says CLOSED (the close's callback may still be
      // on its way), reset, reopen and start the next operation.
      cycles++;
      HRESULT hr = close_listener(L, true, (x & 3) == 0 ? pick_plan(x >> 2, op_kind::close_listener) : plan::none,
                                  x >> 8, w, nullptr);
      if (hr == WS_S_ASYNC) {
        auto until = steady::now() + std::chrono::milliseconds(20);
        for (int spin = 0; peek(L) == WS_LISTENER_STATE_CLOSING && steady::now() < until; ++spin)
          spin < 20 ? std::this_thread::yield() : std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      simple_listener(L, op_kind::reset_listener, x, w, nullptr);
      open_listener(L, false, plan::none, x, w, nullptr);
      if ((x >> 4) & 1) {
        close_listener(L, true, pick_plan(x >> 12, op_kind::close_listener), x >> 16, w, nullptr);
        return;
      }
      std::shared_lock clk(C.mu);
      if (C.h && C.owner_gen == L.gen) accept(L, C, true, pick_plan(x >> 12, op_kind::accept), x >> 16, w, nullptr);
      return;
    }
    default:
      break;
  }

  // The rest need a channel of this listener.
  std::shared_lock clk(C.mu);
  if (!C.h) return;
  if (C.owner_gen != L.gen) {
    // Its listener was freed: recycle it (sometimes; other threads still use it meanwhile).
    clk.unlock();
    llk.unlock();
    if (on(f_free_channel) && (x & 1) && free_channel_slot(C, x, w, nullptr, false)) frees_worker++;
    return;
  }
  switch (op) {
    case wop::accept_async:
      // Make the listener and an accepted channel ready again first, most of the time.
      if ((x & 3) != 0) {
        WS_LISTENER_STATE lst = peek(L);
        if (lst == WS_LISTENER_STATE_CLOSED) simple_listener(L, op_kind::reset_listener, x, w, nullptr);
        if (lst == WS_LISTENER_STATE_CLOSED || lst == WS_LISTENER_STATE_CREATED)
          open_listener(L, false, plan::none, x, w, nullptr);
        WS_CHANNEL_STATE st = peek(C);
        if (st == WS_CHANNEL_STATE_OPEN || st == WS_CHANNEL_STATE_FAULTED)
          close_channel(C, false, plan::none, x, w, nullptr);
        if (st != WS_CHANNEL_STATE_CREATED && st != WS_CHANNEL_STATE_ACCEPTING)
          simple_channel(C, op_kind::reset_channel, x, w, nullptr);
      }
      accept(L, C, true, pick_plan(x, op_kind::accept), x >> 8, w, nullptr);
      return;
    case wop::accept_sync:
      // A client thread connects to every port all the time, and the watchdog connects
      // for an accept that has waited long, so this returns.
      accept(L, C, false, plan::none, x, w, nullptr);
      return;
    case wop::cycle_c: {
      // Accept, abort, and the moment the channel is CREATED again (the aborted accept's
      // callback may still be queued), accept into it again.
      cycles++;
      HRESULT hr = accept(L, C, true, (x & 3) == 0 ? pick_plan(x >> 2, op_kind::accept) : plan::none, x >> 8, w,
                          nullptr);
      if (hr == WS_S_ASYNC) {
        for (unsigned spin = (x >> 20) % 2000; spin; --spin) std::atomic_signal_fence(std::memory_order_seq_cst);
        simple_channel(C, op_kind::abort_channel, x, w, nullptr);
        auto until = steady::now() + std::chrono::milliseconds(20);
        for (int spin = 0; peek(C) == WS_CHANNEL_STATE_ACCEPTING && steady::now() < until; ++spin)
          spin < 20 ? std::this_thread::yield() : std::this_thread::sleep_for(std::chrono::microseconds(50));
      } else if (hr == S_OK) {
        close_channel(C, false, plan::none, x, w, nullptr);
        simple_channel(C, op_kind::reset_channel, x, w, nullptr);
      }
      accept(L, C, true, pick_plan(x >> 32, op_kind::accept), x >> 40, w, nullptr);
      return;
    }
    default:
      return;
  }
}

void harness::client(int index) {
  std::mt19937 rng(static_cast<std::uint32_t>(cfg.seed ^ (0xC11E47u + index)));
  while (!clients_stop.load()) {
    // Listener slot 0 gets few clients: its accepts stay pending (see calm()).
    std::size_t slot = rng() % 200 == 0 || ls.size() == 1 ? 0 : 1 + rng() % (ls.size() - 1);
    USHORT port = ls[slot]->port;
    int fd = connect_briefly(port, 20);
    if (fd >= 0) {
      connects++;
      if (rng() % 4 == 0) (void)!::send(fd, "x", 1, 0);
      close_rst(fd);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50 + rng() % 150));
  }
}

void harness::emergency_exit(const char* why) {
  std::string text = std::string("torture: ") + why + "; the process cannot go on.\n" + stats() + "\n";
  {
    std::lock_guard lock(fail_mu);
    for (const auto& [k, n] : failure_counts) text += "  failures [" + k + "]: " + std::to_string(n) + "\n";
  }
  text += "  " + repro() + "\n";
  std::fprintf(stderr, "%s", text.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(3);
}

void harness::watchdog() {
  while (!watchdog_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::int64_t now = now_us();
    std::int64_t worst = 0;
    for (auto& st : g_call_stacks) {
      if (!st.used.load()) continue;
      int depth = std::min<int>(st.depth.load(std::memory_order_acquire), static_cast<int>(st.ops.size()));
      for (int i = 0; i < depth; ++i) {
        op_record* r = st.ops[i].load(std::memory_order_acquire);
        if (!r || r->h != this || r->returned.load()) continue;
        std::int64_t age = now - r->start_us;
        worst = std::max(worst, age);
        if (age > cfg.hang_ms * 1000LL && !r->hang_reported.exchange(true)) {
          r->reported.store(false);
          fail("hang", r, "has not returned after " + std::to_string(age / 1000) + " ms");
        }
        // A synchronous accept waits for a client: make sure one comes.
        if (r->kind == op_kind::accept && !r->async && age > 300000 && now - r->rescued_us.load() > 300000) {
          r->rescued_us.store(now);
          int fd = connect_briefly(r->ls->port, 100);
          if (fd >= 0) close_rst(fd);
        }
      }
    }
    if (worst > cfg.hang_ms * 1000LL + 2000000) emergency_exit("a call is stuck");
  }
}

bool harness::setup() {
  std::random_device rd;
  for (int i = 0; i < cfg.listeners; ++i) {
    auto l = std::make_unique<lslot>();
    l->index = i;
    {
      std::unique_lock lk(l->mu);
      if (FAILED(create_listener(*l, 0, -2, nullptr))) return false;
      // A port outside the usual ephemeral ranges (Linux 32768-60999, BSD/macOS from
      // 49152), so that no client connection of this process takes it while the
      // listener is closed; the first that opens is the slot's for the whole run.
      HRESULT hr = E_FAIL;
      for (int attempt = 0; attempt < 40 && FAILED(hr); ++attempt) {
        l->port = static_cast<USHORT>(20000 + rd() % 12000);
        l->url_text = u16("net.tcp://127.0.0.1:" + std::to_string(l->port) + "/");
        l->url = ws(l->url_text);
        op_record& r = newrec(op_kind::open_listener, -2, nullptr, l.get(), nullptr);
        r.reported.store(true);  // a taken port here is someone else's
        hr = call(r, [&] { return WsOpenListener(l->h, &l->url, nullptr, nullptr); });
      }
      if (FAILED(hr)) return false;
    }
    ls.push_back(std::move(l));
  }
  for (auto& l : ls) {
    std::shared_lock llk(l->mu);
    for (int j = 0; j < cfg.channels_per_listener; ++j) {
      auto c = std::make_unique<cslot>();
      c->index = j;
      c->l = l.get();
      std::unique_lock clk(c->mu);
      if (FAILED(create_channel(*l, *c, static_cast<std::uint64_t>(j), -2, nullptr))) return false;
      l->channels.push_back(c.get());
      clk.unlock();
      cs.push_back(std::move(c));
    }
  }
  return true;
}

void harness::teardown() {
  for (auto& l : ls) {
    std::unique_lock llk(l->mu);
    if (l->h) {
      simple_listener(*l, op_kind::abort_listener, 0, -2, nullptr);
      close_listener(*l, false, plan::none, 0, -2, nullptr);
    }
    for (cslot* c : l->channels) {
      std::unique_lock clk(c->mu);
      if (!c->h) continue;
      simple_channel(*c, op_kind::abort_channel, 0, -2, nullptr);
      close_channel(*c, false, plan::none, 0, -2, nullptr);
      op_record& r = newrec(op_kind::free_channel, -2, nullptr, nullptr, c);
      r.variant = 1;
      call(r, [&] {
        WsFreeChannel(c->h);
        return S_OK;
      });
      c->inc->freed.store(true);
      if (int due = c->inc->due.load(); due > 0)
        fail("free_returned_with_callbacks_due", &r,
             "WsFreeChannel returned while " + std::to_string(due) + " callback(s) of its calls had not run\n" +
                 still_due(c->inc));
      c->h = nullptr;
    }
    if (l->h) {
      op_record& r = newrec(op_kind::free_listener, -2, nullptr, l.get(), nullptr);
      r.variant = 1;
      call(r, [&] {
        WsFreeListener(l->h);
        return S_OK;
      });
      l->inc->freed.store(true);
      if (int due = l->inc->due.load(); due > 0)
        fail("free_returned_with_callbacks_due", &r,
             "WsFreeListener returned while " + std::to_string(due) + " callback(s) of its calls had not run\n" +
                 still_due(l->inc));
      l->h = nullptr;
    }
  }
}

void harness::final_checks() {
  // Every WS_S_ASYNC call must have been called back by now; give stragglers a while.
  auto until = steady::now() + std::chrono::seconds(5);
  while (first_callbacks.load() < async_returns.load() && steady::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a second callback would show by now
  std::lock_guard lock(arena_mu);
  for (op_record& r : records) {
    if (!r.returned.load()) continue;  // the watchdog reported it
    HRESULT ret = r.ret.load();
    int n = r.callbacks.load();
    if (ret == WS_S_ASYNC && n == 0)
      fail("never_called_back", &r, "returned WS_S_ASYNC and was never called back");
    else if (ret != WS_S_ASYNC && n > 0)
      fail("callback_for_non_async", &r, "returned " + hr_name(ret) + " and was called back " + std::to_string(n) +
                                             " time(s)");
  }
}

std::string harness::stats() const {
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "%" PRIu64 " calls and %" PRIu64 " state polls (%" PRIu64 " WS_S_ASYNC, %" PRIu64 " callbacks: %" PRIu64 " short, %" PRIu64
                " long, on %" PRIu64 " threads); accepts: %" PRIu64 " ok, %" PRIu64 " aborted, %" PRIu64
                " refused (state), %" PRIu64 " faulted, %" PRIu64 " sync; frees: %" PRIu64 " by workers, %" PRIu64 " in SHORT, %" PRIu64
                " in LONG callbacks; %" PRIu64 " LONG callbacks blocked past the takeover delay, %" PRIu64
                " SHORT held the loop; %" PRIu64 " re-arms, %" PRIu64 " cycles; %" PRIu64 " client connections",
                ops.load(), peeks.load(), async_returns.load(), all_callbacks.load(), cb_short.load(), cb_long.load(),
                callback_threads.load(), accepted.load(), aborted.load(), refused.load(), faulted.load(), sync_accepts.load(),
                frees_worker.load(), frees_short.load(), frees_long.load(), blocks_long.load(), holds_short.load(),
                rearms.load(), cycles.load(), connects.load());
  return buf;
}

bool harness::run() {
  if (!setup()) {
    fail("setup", nullptr, "could not create and open the listeners");
    return true;
  }
  std::thread dog([this] { watchdog(); });
  std::thread clients([this] { client(0); });
  std::thread clients2([this] { client(1); });
  std::vector<std::thread> workers;
  for (int w = 0; w < cfg.workers; ++w) workers.emplace_back([this, w] { worker(w); });
  // Workers stop on their budget or the time cap; a worker that cannot finish means a
  // hang the watchdog is about to report (or a harness deadlock, reported here).
  auto limit = steady::now() + std::chrono::microseconds(static_cast<std::int64_t>(cfg.seconds * 1e6)) +
               std::chrono::milliseconds(4 * cfg.hang_ms);
  while (workers_done.load() < cfg.workers) {
    if (steady::now() > limit) emergency_exit("the worker threads did not finish");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stopping.store(true);
  for (auto& t : workers) t.join();
  // Callbacks that began their plan before stopping was set finish it first (the
  // watchdog reports a plan stuck in a call).
  while (in_plan.load() > 0) {
    if (steady::now() > limit) emergency_exit("a callback did not finish its plan");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  clients_stop.store(true);
  clients.join();
  clients2.join();
  teardown();
  final_checks();
  watchdog_stop.store(true);
  dog.join();
  return true;
}

}  // namespace

TEST_SUITE("torture") {

TEST_CASE_FIXTURE(fd_guard, "random_operations_from_threads_and_callbacks_keep_the_async_contract") {
  config cfg = config::from_env();
  // Left allocated if the run cannot finish cleanly: a late callback must find its record.
  auto* h = new harness(cfg);
  char head[160];
  std::snprintf(head, sizeof head, "seed 0x%" PRIX64 ", %d listeners x %d channels, %d workers, ", cfg.seed,
                cfg.listeners, cfg.channels_per_listener, cfg.workers);
  std::string budget = cfg.ops_per_worker ? std::to_string(cfg.ops_per_worker) + " operations per worker or " : "";
  std::string skipping = cfg.skipped.empty() ? std::string() : ", skipping " + cfg.skipped;
  MESSAGE("torture: ", head, budget, cfg.seconds, " s", skipping);
  auto start = steady::now();
  h->run();
  double secs = std::chrono::duration<double>(steady::now() - start).count();
  INFO(h->repro());
  MESSAGE("torture: ", secs, " s: ", h->stats());
  {
    std::lock_guard lock(h->fail_mu);
    for (const auto& [k, n] : h->failure_counts) MESSAGE("torture failures [", k, "]: ", n);
    for (const auto& t : h->failure_texts) FAIL_CHECK(t);
  }
  CHECK(h->failures.load() == 0);
  CHECK(h->async_returns.load() > 0);
  // After a failure the library may still hold records: keep them (reachable).
  static std::vector<harness*> kept;
  if (h->failures.load() == 0)
    delete h;
  else
    kept.push_back(h);
}

}  // TEST_SUITE
