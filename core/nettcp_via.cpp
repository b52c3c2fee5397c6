// SPDX-License-Identifier: MIT
// Via matching (WS_URL_MATCHING_OPTIONS; shared/spec/wwsapi.md 5.1 and 10.2) and what
// makes a host "this host": names from gethostname, addresses from getifaddrs.
#include "core/nettcp_via.h"

#include "core/nettcp.h"
#include "core/text.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace openwws::core::nettcp {

namespace {

template <class Char>
Char ascii_lower(Char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<Char>(c + 32) : c;
}

template <class Char>
bool iequals(std::basic_string_view<Char> a, std::basic_string_view<Char> b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](Char x, Char y) { return ascii_lower(x) == ascii_lower(y); });
}

bool iequals(std::string_view a, std::string_view b) noexcept { return iequals<char>(a, b); }

// "" is the root, and one trailing '/' does not make another path ("/echo/" is "/echo").
std::u16string_view normalized_path(std::u16string_view path) noexcept {
  if (path.empty()) return u"/";
  if (path.size() > 1 && path.back() == u'/') path.remove_suffix(1);
  return path;
}

bool path_matches(std::u16string_view listener, std::u16string_view via, ULONG flags) noexcept {
  listener = normalized_path(listener);
  via = normalized_path(via);
  bool exact = iequals<char16_t>(via, listener);
  // Whole segments only: "/echo" covers "/echo/x", not "/echoes".
  bool prefix = exact || listener == u"/" ||
                (via.size() > listener.size() && iequals<char16_t>(via.substr(0, listener.size()), listener) &&
                 via[listener.size()] == u'/');
  return ((flags & WS_MATCH_URL_EXACT_PATH) && exact) || ((flags & WS_MATCH_URL_PREFIX_PATH) && prefix);
}

std::string quoted(std::u16string_view text) {
  // Appended, not "'" + string&&: gcc 12 warns falsely (-Wrestrict) about that operator+.
  std::string out = "'";
  out += printable(utf16_to_utf8(text));
  out += '\'';
  return out;
}

bool host_matches(const parsed_url& listener, const parsed_url& via, ULONG flags, const host_identity& self,
                  std::string& why) {
  std::string listener_host = listener.host_utf8();
  std::string via_host = via.host_utf8();
  std::optional<ip_address> listener_address;
  if (!listener.host_is_wildcard) listener_address = parse_ip(listener_host);
  std::optional<ip_address> via_address = parse_ip(via_host);
  // 0.0.0.0 and [::] are bound as the wildcard address, so they name no host either.
  bool wildcard = listener.host_is_wildcard || (listener_address && listener_address->is_unspecified());
  if (!wildcard) {
    if (listener_address) {
      if (via_address && *via_address == *listener_address) return true;
      why = "the Via's host " + quoted(via.host) + " is not the listener's address " + quoted(listener.host);
      return false;
    }
    if (iequals(via_host, listener_host)) return true;
    why = "the Via's host " + quoted(via.host) + " is not the listener's host name " + quoted(listener.host);
    return false;
  }
  if ((flags & WS_MATCH_URL_DNS_HOST) && !self.dns_host.empty() && iequals(via_host, self.dns_host)) return true;
  if ((flags & WS_MATCH_URL_DNS_FULLY_QUALIFIED_HOST) && !self.fully_qualified.empty() &&
      iequals(via_host, self.fully_qualified))
    return true;
  if ((flags & WS_MATCH_URL_NETBIOS_HOST) && !self.netbios.empty() && iequals(via_host, self.netbios)) return true;
  if ((flags & WS_MATCH_URL_LOCAL_HOST) && iequals(via_host, "localhost")) return true;
  if ((flags & WS_MATCH_URL_HOST_ADDRESSES) && via_address &&
      (via_address->is_loopback() ||
       std::find(self.addresses.begin(), self.addresses.end(), *via_address) != self.addresses.end()))
    return true;
  char flag_text[16];
  std::snprintf(flag_text, sizeof flag_text, "0x%X", static_cast<unsigned>(flags & WS_MATCH_URL_THIS_HOST));
  why = "the Via's host " + quoted(via.host) + " is none of this host's names or addresses that the host flags " +
        flag_text + " accept";
  return false;
}

}  // namespace

bool ip_address::is_loopback() const noexcept {
  if (family == AF_INET) return bytes[0] == 127;
  static constexpr std::array<std::uint8_t, 16> loopback6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return family == AF_INET6 && bytes == loopback6;
}

