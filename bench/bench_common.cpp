// SPDX-License-Identifier: MIT
// openwws-bench: names of the configurations, /proc and clock readings, statistics.
#include "bench_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace openwws::bench {

double warmup_seconds(const options& o) {
  return o.warmup >= 0 ? o.warmup : std::clamp(o.seconds * 0.1, 0.01, 0.25);
}

bool is_raw(mode m) {
  return m == mode::raw_accept4 || m == mode::raw_epoll || m == mode::raw_io_uring || m == mode::raw_libuv;
}

bool is_embedded(mode m) { return m == mode::embedded_poll || m == mode::embedded_uv; }

bool is_slow(clients_kind k) { return k == clients_kind::silent || k == clients_kind::trickle; }

std::string mode_name(const config& c, const options& o) {
  // A raw server's name says whether it answers the handshake; the API modes always do.
  std::string ack = c.clients == clients_kind::bare ? "" : "+ack";
  switch (c.m) {
    case mode::raw_accept4: return "accept4" + ack;
    case mode::raw_epoll: return "epoll" + ack;
    case mode::raw_io_uring: return "io_uring" + ack;
    case mode::sync_one: return "sync";
    case mode::sync_many: return "sync-x" + std::to_string(o.server_threads);
    case mode::async_short: return "async-short";
    case mode::async_long: return "async-long";
    case mode::raw_libuv: return "libuv" + ack;
    case mode::embedded_poll: return "embedded-poll";
    case mode::embedded_uv: return "embedded-uv";
  }
  return "?";
}

std::string channel_name(const config& c) {
  if (is_raw(c.m)) return "-";
  return c.create_per_accept ? "create" : "reuse";
}

std::string clients_name(const config& c, const options& o) {
  if (c.spare) return "1, spare CPU";
  switch (c.clients) {
    case clients_kind::bare: return "bare";
    case clients_kind::handshake: return "handshake";
    case clients_kind::silent: return format("+%d silent", o.slow);
    case clients_kind::trickle: return format("+%d trickle", o.slow);
  }
  return "?";
}

std::string label(const config& c, const options& o) {
  std::string s = c.backend;
  s.append(" ").append(mode_name(c, o));
  if (!is_raw(c.m)) s.append("/").append(channel_name(c));
  if (c.clients == clients_kind::bare) s.append(" (bare clients)");
  if (is_slow(c.clients) || c.spare) s.append(" ").append(clients_name(c, o));
  return s;
}

// ---- the preamble ---------------------------------------------------------------------

std::string make_preamble(USHORT port) {
  std::string via = format("net.tcp://127.0.0.1:%u/", static_cast<unsigned>(port));
  // The Via's length is one byte of [MC-NMF]'s 7-bit varint: it is under 128.
  std::string p{'\x00', '\x01', '\x00', '\x01', '\x02', '\x02', static_cast<char>(via.size())};
  p += via;
  p += {'\x03', '\x08', '\x0C'};
  return p;
}

feed_result feed_preamble(const std::string& want, std::size_t& got, const char* data, std::size_t n) {
  if (n > want.size() - got || std::memcmp(want.data() + got, data, n) != 0) return feed_result::bad;
  got += n;
  return got == want.size() ? feed_result::complete : feed_result::more;
}

// ---- accept latency -------------------------------------------------------------------

void load::track_latency(std::size_t capacity) {
  connect_ns = std::make_unique<std::int64_t[]>(capacity);
  accept_ns = std::make_unique<std::int64_t[]>(capacity);
  latency_capacity = capacity;
}

void load::accept_returned() noexcept {
  if (latency_capacity == 0) return;
  std::uint64_t k = accepts_returned.fetch_add(1, std::memory_order_relaxed);
  if (k < latency_capacity) accept_ns[k] = monotonic_ns();
}

void load::handshake_done(std::int64_t connect_start_ns) noexcept {
  if (latency_capacity == 0) return;
  if (handshakes_done < latency_capacity) connect_ns[handshakes_done] = connect_start_ns;
  ++handshakes_done;
}

// Read after the threads are joined. Pairs that cross (two server threads returning out
// of order) can only lengthen a figure or make it negative; negative ones are dropped.
std::vector<double> accept_latencies_us(const load& ld, std::int64_t from_ns, std::int64_t to_ns) {
  std::vector<double> us;
  std::uint64_t n = std::min({ld.handshakes_done, ld.accepts_returned.load(), std::uint64_t{ld.latency_capacity}});
  for (std::uint64_t k = 0; k < n; ++k) {
    std::int64_t start = ld.connect_ns[k], d = ld.accept_ns[k] - start;
    if (start >= ld.first_failure_ns) break;
    if (start >= from_ns && start <= to_ns && d >= 0) us.push_back(static_cast<double>(d) / 1000.0);
  }
  return us;
}

// ---- clocks, threads ------------------------------------------------------------------

std::int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

pid_t this_tid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

