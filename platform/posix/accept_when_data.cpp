// SPDX-License-Identifier: MIT
// FreeBSD's "dataready" accept filter (accf_data(9)) where the system has accept
// filters; macOS has none, so there accept returns every connection at once.
#include "platform/socket.h"

#include <sys/socket.h>

#include <cstring>

namespace openwws::platform {

bool accept_when_data([[maybe_unused]] int listen_fd, unsigned) noexcept {
#ifdef SO_ACCEPTFILTER
  accept_filter_arg arg{};
  std::strncpy(arg.af_name, "dataready", sizeof arg.af_name - 1);
  return ::setsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTFILTER, &arg, sizeof arg) == 0;
#else
  return false;
#endif
}

}  // namespace openwws::platform
