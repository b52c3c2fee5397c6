// SPDX-License-Identifier: MIT
// Matching a net.tcp client's Via against the listener's URL, as
// WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS (WS_MATCH_URL_* flags) describes.
#pragma once

#include "core/url.h"

#include <webservices.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace openwws::core::nettcp {

// An IPv4 or IPv6 address; IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are kept as
// IPv4, so that both spellings of one address compare equal. Zone ids are dropped.
struct ip_address {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const ip_address&) const = default;
  bool is_loopback() const noexcept;
  bool is_unspecified() const noexcept;  // 0.0.0.0 or ::
};
// Dotted-quad IPv4 (inet_pton's strict form) or IPv6 without brackets, "%zone" allowed.
std::optional<ip_address> parse_ip(std::string_view text) noexcept;

// The names and addresses that make a host "this host" for the WS_MATCH_URL_* host flags.
struct host_identity {
  std::string dns_host;         // DNS_HOST: the host name without its domain
  std::string fully_qualified;  // DNS_FULLY_QUALIFIED_HOST: with its domain; empty if unknown
  std::string netbios;          // NETBIOS_HOST: see discover_host_identity
  std::vector<ip_address> addresses;  // HOST_ADDRESSES: the addresses of the interfaces
};

// Reads this machine's identity: gethostname() gives the names (the first label is the
// DNS host name; the NetBIOS name is that label upper-cased and cut to 15 characters, as
// Windows derives a computer's NetBIOS name, since there is no NetBIOS to ask on Linux or
// macOS); the fully qualified name is gethostname() when it holds a dot, otherwise the
// canonical name getaddrinfo(AI_CANONNAME) gives, which may ask DNS and block; the
// addresses are those of every interface (getifaddrs, loopback included). Never fails:
// what cannot be read stays empty.
host_identity discover_host_identity();
// discover_host_identity() once per process, on the first call (which may block as it
// does); later calls, from any thread, return the same object. Call it once when a
// listener opens so that no accept waits on it.
const host_identity& this_host();

// Whether a Via (UTF-8, as received) names the listener's endpoint under flags
// (WS_MATCH_URL_*): host, port, path and query must each match; a component without
// flags always matches, and with several flags any one that passes is enough; bits
// outside WS_MATCH_URL_* are ignored. On a mismatch returns false with the reason in
// why. listener_url is the URL the listener was opened with, parsed with
// WS_URL_FLAGS_ALLOW_HOST_WILDCARDS; when it had port 0 the caller puts the port the
// kernel chose in it. Any thread, no state kept; called once per connection, it may
// throw std::bad_alloc.
//
// With any flag set the Via must parse as a URL of the listener's scheme. Host, when the
// host flags (0x1F) are set: a listener opened on a name matches that name only
// (case-insensitively), one opened on an address matches that address only (in any
// spelling), and one opened on '+', '*', 0.0.0.0 or [::] matches through the flags:
// DNS_HOST, DNS_FULLY_QUALIFIED_HOST and NETBIOS_HOST compare with self's names,
// LOCAL_HOST with "localhost", HOST_ADDRESSES with self's addresses or any loopback
// address. PORT: equal ports (808 when the Via has none). Paths compare after
// %-unescaping and dot-segment removal, case-insensitively (as http.sys and WCF do),
// with "" read as "/" and one trailing '/' ignored; EXACT_PATH wants them equal,
// PREFIX_PATH wants the listener's path to be whole leading segments of the Via's.
// NO_QUERY: the Via has no '?'.
bool via_matches(const parsed_url& listener_url, std::string_view via, ULONG flags, const host_identity& self,
                 std::string& why);
// As above with this_host().
bool via_matches(const parsed_url& listener_url, std::string_view via, ULONG flags, std::string& why);

}  // namespace openwws::core::nettcp
