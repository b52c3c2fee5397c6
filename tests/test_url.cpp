// SPDX-License-Identifier: MIT
// Checks that WsCreateHeap/WsAlloc/WsResetHeap/WsFreeHeap honour the heap quota, that
// WsDecodeUrl splits and unescapes URLs as Windows does (spec 10.1, its observed
// list), and that WsOpenListener accepts and rejects listener URLs as documented
// (spec 3.2, 10.2, 10.3): scheme/binding mismatch, bad syntax, wildcard, name and
// literal hosts, and the bind failures (in use, not on this machine, privileged).
// Also that no host WsOpenListener or WsOpenChannel would misread reaches a socket:
// NUL in the host, zone ids past 32 bits, brackets without an IPv6 address (issue 8,
// F9), and that an IPv4-mapped IPv6 literal works.
#include "tests/support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

using namespace openwws::test;
using namespace std::string_literals;

namespace {


// A heap that frees itself.
struct heap_object {
  WS_HEAP* h = nullptr;
  explicit heap_object(SIZE_T max = 64 * 1024) { REQUIRE(WsCreateHeap(max, 0, nullptr, 0, &h, nullptr) == S_OK); }
  ~heap_object() { WsFreeHeap(h); }
  operator WS_HEAP*() const { return h; }
};

HRESULT decode(const std::u16string& text, WS_HEAP* heap, WS_HTTP_URL** out, ULONG flags = 0,
               WS_ERROR* error = nullptr) {
  WS_STRING s = ws(text);
  WS_URL* url = nullptr;
  HRESULT hr = WsDecodeUrl(&s, flags, heap, &url, error);
  // Every scheme's struct has the WS_HTTP_URL layout (WS_NETTCP_URL etc. are identical).
  *out = reinterpret_cast<WS_HTTP_URL*>(url);
  return hr;
}

WS_LISTENER* tcp_listener(const WS_LISTENER_PROPERTY* props = nullptr, ULONG count = 0) {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, props, count, nullptr, &l,
                           nullptr) == S_OK);
  return l;
}

HRESULT open_url(WS_LISTENER* l, const std::string& url, WS_ERROR* error) {
  auto text = u16(url);
  WS_STRING s = ws(text);
  return WsOpenListener(l, &s, nullptr, error);
}

// A raw IPv4 socket bound to 127.0.0.1 on a kernel-chosen port, optionally listening.
struct bound_socket {
  int fd = -1;
  USHORT port = 0;
  explicit bound_socket(bool listening) {
    fd = loopback_socket(&port, listening ? 4 : -1);
    REQUIRE(fd >= 0);
  }
  ~bound_socket() { ::close(fd); }
};

// The newest string of an error, after checking that it is there and printable: a raw
// control character (such as a NUL copied from the URL) would cut it short for a reader
// that takes it as C text.
std::string newest_error(WS_ERROR* e) {
  WS_STRING s{};
  REQUIRE(WsGetErrorString(e, 0, &s) == S_OK);
  CHECK(s.length > 0);
  for (ULONG i = 0; i < s.length; ++i) CHECK_MESSAGE(s.chars[i] >= 0x20, "control character at ", i, ": ", str(s));
  return str(s);
}

WS_CHANNEL* tcp_channel() {
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &c,
                          nullptr) == S_OK);
  return c;
}

HRESULT open_channel_url(WS_CHANNEL* c, const std::string& url, WS_ERROR* error) {
  auto text = u16(url);
  WS_ENDPOINT_ADDRESS ea{};
  ea.url = ws(text);
  return WsOpenChannel(c, &ea, nullptr, error);
}

}  // namespace

TEST_SUITE("url") {

// ---- heap ---------------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "create_heap_null_out_pointer_returns_invalidarg") {
  error_object err;
  CHECK(WsCreateHeap(1024, 0, nullptr, 0, nullptr, err) == E_INVALIDARG);
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "alloc_within_max_size_returns_usable_memory") {
  heap_object heap(1024);
  void* p = nullptr;
  REQUIRE(WsAlloc(heap, 100, &p, nullptr) == S_OK);
  REQUIRE(p != nullptr);
  std::memset(p, 0x5A, 100);
  void* q = nullptr;
  REQUIRE(WsAlloc(heap, 100, &q, nullptr) == S_OK);
  CHECK(q != nullptr);
  CHECK(q != p);
  CHECK(static_cast<unsigned char*>(p)[99] == 0x5A);
}

