// SPDX-License-Identifier: MIT
// openwws-bench: accepts per second through WsAcceptChannel (synchronous, and async with
// short and long callbacks) next to a raw accept4 loop, for every available I/O backend.
//
// How it measures. A run is one mode for a fixed time: a built-in load generator of K
// client threads connects to 127.0.0.1 and closes with RST (SO_LINGER {1,0}, so that no
// TIME_WAIT piles up), as fast as it can; the server side accepts and closes. The figure
// is the number of accepts completed between the end of a short warm-up and the end of
// the run, divided by that time. A repetition runs the four modes one after the other
// (raw-accept4, sync, async-short, async-long), so slow drifts of the machine hit every
// mode alike, and each mode is also reported as the median over repetitions of its ratio
// to the raw-accept4 run of the same repetition.
//
// Why a child process per backend: the runtime chooses its backend (OPENWWS_BACKEND) once
// while any object exists, so the parent execs itself with `--child --backend NAME` and
// reads one result line per run from the child's stdout.
//
// Bounds: loopback only; every loop stops on a flag set at the end of its run and also
// after a fixed count; a connect gives up after 250 ms (SO_SNDTIMEO); a server that does not
// stop within 5 s is aborted; the parent kills a child that overruns its time budget.
#include <webservices.h>

#include "platform/select_backend.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef OPENWWS_VERSION
#define OPENWWS_VERSION "unknown"
#endif

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- options ------------------------------------------------------------------------

struct options {
  double seconds = 2.0;
  int reps = 5;
  int clients = 2;
  std::string backend;  // empty: every available backend
  std::string json_path;
  bool child = false;
  bool quick = false;
  bool seconds_set = false;
  bool reps_set = false;
};

const char* const mode_names[] = {"raw-accept4", "sync", "async-short", "async-long"};
constexpr int mode_count = 4;

// At most this many connections wait in the accept queue (clients pause beyond it), well
// under the backlog of 4096: a full queue makes the kernel drop SYNs, and the client's 1 s
// SYN retransmit would then measure the timer, not the server.
constexpr std::int64_t queue_window = 512;
// The count bound of every loop; at ~10^5 accepts/s it is never reached in practice.
constexpr std::uint64_t max_per_loop = 50'000'000;
constexpr ULONG backlog = 4096;

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: openwws-bench [options]\n"
               "  --seconds S       length of each run (default 2)\n"
               "  --reps N          repetitions of the four modes (default 5)\n"
               "  --clients K       client threads of the load generator (default 2;\n"
               "                    --connections is the same option)\n"
               "  --backend NAME    only this backend (default: every available one)\n"
               "  --json FILE       also write the figures as JSON\n"
               "  --quick           0.5 s runs, 3 repetitions\n"
               "Modes: raw-accept4 (baseline), sync, async-short, async-long.\n");
}

bool parse_double(const char* s, double& out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno || end == s || *end) return false;
  out = v;
  return true;
}

bool parse_int(const char* s, int& out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > 1000000) return false;
  out = static_cast<int>(v);
  return true;
}

// 0 on success, else the exit status for a bad command line.
int parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_value = true;
    }
    auto need = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    auto bad = [&](const char* what) {
      std::fprintf(stderr, "openwws-bench: %s needs %s\n", arg.c_str(), what);
      return 2;
    };
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--seconds") {
      if (!need() || !parse_double(value.c_str(), o.seconds) || !(o.seconds > 0) || o.seconds > 3600)
        return bad("a number of seconds in (0, 3600]");
      o.seconds_set = true;
    } else if (arg == "--reps") {
      if (!need() || !parse_int(value.c_str(), o.reps) || o.reps < 1 || o.reps > 1000)
        return bad("a count from 1 to 1000");
      o.reps_set = true;
    } else if (arg == "--clients" || arg == "--connections") {
      if (!need() || !parse_int(value.c_str(), o.clients) || o.clients < 1 || o.clients > 256)
        return bad("a count from 1 to 256");
    } else if (arg == "--backend") {
      if (!need() || value.empty()) return bad("a backend name");
      o.backend = value;
    } else if (arg == "--json") {
      if (!need() || value.empty()) return bad("a file name");
      o.json_path = value;
    } else if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--child") {
      o.child = true;
    } else {
      std::fprintf(stderr, "openwws-bench: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (o.quick) {
    if (!o.seconds_set) o.seconds = 0.5;
    if (!o.reps_set) o.reps = 3;
  }
  return 0;
}

double warmup_seconds(const options& o) { return std::clamp(o.seconds * 0.1, 0.01, 0.25); }

// ---- small helpers ------------------------------------------------------------------

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

int count_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

