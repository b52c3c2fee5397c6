// SPDX-License-Identifier: MIT
// URL parser: scheme, host (names, IP literals, wildcards), port, path, query, fragment.
#include "core/url.h"

#include "core/text.h"

#include <string_view>

namespace openwws::core {

namespace {

struct scheme_entry {
  std::u16string_view name;
  WS_URL_SCHEME_TYPE type;
};

constexpr scheme_entry schemes[] = {
    {u"http", WS_URL_HTTP_SCHEME_TYPE},        {u"https", WS_URL_HTTPS_SCHEME_TYPE},
    {u"net.tcp", WS_URL_NETTCP_SCHEME_TYPE},   {u"soap.udp", WS_URL_SOAPUDP_SCHEME_TYPE},
    {u"net.pipe", WS_URL_NETPIPE_SCHEME_TYPE},
};

char16_t lower(char16_t c) noexcept { return c >= u'A' && c <= u'Z' ? static_cast<char16_t>(c + 32) : c; }

bool iequals(std::u16string_view a, std::u16string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

int hex_value(char16_t c) noexcept {
  if (c >= u'0' && c <= u'9') return c - u'0';
  if (c >= u'a' && c <= u'f') return c - u'a' + 10;
  if (c >= u'A' && c <= u'F') return c - u'A' + 10;
  return -1;
}

// %XX escapes are UTF-8 bytes; other characters pass through as they are.
bool unescape(std::u16string_view in, std::u16string& out) {
  out.clear();
  std::string bytes;
  auto flush = [&] {
    if (!bytes.empty()) out += utf8_to_utf16(bytes);
    bytes.clear();
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == u'%') {
      if (i + 2 >= in.size()) return false;  // '%' needs two hex digits after it
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      bytes.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      flush();
      out.push_back(in[i]);
    }
  }
  flush();
  return true;
}

bool is_h16(std::u16string_view s) noexcept {
  if (s.empty() || s.size() > 4) return false;
  for (char16_t c : s)
    if (hex_value(c) < 0) return false;
  return true;
}

// RFC 3986 dec-octet: 0 to 255, no leading zero.
bool is_dec_octet(std::u16string_view s) noexcept {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s.front() == u'0')) return false;
  unsigned value = 0;
  for (char16_t c : s) {
    if (c < u'0' || c > u'9') return false;
    value = value * 10 + (c - u'0');
  }
  return value <= 255;
}

bool is_ipv4_address(std::u16string_view s) noexcept {
  for (int i = 0; i < 3; ++i) {
    std::size_t dot = s.find(u'.');
    if (dot == std::u16string_view::npos || !is_dec_octet(s.substr(0, dot))) return false;
    s.remove_prefix(dot + 1);
  }
  return is_dec_octet(s);
}

// Counts the 16-bit pieces of colon-separated h16s; an IPv4 address, allowed only at
// the very end, counts as two. False when a piece is malformed.
bool count_pieces(std::u16string_view s, bool ipv4_may_end, int& pieces) noexcept {
  pieces = 0;
  if (s.empty()) return true;
  for (;;) {
    std::size_t colon = s.find(u':');
    std::u16string_view piece = s.substr(0, colon);
    if (colon == std::u16string_view::npos && ipv4_may_end && piece.find(u'.') != std::u16string_view::npos) {
      pieces += 2;
      return is_ipv4_address(piece);
    }
    if (!is_h16(piece)) return false;
    ++pieces;
    if (colon == std::u16string_view::npos) return true;
    s.remove_prefix(colon + 1);
  }
}

// RFC 3986 IPv6address: eight pieces, or fewer around one "::" that stands for at
// least one zero piece.
bool is_ipv6_address(std::u16string_view s) noexcept {
  std::size_t gap = s.find(u"::");
  int head = 0;
  int tail = 0;
  if (gap == std::u16string_view::npos) return count_pieces(s, true, head) && head == 8;
  if (s.find(u"::", gap + 1) != std::u16string_view::npos) return false;  // also ":::"
  return count_pieces(s.substr(0, gap), false, head) && count_pieces(s.substr(gap + 2), true, tail) &&
         head + tail <= 7;
}

