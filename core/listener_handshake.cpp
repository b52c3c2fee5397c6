// SPDX-License-Identifier: MIT
// The listener's side of the net.tcp handshake (see core/handshake.h): reading a
// client's preamble inside WsAcceptChannel, handshakes that go on in the loop, and the
// ready queue that hands their connections to accepts.
//
// Who owns what: handshake objects, the handshakes_ and ready_ lists and stealing_
// belong to the loop thread; handshake_count_ and ready_count_ are kept under mu_ for
// the accepts and the close that read them on other threads.
#include "core/objects.h"

#include "platform/socket.h"

#include <cerrno>
#include <new>

namespace openwws::core {

namespace {

// Enough for the whole preamble of any client that stays within the parser's limits
// but the longest Via, in one read.
constexpr std::size_t read_chunk = 4096;

// The kernel holds back a silent connection for about this long before it is accepted
// (platform::accept_when_data): time it already spent of its CONNECT_TIMEOUT.
constexpr auto deferred_for = std::chrono::seconds(1);

}  // namespace

void refuse_connection(int fd, nettcp::framing_fault f) noexcept {
  std::span<const std::uint8_t> record = nettcp::fault_record(f);
  platform::discard_received(fd, 64 * 1024);
  if (!record.empty()) platform::send_nosignal(fd, record.data(), record.size());
  platform::shutdown_send(fd);
  platform::close_fd(fd);
}

nettcp::preamble_policy listener::policy_for(const channel& ch) const noexcept {
  nettcp::preamble_policy p;
  p.channel_type = props_.channel_type;
  p.encoding = ch.props_.encoding;  // create-time only: read without the channel's lock
  p.envelope_version = ch.props_.envelope_version;
  p.listener_url = &url_;
  p.url_matching = props_.transport_url_matching;
  return p;
}

bool listener::take_connection(channel& ch, int fd, bool on_loop) noexcept {
  nettcp::preamble_parser parser(policy_for(ch));
  std::uint8_t buf[read_chunk];
  ssize_t n = platform::recv_some(fd, buf, sizeof buf);
  if (n == 0 || (n < 0 && n != -EAGAIN)) {  // gone before it spoke
    platform::close_fd(fd);
    return false;
  }
  std::span<const std::uint8_t> seen(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  nettcp::feed_result r = parser.feed(seen);
  if (r.status == nettcp::step::failed) {
    refuse_connection(fd, parser.fault());
    return false;
  }
  if (r.status == nettcp::step::need_more) {
    defer_handshake(fd, seen, ch, on_loop);
    return false;
  }
  try {
    ch.received_.assign(seen.begin() + static_cast<std::ptrdiff_t>(r.consumed), seen.end());
  } catch (const std::bad_alloc&) {
    refuse_connection(fd, nettcp::framing_fault::server_too_busy);
    return false;
  }
  return deliver(ch, fd, parser, ch.received_);
}

void listener::defer_handshake(int fd, std::span<const std::uint8_t> seen, const channel& ch, bool on_loop) noexcept {
  ULONG timeout;
  {
    std::lock_guard lock(mu_);
    timeout = props_.connect_timeout;
  }
  auto deadline = timer_clock::time_point::max();
  if (timeout != INFINITE) {
    deadline = timer_clock::now() + std::chrono::milliseconds(timeout);
    if (defer_accept_ && seen.empty()) deadline -= deferred_for;
  }
  auto* h = new (std::nothrow) handshake(*this, fd, policy_for(ch), deadline);
  if (!h) {
    refuse_connection(fd, nettcp::framing_fault::server_too_busy);
    return;
  }
  h->parser.feed(seen);  // replays what the accept read: the same state as there
  h->start.run = run_start_handshake;
  {
    std::lock_guard lock(mu_);
    ++handshake_count_;
    ops_.begin();
  }
  if (on_loop)
    start_handshake(*h);
  else
    rt_.post(h->start);
}

void listener::run_start_handshake(command& c) noexcept {
  handshake& h = owner_of(c, &handshake::start);
  h.owner.start_handshake(h);
}

// Loop thread: the handshake starts waiting for the rest of its preamble.
void listener::start_handshake(handshake& h) noexcept {
  bool open;
  {
    std::lock_guard lock(mu_);
    open = state_ == WS_LISTENER_STATE_OPEN;
  }
  handshakes_.push_back(h);
  if (!open) {
    end_handshake(h);
    return;
  }
  if (h.expires_at != timer_clock::time_point::max())
    rt_.timers().start(h.deadline, h.expires_at, on_handshake_expired);
  h.read_op.kind = platform::op_kind::readable;
  h.read_op.fd = h.fd;
  h.read_op.complete = on_handshake_readable;
  rt_.io().start_readable(h.read_op);  // may complete, and end h, inline
}

void listener::on_handshake_readable(platform::io_op& op, int res) noexcept {
  handshake& h = owner_of(op, &handshake::read_op);
  listener& self = h.owner;
  if (res < 0 || h.expired) {
    self.end_handshake(h);
    return;
  }
  std::uint8_t buf[read_chunk];
  for (;;) {
    ssize_t n = platform::recv_some(h.fd, buf, sizeof buf);
    if (n == -EAGAIN) {
      self.rt_.io().start_readable(h.read_op);
      return;
    }
    if (n <= 0) {
      self.end_handshake(h);
      return;
    }
    std::span<const std::uint8_t> got(buf, static_cast<std::size_t>(n));
    nettcp::feed_result r = h.parser.feed(got);
    if (r.status == nettcp::step::failed) {
      refuse_connection(h.fd, h.parser.fault());
      h.fd = -1;
      self.end_handshake(h);
      return;
    }
    if (r.status == nettcp::step::done) {
      try {
        h.after.assign(got.begin() + static_cast<std::ptrdiff_t>(r.consumed), got.end());
      } catch (const std::bad_alloc&) {
        refuse_connection(h.fd, nettcp::framing_fault::server_too_busy);
        h.fd = -1;
        self.end_handshake(h);
        return;
      }
      self.handshake_ready(h);
      return;
    }
  }
}

// Loop thread: CONNECT_TIMEOUT is up. A handshake still reading ends when its read
// reports the cancel; a ready one that no accept took ends now.
void listener::on_handshake_expired(timer& t) noexcept {
  handshake& h = *static_cast<handshake*>(t.owner());
  h.expired = true;
  if (h.ready)
    h.owner.end_handshake(h);
  else
    h.owner.rt_.io().cancel(h.read_op);
}

void listener::handshake_ready(handshake& h) noexcept {
  h.ready = true;
  ready_.push_back(h);
  {
    std::lock_guard lock(mu_);
    ++ready_count_;
  }
  steal_for_ready();
}

bool listener::deliver(channel& ch, int fd, const nettcp::preamble_parser& p,
                       std::vector<std::uint8_t>& after) noexcept {
  // The parser checked the encoding against the channel whose accept took the
  // connection; a ready handshake may go to another channel of the listener.
  nettcp::wire_encoding expected = nettcp::wire_encoding_for(ch.props_.encoding, ch.props_.envelope_version);
  bool fits = p.known_encoding() >= 0 ? nettcp::known_encoding_fits(expected, static_cast<std::uint8_t>(p.known_encoding()))
                                      : nettcp::content_type_fits(expected, p.content_type());
  if (!fits) {
    refuse_connection(fd, nettcp::framing_fault::content_type_invalid);
    return false;
  }
  try {
    ch.take_handshake(p.via(), after);
  } catch (const std::bad_alloc&) {
    refuse_connection(fd, nettcp::framing_fault::server_too_busy);
    return false;
  }
  // A client that reset right after a good preamble still makes an accept, as a TCP
  // accept of a reset connection does: the session's first I/O tells (a one-byte ack
  // into a fresh socket fails for no other reason).
  std::span<const std::uint8_t> ack = nettcp::preamble_ack_record();
  platform::send_nosignal(fd, ack.data(), ack.size());
  ch.result_fd_ = fd;
  return true;
}

// Loop thread: h, taken off the ready queue, goes to ch.
bool listener::hand_over(channel& ch, handshake& h) noexcept {
  int fd = h.fd;
  h.fd = -1;
  bool ok = deliver(ch, fd, h.parser, h.after);
  end_handshake(h);
  return ok;
}

void listener::end_handshake(handshake& h) noexcept {
  rt_.timers().stop(h.deadline);
  handshakes_.remove(h);
  bool was_ready = h.ready;
  if (was_ready) ready_.remove(h);
  platform::close_fd(h.fd);
  delete &h;
  bool doomed;
  {
    std::lock_guard lock(mu_);
    --handshake_count_;
    if (was_ready) --ready_count_;
    maybe_finish_close_locked();
    doomed = ops_.end();
  }
  if (doomed) destroy();
}

void listener::steal_for_ready() noexcept {
  channel* batch = nullptr;
  {
    std::lock_guard lock(mu_);
    std::uint32_t wanted = ready_count_ > stealing_ ? ready_count_ - stealing_ : 0;
    for (channel* ch = pending_.front(); ch && wanted > 0; ch = pending_.next(*ch)) {
      if (!ch->started_ || ch->stolen_ || ch->aborted_) continue;
      ch->stolen_ = true;
      ch->op_.cancel_requested.store(true, std::memory_order_relaxed);  // the backend's word for "ours"
      ++stealing_;
      --wanted;
      ch->steal_next_ = batch;
      batch = ch;
    }
  }
  while (batch) {
    channel* ch = batch;
    batch = ch->steal_next_;
    rt_.io().cancel(ch->op_);  // its completion, maybe inline, takes it to start_pending
  }
}

// Loop thread: the listener is closing or aborted; every half-done connection goes.
void listener::cancel_handshakes() noexcept {
  for (handshake* h = handshakes_.front(); h;) {
    handshake* next = handshakes_.next(*h);
    if (h->ready) {
      h->expired = true;
      end_handshake(*h);
    } else if (!h->expired) {
      h->expired = true;
      rt_.io().cancel(h->read_op);  // ends h when it reports, maybe inline
    }
    h = next;
  }
}

}  // namespace openwws::core
