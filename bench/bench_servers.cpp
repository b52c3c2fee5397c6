// SPDX-License-Identifier: MIT
// openwws-bench: the load generator (handshake clients, and the slow connections beside
// them), the server modes (raw accept4 and epoll loops answering the handshake;
// WsAcceptChannel sync with one or N threads, async with short and long callbacks, and
// async on a host's event loop driven through its descriptor or by libuv, each reusing
// one channel or creating one per accept) and the measurement of one run.
//
// Bounds: loopback only; every loop stops on a flag and also after a fixed count; the
// clients also stop at a hard deadline; a connect gives up after 250 ms (SO_SNDTIMEO),
// the wait for the ack after 2 s (SO_RCVTIMEO slices, so the end of a run does not wait
// for it); a server that does not stop within 10 s ends the process (its threads still
// use the objects, so freeing them would not be safe). The slow connections of a
// slow-client row are made before the server starts and closed before it stops.
#include "bench_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace openwws::bench {

// ---- what the raw servers share (bench_common.h) ---------------------------------------

int listen_loopback(bool nonblocking, USHORT& port, std::string& why) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    why = format("socket: %s", std::strerror(errno));
    return -1;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, listen_backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    why = format("bind/listen on 127.0.0.1:0: %s", std::strerror(errno));
    ::close(fd);
    return -1;
  }
  port = ntohs(sa.sin_port);
  return fd;
}

void threaded_server::start() {
  for (int i = 0; i < nthreads_; ++i) {
    threads_.emplace_back([this, i] {
      run(i);
      std::lock_guard lock(mu_);
      ++finished_;
      cv_.notify_all();
    });
  }
}

bool threaded_server::wait(milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return finished_ == nthreads_; });
}

std::string threaded_server::error() {
  std::lock_guard lock(mu_);
  return error_;
}

void threaded_server::join() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void threaded_server::set_error(std::string e) {
  std::lock_guard lock(mu_);
  if (error_.empty()) error_ = std::move(e);
}

namespace {

// At most this many connections wait in the accept queue (clients pause beyond it), well
// under the backlog of 4096: a full queue makes the kernel drop SYNs, and the client's 1 s
// SYN retransmit would then measure the timer, not the server.
constexpr std::int64_t queue_window = 512;
// Connect times kept per client thread per run; past it, reservoir sampling keeps a
// uniform sample of the whole window without allocating.
constexpr std::size_t samples_per_client = 16384;

// ---- load generator -----------------------------------------------------------------

// How long a client waits for the ack: well past any answer a working server gives, short
// enough that a server that never answers costs a run seconds, not a hang. The wait is
// cut in slices so that the end of a run does not wait for it.
constexpr int ack_slice_ms = 100;
constexpr int ack_slices = 20;  // 2 s

// One client thread's own data; only that thread writes it until it is joined.
struct alignas(64) client_slot {
  std::vector<std::uint32_t> samples;  // connect-to-ack durations, ns; capacity fixed up front
  std::uint64_t seen = 0;              // handshakes timed while measuring
  std::uint64_t rng = 0x9E3779B97F4A7C15ull;
  std::uint64_t errors = 0;  // failed connects while measuring
  int last_errno = 0;
  std::uint64_t hs_failures = 0;  // connected, then no ack, while measuring
  const char* hs_what = nullptr;  // the last one: what went wrong
  int hs_errno = 0;               // and its errno, or 0
  bool left_waiting = false;      // the run ended while it waited for an ack
  clockid_t cpu_clock{};
  bool has_clock = false;
};

const char* const client_stopped = "the run ended";

// A blocking connect to 127.0.0.1 that a signal does not fail: the attempt goes on in the
// kernel after EINTR (connect(2)), so wait for its outcome (at most 250 ms, as the
// connect itself). 0, or -1 with errno set.
int connect_loopback(int fd, const sockaddr_in& sa) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return 0;
  if (errno != EINTR) return -1;
  pollfd p{fd, POLLOUT, 0};
  int n, tries = 0;
  do n = ::poll(&p, 1, 250);
  while (n < 0 && errno == EINTR && ++tries < 10);
  if (n <= 0) {
    if (n == 0) errno = ETIMEDOUT;
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -1;
  errno = err;
  return err ? -1 : 0;
}

// Sends the preamble and reads one byte, which must be the ack. nullptr on success; else
// what went wrong, with err set to its errno (or 0).
const char* handshake(int fd, const load& ld, int& err) {
  err = 0;
  ssize_t n = ::send(fd, ld.preamble.data(), ld.preamble.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(ld.preamble.size())) {
    err = n < 0 ? errno : 0;
    return "send of the preamble";
  }
  for (int slice = 0;;) {
    char b = 0;
    n = ::recv(fd, &b, 1, 0);
    if (n == 1) return b == preamble_ack ? nullptr : "a byte other than the ack 0x0B came";
    if (n == 0) return "the server closed without an ack";
    // A signal counts as a slice: the wait stays bounded whatever interrupts it.
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      err = errno;
      return "recv of the ack";
    }
    if (ld.stop.load(std::memory_order_relaxed)) return client_stopped;
    if (++slice >= ack_slices) return "no ack within 2 s";
  }
}

