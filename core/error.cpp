// SPDX-License-Identifier: MIT
// WS_ERROR: strings, ORIGINAL_ERROR_CODE, LANGID, and the helpers that fill it.
#include "core/error.h"

#include "core/text.h"
#include "platform/error_map.h"
#include "platform/socket.h"

#include <cstdarg>
#include <cstdio>
#include <new>

namespace openwws::core {

bool is_error(const WS_ERROR* e) noexcept { return e && e->magic == _WS_ERROR::live_magic; }

namespace {

// Error text quotes what the caller passed (URLs, host names). A control character in
// it, above all a NUL, would cut the string short or garble it for a reader that prints
// it, so each is written out as \uXXXX.
std::u16string printable(std::string_view text) {
  std::u16string in = utf8_to_utf16(text);
  std::u16string out;
  out.reserve(in.size());
  for (char16_t c : in) {
    if (c >= 0x20 && c != 0x7F) {
      out.push_back(c);
      continue;
    }
    static constexpr char16_t hex[] = u"0123456789ABCDEF";
    out += u"\\u00";
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0xF]);
  }
  return out;
}

}  // namespace

HRESULT fail(WS_ERROR* e, HRESULT hr, std::string_view text) noexcept {
  if (!is_error(e)) return hr;
  try {
    e->strings.push_back(printable(text));
  } catch (const std::bad_alloc&) {
    // The HRESULT still says what failed; the string is a courtesy.
  }
  return hr;
}

HRESULT fail_errno(WS_ERROR* e, HRESULT hr, std::string_view what, int err) noexcept {
  if (!is_error(e)) return hr;
  try {
    std::string text(what);
    text += ": ";
    text += platform::errno_text(err);
    text += " (";
    text += platform::errno_name(err);
    text += ")";
    e->strings.push_back(printable(text));
    e->original_code = static_cast<ULONG>(err);
    e->original_text = utf8_to_utf16(format("original error: errno %d (%s)", err, platform::errno_name(err)));
  } catch (const std::bad_alloc&) {
  }
  return hr;
}

std::string format(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buf) return std::string(buf, static_cast<std::size_t>(n));
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  std::vsnprintf(out.data(), out.size(), fmt, ap);
  va_end(ap);
  out.pop_back();
  return out;
}

std::string hresult_name(HRESULT hr) {
  switch (hr) {
#define NAME(x) \
  case x:       \
    return #x;
    NAME(S_OK)
    NAME(S_FALSE)
    NAME(WS_S_ASYNC)
    NAME(WS_S_END)
    NAME(E_INVALIDARG)
    NAME(E_OUTOFMEMORY)
    NAME(E_ACCESSDENIED)
    NAME(E_FAIL)
    NAME(E_NOTIMPL)
    NAME(WS_E_INVALID_FORMAT)
    NAME(WS_E_OBJECT_FAULTED)
    NAME(WS_E_INVALID_OPERATION)
    NAME(WS_E_OPERATION_ABORTED)
    NAME(WS_E_OPERATION_TIMED_OUT)
    NAME(WS_E_QUOTA_EXCEEDED)
    NAME(WS_E_ADDRESS_IN_USE)
    NAME(WS_E_ADDRESS_NOT_AVAILABLE)
    NAME(WS_E_ENDPOINT_NOT_FOUND)
    NAME(WS_E_ENDPOINT_UNREACHABLE)
    NAME(WS_E_ENDPOINT_DISCONNECTED)
    NAME(WS_E_NOT_SUPPORTED)
    NAME(WS_E_INVALID_ENDPOINT_URL)
    NAME(WS_E_OTHER)
#undef NAME
    default:
      return format("0x%08X", static_cast<unsigned>(hr));
  }
}

}  // namespace openwws::core
