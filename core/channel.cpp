// SPDX-License-Identifier: MIT
// The channel state machine (WS_CHANNEL_STATE) for TCP session channels: accepted by a
// listener, or opened by a client with WsOpenChannel.
#include "core/objects.h"

#include "core/error.h"
#include "core/properties.h"
#include "core/text.h"
#include "core/url.h"
#include "platform/error_map.h"
#include "platform/socket.h"

#include <cerrno>
#include <cstring>

namespace openwws::core {

namespace {

constexpr std::uint8_t cgs = at_create | can_get | can_set;
constexpr std::uint8_t cg = at_create | can_get;

const prop_info channel_table[] = {
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE, channel_props, max_buffered_message_size, cg,
                 valid_nonzero, "MAX_BUFFERED_MESSAGE_SIZE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_STREAMED_MESSAGE_SIZE, channel_props, max_streamed_message_size, cg, nullptr,
                 "MAX_STREAMED_MESSAGE_SIZE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_STREAMED_START_SIZE, channel_props, max_streamed_start_size, cg, nullptr,
                 "MAX_STREAMED_START_SIZE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_STREAMED_FLUSH_SIZE, channel_props, max_streamed_flush_size, cg, nullptr,
                 "MAX_STREAMED_FLUSH_SIZE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ENCODING, channel_props, encoding, cg, nullptr, "ENCODING"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ENVELOPE_VERSION, channel_props, envelope_version, cg, nullptr,
                 "ENVELOPE_VERSION"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ADDRESSING_VERSION, channel_props, addressing_version, cg, nullptr,
                 "ADDRESSING_VERSION"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE, channel_props, max_session_dictionary_size, cg,
                 nullptr, "MAX_SESSION_DICTIONARY_SIZE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL, channel_props, callback_model, cgs, valid_callback_model,
                 "ASYNC_CALLBACK_MODEL"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_IP_VERSION, channel_props, ip_version, cg, valid_ip_version, "IP_VERSION"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT, channel_props, resolve_timeout, cgs, nullptr,
                 "RESOLVE_TIMEOUT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_CONNECT_TIMEOUT, channel_props, connect_timeout, cgs, nullptr,
                 "CONNECT_TIMEOUT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_SEND_TIMEOUT, channel_props, send_timeout, cgs, nullptr, "SEND_TIMEOUT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_RECEIVE_RESPONSE_TIMEOUT, channel_props, receive_response_timeout, cgs, nullptr,
                 "RECEIVE_RESPONSE_TIMEOUT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT, channel_props, receive_timeout, cgs, nullptr,
                 "RECEIVE_TIMEOUT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_CLOSE_TIMEOUT, channel_props, close_timeout, cgs, nullptr, "CLOSE_TIMEOUT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ENABLE_TIMEOUTS, channel_props, enable_timeouts, cg, valid_bool,
                 "ENABLE_TIMEOUTS"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_TRANSFER_MODE, channel_props, transfer_mode, cgs, nullptr, "TRANSFER_MODE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MULTICAST_INTERFACE, channel_props, multicast_interface, cgs, nullptr,
                 "MULTICAST_INTERFACE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MULTICAST_HOPS, channel_props, multicast_hops, cgs, nullptr, "MULTICAST_HOPS"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_NO_DELAY, channel_props, no_delay, cgs, valid_bool, "NO_DELAY"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_SEND_KEEP_ALIVES, channel_props, send_keep_alives, cgs, valid_bool,
                 "SEND_KEEP_ALIVES"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_KEEP_ALIVE_TIME, channel_props, keep_alive_time, cgs, nullptr,
                 "KEEP_ALIVE_TIME"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_KEEP_ALIVE_INTERVAL, channel_props, keep_alive_interval, cgs, nullptr,
                 "KEEP_ALIVE_INTERVAL"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_HTTP_SERVER_CONNECTIONS, channel_props, max_http_server_connections, cgs,
                 nullptr, "MAX_HTTP_SERVER_CONNECTIONS"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_CHANNEL_TYPE, channel_props, channel_type, can_get, nullptr, "CHANNEL_TYPE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_TRIM_BUFFERED_MESSAGE_SIZE, channel_props, trim_buffered_message_size, cgs,
                 nullptr, "TRIM_BUFFERED_MESSAGE_SIZE"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ENABLE_HTTP_REDIRECT, channel_props, enable_http_redirect, cgs, valid_bool,
                 "ENABLE_HTTP_REDIRECT"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_FAULTS_AS_ERRORS, channel_props, faults_as_errors, cgs, valid_bool,
                 "FAULTS_AS_ERRORS"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_ALLOW_UNSECURED_FAULTS, channel_props, allow_unsecured_faults, cgs, valid_bool,
                 "ALLOW_UNSECURED_FAULTS"),
    OPENWWS_PROP(WS_CHANNEL_PROPERTY_MAX_HTTP_REQUEST_HEADERS_BUFFER_SIZE, channel_props,
                 max_http_request_headers_buffer_size, cgs, nullptr, "MAX_HTTP_REQUEST_HEADERS_BUFFER_SIZE"),
};

bool is_session_binding(WS_CHANNEL_BINDING b) noexcept {
  return b == WS_TCP_CHANNEL_BINDING || b == WS_NAMEDPIPE_CHANNEL_BINDING;
}

}  // namespace

