// SPDX-License-Identifier: MIT
// Checks that the I/O backend is chosen in one place: the first available one by
// default, the one OPENWWS_BACKEND names when set, and never a silent fallback when
// that one cannot work here (WsOpenListener fails and says why).
#include "tests/support.h"

#include "platform/select_backend.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace openwws::test;

namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope. The runtime
// reads it when the first object of the process is created, so tests using this
// must start with no object alive (every test frees what it made).
struct scoped_env {
  std::string name;
  std::optional<std::string> old;
  scoped_env(const char* n, std::optional<std::string> value) : name(n) {
    if (const char* v = std::getenv(n)) old = v;
    if (value)
      ::setenv(n, value->c_str(), 1);
    else
      ::unsetenv(n);
  }
  ~scoped_env() {
    if (old)
      ::setenv(name.c_str(), old->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
};

std::string backend_of(WS_LISTENER* l) {
  const char* name = nullptr;
  REQUIRE(WsGetListenerProperty(l, OPENWWS_LISTENER_PROPERTY_BACKEND_NAME, &name, sizeof name, nullptr) == S_OK);
  return name ? name : "";
}

HRESULT open_fresh_listener(std::string* backend, WS_ERROR* error) {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) ==
          S_OK);
  auto url = u16("net.tcp://127.0.0.1:0/");
  WS_STRING s = ws(url);
  HRESULT hr = WsOpenListener(l, &s, nullptr, error);
  if (backend) *backend = backend_of(l);
  WsCloseListener(l, nullptr, nullptr);
  WsFreeListener(l);
  return hr;
}

}  // namespace

TEST_SUITE("backend") {

TEST_CASE_FIXTURE(fd_guard, "listener_runs_on_the_backend_the_suite_asked_for") {
  std::string name;
  REQUIRE(open_fresh_listener(&name, nullptr) == S_OK);
  if (!backend_under_test().empty()) CHECK(name == backend_under_test());
}

// Backend selection is the own-thread loop's: a host's libuv loop always runs libuv.
// The embedded suite checks it there, off its host for the test (on_own_threads).

TEST_CASE_FIXTURE(fd_guard, "default_backend_is_the_first_available_one") {
  on_own_threads own;
  scoped_env env("OPENWWS_BACKEND", std::nullopt);
  auto available = openwws::platform::available_backends();
  REQUIRE(!available.empty());
  std::string name;
  REQUIRE(open_fresh_listener(&name, nullptr) == S_OK);
  CHECK(name == std::string(available.front()));
  // Compiled and available backends follow the order of platform/select_backend.cpp,
  // which the README quotes.
#ifdef __linux__
  const std::vector<std::string_view> order{"io_uring", "epoll", "libuv"};
  CHECK(std::find(available.begin(), available.end(), "epoll") != available.end());  // always works on Linux
#else
  const std::vector<std::string_view> order{"kqueue", "libuv"};
#endif
  for (const auto& list : {available, openwws::platform::compiled_backends()}) {
    auto pos = order.begin();
    for (auto b : list) {
      pos = std::find(pos, order.end(), b);
      CHECK_MESSAGE(pos != order.end(), "backend ", std::string(b), " is out of the documented order");
      if (pos == order.end()) break;
      ++pos;
    }
  }
}

TEST_CASE_FIXTURE(fd_guard, "unknown_backend_name_makes_open_fail_with_a_reason") {
  scoped_env env("OPENWWS_BACKEND", std::string("no-such-backend"));
  if (embedded_host()) {
    // The host's loop was made before and does not choose: its listeners still open.
    std::string name;
    CHECK(open_fresh_listener(&name, nullptr) == S_OK);
    CHECK(name == "libuv");
  }
  on_own_threads own;
  error_object err;
  std::string name;
  CHECK(open_fresh_listener(&name, err) == WS_E_NOT_SUPPORTED);
  CHECK(err.text().find("no-such-backend") != std::string::npos);
  CHECK(name == "unavailable");
}

#ifdef OPENWWS_HAVE_IO_URING
TEST_CASE_FIXTURE(fd_guard, "io_uring_that_cannot_start_is_skipped_by_default_and_refused_when_named") {
  // A ring larger than the kernel allows fails to set up, as a seccomp filter or
  // kernel.io_uring_disabled would make it fail.
  scoped_env entries("OPENWWS_IO_URING_ENTRIES", std::string("1000000"));
  on_own_threads own;
  {
    scoped_env env("OPENWWS_BACKEND", std::nullopt);
    std::string name;
    REQUIRE(open_fresh_listener(&name, nullptr) == S_OK);
    CHECK(name != "io_uring");
  }
  {
    scoped_env env("OPENWWS_BACKEND", std::string("io_uring"));
    error_object err;
    CHECK(open_fresh_listener(nullptr, err) == WS_E_NOT_SUPPORTED);
    CHECK(err.text().find("io_uring") != std::string::npos);
  }
}
#endif

}  // TEST_SUITE