void client_main(load& ld, client_slot& me, USHORT port, const pinning* pin) {
  if (pin && pin->on) set_thread_affinity(pin->client);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool bare = ld.preamble.empty();
  std::uint64_t failures = 0;
  for (std::uint64_t n = 0; n < max_per_loop && !ld.stop.load(std::memory_order_relaxed);) {
    if ((n & 1023) == 0 && clock_type::now() > ld.hard_deadline) return;
    if (ld.issued.load(std::memory_order_relaxed) - ld.accepted.load(std::memory_order_relaxed) >= queue_window) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      if (clock_type::now() > ld.hard_deadline) return;
      continue;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = -1;
    const char* hs = nullptr;
    int hs_err = 0;
    bool timed = ld.measuring.load(std::memory_order_relaxed);
    if (fd >= 0) {
      // On Linux SO_SNDTIMEO also bounds a blocking connect (socket(7)). A lost SYN would
      // otherwise stall this client for the 1 s SYN retransmit.
      timeval tv{0, 250000};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (!bare) {
        timeval slice{0, ack_slice_ms * 1000};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
      }
      ld.issued.fetch_add(1, std::memory_order_relaxed);
      timespec a{}, b{};
      if (timed || ld.latency_capacity) ::clock_gettime(CLOCK_MONOTONIC, &a);
      rc = connect_loopback(fd, sa);
      if (rc == 0 && !bare) hs = handshake(fd, ld, hs_err);
      if (timed) ::clock_gettime(CLOCK_MONOTONIC, &b);
      if (ld.latency_capacity) {
        std::int64_t start = a.tv_sec * 1'000'000'000LL + a.tv_nsec;
        if (rc == 0 && !hs)
          ld.handshake_done(start);
        else if (ld.first_failure_ns == INT64_MAX)
          ld.first_failure_ns = start;
      }
      if (rc != 0 || hs) {
        ld.issued.fetch_sub(1, std::memory_order_relaxed);
      } else if (timed) {
        std::int64_t ns = (b.tv_sec - a.tv_sec) * 1'000'000'000LL + (b.tv_nsec - a.tv_nsec);
        auto v = static_cast<std::uint32_t>(std::clamp<std::int64_t>(ns, 0, UINT32_MAX));
        ++me.seen;
        if (me.samples.size() < me.samples.capacity()) {
          me.samples.push_back(v);  // within capacity: no allocation
        } else {
          me.rng ^= me.rng << 13;  // xorshift64
          me.rng ^= me.rng >> 7;
          me.rng ^= me.rng << 17;
          std::uint64_t j = me.rng % me.seen;
          if (j < me.samples.size()) me.samples[j] = v;
        }
      }
    }
    if (hs == client_stopped) {
      me.left_waiting = true;
      ::close(fd);
      return;
    }
    if (rc != 0 || hs) {
      if (timed && rc != 0) {
        me.last_errno = errno;
        ++me.errors;
      } else if (timed) {
        me.hs_what = hs;
        me.hs_errno = hs_err;
        ++me.hs_failures;
      }
      if (fd >= 0) ::close(fd);
      if (++failures > 1000) return;  // something is badly wrong: leave it to the report
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    linger lg{1, 0};  // close with RST: no TIME_WAIT piles up
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(fd);
    ++n;
  }
}

// ---- raw baselines --------------------------------------------------------------------

// A blocking accept4 loop. With handshake clients (the reference of every ratio) it
// reads each preamble with blocking reads, writes the ack and closes; with bare clients
// it closes at once.
class raw_accept4_server final : public threaded_server {
 public:
  explicit raw_accept4_server(bool handshake) : handshake_(handshake) {}
  ~raw_accept4_server() override { close(); }
  std::string open(load& ld) override {
    ld_ = &ld;
    std::string why;
    fd_ = listen_loopback(false, port, why);
    if (handshake_) want_ = make_preamble(port);
    return why;
  }
  void stop() override {
    stop_.store(true);
    ::shutdown(fd_, SHUT_RD);  // wakes a blocked accept4 with EINVAL (Linux)
  }
  void force() override { ::shutdown(fd_, SHUT_RDWR); }
  std::string close() override {
    join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return "";
  }

 private:
  void run(int) override {
    for (std::uint64_t n = 0; n < max_per_loop && !stopping(); ++n) {
      int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        int err = errno;
        if (err == EINTR || err == ECONNABORTED || err == EPROTO) continue;
        if (!stopping()) set_error(format("accept4: %s", std::strerror(err)));
        return;
      }
      bool ok = !handshake_ || answer(fd);
      if (ok) ld_->accept_returned();
      ::close(fd);
      if (ok) ld_->accepted.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Reads until the whole preamble is there and acks it; false when the client left first.
  // The clients are stopped before the server, so no read here outlives the run.
  bool answer(int fd) {
    char buf[max_preamble];
    for (std::size_t got = 0;;) {
      ssize_t n = ::read(fd, buf, want_.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      switch (feed_preamble(want_, got, buf, static_cast<std::size_t>(n))) {
        case feed_result::more: continue;
        case feed_result::bad: set_error("a client's preamble differs from the one expected"); return false;
        case feed_result::complete: return ::write(fd, &preamble_ack, 1) == 1;
      }
    }
  }

  bool handshake_;
  std::string want_;
  int fd_ = -1;
};

#ifdef __linux__
// Non-blocking sockets, level-triggered epoll_wait, accept4 until EAGAIN; an eventfd in
// the same set ends it. Each accepted socket is read at once; a preamble that has not
// all arrived leaves the socket watched for EPOLLIN with the count read so far, so that
// a silent client holds nothing up.
class raw_epoll_server final : public threaded_server {
 public:
  ~raw_epoll_server() override { close(); }
  std::string open(load& ld) override {
    ld_ = &ld;
    std::string why;
    fd_ = listen_loopback(true, port, why);
    if (fd_ < 0) return why;
    want_ = make_preamble(port);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    stopfd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ep_ < 0 || stopfd_ < 0) return format("epoll_create1/eventfd: %s", std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_listen;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd_, &ev) != 0) return format("epoll_ctl: %s", std::strerror(errno));
    ev.data.u64 = tag_stop;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, stopfd_, &ev) != 0) return format("epoll_ctl: %s", std::strerror(errno));
    return "";
  }
  void stop() override {
    stop_.store(true);
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(stopfd_, &one, sizeof one);
  }
  void force() override { stop(); }
  std::string close() override {
    join();
    for (std::size_t fd = 0; fd < got_.size(); ++fd)
      if (got_[fd] >= 0) ::close(static_cast<int>(fd));
    got_.clear();
    for (int* fd : {&fd_, &ep_, &stopfd_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    return "";
  }

 private:
  // Tags above any descriptor; a watched connection's tag is its descriptor.
  static constexpr std::uint64_t tag_listen = 1ull << 32, tag_stop = 2ull << 32;

  void run(int) override {
    epoll_event events[64];
    std::uint64_t n = 0;
    while (n < max_per_loop && !stopping()) {
      int k = ::epoll_wait(ep_, events, 64, 1000);
      if (k < 0 && errno != EINTR) return set_error(format("epoll_wait: %s", std::strerror(errno)));
      for (int i = 0; i < k; ++i) {
        std::uint64_t tag = events[i].data.u64;
        if (tag == tag_stop) continue;  // the flag is set
        if (tag != tag_listen) {
          advance(static_cast<int>(tag));
          continue;
        }
        for (; n < max_per_loop; ++n) {
          int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
          if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EINTR || err == ECONNABORTED || err == EPROTO) break;
            return set_error(format("accept4: %s", std::strerror(err)));
          }
          advance(fd);
        }
      }
    }
  }

  // Reads what has come of fd's preamble: acks and closes it once all is there, watches
  // it when more is to come, closes it when the client left.
  void advance(int fd) {
    auto at = static_cast<std::size_t>(fd);
    if (at >= got_.size()) got_.resize(at + 1024, -1);
    bool watched = got_[at] >= 0;
    std::size_t got = watched ? static_cast<std::size_t>(got_[at]) : 0;
    char buf[max_preamble];
    for (;;) {
      ssize_t n = ::read(fd, buf, want_.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!watched) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = static_cast<std::uint64_t>(fd);
          if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            set_error(format("epoll_ctl: %s", std::strerror(errno)));
            return end(fd, false);
          }
        }
        got_[at] = static_cast<std::int16_t>(got);
        return;
      }
      if (n <= 0) return end(fd, false);
      switch (feed_preamble(want_, got, buf, static_cast<std::size_t>(n))) {
        case feed_result::more: continue;
        case feed_result::bad:
          set_error("a client's preamble differs from the one expected");
          return end(fd, false);
        case feed_result::complete: return end(fd, ::write(fd, &preamble_ack, 1) == 1);
      }
    }
  }

  // close() also takes a watched socket out of the epoll set (no other descriptor refers
  // to it).
  void end(int fd, bool acked) {
    if (acked) ld_->accept_returned();
    ::close(fd);
    got_[static_cast<std::size_t>(fd)] = -1;
    if (acked) ld_->accepted.fetch_add(1, std::memory_order_relaxed);
  }

  std::string want_;
  std::vector<std::int16_t> got_;  // by descriptor: preamble bytes read of a watched socket, or -1
  int fd_ = -1, ep_ = -1, stopfd_ = -1;
};
#endif  // __linux__

