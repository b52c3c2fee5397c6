// SPDX-License-Identifier: MIT
// The WS_ERROR object, and how every failing call adds a readable string to it.
#pragma once

#include <webservices.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <deque>

// The opaque type of webservices.h. Single-threaded, as Microsoft documents it.
struct _WS_ERROR {
  static constexpr std::uint32_t live_magic = 0x57534552;  // "WSER"
  std::uint32_t magic = live_magic;
  // In the order added; index 0 reads the last. A deque: WsGetErrorString hands out
  // pointers that must stay valid while strings are added (until reset or free).
  std::deque<std::u16string> strings;
  std::u16string original_text;         // text of original_code, when it is set
  ULONG original_code = 0;
  LANGID langid = 0x0409;               // en-US: the only language openwws writes
  LANGID created_langid = 0x0409;       // what WsResetError returns to
  bool langid_settable = false;         // only after WsResetError (Microsoft's LANGID page)
};

namespace openwws::core {

bool is_error(const WS_ERROR* e) noexcept;

// Appends a string to e (ignored when e is NULL or memory runs out). Returns hr so a
// failing call can end with `return fail(error, hr, "...")`.
HRESULT fail(WS_ERROR* e, HRESULT hr, std::string_view text) noexcept;

// As fail, for a failure whose cause is an errno: the text gets the system's wording
// and the errno name, and ORIGINAL_ERROR_CODE keeps the errno.
HRESULT fail_errno(WS_ERROR* e, HRESULT hr, std::string_view what, int err) noexcept;

// printf-style text for fail().
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// An HRESULT's symbolic name ("WS_E_ADDRESS_IN_USE"), or its hex value.
std::string hresult_name(HRESULT hr);

}  // namespace openwws::core
