// SPDX-License-Identifier: MIT
// The listener state machine (WS_LISTENER_STATE) and its accepts.
//
// Who owns what: mu_ guards the state, the pending list and the counters. The loop
// thread owns slot_ once loop_knows_slot_ is set. An accept is "in flight" from the
// moment it passes the state check until its caller has been told (callback
// returned, or synchronous caller released); a close waits for zero in flight.
#include "core/objects.h"

#include "core/error.h"
#include "core/nettcp_via.h"
#include "core/properties.h"
#include "core/text.h"
#include "core/url.h"
#include "platform/error_map.h"
#include "platform/socket.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace openwws::core {

namespace {

bool valid_backlog(const void* v) noexcept {
  ULONG x;
  std::memcpy(&x, v, sizeof x);
  return x <= 0x7FFFFFFF;
}

const prop_info listener_table[] = {
    OPENWWS_PROP(WS_LISTENER_PROPERTY_LISTEN_BACKLOG, listener_props, listen_backlog, at_create | can_get,
                 valid_backlog, "LISTEN_BACKLOG"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_IP_VERSION, listener_props, ip_version, at_create | can_get,
                 valid_ip_version, "IP_VERSION"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL, listener_props, callback_model,
                 at_create | can_get | can_set, valid_callback_model, "ASYNC_CALLBACK_MODEL"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_CHANNEL_TYPE, listener_props, channel_type, can_get, nullptr,
                 "CHANNEL_TYPE"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_CHANNEL_BINDING, listener_props, channel_binding, can_get, nullptr,
                 "CHANNEL_BINDING"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_CONNECT_TIMEOUT, listener_props, connect_timeout,
                 at_create | can_get | can_set, nullptr, "CONNECT_TIMEOUT"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_IS_MULTICAST, listener_props, is_multicast, at_create | can_get | can_set,
                 valid_bool, "IS_MULTICAST"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_MULTICAST_LOOPBACK, listener_props, multicast_loopback, at_create,
                 valid_bool, "MULTICAST_LOOPBACK"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_CLOSE_TIMEOUT, listener_props, close_timeout, at_create | can_get | can_set,
                 nullptr, "CLOSE_TIMEOUT"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_TO_HEADER_MATCHING_OPTIONS, listener_props, to_header_matching, at_create,
                 nullptr, "TO_HEADER_MATCHING_OPTIONS"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS, listener_props, transport_url_matching,
                 at_create, nullptr, "TRANSPORT_URL_MATCHING_OPTIONS"),
    OPENWWS_PROP(WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT, listener_props, disallowed_user_agent, at_create,
                 nullptr, "DISALLOWED_USER_AGENT"),
};

// The ids Microsoft documents that this build does not carry out (custom listeners
// and multicast groups): E_INVALIDARG would misreport them as misuse.
bool is_unsupported_feature(std::uint32_t id) noexcept {
  return id == WS_LISTENER_PROPERTY_MULTICAST_INTERFACES || id == WS_LISTENER_PROPERTY_CUSTOM_LISTENER_CALLBACKS ||
         id == WS_LISTENER_PROPERTY_CUSTOM_LISTENER_PARAMETERS;
}

}  // namespace

const char* state_name(WS_LISTENER_STATE s) noexcept {
  static constexpr const char* names[] = {"CREATED", "OPENING", "OPEN", "FAULTED", "CLOSING", "CLOSED"};
  return static_cast<unsigned>(s) < 6 ? names[s] : "?";
}

listener::listener(loop& rt, WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding) noexcept : rt_(rt) {
  props_.listen_backlog = SOMAXCONN;
  props_.channel_type = type;
  props_.channel_binding = binding;
  cancel_cmd_.run = run_cancel;
  finish_close_cmd_.run = run_finish_close;
}

listener::~listener() {
  magic_.store(0, std::memory_order_relaxed);
  platform::close_fd(slot_.fd);
}

HRESULT listener::configure(const WS_LISTENER_PROPERTY* props, ULONG count, WS_ERROR* error) noexcept {
  for (ULONG i = 0; i < count; ++i) {
    if (props[i].id == OPENWWS_LISTENER_PROPERTY_EVENT_LOOP) continue;  // chose rt_ (api/)
    if (is_unsupported_feature(props[i].id))
      return fail(error, WS_E_NOT_SUPPORTED,
                  format("WsCreateListener: listener property %u (custom listeners, multicast) is not supported by "
                         "openwws",
                         static_cast<unsigned>(props[i].id)));
    HRESULT hr = store_prop(listener_table, &props_, props[i].id, props[i].value, props[i].valueSize, at_create,
                            "WsCreateListener: listener", error);
    if (FAILED(hr)) return hr;
  }
  return S_OK;
}