// ---- the WsAcceptChannel modes ----------------------------------------------------------

// A listener on net.tcp://127.0.0.1:0/ with a backlog of 4096 on the named backend.
class ws_listener {
 public:
  ~ws_listener() { free_all(); }

  // model: the callback model of an async mode (nullptr: sync). loop: an event loop the
  // application runs (embedded modes), or nullptr for openwws's own threads.
  std::string create(const std::string& backend, const WS_CALLBACK_MODEL* model, OPENWWS_EVENT_LOOP* loop) {
    HRESULT hr = WsCreateError(nullptr, 0, &error_);
    if (FAILED(hr)) return format("WsCreateError: 0x%08X", static_cast<unsigned>(hr));
    ULONG bl = listen_backlog;
    WS_CALLBACK_MODEL m = model ? *model : WS_LONG_CALLBACK;
    WS_LISTENER_PROPERTY props[3] = {{WS_LISTENER_PROPERTY_LISTEN_BACKLOG, &bl, sizeof bl}};
    ULONG n = 1;
    if (model) props[n++] = {WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, &m, sizeof m};
    if (loop) props[n++] = {OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, &loop, sizeof loop};
    hr = WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, n, nullptr, &listener_,
                          error_);
    if (FAILED(hr)) return describe("WsCreateListener", hr, error_);
    static const WCHAR url_text[] = u"net.tcp://127.0.0.1:0/";
    WS_STRING url = WS_STRING_VALUE(url_text);
    hr = WsOpenListener(listener_, &url, nullptr, error_);
    if (FAILED(hr)) return describe("WsOpenListener", hr, error_);
    hr = WsGetListenerProperty(listener_, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port_, sizeof port_, error_);
    if (FAILED(hr)) return describe("WsGetListenerProperty(LOCAL_PORT)", hr, error_);
    const char* name = nullptr;
    hr = WsGetListenerProperty(listener_, OPENWWS_LISTENER_PROPERTY_BACKEND_NAME, &name, sizeof name, error_);
    if (FAILED(hr)) return describe("WsGetListenerProperty(BACKEND_NAME)", hr, error_);
    // The runtime chooses its backend when the first object is created; a runtime left
    // over from an earlier run would still have the old one.
    if (backend != name) return format("the listener runs on backend '%s', not '%s'", name, backend.c_str());
    return "";
  }

  std::string close() {
    if (!listener_) return "";
    HRESULT hr = WsCloseListener(listener_, nullptr, error_);
    return FAILED(hr) ? describe("WsCloseListener", hr, error_) : "";
  }

  void free_all() {
    if (listener_) WsFreeListener(listener_);
    if (error_) WsFreeError(error_);
    listener_ = nullptr;
    error_ = nullptr;
  }

  WS_LISTENER* listener_ = nullptr;
  WS_ERROR* error_ = nullptr;  // the driving thread's
  USHORT port_ = 0;
};