const char* hresult_name(HRESULT hr) {
  switch (hr) {
    case S_OK: return "S_OK";
    case WS_S_ASYNC: return "WS_S_ASYNC";
    case WS_E_OPERATION_ABORTED: return "WS_E_OPERATION_ABORTED";
    case WS_E_OBJECT_FAULTED: return "WS_E_OBJECT_FAULTED";
    case WS_E_INVALID_OPERATION: return "WS_E_INVALID_OPERATION";
    case WS_E_NOT_SUPPORTED: return "WS_E_NOT_SUPPORTED";
    case WS_E_ADDRESS_IN_USE: return "WS_E_ADDRESS_IN_USE";
    case WS_E_QUOTA_EXCEEDED: return "WS_E_QUOTA_EXCEEDED";
    case WS_E_OTHER: return "WS_E_OTHER";
    case E_INVALIDARG: return "E_INVALIDARG";
    case E_OUTOFMEMORY: return "E_OUTOFMEMORY";
    case E_FAIL: return "E_FAIL";
    default: return "?";
  }
}

std::string utf16_to_utf8(const WCHAR* s, ULONG n) {
  std::string out;
  for (ULONG i = 0; i < n; ++i) {
    std::uint32_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000)
      c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// "WsAcceptChannel: 0x803D0004 WS_E_OPERATION_ABORTED: <the WS_ERROR's strings>".
std::string describe(const char* call, HRESULT hr, WS_ERROR* error) {
  std::string text = format("%s: 0x%08X %s", call, static_cast<unsigned>(hr), hresult_name(hr));
  ULONG count = 0;
  if (error && SUCCEEDED(WsGetErrorProperty(error, WS_ERROR_PROPERTY_STRING_COUNT, &count, sizeof count))) {
    for (ULONG i = 0; i < count; ++i) {
      WS_STRING s{};
      if (SUCCEEDED(WsGetErrorString(error, i, &s))) text += (i ? " | " : ": ") + utf16_to_utf8(s.chars, s.length);
    }
  }
  if (error) WsResetError(error);
  return text;
}

// Sleeps until deadline in short steps, returning early (false) once stop_early() holds.
template <typename F>
bool sleep_until(clock_type::time_point deadline, F stop_early) {
  while (clock_type::now() < deadline) {
    if (stop_early()) return false;
    auto left = deadline - clock_type::now();
    std::this_thread::sleep_for(std::min<clock_type::duration>(left, milliseconds(10)));
  }
  return true;
}

// ---- load generator -----------------------------------------------------------------

struct load {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> issued{0};    // connects started and not failed
  std::atomic<std::int64_t> accepted{0};  // accepts the server completed (and closed)
  std::atomic<std::uint64_t> connect_errors{0};
  std::atomic<int> last_errno{0};
};

void client_main(load& ld, USHORT port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::uint64_t errors = 0;
  for (std::uint64_t n = 0; n < max_per_loop && !ld.stop.load(std::memory_order_relaxed);) {
    if (ld.issued.load(std::memory_order_relaxed) - ld.accepted.load(std::memory_order_relaxed) >= queue_window) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      continue;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = -1;
    if (fd >= 0) {
      // On Linux SO_SNDTIMEO also bounds a blocking connect (socket(7)). A lost SYN would
      // otherwise stall this client for the 1 s SYN retransmit; giving up sooner and
      // starting over costs less.
      timeval tv{0, 250000};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ld.issued.fetch_add(1, std::memory_order_relaxed);
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
      if (rc != 0) ld.issued.fetch_sub(1, std::memory_order_relaxed);
    }
    if (rc != 0) {
      ld.last_errno.store(errno, std::memory_order_relaxed);
      ld.connect_errors.fetch_add(1, std::memory_order_relaxed);
      if (fd >= 0) ::close(fd);
      if (++errors > 1000) return;  // something is badly wrong: leave it to the report
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(fd);
    ++n;
  }
}

// ---- the servers --------------------------------------------------------------------

// One mode's server side. open() binds, start() begins accepting, stop() asks it to end
// (returns at once), wait() tells whether it ended, force() unblocks a stuck accept,
// close() frees everything. Errors are sentences; "" means none.
class server {
 public:
  virtual ~server() = default;
  virtual std::string open(load& ld) = 0;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual bool wait(milliseconds timeout) = 0;
  virtual void force() = 0;
  virtual std::string close() = 0;
  virtual std::string error() = 0;
  // Async modes: accepts that WsAcceptChannel completed synchronously, and via callback.
  virtual std::uint64_t sync_completions() const { return 0; }
  virtual std::uint64_t async_completions() const { return 0; }
  USHORT port = 0;
};

// Runs a loop on a thread of its own; the loop sets done_ when it leaves.
class threaded_server : public server {
 public:
  void start() override {
    thread_ = std::thread([this] {
      run();
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_all();
    });
  }
  void stop() override { stop_.store(true); }
  bool wait(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  std::string error() override {
    std::lock_guard lock(mu_);
    return error_;
  }

 protected:
  virtual void run() = 0;
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  void set_error(std::string e) {
    std::lock_guard lock(mu_);
    if (error_.empty()) error_ = std::move(e);
  }
  load* ld_ = nullptr;
  std::atomic<bool> stop_{false};

 private:
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::string error_;
};

// The baseline: a blocking accept4 loop on a plain listening socket.
class raw_server final : public threaded_server {
 public:
  ~raw_server() override { close(); }
  std::string open(load& ld) override {
    ld_ = &ld;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return format("socket: %s", std::strerror(errno));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd_, backlog) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
      return format("bind/listen on 127.0.0.1:0: %s", std::strerror(errno));
    port = ntohs(sa.sin_port);
    return "";
  }
  void force() override { ::shutdown(fd_, SHUT_RDWR); }  // wakes a blocked accept (Linux)
  std::string close() override {
    join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return "";
  }

 private:
  void run() override {
    for (std::uint64_t n = 0; n < max_per_loop && !stop_.load(std::memory_order_relaxed); ++n) {
      int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        int err = errno;
        if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
        if (!stop_.load()) set_error(format("accept4: %s", std::strerror(err)));
        return;
      }
      ::close(fd);
      ld_->accepted.fetch_add(1, std::memory_order_relaxed);
    }
  }
  int fd_ = -1;
};

// What the WsAcceptChannel modes share: a listener on net.tcp://127.0.0.1:0/ with a
// backlog of 4096, and one channel that every accept reuses (close, then reset).
class ws_objects {
 public:
  ~ws_objects() { free_all(); }

  std::string create(const std::string& backend, const WS_CALLBACK_MODEL* model) {
    HRESULT hr = WsCreateError(nullptr, 0, &error_);
    if (FAILED(hr)) return format("WsCreateError: 0x%08X", static_cast<unsigned>(hr));
    hr = WsCreateError(nullptr, 0, &main_error_);
    if (FAILED(hr)) return format("WsCreateError: 0x%08X", static_cast<unsigned>(hr));
    ULONG bl = backlog;
    WS_CALLBACK_MODEL m = model ? *model : WS_LONG_CALLBACK;
    WS_LISTENER_PROPERTY props[] = {
        {WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &bl, sizeof bl},
        {WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &m, sizeof m},
    };
    hr = WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, model ? 2 : 1, nullptr,
                          &listener_, main_error_);
    if (FAILED(hr)) return describe("WsCreateListener", hr, main_error_);
    static const WCHAR url_text[] = u"net.tcp://127.0.0.1:0/";
    WS_STRING url = WS_STRING_VALUE(url_text);
    hr = WsOpenListener(listener_, &url, nullptr, main_error_);
    if (FAILED(hr)) return describe("WsOpenListener", hr, main_error_);
    hr = WsGetListenerProperty(listener_, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port_, sizeof port_, main_error_);
    if (FAILED(hr)) return describe("WsGetListenerProperty(LOCAL_PORT)", hr, main_error_);
    const char* name = nullptr;
    hr = WsGetListenerProperty(listener_, OPENWWS_LISTENER_PROPERTY_BACKEND_NAME, &name, sizeof name, main_error_);
    if (FAILED(hr)) return describe("WsGetListenerProperty(BACKEND_NAME)", hr, main_error_);
    if (backend != name) return format("the listener runs on backend '%s', not '%s'", name, backend.c_str());
    hr = WsCreateChannelForListener(listener_, nullptr, 0, &channel_, main_error_);
    if (FAILED(hr)) return describe("WsCreateChannelForListener", hr, main_error_);
    return "";
  }

  // The accepted connection is done with: close it and make the channel reusable.
  // Called by whichever thread completed the accept; error_ belongs to that thread then.
  std::string recycle() {
    HRESULT hr = WsCloseChannel(channel_, nullptr, error_);
    if (FAILED(hr)) return describe("WsCloseChannel", hr, error_);
    hr = WsResetChannel(channel_, error_);
    if (FAILED(hr)) return describe("WsResetChannel", hr, error_);
    return "";
  }

  std::string close_listener() {
    if (!listener_) return "";
    HRESULT hr = WsCloseListener(listener_, nullptr, main_error_);
    return FAILED(hr) ? describe("WsCloseListener", hr, main_error_) : "";
  }

  void free_all() {
    if (channel_) WsFreeChannel(channel_);
    if (listener_) WsFreeListener(listener_);
    if (error_) WsFreeError(error_);
    if (main_error_) WsFreeError(main_error_);
    channel_ = nullptr;
    listener_ = nullptr;
    error_ = main_error_ = nullptr;
  }

  WS_LISTENER* listener_ = nullptr;
  WS_CHANNEL* channel_ = nullptr;
  WS_ERROR* error_ = nullptr;       // used by the accepting side only
  WS_ERROR* main_error_ = nullptr;  // used by the thread that drives the run
  USHORT port_ = 0;
};

