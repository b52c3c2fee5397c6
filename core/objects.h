// SPDX-License-Identifier: MIT
// The listener and channel state machines, as Microsoft documents them (WS_LISTENER_STATE,
// WS_CHANNEL_STATE). Both objects are free-threaded; WS_ERROR is not.
#pragma once

#include <webservices.h>

#include "core/runtime.h"
#include "platform/backend.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace openwws::core {

class listener;

struct listener_props {
  ULONG listen_backlog;
  WS_IP_VERSION ip_version = WS_IP_VERSION_AUTO;
  WS_CALLBACK_MODEL callback_model = WS_LONG_CALLBACK;
  WS_CHANNEL_TYPE channel_type;
  WS_CHANNEL_BINDING channel_binding;
  ULONG connect_timeout = 15000;
  BOOL is_multicast = FALSE;
  BOOL multicast_loopback = TRUE;
  ULONG close_timeout = 5000;
  ULONG to_header_matching = 0x17F;  // THIS_HOST | EXACT_PATH | PORT | NO_QUERY
  ULONG transport_url_matching = 0x17F;
  WS_DISALLOWED_USER_AGENT_SUBSTRINGS disallowed_user_agent{};
};

struct channel_props {
  ULONG max_buffered_message_size = 65536;
  ULONGLONG max_streamed_message_size = 4194304;
  ULONG max_streamed_start_size = 16384;
  ULONG max_streamed_flush_size = 65536;
  WS_ENCODING encoding = WS_ENCODING_XML_BINARY_SESSION_1;
  WS_ENVELOPE_VERSION envelope_version = WS_ENVELOPE_VERSION_SOAP_1_2;
  WS_ADDRESSING_VERSION addressing_version = WS_ADDRESSING_VERSION_1_0;
  ULONG max_session_dictionary_size = 2048;
  WS_CALLBACK_MODEL callback_model = WS_LONG_CALLBACK;
  WS_IP_VERSION ip_version = WS_IP_VERSION_AUTO;
  ULONG resolve_timeout = INFINITE;
  ULONG connect_timeout = 30000;
  ULONG send_timeout = 30000;
  ULONG receive_response_timeout = 30000;
  ULONG receive_timeout = 30000;
  ULONG close_timeout = 30000;
  BOOL enable_timeouts = TRUE;
  WS_TRANSFER_MODE transfer_mode = WS_BUFFERED_TRANSFER_MODE;
  ULONG multicast_interface = 0;
  ULONG multicast_hops = 1;
  BOOL no_delay = FALSE;
  BOOL send_keep_alives = FALSE;
  ULONG keep_alive_time = 7200000;
  ULONG keep_alive_interval = 1000;
  ULONG max_http_server_connections = INFINITE;
  WS_CHANNEL_TYPE channel_type;
  ULONG trim_buffered_message_size = 65536;
  BOOL enable_http_redirect = FALSE;
  BOOL faults_as_errors = TRUE;
  BOOL allow_unsecured_faults = FALSE;
  ULONG max_http_request_headers_buffer_size = 65536;
};

class channel {
 public:
  static constexpr std::uint32_t live_magic = 0x5753434E;  // "WSCN"
  channel(runtime& rt, WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding, listener* owner) noexcept;
  ~channel();
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  bool is_live() const noexcept { return magic_ == live_magic; }
  listener* owner() const noexcept { return owner_; }

