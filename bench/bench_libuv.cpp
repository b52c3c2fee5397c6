// SPDX-License-Identifier: MIT
// openwws-bench: what needs libuv, built when libuv is found (OPENWWS_BENCH_LIBUV): the
// raw libuv baseline, a uv_listen/uv_accept server answering the net.tcp handshake as a
// libuv user writes it today, and the host of the embedded-uv mode, a thread running
// uv_run on a libuv loop that an openwws event loop lives on as a guest. Without libuv
// both report why they cannot run, and their rows say so.
#include "bench_common.h"

#ifdef OPENWWS_BENCH_LIBUV

#include <netinet/in.h>
#include <uv.h>

#include <cstring>

namespace openwws::bench {

namespace {

std::string uv_why(const char* call, int rc) { return format("%s: %s", call, uv_strerror(rc)); }

// One thread runs a libuv loop of its own with a listening uv_tcp_t. The connection
// callback accepts into a uv_tcp_t and starts reading the preamble into the connection's
// buffer; once it is all there, uv_try_write sends the ack (one byte into an empty
// socket buffer: it never has to wait) and the handle is closed. The close callback
// hands the handle back to a free list, so that the baseline pays for no allocation.
// stop() is a uv_async_send, whose callback closes the listening handle, every
// connection still reading and itself: uv_run then returns, having no handle left.
class raw_libuv_server final : public threaded_server {
 public:
  ~raw_libuv_server() override { close(); }

  std::string open(load& ld) override {
    ld_ = &ld;
    if (int rc = uv_loop_init(&loop_); rc < 0) return uv_why("uv_loop_init", rc);
    loop_ok_ = true;
    if (int rc = uv_async_init(&loop_, &stop_async_, on_stop); rc < 0) return uv_why("uv_async_init", rc);
    stop_async_.data = this;
    async_open_ = true;
    if (int rc = uv_tcp_init(&loop_, &server_); rc < 0) return uv_why("uv_tcp_init", rc);
    server_.data = this;
    server_open_ = true;
    sockaddr_in sa{};
    int rc = uv_ip4_addr("127.0.0.1", 0, &sa);
    if (rc == 0) rc = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&sa), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), listen_backlog, on_connection);
    int len = sizeof sa;
    if (rc == 0) rc = uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&sa), &len);
    if (rc < 0) return uv_why("uv_tcp_bind/uv_listen on 127.0.0.1:0", rc);
    port = ntohs(sa.sin_port);
    want_ = make_preamble(port);
    return "";
  }
  // From the driving thread: the loop's thread closes the handles (libuv's loop is not
  // thread-safe; uv_async_send is its one way in).
  void stop() override {
    stop_.store(true);
    if (async_open_) uv_async_send(&stop_async_);
  }
  void force() override { stop(); }
  std::string close() override {
    join();
    if (!loop_ok_) return "";
    close_handles();          // when the loop never ran (open failed, or no start)
    uv_run(&loop_, UV_RUN_DEFAULT);  // their close callbacks
    loop_ok_ = false;
    free_ = nullptr;
    all_.clear();
    int rc = uv_loop_close(&loop_);
    return rc < 0 ? uv_why("uv_loop_close", rc) : "";
  }

 private:
  struct conn {
    uv_tcp_t h;
    conn* next = nullptr;
    std::size_t got = 0;
    bool open = false;  // not closed yet
    char buf[max_preamble];
  };

  void run(int) override {
    if (int rc = uv_run(&loop_, UV_RUN_DEFAULT); rc < 0) set_error(uv_why("uv_run", rc));
  }

  void close_handles() {
    if (server_open_) uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    if (async_open_) uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
    server_open_ = async_open_ = false;
    for (auto& c : all_)
      if (c->open) end(c.get());
  }

  static void on_stop(uv_async_t* a) { static_cast<raw_libuv_server*>(a->data)->close_handles(); }

  static void on_connection(uv_stream_t* s, int status) {
    auto* self = static_cast<raw_libuv_server*>(s->data);
    if (status < 0) {
      if (!self->stopping()) self->set_error(uv_why("connection callback", status));
      return self->close_handles();
    }
    conn* c = self->take();
    if (!c) {
      self->set_error("out of memory");
      return self->close_handles();
    }
    uv_tcp_init(&self->loop_, &c->h);  // cannot fail for AF_UNSPEC (no socket is made)
    c->h.data = self;
    c->got = 0;
    c->open = true;
    auto* stream = reinterpret_cast<uv_stream_t*>(&c->h);
    if (int rc = uv_accept(s, stream); rc < 0) {
      self->end(c);
      self->set_error(uv_why("uv_accept", rc));
      return self->close_handles();
    }
    if (int rc = uv_read_start(stream, on_alloc, on_read); rc < 0) self->end(c);
    if (++self->accepts_ >= max_per_loop) self->close_handles();
  }

  // The read goes straight into what is missing of the connection's preamble.
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<raw_libuv_server*>(h->data);
    auto* c = reinterpret_cast<conn*>(h);  // h is the first member
    *buf = uv_buf_init(c->buf, static_cast<unsigned>(self->want_.size() - c->got));
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<raw_libuv_server*>(s->data);
    auto* c = reinterpret_cast<conn*>(s);
    if (nread == 0) return;  // EAGAIN
    if (nread < 0) return self->end(c);  // the client left (UV_EOF, a reset)
    switch (feed_preamble(self->want_, c->got, buf->base, static_cast<std::size_t>(nread))) {
      case feed_result::more: return;
      case feed_result::bad:
        self->set_error("a client's preamble differs from the one expected");
        return self->end(c);
      case feed_result::complete: {
        uv_buf_t ack = uv_buf_init(const_cast<char*>(&preamble_ack), 1);
        bool acked = uv_try_write(s, &ack, 1) == 1;
        self->end(c);  // closes the descriptor now; the callback comes next iteration
        if (acked) self->ld_->accepted.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }

  void end(conn* c) {
    c->open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->h), on_closed);
  }

  static void on_closed(uv_handle_t* h) {
    auto* self = static_cast<raw_libuv_server*>(h->data);
    auto* c = reinterpret_cast<conn*>(h);  // h is the first member
    c->next = self->free_;
    self->free_ = c;
  }

  conn* take() {
    if (conn* c = free_) {
      free_ = c->next;
      return c;
    }
    try {
      all_.push_back(std::make_unique<conn>());
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
    return all_.back().get();
  }

  uv_loop_t loop_{};
  uv_tcp_t server_{};
  uv_async_t stop_async_{};
  bool loop_ok_ = false, server_open_ = false, async_open_ = false;
  std::uint64_t accepts_ = 0;  // the loop's thread only
  std::string want_;
  std::vector<std::unique_ptr<conn>> all_;
  conn* free_ = nullptr;
};

