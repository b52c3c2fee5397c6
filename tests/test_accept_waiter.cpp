// SPDX-License-Identifier: MIT
// A thread's accept waiter (platform/accept_wait.h) keeps a listening socket watched
// between waits, keyed by the socket's id: a descriptor number the next socket reuses,
// or a socket that lives on elsewhere after its descriptor closed, must neither hang
// nor spin the waiter. Linux only: elsewhere there is no such waiter (synchronous
// accepts wait through the loop), and macOS has no per-thread CPU clock to check it.
#ifdef __linux__
#include "support.h"

#include "platform/accept_wait.h"
#include "platform/socket.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <thread>

using namespace openwws;
using namespace openwws::test;
using namespace std::chrono_literals;

namespace {

// Ids of the sockets these tests watch: far above the library's own, which count from 1.
constexpr std::uint64_t first_id = std::uint64_t{1} << 62;

// CPU time the thread has used so far, in ms.
double cpu_ms(std::thread& t) {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(t.native_handle(), &clock) != 0 || clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Waits on this thread for a client of listen_fd that connects first, and serves it.
void served_once(platform::accept_waiter& w, int listen_fd, USHORT port, std::uint64_t id) {
  int client = raw_connect(port);
  CHECK(client >= 0);  // no REQUIRE: this may run on a thread of the test's own
  if (client < 0) return;
  CHECK(platform::wait_for_connection(w, listen_fd, id) == 1);
  int fd = accept_blocking(listen_fd);
  CHECK(fd >= 0);
  if (fd >= 0) ::close(fd);
  close_rst(client);
}

}  // namespace

TEST_CASE_FIXTURE(fd_guard, "a_waiter_serves_the_next_socket_that_gets_the_descriptor_number_of_one_it_watched") {
  platform::accept_waiter* w = platform::this_thread_accept_waiter();
  if (!w) return;  // this platform waits through the loop
  USHORT port_a = 0, port_b = 0;
  int a = loopback_socket(&port_a, 8);
  REQUIRE(a >= 0);
  served_once(*w, a, port_a, first_id);
  ::close(a);
  int b = loopback_socket(&port_b, 8);
  REQUIRE(b >= 0);
  served_once(*w, b, port_b, first_id + 1);
  served_once(*w, b, port_b, first_id + 1);
  ::close(b);
}

TEST_CASE_FIXTURE(fd_guard, "a_watched_socket_that_outlives_its_descriptor_neither_wakes_nor_spins_a_waiter_on_another") {
  if (!platform::this_thread_accept_waiter()) return;  // this platform waits through the loop
  USHORT port_a = 0, port_b = 0;
  int a = loopback_socket(&port_a, 8);
  REQUIRE(a >= 0);
  int b = -1;
  std::atomic<int> result{2};
  std::atomic<bool> a_watched{false}, b_open{false};
  platform::accept_waiter* w = nullptr;
  // One thread: it watches a, then waits on b once a's descriptor is closed while a
  // lives on through another one, with a connection queued on it.
  std::thread waiting([&] {
    w = platform::this_thread_accept_waiter();
    if (!w) return;
    served_once(*w, a, port_a, first_id + 2);
    a_watched = true;
    while (!b_open) std::this_thread::sleep_for(1ms);
    result = platform::wait_for_connection(*w, b, first_id + 3);
  });
  REQUIRE(wait_until([&] { return a_watched.load(); }, 5s));
  int held = ::dup(a);
  ::close(a);
  b = loopback_socket(&port_b, 8);  // most likely a's old number
  REQUIRE(b >= 0);
  int queued_on_a = raw_connect(port_a);  // a's old registration now reports it
  b_open = true;
  std::this_thread::sleep_for(100ms);
  double before = cpu_ms(waiting);
  std::this_thread::sleep_for(100ms);
  double spent = cpu_ms(waiting) - before;
  CHECK(result == 2);  // still waiting: nothing came for b
  CHECK(spent < 20.0);  // asleep, not spinning on the old socket's readiness
  int client_b = raw_connect(port_b);
  CHECK(wait_until([&] { return result != 2; }, 5s));
  if (result == 2) platform::wake(*w);
  waiting.join();
  CHECK(result == 1);
  close_rst(client_b);
  close_rst(queued_on_a);
  ::close(held);
  ::close(b);
}

// A wake ends a wait with no connection taken, and a connection that races a wake is
// accepted exactly once, by the wait or by the next, never lost.
TEST_CASE_FIXTURE(fd_guard, "a_wake_ends_a_thread_wait_and_a_racing_connection_is_accepted_exactly_once") {
  platform::accept_waiter* mine = platform::this_thread_accept_waiter();
  if (!mine) return;  // this platform waits through the loop
  USHORT port = 0;
  int listen_fd = loopback_socket(&port, 64);
  REQUIRE(listen_fd >= 0);
  REQUIRE(::fcntl(listen_fd, F_SETFL, O_NONBLOCK) == 0);  // as the library's are
  const std::uint64_t id = first_id + 10;
  std::atomic<platform::accept_waiter*> other{nullptr};
  std::atomic<int> result{2};
  std::thread waiting([&] {
    other = platform::this_thread_accept_waiter();
    result = platform::wait_for_connection(*other.load(), listen_fd, id);
  });
  REQUIRE(wait_until([&] { return other.load() != nullptr; }, 5s));
  std::this_thread::sleep_for(20ms);  // most likely asleep in the kernel by now
  platform::wake(*other.load());
  waiting.join();
  CHECK(result == 0);

  constexpr int rounds = 200;
  int accepted = 0;
  std::array<int, rounds> clients{};
  for (int i = 0; i < rounds; ++i) {
    std::thread waker([&] { platform::wake(*mine); });
    clients[i] = raw_connect(port);
    int fd = -EAGAIN;
    // Woken instead of served: by this round's wake, or the last round's that came
    // after its connection; each wait spends one.
    for (int tries = 0; fd == -EAGAIN && tries < 3; ++tries)
      if (platform::wait_for_connection(*mine, listen_fd, id) == 1) fd = platform::accept_one(listen_fd);
    waker.join();
    CHECK(fd >= 0);
    if (fd >= 0) {
      ++accepted;
      ::close(fd);
    }
  }
  CHECK(accepted == rounds);
  CHECK(platform::accept_one(listen_fd) == -EAGAIN);  // none left behind
  for (int c : clients) close_rst(c);
  ::close(listen_fd);
}

#endif  // __linux__
