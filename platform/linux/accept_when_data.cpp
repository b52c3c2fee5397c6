// SPDX-License-Identifier: MIT
// Linux: TCP_DEFER_ACCEPT. The kernel keeps a connection that has sent nothing out of
// the accept queue until its first bytes arrive, or until about `seconds` have passed
// (it then retransmits its SYN-ACK and queues the connection on the client's answer).
#include "platform/socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace openwws::platform {

bool accept_when_data(int listen_fd, unsigned seconds) noexcept {
  int value = static_cast<int>(seconds);
  return ::setsockopt(listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, sizeof value) == 0;
}

}  // namespace openwws::platform
