// SPDX-License-Identifier: MIT
// The host-loop driver: a loop run by the application's event loop, with no thread of
// openwws's own.
#include "core/drivers.h"

#include "core/error.h"
#include "platform/select_backend.h"
#include "platform/socket.h"

namespace openwws::core {

namespace {

// The host loop whose run() is on this thread's stack.
thread_local const host_loop* tls_running = nullptr;

}  // namespace

HRESULT host_loop::create(uv_loop_s* uv, host_loop*& out, WS_ERROR* error) noexcept {
  auto* made = new (std::nothrow) host_loop(uv);
  if (!made) return fail(error, E_OUTOFMEMORY, "OpenwwsCreateEventLoop: out of memory");
  HRESULT hr;
  {
    std::lock_guard lock(made->start_mu_);
    hr = made->start_backend();
  }
  if (FAILED(hr)) {
    hr = fail(error, hr, "OpenwwsCreateEventLoop: " + made->unusable_why_);
    delete made;
    return hr;
  }
  out = made;
  return S_OK;
}

int host_loop::make_backend(std::unique_ptr<platform::backend>& out, std::string& why) noexcept {
  try {
    if (!uv_) return platform::create_backend(out, why);
#ifdef OPENWWS_HAVE_LIBUV
    int rc = platform::make_libuv_backend_hosted(uv_, on_activity, on_iteration, this, out);
    if (rc < 0) why = "cannot attach to the libuv loop: " + platform::errno_text(-rc);
    return rc;
#else
    why = "this build of openwws has no libuv backend";
    return -ENOTSUP;
#endif
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
}

bool host_loop::start_driver() noexcept {
  // Nothing to start: the host runs the loop. Posts must wake the host from the start,
  // before it ever ran the loop: the wake-up must reach its descriptor now.
  prepare_to_sleep();
  backend_->flush();
  return true;
}

bool host_loop::on_loop_thread() const noexcept {
  return tls_running == this || host_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

void host_loop::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (tls_running == this) {
    doomed_ = true;  // run() is on this thread's stack: it deletes the loop on its way out
    return;
  }
  if (uv_) {
    // The backend's handles live on the host's libuv loop, which only its own thread
    // may touch: the loop ends there, in its next run (the application keeps running
    // its uv loop until our handles are closed, as documented).
    post(end_cmd_);
    return;
  }
  { std::lock_guard wait_out(run_mu_); }  // a run() on another thread finishes first
  delete this;
}

void host_loop::run_end(command& c) noexcept { owner_of(c, &host_loop::end_cmd_).doomed_ = true; }

int host_loop::timeout_ms() noexcept {
  if (prepare_to_sleep()) return 0;
  return timers().wait_ms(timer_clock::now());
}

void host_loop::on_activity(void* self) noexcept { static_cast<host_loop*>(self)->run(); }

void host_loop::on_iteration(void* self) noexcept {
  static_cast<host_loop*>(self)->host_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
}

void host_loop::run() noexcept {
  if (tls_running == this) return;  // from inside one of its own callbacks
  std::unique_lock lock(run_mu_);
  tls_running = this;
  host_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  woke();
  // Two rounds: what the I/O of the first completes is reported in the same run.
  for (int round = 0; round < 2; ++round) {
    drain_commands();
    while (completion* c = pop_ready()) invoke(*c, WS_SHORT_CALLBACK);
    poll_io(0);
  }
  drain_commands();
  while (completion* c = pop_ready()) invoke(*c, WS_SHORT_CALLBACK);
  tls_running = nullptr;
  bool gone = doomed_;
  if (!gone) {
    backend_->flush();  // what this run started, visible to the descriptor the host waits on
    backend_->schedule_activity(timeout_ms());  // a libuv host: wake us for timers
  }
  lock.unlock();
  if (gone) delete this;
}

}  // namespace openwws::core
