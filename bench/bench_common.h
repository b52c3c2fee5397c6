// SPDX-License-Identifier: MIT
// openwws-bench: what its files share: options, the run configurations, the server
// interface, results, /proc and clock readings, and small statistics.
#pragma once

#include <webservices.h>

#include <sched.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifndef OPENWWS_VERSION
#define OPENWWS_VERSION "unknown"
#endif

namespace openwws::bench {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- options ------------------------------------------------------------------------

struct options {
  double seconds = 2.0;   // measured part of each throughput run
  double warmup = -1;     // before it; < 0: derived from seconds (warmup_seconds)
  int reps = 5;           // interleaved repetitions of every configuration
  int clients = 2;        // load generator threads
  int server_threads = 2; // threads of the sync-xN mode
  int cancel_tries = 1000;
  int slow = 1000;         // stalled connections in the slow-client rows; 0: no such rows
  bool slow_silent = true, slow_trickle = true;  // which slow-client rows (--slow-kind)
  std::string backend;    // empty: every available backend
  std::string json_path;
  bool quick = false;
  bool pin = false;
  bool throughput = true;  // --only cancel turns it off
  bool cancel = true;      // --only throughput turns it off
  bool saturated = true;   // the rows with --clients clients (--load spare turns them off)
  bool spare = true;       // the rows with one client on a CPU of its own (--load saturated: off)
};

double warmup_seconds(const options& o);

// ---- configurations -----------------------------------------------------------------

// The raw modes answer the handshake (read the preamble, write the ack, close) unless
// their clients are bare, when they close at once.
enum class mode {
  raw_accept4,   // blocking accept4 loop: with handshake clients, the reference of every ratio
  raw_epoll,     // non-blocking sockets, epoll_wait, accept4 until EAGAIN
  raw_io_uring,  // one multishot accept; recv, then send and close linked
  sync_one,      // one thread looping on a synchronous WsAcceptChannel
  sync_many,     // N such threads on one listener
  async_short,   // an accept chain, WS_SHORT_CALLBACK
  async_long,    // an accept chain, WS_LONG_CALLBACK
  raw_libuv,     // a uv_listen/uv_accept server on a libuv loop of its own thread
  embedded_poll, // an accept chain on a host loop: a thread doing poll() + OpenwwsRunEventLoop
  embedded_uv,   // an accept chain on a host loop: a libuv loop a thread runs with uv_run
};

// What the load generator does. Every kind but bare sends the preamble and waits for the
// ack; silent and trickle add options::slow connections that stay open all run, sending
// nothing or only the preamble's first byte.
enum class clients_kind { bare, handshake, silent, trickle };

struct config {
  std::string backend;  // "raw" for the baselines
  mode m = mode::raw_accept4;
  bool create_per_accept = false;  // API modes: a new channel per accept, not WsResetChannel
  clients_kind clients = clients_kind::handshake;
  // One client, and the server and it on CPUs apart: the server has CPU to spare, so an
  // accept usually waits for its connection (the saturated rows find one queued).
  bool spare = false;
};

bool is_raw(mode m);
bool is_embedded(mode m);
bool is_slow(clients_kind k);  // silent or trickle
std::string mode_name(const config& c, const options& o);     // "accept4+ack", "sync-x2", ...
std::string channel_name(const config& c);                    // "-", "reuse", "create"
std::string clients_name(const config& c, const options& o);  // "handshake", "+1000 silent", ...
std::string label(const config& c, const options& o);

// ---- the net.tcp preamble ([MC-NMF] 2.2, shared/spec/nettcp.md) -----------------------

constexpr char preamble_ack = 0x0B;
constexpr std::size_t max_preamble = 64;  // ours is 36 bytes at most (a 5-digit port)

// The bytes a duplex-session client sends first, as the clients in nettcp.md 3 do:
// Version 1.0, Mode duplex, Via "net.tcp://127.0.0.1:<port>/", Known Encoding binary
// with session dictionary, Preamble End. The Via is the URL the listeners are opened on
// with the real port, as WsOpenListener's URL matching wants.
std::string make_preamble(USHORT port);

enum class feed_result { more, complete, bad };
// Takes n more bytes a server read of a preamble whose first `got` bytes have arrived:
// complete once all of `want` is there, bad when a byte differs or too many came.
feed_result feed_preamble(const std::string& want, std::size_t& got, const char* data, std::size_t n);

// Which CPUs the server side and the clients run on with --pin (empty: not pinned).
struct pinning {
  cpu_set_t all{};  // the process's affinity before any pinning
  cpu_set_t server{};
  cpu_set_t client{};
  bool on = false;
  std::string describe;  // "server on CPU 0, clients on CPU 1"
};

// ---- the load generator and the servers -----------------------------------------------

// Shared by the server and the client threads of one run. The counters sit on cache
// lines of their own: the server bumps accepted, the clients read it.
struct load {
  alignas(64) std::atomic<bool> stop{false};
  std::atomic<bool> measuring{false};  // clients sample connect times only meanwhile
  clock_type::time_point hard_deadline{};  // clients give up then, whatever the flags say
  alignas(64) std::atomic<std::int64_t> issued{0};  // connects started and not failed
  alignas(64) std::atomic<std::int64_t> accepted{0};  // accepts the server completed and closed
  alignas(64) char pad_[1] = {};
  std::string preamble;  // what the clients send; empty for bare clients. Set before they start