// ---- open ---------------------------------------------------------------------------

HRESULT listener::bind_url(const WS_STRING& url, int& fd, WS_ERROR* error) noexcept {
  try {
    std::string text = utf16_to_utf8(std::u16string_view(reinterpret_cast<const char16_t*>(url.chars), url.length));
    parsed_url u;
    std::string why;
    HRESULT hr = parse_url(url.chars, url.length, WS_URL_FLAGS_ALLOW_HOST_WILDCARDS, u, why);
    if (FAILED(hr)) return fail(error, hr, "WsOpenListener: cannot parse URL '" + text + "': " + why);
    if (props_.channel_binding != WS_TCP_CHANNEL_BINDING)
      return fail(error, WS_E_NOT_SUPPORTED,
                  "WsOpenListener: only the TCP binding (net.tcp://) is implemented by openwws; '" + text +
                      "' needs another binding");
    if (u.scheme != WS_URL_NETTCP_SCHEME_TYPE)
      return fail(error, WS_E_INVALID_ENDPOINT_URL,
                  "WsOpenListener: a TCP listener needs a net.tcp:// URL, not '" + text + "'");
    if (u.has_query || u.has_fragment)
      return fail(error, WS_E_INVALID_ENDPOINT_URL,
                  "WsOpenListener: a listener URL may have no query or fragment: '" + text + "'");
    platform::ip_family family = props_.ip_version == WS_IP_VERSION_4   ? platform::ip_family::v4
                                 : props_.ip_version == WS_IP_VERSION_6 ? platform::ip_family::v6
                                                                        : platform::ip_family::any;
    // Windows binds a literal address as given and every other host (a name,
    // "localhost", '+', '*') as the wildcard address (WsOpenListener remarks).
    platform::endpoint ep;
    std::string host = u.host_utf8();
    int rc = u.host_is_wildcard ? -EINVAL : platform::literal_endpoint(host, u.port, family, ep);
    if (rc == -EAFNOSUPPORT)
      return fail(error, WS_E_ADDRESS_NOT_AVAILABLE,
                  "WsOpenListener: address '" + host + "' does not fit the listener's IP_VERSION property");
    if (rc < 0) {
      if (!u.host.empty() && u.host.front() == u'[')
        return fail(error, WS_E_INVALID_FORMAT, "WsOpenListener: '" + host + "' is not an IPv6 address");
      platform::wildcard_endpoint(u.port, family, ep);
    }
    int backlog = static_cast<int>(props_.listen_backlog);
    fd = platform::listen_on(ep, backlog);
    if (fd < 0) {
      int err = -fd;
      fd = -1;
      return fail_errno(error, platform::hresult_from_errno(err), "WsOpenListener: cannot listen on '" + text + "'",
                        err);
    }
    // Clients' Vias are matched against this URL, with the port the kernel chose.
    if (u.port == 0) u.port = platform::local_port(fd);
    url_ = std::move(u);
    nettcp::this_host();  // learnt now (it may ask DNS), not by the first accept
    // Clients speak first: where the kernel can hold back a connection until its
    // preamble has come, an accept reads it at once. Silent clients then wait about a
    // second in the kernel, which would stretch a short CONNECT_TIMEOUT too much.
    ULONG connect_timeout;
    {
      std::lock_guard lock(mu_);
      connect_timeout = props_.connect_timeout;
    }
    defer_accept_ = connect_timeout >= 10000 && platform::accept_when_data(fd, 1);
    return S_OK;
  } catch (const std::bad_alloc&) {
    return fail(error, E_OUTOFMEMORY, "WsOpenListener: out of memory");
  }
}