// One thread looping on a synchronous WsAcceptChannel.
class sync_server final : public threaded_server {
 public:
  explicit sync_server(std::string backend) : backend_(std::move(backend)) {}
  ~sync_server() override { close(); }
  std::string open(load& ld) override {
    ld_ = &ld;
    std::string e = ws_.create(backend_, nullptr);
    port = ws_.port_;
    return e;
  }
  void force() override { WsAbortListener(ws_.listener_, nullptr); }
  std::string close() override {
    join();
    std::string e = ws_.close_listener();
    ws_.free_all();
    return e;
  }

 private:
  void run() override {
    for (std::uint64_t n = 0; n < max_per_loop && !stop_.load(std::memory_order_relaxed); ++n) {
      HRESULT hr = WsAcceptChannel(ws_.listener_, ws_.channel_, nullptr, ws_.error_);
      if (FAILED(hr)) {
        std::string e = describe("WsAcceptChannel", hr, ws_.error_);
        if (!stop_.load()) set_error(e);
        return;
      }
      if (std::string e = ws_.recycle(); !e.empty()) return set_error(e);
      ld_->accepted.fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::string backend_;
  ws_objects ws_;
};

// An accept chain: each completion recycles the channel and starts the next accept. A
// WsAcceptChannel that returns S_OK completed synchronously (no callback will come) and
// is handled in the loop; WS_S_ASYNC means the callback will come.
class async_server final : public server {
 public:
  async_server(std::string backend, WS_CALLBACK_MODEL model) : backend_(std::move(backend)), model_(model) {}
  ~async_server() override { close(); }

  std::string open(load& ld) override {
    ld_ = &ld;
    std::string e = ws_.create(backend_, &model_);
    port = ws_.port_;
    ctx_.callback = on_complete;
    ctx_.callbackState = this;
    return e;
  }
  // The first accept runs on a thread of ours: under load it may complete synchronously
  // again and again, and then that thread carries the chain until the stop flag.
  void start() override {
    starter_ = std::thread([this] { pump(); });
  }
  // Set the flag, then abort: an accept that is pending reports WS_E_OPERATION_ABORTED.
  void stop() override {
    stop_.store(true);
    WsAbortListener(ws_.listener_, nullptr);
  }
  bool wait(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ended_; });
  }
  void force() override { WsAbortListener(ws_.listener_, nullptr); }
  std::string close() override {
    if (starter_.joinable()) starter_.join();
    // Waits until the last callback has returned, so nothing of ours runs after it.
    std::string e = ws_.close_listener();
    ws_.free_all();
    return e;
  }
  std::string error() override {
    std::lock_guard lock(mu_);
    return error_;
  }
  std::uint64_t sync_completions() const override { return sync_.load(); }
  std::uint64_t async_completions() const override { return async_.load(); }