// The accepting side's own channel and error object. After an accept: close, then
// reset (reuse) or free and create a new one (create).
struct accept_slot {
  WS_CHANNEL* channel = nullptr;
  WS_ERROR* error = nullptr;

  std::string init(WS_LISTENER* l) {
    HRESULT hr = WsCreateError(nullptr, 0, &error);
    if (FAILED(hr)) return format("WsCreateError: 0x%08X", static_cast<unsigned>(hr));
    hr = WsCreateChannelForListener(l, nullptr, 0, &channel, error);
    return FAILED(hr) ? describe("WsCreateChannelForListener", hr, error) : "";
  }
  std::string recycle(WS_LISTENER* l, bool create) {
    HRESULT hr = WsCloseChannel(channel, nullptr, error);
    if (FAILED(hr)) return describe("WsCloseChannel", hr, error);
    if (!create) {
      hr = WsResetChannel(channel, error);
      return FAILED(hr) ? describe("WsResetChannel", hr, error) : "";
    }
    WsFreeChannel(channel);
    channel = nullptr;
    hr = WsCreateChannelForListener(l, nullptr, 0, &channel, error);
    return FAILED(hr) ? describe("WsCreateChannelForListener", hr, error) : "";
  }
  void free_all() {
    if (channel) WsFreeChannel(channel);
    if (error) WsFreeError(error);
    channel = nullptr;
    error = nullptr;
  }
};