  // Accept latency, with one client only (latency_capacity > 0): its k-th completed
  // handshake began its connect at connect_ns[k], and the server's k-th accept returned
  // at accept_ns[k] (CLOCK_MONOTONIC). Set up before the threads start.
  void track_latency(std::size_t capacity);
  void accept_returned() noexcept;  // server: an accept returned (raw: the ack is written)
  void handshake_done(std::int64_t connect_start_ns) noexcept;  // the client
  std::size_t latency_capacity = 0;
  std::unique_ptr<std::int64_t[]> connect_ns, accept_ns;
  alignas(64) std::atomic<std::uint64_t> accepts_returned{0};
  std::uint64_t handshakes_done = 0;  // the one client's
  // When the client first failed to connect or to get its ack: from there on the two
  // counts may be out of step, so later pairs are not read.
  std::int64_t first_failure_ns = INT64_MAX;
};

std::int64_t monotonic_ns();

// One mode's server side. open() binds, start() begins accepting, stop() asks it to end
// and wakes what waits (returns at once), wait() tells whether it ended, force() tries
// harder to unblock it, close() frees everything. Errors are sentences; "" means none.
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

// Runs a loop on threads of its own, each calling run(index); done when all of them
// left. Subclasses set nthreads_ before start() and join() before freeing what run uses.
class threaded_server : public server {
 public:
  void start() override;
  bool wait(milliseconds timeout) override;
  std::string error() override;

 protected:
  virtual void run(int index) = 0;
  void join();
  void set_error(std::string e);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  load* ld_ = nullptr;
  std::atomic<bool> stop_{false};
  int nthreads_ = 1;

