// SPDX-License-Identifier: MIT
// openwws-bench: accepts per second through WsAcceptChannel in every mode (on openwws's
// own threads and embedded in a host's event loop), on every available I/O backend,
// next to raw syscall loops and a raw libuv server in the same run; and the latency of
// WsAbortListener / WsCloseListener ending a pending accept, next to the raw mechanism.
//
// How throughput is measured. A run is one configuration for a fixed time: a built-in
// load generator of K client threads connects to 127.0.0.1 (blocking connect), sends the
// net.tcp preamble, waits for the 0x0B ack and closes with RST, as fast as it can; the
// server accepts, reads the preamble, acks and closes (WsAcceptChannel does the middle
// part itself). Its figure is the accepts completed in the measured window (after a
// warm-up) over the window's length. A repetition runs every configuration once, in
// groups of at most four, with a raw accept4+ack run (the same work in a blocking loop)
// before each group and after the last: every run is compared with the mean of the
// reference runs on either side of it, so that slow drifts of the machine cancel out.
// Group order and the order within groups rotate from one repetition to the next.
// Server CPU is every thread's CPU but the client threads' and the driver's (see
// measure()); connect-to-ack times are sampled by the clients during the window. Two
// kinds of rows differ in their clients: raw accept4 with bare clients (connect, close)
// shows what the handshake costs; the slow-client rows hold --slow-clients connections
// open beside the measured clients, silent or trickling (bench_servers.cpp).
//
// How cancel latency is measured: see bench_cancel.cpp; every kind runs in two fixed
// placements (struct placement), all threads on one CPU and canceller apart from the
// waiters, in blocks interleaved like the runs.
//
// Backends: the library picks its backend (OPENWWS_BACKEND) when the first object is
// made and keeps it while any exists; every run frees all its objects, so one process
// can run all backends, interleaved. A run checks the backend the listener reports.
// The embedded modes make an event loop of their own per run (OpenwwsCreateEventLoop,
// which picks its backend the same way; embedded-uv: libuv's, on the host's uv loop)
// and a host thread that runs it; their figures include that thread's CPU.
//
// Bounds: every loop is bounded in count and time; a watchdog ends the process if the
// whole benchmark overruns twice its estimate. The slow connections are bounded by
// --slow-clients (at most 3000) and RLIMIT_NOFILE, and closed at the end of their run.
#include "bench_common.h"

#include "platform/select_backend.h"

#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace openwws::bench {

namespace {

// ---- options ------------------------------------------------------------------------

void usage(std::FILE* f) {
  std::fprintf(f,
               "usage: openwws-bench [options]\n"
               "  --seconds S         measured length of each throughput run (default 2; --quick 0.12)\n"
               "  --warmup S          warm-up before each run (default: a tenth of --seconds, 0.01-0.25)\n"
               "  --reps N            interleaved repetitions of every configuration (default 5; --quick 3)\n"
               "  --clients K         client threads of the load generator (default 2; alias --connections)\n"
               "  --server-threads N  threads of the sync-xN mode, all on one listener (default 2)\n"
               "  --slow-clients N    stalled connections in the slow-client rows (default 1000; 0: no such rows)\n"
               "  --slow-kind KIND    slow-client rows: 'silent', 'trickle' or 'both' (default both; --quick silent)\n"
               "  --backend NAME      only this backend (default: every available one); raw rows always run\n"
               "  --pin               server threads on some CPUs, client threads on the others\n"
               "  --load WHICH        'saturated' (--clients clients), 'spare' (one client, server and client\n"
               "                      pinned to CPUs apart) or 'both' (default)\n"
               "  --cancel-tries N    tries per cancel-latency kind (default 1000; --quick 100)\n"
               "  --only WHAT         'throughput' or 'cancel': run only that part\n"
               "  --json FILE         also write every figure as JSON\n"
               "  --quick             a short run (about 40 s on 2 CPUs): every mode, fewer samples\n"
               "Clients connect, send the net.tcp preamble and wait for the 0x0B ack. Throughput modes: raw\n"
               "accept4+ack (accept4, read the preamble, write the ack, close, in a blocking loop: the reference),\n"
               "raw epoll+ack, io_uring+ack (multishot accept), libuv+ack (uv_listen/uv_accept), raw accept4 with\n"
               "bare clients (connect, close); per backend sync (1 thread), sync-xN, async-short, async-long on\n"
               "openwws's own threads, embedded-poll (an accept chain on a host loop a thread drives with poll()\n"
               "and OpenwwsRunEventLoop) and, on libuv, embedded-uv (the same on a libuv loop a thread runs with\n"
               "uv_run); each with channel reuse and create/free. Slow-client rows: raw epoll+ack, and sync and\n"
               "async-short per backend, with --slow-clients connections that send nothing (silent) or only the\n"
               "preamble's first byte (trickle) open beside the measured clients all run. Spare-CPU rows: one\n"
               "client, server and client pinned to CPUs apart; raw accept4+ack (their reference) and epoll+ack,\n"
               "and sync, sync-xN, async-short, async-long per backend, with the accept latency (the client's\n"
               "connect() to the server's accept returning).\n");
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
  bool seconds_set = false, reps_set = false, tries_set = false, warmup_set = false, kind_set = false;
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
      seconds_set = true;
    } else if (arg == "--warmup") {
      if (!need() || !parse_double(value.c_str(), o.warmup) || !(o.warmup >= 0) || o.warmup > 60)
        return bad("a number of seconds in [0, 60]");
      warmup_set = true;
    } else if (arg == "--reps") {
      if (!need() || !parse_int(value.c_str(), o.reps) || o.reps < 1 || o.reps > 1000)
        return bad("a count from 1 to 1000");
      reps_set = true;
    } else if (arg == "--clients" || arg == "--connections") {
      if (!need() || !parse_int(value.c_str(), o.clients) || o.clients < 1 || o.clients > 256)
        return bad("a count from 1 to 256");
    } else if (arg == "--server-threads") {
      if (!need() || !parse_int(value.c_str(), o.server_threads) || o.server_threads < 2 || o.server_threads > 64)
        return bad("a count from 2 to 64");
    } else if (arg == "--slow-clients") {
      // Each costs two descriptors here, and all must fit in the accept queue at once.
      if (!need() || !parse_int(value.c_str(), o.slow) || o.slow > 3000) return bad("a count from 0 to 3000");
    } else if (arg == "--slow-kind") {
      if (!need() || (value != "silent" && value != "trickle" && value != "both"))
        return bad("'silent', 'trickle' or 'both'");
      o.slow_silent = value != "trickle";
      o.slow_trickle = value != "silent";
      kind_set = true;
    } else if (arg == "--cancel-tries") {
      if (!need() || !parse_int(value.c_str(), o.cancel_tries) || o.cancel_tries < 1 || o.cancel_tries > 100000)
        return bad("a count from 1 to 100000");
      tries_set = true;
    } else if (arg == "--backend") {
      if (!need() || value.empty()) return bad("a backend name");
      o.backend = value;
    } else if (arg == "--json") {
      if (!need() || value.empty()) return bad("a file name");
      o.json_path = value;
    } else if (arg == "--only") {
      if (!need() || (value != "throughput" && value != "cancel")) return bad("'throughput' or 'cancel'");
      o.throughput = value == "throughput";
      o.cancel = value == "cancel";
    } else if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--load") {
      if (!need() || (value != "saturated" && value != "spare" && value != "both"))
        return bad("'saturated', 'spare' or 'both'");
      o.saturated = value != "spare";
      o.spare = value != "saturated";
    } else if (arg == "--pin") {
      o.pin = true;
    } else {
      std::fprintf(stderr, "openwws-bench: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (o.quick) {
    // Shorter than before the handshake rows: the slow-client rows and the bare
    // baseline have to fit in the same 30 s.
    if (!seconds_set) o.seconds = 0.12;
    if (!warmup_set) o.warmup = 0.04;
    if (!reps_set) o.reps = 3;
    if (!tries_set) o.cancel_tries = 100;
    if (!kind_set) o.slow_trickle = false;
  }
  return 0;
}