// A zone id names an interface by its index: decimal within 32 bits (it becomes
// sin6_scope_id). Interface names are not taken, as the socket layer reads only numbers.
bool is_zone_index(std::u16string_view s) noexcept {
  if (s.empty()) return false;
  std::uint64_t value = 0;
  for (char16_t c : s) {
    if (c < u'0' || c > u'9') return false;
    value = value * 10 + (c - u'0');
    if (value > UINT32_MAX) return false;
  }
  return true;
}

// The inside of "[...]" as WsOpenListener and WsOpenChannel use it: an IPv6 address
// with an optional "%zone". False with the reason in why.
bool check_ip_literal(std::u16string_view literal, std::string& why) {
  std::u16string_view inside = literal.substr(1, literal.size() - 2);
  std::size_t pct = inside.find(u'%');
  if (!is_ipv6_address(inside.substr(0, pct))) {
    why = "the IP literal " + utf16_to_utf8(literal) + " does not hold an IPv6 address";
    return false;
  }
  if (pct != std::u16string_view::npos && !is_zone_index(inside.substr(pct + 1))) {
    why = "the zone id '" + utf16_to_utf8(inside.substr(pct + 1)) + "' of " + utf16_to_utf8(literal) +
          " is not an interface index (decimal, 0 to 4294967295)";
    return false;
  }
  return true;
}

// Removes "." and ".." segments (RFC 3986 5.2.4).
std::u16string collapse(std::u16string_view path) {
  std::u16string out;
  std::size_t i = 0;
  while (i < path.size()) {
    std::size_t end = path.find(u'/', i + 1);
    if (end == std::u16string_view::npos) end = path.size();
    std::u16string_view seg = path.substr(i, end - i);  // includes its leading '/'
    if (seg == u"/.") {
      if (end == path.size()) out.push_back(u'/');
    } else if (seg == u"/..") {
      std::size_t cut = out.rfind(u'/');
      out.erase(cut == std::u16string::npos ? 0 : cut);
      if (end == path.size()) out.push_back(u'/');
    } else {
      out.append(seg);
    }
    i = end;
  }
  return out;
}

}  // namespace

std::uint16_t default_port(WS_URL_SCHEME_TYPE scheme) noexcept {
  switch (scheme) {
    case WS_URL_HTTP_SCHEME_TYPE:
      return 80;
    case WS_URL_HTTPS_SCHEME_TYPE:
      return 443;
    case WS_URL_NETTCP_SCHEME_TYPE:
      return 808;
    default:
      return 65535;
  }
}

std::string parsed_url::host_utf8() const {
  std::u16string_view h = host;
  // Only brackets as written: an escaped "%5B...%5D" is a name and keeps them.
  if (host_is_ip_literal) h = h.substr(1, h.size() - 2);
  return utf16_to_utf8(h);
}