 private:
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  int finished_ = 0;
  std::string error_;
};

// The count bound of every server loop; at ~10^5 accepts/s it is never reached in practice.
constexpr std::uint64_t max_per_loop = 50'000'000;
// The backlog of every listening socket, the library's included.
constexpr int listen_backlog = 4096;

// A plain IPv4 listening socket on 127.0.0.1 with a kernel-chosen port; -1 and why.
int listen_loopback(bool nonblocking, USHORT& port, std::string& why);

// The thread that runs an application's event loop with openwws as its guest (the
// embedded modes). start() makes the OPENWWS_EVENT_LOOP and starts the thread; stop()
// has that thread free the event loop and leave, then joins it. Objects on the loop
// must be freed before stop(). Both return "" or what went wrong.
class event_host {
 public:
  virtual ~event_host() = default;
  virtual std::string start() = 0;
  virtual std::string stop() = 0;
  OPENWWS_EVENT_LOOP* loop = nullptr;
};

// poll() on OpenwwsGetEventLoopDescriptor, then OpenwwsRunEventLoop (bench_servers.cpp).
std::unique_ptr<event_host> make_poll_host();
// uv_run on a libuv loop given to OpenwwsCreateEventLoop (bench_libuv.cpp); nullptr and
// why without libuv.
std::unique_ptr<event_host> make_uv_host(std::string& why);

// nullptr with why set when the mode cannot run here (io_uring missing, ...).
std::unique_ptr<server> make_server(const config& c, const options& o, std::string& why);
// The raw io_uring server (bench_uring.cpp); nullptr and why when liburing is absent.
std::unique_ptr<server> make_raw_io_uring_server(std::string& why);
// True when this build has liburing and the kernel gives us a ring with multishot accept.
bool raw_io_uring_available(std::string& why);
// The raw libuv server (bench_libuv.cpp); nullptr and why when the build has no libuv.
std::unique_ptr<server> make_raw_libuv_server(std::string& why);
// True when this build has libuv (the raw libuv row and the embedded-uv mode).
bool libuv_available(std::string& why);

struct run_result {
  double rate = 0;  // accepts per second over the measured window
  std::int64_t accepts = 0;
  double elapsed = 0;
  double server_cpu_s = 0;       // CPU of every thread but the clients' and the driver's
  double client_cpu_s = 0;
  double cpu_us_per_accept = 0;  // server_cpu_s / accepts, in microseconds
  // From the start of the client's connect() to the ack's arrival (bare clients: to
  // connect() returning), sampled in the window by the measured clients.
  double ack_p50_us = -1, ack_p99_us = -1;
  // With one client: from its connect() to the server's accept returning (NAN: no figure).
  double accept_p50_us = NAN, accept_p99_us = NAN;
  std::uint64_t ack_samples = 0;  // handshakes (bare clients: connects) completed in the window
  double sync_fraction = -1;  // async modes: share of accepts completed synchronously
  std::uint64_t connect_errors = 0;
  int connect_errno = 0;  // the last failed connect's errno
  std::uint64_t handshake_failures = 0;  // connected, but no ack came (in the window)
  std::string handshake_why;             // the last such failure
  int slow_closed = 0;      // slow-client rows: connections the server closed by the window's end
  int slow_queue_left = 0;  // and those still in its accept queue when the clients started
  std::uint64_t listen_overflows = 0, listen_drops = 0;  // growth over the run (TcpExt)
  double other_cpu = 0;  // other processes' CPU during the window, in CPUs (0.5 = half a CPU)
  std::string error;
};

// The one client's handshakes whose connect began in [from_ns, to_ns] pair with the
// server's accepts by order; their connect-to-accept-return times, in us.
std::vector<double> accept_latencies_us(const load& ld, std::int64_t from_ns, std::int64_t to_ns);

run_result measure(const config& c, const options& o, const pinning& pin);

// ---- cancel latency -----------------------------------------------------------------

enum class cancel_how { sync, async_short, async_long };

// Where a cancel try's threads run: the waiters (the accepting thread, the library's
// I/O threads, the raw workers) on one set of CPUs, the thread that cancels on another;
// both sets are the same CPU for the one-CPU placement. Fixed placements make the
// figures comparable: a wake that may or may not cross CPUs (an IPI to an idle CPU,
// dear in a virtual machine) would otherwise decide them.
struct placement {
  std::string name;  // "one CPU", "two CPUs"
  cpu_set_t waiters{}, canceller{}, all{};
};

struct cancel_result {
  std::vector<double> us;  // one latency per try, microseconds
  int unsettled = 0;       // tries whose waiters were not seen asleep before the cancel
  std::string error;
};

// WsAbortListener (or WsCloseListener when close) with one accept pending, on backend.
// Each function sets the calling thread's affinity to pl.waiters while it makes its
// objects and threads (they inherit it), to pl.canceller for the tries, then pl.all.
cancel_result api_cancel_latency(const std::string& backend, cancel_how how, bool close, int tries,
                                 double budget_s, const placement& pl);
// A thread blocked in read() on an eventfd, woken by write().
cancel_result raw_eventfd_latency(int tries, double budget_s, const placement& pl);
// A thread waiting on its ring with an accept pending, woken through an eventfd read,
// submits IORING_OP_ASYNC_CANCEL; until the accept's CQE (bench_uring.cpp).
cancel_result raw_io_uring_cancel_latency(int tries, double budget_s, const placement& pl);

// ---- the machine ----------------------------------------------------------------------

pid_t this_tid();
double clock_seconds(clockid_t id);  // a CPU clock's reading, seconds (NAN on failure)
bool set_thread_affinity(const cpu_set_t& set);

struct listen_counters {
  std::uint64_t overflows = 0, drops = 0;
  bool ok = false;
};
listen_counters read_listen_counters();  // TcpExt ListenOverflows / ListenDrops
// Connections waiting in the accept queue of the listening TCP socket on 127.0.0.1:port
// (/proc/net/tcp), or -1 when it cannot be read.
int accept_queue_length(USHORT port);

// CPU seconds used by every other user-space process so far (utime + stime, plus the
// children they reaped); kernel threads and this process are left out.
double other_processes_cpu();

// True when every thread of this process but `except` sleeps (state S): the waiters
// are blocked and the I/O thread waits in the kernel.
bool others_asleep(pid_t except);
// Waits until others_asleep(except) and then a little more, at most `limit`. False
// when the limit passed first.
bool wait_others_asleep(pid_t except, milliseconds limit);

// A counter another thread moves forward: waits (a condition variable, no polling) until it reaches
// at least want, at most limit; false when the limit passed first. The other side
// stores, then calls wake_all.
bool wait_at_least(std::atomic<int>& counter, int want, milliseconds limit);
void wake_all(std::atomic<int>& counter);

// ---- small helpers --------------------------------------------------------------------

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
int count_fds();
const char* hresult_name(HRESULT hr);
std::string describe(const char* call, HRESULT hr, WS_ERROR* error);

double median(std::vector<double> v);
double percentile(std::vector<double> v, double p);  // nearest rank, p in [0, 100]

}  // namespace openwws::bench
