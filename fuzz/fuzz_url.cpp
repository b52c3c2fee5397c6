// SPDX-License-Identifier: MIT
// Fuzzes WsDecodeUrl. Input: byte 0 picks the flags (bit 0 ALLOW_HOST_WILDCARDS, bit 1
// NO_PATH_COLLAPSE), the heap (bit 2: a 256-byte heap, else a large one) and whether a
// WS_ERROR is passed (bit 3); the rest is the URL as UTF-16 code units, little-endian
// (an odd last byte is dropped). The same URL also goes through the parse that
// WsOpenListener and WsOpenChannel use, which checks IP literals. No sockets are opened.
#include "fuzz/fuzz_common.h"

#include "core/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

// Large enough that only the small heap can run out: every decoded string is a piece of
// the input, and libFuzzer's -max_len stays far below this.
constexpr SIZE_T big_heap_size = 16u << 20;
constexpr SIZE_T small_heap_size = 256;

WS_HEAP* make_heap(SIZE_T max) {
  WS_HEAP* h = nullptr;
  if (WsCreateHeap(max, 0, nullptr, 0, &h, nullptr) != S_OK) fuzz::violation("WsCreateHeap(%zu) failed", max);
  return h;
}

ULONG string_count(WS_ERROR* e) {
  ULONG n = 0;
  FUZZ_CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, &n, sizeof n) == S_OK, "STRING_COUNT");
  return n;
}

USHORT default_port(WS_URL_SCHEME_TYPE s) {
  switch (s) {
    case WS_URL_HTTP_SCHEME_TYPE: return 80;
    case WS_URL_HTTPS_SCHEME_TYPE: return 443;
    case WS_URL_NETTCP_SCHEME_TYPE: return 808;
    default: return 65535;  // soap.udp and net.pipe (spec section 10.1)
  }
}

// A decoded string must be readable over its whole length and live on the heap, not in
// the caller's buffer (which the caller may free right after the call).
void check_string(const WS_STRING& s, const char* what, const WCHAR* in, std::size_t in_len) {
  FUZZ_CHECK(s.length == 0 || s.chars != nullptr, "%s: length %u with chars NULL", what, s.length);
  if (s.length == 0) return;
  const WCHAR* b = s.chars;
  const WCHAR* e = s.chars + s.length;
  FUZZ_CHECK(e <= in || b >= in + in_len, "%s points into the input buffer", what);
  volatile unsigned sum = 0;
  for (ULONG i = 0; i < s.length; ++i) sum = sum + s.chars[i];  // ASan checks each read
  (void)sum;
}