bool ip_address::is_unspecified() const noexcept {
  return family != 0 && std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::optional<ip_address> parse_ip(std::string_view text) noexcept {
  text = text.substr(0, text.find('%'));  // the zone says which interface, not which address
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  ip_address a;
  if (text.find(':') != std::string_view::npos) {
    in6_addr v6{};
    if (::inet_pton(AF_INET6, buffer, &v6) != 1) return std::nullopt;
    static constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (std::memcmp(&v6, mapped_prefix, sizeof mapped_prefix) == 0) {
      a.family = AF_INET;
      std::memcpy(a.bytes.data(), reinterpret_cast<const std::uint8_t*>(&v6) + 12, 4);
    } else {
      a.family = AF_INET6;
      std::memcpy(a.bytes.data(), &v6, 16);
    }
    return a;
  }
  in_addr v4{};
  if (::inet_pton(AF_INET, buffer, &v4) != 1) return std::nullopt;
  a.family = AF_INET;
  std::memcpy(a.bytes.data(), &v4, 4);
  return a;
}

host_identity discover_host_identity() {
  host_identity id;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) == 0) {
    std::string host = name;
    id.dns_host = host.substr(0, host.find('.'));
    for (char c : id.dns_host.substr(0, 15)) id.netbios += c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
    if (host.find('.') != std::string::npos) {
      id.fully_qualified = host;
    } else if (!host.empty()) {
      addrinfo hints{};
      hints.ai_flags = AI_CANONNAME;
      addrinfo* found = nullptr;
      if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) == 0) {
        if (found && found->ai_canonname && std::strchr(found->ai_canonname, '.'))
          id.fully_qualified = found->ai_canonname;
        ::freeaddrinfo(found);
      }
    }
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      ip_address a;
      if (i->ifa_addr->sa_family == AF_INET) {
        a.family = AF_INET;
        std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        a.family = AF_INET6;
        std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      if (std::find(id.addresses.begin(), id.addresses.end(), a) == id.addresses.end()) id.addresses.push_back(a);
    }
    ::freeifaddrs(list);
  }
  return id;
}

const host_identity& this_host() {
  static const host_identity identity = discover_host_identity();
  return identity;
}

bool via_matches(const parsed_url& listener_url, std::string_view via, ULONG flags, const host_identity& self,
                 std::string& why) {
  // Bits outside WS_MATCH_URL_* name no component, so they ask for nothing.
  flags &= WS_MATCH_URL_THIS_HOST | WS_MATCH_URL_PORT | WS_MATCH_URL_EXACT_PATH | WS_MATCH_URL_PREFIX_PATH |
           WS_MATCH_URL_NO_QUERY;
  if (flags == 0) return true;  // nothing to check: the application does its own checks
  std::u16string text = utf8_to_utf16(via);
  parsed_url v;
  std::string parse_error;
  if (text.size() > 0xFFFFFFFFu ||
      parse_url(text.data(), static_cast<ULONG>(text.size()), 0, v, parse_error) != S_OK) {
    why = "the Via '" + printable(via) + "' is not a URL (" + parse_error + ")";
    return false;
  }
  if (v.scheme != listener_url.scheme) {
    why = "the Via '" + printable(via) + "' does not have the listener's scheme";
    return false;
  }
  if ((flags & WS_MATCH_URL_THIS_HOST) && !host_matches(listener_url, v, flags, self, why)) return false;
  if ((flags & WS_MATCH_URL_PORT) && v.port != listener_url.port) {
    why = "the Via's port " + std::to_string(v.port) + " is not the listener's port " +
          std::to_string(listener_url.port);
    return false;
  }
  if ((flags & (WS_MATCH_URL_EXACT_PATH | WS_MATCH_URL_PREFIX_PATH)) && !path_matches(listener_url.path, v.path, flags)) {
    why = "the Via's path " + quoted(v.path) +
          ((flags & WS_MATCH_URL_PREFIX_PATH) ? " is not under the listener's path " : " is not the listener's path ") +
          quoted(listener_url.path);
    return false;
  }
  if ((flags & WS_MATCH_URL_NO_QUERY) && v.has_query) {
    why = "the Via has a query (" + quoted(u"?" + v.query) + ") and the matching options include WS_MATCH_URL_NO_QUERY";
    return false;
  }
  return true;
}

bool via_matches(const parsed_url& listener_url, std::string_view via, ULONG flags, std::string& why) {
  return via_matches(listener_url, via, flags, this_host(), why);
}

}  // namespace openwws::core::nettcp