// One or N threads looping on a synchronous WsAcceptChannel, each with its channel.
class sync_server final : public threaded_server {
 public:
  sync_server(std::string backend, int threads, bool create) : backend_(std::move(backend)), create_(create) {
    nthreads_ = threads;
  }
  ~sync_server() override { close(); }
  std::string open(load& ld) override {
    ld_ = &ld;
    std::string e = ws_.create(backend_, nullptr, nullptr);
    port = ws_.port_;
    slots_.resize(static_cast<size_t>(nthreads_));
    for (auto& s : slots_)
      if (e.empty()) e = s.init(ws_.listener_);
    return e;
  }
  // The flag, then the abort: a pending accept ends with WS_E_OPERATION_ABORTED and a
  // later one with WS_E_OBJECT_FAULTED, both clean ends once the flag is set.
  void stop() override {
    stop_.store(true);
    if (ws_.listener_) WsAbortListener(ws_.listener_, nullptr);
  }
  void force() override { stop(); }
  std::string close() override {
    join();
    std::string e = ws_.close();
    for (auto& s : slots_) s.free_all();
    ws_.free_all();
    return e;
  }

 private:
  void run(int index) override {
    accept_slot& s = slots_[static_cast<size_t>(index)];
    for (std::uint64_t n = 0; n < max_per_loop && !stopping(); ++n) {
      HRESULT hr = WsAcceptChannel(ws_.listener_, s.channel, nullptr, s.error);
      if (FAILED(hr)) {
        std::string e = describe("WsAcceptChannel", hr, s.error);
        if (!stopping()) set_error(e);
        return;
      }
      ld_->accept_returned();
      if (std::string e = s.recycle(ws_.listener_, create_); !e.empty()) {
        if (!stopping()) set_error(e);
        return;
      }
      ld_->accepted.fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::string backend_;
  bool create_;
  ws_listener ws_;
  std::vector<accept_slot> slots_;
};

// An accept chain: each completion recycles the channel and starts the next accept. A
// WsAcceptChannel that returns S_OK completed synchronously (no callback will come) and
// is handled in the loop; WS_S_ASYNC means the callback will come. With a host (the
// embedded modes) the listener lives on the host's event loop and every callback runs
// on the host's thread; the driving thread's synchronous calls (open, close) are served
// there while it runs.
class async_server final : public server {
 public:
  async_server(std::string backend, WS_CALLBACK_MODEL model, bool create, std::unique_ptr<event_host> host = nullptr)
      : backend_(std::move(backend)), model_(model), create_(create), host_(std::move(host)) {}
  ~async_server() override { close(); }

  std::string open(load& ld) override {
    ld_ = &ld;
    if (host_) {
      if (std::string e = host_->start(); !e.empty()) return e;
    }
    std::string e = ws_.create(backend_, &model_, host_ ? host_->loop : nullptr);
    port = ws_.port_;
    if (e.empty()) e = slot_.init(ws_.listener_);
    ctx_.callback = on_complete;
    ctx_.callbackState = this;
    return e;
  }
  // The first accept runs on a thread of ours: under load it may complete synchronously
  // again and again, and then that thread carries the chain until a callback takes over.
  void start() override {
    starter_ = std::thread([this] { pump(); });
  }
  void stop() override {
    stop_.store(true);
    if (ws_.listener_) WsAbortListener(ws_.listener_, nullptr);
  }
  bool wait(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return ended_; });
  }
  void force() override { stop(); }
  std::string close() override {
    if (starter_.joinable()) starter_.join();
    // Waits until the last callback has returned, so nothing of ours runs after it.
    std::string e = ws_.close();
    slot_.free_all();
    ws_.free_all();
    if (host_) {
      if (std::string h = host_->stop(); e.empty()) e = h;
    }
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
    if (FAILED(hr)) return self->finish(hr, describe("WsAcceptChannel (callback)", hr, self->slot_.error));
    self->async_.fetch_add(1, std::memory_order_relaxed);
    if (!self->accepted()) return;
    self->pump();
  }