// The parse behind WsOpenListener and WsOpenChannel: stricter than WsDecodeUrl, and
// what it passes is handed to inet_pton and getaddrinfo as C text.
void check_address_parse(const std::vector<WCHAR>& chars, ULONG flags, bool decoded) {
  openwws::core::parsed_url u;
  std::string why;
  HRESULT hr = openwws::core::parse_url(chars.data(), static_cast<ULONG>(chars.size()), flags, u, why);
  FUZZ_CHECK(hr == S_OK || hr == WS_E_INVALID_FORMAT, "parse_url returned 0x%08X", static_cast<unsigned>(hr));
  FUZZ_CHECK(FAILED(hr) == !why.empty(), "parse_url %s with reason '%s'", fuzz::hr_name(hr), why.c_str());
  if (FAILED(hr)) return;
  FUZZ_CHECK(decoded, "parse_url took a URL that WsDecodeUrl refused");
  FUZZ_CHECK(u.host.find(u'\0') == std::u16string::npos, "a host with U+0000 passed");
  if (!u.host_is_ip_literal) return;
  // An IP literal is an IPv6 address as inet_pton reads it, with a 32-bit decimal zone.
  std::string text = u.host_utf8();
  std::size_t pct = text.find('%');
  in6_addr a{};
  FUZZ_CHECK(::inet_pton(AF_INET6, text.substr(0, pct).c_str(), &a) == 1, "IP literal [%s] passed", text.c_str());
  if (pct == std::string::npos) return;
  std::string zone = text.substr(pct + 1);
  FUZZ_CHECK(!zone.empty() && zone.find_first_not_of("0123456789") == std::string::npos, "zone id '%s' passed",
             zone.c_str());
  std::uint64_t value = 0;
  for (char c : zone) {
    value = value * 10 + static_cast<unsigned>(c - '0');
    FUZZ_CHECK(value <= 0xFFFFFFFFu, "zone id '%s' above 32 bits passed", zone.c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static WS_HEAP* big = make_heap(big_heap_size);
  static WS_HEAP* small = make_heap(small_heap_size);
  static WS_ERROR* error = [] {
    WS_ERROR* e = nullptr;
    if (WsCreateError(nullptr, 0, &e) != S_OK) fuzz::violation("WsCreateError failed");
    return e;
  }();
  if (size == 0) return 0;

  const std::uint8_t ctl = data[0];
  const ULONG flags = ctl & (WS_URL_FLAGS_ALLOW_HOST_WILDCARDS | WS_URL_FLAGS_NO_PATH_COLLAPSE);
  WS_HEAP* heap = (ctl & 4) ? small : big;
  WS_ERROR* err = (ctl & 8) ? error : nullptr;

  // Exactly the input's code units, in a buffer of their own so that ASan sees any read
  // past the end.
  std::vector<WCHAR> chars((size - 1) / 2);
  if (!chars.empty()) std::memcpy(chars.data(), data + 1, chars.size() * sizeof(WCHAR));
  WS_STRING url{static_cast<ULONG>(chars.size()), chars.empty() ? nullptr : chars.data()};

  FUZZ_CHECK(WsResetHeap(heap, nullptr) == S_OK, "WsResetHeap");
  if (err) FUZZ_CHECK(WsResetError(err) == S_OK, "WsResetError");
  WS_URL* out = nullptr;
  HRESULT hr = WsDecodeUrl(&url, flags, heap, &out, err);

  FUZZ_CHECK(hr == S_OK || hr == WS_E_INVALID_FORMAT || hr == WS_E_QUOTA_EXCEEDED || hr == E_INVALIDARG,
             "WsDecodeUrl returned 0x%08X (%s)", static_cast<unsigned>(hr), fuzz::hr_name(hr));
  // The large heap holds any result for an input this size; only the small one may fill.
  FUZZ_CHECK(hr != WS_E_QUOTA_EXCEEDED || heap == small, "WS_E_QUOTA_EXCEEDED on the %zu-byte heap",
             big_heap_size);
  // Spec section 8: a failing call adds a string to the error; a successful one leaves
  // it unchanged.
  if (err) {
    ULONG n = string_count(err);
    FUZZ_CHECK(FAILED(hr) ? n > 0 : n == 0, "%s with %u error strings", fuzz::hr_name(hr), n);
  }
  // The big heap holds any result, so there WsDecodeUrl takes whatever the stricter
  // parse takes.
  if (heap == big) check_address_parse(chars, flags, hr == S_OK);
  if (hr != S_OK) return 0;

  FUZZ_CHECK(out != nullptr, "S_OK without a WS_URL");
  const unsigned scheme = static_cast<unsigned>(out->scheme);
  FUZZ_CHECK(scheme <= WS_URL_NETPIPE_SCHEME_TYPE, "scheme %u", scheme);
  // Every scheme's struct has the WS_HTTP_URL layout (webservices.h).
  const auto* u = reinterpret_cast<const WS_HTTP_URL*>(out);
  const WCHAR* in = chars.data();
  check_string(u->host, "host", in, chars.size());
  check_string(u->portAsString, "portAsString", in, chars.size());
  check_string(u->path, "path", in, chars.size());
  check_string(u->query, "query", in, chars.size());
  check_string(u->fragment, "fragment", in, chars.size());
  // Spec section 10.1: the host must be non-empty. No host holds a NUL (issue 8, F9):
  // whoever reads it as C text would stop there.
  FUZZ_CHECK(u->host.length > 0, "S_OK with an empty host");
  for (ULONG i = 0; i < u->host.length; ++i) FUZZ_CHECK(u->host.chars[i] != 0, "S_OK with U+0000 in the host");

  if (u->portAsString.length == 0) {
    FUZZ_CHECK(u->port == default_port(out->scheme), "no port text but port %u (scheme %u)", u->port, scheme);
  } else {
    std::uint32_t value = 0;
    for (ULONG i = 0; i < u->portAsString.length; ++i) {
      WCHAR c = u->portAsString.chars[i];
      FUZZ_CHECK(c >= u'0' && c <= u'9', "portAsString has non-digit U+%04X", static_cast<unsigned>(c));
      value = value * 10 + static_cast<std::uint32_t>(c - u'0');
      FUZZ_CHECK(value <= 65535, "portAsString is above 65535");
    }
    FUZZ_CHECK(value == u->port, "portAsString says %u, port is %u", value, u->port);
  }
  return 0;
}