HRESULT listener::open(const WS_STRING& url, const WS_ASYNC_CONTEXT*, WS_ERROR* error) noexcept {
  if (HRESULT hr = rt_.check_usable(error, "WsOpenListener"); FAILED(hr)) return hr;
  {
    std::lock_guard lock(mu_);
    if (state_ != WS_LISTENER_STATE_CREATED)
      return fail(error, WS_E_INVALID_OPERATION,
                  format("WsOpenListener: the listener is %s; only a CREATED listener can be opened",
                         state_name(state_)));
    state_ = WS_LISTENER_STATE_OPENING;
    aborted_while_opening_ = false;
    ops_.begin();
  }
  // Binding is quick and local, so the open completes before returning even when
  // asked to run asynchronously (allowed: the callback is then not called).
  int fd = -1;
  HRESULT hr = bind_url(url, fd, error);
  bool doomed;
  {
    std::lock_guard lock(mu_);
    if (aborted_while_opening_) {
      platform::close_fd(fd);
      hr = fail(error, WS_E_OPERATION_ABORTED, "WsOpenListener: WsAbortListener was called while opening");
    }
    if (SUCCEEDED(hr)) {
      static std::atomic<std::uint64_t> sockets_opened{0};
      slot_.fd = fd;
      slot_.id = sockets_opened.fetch_add(1, std::memory_order_relaxed) + 1;
      slot_.backlog = static_cast<int>(props_.listen_backlog);
    }
    state_ = SUCCEEDED(hr) ? WS_LISTENER_STATE_OPEN : WS_LISTENER_STATE_CREATED;
    doomed = ops_.end();
  }
  if (doomed) destroy();
  return hr;
}

// ---- accept -------------------------------------------------------------------------

void listener::link_pending(channel& ch) noexcept {
  pending_.push_back(ch);
  ch.pending_ = true;
  ch.started_ = false;
  ch.cancel_sent_ = false;
  ch.stolen_ = false;
}

void listener::unlink_pending(channel& ch) noexcept {
  pending_.remove(ch);
  ch.pending_ = false;
}

