// SPDX-License-Identifier: MIT
// Checks that faults of the environment give documented results and leave the library
// usable: descriptors running out while clients connect, clients that reset at once,
// and WsAbortListener while every allocation on the calling thread fails.
#include "tests/support.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <new>
#include <thread>
#include <vector>

using namespace openwws::test;

// ---- allocation failure injection ---------------------------------------------------
// The library is linked into this program, so replacing the global operator new here
// covers it too. Only the thread that sets the flag sees failures.

namespace {
thread_local bool tls_fail_allocations = false;
thread_local int tls_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  ++tls_allocations;
  if (tls_fail_allocations) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++tls_allocations;
  if (tls_fail_allocations) return nullptr;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
// These replace the global forms, so free() does match the malloc() in operator new;
// gcc's -Wmismatched-new-delete cannot see that once it inlines them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

int openwws::test::allocations_in_this_thread() { return tls_allocations; }

namespace {

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The highest descriptor number in use, so that a soft limit just above it leaves no room.
int highest_fd() {
  int high = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (fcntl(fd, F_GETFD) != -1) high = fd;
  return high;
}

// Lowers RLIMIT_NOFILE to just above the highest descriptor in use and fills the
// holes below it, so that no new descriptor can be made until it goes out of scope.
struct descriptors_exhausted {
  rlimit saved{};
  std::vector<int> fillers;
  descriptors_exhausted() {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit lowered = saved;
    lowered.rlim_cur = static_cast<rlim_t>(highest_fd() + 1);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  }
  ~descriptors_exhausted() {
    for (int fd : fillers) ::close(fd);
    setrlimit(RLIMIT_NOFILE, &saved);
  }
};

}  // namespace

TEST_SUITE("faults") {

TEST_CASE_FIXTURE(fd_guard, "abort_succeeds_and_allocates_nothing_while_allocation_fails") {
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", nullptr);
  std::vector<WS_CHANNEL*> channels;
  std::vector<callback_probe> probes(10);
  for (auto& p : probes) {
    channels.push_back(channel_for(l));
    WS_ASYNC_CONTEXT ctx = p.ctx();
    REQUIRE(WsAcceptChannel(l, channels.back(), &ctx, nullptr) == WS_S_ASYNC);
  }
  tls_allocations = 0;
  tls_fail_allocations = true;
  HRESULT hr = WsAbortListener(l, nullptr);
  tls_fail_allocations = false;
  CHECK(hr == S_OK);
  CHECK(tls_allocations == 0);
  for (auto& p : probes) {
    REQUIRE(p.wait());
    CHECK(p.hr.load() == WS_E_OPERATION_ABORTED);
  }
  CHECK(state_of(l) == WS_LISTENER_STATE_FAULTED);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  for (WS_CHANNEL* ch : channels) WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "accept_without_descriptors_fails_with_quota_exceeded_and_service_resumes") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* ch = channel_for(l);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(nettcp_connect(port));
  error_object err;
  HRESULT sync_hr, async_hr;
  callback_probe probe;
  double cpu_idle;
  {
    descriptors_exhausted exhausted;
    sync_hr = WsAcceptChannel(l, ch, nullptr, err);
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    async_hr = WsAcceptChannel(l, ch, &ctx, nullptr);
    if (async_hr == WS_S_ASYNC) {
      REQUIRE(probe.wait());
      async_hr = probe.hr.load();
    }
    // Nothing may spin while descriptors stay exhausted: a second of this process's
    // CPU time with the listener open and clients waiting.
    double before = process_cpu_seconds();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    cpu_idle = process_cpu_seconds() - before;
  }
  CHECK(sync_hr == WS_E_QUOTA_EXCEEDED);
  CHECK(async_hr == WS_E_QUOTA_EXCEEDED);
  CHECK(err.text().find("EMFILE") != std::string::npos);
  CHECK(state_of(ch) == WS_CHANNEL_STATE_CREATED);
  CHECK(cpu_idle < 0.1);
  MESSAGE("CPU used in one second with descriptors exhausted: ", cpu_idle, " s");
  // The limit is back: the clients that waited in the backlog are served.
  for (size_t i = 0; i < clients.size(); ++i) {
    CHECK(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
    WsCloseChannel(ch, nullptr, nullptr);
    WsResetChannel(ch, nullptr);
  }
  for (int fd : clients) close_rst(fd);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "clients_that_reset_at_once_do_not_disturb_accepting") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* ch = channel_for(l);
  for (int round = 0; round < 50; ++round) {
    int gone = nettcp_connect(port);
    close_rst(gone);  // reset before the server accepted it
    int fd = nettcp_connect(port);
    REQUIRE(fd >= 0);
    // The reset one may still be handed out (accept4 returns it); the live one follows.
    for (int tries = 0; tries < 2; ++tries) {
      REQUIRE(WsAcceptChannel(l, ch, nullptr, nullptr) == S_OK);
      WsCloseChannel(ch, nullptr, nullptr);
      WsResetChannel(ch, nullptr);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) == 1) break;  // our live client saw the close: it was this one
    }
    close_rst(fd);
  }
  WsCloseListener(l, nullptr, nullptr);
  WsFreeChannel(ch);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "listening_address_that_disappears_leaves_accepts_cancellable_and_reopen_refused") {
  // In a network namespace of its own (a forked child, as root), an address is added to
  // lo, listened on, and deleted under a pending accept. Nothing leaves the machine.
  pid_t pid = fork_for_test();
  REQUIRE(pid >= 0);
  if (pid == 0) {
#ifdef __linux__
    if (unshare(CLONE_NEWNET) != 0) _exit(77);
#else
    _exit(77);  // network namespaces are Linux's
#endif
    if (std::system("ip link set lo up && ip -6 addr add 2001:db8::1/128 dev lo nodad") != 0) _exit(77);
    host_for_forked_child();
    WS_LISTENER* l = nullptr;
    if (WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) !=
        S_OK)
      _exit(10);
    WS_STRING url = WS_STRING_VALUE(u"net.tcp://[2001:db8::1]:0/");
    if (WsOpenListener(l, &url, nullptr, nullptr) != S_OK) _exit(11);
    WS_CHANNEL* ch = nullptr;
    if (WsCreateChannelForListener(l, nullptr, 0, &ch, nullptr) != S_OK) _exit(12);
    std::atomic<int> calls{0};
    std::atomic<HRESULT> result{S_FALSE};
    struct st_t {
      std::atomic<int>* calls;
      std::atomic<HRESULT>* result;
    } st{&calls, &result};
    WS_ASYNC_CONTEXT ctx{[](HRESULT hr, WS_CALLBACK_MODEL, void* p) {
                           auto* s2 = static_cast<st_t*>(p);
                           *s2->result = hr;
                           s2->calls->fetch_add(1);
                         },
                         &st};
    if (WsAcceptChannel(l, ch, &ctx, nullptr) != WS_S_ASYNC) _exit(13);
    if (std::system("ip -6 addr del 2001:db8::1/128 dev lo") != 0) _exit(14);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    WS_LISTENER_STATE state{};
    WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &state, sizeof state, nullptr);
    if (calls.load() != 0 || state != WS_LISTENER_STATE_OPEN) _exit(15);  // the accept still waits
    if (WsCloseListener(l, nullptr, nullptr) != S_OK) _exit(16);
    if (calls.load() != 1 || result.load() != WS_E_OPERATION_ABORTED) _exit(17);
    if (WsResetListener(l, nullptr) != S_OK) _exit(18);
    WS_ERROR* err = nullptr;
    WsCreateError(nullptr, 0, &err);
    if (WsOpenListener(l, &url, nullptr, err) != WS_E_ADDRESS_NOT_AVAILABLE) _exit(19);
    ULONG strings = 0;
    WsGetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, &strings, sizeof strings);
    if (strings == 0) _exit(20);
    WsFreeError(err);
    WsFreeChannel(ch);
    WsFreeListener(l);
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    MESSAGE("skipped: no network namespace or no `ip` here (needs root and iproute2)");
    return;
  }
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, "child failed at step ", WEXITSTATUS(status));
}

}  // TEST_SUITE