const char* state_name(WS_CHANNEL_STATE s) noexcept {
  static constexpr const char* names[] = {"CREATED", "OPENING", "ACCEPTING", "OPEN", "FAULTED", "CLOSING", "CLOSED"};
  return static_cast<unsigned>(s) < 7 ? names[s] : "?";
}

channel::channel(loop& rt, WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding, listener* owner) noexcept
    : rt_(rt), owner_(owner), binding_(binding) {
  props_.channel_type = type;
  if (binding == WS_HTTP_CHANNEL_BINDING || binding == WS_UDP_CHANNEL_BINDING)
    props_.encoding = WS_ENCODING_XML_UTF8;
  // Channels made for a listener take these from the listener (WsCreateChannelForListener).
  if (owner) owner->channel_defaults(props_.callback_model, props_.ip_version);
  start_cmd_.run = run_start;
  cancel_connect_cmd_.run = run_cancel_connect;
}

channel::~channel() {
  magic_.store(0, std::memory_order_relaxed);
  platform::close_fd(fd_);
}

HRESULT channel::configure(const WS_CHANNEL_PROPERTY* props, ULONG count, WS_ERROR* error) noexcept {
  for (ULONG i = 0; i < count; ++i) {
    if (props[i].id == OPENWWS_CHANNEL_PROPERTY_EVENT_LOOP) continue;  // chose rt_ (api/)
    if (props[i].id == WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE && !is_session_binding(binding_))
      return fail(error, E_INVALIDARG, "WsCreateChannel: MAX_SESSION_DICTIONARY_SIZE is for TCP and named pipes only");
    HRESULT hr = store_prop(channel_table, &props_, props[i].id, props[i].value, props[i].valueSize, at_create,
                            "channel", error);
    if (FAILED(hr)) return hr;
  }
  return S_OK;
}

void channel::apply_socket_options() noexcept {
  if (fd_ < 0) return;
  if (props_.no_delay) platform::set_no_delay(fd_, true);
  if (props_.send_keep_alives)
    platform::set_keep_alive(fd_, true, props_.keep_alive_time, props_.keep_alive_interval);
}

void channel::arm(const WS_ASYNC_CONTEXT* ctx, WS_CALLBACK_MODEL model, sync_waiter* waiter,
                  void (*finish)(void*, bool) noexcept) noexcept {
  done_.arm(ctx, model, waiter);
  done_.owner = this;
  done_.group = nullptr;
  done_.publish = publish_result;
  done_.finish = finish;
}

void channel::publish_result(void* self, HRESULT) noexcept {
  auto& ch = *static_cast<channel*>(self);
  std::lock_guard lock(ch.mu_);
  int fd = ch.result_fd_;
  ch.result_fd_ = -1;
  if (fd >= 0) {
    ch.fd_ = fd;
    ch.session_shut_down_ = false;
    ch.end_sent_ = false;
    ch.state_ = WS_CHANNEL_STATE_OPEN;
    ch.apply_socket_options();
  } else {
    ch.state_ = WS_CHANNEL_STATE_CREATED;
  }
}

