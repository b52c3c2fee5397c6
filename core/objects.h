// SPDX-License-Identifier: MIT
// The listener and channel state machines, as Microsoft documents them (WS_LISTENER_STATE,
// WS_CHANNEL_STATE). Both objects are free-threaded; WS_ERROR is not.
#pragma once

#include <webservices.h>

#include "core/handshake.h"
#include "core/intrusive_list.h"
#include "core/loop.h"
#include "core/nettcp.h"
#include "core/url.h"
#include "platform/accept_wait.h"
#include "platform/backend.h"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace openwws::core {

class listener;

// A synchronous accept that waits in the kernel on its caller's thread (see
// listener::wait_in_kernel). Lives on that thread's stack; linked under the listener's
// mutex while it waits.
struct kernel_waiter {
  platform::accept_waiter* waiter = nullptr;
  bool leave = false;  // the loop took over the listener's accepts: wait there instead
  kernel_waiter* prev = nullptr;
  kernel_waiter* next = nullptr;
};

// Waiters to wake once the listener's mutex is let go (see platform::pin): each would
// otherwise wake only to wait for that mutex. More than fit are woken at once.
struct kernel_wakes {
  std::array<platform::accept_waiter*, 4> pinned{};
  std::size_t count = 0;
  void wake_all() noexcept;
  ~kernel_wakes() { wake_all(); }
};

// Operations of an object that have yet to report, and its free. A free waits for
// them where it may block; elsewhere (on the I/O thread, or inside one of the
// object's own callbacks) the last of them deletes the object once it has reported.
// Guarded by the object's mutex.
class pending_ops {
 public:
  void begin() noexcept { ++count_; }
  // One operation reported. True: the caller deletes the object, after unlocking.
  bool end() noexcept {
    --count_;
    if (count_ != 0 || !freeing_) return false;
    if (!waiting_) return true;
    cv_.notify_all();  // the freeing thread deletes; the caller's unlock is its last touch
    return false;
  }
  // The free. True: the caller deletes the object, after unlocking.
  bool free(std::unique_lock<std::mutex>& lock, bool may_wait) noexcept {
    freeing_ = true;
    if (count_ == 0) return true;
    if (!may_wait) return false;
    waiting_ = true;
    cv_.wait(lock, [this] { return count_ == 0; });
    return true;
  }
  bool freeing() const noexcept { return freeing_; }
  std::uint32_t count() const noexcept { return count_; }