// A thread running uv_run on a libuv loop whose guest is an openwws event loop. A
// uv_async_t of ours keeps uv_run going (the guest's own wake-up handle does not, by
// design) and stops it: its callback frees the event loop, on the loop's thread as
// libuv wants, and closes itself; uv_run returns once the guest's handles are closed.
class uv_host final : public event_host {
 public:
  ~uv_host() override { stop(); }

  std::string start() override {
    if (int rc = uv_loop_init(&uv_); rc < 0) return uv_why("uv_loop_init", rc);
    loop_ok_ = true;
    if (int rc = uv_async_init(&uv_, &stop_async_, on_stop); rc < 0) return uv_why("uv_async_init", rc);
    stop_async_.data = this;
    async_open_ = true;
    WS_ERROR* error = nullptr;
    if (FAILED(WsCreateError(nullptr, 0, &error))) return "WsCreateError failed";
    HRESULT hr = OpenwwsCreateEventLoop(&uv_, &loop, error);
    std::string e = FAILED(hr) ? describe("OpenwwsCreateEventLoop", hr, error) : "";
    WsFreeError(error);
    if (!e.empty()) return e;
    try {
      thread_ = std::thread([this] { uv_run(&uv_, UV_RUN_DEFAULT); });
    } catch (const std::exception& ex) {
      return format("cannot start the host thread: %s", ex.what());
    }
    return "";
  }

  std::string stop() override {
    if (thread_.joinable()) {
      uv_async_send(&stop_async_);
      thread_.join();
    }
    // Not started (or start failed): the loop is ours to wind down on this thread.
    if (async_open_) end_on_loop_thread();
    if (!loop_ok_) return "";
    uv_run(&uv_, UV_RUN_DEFAULT);
    loop_ok_ = false;
    int rc = uv_loop_close(&uv_);
    return rc < 0 ? uv_why("uv_loop_close (a handle is left on the host's loop)", rc) : "";
  }

 private:
  static void on_stop(uv_async_t* a) { static_cast<uv_host*>(a->data)->end_on_loop_thread(); }

  void end_on_loop_thread() {
    if (loop) OpenwwsFreeEventLoop(loop);
    loop = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
    async_open_ = false;
  }

  uv_loop_t uv_{};
  uv_async_t stop_async_{};
  bool loop_ok_ = false, async_open_ = false;
  std::thread thread_;
};

}  // namespace

bool libuv_available(std::string&) {
  // libuv makes process-wide descriptors on its first loop (the signal lock's pipe) and
  // keeps them: make them now, so that no run sees its descriptor count grow.
  static const bool warmed = [] {
    uv_loop_t l;
    if (uv_loop_init(&l) == 0) uv_loop_close(&l);
    return true;
  }();
  return warmed;
}

std::unique_ptr<server> make_raw_libuv_server(std::string& why) {
  if (!libuv_available(why)) return nullptr;
  return std::make_unique<raw_libuv_server>();
}

std::unique_ptr<event_host> make_uv_host(std::string& why) {
  if (!libuv_available(why)) return nullptr;
  return std::make_unique<uv_host>();
}

}  // namespace openwws::bench

#else  // no libuv

namespace openwws::bench {

bool libuv_available(std::string& why) {
  why = "built without libuv (apt-get install libuv1-dev)";
  return false;
}

std::unique_ptr<server> make_raw_libuv_server(std::string& why) {
  libuv_available(why);
  return nullptr;
}

std::unique_ptr<event_host> make_uv_host(std::string& why) {
  libuv_available(why);
  return nullptr;
}

}  // namespace openwws::bench

#endif