TEST_CASE_FIXTURE(fd_guard, "alloc_larger_than_max_size_returns_quota_exceeded") {
  heap_object heap(1024);
  error_object err;
  void* p = reinterpret_cast<void*>(0x1);
  CHECK(WsAlloc(heap, 4096, &p, err) == WS_E_QUOTA_EXCEEDED);
  CHECK(p == reinterpret_cast<void*>(0x1));
  CHECK(err.count() >= 1);
}

TEST_CASE_FIXTURE(fd_guard, "alloc_total_beyond_max_size_returns_quota_exceeded") {
  heap_object heap(1024);
  void* p = nullptr;
  REQUIRE(WsAlloc(heap, 600, &p, nullptr) == S_OK);
  void* q = nullptr;
  CHECK(WsAlloc(heap, 600, &q, nullptr) == WS_E_QUOTA_EXCEEDED);
}

TEST_CASE_FIXTURE(fd_guard, "reset_heap_makes_the_quota_available_again") {
  heap_object heap(1024);
  void* p = nullptr;
  REQUIRE(WsAlloc(heap, 600, &p, nullptr) == S_OK);
  REQUIRE(WsAlloc(heap, 600, &p, nullptr) == WS_E_QUOTA_EXCEEDED);
  CHECK(WsResetHeap(heap, nullptr) == S_OK);
  CHECK(WsAlloc(heap, 600, &p, nullptr) == S_OK);
}

TEST_CASE_FIXTURE(fd_guard, "free_heap_null_is_harmless") {
  WsFreeHeap(nullptr);  // passes by not crashing
}