HRESULT parse_url(const WCHAR* chars, ULONG length, ULONG flags, parsed_url& out, std::string& why) {
  std::u16string_view url(reinterpret_cast<const char16_t*>(chars), length);
  out = parsed_url{};
  std::size_t colon = url.find(u':');
  if (colon == std::u16string_view::npos || colon == 0) {
    why = "no scheme";
    return WS_E_INVALID_FORMAT;
  }
  std::u16string_view scheme = url.substr(0, colon);
  bool known = false;
  for (const auto& s : schemes)
    if (iequals(scheme, s.name)) {
      out.scheme = s.type;
      known = true;
    }
  if (!known) {
    why = "unknown scheme '" + utf16_to_utf8(scheme) + "'";
    return WS_E_INVALID_FORMAT;
  }
  std::u16string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) != u"//") {
    why = "'//' must follow the scheme";
    return WS_E_INVALID_FORMAT;
  }
  rest.remove_prefix(2);
  std::size_t auth_end = rest.find_first_of(u"/?#");
  std::u16string_view authority = rest.substr(0, auth_end);
  std::u16string_view tail = auth_end == std::u16string_view::npos ? std::u16string_view{} : rest.substr(auth_end);
  if (authority.find(u'@') != std::u16string_view::npos) {
    why = "user information ('@') is not supported";
    return WS_E_INVALID_FORMAT;
  }
  std::u16string_view host;
  std::u16string_view port;
  bool has_port_colon = false;
  if (!authority.empty() && authority.front() == u'[') {
    std::size_t close = authority.find(u']');
    if (close == std::u16string_view::npos) {
      why = "'[' without ']' in the host";
      return WS_E_INVALID_FORMAT;
    }
    host = authority.substr(0, close + 1);
    std::u16string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != u':') {
        why = "characters after ']' that are not a port";
        return WS_E_INVALID_FORMAT;
      }
      has_port_colon = true;
      port = after.substr(1);
    }
    if (host.size() == 2) {
      why = "empty IP literal";
      return WS_E_INVALID_FORMAT;
    }
  } else {
    std::size_t pc = authority.find(u':');
    host = authority.substr(0, pc);
    if (pc != std::u16string_view::npos) {
      has_port_colon = true;
      port = authority.substr(pc + 1);
    }
  }
  if (host.empty()) {
    why = "empty host";
    return WS_E_INVALID_FORMAT;
  }
  if (host == u"+" || host == u"*") {
    if (!(flags & WS_URL_FLAGS_ALLOW_HOST_WILDCARDS)) {
      why = "wildcard host needs WS_URL_FLAGS_ALLOW_HOST_WILDCARDS";
      return WS_E_INVALID_FORMAT;
    }
    out.host_is_wildcard = true;
    out.host.assign(host);
  } else if (host.front() == u'[') {
    out.host.assign(host);  // IP literals are returned as they are, brackets included
    out.host_is_ip_literal = true;
  } else if (!unescape(host, out.host)) {
    why = "bad %-escape in the host";
    return WS_E_INVALID_FORMAT;
  }
  // Whoever reads the host as C text (inet_pton, getaddrinfo) would stop at a NUL and
  // use what comes before it: "127.0.0.1<NUL>evil" would name 127.0.0.1.
  if (out.host.find(u'\0') != std::u16string::npos) {
    why = "the host contains a NUL character (U+0000, or escaped as %00)";
    return WS_E_INVALID_FORMAT;
  }
  if (out.host_is_ip_literal && !(flags & url_flag_unchecked_ip_literal) && !check_ip_literal(out.host, why))
    return WS_E_INVALID_FORMAT;
  out.port = default_port(out.scheme);
  if (has_port_colon && !port.empty()) {
    std::uint32_t value = 0;
    for (char16_t c : port) {
      if (c < u'0' || c > u'9' || value > 65535) {
        why = "bad port '" + utf16_to_utf8(port) + "'";
        return WS_E_INVALID_FORMAT;
      }
      value = value * 10 + (c - u'0');
    }
    if (value > 65535) {
      why = "port " + utf16_to_utf8(port) + " is above 65535";
      return WS_E_INVALID_FORMAT;
    }
    out.port = static_cast<std::uint16_t>(value);
    out.port_text.assign(port);
  }
  std::size_t hash = tail.find(u'#');
  std::u16string_view before_hash = tail.substr(0, hash);
  if (hash != std::u16string_view::npos) {
    out.has_fragment = true;
    if (!unescape(tail.substr(hash + 1), out.fragment)) {
      why = "bad %-escape in the fragment";
      return WS_E_INVALID_FORMAT;
    }
  }
  std::size_t q = before_hash.find(u'?');
  if (q != std::u16string_view::npos) {
    out.has_query = true;
    if (!unescape(before_hash.substr(q + 1), out.query)) {
      why = "bad %-escape in the query";
      return WS_E_INVALID_FORMAT;
    }
  }
  std::u16string path;
  if (!unescape(before_hash.substr(0, q), path)) {
    why = "bad %-escape in the path";
    return WS_E_INVALID_FORMAT;
  }
  out.path = (flags & WS_URL_FLAGS_NO_PATH_COLLAPSE) ? path : collapse(path);
  return S_OK;
}

}  // namespace openwws::core
