// SPDX-License-Identifier: MIT
// Shared by the libFuzzer targets: invariant checks that abort(), a forward byte reader,
// HRESULT names for messages, and sanitizer defaults. Include from exactly one .cpp per
// fuzzer executable (it defines the sanitizer option hooks).
#pragma once

#include <webservices.h>

#include "platform/socket.h"

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

// UBSan reports are findings too: stop at the first one instead of printing and going
// on (b_sanitize=undefined compiles recoverable checks). Same for ASan's leak check on
// exit, which libFuzzer also runs after inputs that allocated more than they freed.
extern "C" const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

namespace fuzz {

inline const char* hr_name(HRESULT hr) {
  switch (hr) {
    case S_OK: return "S_OK";
    case WS_S_ASYNC: return "WS_S_ASYNC";
    case E_INVALIDARG: return "E_INVALIDARG";
    case E_OUTOFMEMORY: return "E_OUTOFMEMORY";
    case E_FAIL: return "E_FAIL";
    case WS_E_INVALID_FORMAT: return "WS_E_INVALID_FORMAT";
    case WS_E_OBJECT_FAULTED: return "WS_E_OBJECT_FAULTED";
    case WS_E_INVALID_OPERATION: return "WS_E_INVALID_OPERATION";
    case WS_E_OPERATION_ABORTED: return "WS_E_OPERATION_ABORTED";
    case WS_E_QUOTA_EXCEEDED: return "WS_E_QUOTA_EXCEEDED";
    case WS_E_ADDRESS_IN_USE: return "WS_E_ADDRESS_IN_USE";
    case WS_E_ADDRESS_NOT_AVAILABLE: return "WS_E_ADDRESS_NOT_AVAILABLE";
    case WS_E_NOT_SUPPORTED: return "WS_E_NOT_SUPPORTED";
    case WS_E_INVALID_ENDPOINT_URL: return "WS_E_INVALID_ENDPOINT_URL";
    default: return "(other)";
  }
}

// An invariant does not hold: say which, then abort() so that libFuzzer saves the input.
[[noreturn]] __attribute__((format(printf, 1, 2))) inline void violation(const char* fmt, ...) {
  std::fprintf(stderr, "\n*** openwws fuzz invariant violated: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, fmt, ...)                                                  \
  do {                                                                             \
    if (!(cond))                                                                   \
      ::fuzz::violation("%s:%d: %s: " fmt, __FILE__, __LINE__, #cond, ##__VA_ARGS__); \
  } while (0)

// Reads the input front to back (unlike FuzzedDataProvider, which takes integers from
// the end), so that hand-written seeds read in the order the ops run. Past the end
// every read returns 0.
class reader {
 public:
  reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ >= end_; }
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
  std::uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
  std::uint16_t u16() {
    std::uint16_t lo = u8();
    return static_cast<std::uint16_t>(lo | (u8() << 8));
  }
  std::uint32_t u32() {
    std::uint32_t lo = u16();
    return lo | (static_cast<std::uint32_t>(u16()) << 16);
  }
  // Copies up to n bytes into out, zero-filling what the input lacks.
  void bytes(void* out, std::size_t n) {
    std::size_t k = n < left() ? n : left();
    std::memcpy(out, p_, k);
    std::memset(static_cast<char*>(out) + k, 0, n - k);
    p_ += k;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// Open descriptors of this process (the directory stream's own one not counted).
inline int open_fds() {
  int n = openwws::platform::open_descriptor_count();  // /proc/self/fd on Linux, /dev/fd elsewhere
  if (n < 0) violation("cannot list the open descriptors: errno %d", -n);
  return n;
}

// The descriptor count once it is back to `before`, or what it still is after 100 ms.
// libFuzzer's RSS thread opens /proc/self files once a second: a descriptor it holds
// for a moment is not the input's; one the input leaked stays open.
inline int open_fds_settled(int before) {
  int n = open_fds();
  for (int i = 0; i < 100 && n != before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    n = open_fds();
  }
  return n;
}

}  // namespace fuzz