 private:
  static void CALLBACK on_complete(HRESULT hr, WS_CALLBACK_MODEL, void* state) {
    auto* self = static_cast<async_server*>(state);
    if (FAILED(hr)) return self->finish(hr, describe("WsAcceptChannel (callback)", hr, self->ws_.error_));
    self->async_.fetch_add(1, std::memory_order_relaxed);
    if (!self->accepted()) return;
    self->pump();
  }

  bool accepted() {
    if (std::string e = ws_.recycle(); !e.empty()) {
      finish(E_FAIL, e);
      return false;
    }
    ld_->accepted.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void pump() {
    for (;;) {
      if (stop_.load(std::memory_order_relaxed) || ++issued_ > max_per_loop) return finish(S_FALSE, "");
      HRESULT hr = WsAcceptChannel(ws_.listener_, ws_.channel_, &ctx_, ws_.error_);
      if (hr == WS_S_ASYNC) return;
      if (FAILED(hr)) return finish(hr, describe("WsAcceptChannel", hr, ws_.error_));
      sync_.fetch_add(1, std::memory_order_relaxed);
      if (!accepted()) return;
    }
  }

  // The chain is over. Stopping ends it with S_FALSE (the flag was seen first),
  // WS_E_OPERATION_ABORTED (a pending accept was aborted) or WS_E_OBJECT_FAULTED (an
  // accept started after the abort); anything else, or any end before stop(), is an error.
  void finish(HRESULT hr, const std::string& text) {
    std::lock_guard lock(mu_);
    bool clean = stop_.load() && (hr == S_FALSE || hr == WS_E_OPERATION_ABORTED || hr == WS_E_OBJECT_FAULTED);
    if (!clean && error_.empty()) error_ = text.empty() ? "the accept chain ended before the run did" : text;
    ended_ = true;
    cv_.notify_all();
  }

  std::string backend_;
  WS_CALLBACK_MODEL model_;
  ws_objects ws_;
  load* ld_ = nullptr;
  WS_ASYNC_CONTEXT ctx_{};
  std::thread starter_;
  std::atomic<bool> stop_{false};
  std::uint64_t issued_ = 0;  // only the thread carrying the chain touches it
  std::atomic<std::uint64_t> sync_{0};
  std::atomic<std::uint64_t> async_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool ended_ = false;
  std::string error_;
};

// ---- one run ------------------------------------------------------------------------

struct run_result {
  double rate = 0;  // accepts per second over the measured window
  std::int64_t accepts = 0;
  double elapsed = 0;
  double sync_fraction = -1;  // async modes: share of accepts completed synchronously
  std::uint64_t connect_errors = 0;
  int connect_errno = 0;  // the last failed connect's errno
  std::string error;
};

std::unique_ptr<server> make_server(int mode, const std::string& backend) {
  switch (mode) {
    case 0: return std::make_unique<raw_server>();
    case 1: return std::make_unique<sync_server>(backend);
    case 2: return std::make_unique<async_server>(backend, WS_SHORT_CALLBACK);
    default: return std::make_unique<async_server>(backend, WS_LONG_CALLBACK);
  }
}

run_result measure(int mode, const std::string& backend, const options& o) {
  run_result r;
  int fds_before = count_fds();
  load ld;
  std::vector<std::thread> clients;
  {
    auto srv = make_server(mode, backend);
    if (std::string e = srv->open(ld); !e.empty()) {
      r.error = e;
      srv->close();
      return r;
    }
    srv->start();
    try {
      for (int i = 0; i < o.clients; ++i) clients.emplace_back(client_main, std::ref(ld), srv->port);
    } catch (const std::exception& ex) {
      r.error = format("cannot start a client thread: %s", ex.what());
    }
    auto ended_early = [&] { return srv->wait(milliseconds(0)); };
    auto t_start = clock_type::now();
    auto warm = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(warmup_seconds(o)));
    auto span = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
    bool full = r.error.empty() && sleep_until(t_start + warm, ended_early);
    std::int64_t c0 = ld.accepted.load();
    auto t0 = clock_type::now();
    if (full) full = sleep_until(t0 + span, ended_early);
    std::int64_t c1 = ld.accepted.load();
    auto t1 = clock_type::now();
    r.accepts = c1 - c0;
    r.elapsed = std::chrono::duration<double>(t1 - t0).count();
    r.rate = r.elapsed > 0 ? static_cast<double>(r.accepts) / r.elapsed : 0;

    // The clients go on until the server has stopped, so that a blocked accept always
    // has a connection to take; only then do they stop, and the listener closes last.
    srv->stop();
    if (!srv->wait(milliseconds(5000))) {
      srv->force();
      if (!srv->wait(milliseconds(5000))) {
        std::fprintf(stderr, "openwws-bench: %s did not stop 10 s after its run; giving up\n", mode_names[mode]);
        std::_Exit(3);  // its threads still use the objects: freeing them is not safe
      }
    }
    ld.stop.store(true);
    for (auto& t : clients) t.join();
    if (r.error.empty()) r.error = srv->error();
    if (r.error.empty() && !full) r.error = "the server stopped before the end of the run";
    if (std::string e = srv->close(); r.error.empty()) r.error = e;
    std::uint64_t s = srv->sync_completions(), a = srv->async_completions();
    if (mode >= 2 && s + a > 0) r.sync_fraction = static_cast<double>(s) / static_cast<double>(s + a);
  }
  r.connect_errors = ld.connect_errors.load();
  r.connect_errno = ld.last_errno.load();
  if (r.connect_errors && r.error.empty() && r.accepts == 0)
    r.error = format("every connect failed (last: %s)", std::strerror(ld.last_errno.load()));
  int fds_after = count_fds();
  if (fds_after != fds_before && r.error.empty())
    r.error = format("descriptor count grew from %d to %d during the run", fds_before, fds_after);
  return r;
}