// ---- the machine ----------------------------------------------------------------------

struct machine_info {
  long nproc = 0;
  int usable = 0;
  std::string cpu = "unknown";
  bool virtual_machine = false;
  std::string kernel = "unknown";
  double mem_gib = 0;
  double load1 = -1;
  double busy_before = -1;  // other processes' CPU just before the start, in CPUs
};

machine_info read_machine() {
  machine_info m;
  m.nproc = ::sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) m.usable = CPU_COUNT(&set);
  std::ifstream cpuinfo("/proc/cpuinfo");
  bool have_model = false;
  for (std::string line; std::getline(cpuinfo, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 1 < line.size() ? line.substr(line.find_first_not_of(" \t", colon + 1)) : "";
    if (!have_model && (key == "model name" || key == "Hardware" || key == "cpu model")) {
      m.cpu = value;
      have_model = true;
    }
    if (key == "flags" && (" " + value + " ").find(" hypervisor ") != std::string::npos) m.virtual_machine = true;
  }
  utsname u{};
  if (::uname(&u) == 0) m.kernel = format("%s %s %s", u.sysname, u.release, u.machine);
  struct sysinfo si{};
  if (::sysinfo(&si) == 0) m.mem_gib = static_cast<double>(si.totalram) * si.mem_unit / (1024.0 * 1024 * 1024);
  std::ifstream loadavg("/proc/loadavg");
  if (!(loadavg >> m.load1)) m.load1 = -1;
  return m;
}

std::string machine_line(const machine_info& m) {
  return format("%ld CPUs (%d usable), %s%s, %.0f GiB, %s", m.nproc, m.usable, m.cpu.c_str(),
                m.virtual_machine ? " (virtual machine)" : "", m.mem_gib, m.kernel.c_str());
}

// Other processes' CPU over `seconds`, in CPUs.
double sample_other_load(double seconds) {
  double a = other_processes_cpu();
  auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  double b = other_processes_cpu();
  double dt = std::chrono::duration<double>(clock_type::now() - t0).count();
  return std::isfinite(a) && std::isfinite(b) && dt > 0 ? std::max(0.0, b - a) / dt : -1;
}

// The usable CPUs split in two, the server's half and the clients': with --pin for the
// saturated rows (wanted), always for the spare ones. why_not: what a warning says when
// there are fewer than two CPUs.
pinning make_pinning(bool wanted, const char* why_not, std::vector<std::string>& warnings) {
  pinning p;
  if (::sched_getaffinity(0, sizeof p.all, &p.all) != 0) CPU_ZERO(&p.all);
  if (!wanted) return p;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &p.all)) cpus.push_back(c);
  if (cpus.size() < 2) {
    warnings.push_back(why_not);
    return p;
  }
  CPU_ZERO(&p.server);
  CPU_ZERO(&p.client);
  size_t half = (cpus.size() + 1) / 2;
  std::string s, c;
  for (size_t i = 0; i < cpus.size(); ++i) {
    auto& list = i < half ? s : c;
    CPU_SET(cpus[i], i < half ? &p.server : &p.client);
    if (!list.empty()) list += ',';  // not `"," + to_string(..)`: GCC 12 warns (-Wrestrict) falsely there
    list += std::to_string(cpus[i]);
  }
  p.on = true;
  p.describe = "server on CPU " + s + ", clients on CPU " + c;
  return p;
}