// ---- WsDecodeUrl ----------------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "decode_url_null_url_or_heap_returns_invalidarg") {
  heap_object heap;
  error_object err;
  std::u16string text = u"http://host/";
  WS_STRING s = ws(text);
  WS_URL* url = nullptr;
  CHECK(WsDecodeUrl(nullptr, 0, heap, &url, err) == E_INVALIDARG);
  CHECK(WsDecodeUrl(&s, 0, nullptr, &url, err) == E_INVALIDARG);
  CHECK(WsDecodeUrl(&s, 0, heap, nullptr, err) == E_INVALIDARG);
  CHECK(url == nullptr);
  CHECK(err.count() >= 3);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_empty_string_returns_invalid_format") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  CHECK(decode(u"", heap, &url) == WS_E_INVALID_FORMAT);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_scheme_is_case_insensitive") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"HTTP://host", heap, &url) == S_OK);
  CHECK(url->url.scheme == WS_URL_HTTP_SCHEME_TYPE);
  CHECK(str(url->host) == "host");
  CHECK(url->port == 80);
  REQUIRE(decode(u"NeT.TcP://host/", heap, &url) == S_OK);
  CHECK(url->url.scheme == WS_URL_NETTCP_SCHEME_TYPE);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_malformed_urls_return_invalid_format") {
  heap_object heap;
  error_object err;
  const char16_t* bad[] = {u"httq://host", u"http:", u"http", u"http:/host", u"http:host", u"http:///host"};
  for (const char16_t* text : bad) {
    CAPTURE(std::string(std::u16string(text).begin(), std::u16string(text).end()));
    WS_HTTP_URL* url = nullptr;
    CHECK(decode(text, heap, &url, 0, err) == WS_E_INVALID_FORMAT);
  }
  CHECK(err.count() >= 6);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_port_above_65535_returns_invalid_format") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  CHECK(decode(u"http://host:65536/", heap, &url) == WS_E_INVALID_FORMAT);
  REQUIRE(decode(u"http://host:65535/", heap, &url) == S_OK);
  CHECK(url->port == 65535);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_non_numeric_port_returns_invalid_format") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  CHECK(decode(u"http://host:8x/", heap, &url) == WS_E_INVALID_FORMAT);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_explicit_port_reads_back_with_its_text") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"https://host:80", heap, &url) == S_OK);
  CHECK(url->url.scheme == WS_URL_HTTPS_SCHEME_TYPE);
  CHECK(str(url->host) == "host");
  CHECK(url->port == 80);
  CHECK(str(url->portAsString) == "80");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_empty_port_gives_default_port_and_empty_port_text") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"http://host:/", heap, &url) == S_OK);
  CHECK(url->port == 80);
  CHECK(url->portAsString.length == 0);
  CHECK(str(url->path) == "/");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_splits_query_and_fragment") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"http://host/path/x?query=1&b#frag", heap, &url) == S_OK);
  CHECK(str(url->host) == "host");
  CHECK(str(url->path) == "/path/x");
  CHECK(str(url->query) == "query=1&b");
  CHECK(str(url->fragment) == "frag");
  REQUIRE(decode(u"http://host/p#f?notquery", heap, &url) == S_OK);
  CHECK(str(url->path) == "/p");
  CHECK(url->query.length == 0);
  CHECK(str(url->fragment) == "f?notquery");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_percent_escapes_are_decoded_in_every_part") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"http://ho%73t/p%61th?q%75ery#fr%61g", heap, &url) == S_OK);
  CHECK(str(url->host) == "host");
  CHECK(str(url->path) == "/path");
  CHECK(str(url->query) == "query");
  CHECK(str(url->fragment) == "frag");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_percent_escapes_are_utf8") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"http://host/%c3%ab", heap, &url) == S_OK);
  CHECK(str(url->path) == "/\\u00EB");
  REQUIRE(decode(u"http://host/%C3%AB", heap, &url) == S_OK);
  CHECK(str(url->path) == "/\\u00EB");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_default_ports_follow_the_scheme") {
  heap_object heap;
  struct {
    const char16_t* text;
    WS_URL_SCHEME_TYPE scheme;
    USHORT port;
  } cases[] = {
      {u"http://host/", WS_URL_HTTP_SCHEME_TYPE, 80},
      {u"https://host/", WS_URL_HTTPS_SCHEME_TYPE, 443},
      {u"net.tcp://host/", WS_URL_NETTCP_SCHEME_TYPE, 808},
      {u"soap.udp://host/", WS_URL_SOAPUDP_SCHEME_TYPE, 65535},
      {u"net.pipe://localhost/x", WS_URL_NETPIPE_SCHEME_TYPE, 65535},
  };
  for (const auto& c : cases) {
    CAPTURE(static_cast<int>(c.scheme));
    WS_HTTP_URL* url = nullptr;
    REQUIRE(decode(c.text, heap, &url) == S_OK);
    CHECK(url->url.scheme == c.scheme);
    CHECK(url->port == c.port);
    CHECK(url->portAsString.length == 0);
  }
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_bracketed_ipv6_host_keeps_brackets") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"net.tcp://[::1]:8080/svc", heap, &url) == S_OK);
  CHECK(str(url->host) == "[::1]");
  CHECK(url->port == 8080);
  CHECK(str(url->path) == "/svc");
  REQUIRE(decode(u"http://[fe80::1]/", heap, &url) == S_OK);
  CHECK(str(url->host) == "[fe80::1]");
  CHECK(url->port == 80);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_empty_host_returns_invalid_format") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  CHECK(decode(u"net.tcp://:808/", heap, &url) == WS_E_INVALID_FORMAT);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_userinfo_returns_invalid_format") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  CHECK(decode(u"http://user@host/", heap, &url) == WS_E_INVALID_FORMAT);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_wildcard_host_without_flag_is_rejected") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  CHECK(decode(u"net.tcp://+:808/", heap, &url) == WS_E_INVALID_FORMAT);
  CHECK(decode(u"http://*/", heap, &url) == WS_E_INVALID_FORMAT);
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_wildcard_host_with_flag_is_accepted") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"net.tcp://+:808/", heap, &url, WS_URL_FLAGS_ALLOW_HOST_WILDCARDS) == S_OK);
  CHECK(str(url->host) == "+");
  CHECK(url->port == 808);
  REQUIRE(decode(u"http://*/x", heap, &url, WS_URL_FLAGS_ALLOW_HOST_WILDCARDS) == S_OK);
  CHECK(str(url->host) == "*");
  CHECK(str(url->path) == "/x");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_collapses_dot_segments_unless_asked_not_to") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"http://host/a/./b/../c", heap, &url) == S_OK);
  CHECK(str(url->path) == "/a/c");
  REQUIRE(decode(u"http://host/a/./b/../c", heap, &url, WS_URL_FLAGS_NO_PATH_COLLAPSE) == S_OK);
  CHECK(str(url->path) == "/a/./b/../c");
}

