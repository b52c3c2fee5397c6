// SPDX-License-Identifier: MIT
// URL parsing as WsDecodeUrl documents it (RFC 3986 with WWSAPI's restrictions).
#pragma once

#include <webservices.h>

#include <cstdint>
#include <string>

namespace openwws::core {

struct parsed_url {
  WS_URL_SCHEME_TYPE scheme = WS_URL_HTTP_SCHEME_TYPE;
  std::u16string host;  // unescaped; an IP-literal keeps its brackets
  std::u16string port_text;  // as written; empty when the URL had no port
  std::u16string path;
  std::u16string query;
  std::u16string fragment;
  std::uint16_t port = 0;  // the scheme's default when port_text is empty
  bool has_query = false;
  bool has_fragment = false;
  bool host_is_wildcard = false;  // '+' or '*'
  bool host_is_ip_literal = false;  // written in brackets (not escaped ones)

  // The host as UTF-8, an IP-literal without its brackets.
  std::string host_utf8() const;
};

// A parse_url flag of openwws's own, outside WS_URL_FLAGS: return what stands between
// '[' and ']' unchecked, as WsDecodeUrl documents. Without it the brackets must hold an
// IPv6 address, with an optional decimal zone id, since the caller will use the address.
constexpr ULONG url_flag_unchecked_ip_literal = 0x80000000;

// S_OK, or WS_E_INVALID_FORMAT with the reason in why. flags are WS_URL_FLAGS, plus
// url_flag_unchecked_ip_literal. A host never holds U+0000, escaped or not.
HRESULT parse_url(const WCHAR* chars, ULONG length, ULONG flags, parsed_url& out, std::string& why);

// The default port of a scheme: http 80, https 443, net.tcp 808, soap.udp and net.pipe 65535.
std::uint16_t default_port(WS_URL_SCHEME_TYPE scheme) noexcept;

}  // namespace openwws::core