double clock_seconds(clockid_t id) {
  timespec ts{};
  if (::clock_gettime(id, &ts) != 0) return NAN;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool set_thread_affinity(const cpu_set_t& set) { return ::sched_setaffinity(0, sizeof set, &set) == 0; }

namespace {

// The whole of a small /proc file, or "" (one read: these files are generated at once).
std::string slurp(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  char buf[8192];
  for (int i = 0; i < 64; ++i) {  // bounded: /proc/net/netstat is a few kB
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// The fields of a /proc/<pid>/stat line after "(comm)", which may itself hold spaces
// and parentheses: fields[0] is the state (field 3 of proc(5)).
std::vector<std::string> stat_fields(const std::string& line) {
  std::vector<std::string> f;
  auto close = line.rfind(')');
  if (close == std::string::npos) return f;
  std::istringstream in(line.substr(close + 1));
  for (std::string s; in >> s;) f.push_back(s);
  return f;
}

}  // namespace

listen_counters read_listen_counters() {
  listen_counters c;
  std::istringstream in(slurp("/proc/net/netstat"));
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    n >> name;
    v >> value;
    while (n >> name && v >> value) {
      if (name == "ListenOverflows") c.overflows = std::strtoull(value.c_str(), nullptr, 10);
      if (name == "ListenDrops") c.drops = std::strtoull(value.c_str(), nullptr, 10);
    }
    c.ok = true;
    break;
  }
  return c;
}

int accept_queue_length(USHORT port) {
  // For a socket in LISTEN (st 0A), rx_queue is the accept queue's length. Listening
  // sockets come first in the file, so the loop usually stops within a few lines.
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  std::string local_suffix = format(":%04X", static_cast<unsigned>(port));
  for (int i = 0; i < 1000000 && std::getline(in, line); ++i) {
    std::istringstream f(line);
    std::string slot, local, remote, st, queues;
    if (!(f >> slot >> local >> remote >> st >> queues)) continue;
    if (st != "0A" || local.size() < local_suffix.size() ||
        local.compare(local.size() - local_suffix.size(), local_suffix.size(), local_suffix) != 0)
      continue;
    auto colon = queues.find(':');
    return colon == std::string::npos ? -1 : static_cast<int>(std::strtol(queues.c_str() + colon + 1, nullptr, 16));
  }
  return -1;
}

double other_processes_cpu() {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  DIR* d = ::opendir("/proc");
  if (!d) return NAN;
  pid_t self = ::getpid();
  double ticks = 0;
  int seen = 0;
  while (dirent* e = ::readdir(d)) {
    if (++seen > 100000) break;  // bounded
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end || pid <= 0 || pid == self) continue;
    std::string path = format("/proc/%ld/stat", pid);
    auto f = stat_fields(slurp(path.c_str()));
    // proc(5): flags is field 9, utime 14, stime 15, cutime 16, cstime 17; f[0] is field 3.
    if (f.size() < 15) continue;
    unsigned long flags = std::strtoul(f[6].c_str(), nullptr, 10);
    if (flags & 0x00200000) continue;  // PF_KTHREAD
    for (int i = 11; i <= 14; ++i) ticks += std::strtod(f[i].c_str(), nullptr);
  }
  ::closedir(d);
  return ticks / static_cast<double>(hz > 0 ? hz : 100);
}

bool others_asleep(pid_t except) {
  DIR* d = ::opendir("/proc/self/task");
  if (!d) return true;
  bool all = true;
  int seen = 0;
  while (dirent* e = ::readdir(d)) {
    if (++seen > 10000) break;
    char* end = nullptr;
    long tid = std::strtol(e->d_name, &end, 10);
    if (!end || *end || tid <= 0 || tid == except) continue;
    std::string path = format("/proc/self/task/%ld/stat", tid);
    auto f = stat_fields(slurp(path.c_str()));
    if (f.empty()) continue;  // the thread has just gone
    if (f[0] != "S") {
      all = false;
      break;
    }
  }
  ::closedir(d);
  return all;
}

bool wait_others_asleep(pid_t except, milliseconds limit) {
  auto deadline = clock_type::now() + limit;
  // Two readings in a row, 50 us apart, so that a thread caught between two waits
  // (e.g. the I/O thread between its command queue and the kernel) is not taken as idle.
  int quiet = 0;
  while (clock_type::now() < deadline) {
    if (others_asleep(except)) {
      if (++quiet >= 2) return true;
    } else {
      quiet = 0;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return false;
}

// One condition variable for every counter (std::atomic::wait has no timeout, and a
// futex exists on Linux only). Waiters re-check their own counter, so a wake meant for
// another counter costs a spurious wake-up, never a lost one: wake_all takes the mutex
// after the store, so a waiter either sees the new value or is already waiting.
// The latencies measured never include this wait: t1 is taken before wake_all.
namespace {
std::mutex counter_mu;
std::condition_variable counter_cv;
}  // namespace

bool wait_at_least(std::atomic<int>& counter, int want, milliseconds limit) {
  std::unique_lock lock(counter_mu);
  return counter_cv.wait_for(lock, limit, [&] { return counter.load(std::memory_order_acquire) >= want; });
}

void wake_all(std::atomic<int>&) {
  { std::lock_guard lock(counter_mu); }
  counter_cv.notify_all();
}

// ---- small helpers --------------------------------------------------------------------

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

namespace {

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

}  // namespace

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

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

double percentile(std::vector<double> v, double p) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  if (p == 50) {
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

}  // namespace openwws::bench
