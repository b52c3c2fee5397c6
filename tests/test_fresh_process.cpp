// SPDX-License-Identifier: MIT
// Regression test for issue 8, F7, which needs a process in which no openwws object was
// ever created: the runtime (and its I/O backend) is set up by the first object. This
// file is the only test of openwws-fresh-process (tests/main.cpp is its runner), so
// nothing runs before it; meson runs it once per backend.
//
// With no descriptor free when the first listener is created, opening it is a resource
// shortage: WS_E_QUOTA_EXCEEDED (documented for WsOpenListener), not a permanent
// failure. Once descriptors are free again, the same listener opens and accepts.
#include "tests/support.h"

#include <cerrno>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

using namespace openwws::test;
using namespace std::chrono_literals;

namespace {

std::string hex(HRESULT hr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(hr));
  return buf;
}

HRESULT open_at(WS_LISTENER* l, const std::string& url, WS_ERROR* error) {
  auto text = u16(url);
  WS_STRING s = ws(text);
  return WsOpenListener(l, &s, nullptr, error);
}

// Lowers RLIMIT_NOFILE and fills every free descriptor; gives them back on release().
struct descriptor_shortage {
  rlimit saved{};
  std::vector<int> held;
  bool active = false;

  descriptor_shortage() {
    REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    if (low.rlim_cur == RLIM_INFINITY || low.rlim_cur > 256) low.rlim_cur = 256;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    active = true;
    int base = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(base >= 0);
    held.push_back(base);
    for (;;) {
      int fd = ::fcntl(base, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) {
        REQUIRE(errno == EMFILE);
        break;
      }
      held.push_back(fd);
    }
  }
  void release() {
    for (int fd : held) ::close(fd);
    held.clear();
    if (active) setrlimit(RLIMIT_NOFILE, &saved);
    active = false;
  }
  ~descriptor_shortage() { release(); }
};

}  // namespace

TEST_SUITE("regressions") {

TEST_CASE("F7: a descriptor shortage when the first object is created is WS_E_QUOTA_EXCEEDED and passes") {
  fd_guard guard;
  error_object err;  // before the shortage; an error object is no runtime object
  WS_LISTENER* l = nullptr;
  {
    descriptor_shortage shortage;
    MESSAGE(shortage.held.size(), " descriptors taken, backend ", backend_under_test());
    HRESULT created =
        WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, err);
    if (FAILED(created)) {
      // Creating may report the shortage itself (documented for WsCreateListener).
      CHECK_MESSAGE(created == WS_E_QUOTA_EXCEEDED, "WsCreateListener under EMFILE: ", hex(created), " ", err.text());
      l = nullptr;
    } else {
      HRESULT opened = open_at(l, "net.tcp://127.0.0.1:0/", err);
      CHECK_MESSAGE(opened == WS_E_QUOTA_EXCEEDED, "WsOpenListener under EMFILE: ", hex(opened), " ", err.text());
      if (SUCCEEDED(opened)) WsCloseListener(l, nullptr, nullptr);
      WsResetListener(l, nullptr);
    }
  }
  // Descriptors are free again: the same listener (or a new one) opens and accepts.
  if (!l)
    REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                             nullptr) == S_OK);
  error_object err2;
  HRESULT opened = open_at(l, "net.tcp://127.0.0.1:0/", err2);
  CHECK_MESSAGE(opened == S_OK, "WsOpenListener once descriptors are free: ", hex(opened), " ", err2.text());
  if (opened == S_OK) {
    USHORT port = port_of(l);
    WS_CHANNEL* ch = channel_for(l);
    callback_probe probe;
    WS_ASYNC_CONTEXT ctx = probe.ctx();
    HRESULT hr = WsAcceptChannel(l, ch, &ctx, nullptr);
    int client = nettcp_connect(port);
    CHECK(probe.outcome(hr) == S_OK);
    if (client >= 0) close_rst(client);
    WsCloseChannel(ch, nullptr, nullptr);
    CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    WsFreeChannel(ch);
  }
  WsFreeListener(l);
}

}  // TEST_SUITE