TEST_CASE_FIXTURE(fd_guard, "decode_url_result_lives_on_the_heap") {
  heap_object heap(64 * 1024);
  WS_HTTP_URL* url = nullptr;
  std::u16string text = u"http://host:81/path?q#f";
  REQUIRE(decode(text, heap, &url) == S_OK);
  // The input may go away; the result does not point into it.
  std::fill(text.begin(), text.end(), u'Z');
  CHECK(str(url->host) == "host");
  CHECK(str(url->portAsString) == "81");
  CHECK(str(url->path) == "/path");
  CHECK(str(url->query) == "q");
  CHECK(str(url->fragment) == "f");
}

// A NUL in the host would cut it short wherever it becomes C text (inet_pton,
// getaddrinfo): "127.0.0.1<NUL>evil" would name 127.0.0.1. No host holds a NUL.
TEST_CASE_FIXTURE(fd_guard, "decode_url_nul_in_host_returns_invalid_format") {
  heap_object heap;
  for (const std::u16string& text : {u"net.tcp://127.0.0.1\0evil:808/"s, u"net.tcp://127.0.0.1%00evil:808/"s,
                                     u"http://localhost\0.example.invalid/"s, u"http://localhost%00/"s,
                                     u"net.tcp://[::1\0]:808/"s, u"net.tcp://\0/"s}) {
    CAPTURE(narrow(text));
    error_object err;
    WS_HTTP_URL* url = nullptr;
    CHECK(decode(text, heap, &url, 0, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("NUL") != std::string::npos);
  }
}

// Path, query and fragment are counted strings that nothing reads as C text: an
// escaped NUL there decodes to U+0000 like any other escape.
TEST_CASE_FIXTURE(fd_guard, "decode_url_escaped_nul_outside_the_host_decodes_to_u0000") {
  heap_object heap;
  WS_HTTP_URL* url = nullptr;
  REQUIRE(decode(u"http://host/a%00b?c%00d#e%00f", heap, &url) == S_OK);
  CHECK(str(url->path) == "/a\\u0000b");
  CHECK(str(url->query) == "c\\u0000d");
  CHECK(str(url->fragment) == "e\\u0000f");
}

// WsDecodeUrl remarks: the characters between '[' and ']' are returned and "are not
// enforced to follow the IPv6Address production". Only a caller that uses the address
// (WsOpenListener, WsOpenChannel) checks it.
TEST_CASE_FIXTURE(fd_guard, "decode_url_ip_literal_contents_are_returned_unchecked") {
  heap_object heap;
  for (const char16_t* host : {u"[127.0.0.1]", u"[::1%-1]", u"[::1%4294967297]", u"[v1.future]"}) {
    CAPTURE(narrow(host));
    WS_HTTP_URL* url = nullptr;
    REQUIRE(decode(u"net.tcp://"s + host + u":808/", heap, &url) == S_OK);
    CHECK(str(url->host) == narrow(host));
  }
}

// ---- WsOpenListener URLs ------------------------------------------------------------

TEST_CASE_FIXTURE(fd_guard, "open_listener_non_tcp_scheme_on_tcp_listener_returns_invalid_endpoint_url") {
  WS_LISTENER* l = tcp_listener();
  for (const char* url : {"http://127.0.0.1:0/", "soap.udp://127.0.0.1:0/", "https://localhost:0/x"}) {
    CAPTURE(url);
    error_object err;
    CHECK(open_url(l, url, err) == WS_E_INVALID_ENDPOINT_URL);
    CHECK(err.count() >= 1);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_unparseable_url_returns_invalid_format") {
  WS_LISTENER* l = tcp_listener();
  for (const char* url : {"net.tcp:/x", "", "foo://x", "net.tcp://127.0.0.1:99999/"}) {
    CAPTURE(url);
    error_object err;
    CHECK(open_url(l, url, err) == WS_E_INVALID_FORMAT);
    CHECK(err.count() >= 1);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_url_with_query_or_fragment_fails") {
  // WsOpenListener remarks: no query and no fragment allowed.
  WS_LISTENER* l = tcp_listener();
  for (const char* url : {"net.tcp://127.0.0.1:0/path?x=1", "net.tcp://127.0.0.1:0/path#frag"}) {
    CAPTURE(url);
    error_object err;
    HRESULT hr = open_url(l, url, err);
    CHECK(FAILED(hr));
    CHECK(err.count() >= 1);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_documented_host_forms_open") {
  for (const char* url : {"net.tcp://+:0/path", "net.tcp://*:0", "net.tcp://localhost:0", "net.tcp://127.0.0.1:0",
                          "net.tcp://[::1]:0", "NET.TCP://127.0.0.1:0/Upper/Case"}) {
    CAPTURE(url);
    WS_LISTENER* l = tcp_listener();
    error_object err;
    HRESULT hr = open_url(l, url, err);
    CHECK_MESSAGE(hr == S_OK, err.text());
    if (hr == S_OK) {
      CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
      CHECK(port_of(l) != 0);
      CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    }
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_wildcard_host_accepts_loopback_clients") {
  // '+', '*' and host names listen on the wildcard address (spec 10.2).
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://+:0/path", &port);
  int fd = nettcp_connect(port, false, "path");
  CHECK(fd >= 0);
  if (fd >= 0) close_rst(fd);
  WS_CHANNEL* c = channel_for(l);
  if (fd >= 0) CHECK(WsAcceptChannel(l, c, nullptr, nullptr) == S_OK);
  WsCloseChannel(c, nullptr, nullptr);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_literal_address_listens_only_there") {
  // A literal IP is listened on as given: an IPv6 loopback client finds nobody.
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  int v6 = nettcp_connect(port, true);
  CHECK(v6 < 0);
  if (v6 >= 0) close_rst(v6);
  int v4 = nettcp_connect(port, false);
  CHECK(v4 >= 0);
  if (v4 >= 0) close_rst(v4);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_port_in_use_returns_address_in_use") {
  bound_socket taken(true);
  WS_LISTENER* l = tcp_listener();
  error_object err;
  CHECK(open_url(l, "net.tcp://127.0.0.1:" + std::to_string(taken.port) + "/", err) == WS_E_ADDRESS_IN_USE);
  CHECK(err.count() >= 1);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_address_not_on_this_machine_returns_address_not_available") {
  // 192.0.2.1 is TEST-NET-1: bind fails locally with EADDRNOTAVAIL; nothing is sent.
  WS_LISTENER* l = tcp_listener();
  error_object err;
  CHECK(open_url(l, "net.tcp://192.0.2.1:0/", err) == WS_E_ADDRESS_NOT_AVAILABLE);
  CHECK(err.count() >= 1);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  WsFreeListener(l);
}

namespace {

// Opens net.tcp://127.0.0.1:<port>/ and returns the HRESULT (E_FAIL if unusable).
HRESULT open_privileged(USHORT port, ULONG* strings) {
  WS_LISTENER* l = nullptr;
  if (WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) !=
      S_OK)
    return E_FAIL;
  WS_ERROR* e = nullptr;
  if (WsCreateError(nullptr, 0, &e) != S_OK) return E_FAIL;
  auto text = u16("net.tcp://127.0.0.1:" + std::to_string(port) + "/");
  WS_STRING s = ws(text);
  HRESULT hr = WsOpenListener(l, &s, nullptr, e);
  *strings = 0;
  WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, strings, sizeof *strings);
  WS_LISTENER_STATE state = WS_LISTENER_STATE_OPEN;
  WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &state, sizeof state, nullptr);
  if (SUCCEEDED(hr)) WsCloseListener(l, nullptr, nullptr);
  WsFreeListener(l);
  WsFreeError(e);
  if (FAILED(hr) && state != WS_LISTENER_STATE_CREATED) return E_UNEXPECTED;
  return hr;
}

}  // namespace

TEST_CASE_FIXTURE(fd_guard, "open_listener_privileged_port_without_privilege_returns_access_denied") {
  const USHORT port = 1023;
  int unprivileged_start = 1024;
#if defined(__linux__)
  if (std::ifstream f("/proc/sys/net/ipv4/ip_unprivileged_port_start"); f) f >> unprivileged_start;
#elif defined(__APPLE__)
  unprivileged_start = 0;  // macOS 10.14 and later let any user bind a port below 1024
#endif
  if (unprivileged_start <= port) {
    MESSAGE("the first unprivileged port is ", unprivileged_start, ": port ", port, " needs no privilege; skipped");
    return;
  }
  if (::geteuid() != 0) {
    ULONG strings = 0;
    CHECK(open_privileged(port, &strings) == E_ACCESSDENIED);
    CHECK(strings >= 1);
    return;
  }
  // As root: run the open in a child that has given up root (and with it
  // CAP_NET_BIND_SERVICE). No runtime thread is alive here, so fork is safe (embedded,
  // fork_for_test stops the host's thread around it; the child makes a host of its own
  // and leaves the parent's loop alone).
  pid_t pid = fork_for_test();
  if (pid < 0) {
    MESSAGE("fork failed; running as root, the privileged-port check is skipped");
    return;
  }
  if (pid == 0) {
    // As root, setgid/setuid set the real, effective and saved ids alike (POSIX), and
    // exist everywhere (setresuid does not on macOS).
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
    host_for_forked_child();
    ULONG strings = 0;
    HRESULT hr = open_privileged(port, &strings);
    if (hr == E_ACCESSDENIED) ::_exit(strings >= 1 ? 0 : 2);
    ::_exit(hr == S_OK ? 3 : hr == WS_E_ADDRESS_IN_USE ? 4 : hr == E_UNEXPECTED ? 5 : 1);
  }
  int status = 0;
  bool exited = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(10));
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  REQUIRE(exited);
  REQUIRE(WIFEXITED(status));
  int code = WEXITSTATUS(status);
  if (code == 90) {
    MESSAGE("could not drop root in the child; the privileged-port check is skipped");
    return;
  }
  // 0: E_ACCESSDENIED with an error string; 2: no string; 3: S_OK; 4: in use;
  // 5: not CREATED after the failure; 1: another HRESULT.
  CHECK(code == 0);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_after_failed_open_is_created_and_opens_again") {
  bound_socket taken(true);
  WS_LISTENER* l = tcp_listener();
  CHECK(open_url(l, "net.tcp://127.0.0.1:" + std::to_string(taken.port) + "/", nullptr) == WS_E_ADDRESS_IN_USE);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  CHECK(open_url(l, "http://127.0.0.1:0/", nullptr) == WS_E_INVALID_ENDPOINT_URL);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  CHECK(open_url(l, "net.tcp:/x", nullptr) == WS_E_INVALID_FORMAT);
  CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  error_object err;
  CHECK_MESSAGE(open_url(l, "net.tcp://127.0.0.1:0/", err) == S_OK, err.text());
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_reopen_after_close_and_reset_succeeds") {
  WS_LISTENER* l = tcp_listener();
  REQUIRE(open_url(l, "net.tcp://127.0.0.1:0/", nullptr) == S_OK);
  USHORT first = port_of(l);
  REQUIRE(WsCloseListener(l, nullptr, nullptr) == S_OK);
  REQUIRE(WsResetListener(l, nullptr) == S_OK);
  // The same port again: it was released by the close.
  error_object err;
  CHECK_MESSAGE(open_url(l, "net.tcp://127.0.0.1:" + std::to_string(first) + "/", err) == S_OK, err.text());
  CHECK(state_of(l) == WS_LISTENER_STATE_OPEN);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

// ---- hosts that must not reach a socket (issue 8, F9) ---------------------------------

TEST_CASE_FIXTURE(fd_guard, "open_listener_nul_in_host_returns_invalid_format") {
  WS_LISTENER* l = tcp_listener();
  for (const std::string& url : {"net.tcp://127.0.0.1\0evil:0/"s, "net.tcp://127.0.0.1%00evil:0/"s}) {
    CAPTURE(narrow(u16(url)));
    error_object err;
    CHECK(open_url(l, url, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("NUL") != std::string::npos);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_nul_in_host_returns_invalid_format") {
  // Something listens on localhost, so a host cut at the NUL would connect.
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  std::string p = std::to_string(port);
  for (const std::string& url : {"net.tcp://localhost\0.example.invalid:"s + p + "/",
                                 "net.tcp://localhost%00.example.invalid:"s + p + "/",
                                 "net.tcp://127.0.0.1\0:"s + p + "/"}) {
    CAPTURE(narrow(u16(url)));
    WS_CHANNEL* c = tcp_channel();
    error_object err;
    CHECK(open_channel_url(c, url, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("NUL") != std::string::npos);
    CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
    WsFreeChannel(c);
  }
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

// A zone id is an interface index: decimal, at most 32 bits. strtoul would take a sign,
// blanks and any length and wrap ("-1" to 4294967295, "4294967297" to 1).
constexpr const char* bad_zones[] = {"-1", "4294967297", "4294967296", "99999999999999999999", "+1", " 1", "",
                                     "1x", "0x1"};

TEST_CASE_FIXTURE(fd_guard, "open_listener_ipv6_zone_id_not_a_32_bit_index_returns_invalid_format") {
  WS_LISTENER* l = tcp_listener();
  for (const char* zone : bad_zones) {
    std::string url = "net.tcp://[::1%"s + zone + "]:0/";
    CAPTURE(url);
    error_object err;
    CHECK(open_url(l, url, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("zone") != std::string::npos);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_ipv6_zone_id_within_32_bits_opens") {
  // The loopback address is not link-local, so the kernel ignores its zone.
  for (const char* url : {"net.tcp://[::1%0]:0/", "net.tcp://[::1%4294967295]:0/"}) {
    CAPTURE(url);
    WS_LISTENER* l = tcp_listener();
    error_object err;
    CHECK_MESSAGE(open_url(l, url, err) == S_OK, err.text());
    if (state_of(l) == WS_LISTENER_STATE_OPEN) CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_ipv6_zone_id_not_a_32_bit_index_returns_invalid_format") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://[::1]:0/", &port);
  for (const char* zone : bad_zones) {
    std::string url = "net.tcp://[::1%"s + zone + "]:" + std::to_string(port) + "/";
    CAPTURE(url);
    WS_CHANNEL* c = tcp_channel();
    error_object err;
    CHECK(open_channel_url(c, url, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("zone") != std::string::npos);
    CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
    WsFreeChannel(c);
  }
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

// RFC 3986: an IP-literal holds an IPv6 address (IPvFuture has no socket address). An
// IPv4 address or a name in brackets, written bare or escaped, is not one.
constexpr const char* not_ipv6_literals[] = {"[127.0.0.1]", "[localhost]",  "[v1.future]",  "[::1::2]",
                                             "[1:2:3:4:5:6:7:8:9]", "[12345::1]", "[::1.2.3]", "[::01.2.3.4]",
                                             "[:1]",        "[1:]",         "%5B127.0.0.1%5D"};

TEST_CASE_FIXTURE(fd_guard, "open_listener_brackets_without_ipv6_address_return_invalid_format") {
  WS_LISTENER* l = tcp_listener();
  for (const char* host : not_ipv6_literals) {
    std::string url = "net.tcp://"s + host + ":0/";
    CAPTURE(url);
    error_object err;
    CHECK(open_url(l, url, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("IPv6") != std::string::npos);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
  }
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_brackets_without_ipv6_address_return_invalid_format") {
  // 127.0.0.1 and localhost listen, so a bracketed IPv4 address or name that got
  // through would connect.
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  for (const char* host : {"[127.0.0.1]", "[localhost]", "[v1.future]"}) {
    std::string url = "net.tcp://"s + host + ":" + std::to_string(port) + "/";
    CAPTURE(url);
    WS_CHANNEL* c = tcp_channel();
    error_object err;
    CHECK(open_channel_url(c, url, err) == WS_E_INVALID_FORMAT);
    CHECK(newest_error(err).find("IPv6") != std::string::npos);
    CHECK(state_of(c) == WS_CHANNEL_STATE_CREATED);
    WsFreeChannel(c);
  }
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_ipv6_literal_forms_open") {
  // The IPv6 grammar check must not turn away what RFC 4291 writes.
  for (const char* url : {"net.tcp://[0:0:0:0:0:0:0:1]:0/", "net.tcp://[::0:1]:0/", "net.tcp://[0::1]:0/",
                          "net.tcp://[::FFFF:127.0.0.1]:0/"}) {
    CAPTURE(url);
    WS_LISTENER* l = tcp_listener();
    error_object err;
    CHECK_MESSAGE(open_url(l, url, err) == S_OK, err.text());
    if (state_of(l) == WS_LISTENER_STATE_OPEN) CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
    WsFreeListener(l);
  }
}

// An IPv4-mapped address (RFC 4291 2.5.5.2) is an IPv6 literal for an IPv4 peer. It is
// listened on as given, on an IPv6 socket that carries IPv4 (IPV6_V6ONLY off).
TEST_CASE_FIXTURE(fd_guard, "open_listener_ipv4_mapped_literal_listens_on_that_ipv4_address") {
  WS_LISTENER* l = tcp_listener();
  error_object err;
  REQUIRE_MESSAGE(open_url(l, "net.tcp://[::ffff:127.0.0.1]:0/", err) == S_OK, err.text());
  USHORT port = port_of(l);
  int v4 = nettcp_connect(port, false);
  CHECK(v4 >= 0);
  if (v4 >= 0) close_rst(v4);
  int v6 = nettcp_connect(port, true);
  CHECK(v6 < 0);
  if (v6 >= 0) close_rst(v6);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_ipv4_mapped_literal_with_one_ip_version_returns_address_not_available") {
  // IPv4 traffic on an IPv6 socket fits neither IP_VERSION_4 nor IP_VERSION_6 alone.
  for (WS_IP_VERSION version : {WS_IP_VERSION_4, WS_IP_VERSION_6}) {
    CAPTURE(static_cast<int>(version));
    WS_LISTENER_PROPERTY prop{WS_LISTENER_PROPERTY_IP_VERSION, &version, sizeof version};
    WS_LISTENER* l = tcp_listener(&prop, 1);
    error_object err;
    CHECK(open_url(l, "net.tcp://[::ffff:127.0.0.1]:0/", err) == WS_E_ADDRESS_NOT_AVAILABLE);
    CHECK(newest_error(err).find("IP_VERSION") != std::string::npos);
    CHECK(state_of(l) == WS_LISTENER_STATE_CREATED);
    WsFreeListener(l);
  }
}

TEST_CASE_FIXTURE(fd_guard, "open_channel_ipv4_mapped_literal_connects_to_that_ipv4_address") {
  USHORT port = 0;
  WS_LISTENER* l = open_listener("net.tcp://127.0.0.1:0/", &port);
  WS_CHANNEL* c = tcp_channel();
  error_object err;
  CHECK_MESSAGE(open_with_accept(l, nullptr, c, "net.tcp://[::ffff:127.0.0.1]:" + std::to_string(port) + "/", err) ==
                    S_OK,
                err.text());
  CHECK(state_of(c) == WS_CHANNEL_STATE_OPEN);
  if (state_of(c) == WS_CHANNEL_STATE_OPEN) CHECK(WsCloseChannel(c, nullptr, nullptr) == S_OK);
  WsFreeChannel(c);
  CHECK(WsCloseListener(l, nullptr, nullptr) == S_OK);
  WsFreeListener(l);
}

}  // TEST_SUITE("url")
