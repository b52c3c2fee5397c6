// SPDX-License-Identifier: MIT
// errno -> HRESULT, the only table of its kind (modelled on libuv's UV_ERRNO_MAP).
#include "platform/error_map.h"

#include <webservices.h>

#include <cerrno>

namespace openwws::platform {

// Which HRESULT an errno stands for, as WWSAPI documents its canonical codes.
#define OPENWWS_ERRNO_MAP(X)                           \
  X(ECANCELED, WS_E_OPERATION_ABORTED)                 \
  X(EINTR, WS_E_OPERATION_ABORTED)                     \
  X(EADDRINUSE, WS_E_ADDRESS_IN_USE)                   \
  X(EADDRNOTAVAIL, WS_E_ADDRESS_NOT_AVAILABLE)         \
  X(EAFNOSUPPORT, WS_E_ADDRESS_NOT_AVAILABLE)          \
  X(EACCES, E_ACCESSDENIED)                            \
  X(EPERM, E_ACCESSDENIED)                             \
  X(ECONNREFUSED, WS_E_ENDPOINT_NOT_FOUND)             \
  X(ENETUNREACH, WS_E_ENDPOINT_UNREACHABLE)            \
  X(EHOSTUNREACH, WS_E_ENDPOINT_UNREACHABLE)           \
  X(ENETDOWN, WS_E_ENDPOINT_UNREACHABLE)               \
  X(ECONNRESET, WS_E_ENDPOINT_DISCONNECTED)            \
  X(ECONNABORTED, WS_E_ENDPOINT_DISCONNECTED)          \
  X(EPIPE, WS_E_ENDPOINT_DISCONNECTED)                 \
  X(ENOTCONN, WS_E_ENDPOINT_DISCONNECTED)              \
  X(ETIMEDOUT, WS_E_OPERATION_TIMED_OUT)               \
  X(EMFILE, WS_E_QUOTA_EXCEEDED)                       \
  X(ENFILE, WS_E_QUOTA_EXCEEDED)                       \
  X(ENOMEM, E_OUTOFMEMORY)                             \
  X(ENOBUFS, E_OUTOFMEMORY)                            \
  X(ENOSYS, WS_E_NOT_SUPPORTED)                        \
  X(EOPNOTSUPP, WS_E_NOT_SUPPORTED)                    \
  X(EPROTONOSUPPORT, WS_E_NOT_SUPPORTED)               \
  X(EINVAL, WS_E_OTHER)                                \
  X(EBADF, WS_E_OTHER)

std::int32_t hresult_from_errno(int err) noexcept {
  switch (err) {
#define X(e, hr) \
  case e:        \
    return hr;
    OPENWWS_ERRNO_MAP(X)
#undef X
    default:
      return WS_E_OTHER;
  }
}

const char* errno_name(int err) noexcept {
  switch (err) {
#define X(e, hr) \
  case e:        \
    return #e;
    OPENWWS_ERRNO_MAP(X)
#undef X
    case EAGAIN:
      return "EAGAIN";
    case EPROTO:
      return "EPROTO";
    case EINPROGRESS:
      return "EINPROGRESS";
    default:
      return "E?";
  }
}

}  // namespace openwws::platform