// ---- child: every run of one backend --------------------------------------------------

int child_main(const options& o) {
  if (o.backend.empty()) {
    std::fprintf(stderr, "openwws-bench: --child needs --backend\n");
    return 2;
  }
  ::setenv("OPENWWS_BACKEND", o.backend.c_str(), 1);
  ::signal(SIGPIPE, SIG_IGN);
  int status = 0;
  for (int rep = 1; rep <= o.reps; ++rep) {
    for (int mode = 0; mode < mode_count; ++mode) {
      run_result r = measure(mode, o.backend, o);
      // One line per run for the parent:
      // R backend mode rep rate accepts elapsed sync-fraction connect-errors connect-errno
      std::printf("R %s %s %d %.3f %lld %.6f %.4f %llu %d\n", o.backend.c_str(), mode_names[mode], rep, r.rate,
                  static_cast<long long>(r.accepts), r.elapsed, r.sync_fraction,
                  static_cast<unsigned long long>(r.connect_errors), r.connect_errno);
      if (!r.error.empty()) {
        status = 1;
        std::printf("E %s %s %d %s\n", o.backend.c_str(), mode_names[mode], rep, r.error.c_str());
      }
      std::fflush(stdout);
      std::string extra;
      if (r.sync_fraction >= 0) extra += format("  (%.0f%% completed synchronously)", 100 * r.sync_fraction);
      if (r.connect_errors)
        extra += format("  (%llu connects failed, last: %s)", static_cast<unsigned long long>(r.connect_errors),
                        std::strerror(r.connect_errno));
      if (!r.error.empty()) extra += "  ERROR: " + r.error;
      std::fprintf(stderr, "[%s] rep %d/%d  %-12s %10.0f accepts/s%s\n", o.backend.c_str(), rep, o.reps,
                   mode_names[mode], r.rate, extra.c_str());
    }
  }
  return status;
}