void channel::op_ended() noexcept {
  bool doomed;
  {
    std::lock_guard lock(mu_);
    doomed = ops_.end();
  }
  if (doomed) destroy();
}

void channel::finish_accept(void* self, bool group_taken) noexcept {
  auto& ch = *static_cast<channel*>(self);
  if (!group_taken) ch.owner_->accept_finished();
  ch.op_ended();
}

void channel::finish_connect(void* self, bool) noexcept { static_cast<channel*>(self)->op_ended(); }

void channel::end_early(int fd) noexcept {
  result_fd_ = fd;
  publish_result(this, S_OK);
  op_ended();
}

// ---- the op's loop-thread side ------------------------------------------------------

void channel::run_start(command& c) noexcept {
  channel& self = owner_of(c, &channel::start_cmd_);
  if (self.op_.kind == platform::op_kind::accept) {
    self.owner_->start_pending(self);
    return;
  }
  // WsOpenChannel: CONNECT_TIMEOUT bounds the connect and the handshake together.
  self.open_timed_out_ = false;
  if (self.open_timeout_ms_ != INFINITE)
    self.rt_.timers().start(self.open_deadline_,
                            timer_clock::now() + std::chrono::milliseconds(self.open_timeout_ms_), on_open_expired);
  if (self.op_.cancel_requested.load(std::memory_order_acquire))
    self.op_.complete(self.op_, -ECANCELED);
  else
    self.rt_.io().start_connect(self.op_);
}

void channel::run_cancel_connect(command& c) noexcept {
  channel& self = owner_of(c, &channel::cancel_connect_cmd_);
  if (self.op_.cancel_requested.load(std::memory_order_acquire)) self.rt_.io().cancel(self.op_);
  self.cancel_connect_posted_.store(false, std::memory_order_release);
  self.op_ended();  // the command counted as an operation: the channel outlived it
}

void channel::on_accept_done(platform::io_op& op, int res) noexcept {
  channel& self = owner_of(op, &channel::op_);
  self.owner_->accept_done(self, res);
}

void channel::on_open_expired(timer& t) noexcept {
  auto& self = *static_cast<channel*>(t.owner());
  self.open_timed_out_ = true;
  self.rt_.io().cancel(self.op_);
}

void channel::on_connect_done(platform::io_op& op, int res) noexcept {
  channel& self = owner_of(op, &channel::op_);
  if (res == 0 && !self.open_timed_out_ && !op.cancel_requested.load(std::memory_order_acquire)) {
    self.send_preamble(op.fd);
    return;
  }
  HRESULT hr = res == 0 || res == -ECANCELED
                   ? S_OK  // end_open tells a timeout from an abort
                   : fail_errno(self.op_error_, platform::hresult_from_errno(-res), "WsOpenChannel: cannot connect", -res);
  self.end_open(FAILED(hr) ? hr : E_ABORT);
}

// The preamble ([MC-NMF] 3.1.2), at once after connecting, as Windows clients do.
void channel::send_preamble(int fd) noexcept {
  ssize_t n = platform::send_nosignal(fd, preamble_.data(), preamble_.size());
  if (n != static_cast<ssize_t>(preamble_.size())) {
    int err = n < 0 ? static_cast<int>(-n) : EAGAIN;  // a fresh socket's buffer holds any preamble
    end_open(fail_errno(op_error_, WS_E_ENDPOINT_DISCONNECTED, "WsOpenChannel: cannot send the net.tcp preamble", err));
    return;
  }
  answer_.reset();
  op_.kind = platform::op_kind::readable;
  op_.complete = on_answer_readable;
  rt_.io().start_readable(op_);
}

void channel::on_answer_readable(platform::io_op& op, int res) noexcept {
  channel& self = owner_of(op, &channel::op_);
  if (res < 0 || self.open_timed_out_ || op.cancel_requested.load(std::memory_order_acquire)) {
    HRESULT hr = res == -ECANCELED || res >= 0
                     ? E_ABORT
                     : fail_errno(self.op_error_, platform::hresult_from_errno(-res),
                                  "WsOpenChannel: waiting for the server's answer to the preamble failed", -res);
    self.end_open(hr);
    return;
  }
  self.read_answer();
}