  bool accepted() {
    ld_->accept_returned();
    if (std::string e = slot_.recycle(ws_.listener_, create_); !e.empty()) {
      finish(E_FAIL, e);
      return false;
    }
    ld_->accepted.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void pump() {
    for (;;) {
      if (stop_.load(std::memory_order_relaxed) || ++issued_ > max_per_loop) return finish(S_FALSE, "");
      HRESULT hr = WsAcceptChannel(ws_.listener_, slot_.channel, &ctx_, slot_.error);
      if (hr == WS_S_ASYNC) return;
      if (FAILED(hr)) return finish(hr, describe("WsAcceptChannel", hr, slot_.error));
      sync_.fetch_add(1, std::memory_order_relaxed);
      if (!accepted()) return;
    }
  }

  // The chain is over. Stopping ends it with S_FALSE (the flag was seen first),
  // WS_E_OPERATION_ABORTED (a pending accept was aborted) or WS_E_OBJECT_FAULTED (an
  // accept started after the abort); anything else, or any end before stop(), is an error.
  void finish(HRESULT hr, const std::string& text) {
    std::lock_guard lock(mu_);
    bool stopping = stop_.load();
    bool clean = stopping && (hr == S_FALSE || hr == WS_E_OPERATION_ABORTED || hr == WS_E_OBJECT_FAULTED ||
                              hr == E_FAIL);  // E_FAIL: a recycle that met the abort
    if (!clean && error_.empty()) error_ = text.empty() ? "the accept chain ended before the run did" : text;
    ended_ = true;
    cv_.notify_all();
  }

  std::string backend_;
  WS_CALLBACK_MODEL model_;
  bool create_;
  std::unique_ptr<event_host> host_;  // before ws_: the listener goes first
  ws_listener ws_;
  accept_slot slot_;  // only the thread carrying the chain touches it
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

// A thread that drives an event loop as any non-libuv application would: poll() on
// the loop's descriptor for as long as OpenwwsGetEventLoopTimeout allows, then
// OpenwwsRunEventLoop. A pipe in the same poll() ends it; the thread frees the event
// loop on its way out.
class poll_host final : public event_host {
 public:
  ~poll_host() override { stop(); }

  std::string start() override {
    if (::pipe(stop_pipe_) != 0) return format("pipe: %s", std::strerror(errno));
    for (int fd : stop_pipe_) ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // no pipe2 on macOS
    WS_ERROR* error = nullptr;
    if (FAILED(WsCreateError(nullptr, 0, &error))) return "WsCreateError failed";
    HRESULT hr = OpenwwsCreateEventLoop(nullptr, &loop, error);
    if (SUCCEEDED(hr)) hr = OpenwwsGetEventLoopDescriptor(loop, &fd_, error);
    std::string e = FAILED(hr) ? describe("OpenwwsCreateEventLoop/OpenwwsGetEventLoopDescriptor", hr, error) : "";
    WsFreeError(error);
    if (!e.empty()) return e;
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::exception& ex) {
      return format("cannot start the host thread: %s", ex.what());
    }
    return "";
  }

  std::string stop() override {
    if (thread_.joinable()) {
      char c = 0;
      [[maybe_unused]] ssize_t r = ::write(stop_pipe_[1], &c, 1);
      thread_.join();
    }
    if (loop) OpenwwsFreeEventLoop(loop);  // not started: ours to free
    loop = nullptr;
    for (int& fd : stop_pipe_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    return error_;
  }

 private:
  void run() {
    pollfd p[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    for (;;) {
      int n = ::poll(p, 2, OpenwwsGetEventLoopTimeout(loop));
      if (n < 0 && errno != EINTR) {
        error_ = format("poll: %s", std::strerror(errno));
        break;
      }
      if (p[1].revents) break;
      OpenwwsRunEventLoop(loop, nullptr);
    }
    OpenwwsFreeEventLoop(loop);
    loop = nullptr;
  }

  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::string error_;  // the host thread's until joined
};

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
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

// CPU of the whole process, of the client threads and of this (driving) thread.
struct cpu_snapshot {
  double process = 0, clients = 0, driver = 0;
};

cpu_snapshot take_cpu(const std::vector<client_slot>& slots) {
  cpu_snapshot s;
  s.process = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  for (auto& c : slots)
    if (c.has_clock) s.clients += clock_seconds(c.cpu_clock);
  s.driver = clock_seconds(CLOCK_THREAD_CPUTIME_ID);
  return s;
}

// The slow clients of a slow-client row: connections that stay open all run and send
// nothing (silent) or only the preamble's first byte (trickle). The driving thread makes
// them before the server starts, so the server meets them first; they close with RST.
class slow_clients {
 public:
  ~slow_clients() { close_all(); }

  std::string open(USHORT port, int n, bool trickle, const std::string& preamble) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fds_.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return format("slow connection %d of %d: socket: %s", i + 1, n, std::strerror(errno));
      fds_.push_back(fd);
      timeval tv{0, 250000};  // as the clients': bounds the connect
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      if (connect_loopback(fd, sa) != 0)
        return format("slow connection %d of %d: connect: %s", i + 1, n, std::strerror(errno));
      if (trickle && ::send(fd, preamble.data(), 1, MSG_NOSIGNAL) != 1)
        return format("slow connection %d of %d: send: %s", i + 1, n, std::strerror(errno));
    }
    return "";
  }

  // How many the server has closed: a read that may not block finds their end (or reset).
  int closed_by_server() const {
    int k = 0;
    for (int fd : fds_) {
      char b;
      ssize_t n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++k;
    }
    return k;
  }

  void close_all() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
};

}  // namespace

