// SPDX-License-Identifier: MIT
// Backend selection: the one place that knows the order and the OPENWWS_BACKEND override.
#include "platform/select_backend.h"

#include "platform/socket.h"

#include <cerrno>
#include <cstdlib>

namespace openwws::platform {

namespace {

struct backend_entry {
  std::string_view name;
  int (*make)(std::unique_ptr<backend>&) noexcept;
};

// Preference order: the first whose probe passes is the default. Linux: io_uring,
// epoll, libuv; macOS and the BSDs: kqueue, libuv.
constexpr backend_entry compiled[] = {
#ifdef OPENWWS_HAVE_IO_URING
    {"io_uring", make_io_uring_backend},
#endif
#ifdef OPENWWS_HAVE_EPOLL
    {"epoll", make_epoll_backend},
#endif
#ifdef OPENWWS_HAVE_KQUEUE
    {"kqueue", make_kqueue_backend},
#endif
#ifdef OPENWWS_HAVE_LIBUV
    {"libuv", make_libuv_backend},
#endif
};

}  // namespace

std::vector<std::string_view> compiled_backends() {
  std::vector<std::string_view> names;
  for (const auto& e : compiled) names.push_back(e.name);
  return names;
}

std::vector<std::string_view> available_backends() {
  std::vector<std::string_view> names;
  for (const auto& e : compiled) {
    std::unique_ptr<backend> probe;
    if (e.make(probe) == 0) names.push_back(e.name);
  }
  return names;
}

int create_backend_named(std::string_view name, std::unique_ptr<backend>& out) noexcept {
  for (const auto& e : compiled)
    if (e.name == name) return e.make(out);
  return -ENOENT;
}

int create_backend(std::unique_ptr<backend>& out, std::string& why) {
  const char* forced = std::getenv("OPENWWS_BACKEND");
  if (forced && *forced) {
    int rc = create_backend_named(forced, out);
    if (rc == -ENOENT)
      why = std::string("OPENWWS_BACKEND names '") + forced + "', which this build does not have";
    else if (rc < 0)
      why = std::string("OPENWWS_BACKEND names '") + forced + "', which is unavailable here: " + errno_text(-rc);
    return rc;
  }
  int last = -ENOENT;
  for (const auto& e : compiled) {
    last = e.make(out);
    if (last == 0) return 0;
    // No descriptor left is not the machine lacking this backend: falling back would
    // keep the process on a lesser one for good, where the next try may well succeed.
    // (ENOMEM is not counted: io_uring's rings on older kernels count against
    // RLIMIT_MEMLOCK, a lasting limit that epoll does not meet.)
    if (last == -EMFILE || last == -ENFILE) {
      why = std::string("no descriptor or memory to start the ") + std::string(e.name) + " backend: " +
            errno_text(-last);
      return last;
    }
  }
  why = "no I/O backend works on this machine: " + errno_text(-last);
  return last;
}

}  // namespace openwws::platform