// ---- parent: machine, children, statistics, table, JSON -------------------------------

struct machine_info {
  long nproc = 0;
  int affinity = 0;
  std::string cpu = "unknown";
  std::string kernel = "unknown";
  double load1 = -1;
};

machine_info read_machine() {
  machine_info m;
  m.nproc = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) m.affinity = CPU_COUNT(&set);
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (key == "model name" || key == "Hardware" || key == "cpu model") {
      m.cpu = line.substr(line.find_first_not_of(" \t", colon + 1));
      break;
    }
  }
  utsname u{};
  if (::uname(&u) == 0) m.kernel = format("%s %s %s", u.sysname, u.release, u.machine);
  std::ifstream loadavg("/proc/loadavg");
  if (!(loadavg >> m.load1)) m.load1 = -1;
  return m;
}

struct series {
  std::vector<double> rates;   // by repetition
  std::vector<double> ratios;  // to the raw-accept4 run of the same repetition
  std::vector<double> sync_fractions;
  std::uint64_t connect_errors = 0;
  int connect_errno = 0;
};

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double mad(const std::vector<double>& v) {
  double m = median(v);
  std::vector<double> d;
  for (double x : v) d.push_back(std::fabs(x - m));
  return median(d);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += format("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_number(double x) { return std::isfinite(x) ? format("%.4f", x) : "null"; }

std::string json_array(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_number(v[i]);
  return s + "]";
}

// Runs one backend's child and collects its lines. false when the child failed.
bool run_child(const char* self, const options& o, const std::string& backend,
               std::map<std::string, std::map<int, run_result>>& runs, std::vector<std::string>& errors) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    errors.push_back(format("pipe: %s", std::strerror(errno)));
    return false;
  }
  std::string seconds = format("%.6g", o.seconds), reps = std::to_string(o.reps),
              clients = std::to_string(o.clients);
  std::vector<const char*> args = {self,        "--child", "--backend", backend.c_str(), "--seconds",
                                   seconds.c_str(), "--reps",  reps.c_str(), "--clients", clients.c_str(),
                                   nullptr};
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    errors.push_back(format("fork: %s", std::strerror(errno)));
    return false;
  }
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::execv("/proc/self/exe", const_cast<char* const*>(args.data()));
    ::execv(self, const_cast<char* const*>(args.data()));
    std::fprintf(stderr, "openwws-bench: cannot run itself (%s): %s\n", self, std::strerror(errno));
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  // Budget: every run plus up to 15 s of start and stop, plus 30 s.
  double budget = o.reps * mode_count * (o.seconds + warmup_seconds(o) + 15) + 30;
  auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                          std::chrono::duration<double>(budget));
  std::string buf;
  bool killed = false;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(pipefd[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  std::istringstream lines(buf);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::string tag, be, mode;
    int rep = 0;
    in >> tag >> be >> mode >> rep;
    if (tag == "R") {
      run_result r;
      unsigned long long errs = 0;
      long long accepts = 0;
      in >> r.rate >> accepts >> r.elapsed >> r.sync_fraction >> errs >> r.connect_errno;
      r.accepts = accepts;
      r.connect_errors = errs;
      runs[mode][rep] = r;
    } else if (tag == "E") {
      std::string text;
      std::getline(in, text);
      errors.push_back(format("%s %s rep %d:%s", be.c_str(), mode.c_str(), rep, text.c_str()));
    }
  }
  if (killed) {
    errors.push_back(format("%s: the child ran past its %.0f s budget and was killed", backend.c_str(), budget));
    return false;
  }
  if (WIFSIGNALED(status)) {
    errors.push_back(format("%s: the child died of signal %d", backend.c_str(), WTERMSIG(status)));
    return false;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    if (WEXITSTATUS(status) != 1)  // 1: its errors are already in the list
      errors.push_back(format("%s: the child exited with status %d", backend.c_str(), WEXITSTATUS(status)));
    return false;
  }
  return true;
}