void channel::read_answer() noexcept {
  std::uint8_t buf[512];
  for (;;) {
    ssize_t n = platform::recv_some(op_.fd, buf, sizeof buf);
    if (n == -EAGAIN) {
      rt_.io().start_readable(op_);
      return;
    }
    if (n <= 0) {
      end_open(n == 0 ? fail(op_error_, WS_E_ENDPOINT_DISCONNECTED,
                             "WsOpenChannel: the server closed the connection without answering the net.tcp preamble")
                      : fail_errno(op_error_, platform::hresult_from_errno(static_cast<int>(-n)),
                                   "WsOpenChannel: reading the server's answer to the preamble failed",
                                   static_cast<int>(-n)));
      return;
    }
    std::span<const std::uint8_t> got(buf, static_cast<std::size_t>(n));
    nettcp::feed_result r = answer_.feed(got);
    if (r.status == nettcp::step::failed) {
      end_open(fail(op_error_, answer_.result(),
                    "WsOpenChannel: the server refused the net.tcp preamble: " + std::string(answer_.reason())));
      return;
    }
    if (r.status == nettcp::step::done) {
      try {
        received_.assign(got.begin() + static_cast<std::ptrdiff_t>(r.consumed), got.end());
      } catch (const std::bad_alloc&) {
        end_open(fail(op_error_, E_OUTOFMEMORY, "WsOpenChannel: out of memory"));
        return;
      }
      end_open(S_OK);
      return;
    }
  }
}

// hr: S_OK, a failure already written to the WS_ERROR, or E_ABORT for a cancel (a
// timeout when CONNECT_TIMEOUT fired, else WsAbortChannel).
void channel::end_open(HRESULT hr) noexcept {
  rt_.timers().stop(open_deadline_);
  int fd = op_.fd;
  op_.fd = -1;
  if (hr == E_ABORT)
    hr = open_timed_out_ ? fail(op_error_, WS_E_OPERATION_TIMED_OUT,
                                format("WsOpenChannel: no net.tcp session within CONNECT_TIMEOUT (%lu ms)",
                                       static_cast<unsigned long>(open_timeout_ms_)))
                         : fail(op_error_, WS_E_OPERATION_ABORTED, "WsOpenChannel: the channel was aborted while opening");
  if (FAILED(hr)) {
    platform::close_fd(fd);
    fd = -1;
  }
  result_fd_ = fd;
  rt_.complete(done_, hr);
}

void channel::take_handshake(std::string_view via, std::vector<std::uint8_t>& after) {
  utf8_to_utf16(via, transport_url_);
  has_transport_url_ = true;
  received_.swap(after);
}

// ---- client open --------------------------------------------------------------------