std::unique_ptr<event_host> make_poll_host() { return std::make_unique<poll_host>(); }

std::unique_ptr<server> make_server(const config& c, const options& o, std::string& why) {
  if (c.clients == clients_kind::bare && c.m != mode::raw_accept4) {
    why = "bare clients only meet the raw accept4 server";
    return nullptr;
  }
  switch (c.m) {
    case mode::raw_accept4: return std::make_unique<raw_accept4_server>(c.clients != clients_kind::bare);
    case mode::raw_epoll:
#ifdef __linux__
      return std::make_unique<raw_epoll_server>();
#else
      why = "the raw epoll baseline exists on Linux only";
      return nullptr;
#endif
    case mode::raw_io_uring: return make_raw_io_uring_server(why);
    case mode::sync_one: return std::make_unique<sync_server>(c.backend, 1, c.create_per_accept);
    case mode::sync_many: return std::make_unique<sync_server>(c.backend, o.server_threads, c.create_per_accept);
    case mode::async_short: return std::make_unique<async_server>(c.backend, WS_SHORT_CALLBACK, c.create_per_accept);
    case mode::async_long: return std::make_unique<async_server>(c.backend, WS_LONG_CALLBACK, c.create_per_accept);
    case mode::raw_libuv: return make_raw_libuv_server(why);
    case mode::embedded_poll:
    case mode::embedded_uv: {
      // On a host loop every callback is WS_SHORT_CALLBACK, whatever the property says.
      std::unique_ptr<event_host> host = c.m == mode::embedded_poll ? make_poll_host() : make_uv_host(why);
      if (!host) return nullptr;
      return std::make_unique<async_server>(c.backend, WS_SHORT_CALLBACK, c.create_per_accept, std::move(host));
    }
  }
  why = "unknown mode";
  return nullptr;
}

