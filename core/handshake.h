// SPDX-License-Identifier: MIT
// The net.tcp preamble an accepted client sends before its channel opens ([MC-NMF]
// 3.1.4): read by the listener inside WsAcceptChannel, answered with Preamble Ack, or
// with a Fault record and the connection closed.
//
// A preamble that comes with its connection (the usual case: real clients send it in one
// segment right after connecting, and TCP_DEFER_ACCEPT holds the connection back until
// it has) is read at once by the accept that took the connection, on whatever thread
// that is. Otherwise the connection becomes a handshake: the listener's loop reads the
// rest as it comes, bounded by CONNECT_TIMEOUT, while the accept that took it goes back
// to serving other clients, so that slow or silent clients never hold up good ones. A
// finished handshake waits in the listener's ready queue for the next accept.
#pragma once

#include "core/loop.h"
#include "core/nettcp_preamble.h"
#include "core/timers.h"
#include "platform/backend.h"

#include <cstdint>
#include <span>
#include <vector>

namespace openwws::core {

class listener;

// Writes the fault record f and closes fd so that the client can read it: the bytes it
// sent are dropped first and FIN follows the record (closing with unread bytes would
// send a reset, which can destroy the record before the client reads it).
void refuse_connection(int fd, nettcp::framing_fault f) noexcept;

// One accepted connection whose preamble did not all come with its accept. Made by the
// accept that took the connection, then owned by the listener's loop thread.
struct handshake {
  handshake(listener& l, int fd, const nettcp::preamble_policy& policy, timer_clock::time_point deadline) noexcept
      : owner(l), fd(fd), expires_at(deadline), parser(policy) {}

  listener& owner;
  int fd;  // -1 once handed to a channel or closed
  timer_clock::time_point expires_at;
  nettcp::preamble_parser parser;
  std::vector<std::uint8_t> after;  // bytes read past Preamble End: the channel's
  platform::io_op read_op;
  timer deadline{this};
  command start;  // puts it on the loop, when made on another thread
  handshake* prev = nullptr;  // the listener's handshakes
  handshake* next = nullptr;
  handshake* ready_prev = nullptr;  // the ready queue
  handshake* ready_next = nullptr;
  bool ready = false;    // the preamble is complete; in the ready queue
  bool expired = false;  // its time ran out, or the listener closes: it ends at its next event
};

}  // namespace openwws::core
