// SPDX-License-Identifier: MIT
// Shared test helpers: descriptor-leak guard, error text, loopback clients, waits.
#pragma once

#include <webservices.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace openwws::test {

// Checks that a test case leaves as many descriptors open as it found.
struct fd_guard {
  int before;
  fd_guard();
  ~fd_guard();
};

// A WS_ERROR that frees itself.
struct error_object {
  WS_ERROR* e = nullptr;
  error_object();
  ~error_object();
  operator WS_ERROR*() const { return e; }
  ULONG count() const;
  std::string text() const;  // every string, most recent first, joined by " | "
};

std::u16string u16(const std::string& s);

// UTF-16 as printable text for comparisons and failure output: ASCII as is, the rest
// as \uXXXX escapes.
std::string narrow(const std::u16string& s);
std::string str(const WS_STRING& s);

// A WS_STRING over a u16string that outlives it.
WS_STRING ws(const std::u16string& s);

// Listener TCP/DUPLEX_SESSION, opened on url (e.g. "net.tcp://127.0.0.1:0/"); port out.
WS_LISTENER* open_listener(const std::string& url, USHORT* port, const WS_LISTENER_PROPERTY* props = nullptr,
                           ULONG count = 0);
WS_CHANNEL* channel_for(WS_LISTENER* l);
// WsCloseListener / WsCloseChannel (checked: S_OK), then the free.
void close_and_free(WS_LISTENER* l);
void close_and_free(WS_CHANNEL* c);
USHORT port_of(WS_LISTENER* l);
WS_LISTENER_STATE state_of(WS_LISTENER* l);
WS_CHANNEL_STATE state_of(WS_CHANNEL* c);

// A TCP socket (IPv6 if v6), close-on-exec and SIGPIPE-free on every OS (fcntl where
// SOCK_CLOEXEC is missing); -1 on failure.
int make_socket(bool v6 = false, bool nonblocking = false);
// accept() on listen_fd giving a blocking, close-on-exec socket; -1 on failure.
int accept_blocking(int listen_fd);
// send() that never raises SIGPIPE: bytes sent or -1 (errno set).
long send_nosignal(int fd, const void* data, std::size_t len);

// An IPv4 socket bound to 127.0.0.1 on a kernel-chosen port (*port), listening with
// backlog unless backlog < 0; -1 on failure.
int loopback_socket(USHORT* port, int backlog);
// Blocking loopback client socket connected to port (v6: [::1]); -1 on failure.
int raw_connect(USHORT port, bool v6 = false);
// Closes with SO_LINGER {1,0}, so the peer sees RST and no TIME_WAIT remains.
void close_rst(int fd);