int parent_main(const char* self, const options& o) {
  std::vector<std::string> backends;
  auto avail = openwws::platform::available_backends();
  auto compiled = openwws::platform::compiled_backends();
  if (!o.backend.empty()) {
    if (std::find(compiled.begin(), compiled.end(), o.backend) == compiled.end()) {
      std::string list;
      for (auto b : compiled) list += (list.empty() ? "" : ", ") + std::string(b);
      std::fprintf(stderr, "openwws-bench: this build has no backend '%s' (it has: %s)\n", o.backend.c_str(),
                   list.c_str());
      return 2;
    }
    if (std::find(avail.begin(), avail.end(), o.backend) == avail.end()) {
      std::printf("openwws-bench: backend '%s' is not available on this machine: skipped\n", o.backend.c_str());
      return 77;
    }
    backends.push_back(o.backend);
  } else {
    for (auto b : avail) backends.emplace_back(b);
  }
  if (backends.empty()) {
    std::fprintf(stderr, "openwws-bench: no I/O backend is available on this machine\n");
    return 1;
  }

  machine_info m = read_machine();
  std::string backend_list;
  for (auto& b : backends) backend_list += (backend_list.empty() ? "" : ", ") + b;
#ifdef NDEBUG
  const char* build = "release (NDEBUG)";
#else
  const char* build = "debug (assertions on: figures are not representative)";
#endif
  std::printf("openwws-bench %s: accepts/s on 127.0.0.1, WsAcceptChannel next to a raw accept4 loop\n",
              OPENWWS_VERSION);
  std::printf("machine: %ld CPUs (%d usable), %s, %s\n", m.nproc, m.affinity, m.cpu.c_str(), m.kernel.c_str());
  std::printf("build:   %s, compiler %s\n", build, __VERSION__);
  std::printf("run:     backends %s; %d client threads (connect, RST close); %d reps x %d modes x %.2f s "
              "(+%.2f s warm-up each)\n\n",
              backend_list.c_str(), o.clients, o.reps, mode_count, o.seconds, warmup_seconds(o));
  std::fflush(stdout);
  if (m.load1 > 0.5)
    std::fprintf(stderr, "openwws-bench: warning: the 1-minute load average is %.2f (> 0.5); figures will be noisy\n",
                 m.load1);

  std::vector<std::string> errors;
  std::map<std::string, std::map<std::string, std::map<int, run_result>>> all;  // backend, mode, rep
  bool ok = true;
  for (auto& b : backends) {
    std::fprintf(stderr, "openwws-bench: backend %s ...\n", b.c_str());
    ok = run_child(self, o, b, all[b], errors) && ok;
  }

  // Statistics per backend and mode; ratios pair each run with raw-accept4 of its rep.
  struct row {
    std::string backend, mode;
    series s;
  };
  std::vector<row> rows;
  for (auto& b : backends) {
    auto& by_mode = all[b];
    for (int mode = 0; mode < mode_count; ++mode) {
      row r{b, mode_names[mode], {}};
      for (auto& [rep, res] : by_mode[mode_names[mode]]) {
        r.s.rates.push_back(res.rate);
        r.s.connect_errors += res.connect_errors;
        if (res.connect_errors) r.s.connect_errno = res.connect_errno;
        if (res.sync_fraction >= 0) r.s.sync_fractions.push_back(res.sync_fraction);
        auto raw = by_mode["raw-accept4"].find(rep);
        if (raw != by_mode["raw-accept4"].end() && raw->second.rate > 0)
          r.s.ratios.push_back(res.rate / raw->second.rate);
      }
      rows.push_back(std::move(r));
    }
  }

  std::printf("%-8s %-12s %12s %12s %12s %10s %8s\n", "backend", "mode", "accepts/s", "min", "max", "MAD",
              "vs raw");
  for (auto& r : rows) {
    if (r.s.rates.empty()) {
      std::printf("%-8s %-12s %12s\n", r.backend.c_str(), r.mode.c_str(), "(no result)");
      continue;
    }
    auto [lo, hi] = std::minmax_element(r.s.rates.begin(), r.s.rates.end());
    double ratio = median(r.s.ratios);
    std::printf("%-8s %-12s %12.0f %12.0f %12.0f %10.0f %8s\n", r.backend.c_str(), r.mode.c_str(),
                median(r.s.rates), *lo, *hi, mad(r.s.rates),
                std::isfinite(ratio) ? format("%.2f", ratio).c_str() : "-");
  }
  std::printf("\naccepts/s: median over %d runs of %.2f s; MAD: median absolute deviation; vs raw: median of the\n"
              "per-repetition ratios to raw-accept4 (1.00 = as fast as a bare accept4 loop).\n",
              o.reps, o.seconds);
  for (auto& r : rows) {
    if (!r.s.sync_fractions.empty())
      std::printf("note: %s %s: %.0f%% of accepts completed synchronously (no callback)\n", r.backend.c_str(),
                  r.mode.c_str(), 100 * median(r.s.sync_fractions));
    if (r.s.connect_errors)
      std::printf("note: %s %s: %llu client connects failed (last: %s); the load generator retried\n",
                  r.backend.c_str(), r.mode.c_str(), static_cast<unsigned long long>(r.s.connect_errors),
                  std::strerror(r.s.connect_errno));
  }
  for (auto& e : errors) std::printf("error: %s\n", e.c_str());

  if (!o.json_path.empty()) {
    std::string j = "{\n";
    j += format("  \"tool\": \"openwws-bench\",\n  \"version\": \"%s\",\n  \"unit\": \"accepts/s\",\n",
                OPENWWS_VERSION);
    j += format("  \"machine\": {\"nproc\": %ld, \"usable_cpus\": %d, \"cpu\": \"%s\", \"kernel\": \"%s\", "
                "\"loadavg_1min\": %s},\n",
                m.nproc, m.affinity, json_escape(m.cpu).c_str(), json_escape(m.kernel).c_str(),
                json_number(m.load1).c_str());
    j += format("  \"config\": {\"seconds\": %s, \"warmup_seconds\": %s, \"reps\": %d, \"clients\": %d, "
                "\"build\": \"%s\"},\n",
                json_number(o.seconds).c_str(), json_number(warmup_seconds(o)).c_str(), o.reps, o.clients,
                json_escape(build).c_str());
    j += "  \"results\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      auto& r = rows[i];
      double lo = r.s.rates.empty() ? NAN : *std::min_element(r.s.rates.begin(), r.s.rates.end());
      double hi = r.s.rates.empty() ? NAN : *std::max_element(r.s.rates.begin(), r.s.rates.end());
      j += format("    {\"backend\": \"%s\", \"mode\": \"%s\", \"median\": %s, \"min\": %s, \"max\": %s, "
                  "\"mad\": %s, \"ratio_to_raw\": %s, ",
                  json_escape(r.backend).c_str(), r.mode.c_str(), json_number(median(r.s.rates)).c_str(),
                  json_number(lo).c_str(), json_number(hi).c_str(), json_number(mad(r.s.rates)).c_str(),
                  json_number(median(r.s.ratios)).c_str());
      j += "\"runs\": " + json_array(r.s.rates) + ", \"ratios\": " + json_array(r.s.ratios);
      if (!r.s.sync_fractions.empty()) j += ", \"sync_fractions\": " + json_array(r.s.sync_fractions);
      j += format(", \"connect_errors\": %llu}%s\n", static_cast<unsigned long long>(r.s.connect_errors),
                  i + 1 < rows.size() ? "," : "");
    }
    j += "  ],\n  \"errors\": [";
    for (size_t i = 0; i < errors.size(); ++i) j += (i ? ", \"" : "\"") + json_escape(errors[i]) + "\"";
    j += "]\n}\n";
    std::ofstream out(o.json_path);
    out << j;
    if (!out) {
      std::fprintf(stderr, "openwws-bench: cannot write %s\n", o.json_path.c_str());
      ok = false;
    }
  }
  return ok && errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (int rc = parse_options(argc, argv, o); rc != 0) return rc;
  return o.child ? child_main(o) : parent_main(argv[0], o);
}