 private:
  std::uint32_t count_ = 0;
  bool freeing_ = false;
  bool waiting_ = false;
  std::condition_variable cv_;
};

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
  channel(loop& rt, WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding, listener* owner) noexcept;
  ~channel();
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  bool is_live() const noexcept { return magic_.load(std::memory_order_relaxed) == live_magic; }
  listener* owner() const noexcept { return owner_; }

  HRESULT configure(const WS_CHANNEL_PROPERTY* props, ULONG count, WS_ERROR* error) noexcept;
  HRESULT open(const WS_ENDPOINT_ADDRESS& address, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT close(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT abort(WS_ERROR* error) noexcept;
  HRESULT reset(WS_ERROR* error) noexcept;
  HRESULT shutdown_session(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT get_property(WS_CHANNEL_PROPERTY_ID id, void* value, ULONG size, WS_ERROR* error) noexcept;
  HRESULT set_property(WS_CHANNEL_PROPERTY_ID id, const void* value, ULONG size, WS_ERROR* error) noexcept;
  // WsFreeChannel: aborts what is pending and deletes the channel once it reported
  // (at once, or later where this thread may not wait; see pending_ops).
  void free() noexcept;

 private:
  friend class listener;

  static void run_start(command& c) noexcept;
  static void run_cancel_connect(command& c) noexcept;
  static void on_connect_done(platform::io_op& op, int res) noexcept;
  static void on_answer_readable(platform::io_op& op, int res) noexcept;
  static void on_open_expired(timer& t) noexcept;
  static void on_accept_done(platform::io_op& op, int res) noexcept;
  // WsOpenChannel on the loop: the connect is done; sends the preamble and waits for
  // the server's answer. Ends the open (ok: S_OK) by reporting hr.
  void send_preamble(int fd) noexcept;
  void read_answer() noexcept;
  void end_open(HRESULT hr) noexcept;
  // The accept's connection: its Via (TRANSPORT_URL) and bytes read past the preamble.
  void take_handshake(std::string_view via, std::vector<std::uint8_t>& after);
  // The accept or connect ends: ACCEPTING/OPENING becomes OPEN with result_fd_, or
  // CREATED. publish and finish are the completion's hooks.
  static void publish_result(void* self, HRESULT hr) noexcept;
  static void finish_accept(void* self, bool group_taken) noexcept;
  static void finish_connect(void* self, bool group_taken) noexcept;
  // Publishes an operation that ended before it was handed to the loop (fd: the
  // accepted socket, or < 0). The channel may be gone afterwards.
  void end_early(int fd) noexcept;
  // One operation fewer; deletes the channel if a free left that to it.
  void op_ended() noexcept;
  void arm(const WS_ASYNC_CONTEXT* ctx, WS_CALLBACK_MODEL model, sync_waiter* waiter,
           void (*finish)(void*, bool) noexcept) noexcept;
  void abort_locked() noexcept;
  void close_locked() noexcept;
  void destroy() noexcept;
  void apply_socket_options() noexcept;

  std::atomic<std::uint32_t> magic_{live_magic};
  loop& rt_;
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
  int result_fd_ = -1;  // the op's socket, between its completion and its publication
  // The Via the accepted client sent (WS_CHANNEL_PROPERTY_TRANSPORT_URL), kept until
  // reset or free; bytes read past its preamble (or past a server's ack) that belong to
  // the session. Written while ACCEPTING or OPENING, read once published.
  std::u16string transport_url_;
  bool has_transport_url_ = false;
  std::vector<std::uint8_t> received_;
  bool end_sent_ = false;
  // WsOpenChannel's handshake (loop thread): the preamble to send, the answer read so
  // far, and CONNECT_TIMEOUT over connect and handshake.
  std::vector<std::uint8_t> preamble_;
  nettcp::answer_parser answer_;
  timer open_deadline_{this};
  ULONG open_timeout_ms_ = 0;
  bool open_timed_out_ = false;
  pending_ops ops_;
  WS_ERROR* op_error_ = nullptr;
  command start_cmd_;
  command cancel_connect_cmd_;
  std::atomic<bool> cancel_connect_posted_{false};
  // Listener bookkeeping for a pending accept, guarded by the listener's mutex.
  channel* pend_prev_ = nullptr;
  channel* pend_next_ = nullptr;
  channel* cancel_next_ = nullptr;
  channel* steal_next_ = nullptr;
  bool pending_ = false;
  bool started_ = false;
  bool cancel_sent_ = false;
  bool aborted_ = false;  // the accept was aborted (not just stolen)
  bool stolen_ = false;   // its backend accept is being cancelled for a ready handshake
  kernel_waiter* in_kernel_ = nullptr;  // set while its synchronous accept waits in the kernel
};

class listener {
 public:
  static constexpr std::uint32_t live_magic = 0x5753494C;  // "WSIL"
  listener(loop& rt, WS_CHANNEL_TYPE type, WS_CHANNEL_BINDING binding) noexcept;
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  bool is_live() const noexcept { return magic_.load(std::memory_order_relaxed) == live_magic; }
  loop& rt() noexcept { return rt_; }
  WS_CHANNEL_TYPE channel_type() const noexcept { return props_.channel_type; }
  WS_CHANNEL_BINDING channel_binding() const noexcept { return props_.channel_binding; }
  // The properties a channel made for this listener inherits (settable: under mu_).
  void channel_defaults(WS_CALLBACK_MODEL& model, WS_IP_VERSION& ip) noexcept;

  HRESULT configure(const WS_LISTENER_PROPERTY* props, ULONG count, WS_ERROR* error) noexcept;
  HRESULT open(const WS_STRING& url, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT accept(channel& ch, const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT close(const WS_ASYNC_CONTEXT* ctx, WS_ERROR* error) noexcept;
  HRESULT abort() noexcept;
  HRESULT reset(WS_ERROR* error) noexcept;
  HRESULT get_property(WS_LISTENER_PROPERTY_ID id, void* value, ULONG size, WS_ERROR* error) noexcept;
  HRESULT set_property(WS_LISTENER_PROPERTY_ID id, const void* value, ULONG size, WS_ERROR* error) noexcept;
  // WsFreeListener: aborts and closes an open listener and deletes it once every
  // operation reported (at once, or later where this thread may not wait).
  void free() noexcept;

  // A channel in ACCEPTING was aborted: cancel its accept.
  void abort_accept(channel& ch) noexcept;

 private:
  friend class channel;

  HRESULT bind_url(const WS_STRING& url, int& fd, WS_ERROR* error) noexcept;
  void accept_done(channel& ch, int res) noexcept;
  void start_pending(channel& ch) noexcept;
  // The pending accept ch ends well: its channel has result_fd_.
  void accept_succeeded(channel& ch) noexcept;
  // The pending accept ch gave its connection away: it waits for the next one.
  void accept_again(channel& ch) noexcept;
  // The close is due once nothing is in flight: the loop finishes it, or, given
  // may_wake_closer, the caller does (true: report_close after unlocking).
  bool maybe_finish_close_locked(bool may_wake_closer = false) noexcept;
  void report_close(bool aborted) noexcept;

  // ---- net.tcp handshakes (core/listener_handshake.cpp) ----
  nettcp::preamble_policy policy_for(const channel& ch) const noexcept;
  // A connection ch's accept just took (any thread; on_loop: the loop thread). True:
  // its preamble was read and acked, ch.result_fd_ holds it. False: ch's accept waits
  // for another connection; this one was refused, or reads on as a handshake.
  bool take_connection(channel& ch, int fd, bool on_loop) noexcept;
  void defer_handshake(int fd, std::span<const std::uint8_t> seen, const channel& ch, bool on_loop) noexcept;
  // Checks the channel's encoding, writes Preamble Ack, gives ch the connection.
  bool deliver(channel& ch, int fd, const nettcp::preamble_parser& p, std::vector<std::uint8_t>& after) noexcept;
  void start_handshake(handshake& h) noexcept;
  static void run_start_handshake(command& c) noexcept;
  static void on_handshake_readable(platform::io_op& op, int res) noexcept;
  static void on_handshake_expired(timer& t) noexcept;
  void handshake_ready(handshake& h) noexcept;
  bool hand_over(channel& ch, handshake& h) noexcept;
  void end_handshake(handshake& h) noexcept;
  // Cancels the backend accepts of as many pending channels as handshakes are ready, so
  // that those channels take them (start_pending) instead of waiting for new clients.
  void steal_for_ready() noexcept;
  void cancel_handshakes() noexcept;
  // ---- synchronous accepts waiting on their own thread (core/listener_kernel_wait.cpp) ----
  // Whether a synchronous accept that found nothing queued may wait in the kernel
  // rather than through the loop (mu_ held).
  bool may_wait_in_kernel_locked() const noexcept;
  // Waits there (mu_ held by lock on entry). True: the accept ended, with hr; false: it
  // goes on through the loop, mu_ still held.
  bool wait_in_kernel(channel& ch, platform::accept_waiter& w, std::unique_lock<std::mutex>& lock, WS_ERROR* error,
                      HRESULT& hr) noexcept;
  // Ends an accept that took fd (or failed with fd < 0) off the loop, as its caller
  // sees it. mu_ not held.
  HRESULT finish_off_loop(channel& ch, int fd, bool aborted, WS_ERROR* error) noexcept;
  // Wakes them (leave: to wait through the loop); with later, up to its size are
  // pinned there instead, to be woken once mu_ is let go.
  void wake_kernel_waiters_locked(bool leave, kernel_wakes* later = nullptr) noexcept;
  // ch's accept was aborted, or the listener is no longer open (mu_ held).
  bool accept_aborted_locked(const channel& ch) const noexcept;
  void link_pending(channel& ch) noexcept;
  void unlink_pending(channel& ch) noexcept;
  void request_cancel_all_locked(kernel_wakes* later = nullptr) noexcept;
  void abort_locked(kernel_wakes* later = nullptr) noexcept;
  void post_cancel_locked() noexcept;
  HRESULT start_close_locked(const WS_ASYNC_CONTEXT* ctx, sync_waiter* waiter, WS_ERROR* error,
                             kernel_wakes* later = nullptr) noexcept;
  // An accept reported to its caller: one fewer in flight. The locked form returns
  // true when the caller must delete the listener (after unlocking); given wake_closer,
  // it may leave the close to the caller (*wake_closer: report_close after unlocking).
  void accept_finished() noexcept;
  bool accept_finished_locked(bool* wake_closer = nullptr) noexcept;
  static void run_cancel(command& c) noexcept;
  static void run_finish_close(command& c) noexcept;
  static void publish_close(void* self, HRESULT hr) noexcept;
  static void finish_close(void* self, bool group_taken) noexcept;
  void destroy() noexcept;

  std::atomic<std::uint32_t> magic_{live_magic};
  loop& rt_;
  listener_props props_;
  std::mutex mu_;
  WS_LISTENER_STATE state_ = WS_LISTENER_STATE_CREATED;
  platform::listener_slot slot_;
  intrusive_list<channel, &channel::pend_prev_, &channel::pend_next_> pending_;  // accepts handed to the loop
  std::uint32_t inflight_ = 0;  // accepts started and not yet reported to their caller
  pending_ops ops_;             // the accepts in flight, a close, an open
  bool loop_knows_slot_ = false;
  // The last connection was accepted by the loop, not found queued by the caller:
  // with the loop's last wait asleep, the next async accept goes there at once.
  bool last_accept_in_loop_ = false;
  bool cancel_posted_ = false;
  bool finish_posted_ = false;
  bool aborted_while_opening_ = false;
  bool aborted_while_closing_ = false;
  command cancel_cmd_;
  command finish_close_cmd_;
  completion close_done_;
  WS_ERROR* close_error_ = nullptr;

  // net.tcp: the URL a client's Via is matched against (port filled in when it was 0),
  // and whether the kernel holds back connections until they send (accept_when_data).
  parsed_url url_;
  bool defer_accept_ = false;
  // Handshakes (loop thread), and the ready ones in arrival order; their counts under mu_.
  intrusive_list<handshake, &handshake::prev, &handshake::next> handshakes_;
  intrusive_list<handshake, &handshake::ready_prev, &handshake::ready_next> ready_;
  std::uint32_t handshake_count_ = 0;
  std::uint32_t ready_count_ = 0;
  std::uint32_t stealing_ = 0;  // steals whose accept has not completed yet
  intrusive_list<kernel_waiter, &kernel_waiter::prev, &kernel_waiter::next> kernel_waiters_;  // under mu_
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