// The preamble a net.tcp client sends first ([MC-NMF]): Version 1.0, Mode duplex, the
// Via, Known Encoding binary with session dictionary (0x08), Preamble End.
std::vector<std::uint8_t> nettcp_preamble(const std::string& via);
// "net.tcp://127.0.0.1:port/" ("[::1]" if v6) with path appended after the '/'.
std::string loopback_url(USHORT port, bool v6 = false, const std::string& path = "");
// raw_connect, then the preamble with Via loopback_url(port, v6, path): a client that an
// openwws listener on 127.0.0.1 or [::1] (or '+') with that path accepts. -1 on failure.
int nettcp_connect(USHORT port, bool v6 = false, const std::string& path = "");
// raw_connect, then the preamble with the given Via.
int nettcp_connect_via(USHORT port, const std::string& via, bool v6 = false);
// Reads what the listener answered a preamble, waiting up to timeout: the record bytes
// until the peer's FIN or a pause of 200 ms (0x0B alone is Preamble Ack; 0x08... a
// Fault record); empty on timeout.
std::vector<std::uint8_t> read_answer(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A client channel through the public API, opened to net.tcp://host:port/path. Its
// open waits for the listener's Preamble Ack, which an accept sends: see
// client_channel_accepted.
WS_CHANNEL* client_channel(const std::string& host, USHORT port, HRESULT* hr = nullptr, const std::string& path = "");
// An accept of server on l started asynchronously, then WsOpenChannel(client, url), then
// the accept waited for: the open's result. server NULL: a channel of the helper's own
// takes the accept and stays OPEN until the test's fd_guard ends.
HRESULT open_with_accept(WS_LISTENER* l, WS_CHANNEL* server, WS_CHANNEL* client, const std::string& url,
                         WS_ERROR* error = nullptr);
// A new client channel opened that way to net.tcp://host:port/path: OPEN.
WS_CHANNEL* client_channel_accepted(WS_LISTENER* l, WS_CHANNEL* server, const std::string& host, USHORT port,
                                    const std::string& path = "");

// Polls pred every millisecond for up to timeout; returns its last value.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Counts callbacks and records what they saw. Use its ctx() as WS_ASYNC_CONTEXT.
struct callback_probe {
  std::atomic<int> calls{0};
  std::atomic<HRESULT> hr{0};
  std::atomic<int> model{-1};
  std::atomic<bool> on_caller_thread{false};
  std::atomic<std::thread::id> thread{};  // of the last callback
  std::thread::id caller = std::this_thread::get_id();
  WS_ASYNC_CONTEXT ctx();
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // The asynchronous model's rule for a call that returned `returned`: WS_S_ASYNC means
  // exactly one callback (waited for), anything else none; never on the caller's thread
  // before returning; embedded, on the host's thread. Returns the operation's final
  // HRESULT.
  HRESULT outcome(HRESULT returned);
  static void CALLBACK callback(HRESULT hr, WS_CALLBACK_MODEL model, void* state);
};

// The backend the test binary was started for ("epoll", ...).
std::string backend_under_test();

// True when the binary runs with --embedded=uv: every listener and channel made
// without an EVENT_LOOP property lives on a host's libuv loop that a thread of the
// test binary runs (tests/main.cpp). There every callback runs on that thread as
// WS_SHORT_CALLBACK, and a synchronous call made on it is refused with
// WS_E_INVALID_OPERATION (see OpenwwsCreateEventLoop in webservices.h).
bool embedded_host();
// The host's thread while embedded_host(), else a default-constructed id.
std::thread::id host_thread_id();
// The default event loop the binary set (the host's, or NULL when not embedded): a
// test that sets another default puts this one back.
OPENWWS_EVENT_LOOP* embedded_event_loop();
// fork() for a test whose child uses openwws: embedded, the host's thread is stopped
// around the fork, so that the child starts single-threaded as it does elsewhere.
pid_t fork_for_test();
// In such a child, before it makes any openwws object: when embedded, the child gets
// a host thread and loop of its own (the parent's host thread is not in the child);
// otherwise nothing. Exits with 91 if the host cannot start.
void host_for_forked_child();

// The model a callback is invoked with on an object whose ASYNC_CALLBACK_MODEL is
// `preferred`: that one on openwws's own threads; WS_SHORT_CALLBACK on a host's loop.
WS_CALLBACK_MODEL invoked_model(WS_CALLBACK_MODEL preferred);

// For a test whose premise is openwws's own threads (LONG callbacks, the loop
// takeover, runtime threads that exit): in the embedded suite, the test says why it is
// skipped (a doctest MESSAGE) and returns at once.
#define OPENWWS_SKIP_WHEN_EMBEDDED(premise)                                                                  \
  do {                                                                                                       \
    if (::openwws::test::embedded_host()) {                                                                  \
      MESSAGE("skipped in the embedded suite: runs on openwws's own threads only (", std::string(premise), \
              ")");                                                                                         \
      return;                                                                                                \
    }                                                                                                        \
  } while (0)

// While alive, objects made without an EVENT_LOOP property live on openwws's own
// threads, even in the embedded suite (which gets its host's loop back as default
// afterwards); elsewhere it changes nothing.
struct on_own_threads {
  on_own_threads();
  ~on_own_threads();
  on_own_threads(const on_own_threads&) = delete;
  on_own_threads& operator=(const on_own_threads&) = delete;
};

// Calls to operator new made so far on the calling thread (test_faults.cpp replaces the
// program's operator new), for tests that check that a path allocates nothing.
int allocations_in_this_thread();

}  // namespace openwws::test