// One run: server and clients start, a warm-up, then the measured window, then
// everything stops (clients first, so that nobody connects to a closing socket).
// Server CPU is the process's CPU less the client threads' and this thread's, all from
// the kernel's per-thread clocks (the same source as getrusage, in nanoseconds); it so
// includes the library's own threads, the host thread of the embedded modes and the
// raw libuv server's loop thread, and any that came and went during the window.
run_result measure(const config& c, const options& o, const pinning& pin) {
  run_result r;
  int fds_before = count_fds();
  if (!is_raw(c.m)) ::setenv("OPENWWS_BACKEND", c.backend.c_str(), 1);
  // Threads inherit the affinity of the thread that creates them: the server's threads
  // (ours, and the library's I/O threads) are all made from here, after this call.
  if (pin.on) set_thread_affinity(pin.server);

  load ld;
  double warm = warmup_seconds(o);
  ld.hard_deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                             std::chrono::duration<double>(o.seconds + warm + 30));
  std::vector<client_slot> slots(static_cast<size_t>(c.spare ? 1 : o.clients));
  // Room for every handshake of a run at well over 10^5 a second, up to 32 MiB: a longer
  // run pairs its first 2^21 handshakes only.
  if (slots.size() == 1)
    ld.track_latency(static_cast<std::size_t>(std::min((o.seconds + warm + 1) * 200'000, double(1 << 21))));
  for (auto& s : slots) s.samples.reserve(samples_per_client);
  std::vector<std::thread> clients;
  std::string why;
  auto srv = make_server(c, o, why);
  if (!srv) {
    r.error = why.empty() ? "cannot make the server" : why;
    if (pin.on) set_thread_affinity(pin.all);
    return r;
  }
  slow_clients slow;
  std::string e = srv->open(ld);
  if (c.clients != clients_kind::bare) ld.preamble = make_preamble(srv->port);
  if (e.empty() && is_slow(c.clients))
    e = slow.open(srv->port, o.slow, c.clients == clients_kind::trickle, ld.preamble);
  if (!e.empty()) {
    r.error = e;
    slow.close_all();
    srv->close();
    if (pin.on) set_thread_affinity(pin.all);
    return r;
  }
  srv->start();
  if (is_slow(c.clients)) {
    // The measured clients start once the server has taken the slow connections off its
    // accept queue (at most 1 s), so that the window sees them held, not queued.
    auto until = clock_type::now() + milliseconds(1000);
    int queued;
    while ((queued = accept_queue_length(srv->port)) > 0 && clock_type::now() < until)
      std::this_thread::sleep_for(milliseconds(2));
    r.slow_queue_left = std::max(queued, 0);
  }
  try {
    for (auto& s : slots) {
      clients.emplace_back(client_main, std::ref(ld), std::ref(s), srv->port, &pin);
      s.has_clock = ::pthread_getcpuclockid(clients.back().native_handle(), &s.cpu_clock) == 0;
    }
  } catch (const std::exception& ex) {
    r.error = format("cannot start a client thread: %s", ex.what());
  }
  auto ended_early = [&] { return srv->wait(milliseconds(0)); };
  auto t_start = clock_type::now();
  auto span = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
  bool full = r.error.empty() &&
              sleep_until(t_start + std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(warm)),
                          ended_early);

  // The kernel's counters bracket the measured window only: what happens at start and
  // stop does not touch the figures.
  listen_counters lc0 = read_listen_counters();
  double other0 = other_processes_cpu();
  cpu_snapshot s0 = take_cpu(slots);
  std::int64_t c0 = ld.accepted.load();
  auto t0 = clock_type::now();
  std::int64_t window_from = monotonic_ns();
  ld.measuring.store(true);
  if (full) full = sleep_until(t0 + span, ended_early);
  ld.measuring.store(false);
  std::int64_t window_to = monotonic_ns();
  std::int64_t c1 = ld.accepted.load();
  auto t1 = clock_type::now();
  cpu_snapshot s1 = take_cpu(slots);
  r.slow_closed = slow.closed_by_server();
  double other1 = other_processes_cpu();
  listen_counters lc1 = read_listen_counters();
  if (lc0.ok && lc1.ok) {
    r.listen_overflows = lc1.overflows - lc0.overflows;
    r.listen_drops = lc1.drops - lc0.drops;
  }

  r.accepts = c1 - c0;
  r.elapsed = seconds_between(t0, t1);
  r.rate = r.elapsed > 0 ? static_cast<double>(r.accepts) / r.elapsed : 0;
  r.client_cpu_s = s1.clients - s0.clients;
  r.server_cpu_s = (s1.process - s0.process) - r.client_cpu_s - (s1.driver - s0.driver);
  r.cpu_us_per_accept = r.accepts > 0 ? r.server_cpu_s * 1e6 / static_cast<double>(r.accepts) : NAN;
  r.other_cpu = r.elapsed > 0 ? std::max(0.0, other1 - other0) / r.elapsed : 0;

  ld.stop.store(true);
  for (auto& t : clients) t.join();
  slow.close_all();
  srv->stop();
  if (!srv->wait(milliseconds(5000))) {
    srv->force();
    if (!srv->wait(milliseconds(5000))) {
      std::fprintf(stderr, "openwws-bench: %s did not stop 10 s after its run; giving up\n", label(c, o).c_str());
      std::_Exit(3);  // its threads still use the objects: freeing them is not safe
    }
  }
  if (r.error.empty()) r.error = srv->error();
  if (r.error.empty() && !full) r.error = "the server stopped before the end of the run";
  if (std::string e = srv->close(); r.error.empty()) r.error = e;
  std::uint64_t sc = srv->sync_completions(), ac = srv->async_completions();
  if (sc + ac > 0) r.sync_fraction = static_cast<double>(sc) / static_cast<double>(sc + ac);
  srv.reset();
  if (pin.on) set_thread_affinity(pin.all);

  std::vector<double> us;
  int left_waiting = 0;
  for (auto& s : slots) {
    left_waiting += s.left_waiting;
    r.connect_errors += s.errors;
    if (s.errors) r.connect_errno = s.last_errno;
    r.handshake_failures += s.hs_failures;
    if (s.hs_failures)
      r.handshake_why = s.hs_errno ? format("%s: %s", s.hs_what, std::strerror(s.hs_errno)) : s.hs_what;
    r.ack_samples += s.seen;
    for (auto v : s.samples) us.push_back(v / 1000.0);
  }
  r.ack_p50_us = percentile(us, 50);
  r.ack_p99_us = percentile(us, 99);
  if (ld.latency_capacity) {
    std::vector<double> lat = accept_latencies_us(ld, window_from, window_to);
    r.accept_p50_us = percentile(lat, 50);
    r.accept_p99_us = percentile(lat, 99);
  }
  if (r.connect_errors && r.error.empty() && r.accepts == 0)
    r.error = format("every connect failed (last: %s)", std::strerror(r.connect_errno));
  // The server's count cannot tell an accept that acked from one that did not; the
  // clients can. A window without one completed handshake has no figure to give.
  if (r.ack_samples == 0 && r.error.empty())
    r.error = r.handshake_failures
                  ? format("no client completed its handshake in the window: %llu failed (last: %s)",
                           static_cast<unsigned long long>(r.handshake_failures), r.handshake_why.c_str())
                  : format("no client completed its handshake in the window (%d of %d still waited for the ack "
                           "at the end of the run)", left_waiting, o.clients);

  int fds_after = count_fds();
  if (fds_after != fds_before && r.error.empty())
    r.error = format("descriptor count went from %d to %d during the run", fds_before, fds_after);
  return r;
}

}  // namespace openwws::bench