// Ends the process if the benchmark runs far past its estimate (a hang somewhere).
class watchdog {
 public:
  explicit watchdog(double seconds)
      : thread_([this, seconds] {
          std::unique_lock lock(mu_);
          auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                  std::chrono::duration<double>(seconds));
          if (!cv_.wait_until(lock, deadline, [&] { return done_; })) {
            std::fprintf(stderr, "\nopenwws-bench: still running %.0f s after the start (twice the estimate); "
                                 "something hangs: giving up\n", seconds);
            std::_Exit(3);
          }
        }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// ---- progress -------------------------------------------------------------------------

class progress {
 public:
  progress() : tty_(::isatty(2) == 1), start_(clock_type::now()) {}
  // One line, rewritten in place on a terminal. Elsewhere (a log) each call that is
  // not transient prints a line of its own, and transient ones print nothing.
  void show(const std::string& text, double fraction_done, bool transient = false) {
    double elapsed = std::chrono::duration<double>(clock_type::now() - start_).count();
    std::string eta;
    if (fraction_done > 0.02) eta = format("  ~%.0f s left", elapsed / fraction_done - elapsed);
    if (tty_) {
      std::fprintf(stderr, "\r\033[K[%3.0f%%] %s%s", 100 * fraction_done, text.c_str(), eta.c_str());
    } else if (!transient) {
      std::fprintf(stderr, "[%3.0f%%] %s\n", 100 * fraction_done, text.c_str());
    }
    std::fflush(stderr);
  }
  void note(const std::string& text) {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", text.c_str());
  }
  void end() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  bool tty_;
  clock_type::time_point start_;
};

// ---- throughput: plan, runs, statistics -------------------------------------------------

struct planned {
  config c;
  int rep = 0;
  bool reference = false;  // a raw accept4+ack run that others are compared with
};

bool same(const config& a, const config& b) {
  return a.backend == b.backend && a.m == b.m && a.create_per_accept == b.create_per_accept &&
         a.clients == b.clients && a.spare == b.spare;
}

// The reference: the blocking loop doing what a listener must do per connection (accept4,
// read the preamble, write the ack, close), met by the same handshake clients as every row.
const config accept4_config{"raw", mode::raw_accept4, false, clients_kind::handshake};
// The same with one client and CPU to spare: the reference of the spare rows.
const config accept4_spare_config{"raw", mode::raw_accept4, false, clients_kind::handshake, true};
const config& reference_of(const config& c) { return c.spare ? accept4_spare_config : accept4_config; }
#ifdef __linux__
constexpr bool have_raw_epoll = true;
#else
constexpr bool have_raw_epoll = false;  // an epoll baseline needs epoll
#endif

// The API modes on one backend: its own threads, then embedded in a host's loop.
// embedded-uv runs on the libuv backend only: a libuv host loop takes libuv's backend.
std::vector<mode> api_modes(const std::string& backend, bool have_uv) {
  std::vector<mode> v{mode::sync_one, mode::sync_many, mode::async_short, mode::async_long, mode::embedded_poll};
  if (backend == "libuv" && have_uv) v.push_back(mode::embedded_uv);
  return v;
}

// The slow-client kinds asked for (none when --slow-clients is 0).
std::vector<clients_kind> slow_kinds(const options& o) {
  std::vector<clients_kind> v;
  if (o.slow > 0 && o.saturated && o.slow_silent) v.push_back(clients_kind::silent);
  if (o.slow > 0 && o.saturated && o.slow_trickle) v.push_back(clients_kind::trickle);
  return v;
}

// Every configuration but the reference: the other raw baselines (accept4 with bare
// clients shows what the handshake itself costs), each backend's modes, then the
// slow-client rows. Those take the raw server that can hold idle connections (a blocking
// loop would wait on the first silent one for good) and one sync and one async mode per
// backend, reusing the channel.
std::vector<config> measured_configs(const std::vector<std::string>& backends, bool have_uring, bool have_uv,
                                     const options& o) {
  const auto hs = clients_kind::handshake;
  std::vector<config> v;
  if (o.spare) {
    // One client: what a sync or LONG accept costs when it has to wait for its connection.
    if (have_raw_epoll) v.push_back({"raw", mode::raw_epoll, false, hs, true});
    for (auto& b : backends)
      for (mode m : {mode::sync_one, mode::sync_many, mode::async_short, mode::async_long})
        v.push_back({b, m, false, hs, true});
  }
  if (!o.saturated) return v;
  v.push_back({"raw", mode::raw_accept4, false, clients_kind::bare});
  if (have_raw_epoll) v.push_back({"raw", mode::raw_epoll, false, hs});
  if (have_uring) v.push_back({"raw", mode::raw_io_uring, false, hs});
  if (have_uv) v.push_back({"raw", mode::raw_libuv, false, hs});
  for (auto& b : backends)
    for (mode m : api_modes(b, have_uv))
      for (bool create : {false, true}) v.push_back({b, m, create, hs});
  for (clients_kind k : slow_kinds(o)) {
    if (have_raw_epoll) v.push_back({"raw", mode::raw_epoll, false, k});
    for (auto& b : backends)
      for (mode m : {mode::sync_one, mode::async_short}) v.push_back({b, m, false, k});
  }
  return v;
}

std::vector<config> all_configs(const std::vector<std::string>& backends, bool have_uring, bool have_uv,
                                const options& o) {
  std::vector<config> v;
  if (o.saturated) v.push_back(accept4_config);
  for (auto& c : measured_configs(backends, have_uring, have_uv, o))
    if (!c.spare) v.push_back(c);
  if (!o.spare) return v;
  v.push_back(accept4_spare_config);  // the spare rows last, in a block of their own
  for (auto& c : measured_configs(backends, have_uring, have_uv, o))
    if (c.spare) v.push_back(c);
  return v;
}

template <typename T>
void rotate_by(std::vector<T>& v, int r) {
  if (!v.empty()) std::rotate(v.begin(), v.begin() + (static_cast<size_t>(r) % v.size()), v.end());
}

// Groups of at most four, as even as they come: the raw baselines, the API modes, then
// the slow-client rows, each in the order of measured_configs.
std::vector<std::vector<config>> make_groups(const std::vector<std::string>& backends, bool have_uring,
                                             bool have_uv, const options& o) {
  std::vector<config> raw, api, slow, spare;
  for (auto& c : measured_configs(backends, have_uring, have_uv, o))
    (c.spare ? spare : is_slow(c.clients) ? slow : is_raw(c.m) ? raw : api).push_back(c);
  std::vector<std::vector<config>> groups;
  for (auto* part : {&raw, &api, &slow, &spare}) {
    size_t n = part->size(), k = (n + 3) / 4;
    for (size_t g = 0, at = 0; g < k; ++g) {
      size_t size = n / k + (g < n % k ? 1 : 0);
      groups.emplace_back(part->begin() + static_cast<long>(at), part->begin() + static_cast<long>(at + size));
      at += size;
    }
  }
  return groups;
}

std::vector<planned> make_plan(const std::vector<std::string>& backends, bool have_uring, bool have_uv,
                               const options& o) {
  std::vector<planned> plan;
  for (int r = 0; r < o.reps; ++r) {
    auto groups = make_groups(backends, have_uring, have_uv, o);
    rotate_by(groups, r);
    for (auto& g : groups) {
      rotate_by(g, r);
      plan.push_back({reference_of(g.front()), r, true});
      for (auto& c : g) plan.push_back({c, r, false});
    }
  }
  // Every run has a reference run of its kind after it too.
  if (o.saturated) plan.push_back({accept4_config, o.reps - 1, true});
  if (o.spare) plan.push_back({accept4_spare_config, o.reps - 1, true});
  return plan;
}

struct row {
  config c;
  std::vector<double> rates, ratios, cpu_us, cpu_ratios, p50s, p99s, sync_fractions, other_cpu;
  std::vector<double> accept_p50s, accept_p99s;  // spare rows: connect to the accept's return
  std::uint64_t overflows = 0, drops = 0, connect_errors = 0, handshake_failures = 0;
  int connect_errno = 0;
  std::string handshake_why;
  int failed_runs = 0;
  int slow_closed = 0, slow_queue_left = 0;  // the most of any run
};

double min_of(const std::vector<double>& v) {
  double m = NAN;
  for (double x : v)
    if (std::isfinite(x) && !(x >= m)) m = x;
  return m;
}

double max_of(const std::vector<double>& v) {
  double m = NAN;
  for (double x : v)
    if (std::isfinite(x) && !(x <= m)) m = x;
  return m;
}

// Median absolute deviation.
double mad(const std::vector<double>& v) {
  double m = median(v);
  std::vector<double> d;
  for (double x : v) d.push_back(std::fabs(x - m));
  return median(d);
}

// ---- cancel latency -----------------------------------------------------------------

struct cancel_kind {
  std::string backend;  // "raw" for the mechanisms
  std::string operation;
  cancel_how how = cancel_how::sync;
  bool close = false;
  int raw = 0;  // raw kinds: 1 eventfd wake, 2 io_uring cancel
};

struct cancel_row {
  cancel_kind k;
  size_t place = 0;  // index into the placements
  std::vector<double> us;
  int unsettled = 0;
  std::string error;
};

std::string reference_for(const std::string& backend) {
  return backend == "io_uring" ? "io_uring cancel" : "eventfd wake";
}

std::vector<cancel_kind> cancel_kinds(const std::vector<std::string>& backends) {
  std::vector<cancel_kind> v{{"raw", "eventfd wake", cancel_how::sync, false, 1},
                             {"raw", "io_uring cancel", cancel_how::sync, false, 2}};
  for (auto& b : backends)
    for (auto [how, name] : {std::pair{cancel_how::sync, "sync"}, std::pair{cancel_how::async_short, "async-short"},
                             std::pair{cancel_how::async_long, "async-long"}})
      for (bool close : {false, true})
        v.push_back({b, std::string(name) + (close ? " WsCloseListener" : " WsAbortListener"), how, close, 0});
  return v;
}

// One CPU for everything; and, given two CPUs, the canceller on one and the waiters on
// another.
std::vector<placement> make_placements(const pinning& pin, std::vector<std::string>& warnings) {
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &pin.all)) cpus.push_back(c);
  std::vector<placement> v;
  if (cpus.empty()) return v;
  placement one;
  one.name = "one CPU";
  one.all = pin.all;
  CPU_SET(cpus[0], &one.waiters);
  CPU_SET(cpus[0], &one.canceller);
  v.push_back(one);
  if (cpus.size() < 2) {
    warnings.push_back("one usable CPU: cancel latency across two CPUs is not measured");
    return v;
  }
  placement two;
  two.name = "two CPUs";
  two.all = pin.all;
  CPU_SET(cpus[1], &two.waiters);
  CPU_SET(cpus[0], &two.canceller);
  v.push_back(two);
  return v;
}

// The slow-client target's bound on the good clients' p99 delay, microseconds.
constexpr double slow_delay_limit_us = 3000;

// ---- output helpers -----------------------------------------------------------------

std::string num(double x, const char* fmt = "%.0f") { return std::isfinite(x) ? format(fmt, x) : "-"; }

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

std::string jnum(double x) { return std::isfinite(x) ? format("%.4f", x) : "null"; }

std::string jarray(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + jnum(v[i]);
  return s + "]";
}

std::string jstrings(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + json_escape(v[i]) + "\"";
  return s + "]";
}