HRESULT channel::open(const WS_ENDPOINT_ADDRESS& address, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept {
  if (owner_)
    return fail(error, WS_E_INVALID_OPERATION,
                "WsOpenChannel: a channel from WsCreateChannelForListener is opened by WsAcceptChannel");
  if (HRESULT hr = rt_.check_usable(error, "WsOpenChannel"); FAILED(hr)) return hr;
  {
    std::lock_guard lock(mu_);
    if (state_ != WS_CHANNEL_STATE_CREATED)
      return fail(error, WS_E_INVALID_OPERATION,
                  format("WsOpenChannel: the channel is %s; only a CREATED channel can be opened",
                         state_name(state_)));
    state_ = WS_CHANNEL_STATE_OPENING;
    op_.cancel_requested.store(false, std::memory_order_relaxed);
    ops_.begin();
  }
  try {
    std::string text = utf16_to_utf8(
        std::u16string_view(reinterpret_cast<const char16_t*>(address.url.chars), address.url.length));
    parsed_url u;
    std::string why;
    HRESULT hr = parse_url(address.url.chars, address.url.length, 0, u, why);
    if (FAILED(hr)) {
      why = "WsOpenChannel: cannot parse URL '" + text + "': " + why;
    } else if (binding_ != WS_TCP_CHANNEL_BINDING) {
      hr = WS_E_NOT_SUPPORTED;
      why = "WsOpenChannel: only the TCP binding is implemented by openwws";
    } else if (u.scheme != WS_URL_NETTCP_SCHEME_TYPE) {
      hr = WS_E_INVALID_ENDPOINT_URL;
      why = "WsOpenChannel: a TCP channel needs a net.tcp:// URL, not '" + text + "'";
    }
    if (FAILED(hr)) {
      hr = fail(error, hr, why);
      end_early(-1);
      return hr;
    }
    platform::ip_family family = props_.ip_version == WS_IP_VERSION_4   ? platform::ip_family::v4
                                 : props_.ip_version == WS_IP_VERSION_6 ? platform::ip_family::v6
                                                                        : platform::ip_family::any;
    platform::endpoint ep;
    std::string host = u.host_utf8();
    int rc = platform::literal_endpoint(host, u.port, family, ep);
    if (rc == -EINVAL) rc = platform::resolve_endpoint(host, u.port, family, ep);
    // The preamble is made here, so that the loop only has to send it.
    preamble_.clear();
    if (rc == 0) {
      hr = nettcp::encode_client_preamble(
          std::u16string_view(reinterpret_cast<const char16_t*>(address.url.chars), address.url.length),
          props_.channel_type, props_.encoding, props_.envelope_version, preamble_, why);
      if (FAILED(hr)) {
        hr = fail(error, hr, "WsOpenChannel: " + why);
        end_early(-1);
        return hr;
      }
    }
    int fd = -1;
    if (rc == 0) rc = platform::connect_start(ep, &fd);
    // Connected at once or not, the loop sends the preamble once the socket is writable.
    if (rc != 0 && rc != -EINPROGRESS) {
      HRESULT result;
      if (rc == -ENOENT)
        result = fail(error, WS_E_ENDPOINT_NOT_FOUND, "WsOpenChannel: host '" + host + "' has no address");
      else
        result = fail_errno(error, platform::hresult_from_errno(-rc),
                            "WsOpenChannel: cannot connect to '" + text + "'", -rc);
      end_early(-1);
      return result;
    }
    if (!ctx && rt_.on_loop_thread()) {
      platform::close_fd(fd);
      hr = fail(error, WS_E_INVALID_OPERATION, std::string("WsOpenChannel: ") + rt_.why_sync_refused());
      end_early(-1);
      return hr;
    }
    op_.kind = platform::op_kind::connect;
    op_.fd = fd;
    op_.complete = on_connect_done;
    op_error_ = error;
    sync_waiter waiter;
    WS_CALLBACK_MODEL model;
    {
      std::lock_guard lock(mu_);
      model = props_.callback_model;
      open_timeout_ms_ = props_.enable_timeouts ? props_.connect_timeout : INFINITE;
    }
    arm(ctx, model, &waiter, finish_connect);
    rt_.post(start_cmd_);
    return ctx ? WS_S_ASYNC : done_.wait_and_report(waiter);
  } catch (const std::bad_alloc&) {
    HRESULT hr = fail(error, E_OUTOFMEMORY, "WsOpenChannel: out of memory");
    end_early(-1);
    return hr;
  }
}

// ---- close, abort, reset, shutdown --------------------------------------------------

HRESULT channel::close(const WS_ASYNC_CONTEXT*, WS_ERROR* error) noexcept {
  std::lock_guard lock(mu_);
  switch (state_) {
    case WS_CHANNEL_STATE_CREATED:
    case WS_CHANNEL_STATE_CLOSED:
    case WS_CHANNEL_STATE_OPEN:
    case WS_CHANNEL_STATE_FAULTED:
      close_locked();
      return S_OK;
    default:
      return fail(error, WS_E_INVALID_OPERATION, format("WsCloseChannel: the channel is %s", state_name(state_)));
  }
}

// An open session ends as [MC-NMF] 3.1.5 says: End (unless WsShutdownSessionChannel
// sent it), then FIN. What the peer sent and nobody read is dropped first, so that the
// close is no reset at the peer. No message I/O runs on openwws channels, so the close
// does not wait for the peer's End: it completes at once.
void channel::close_locked() noexcept {
  if (fd_ >= 0 && state_ == WS_CHANNEL_STATE_OPEN) {
    platform::discard_received(fd_, 64 * 1024);
    if (!end_sent_) {
      end_sent_ = true;
      std::span<const std::uint8_t> end = nettcp::end_record();
      platform::send_before_close(fd_, end.data(), end.size());  // a peer that left needs no End
    }
  }
  platform::close_fd(fd_);
  fd_ = -1;
  state_ = WS_CHANNEL_STATE_CLOSED;
}

HRESULT channel::abort(WS_ERROR*) noexcept {
  std::lock_guard lock(mu_);
  abort_locked();
  return S_OK;
}

void channel::abort_locked() noexcept {
  switch (state_) {
    case WS_CHANNEL_STATE_OPEN:
      state_ = WS_CHANNEL_STATE_FAULTED;
      ::shutdown(fd_, SHUT_RDWR);  // ends any I/O the peer or a reader is waiting on
      break;
    case WS_CHANNEL_STATE_ACCEPTING:
      // With mu_ held: the accept stays in flight, so the listener, which counts it, is
      // still there (lock order: channel, then listener).
      owner_->abort_accept(*this);
      break;
    case WS_CHANNEL_STATE_OPENING:
      op_.cancel_requested.store(true, std::memory_order_release);
      if (!cancel_connect_posted_.exchange(true, std::memory_order_acq_rel)) {
        ops_.begin();
        rt_.post(cancel_connect_cmd_);
      }
      break;
    default:
      break;
  }
}

HRESULT channel::reset(WS_ERROR* error) noexcept {
  std::lock_guard lock(mu_);
  if (state_ != WS_CHANNEL_STATE_CREATED && state_ != WS_CHANNEL_STATE_CLOSED)
    return fail(error, WS_E_INVALID_OPERATION,
                format("WsResetChannel: the channel is %s; only CREATED or CLOSED can be reset", state_name(state_)));
  state_ = WS_CHANNEL_STATE_CREATED;
  session_shut_down_ = false;
  has_transport_url_ = false;
  received_.clear();
  return S_OK;
}

HRESULT channel::shutdown_session(const WS_ASYNC_CONTEXT*, WS_ERROR* error) noexcept {
  std::lock_guard lock(mu_);
  if (!(props_.channel_type & WS_CHANNEL_TYPE_SESSION) || !(props_.channel_type & WS_CHANNEL_TYPE_OUTPUT))
    return fail(error, WS_E_INVALID_OPERATION, "WsShutdownSessionChannel: the channel is not an output session");
  if (state_ == WS_CHANNEL_STATE_FAULTED)
    return fail(error, WS_E_OBJECT_FAULTED, "WsShutdownSessionChannel: the channel has faulted");
  if (state_ != WS_CHANNEL_STATE_OPEN)
    return fail(error, WS_E_INVALID_OPERATION,
                format("WsShutdownSessionChannel: the channel is %s; it must be OPEN", state_name(state_)));
  if (session_shut_down_)
    return fail(error, WS_E_INVALID_OPERATION, "WsShutdownSessionChannel: the session is already shut down");
  std::span<const std::uint8_t> end = nettcp::end_record();
  int rc = platform::send_last(fd_, end.data(), end.size());
  end_sent_ = true;
  if (rc < 0) {
    state_ = WS_CHANNEL_STATE_FAULTED;
    return fail_errno(error, rc == -EPIPE || rc == -ECONNRESET ? WS_E_ENDPOINT_DISCONNECTED
                                                                : platform::hresult_from_errno(-rc),
                      "WsShutdownSessionChannel: cannot send End", -rc);
  }
  session_shut_down_ = true;
  return S_OK;
}

void channel::free() noexcept {
  std::unique_lock lock(mu_);
  magic_.store(0, std::memory_order_relaxed);
  // Freeing a channel mid-operation is undefined on Windows; here the operation is
  // aborted and still reports (its callback runs) before the memory goes.
  if (state_ == WS_CHANNEL_STATE_OPEN || state_ == WS_CHANNEL_STATE_FAULTED)
    close_locked();
  else
    abort_locked();
  if (ops_.free(lock, rt_.may_wait_for(this))) {
    lock.unlock();
    destroy();
  }
}

void channel::destroy() noexcept {
  loop& on = rt_;
  delete static_cast<_WS_CHANNEL*>(this);
  on.release();
}

// ---- properties ---------------------------------------------------------------------

HRESULT channel::get_property(WS_CHANNEL_PROPERTY_ID id, void* value, ULONG size, WS_ERROR* error) noexcept {
  const char* what = "WsGetChannelProperty: channel";
  std::lock_guard lock(mu_);
  switch (id) {
    case WS_CHANNEL_PROPERTY_STATE:
      if (HRESULT hr = check_value(value, size, sizeof(WS_CHANNEL_STATE), what, id, error); FAILED(hr)) return hr;
      std::memcpy(value, &state_, sizeof state_);
      return S_OK;
    case WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN: {
      if (HRESULT hr = check_value(value, size, sizeof(BOOL), what, id, error); FAILED(hr)) return hr;
      if (!is_session_binding(binding_) || (state_ != WS_CHANNEL_STATE_OPEN && state_ != WS_CHANNEL_STATE_FAULTED))
        return fail(error, E_INVALIDARG, "WsGetChannelProperty: IS_SESSION_SHUT_DOWN needs an OPEN session channel");
      BOOL b = session_shut_down_ ? TRUE : FALSE;
      std::memcpy(value, &b, sizeof b);
      return S_OK;
    }
    case WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS: {
      if (HRESULT hr = check_value(value, size, sizeof(SOCKADDR_STORAGE), what, id, error); FAILED(hr)) return hr;
      sockaddr_storage ss{};
      if (fd_ < 0 || platform::peer_address(fd_, ss) < 0)
        return fail(error, WS_E_INVALID_OPERATION, "WsGetChannelProperty: REMOTE_IP_ADDRESS needs a connected channel");
      std::memcpy(value, &ss, sizeof ss);
      return S_OK;
    }
    case WS_CHANNEL_PROPERTY_TRANSPORT_URL: {
      if (HRESULT hr = check_value(value, size, sizeof(WS_STRING), what, id, error); FAILED(hr)) return hr;
      if (!owner_)
        return fail(error, E_INVALIDARG,
                    "WsGetChannelProperty: TRANSPORT_URL is a property of channels from WsCreateChannelForListener");
      if (!has_transport_url_ || state_ == WS_CHANNEL_STATE_CREATED || state_ == WS_CHANNEL_STATE_ACCEPTING)
        return fail(error, WS_E_INVALID_OPERATION,
                    format("WsGetChannelProperty: the channel is %s; TRANSPORT_URL is known once WsAcceptChannel "
                           "completed",
                           state_name(state_)));
      WS_STRING url{static_cast<ULONG>(transport_url_.size()), reinterpret_cast<WCHAR*>(transport_url_.data())};
      std::memcpy(value, &url, sizeof url);
      return S_OK;
    }
    case WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE:
      if (!is_session_binding(binding_))
        return fail(error, E_INVALIDARG, "WsGetChannelProperty: MAX_SESSION_DICTIONARY_SIZE is for TCP and named pipes");
      [[fallthrough]];
    default:
      return load_prop(channel_table, &props_, id, value, size, what, error);
  }
}

HRESULT channel::set_property(WS_CHANNEL_PROPERTY_ID id, const void* value, ULONG size, WS_ERROR* error) noexcept {
  std::lock_guard lock(mu_);
  HRESULT hr = store_prop(channel_table, &props_, id, value, size, can_set, "WsSetChannelProperty: channel", error);
  if (SUCCEEDED(hr) && fd_ >= 0 && (id == WS_CHANNEL_PROPERTY_NO_DELAY || id == WS_CHANNEL_PROPERTY_SEND_KEEP_ALIVES))
    apply_socket_options();
  return hr;
}

}  // namespace openwws::core