HRESULT listener::accept(channel& ch, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept {
  std::unique_lock<std::mutex> lock;
  {
    std::lock_guard ch_lock(ch.mu_);
    if (ch.state_ != WS_CHANNEL_STATE_CREATED)
      return fail(error, WS_E_INVALID_OPERATION,
                  format("WsAcceptChannel: the channel is %s; only a CREATED channel can accept",
                         state_name(ch.state_)));
    ch.state_ = WS_CHANNEL_STATE_ACCEPTING;
    ch.op_.cancel_requested.store(false, std::memory_order_relaxed);
    ch.aborted_ = false;  // no abort_accept before ACCEPTING, and the channel is in no list yet
    ch.ops_.begin();
    // The listener counts this call before ACCEPTING shows (lock order: channel, then
    // listener): a WsFreeListener that saw ACCEPTING waits for it. Its lock stays held
    // for what follows.
    lock = std::unique_lock(mu_);
    ops_.begin();
  }
  // Ends the accept before it reached the loop; counted: it had passed the state check.
  auto refuse = [&](HRESULT hr, const std::string& text, bool counted) {
    bool doomed = !counted && ops_.end();
    lock.unlock();
    HRESULT result = fail(error, hr, text);
    ch.end_early(-1);
    if (counted) accept_finished();
    if (doomed) destroy();
    return result;
  };
  if (state_ != WS_LISTENER_STATE_OPEN) {
    if (state_ == WS_LISTENER_STATE_FAULTED)
      return refuse(WS_E_OBJECT_FAULTED, "WsAcceptChannel: the listener has faulted (WsAbortListener was called)",
                    false);
    return refuse(WS_E_INVALID_OPERATION,
                  format("WsAcceptChannel: the listener is %s; accepting needs an OPEN listener", state_name(state_)),
                  false);
  }
  if (ch.op_.cancel_requested.load(std::memory_order_relaxed))
    return refuse(WS_E_OPERATION_ABORTED, "WsAcceptChannel: the channel was aborted", false);
  ++inflight_;
  bool looked = false;  // found no connection queued just now, or judged so
  if (pending_.empty() && ready_count_ == 0 && slot_.ready.load(std::memory_order_relaxed) == 0) {
    // A synchronous accept may wait on this thread, woken by the kernel.
    const bool may_wait_here = !ctx && !rt_.on_loop_thread();
    // A thread whose last wait slept is likely to find nothing queued again, and so is
    // an async accept after one that the loop had to wait for; the waits that follow
    // see a connection already queued too, so the accept4 that would fail is left out.
    looked = may_wait_here ? platform::this_thread_last_wait_blocked() && may_wait_in_kernel_locked()
                           : ctx && last_accept_in_loop_ && rt_.last_poll_slept();
    if (!looked) {
      // Take a connection that is already waiting, and its preamble, on this thread
      // without a trip through the loop (the fast path under load). One that has not
      // sent its preamble yet goes on as a handshake; this accept then waits.
      lock.unlock();
      int fd = platform::accept_one(slot_.fd);
      if (fd >= 0) fd = take_connection(ch, fd, false) ? ch.result_fd_ : -EAGAIN;
      lock.lock();
      bool aborted = accept_aborted_locked(ch);
      if (fd >= 0) last_accept_in_loop_ = false;
      if (fd != -EAGAIN) {
        lock.unlock();
        return finish_off_loop(ch, fd, aborted, error);
      }
      if (aborted) return refuse(WS_E_OPERATION_ABORTED, "WsAcceptChannel: the listener was aborted or closed", true);
      looked = true;
    }
    if (may_wait_here && may_wait_in_kernel_locked())
      if (platform::accept_waiter* w = platform::this_thread_accept_waiter()) {
        HRESULT hr;
        if (wait_in_kernel(ch, *w, lock, error, hr)) return hr;
      }
  }
  if (!ctx && rt_.on_loop_thread())
    return refuse(WS_E_INVALID_OPERATION, std::string("WsAcceptChannel: ") + rt_.why_sync_refused(), true);
  link_pending(ch);
  loop_knows_slot_ = true;
  // The loop serves this listener's accepts from now on: one place waits for them.
  wake_kernel_waiters_locked(true);
  ch.op_.kind = platform::op_kind::accept;
  ch.op_.try_first = !looked;
  ch.op_.slot = &slot_;
  ch.op_.complete = channel::on_accept_done;
  ch.op_error_ = error;
  sync_waiter waiter;
  ch.arm(ctx, props_.callback_model, &waiter, channel::finish_accept);
  ch.done_.group = this;
  lock.unlock();
  rt_.post(ch.start_cmd_);
  return ctx ? WS_S_ASYNC : ch.done_.wait_and_report(waiter);
}

// Loop thread: the accept's start command, also after it gave its connection away. A
// handshake that is ready goes first: it is a client waiting already.
void listener::start_pending(channel& ch) noexcept {
  for (;;) {
    handshake* h = nullptr;
    bool aborted;
    {
      std::lock_guard lock(mu_);
      ch.started_ = true;
      aborted = ch.aborted_;
      if (!aborted && (h = ready_.pop_front())) {
        h->ready = false;
        --ready_count_;
      }
    }
    if (aborted) {
      ch.op_.complete(ch.op_, -ECANCELED);
      return;
    }
    if (!h) {
      rt_.io().start_accept(slot_, ch.op_);
      return;
    }
    if (hand_over(ch, *h)) {
      accept_succeeded(ch);
      return;
    }
  }
}

// Loop thread: the backend finished an accept.
void listener::accept_done(channel& ch, int res) noexcept {
  bool aborted;
  {
    std::lock_guard lock(mu_);
    aborted = ch.aborted_;
    if (res >= 0) last_accept_in_loop_ = true;
    ch.started_ = false;  // its op is out of the backend: no steal may pick it
    if (ch.stolen_) {
      ch.stolen_ = false;
      --stealing_;
    }
  }
  // A connection that arrives after the abort is not handed out: the accept was
  // aborted, so it reports WS_E_OPERATION_ABORTED.
  if (res >= 0 && aborted) {
    platform::close_fd(res);
    res = -ECANCELED;
  }
  if (res >= 0) {
    bool taken = take_connection(ch, res, true);
    // A steal this accept won against may still be wanted. Before the report: once
    // the accept has reported, the listener may be freed.
    steal_for_ready();
    if (taken)
      accept_succeeded(ch);
    else
      accept_again(ch);
    return;
  }
  if (res == -ECANCELED && !aborted) {  // stolen: a handshake is ready for it
    accept_again(ch);
    return;
  }
  {
    std::lock_guard lock(mu_);
    unlink_pending(ch);
  }
  HRESULT hr;
  if (res == -ECANCELED)
    hr = fail(ch.op_error_, WS_E_OPERATION_ABORTED, "WsAcceptChannel: the accept was aborted");
  else
    hr = fail_errno(ch.op_error_, platform::hresult_from_errno(-res), "WsAcceptChannel: accept failed", -res);
  ch.result_fd_ = -1;
  rt_.complete(ch.done_, hr);
}

void listener::accept_succeeded(channel& ch) noexcept {
  {
    std::lock_guard lock(mu_);
    unlink_pending(ch);
  }
  rt_.complete(ch.done_, S_OK);
}

void listener::accept_again(channel& ch) noexcept {
  {
    std::lock_guard lock(mu_);
    ch.started_ = false;
    ch.cancel_sent_ = false;
    ch.op_.cancel_requested.store(ch.aborted_, std::memory_order_relaxed);
  }
  rt_.post(ch.start_cmd_);
}

bool listener::maybe_finish_close_locked(bool may_wake_closer) noexcept {
  if (state_ != WS_LISTENER_STATE_CLOSING || inflight_ > 0 || handshake_count_ > 0 || finish_posted_) return false;
  finish_posted_ = true;
  // A synchronous closer of a socket the loop never saw closes it itself (publish_close):
  // woken from here, it ends without a trip through the loop's thread.
  if (may_wake_closer && !loop_knows_slot_ && close_done_.waiter) return true;
  rt_.post(finish_close_cmd_);
  return false;
}

// On the loop, or off it for a synchronous closer (whose waiter may be woken from any
// thread). The listener may be freed from here on.
void listener::report_close(bool aborted) noexcept {
  HRESULT hr = aborted ? WS_E_OPERATION_ABORTED : S_OK;
  if (aborted) fail(close_error_, hr, "WsCloseListener: WsAbortListener was called while closing");
  rt_.complete(close_done_, hr);
}

bool listener::accept_finished_locked(bool* wake_closer) noexcept {
  --inflight_;
  bool wake = maybe_finish_close_locked(wake_closer != nullptr);
  if (wake_closer) *wake_closer = wake;
  return ops_.end();  // never true while a close is armed: it counts as an operation
}

void listener::accept_finished() noexcept {
  bool doomed;
  bool wake_closer;
  bool aborted;
  {
    std::lock_guard lock(mu_);
    doomed = accept_finished_locked(&wake_closer);
    aborted = aborted_while_closing_;
  }
  if (wake_closer) report_close(aborted);
  if (doomed) destroy();
}

// ---- abort, cancel, close -----------------------------------------------------------

// The cancel command is counted as an operation: the listener outlives it.
void listener::post_cancel_locked() noexcept {
  if (cancel_posted_) return;
  cancel_posted_ = true;
  ops_.begin();
  rt_.post(cancel_cmd_);
}

void listener::request_cancel_all_locked(kernel_wakes* later) noexcept {
  for (channel* ch = pending_.front(); ch; ch = pending_.next(*ch)) {
    ch->aborted_ = true;
    ch->op_.cancel_requested.store(true, std::memory_order_relaxed);
  }
  wake_kernel_waiters_locked(false, later);  // they see the listener is no longer OPEN
  if (!pending_.empty() || handshake_count_ > 0) post_cancel_locked();
}

void listener::abort_accept(channel& ch) noexcept {
  std::lock_guard lock(mu_);
  ch.aborted_ = true;
  ch.op_.cancel_requested.store(true, std::memory_order_relaxed);
  if (ch.pending_) post_cancel_locked();
  if (ch.in_kernel_) platform::wake(*ch.in_kernel_->waiter);
}

// Loop thread: cancel every started accept that was asked to stop, and, once the
// listener is no longer open, every handshake. The backend may complete them inline,
// which takes mu_, so they are gathered first.
void listener::run_cancel(command& c) noexcept {
  listener& self = owner_of(c, &listener::cancel_cmd_);
  channel* batch = nullptr;
  bool closing;
  {
    std::lock_guard lock(self.mu_);
    self.cancel_posted_ = false;
    closing = self.state_ != WS_LISTENER_STATE_OPEN;
    for (channel* ch = self.pending_.front(); ch; ch = self.pending_.next(*ch)) {
      if (ch->started_ && !ch->cancel_sent_ && ch->aborted_) {
        ch->cancel_sent_ = true;
        ch->cancel_next_ = batch;
        batch = ch;
      }
    }
  }
  while (batch) {
    channel* ch = batch;
    batch = ch->cancel_next_;
    self.rt_.io().cancel(ch->op_);
  }
  if (closing) self.cancel_handshakes();
  bool doomed;
  {
    std::lock_guard lock(self.mu_);
    doomed = self.ops_.end();
  }
  if (doomed) self.destroy();
}

void listener::abort_locked(kernel_wakes* later) noexcept {
  switch (state_) {
    case WS_LISTENER_STATE_OPEN:
      state_ = WS_LISTENER_STATE_FAULTED;
      break;
    case WS_LISTENER_STATE_OPENING:
      aborted_while_opening_ = true;
      break;
    case WS_LISTENER_STATE_CLOSING:
      aborted_while_closing_ = true;
      break;
    default:
      break;
  }
  request_cancel_all_locked(later);
}

HRESULT listener::abort() noexcept {
  kernel_wakes later;  // destroyed after the lock: the waiters wake with mu_ let go
  std::lock_guard lock(mu_);
  abort_locked(&later);
  return S_OK;
}

HRESULT listener::close(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept {
  std::unique_lock lock(mu_);
  switch (state_) {
    case WS_LISTENER_STATE_CREATED:
      state_ = WS_LISTENER_STATE_CLOSED;
      return S_OK;
    case WS_LISTENER_STATE_CLOSED:
      return S_OK;
    case WS_LISTENER_STATE_OPENING:
    case WS_LISTENER_STATE_CLOSING:
      return fail(error, WS_E_INVALID_OPERATION,
                  format("WsCloseListener: the listener is %s", state_name(state_)));
    default:
      break;
  }
  // Called from one of this listener's own accept callbacks: that accept is over as
  // far as the close is concerned, or the close would wait for itself.
  bool own = loop::delivering_group(this);
  std::uint32_t others = inflight_ - (own ? 1 : 0);
  if (!ctx && rt_.on_loop_thread() && (others > 0 || loop_knows_slot_))
    return fail(error, WS_E_INVALID_OPERATION, std::string("WsCloseListener: ") + rt_.why_sync_refused());
  if (own && loop::take_group_delivery(this)) accept_finished_locked();  // not freeing: never the last
  sync_waiter waiter;
  kernel_wakes later;
  HRESULT started = start_close_locked(ctx, &waiter, error, &later);
  lock.unlock();
  later.wake_all();
  if (started == S_OK) return S_OK;
  return ctx ? WS_S_ASYNC : close_done_.wait_and_report(waiter);
}

// CLOSING, then CLOSED at once if the loop never saw the socket and no accept is in
// flight (S_OK); otherwise the close is armed and reports later (WS_S_ASYNC).
HRESULT listener::start_close_locked(const WS_ASYNC_CONTEXT* ctx, sync_waiter* waiter, WS_ERROR* error,
                                     kernel_wakes* later) noexcept {
  state_ = WS_LISTENER_STATE_CLOSING;
  aborted_while_closing_ = false;
  finish_posted_ = false;
  request_cancel_all_locked(later);
  if (inflight_ == 0 && handshake_count_ == 0 && !loop_knows_slot_) {
    platform::close_fd(slot_.fd);
    slot_.fd = -1;
    state_ = WS_LISTENER_STATE_CLOSED;
    return S_OK;
  }
  ops_.begin();
  close_error_ = error;
  close_done_.arm(ctx, props_.callback_model, waiter);
  close_done_.owner = this;
  close_done_.group = nullptr;
  close_done_.publish = publish_close;
  close_done_.finish = finish_close;
  maybe_finish_close_locked();
  return WS_S_ASYNC;
}

// Loop thread: no accept is in flight any more; forget the socket and report.
void listener::run_finish_close(command& c) noexcept {
  listener& self = owner_of(c, &listener::finish_close_cmd_);
  self.rt_.io().remove_listener(self.slot_);
  bool aborted;
  {
    std::lock_guard lock(self.mu_);
    platform::close_fd(self.slot_.fd);
    self.slot_.fd = -1;
    self.loop_knows_slot_ = false;
    aborted = self.aborted_while_closing_;
  }
  self.report_close(aborted);
}

void listener::publish_close(void* self, HRESULT) noexcept {
  auto& l = *static_cast<listener*>(self);
  std::lock_guard lock(l.mu_);
  if (l.slot_.fd >= 0 && !l.loop_knows_slot_) {  // finished off the loop (accept_finished)
    platform::close_fd(l.slot_.fd);
    l.slot_.fd = -1;
  }
  l.state_ = WS_LISTENER_STATE_CLOSED;
}

void listener::finish_close(void* self, bool) noexcept {
  auto& l = *static_cast<listener*>(self);
  bool doomed;
  {
    std::lock_guard lock(l.mu_);
    doomed = l.ops_.end();
  }
  if (doomed) l.destroy();
}

HRESULT listener::reset(WS_ERROR* error) noexcept {
  std::lock_guard lock(mu_);
  if (state_ != WS_LISTENER_STATE_CREATED && state_ != WS_LISTENER_STATE_CLOSED)
    return fail(error, WS_E_INVALID_OPERATION,
                format("WsResetListener: the listener is %s; only CREATED or CLOSED can be reset",
                       state_name(state_)));
  state_ = WS_LISTENER_STATE_CREATED;
  return S_OK;
}

void listener::free() noexcept {
  std::unique_lock lock(mu_);
  magic_.store(0, std::memory_order_relaxed);
  // Inside one of our accept callbacks that accept is over for the free, as for a close.
  if (loop::take_group_delivery(this)) accept_finished_locked();  // not freeing yet: never the last
  // Freeing an open listener is undefined on Windows; here it is aborted and closed,
  // with nobody to tell: the close's finish counts down like any operation.
  if (state_ == WS_LISTENER_STATE_OPEN || state_ == WS_LISTENER_STATE_FAULTED) {
    abort_locked();
    start_close_locked(nullptr, nullptr, nullptr);
  } else if (state_ == WS_LISTENER_STATE_OPENING) {
    abort_locked();
  }
  if (ops_.free(lock, rt_.may_wait_for(this))) {
    lock.unlock();
    destroy();
  }
}

void listener::destroy() noexcept {
  loop& on = rt_;
  delete static_cast<_WS_LISTENER*>(this);
  on.release();
}

void listener::channel_defaults(WS_CALLBACK_MODEL& model, WS_IP_VERSION& ip) noexcept {
  std::lock_guard lock(mu_);
  model = props_.callback_model;
  ip = props_.ip_version;
}

// ---- properties ---------------------------------------------------------------------

HRESULT listener::get_property(WS_LISTENER_PROPERTY_ID id, void* value, ULONG size, WS_ERROR* error) noexcept {
  const char* what = "WsGetListenerProperty: listener";
  switch (static_cast<std::uint32_t>(id)) {
    case WS_LISTENER_PROPERTY_STATE: {
      if (HRESULT hr = check_value(value, size, sizeof(WS_LISTENER_STATE), what, id, error); FAILED(hr)) return hr;
      std::lock_guard lock(mu_);
      std::memcpy(value, &state_, sizeof state_);
      return S_OK;
    }
    case OPENWWS_LISTENER_PROPERTY_BACKEND_NAME: {
      if (HRESULT hr = check_value(value, size, sizeof(const char*), what, id, error); FAILED(hr)) return hr;
      const char* name = rt_.backend_name().data();  // names are static, NUL-terminated literals
      std::memcpy(value, &name, sizeof name);
      return S_OK;
    }
    case OPENWWS_LISTENER_PROPERTY_LOCAL_PORT: {
      if (HRESULT hr = check_value(value, size, sizeof(USHORT), what, id, error); FAILED(hr)) return hr;
      std::lock_guard lock(mu_);
      if (slot_.fd < 0) return fail(error, E_INVALIDARG, "WsGetListenerProperty: LOCAL_PORT needs an open listener");
      USHORT port = platform::local_port(slot_.fd);
      std::memcpy(value, &port, sizeof port);
      return S_OK;
    }
    default:
      std::lock_guard lock(mu_);
      return load_prop(listener_table, &props_, id, value, size, what, error);
  }
}

HRESULT listener::set_property(WS_LISTENER_PROPERTY_ID id, const void* value, ULONG size, WS_ERROR* error) noexcept {
  std::lock_guard lock(mu_);  // ids outside the table (custom, multicast) are E_INVALIDARG there
  return store_prop(listener_table, &props_, id, value, size, can_set, "WsSetListenerProperty: listener", error);
}

}  // namespace openwws::core