// Each slow connection costs two descriptors in this process, the client's end and the
// server's. Raises the soft RLIMIT_NOFILE to the hard one and, if that is still short,
// cuts o.slow; returns a note saying so, or "".
std::string fit_slow_clients(options& o) {
  if (o.slow == 0) return "";
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return format("getrlimit(RLIMIT_NOFILE): %s", std::strerror(errno));
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised{rl.rlim_max, rl.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  constexpr long reserve = 512;  // the clients', the servers', the library's and libuv's own
  long limit = static_cast<long>(std::min<rlim_t>(rl.rlim_cur, 1 << 20));
  int fit = static_cast<int>(std::max(0L, (limit - count_fds() - reserve) / 2));
  if (o.slow <= fit) return "";
  std::string note = format("RLIMIT_NOFILE allows %ld descriptors (hard limit): the slow-client rows use %d "
                            "connections, not %d", limit, fit, o.slow);
  o.slow = fit;
  return note;
}

// ---- main -----------------------------------------------------------------------------

int run(options o) {
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
  std::string uring_why, uv_why;
  bool have_uring = raw_io_uring_available(uring_why);
  bool have_uv = libuv_available(uv_why);

  std::vector<std::string> warnings, errors;
  std::string slow_note = o.throughput ? fit_slow_clients(o) : "";
  if (!slow_note.empty()) warnings.push_back(slow_note);
  machine_info m = read_machine();
  m.busy_before = sample_other_load(o.quick ? 0.3 : 1.0);
  pinning pin = make_pinning(o.pin, "--pin needs at least 2 usable CPUs: not pinned", warnings);
  pinning apart = make_pinning(o.throughput && o.spare,
                               "the spare-CPU rows need at least 2 usable CPUs: skipped", warnings);
  if (!apart.on) o.spare = false;
  if (!o.saturated && !o.spare) o.throughput = false;
  std::string backend_list;
  for (auto& b : backends) backend_list += (backend_list.empty() ? "" : ", ") + b;
#ifdef NDEBUG
  const char* build = "release (NDEBUG)";
#else
  const char* build = "debug (assertions on: figures are not representative)";
#endif
  std::printf("openwws-bench %s: accepts/s on 127.0.0.1 through WsAcceptChannel, next to raw syscall loops\n",
              OPENWWS_VERSION);
  std::printf("machine: %s\n", machine_line(m).c_str());
  std::printf("build:   %s, compiler %s\n", build, __VERSION__);
  std::printf("load:    1-min load average %.2f; other processes used %.0f%% of a CPU just before the start\n",
              m.load1, 100 * std::max(0.0, m.busy_before));
  if (o.throughput) {
    std::printf("run:     backends %s; %d client threads, 1 in the spare-CPU rows (blocking connect, preamble, wait "
                "for the ack, RST close); "
                "%d reps of %.2f s runs (+%.2f s warm-up); %s\n",
                backend_list.c_str(), o.clients, o.reps, o.seconds, warmup_seconds(o),
                pin.on ? pin.describe.c_str() : "not pinned");
    const char* kinds = o.slow_silent && o.slow_trickle ? "silent or trickling"
                        : o.slow_silent                 ? "silent"
                                                        : "trickling";
    if (slow_kinds(o).empty())
      std::printf("slow:    no slow-client rows\n");
    else
      std::printf("slow:    slow-client rows with %d %s connections open beside the clients\n", o.slow, kinds);
    if (!slow_note.empty()) std::printf("note:    %s\n", slow_note.c_str());
    if (o.spare)
      std::printf("spare:   rows with one client and CPU to spare: %s\n", apart.describe.c_str());
  }
  if (o.cancel) std::printf("cancel:  %d tries per kind\n", o.cancel_tries);
  if (!have_uring) warnings.push_back("raw io_uring baselines skipped: " + uring_why);
  if (!have_uv) warnings.push_back("raw libuv baseline and embedded-uv mode skipped: " + uv_why);
  // The load average lags by minutes and counts an earlier benchmark too; what other
  // processes use right now decides. A high average alone is only mentioned.
  if (m.busy_before > 0.1) {
    std::string w = format("the machine is busy (other processes at %.0f%% of a CPU, 1-min load average %.2f): "
                           "figures will be noisy; close other work and run again",
                           100 * m.busy_before, m.load1);
    warnings.push_back(w);
    std::fprintf(stderr, "openwws-bench: warning: %s\n", w.c_str());
  } else if (m.load1 > 0.5) {
    std::printf("note:    the load average is above 0.5 but nothing else runs now (an earlier run?)\n");
  }
  std::printf("\n");
  std::fflush(stdout);

  std::vector<planned> plan;
  if (o.throughput) plan = make_plan(backends, have_uring, have_uv, o);
  auto kinds = cancel_kinds(backends);
  auto places = make_placements(pin, warnings);
  int blocks = std::min(o.cancel_tries, 5);
  double run_cost = o.seconds + warmup_seconds(o) + 0.08;
  double cancel_kinds_total = static_cast<double>(kinds.size() * places.size());
  // A slow-client run also opens its connections and waits for the server to take them.
  auto slow_runs = std::count_if(plan.begin(), plan.end(), [](const planned& p) { return is_slow(p.c.clients); });
  double estimate = static_cast<double>(plan.size()) * run_cost + static_cast<double>(slow_runs) * 0.1 +
                    (o.cancel ? cancel_kinds_total * o.cancel_tries * 0.002 + blocks * 0.5 : 0);
  watchdog dog(2 * estimate + 120);
  progress prog;
  double total_work = estimate > 0 ? estimate : 1;
  double work_done = 0;

  // ---- throughput ----
  std::vector<run_result> results(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    const planned& p = plan[i];
    prog.show(format("rep %d/%d  %s", p.rep + 1, o.reps, label(p.c, o).c_str()), work_done / total_work, true);
    results[i] = measure(p.c, o, p.c.spare ? apart : pin);
    work_done += run_cost + (is_slow(p.c.clients) ? 0.1 : 0);
    const run_result& r = results[i];
    std::string line = format("rep %d/%d  %-32s %8.0f accepts/s  %6.2f us CPU/accept", p.rep + 1, o.reps,
                              label(p.c, o).c_str(), r.rate, r.cpu_us_per_accept);
    if (r.listen_overflows || r.listen_drops)
      prog.note(format("openwws-bench: warning: %s, rep %d: TcpExt ListenOverflows +%llu, ListenDrops +%llu during "
                       "the run", label(p.c, o).c_str(), p.rep + 1,
                       static_cast<unsigned long long>(r.listen_overflows),
                       static_cast<unsigned long long>(r.listen_drops)));
    if (!r.error.empty()) {
      errors.push_back(format("%s rep %d: %s", label(p.c, o).c_str(), p.rep + 1, r.error.c_str()));
      prog.note("openwws-bench: error: " + errors.back());
    }
    prog.show(line, work_done / total_work);
  }

  std::vector<row> rows;
  if (o.throughput) {
    for (auto& c : all_configs(backends, have_uring, have_uv, o)) {
      rows.emplace_back();
      rows.back().c = c;
    }
    // Every run against the mean of the raw accept4+ack runs on either side of it.
    auto ref_at = [&](size_t i, int dir) -> const run_result* {
      for (long j = static_cast<long>(i) + dir; j >= 0 && j < static_cast<long>(plan.size()); j += dir)
        if (plan[static_cast<size_t>(j)].reference && plan[static_cast<size_t>(j)].c.spare == plan[i].c.spare) {
          const run_result& r = results[static_cast<size_t>(j)];
          return r.error.empty() && r.accepts > 0 ? &r : nullptr;
        }
      return nullptr;
    };
    for (size_t i = 0; i < plan.size(); ++i) {
      auto it = std::find_if(rows.begin(), rows.end(), [&](const row& w) { return same(w.c, plan[i].c); });
      if (it == rows.end()) continue;
      const run_result& r = results[i];
      it->handshake_failures += r.handshake_failures;
      if (r.handshake_failures) it->handshake_why = r.handshake_why;
      it->slow_closed = std::max(it->slow_closed, r.slow_closed);
      it->slow_queue_left = std::max(it->slow_queue_left, r.slow_queue_left);
      if (!r.error.empty() || r.accepts <= 0) {
        ++it->failed_runs;
        continue;
      }
      it->rates.push_back(r.rate);
      it->cpu_us.push_back(r.cpu_us_per_accept);
      it->p50s.push_back(r.ack_p50_us);
      it->p99s.push_back(r.ack_p99_us);
      it->accept_p50s.push_back(r.accept_p50_us);
      it->accept_p99s.push_back(r.accept_p99_us);
      it->other_cpu.push_back(r.other_cpu);
      it->overflows += r.listen_overflows;
      it->drops += r.listen_drops;
      it->connect_errors += r.connect_errors;
      if (r.connect_errors) it->connect_errno = r.connect_errno;
      if (r.sync_fraction >= 0) it->sync_fractions.push_back(r.sync_fraction);
      if (plan[i].reference) {
        it->ratios.push_back(1.0);
        it->cpu_ratios.push_back(1.0);
        continue;
      }
      const run_result* a = ref_at(i, -1);
      const run_result* b = ref_at(i, +1);
      double rate = 0, cpu = 0;
      int n = 0;
      for (auto* x : {a, b})
        if (x) {
          rate += x->rate;
          cpu += x->cpu_us_per_accept;
          ++n;
        }
      if (n) {
        it->ratios.push_back(r.rate / (rate / n));
        it->cpu_ratios.push_back(r.cpu_us_per_accept / (cpu / n));
      }
    }
  }

  // ---- cancel latency ----
  std::vector<cancel_row> crows;
  if (o.cancel) {
    for (size_t pl = 0; pl < places.size(); ++pl)
      for (auto& k : kinds) crows.push_back({k, pl, {}, 0, ""});
    for (int blk = 0; blk < blocks; ++blk) {
      int n = o.cancel_tries / blocks + (blk < o.cancel_tries % blocks ? 1 : 0);
      std::vector<size_t> order(crows.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      rotate_by(order, blk);
      for (size_t idx : order) {
        cancel_row& cr = crows[idx];
        if (!cr.error.empty()) continue;  // failed before: no more tries
        const placement& pl = places[cr.place];
        prog.show(format("cancel latency, block %d/%d  %s %s (%s)", blk + 1, blocks, cr.k.backend.c_str(),
                         cr.k.operation.c_str(), pl.name.c_str()),
                  work_done / total_work, idx != order.front());
        double budget = 60.0 / blocks;
        cancel_result res = cr.k.raw == 1   ? raw_eventfd_latency(n, budget, pl)
                            : cr.k.raw == 2 ? raw_io_uring_cancel_latency(n, budget, pl)
                                            : api_cancel_latency(cr.k.backend, cr.k.how, cr.k.close, n, budget, pl);
        work_done += n * 0.002 + 0.5 / static_cast<double>(crows.size());
        cr.us.insert(cr.us.end(), res.us.begin(), res.us.end());
        cr.unsettled += res.unsettled;
        if (!res.error.empty()) {
          cr.error = res.error;
          if (cr.k.raw != 2 || have_uring) {
            errors.push_back(format("cancel %s %s (%s): %s", cr.k.backend.c_str(), cr.k.operation.c_str(),
                                    pl.name.c_str(), res.error.c_str()));
            prog.note("openwws-bench: error: " + errors.back());
          }
        }
      }
    }
  }
  prog.end();

  // ---- the throughput table ----
  auto find_row = [&](const config& c) -> const row* {
    for (auto& r : rows)
      if (same(r.c, c)) return &r;
    return nullptr;
  };
  // A row against the raw libuv server: the ratio of their median ratios to accept4+ack
  // (the two run in different groups; each is paired with its own accept4+ack runs).
  const row* uv_row = find_row({"raw", mode::raw_libuv, false, clients_kind::handshake});
  double uv_ref = uv_row ? median(uv_row->ratios) : NAN;
  auto vs_uv = [&](const row& r) { return r.c.spare ? NAN : median(r.ratios) / uv_ref; };
  // A spare row's accept latency p50 over its reference's.
  const row* spare_ref = find_row(accept4_spare_config);
  auto latency_ratio = [&](const row& r) {
    return spare_ref ? median(r.accept_p50s) / median(spare_ref->accept_p50s) : NAN;
  };
  // A slow-client row's p99 over the same configuration's without slow connections.
  auto p99_delay = [&](const row& r) -> double {
    config plain = r.c;
    plain.clients = clients_kind::handshake;
    const row* p = find_row(plain);
    return p ? median(r.p99s) - median(p->p99s) : NAN;
  };
  if (o.throughput) {
    std::printf("%-8s %-18s %-7s %-13s %9s %9s %9s  %-16s %6s %7s %6s  %s\n", "backend", "mode", "channel", "clients",
                "accepts/s", "min", "max", "vs accept4+ack", "vs uv", "us CPU", "vs ref", "ack p50/p99 us");
    bool slow_seen = false, spare_seen = false;
    for (auto& r : rows) {
      if (is_slow(r.c.clients) && !slow_seen) {
        std::printf("\n");  // the slow-client rows apart
        slow_seen = true;
      }
      if (r.c.spare && !spare_seen) {
        std::printf("\none client, server and client on CPUs apart (%s); vs accept4+ack: this block's own\n"
                    "reference; last column: connect() to the server's accept returning, p50/p99 (x the reference's p50)\n",
                    apart.describe.c_str());
        spare_seen = true;
      }
      std::string head = format("%-8s %-18s %-7s %-13s", r.c.backend.c_str(), mode_name(r.c, o).c_str(),
                                channel_name(r.c).c_str(), clients_name(r.c, o).c_str());
      if (r.rates.empty()) {
        std::string why = r.c.m == mode::raw_io_uring && !have_uring ? uring_why : "every run failed";
        if (!r.handshake_why.empty()) why += "; handshakes: " + r.handshake_why;
        std::printf("%s %9s  (%s)\n", head.c_str(), "-", why.c_str());
        continue;
      }
      std::string ratio = same(r.c, reference_of(r.c))
                              ? std::string("1.00")
                              : format("%s (%s-%s)", num(median(r.ratios), "%.2f").c_str(),
                                       num(min_of(r.ratios), "%.2f").c_str(), num(max_of(r.ratios), "%.2f").c_str());
      std::string latency = r.c.spare ? format("%s / %s (%s)", num(median(r.accept_p50s), "%.0f").c_str(),
                                               num(median(r.accept_p99s), "%.0f").c_str(),
                                               num(latency_ratio(r), "%.2f").c_str())
                                      : format("%s / %s", num(median(r.p50s), "%.0f").c_str(),
                                               num(median(r.p99s), "%.0f").c_str());
      std::printf("%s %9.0f %9.0f %9.0f  %-16s %6s %7s %6s  %s\n", head.c_str(), median(r.rates), min_of(r.rates),
                  max_of(r.rates), ratio.c_str(), num(vs_uv(r), "%.2f").c_str(), num(median(r.cpu_us), "%.2f").c_str(),
                  num(median(r.cpu_ratios), "%.2f").c_str(), latency.c_str());
    }
    const row* a4 = find_row(o.saturated ? accept4_config : accept4_spare_config);
    std::printf("\nclients: handshake: connect, send the %zu-byte net.tcp preamble, read the 0x0B ack, close; bare:\n"
                "connect, close; +N silent / +N trickle: handshake clients beside N connections open all run that\n"
                "send nothing / only the preamble's first byte. accepts/s: handshakes the server completed, median\n"
                "(min, max) over %d reps of %.2f s; accept4+ack (the reference: accept4, read the preamble, write the\n"
                "ack, close, in a blocking loop) ran before each group of at most four runs (%zu runs). vs\n"
                "accept4+ack: median (min-max) over reps of each run's ratio to the mean of the reference runs either\n"
                "side of it. vs uv: that median over the raw libuv+ack server's. us CPU: server CPU per accept (every\n"
                "thread but the load generator's: the library's I/O threads, the embedded modes' host thread and the\n"
                "libuv server's loop thread count), median; vs ref: its ratio, paired the same way. ack: from the\n"
                "start of the client's connect() to the ack's arrival (bare: to connect() returning), median over\n"
                "reps of each run's p50 and p99.\n",
                make_preamble(0xFFFF).size(), o.reps, o.seconds, a4 ? a4->rates.size() : 0);
    if (o.spare)
      std::printf("one client, spare CPU: the same with a single client thread pinned to CPUs apart from the server's\n"
                  "threads (the library's included), so that an accept mostly waits for its connection; compared with\n"
                  "the accept4+ack runs of that block. accept latency: from the client's connect() to the server's\n"
                  "accept returning (WsAcceptChannel's return or callback; raw: the ack written), paired in order.\n");
    for (auto& r : rows) {
      if (r.overflows || r.drops)
        warnings.push_back(format("%s: TcpExt ListenOverflows grew by %llu and ListenDrops by %llu during its runs "
                                  "(system-wide counters: other programs' sockets count too)",
                                  label(r.c, o).c_str(), static_cast<unsigned long long>(r.overflows),
                                  static_cast<unsigned long long>(r.drops)));
      if (!r.sync_fractions.empty())
        std::printf("note: %s: %.0f%% of accepts completed synchronously (no callback)\n", label(r.c, o).c_str(),
                    100 * median(r.sync_fractions));
      if (r.connect_errors)
        std::printf("note: %s: %llu client connects failed (last: %s); the load generator retried\n",
                    label(r.c, o).c_str(), static_cast<unsigned long long>(r.connect_errors),
                    r.connect_errno == EINPROGRESS ? "no answer within 250 ms" : std::strerror(r.connect_errno));
      if (r.handshake_failures)
        std::printf("note: %s: %llu handshakes failed in the windows (last: %s)\n", label(r.c, o).c_str(),
                    static_cast<unsigned long long>(r.handshake_failures), r.handshake_why.c_str());
      if (r.slow_closed)
        std::printf("note: %s: the server closed up to %d of the %d slow connections by the end of a window\n",
                    label(r.c, o).c_str(), r.slow_closed, o.slow);
      if (r.slow_queue_left)
        std::printf("note: %s: up to %d slow connections were still in the accept queue 1 s after they connected\n",
                    label(r.c, o).c_str(), r.slow_queue_left);
    }
    std::vector<double> other;
    for (auto& r : rows) other.insert(other.end(), r.other_cpu.begin(), r.other_cpu.end());
    double other_med = median(other), other_max = max_of(other);
    if (std::isfinite(other_med)) {
      auto disturbed = std::count_if(other.begin(), other.end(), [](double x) { return x > 0.1; });
      std::printf("other processes during the runs: %.0f%% of a CPU (median), %.0f%% (max); %zu of %zu runs had "
                  "them above 10%%\n",
                  100 * other_med, 100 * other_max, static_cast<size_t>(disturbed), other.size());
      if (other_med > 0.1)
        warnings.push_back(format("other processes used %.0f%% of a CPU during the runs (median): figures are noisy",
                                  100 * other_med));
    }
  }

  // ---- the cancel table ----
  auto find_crow = [&](const std::string& backend, const std::string& op, size_t place) -> const cancel_row* {
    for (auto& c : crows)
      if (c.k.backend == backend && c.k.operation == op && c.place == place) return &c;
    return nullptr;
  };
  // The row's p50 (or p99) over its raw mechanism's, same placement; NAN if either is missing.
  auto ratio_to_raw = [&](const cancel_row& c, double p) -> double {
    if (c.k.raw || c.us.empty()) return NAN;
    const cancel_row* ref = find_crow("raw", reference_for(c.k.backend), c.place);
    if (!ref || ref->us.empty()) return NAN;
    return percentile(c.us, p) / percentile(ref->us, p);
  };
  if (o.cancel && !places.empty()) {
    std::string over = format("%-8s %-28s %6s", "", "", "");
    std::string head = format("%-8s %-28s %6s", "backend", "cancel of a pending accept", "tries");
    for (auto& pl : places) {
      over += format("  %-26s", ("-- " + pl.name + " --").c_str());
      head += format("  %8s %8s %8s", "p50 us", "p99 us", "x raw");
    }
    std::printf("\n%s\n%s\n", over.c_str(), head.c_str());
    for (auto& c : crows) {
      if (c.place != 0) continue;
      std::string line = format("%-8s %-28s %6zu", c.k.backend.c_str(), c.k.operation.c_str(), c.us.size());
      for (size_t pl = 0; pl < places.size(); ++pl) {
        const cancel_row* r = find_crow(c.k.backend, c.k.operation, pl);
        if (!r || r->us.empty()) {
          line += format("  %8s %8s %8s", "-", "-", "");
          continue;
        }
        line += format("  %8.1f %8.1f %8s", median(r->us), percentile(r->us, 99),
                       num(ratio_to_raw(*r, 50), "%.2f").c_str());
      }
      std::printf("%s\n", line.c_str());
    }
    int unsettled = 0;
    for (auto& c : crows) unsettled += c.unsettled;
    std::printf("\ncancel: from the call (or the raw wake) to the accept's end as its waiter sees it: a synchronous\n"
                "WsAcceptChannel returning, or the callback running. %d tries per kind and placement, in %d interleaved\n"
                "blocks; each try starts once every other thread of the process sleeps. one CPU: every thread on one\n"
                "CPU; two CPUs: the cancelling thread on one, the waiters and the library's threads on another.\n"
                "x raw: p50 over the p50 of the raw mechanism in the same placement (io_uring rows: io_uring cancel;\n"
                "others: eventfd wake).\n",
                o.cancel_tries, blocks);
    for (auto& c : crows)
      if (!c.error.empty() && !(c.k.raw == 2 && !have_uring))
        std::printf("note: %s %s (%s): %s\n", c.k.backend.c_str(), c.k.operation.c_str(),
                    places[c.place].name.c_str(), c.error.c_str());
    if (unsettled)
      std::printf("note: %d tries began before every thread was seen asleep (within 200 ms)\n", unsettled);
  }

  // ---- targets ----
  std::vector<std::string> target_lines;
  std::string tj;  // JSON
  if (o.throughput) {
    // The API modes with handshake clients only: the slow-client rows have a target of their own.
    const row* worst_rate = nullptr;
    const row* worst_cpu = nullptr;
    int n = 0, miss_rate = 0, miss_cpu = 0, no_figure = 0;
    for (auto& r : rows) {
      if (is_raw(r.c.m) || is_slow(r.c.clients) || r.c.spare) continue;
      if (r.ratios.empty()) {
        ++no_figure;
        continue;
      }
      ++n;
      double q = median(r.ratios), c = median(r.cpu_ratios);
      if (q < 0.90) ++miss_rate;
      if (c > 1.15) ++miss_cpu;
      if (!worst_rate || q < median(worst_rate->ratios)) worst_rate = &r;
      if (!worst_cpu || c > median(worst_cpu->cpu_ratios)) worst_cpu = &r;
    }
    std::string missing = no_figure ? format("; %d rows without a figure", no_figure) : "";
    if (worst_rate) {
      target_lines.push_back(format("throughput with the handshake >= 0.90x accept4+ack, every API mode on every "
                                    "backend: %s (%d of %d rows below; lowest %s %.2f%s)",
                                    miss_rate || no_figure ? "MISSED" : "met", miss_rate, n,
                                    label(worst_rate->c, o).c_str(), median(worst_rate->ratios), missing.c_str()));
      target_lines.push_back(format("server CPU per accept <= 1.15x accept4+ack: %s (%d of %d rows above; highest %s "
                                    "%.2f%s)",
                                    miss_cpu || no_figure ? "MISSED" : "met", miss_cpu, n,
                                    label(worst_cpu->c, o).c_str(), median(worst_cpu->cpu_ratios), missing.c_str()));
      tj += format("\"throughput_ratio_min\": %s, \"throughput_met\": %s, \"cpu_ratio_max\": %s, \"cpu_met\": %s",
                   jnum(median(worst_rate->ratios)).c_str(), miss_rate || no_figure ? "false" : "true",
                   jnum(median(worst_cpu->cpu_ratios)).c_str(), miss_cpu || no_figure ? "false" : "true");
    } else if (no_figure) {
      target_lines.push_back(format("throughput with the handshake >= 0.90x accept4+ack: MISSED (no API row has a "
                                    "figure: every run failed)"));
      tj += "\"throughput_ratio_min\": null, \"throughput_met\": false, \"cpu_ratio_max\": null, \"cpu_met\": false";
    }
    // The libuv backend, on its own thread and embedded, against what a libuv user
    // writes today.
    const row* worst_uv = nullptr;
    int n_uv = 0, miss_uv = 0;
    for (auto& r : rows) {
      if (r.c.backend != "libuv" || is_slow(r.c.clients) || !std::isfinite(vs_uv(r))) continue;
      ++n_uv;
      if (vs_uv(r) < 1.0) ++miss_uv;
      if (!worst_uv || vs_uv(r) < vs_uv(*worst_uv)) worst_uv = &r;
    }
    if (worst_uv) {
      target_lines.push_back(format("libuv backend, own thread and embedded, >= the raw libuv+ack server: %s (%d of "
                                    "%d rows below; lowest %s %.2f)",
                                    miss_uv ? "MISSED" : "met", miss_uv, n_uv, label(worst_uv->c, o).c_str(),
                                    vs_uv(*worst_uv)));
      tj += format("%s\"libuv_vs_raw_libuv_min\": %s, \"libuv_met\": %s", tj.empty() ? "" : ", ",
                   jnum(vs_uv(*worst_uv)).c_str(), miss_uv ? "false" : "true");
    }
    // One client and CPU to spare (issue 11): the API modes where the kernel can wait for
    // the caller (io_uring, epoll) against the blocking loop of the same block.
    int n_spare = 0, spare_none = 0, miss_spare[3] = {0, 0, 0};
    const row* worst_spare[3] = {nullptr, nullptr, nullptr};  // rate, CPU, latency
    for (auto& r : rows) {
      if (!r.c.spare || is_raw(r.c.m) || (r.c.backend != "io_uring" && r.c.backend != "epoll")) continue;
      double f[3] = {-median(r.ratios), median(r.cpu_ratios), latency_ratio(r)};  // higher is worse
      if (!std::isfinite(f[0]) || !std::isfinite(f[1]) || !std::isfinite(f[2])) {
        ++spare_none;
        continue;
      }
      ++n_spare;
      const double limit[3] = {-0.95, 1.25, 1.2};
      for (int i = 0; i < 3; ++i) {
        if (f[i] > limit[i]) ++miss_spare[i];
        const row* w = worst_spare[i];
        double wf[3] = {w ? -median(w->ratios) : 0, w ? median(w->cpu_ratios) : 0, w ? latency_ratio(*w) : 0};
        if (!w || f[i] > wf[i]) worst_spare[i] = &r;
      }
    }
    if (n_spare || spare_none) {
      static const char* const what[3] = {"throughput >= 0.95x accept4+ack", "server CPU per accept <= 1.25x",
                                          "accept latency p50 <= 1.2x"};
      static const char* const key[3] = {"spare_throughput", "spare_cpu", "spare_latency"};
      std::string none = spare_none ? format("; %d rows without a figure", spare_none) : "";
      for (int i = 0; i < 3; ++i) {
        const row* w = worst_spare[i];
        double v = !w ? NAN : i == 0 ? median(w->ratios) : i == 1 ? median(w->cpu_ratios) : latency_ratio(*w);
        bool met = miss_spare[i] == 0 && spare_none == 0;
        std::string worst = w ? format("; worst %s %.2f", label(w->c, o).c_str(), v) : "";
        target_lines.push_back(format("one client, spare CPU, io_uring and epoll API modes: %s: %s (%d of %d rows "
                                      "missed%s%s)",
                                      what[i], met ? "met" : "MISSED", miss_spare[i], n_spare, worst.c_str(),
                                      none.c_str()));
        tj += format("%s\"%s_worst\": %s, \"%s_met\": %s", tj.empty() ? "" : ", ", key[i], jnum(v).c_str(), key[i],
                     met ? "true" : "false");
      }
    }
    // "A few milliseconds" (issue 10), read as 3 ms of p99 over the same mode without them.
    const row* worst_slow = nullptr;
    int n_slow = 0, miss_slow = 0, slow_no_figure = 0;
    for (auto& r : rows) {
      if (is_raw(r.c.m) || !is_slow(r.c.clients)) continue;
      double d = p99_delay(r);
      if (!std::isfinite(d)) {
        ++slow_no_figure;
        continue;
      }
      ++n_slow;
      if (d > slow_delay_limit_us) ++miss_slow;
      if (!worst_slow || d > p99_delay(*worst_slow)) worst_slow = &r;
    }
    if (worst_slow || slow_no_figure) {
      std::string highest = worst_slow ? format("; highest %s %+.0f us", label(worst_slow->c, o).c_str(),
                                                p99_delay(*worst_slow))
                                       : "";
      std::string none = slow_no_figure ? format("; %d rows without a figure", slow_no_figure) : "";
      target_lines.push_back(format("%d slow connections delay a good client's connect-to-ack p99 by <= %.0f ms: %s "
                                    "(%d of %d rows above%s%s)",
                                    o.slow, slow_delay_limit_us / 1000, miss_slow || slow_no_figure ? "MISSED" : "met",
                                    miss_slow, n_slow, highest.c_str(), none.c_str()));
      tj += format("%s\"slow_p99_delay_us_max\": %s, \"slow_met\": %s", tj.empty() ? "" : ", ",
                   jnum(worst_slow ? p99_delay(*worst_slow) : NAN).c_str(),
                   miss_slow || slow_no_figure ? "false" : "true");
    }
  }
  if (o.cancel) {
    // The target is for synchronous accepts; an async one's end also waits for the
    // loop's thread to run its callback, reported beside it without a target.
    for (bool sync : {true, false}) {
      for (size_t pl = 0; pl < places.size(); ++pl) {
        const cancel_row* worst = nullptr;
        double worst_q = NAN;
        int n = 0, miss = 0;
        for (auto& c : crows) {
          double q = c.place == pl && (c.k.how == cancel_how::sync) == sync ? ratio_to_raw(c, 50) : NAN;
          if (!std::isfinite(q)) continue;
          ++n;
          if (q > 2.0) ++miss;
          if (!worst || q > worst_q) {
            worst = &c;
            worst_q = q;
          }
        }
        if (!worst) continue;
        const char* verdict = !sync ? "no target" : miss ? "MISSED" : "met";
        target_lines.push_back(format("abort/close ends a pending %s accept within 2x the raw mechanism (p50, %s): %s "
                                      "(%d of %d kinds above; highest %s %s %.2f)",
                                      sync ? "synchronous" : "async", places[pl].name.c_str(), verdict, miss, n,
                                      worst->k.backend.c_str(), worst->k.operation.c_str(), worst_q));
        std::string key = std::string(sync ? "" : "async_") + (pl == 0 ? "one_cpu" : "two_cpus");
        tj += format("%s\"cancel_ratio_max_%s\": %s", tj.empty() ? "" : ", ", key.c_str(), jnum(worst_q).c_str());
        if (sync) tj += format(", \"cancel_met_%s\": %s", key.c_str(), miss ? "false" : "true");
      }
    }
  }
  if (!target_lines.empty()) {
    std::printf("\ntargets, read from this run:\n");
    for (auto& t : target_lines) std::printf("  %s\n", t.c_str());
  }
  for (auto& w : warnings) std::printf("warning: %s\n", w.c_str());
  for (auto& e : errors) std::printf("error: %s\n", e.c_str());

  // ---- JSON ----
  bool ok = true;
  if (!o.json_path.empty()) {
    std::string j = "{\n";
    j += format("  \"tool\": \"openwws-bench\",\n  \"version\": \"%s\",\n", OPENWWS_VERSION);
    j += format("  \"machine\": {\"nproc\": %ld, \"usable_cpus\": %d, \"cpu\": \"%s\", \"virtual_machine\": %s, "
                "\"memory_gib\": %s, \"kernel\": \"%s\", \"loadavg_1min\": %s, \"other_cpu_before\": %s, "
                "\"line\": \"%s\"},\n",
                m.nproc, m.usable, json_escape(m.cpu).c_str(), m.virtual_machine ? "true" : "false",
                jnum(m.mem_gib).c_str(), json_escape(m.kernel).c_str(), jnum(m.load1).c_str(),
                jnum(m.busy_before).c_str(), json_escape(machine_line(m)).c_str());
    j += format("  \"config\": {\"seconds\": %s, \"warmup_seconds\": %s, \"reps\": %d, \"clients\": %d, "
                "\"server_threads\": %d, \"cancel_tries\": %d, \"pinned\": %s, \"quick\": %s, \"build\": \"%s\", "
                "\"backends\": %s, ",
                jnum(o.seconds).c_str(), jnum(warmup_seconds(o)).c_str(), o.reps, o.clients, o.server_threads,
                o.cancel_tries, pin.on ? "true" : "false", o.quick ? "true" : "false", json_escape(build).c_str(),
                jstrings(backends).c_str());
    std::vector<std::string> kinds;
    if (o.slow_silent) kinds.push_back("silent");
    if (o.slow_trickle) kinds.push_back("trickle");
    j += format("\"reference\": \"raw accept4+ack\", \"preamble_bytes\": %zu, \"slow_connections\": %d, "
                "\"slow_kinds\": %s},\n",
                make_preamble(0xFFFF).size(), o.slow, jstrings(kinds).c_str());
    j += "  \"throughput\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      auto& r = rows[i];
      static const char* const kind_names[] = {"bare", "handshake", "silent", "trickle"};
      j += format("    {\"backend\": \"%s\", \"mode\": \"%s\", \"channel\": \"%s\", \"clients\": \"%s\", "
                  "\"slow_connections\": %d, \"one_client_spare_cpu\": %s, ",
                  json_escape(r.c.backend).c_str(), mode_name(r.c, o).c_str(), channel_name(r.c).c_str(),
                  kind_names[static_cast<int>(r.c.clients)], is_slow(r.c.clients) ? o.slow : 0,
                  r.c.spare ? "true" : "false");
      if (r.c.spare)
        j += format("\"connect_to_accept_return_us\": {\"p50\": %s, \"p99\": %s, \"p50_ratio_to_accept4_ack\": %s}, ",
                    jnum(median(r.accept_p50s)).c_str(), jnum(median(r.accept_p99s)).c_str(),
                    jnum(latency_ratio(r)).c_str());
      j += format("\"accepts_per_s\": {\"median\": %s, \"min\": %s, \"max\": %s, \"mad\": %s}, "
                  "\"ratio_to_accept4_ack\": {\"median\": %s, \"min\": %s, \"max\": %s}, \"ratio_to_raw_libuv\": %s, ",
                  jnum(median(r.rates)).c_str(), jnum(min_of(r.rates)).c_str(), jnum(max_of(r.rates)).c_str(),
                  jnum(mad(r.rates)).c_str(), jnum(median(r.ratios)).c_str(), jnum(min_of(r.ratios)).c_str(),
                  jnum(max_of(r.ratios)).c_str(), jnum(vs_uv(r)).c_str());
      j += format("\"cpu_us_per_accept\": %s, \"cpu_ratio_to_accept4_ack\": %s, \"connect_to_ack_us\": {\"p50\": %s, "
                  "\"p99\": %s}, ",
                  jnum(median(r.cpu_us)).c_str(), jnum(median(r.cpu_ratios)).c_str(), jnum(median(r.p50s)).c_str(),
                  jnum(median(r.p99s)).c_str());
      if (is_slow(r.c.clients))
        j += format("\"ack_p99_delay_us\": %s, \"slow_closed_by_server\": %d, \"slow_left_in_accept_queue\": %d, ",
                    jnum(p99_delay(r)).c_str(), r.slow_closed, r.slow_queue_left);
      j += "\"runs\": {\"accepts_per_s\": " + jarray(r.rates) + ", \"ratio_to_accept4_ack\": " + jarray(r.ratios) +
           ", \"cpu_us_per_accept\": " + jarray(r.cpu_us) + ", \"cpu_ratio_to_accept4_ack\": " + jarray(r.cpu_ratios) +
           ", \"connect_to_ack_p50_us\": " + jarray(r.p50s) + ", \"connect_to_ack_p99_us\": " + jarray(r.p99s) +
           ", \"other_processes_cpu\": " + jarray(r.other_cpu) + "}";
      if (!r.sync_fractions.empty()) j += ", \"sync_completed_fraction\": " + jnum(median(r.sync_fractions));
      j += format(", \"listen_overflows\": %llu, \"listen_drops\": %llu, \"connect_errors\": %llu, "
                  "\"handshake_failures\": %llu, \"failed_runs\": %d",
                  static_cast<unsigned long long>(r.overflows), static_cast<unsigned long long>(r.drops),
                  static_cast<unsigned long long>(r.connect_errors),
                  static_cast<unsigned long long>(r.handshake_failures), r.failed_runs);
      if (!r.handshake_why.empty()) j += ", \"last_handshake_failure\": \"" + json_escape(r.handshake_why) + "\"";
      j += i + 1 < rows.size() ? "},\n" : "}\n";
    }
    j += "  ],\n  \"cancel\": [\n";
    for (size_t i = 0; i < crows.size(); ++i) {
      auto& c = crows[i];
      std::string ref = c.k.raw ? "" : reference_for(c.k.backend);
      j += format("    {\"backend\": \"%s\", \"operation\": \"%s\", \"placement\": \"%s\", \"tries\": %zu, "
                  "\"p50_us\": %s, \"p99_us\": %s, \"max_us\": %s, \"compared_with\": %s, \"ratio_p50\": %s, "
                  "\"ratio_p99\": %s, \"unsettled\": %d, \"error\": %s}%s\n",
                  json_escape(c.k.backend).c_str(), json_escape(c.k.operation).c_str(),
                  places[c.place].name.c_str(), c.us.size(), jnum(median(c.us)).c_str(),
                  jnum(percentile(c.us, 99)).c_str(), jnum(max_of(c.us)).c_str(),
                  ref.empty() ? "null" : ("\"" + ref + "\"").c_str(), jnum(ratio_to_raw(c, 50)).c_str(),
                  jnum(ratio_to_raw(c, 99)).c_str(), c.unsettled,
                  c.error.empty() ? "null" : ("\"" + json_escape(c.error) + "\"").c_str(),
                  i + 1 < crows.size() ? "," : "");
    }
    j += "  ],\n  \"targets\": {" + tj + "},\n";
    j += "  \"warnings\": " + jstrings(warnings) + ",\n";
    j += "  \"errors\": " + jstrings(errors) + "\n}\n";
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

}  // namespace openwws::bench

int main(int argc, char** argv) {
  openwws::bench::options o;
  if (int rc = openwws::bench::parse_options(argc, argv, o); rc != 0) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  return openwws::bench::run(o);
}