  HRESULT configure(const WS_CHANNEL_PROPERTY* props, ULONG count, WS_ERROR* error) noexcept;
  HRESULT open(const WS_ENDPOINT_ADDRESS& address, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT close(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT abort(WS_ERROR* error) noexcept;
  HRESULT reset(WS_ERROR* error) noexcept;
  HRESULT shutdown_session(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT get_property(WS_CHANNEL_PROPERTY_ID id, void* value, ULONG size, WS_ERROR* error) noexcept;
  HRESULT set_property(WS_CHANNEL_PROPERTY_ID id, const void* value, ULONG size, WS_ERROR* error) noexcept;
  // Ends whatever is pending (abort, then wait) so that the object can be deleted.
  void prepare_free() noexcept;

 private:
  friend class listener;

  static void run_start(command& c) noexcept;
  static void run_cancel_connect(command& c) noexcept;
  static void on_connect_done(platform::io_op& op, int res) noexcept;
  static void on_accept_done(platform::io_op& op, int res) noexcept;
  // Moves ACCEPTING/OPENING back to CREATED, or to OPEN with fd.
  void finish_pending(int fd) noexcept;
  void apply_socket_options() noexcept;

  std::uint32_t magic_ = live_magic;
  runtime& rt_;
  listener* const owner_;  // set for channels from WsCreateChannelForListener
  WS_CHANNEL_BINDING binding_;
  std::mutex mu_;
  WS_CHANNEL_STATE state_ = WS_CHANNEL_STATE_CREATED;
  channel_props props_;
  int fd_ = -1;
  bool session_shut_down_ = false;

  // The one accept or connect this channel can have in flight.
  platform::io_op op_;
  completion done_;
  WS_ERROR* op_error_ = nullptr;
  command start_cmd_;
  command cancel_connect_cmd_;
  std::atomic<bool> cancel_connect_posted_{false};
  // Listener bookkeeping for a pending accept, guarded by the listener's mutex.
  channel* pend_prev_ = nullptr;
  channel* pend_next_ = nullptr;
  channel* cancel_next_ = nullptr;
  bool pending_ = false;
  bool started_ = false;
  bool cancel_sent_ = false;
};

class listener {
 public:
  static constexpr std::uint32_t live_magic = 0x5753494C;  // "WSIL"
  listener(runtime& rt, WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding) noexcept;
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  bool is_live() const noexcept { return magic_ == live_magic; }
  runtime& rt() noexcept { return rt_; }
  WS_CHANNEL_TYPE channel_type() const noexcept { return props_.channel_type; }
  WS_CHANNEL_BINDING channel_binding() const noexcept { return props_.channel_binding; }
  WS_CALLBACK_MODEL callback_model() const noexcept { return props_.callback_model; }
  WS_IP_VERSION ip_version() const noexcept { return props_.ip_version; }

  HRESULT configure(const WS_LISTENER_PROPERTY* props, ULONG count, WS_ERROR* error) noexcept;
  HRESULT open(const WS_STRING& url, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT accept(channel& ch, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT close(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT abort() noexcept;
  HRESULT reset(WS_ERROR* error) noexcept;
  HRESULT get_property(WS_LISTENER_PROPERTY_ID id, void* value, ULONG size, WS_ERROR* error) noexcept;
  HRESULT set_property(WS_LISTENER_PROPERTY_ID id, const void* value, ULONG size, WS_ERROR* error) noexcept;
  // Closes an open listener and waits for it, so that the object can be deleted.
  void prepare_free() noexcept;

  // A channel in ACCEPTING was aborted: cancel its accept.
  void abort_accept(channel& ch) noexcept;

 private:
  friend class channel;

  HRESULT bind_url(const WS_STRING& url, int& fd, WS_ERROR* error) noexcept;
  void accept_done(channel& ch, int res) noexcept;
  void start_pending(channel& ch) noexcept;
  void link_pending(channel& ch) noexcept;
  void unlink_pending(channel& ch) noexcept;
  void request_cancel_all_locked() noexcept;
  void op_finished_locked() noexcept;
  static void op_finished(void* self) noexcept;
  static void run_cancel(command& c) noexcept;
  static void run_finish_close(command& c) noexcept;

  std::uint32_t magic_ = live_magic;
  runtime& rt_;
  listener_props props_;
  std::mutex mu_;
  WS_LISTENER_STATE state_ = WS_LISTENER_STATE_CREATED;
  platform::listener_slot slot_;
  channel* pending_head_ = nullptr;  // accepts handed to the loop, FIFO
  channel* pending_tail_ = nullptr;
  std::uint32_t inflight_ = 0;  // accepts started and not yet reported to their caller
  bool loop_knows_slot_ = false;
  bool cancel_posted_ = false;
  bool finish_posted_ = false;
  bool aborted_while_opening_ = false;
  bool aborted_while_closing_ = false;
  command cancel_cmd_;
  command finish_close_cmd_;
  completion close_done_;
  WS_ERROR* close_error_ = nullptr;
};

// Names for error strings: "OPEN", "FAULTED", ...
const char* state_name(WS_LISTENER_STATE s) noexcept;
const char* state_name(WS_CHANNEL_STATE s) noexcept;

}  // namespace openwws::core

// The opaque handle types of webservices.h are the core objects.
struct _WS_LISTENER : openwws::core::listener {
  using listener::listener;
};
struct _WS_CHANNEL : openwws::core::channel {
  using channel::channel;
};
