// SPDX-License-Identifier: MIT
// Test runner: `--backend=NAME` runs every test on that I/O backend, or exits 77
// (meson's SKIP) when the backend is not available on this machine.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "platform/select_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <csignal>

int main(int argc, char** argv) {
  // Probing makes each backend once, so that what a backend's library keeps open for
  // the whole process (libuv's signal lock pipe, made by its first uv_loop_init)
  // exists before any test counts descriptors.
  auto avail = openwws::platform::available_backends();
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--backend=", 10) == 0) {
      std::string name = argv[i] + 10;
      if (std::find(avail.begin(), avail.end(), name) == avail.end()) {
        std::printf("backend '%s' is not available on this machine: skipped\n", name.c_str());
        return 77;
      }
      ::setenv("OPENWWS_BACKEND", name.c_str(), 1);
    } else {
      rest.push_back(argv[i]);
    }
  }
  std::signal(SIGPIPE, SIG_IGN);
  doctest::Context ctx(static_cast<int>(rest.size()), rest.data());
  return ctx.run();
}
