// SPDX-License-Identifier: MIT
// Checks that the net.tcp framing layer ([MC-NMF]; core/nettcp*.h) reads the preambles
// real clients send (the captured vectors in tests/vectors/nettcp, fed whole, split at
// every point and one byte at a time) and leaves the first message that follows untouched,
// that the client preamble it writes is byte-for-byte the captured one, that every bad
// preamble gets its fault (version, mode, encoding, Via matching, upgrades, lengths,
// garbage), that Via matching follows each WS_MATCH_URL_* flag, and that a client reads
// the server's Preamble Ack or Fault record into the right WS_E_ENDPOINT_* result.
#include <doctest/doctest.h>

#include "core/nettcp.h"
#include "core/nettcp_preamble.h"
#include "core/nettcp_via.h"
#include "core/url.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace openwws::core;
using namespace openwws::core::nettcp;

namespace {

using bytes_t = std::vector<std::uint8_t>;

// --- The captured vectors --------------------------------------------------------------

const std::filesystem::path vectors_dir = OPENWWS_NETTCP_VECTORS;

// Hex bytes after '#' comment lines.
bytes_t read_hex(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  bytes_t out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string hex;
    while (words >> hex) out.push_back(static_cast<std::uint8_t>(std::stoul(hex, nullptr, 16)));
  }
  return out;
}

struct decoded_preamble {
  std::string via;             // from the 'Via "..."' line
  std::size_t preamble_end = 0;  // offset of the PreambleEnd record
};

// The Via and the Preamble End offset as the .decoded.txt beside a vector records them.
decoded_preamble read_decoded(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  decoded_preamble d;
  bool found_end = false;
  std::string line;
  while (std::getline(in, line)) {
    std::size_t via = line.find("Via \"");
    if (via != std::string::npos) d.via = line.substr(via + 5, line.find('"', via + 5) - via - 5);
    std::size_t end = line.find("PreambleEnd");
    if (end != std::string::npos && line.find('@') != std::string::npos) {
      d.preamble_end = std::stoul(line.substr(line.find('@') + 1));
      found_end = true;
    }
  }
  REQUIRE_MESSAGE(found_end, path << " names no PreambleEnd");
  REQUIRE_MESSAGE(!d.via.empty(), path << " names no Via");
  return d;
}

std::vector<std::filesystem::path> vectors(const std::string& suffix) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(vectors_dir)) {
    std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::filesystem::path decoded_of(const std::filesystem::path& hex) {
  std::string name = hex.filename().string();
  return hex.parent_path() / (name.substr(0, name.size() - 4) + ".decoded.txt");
}

// --- A listener's policy ----------------------------------------------------------------

parsed_url listener_url(const std::u16string& text) {
  parsed_url u;
  std::string why;
  if (parse_url(text.data(), static_cast<ULONG>(text.size()), WS_URL_FLAGS_ALLOW_HOST_WILDCARDS, u, why) != S_OK)
    FAIL("bad listener URL in a test: " << why);
  return u;
}

// A made-up machine, so that no test depends on the name of the one it runs on.
host_identity test_host() {
  host_identity h;
  h.dns_host = "testbox";
  h.fully_qualified = "testbox.example.org";
  h.netbios = "TESTBOX";
  h.addresses = {*parse_ip("192.0.2.10"), *parse_ip("2001:db8::10"), *parse_ip("127.0.0.1")};
  return h;
}

const host_identity the_host = test_host();

// The listener of the captured sessions.
preamble_policy echo_policy() {
  static const parsed_url echo_url = listener_url(u"net.tcp://+:26001/echo");
  preamble_policy p;
  p.listener_url = &echo_url;
  p.host = &the_host;
  return p;
}

// --- Feeding ---------------------------------------------------------------------------

struct outcome {
  step status = step::need_more;
  std::size_t consumed = 0;  // over every call
  framing_fault fault = framing_fault::none;
  std::string via;
  std::string reason;
};

outcome finish(const preamble_parser& p, std::size_t consumed) {
  return {p.status(), consumed, p.fault(), std::string(p.via()), std::string(p.reason())};
}

// Feeds in pieces of `chunk` bytes (the whole input with chunk 0), stopping at done or
// failed as a connection would.
outcome feed(const bytes_t& in, const preamble_policy& policy = echo_policy(), std::size_t chunk = 0) {
  preamble_parser p(policy);
  std::size_t consumed = 0;
  std::size_t at = 0;
  do {
    std::size_t n = chunk == 0 ? in.size() - at : std::min(chunk, in.size() - at);
    feed_result r = p.feed(std::span<const std::uint8_t>(in.data() + at, n));
    CHECK(r.consumed <= n);
    if (r.status == step::need_more) CHECK(r.consumed == n);
    consumed += r.consumed;
    at += n;
    if (r.status != step::need_more) break;
  } while (at < in.size());
  CHECK(p.consumed() == consumed);
  return finish(p, consumed);
}

// Feeds in two pieces, split at `split`.
outcome feed_split(const bytes_t& in, std::size_t split, const preamble_policy& policy = echo_policy()) {
  preamble_parser p(policy);
  feed_result a = p.feed(std::span<const std::uint8_t>(in.data(), split));
  std::size_t consumed = a.consumed;
  if (a.status == step::need_more) consumed += p.feed(std::span<const std::uint8_t>(in.data() + split, in.size() - split)).consumed;
  return finish(p, consumed);
}

// A client preamble with parts to spoil.
struct preamble_builder {
  std::uint8_t major = 1, minor = 0, mode = mode_duplex;
  std::string via = "net.tcp://127.0.0.1:26001/echo";
  int known = 0x08;          // -1: send content_type in an Extensible Encoding record
  std::string content_type;
  std::vector<std::string> upgrades;
  bool end = true;

  static void put_string(bytes_t& out, const std::string& s) {
    std::uint8_t length[max_varint_bytes];
    std::size_t n = encode_varint(static_cast<std::uint32_t>(s.size()), length);
    out.insert(out.end(), length, length + n);
    out.insert(out.end(), s.begin(), s.end());
  }
  bytes_t bytes() const {
    bytes_t out = {0x00, major, minor, 0x01, mode, 0x02};
    put_string(out, via);
    if (known >= 0) {
      out.push_back(0x03), out.push_back(static_cast<std::uint8_t>(known));
    } else {
      out.push_back(0x04), put_string(out, content_type);
    }
    for (const auto& u : upgrades) out.push_back(0x09), put_string(out, u);
    if (end) out.push_back(0x0C);
    return out;
  }
};

bytes_t cat(bytes_t a, const bytes_t& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The fault expected, fed whole and one byte at a time alike, with a reason to give.
void check_fault(const bytes_t& in, framing_fault expected, const preamble_policy& policy = echo_policy()) {
  outcome whole = feed(in, policy);
  CHECK(whole.status == step::failed);
  CHECK_MESSAGE(whole.fault == expected, "fault " << fault_name(whole.fault) << ": " << whole.reason);
  CHECK_FALSE(whole.reason.empty());
  outcome bytewise = feed(in, policy, 1);
  CHECK(bytewise.status == step::failed);
  CHECK(bytewise.fault == expected);
  CHECK(bytewise.consumed == whole.consumed);
  CHECK(bytewise.reason == whole.reason);
}

}  // namespace

TEST_SUITE("nettcp") {

// --- Vectors ---------------------------------------------------------------------------

TEST_CASE("vectors_client_preamble_parses_with_the_recorded_via_and_leaves_the_message") {
  auto files = vectors(".c2s.hex");
  REQUIRE(files.size() >= 3);  // Mono, Wine send, Wine request-reply
  for (const auto& file : files) {
    CAPTURE(file.filename().string());
    bytes_t stream = read_hex(file);
    decoded_preamble d = read_decoded(decoded_of(file));
    outcome r = feed(stream);
    CHECK(r.status == step::done);
    CHECK(r.fault == framing_fault::none);
    CHECK(r.via == d.via);
    REQUIRE(r.consumed == d.preamble_end + 1);
    CHECK(stream[r.consumed - 1] == 0x0C);
    // What follows is the client's first message, a Sized Envelope, for the channel.
    REQUIRE(stream.size() > r.consumed);
    CHECK(stream[r.consumed] == static_cast<std::uint8_t>(record::sized_envelope));
  }
}

TEST_CASE("vectors_client_preamble_parses_fed_one_byte_at_a_time") {
  for (const auto& file : vectors(".c2s.hex")) {
    CAPTURE(file.filename().string());
    bytes_t stream = read_hex(file);
    decoded_preamble d = read_decoded(decoded_of(file));
    preamble_parser p(echo_policy());
    for (std::size_t i = 0; i < stream.size(); ++i) {
      feed_result r = p.feed(std::span<const std::uint8_t>(&stream[i], 1));
      if (i < d.preamble_end) {
        REQUIRE(r.status == step::need_more);
        CHECK(r.consumed == 1);
      } else if (i == d.preamble_end) {
        REQUIRE(r.status == step::done);
        CHECK(r.consumed == 1);
      } else {  // the message: never taken
        REQUIRE(r.status == step::done);
        CHECK(r.consumed == 0);
      }
    }
    CHECK(p.via() == d.via);
    CHECK(p.consumed() == d.preamble_end + 1);
    CHECK(p.known_encoding() == 0x08);
    CHECK(p.major_version() == 1);
    CHECK(p.minor_version() == 0);
    CHECK(p.mode() == mode_duplex);
  }
}

TEST_CASE("vectors_parse_the_same_split_anywhere") {
  for (const auto& file : vectors(".c2s.hex")) {
    CAPTURE(file.filename().string());
    bytes_t stream = read_hex(file);
    outcome whole = feed(stream);
    for (std::size_t split = 0; split <= stream.size(); ++split) {
      CAPTURE(split);
      outcome two = feed_split(stream, split);
      CHECK(two.status == whole.status);
      CHECK(two.consumed == whole.consumed);
      CHECK(two.via == whole.via);
    }
    for (std::size_t chunk = 1; chunk < 50; ++chunk) {
      outcome pieces = feed(stream, echo_policy(), chunk);
      CHECK(pieces.status == whole.status);
      CHECK(pieces.consumed == whole.consumed);
    }
  }
}

TEST_CASE("vectors_client_preamble_encoder_reproduces_them_byte_for_byte") {
  for (const auto& file : vectors(".c2s.hex")) {
    CAPTURE(file.filename().string());
    bytes_t stream = read_hex(file);
    decoded_preamble d = read_decoded(decoded_of(file));
    bytes_t expected(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(d.preamble_end + 1));
    bytes_t out;
    std::string why;
    REQUIRE(encode_client_preamble(d.via, WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_ENCODING_XML_BINARY_SESSION_1,
                                   WS_ENVELOPE_VERSION_SOAP_1_2, out, why) == S_OK);
    CHECK(out == expected);
    // WsOpenChannel has the URL as UTF-16.
    bytes_t out16;
    std::u16string via16(d.via.begin(), d.via.end());
    REQUIRE(encode_client_preamble(via16, WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_ENCODING_XML_BINARY_SESSION_1,
                                   WS_ENVELOPE_VERSION_SOAP_1_2, out16, why) == S_OK);
    CHECK(out16 == expected);
  }
}

TEST_CASE("vectors_server_answers_start_with_a_preamble_ack_the_client_reads") {
  auto files = vectors(".s2c.hex");
  REQUIRE(files.size() >= 3);
  for (const auto& file : files) {
    CAPTURE(file.filename().string());
    bytes_t stream = read_hex(file);
    answer_parser whole;
    feed_result r = whole.feed(stream);
    CHECK(r.status == step::done);
    CHECK(r.consumed == 1);  // the reply message after the ack is the channel's
    CHECK(whole.result() == S_OK);
    answer_parser bytewise;
    CHECK(bytewise.feed(std::span<const std::uint8_t>(stream.data(), 1)).status == step::done);
    CHECK(bytewise.feed(std::span<const std::uint8_t>(stream.data() + 1, 1)).consumed == 0);
  }
}

// --- The first message, and feeding after the end ---------------------------------------

TEST_CASE("preamble_first_message_in_the_same_buffer_is_not_consumed") {
  bytes_t preamble = preamble_builder{}.bytes();
  bytes_t message = {0x06, 0x03, 0x00, 0x56, 0x02, 0x07};  // Sized Envelope, then End
  bytes_t stream = cat(preamble, message);
  preamble_parser p(echo_policy());
  feed_result r = p.feed(stream);
  CHECK(r.status == step::done);
  CHECK(r.consumed == preamble.size());
  CHECK(bytes_t(stream.begin() + static_cast<std::ptrdiff_t>(r.consumed), stream.end()) == message);
  // Done is final: more bytes are not read, and the answer stays the same.
  feed_result again = p.feed(message);
  CHECK(again.status == step::done);
  CHECK(again.consumed == 0);
  // reset() starts the next connection.
  p.reset();
  CHECK(p.status() == step::need_more);
  CHECK(p.via().empty());
  CHECK(p.feed(stream).consumed == preamble.size());
}

TEST_CASE("preamble_failed_is_final_and_consumes_up_to_the_bad_byte") {
  preamble_builder b;
  b.mode = mode_simplex;
  bytes_t stream = b.bytes();
  preamble_parser p(echo_policy());
  feed_result r = p.feed(stream);
  CHECK(r.status == step::failed);
  CHECK(r.consumed == 5);  // Version (3), Mode record type, the bad mode
  CHECK(p.feed(stream).consumed == 0);
  CHECK(p.status() == step::failed);
}

// --- Faults ----------------------------------------------------------------------------

TEST_CASE("preamble_major_version_other_than_1_faults_unsupported_version") {
  for (std::uint8_t major : {0, 2, 3, 0x7F, 0xFF}) {
    CAPTURE(major);
    preamble_builder b;
    b.major = major;
    check_fault(b.bytes(), framing_fault::unsupported_version);
  }
  for (std::uint8_t minor : {1, 2, 0xFF}) {  // any 1.x is read as 1.0
    preamble_builder b;
    b.minor = minor;
    outcome r = feed(b.bytes());
    CHECK(r.status == step::done);
  }
}

TEST_CASE("preamble_mode_other_than_duplex_faults_unsupported_mode") {
  for (int mode : {0x00, int{mode_singleton_unsized}, int{mode_simplex}, int{mode_singleton_sized}, 0x05, 0xFF}) {
    CAPTURE(mode);
    preamble_builder b;
    b.mode = static_cast<std::uint8_t>(mode);
    check_fault(b.bytes(), framing_fault::unsupported_mode);
  }
  // A channel type that net.tcp has no mode for takes none at all.
  preamble_policy sessionless = echo_policy();
  sessionless.channel_type = WS_CHANNEL_TYPE_DUPLEX;
  check_fault(preamble_builder{}.bytes(), framing_fault::unsupported_mode, sessionless);
}

TEST_CASE("preamble_encoding_that_does_not_fit_faults_content_type_invalid") {
  for (int known : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0xFF}) {
    CAPTURE(known);
    preamble_builder b;
    b.known = known;
    check_fault(b.bytes(), framing_fault::content_type_invalid);
  }
  // A channel with UTF-8 text and SOAP 1.2 takes 0x03 and refuses binary.
  preamble_policy text = echo_policy();
  text.encoding = WS_ENCODING_XML_UTF8;
  preamble_builder utf8;
  utf8.known = 0x03;
  CHECK(feed(utf8.bytes(), text).status == step::done);
  check_fault(preamble_builder{}.bytes(), framing_fault::content_type_invalid, text);
  // No encoding fits a channel net.tcp has no name for.
  preamble_policy raw = echo_policy();
  raw.encoding = WS_ENCODING_RAW;
  check_fault(preamble_builder{}.bytes(), framing_fault::content_type_invalid, raw);
}

TEST_CASE("preamble_extensible_encoding_is_taken_when_its_content_type_fits") {
  preamble_builder b;
  b.known = -1;
  for (const char* fits : {"application/soap+msbinsession1", "Application/SOAP+msbinsession1",
                           " application/soap+msbinsession1 ; x=y"}) {
    CAPTURE(fits);
    b.content_type = fits;
    preamble_parser p(echo_policy());
    CHECK(p.feed(b.bytes()).status == step::done);
    CHECK(p.content_type() == fits);
    CHECK(p.known_encoding() == -1);
  }
  for (const char* refused : {"application/soap+msbin1", "application/soap+msbinsession1+gzip",
                              "application/soap+xml; charset=utf-8", "text/xml", "x"}) {
    CAPTURE(refused);
    b.content_type = refused;
    check_fault(b.bytes(), framing_fault::content_type_invalid);
  }
  b.content_type = "";  // [MC-NMF] 2.2.3.4.2: never empty
  check_fault(b.bytes(), framing_fault::content_type_invalid);
}

TEST_CASE("preamble_content_type_over_the_limit_faults_content_type_too_long") {
  preamble_builder b;
  b.known = -1;
  b.content_type = std::string(max_content_type_length, 'a');
  check_fault(b.bytes(), framing_fault::content_type_invalid);  // at the limit: read, then refused
  b.content_type += 'a';
  check_fault(b.bytes(), framing_fault::content_type_too_long);
  // Refused at the length, before any of the string has come.
  bytes_t bytes = b.bytes();
  std::size_t string_start = bytes.size() - 1 - b.content_type.size();
  CHECK(feed(bytes).consumed == string_start);
}

TEST_CASE("preamble_via_over_the_limit_faults_via_too_long") {
  preamble_builder b;
  b.via = "net.tcp://127.0.0.1:26001/echo";
  preamble_policy any_via = echo_policy();
  any_via.listener_url = nullptr;
  b.via += std::string(max_via_length - b.via.size(), 'x');
  outcome at_limit = feed(b.bytes(), any_via);
  CHECK(at_limit.status == step::done);
  CHECK(at_limit.via.size() == max_via_length);
  b.via += 'x';
  check_fault(b.bytes(), framing_fault::via_too_long, any_via);
  CHECK(feed(b.bytes(), any_via).consumed == 6 + 2);  // the length's two bytes, no more
  // A length near 2^31 is refused as soon as its bytes pass the limit.
  check_fault({0x00, 0x01, 0x00, 0x01, 0x02, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x07}, framing_fault::via_too_long);
  CHECK(feed({0x00, 0x01, 0x00, 0x01, 0x02, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x07}).consumed == 8);
}

TEST_CASE("preamble_overlong_length_encodings_are_faults") {
  // Six bytes for the value 0: [MC-NMF] 2.2.2 allows at most five.
  bytes_t head = {0x00, 0x01, 0x00, 0x01, 0x02, 0x02};
  check_fault(cat(head, {0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), framing_fault::via_too_long);
  CHECK(feed(cat(head, {0x80, 0x80, 0x80, 0x80, 0x80, 0x00})).consumed == head.size() + 5);
  // Five bytes for a small value are allowed, as .NET writes and reads them.
  bytes_t via = {'n', 'e', 't', '.', 't', 'c', 'p', ':', '/', '/', '1', '2', '7', '.', '0', '.', '0', '.', '1',
                 ':', '2', '6', '0', '0', '1', '/', 'e', 'c', 'h', 'o'};
  bytes_t padded = cat(cat(head, {static_cast<std::uint8_t>(0x80 | via.size()), 0x80, 0x80, 0x80, 0x00}), via);
  CHECK(feed(cat(padded, {0x03, 0x08, 0x0C})).status == step::done);
  // The same for a content type and an upgrade name.
  preamble_builder b;
  b.end = false;
  check_fault(cat(b.bytes(), {0x09, 0x80, 0x80, 0x80, 0x80, 0x80}), framing_fault::upgrade_invalid);
  b.known = -1, b.content_type = "x";
  bytes_t before_encoding = b.bytes();
  before_encoding.resize(before_encoding.size() - 3);  // drop 04 01 'x'
  check_fault(cat(before_encoding, {0x04, 0x81, 0x80, 0x80, 0x80, 0x80}), framing_fault::content_type_too_long);
}

TEST_CASE("preamble_any_upgrade_request_faults_upgrade_invalid") {
  for (const char* upgrade : {"application/ssl-tls", "application/negotiate", "x", ""}) {
    CAPTURE(upgrade);
    preamble_builder b;
    b.upgrades = {upgrade};
    check_fault(b.bytes(), framing_fault::upgrade_invalid);
    outcome r = feed(b.bytes());
    CHECK(r.reason.find("not supported") != std::string::npos);
    CHECK(r.consumed == b.bytes().size() - 1);  // refused before Preamble End
  }
  preamble_builder b;
  b.upgrades = {std::string(max_upgrade_protocol_length + 1, 'u')};
  check_fault(b.bytes(), framing_fault::upgrade_invalid);
}

TEST_CASE("preamble_via_that_does_not_match_faults_endpoint_not_found") {
  for (const char* via : {"net.tcp://127.0.0.1:26002/echo", "net.tcp://127.0.0.1:26001/other",
                          "net.tcp://127.0.0.1:26001/echo?x=1", "net.tcp://elsewhere.example:26001/echo",
                          "http://127.0.0.1:26001/echo", "not a url", ""}) {
    CAPTURE(via);
    preamble_builder b;
    b.via = via;
    check_fault(b.bytes(), framing_fault::endpoint_not_found);
  }
  // Refused when the Via ends, before the encoding is read.
  preamble_builder b;
  b.via = "net.tcp://127.0.0.1:26001/other";
  CHECK(feed(b.bytes()).consumed == 6 + 1 + b.via.size());
  // Text that is not UTF-8, or holds U+0000, is refused even without matching.
  preamble_policy any_via = echo_policy();
  any_via.listener_url = nullptr;
  for (std::string bad : {std::string("net.tcp://h/\xC0\xAF"), std::string("net.tcp://h/\xED\xA0\x80"),
                          std::string("net.tcp://h/\xFF"), std::string("net.tcp://h/a\0b", 15)}) {
    b.via = bad;
    check_fault(b.bytes(), framing_fault::endpoint_not_found, any_via);
  }
  b.via = "net.tcp://h/caf\xC3\xA9";  // UTF-8 is fine
  CHECK(feed(b.bytes(), any_via).status == step::done);
}

TEST_CASE("preamble_record_of_the_wrong_type_gets_the_fault_of_the_record_expected_there") {
  bytes_t good = preamble_builder{}.bytes();
  std::size_t via_end = 6 + 1 + preamble_builder{}.via.size();
  struct position {
    std::size_t at;
    framing_fault fault;
  };
  // Where each record type starts, and the fault for a wrong one there.
  for (position p : {position{0, framing_fault::unsupported_version}, position{3, framing_fault::unsupported_mode},
                     position{5, framing_fault::endpoint_not_found},
                     position{via_end, framing_fault::content_type_invalid},
                     position{via_end + 2, framing_fault::upgrade_invalid}}) {
    for (std::uint8_t wrong : {0x05, 0x06, 0x07, 0x08, 0x0A, 0x0B, 0x0D, 0x47, 0xFF}) {
      CAPTURE(p.at);
      CAPTURE(wrong);
      bytes_t bad(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(p.at));
      bad.push_back(wrong);
      check_fault(bad, p.fault);
      CHECK(feed(bad).consumed == p.at + 1);
    }
  }
}

TEST_CASE("preamble_garbage_from_other_protocols_faults_unsupported_version") {
  std::string http = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  outcome r = feed(bytes_t(http.begin(), http.end()));
  CHECK(r.fault == framing_fault::unsupported_version);
  CHECK(r.consumed == 1);
  CHECK(r.reason.find("HTTP") != std::string::npos);
  outcome tls = feed({0x16, 0x03, 0x01, 0x02, 0x00, 0x01});
  CHECK(tls.fault == framing_fault::unsupported_version);
  CHECK(tls.reason.find("TLS") != std::string::npos);
  // Noise that starts right fails where it stops making sense.
  check_fault({0x00, 0x01, 0x00, 0x01, 0x02, 0x02, 0x05, 'n', 'e', 't', '.', 't', 0xFF}, framing_fault::endpoint_not_found);
  CHECK(feed({}).status == step::need_more);
  CHECK(feed({0x00}).status == step::need_more);
}

TEST_CASE("fault_records_are_the_framing_namespace_uri_with_a_length") {
  struct expected_fault {
    framing_fault fault;
    const char* name;
    HRESULT result;
  };
  const expected_fault all[] = {
      {framing_fault::unsupported_version, "UnsupportedVersion", WS_E_ENDPOINT_FAILURE},
      {framing_fault::unsupported_mode, "UnsupportedMode", WS_E_ENDPOINT_FAILURE},
      {framing_fault::content_type_invalid, "ContentTypeInvalid", WS_E_ENDPOINT_FAILURE},
      {framing_fault::content_type_too_long, "ContentTypeTooLong", WS_E_ENDPOINT_FAILURE},
      {framing_fault::via_too_long, "ViaTooLong", WS_E_ENDPOINT_FAILURE},
      {framing_fault::endpoint_not_found, "EndpointNotFound", WS_E_ENDPOINT_NOT_FOUND},
      {framing_fault::upgrade_invalid, "UpgradeInvalid", WS_E_ENDPOINT_FAILURE},
      {framing_fault::endpoint_access_denied, "EndpointAccessDenied", WS_E_ENDPOINT_ACCESS_DENIED},
      {framing_fault::endpoint_paused, "EndpointPaused", WS_E_ENDPOINT_NOT_AVAILABLE},
      {framing_fault::endpoint_unavailable, "EndpointUnavailable", WS_E_ENDPOINT_NOT_AVAILABLE},
      {framing_fault::server_too_busy, "ServerTooBusy", WS_E_ENDPOINT_TOO_BUSY},
      {framing_fault::connection_dispatch_failed, "ConnectionDispatchFailed", WS_E_ENDPOINT_FAILURE},
      {framing_fault::service_activation_failed, "ServiceActivationFailed", WS_E_ENDPOINT_NOT_AVAILABLE},
      {framing_fault::max_message_size_exceeded, "MaxMessageSizeExceededFault", WS_E_ENDPOINT_FAILURE},
  };
  for (const auto& f : all) {
    CAPTURE(f.name);
    std::string uri = std::string("http://schemas.microsoft.com/ws/2006/05/framing/faults/") + f.name;
    bytes_t expected = {0x08, static_cast<std::uint8_t>(uri.size())};
    expected.insert(expected.end(), uri.begin(), uri.end());
    auto record_bytes = fault_record(f.fault);
    CHECK(bytes_t(record_bytes.begin(), record_bytes.end()) == expected);
    CHECK(fault_name(f.fault) == f.name);
    CHECK(fault_uri(f.fault) == uri);
    CHECK(fault_from_uri(uri) == f.fault);
    CHECK(fault_hresult(f.fault) == f.result);
  }
  CHECK(fault_record(framing_fault::none).empty());
  CHECK(fault_record(framing_fault::unknown).empty());
  CHECK(fault_from_uri("http://schemas.microsoft.com/ws/2006/05/framing/faults/Nope") == framing_fault::unknown);
  CHECK(fault_from_uri("EndpointNotFound") == framing_fault::unknown);
  CHECK(fault_hresult(framing_fault::unknown) == WS_E_ENDPOINT_FAILURE);
  CHECK(fault_hresult(framing_fault::none) == S_OK);
}

TEST_CASE("records_preamble_ack_and_end_are_one_byte") {
  CHECK(bytes_t(preamble_ack_record().begin(), preamble_ack_record().end()) == bytes_t{0x0B});
  CHECK(bytes_t(end_record().begin(), end_record().end()) == bytes_t{0x07});
}

TEST_CASE("varint_encodes_and_reads_back_seven_bits_per_byte") {
  struct sample {
    std::uint32_t value;
    bytes_t bytes;
  };
  for (const sample& s : {sample{0, {0x00}}, sample{0x7F, {0x7F}}, sample{0x80, {0x80, 0x01}},
                          sample{235, {0xEB, 0x01}}, sample{0x3FFF, {0xFF, 0x7F}}, sample{0x4000, {0x80, 0x80, 0x01}},
                          sample{0x7FFFFFFF, {0xFF, 0xFF, 0xFF, 0xFF, 0x07}}}) {
    CAPTURE(s.value);
    std::uint8_t out[max_varint_bytes];
    std::size_t n = encode_varint(s.value, out);
    CHECK(bytes_t(out, out + n) == s.bytes);
    varint_reader r;
    for (std::size_t i = 0; i < s.bytes.size(); ++i)
      CHECK(r.take(s.bytes[i], 0x7FFFFFFF) ==
            (i + 1 == s.bytes.size() ? varint_reader::result::value : varint_reader::result::more));
    CHECK(r.value() == s.value);
  }
  varint_reader r;
  CHECK(r.take(0x81, 100) == varint_reader::result::more);
  CHECK(r.take(0x01, 100) == varint_reader::result::over_limit);  // 129
}

TEST_CASE("wire_encodings_follow_mc_nmf_known_encodings") {
  struct row {
    WS_ENCODING encoding;
    WS_ENVELOPE_VERSION envelope;
    int known;
    int alternative;
  };
  const auto s11 = WS_ENVELOPE_VERSION_SOAP_1_1, s12 = WS_ENVELOPE_VERSION_SOAP_1_2;
  for (const row& r : {row{WS_ENCODING_XML_BINARY_SESSION_1, s12, 0x08, -1}, row{WS_ENCODING_XML_BINARY_1, s12, 0x07, -1},
                       row{WS_ENCODING_XML_MTOM_UTF8, s12, 0x06, -1}, row{WS_ENCODING_XML_MTOM_UTF16LE, s12, 0x06, -1},
                       row{WS_ENCODING_XML_UTF8, s12, 0x03, -1}, row{WS_ENCODING_XML_UTF16BE, s12, 0x04, 0x05},
                       row{WS_ENCODING_XML_UTF16LE, s12, 0x05, 0x04}, row{WS_ENCODING_XML_UTF8, s11, 0x00, -1},
                       row{WS_ENCODING_XML_UTF16BE, s11, 0x01, 0x02}, row{WS_ENCODING_XML_UTF16LE, s11, 0x02, 0x01},
                       row{WS_ENCODING_XML_MTOM_UTF8, s11, -1, -1}}) {
    CAPTURE(describe_channel_encoding(r.encoding, r.envelope));
    wire_encoding w = wire_encoding_for(r.encoding, r.envelope);
    CHECK(w.supported);
    CHECK(w.known == r.known);
    CHECK(w.known_alternative == r.alternative);
    CHECK(content_type_fits(w, w.content_type));  // what a client sends without a known byte
    std::vector<std::uint8_t> out;
    std::string why;
    REQUIRE(encode_client_preamble("net.tcp://h/", WS_CHANNEL_TYPE_DUPLEX_SESSION, r.encoding, r.envelope, out, why) == S_OK);
    preamble_policy p;
    p.encoding = r.encoding, p.envelope_version = r.envelope;
    preamble_parser parser(p);
    CHECK(parser.feed(out).status == step::done);  // both sides agree
  }
  for (auto pair : {std::pair{WS_ENCODING_RAW, s12}, std::pair{WS_ENCODING_XML_BINARY_SESSION_1, s11},
                      std::pair{WS_ENCODING_XML_BINARY_1, s11}, std::pair{WS_ENCODING_XML_UTF8, WS_ENVELOPE_VERSION_NONE},
                      std::pair{static_cast<WS_ENCODING>(9), s12}}) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const WS_ENCODING e = pair.first;
    const WS_ENVELOPE_VERSION v = pair.second;
    CAPTURE(describe_channel_encoding(e, v));
    CHECK_FALSE(wire_encoding_for(e, v).supported);
    std::vector<std::uint8_t> out;
    std::string why;
    CHECK(encode_client_preamble("net.tcp://h/", WS_CHANNEL_TYPE_DUPLEX_SESSION, e, v, out, why) == WS_E_NOT_SUPPORTED);
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("content_types_match_by_media_type_and_charset") {
  wire_encoding utf8 = wire_encoding_for(WS_ENCODING_XML_UTF8, WS_ENVELOPE_VERSION_SOAP_1_2);
  CHECK(content_type_fits(utf8, "application/soap+xml; charset=utf-8"));
  CHECK(content_type_fits(utf8, "application/soap+xml;charset=\"UTF-8\""));
  CHECK(content_type_fits(utf8, "application/soap+xml"));  // XML without a charset is UTF-8
  CHECK_FALSE(content_type_fits(utf8, "application/soap+xml; charset=utf-16"));
  CHECK_FALSE(content_type_fits(utf8, "text/xml; charset=utf-8"));
  wire_encoding utf16 = wire_encoding_for(WS_ENCODING_XML_UTF16LE, WS_ENVELOPE_VERSION_SOAP_1_1);
  for (const char* name : {"utf-16", "utf16", "UTF-16LE", "utf-16be", "unicodeFFFE"})
    CHECK(content_type_fits(utf16, std::string("text/xml; charset=") + name));
  CHECK_FALSE(content_type_fits(utf16, "text/xml"));
  CHECK_FALSE(content_type_fits(utf16, "text/xml; charset=utf-8"));
  wire_encoding mtom = wire_encoding_for(WS_ENCODING_XML_MTOM_UTF8, WS_ENVELOPE_VERSION_SOAP_1_2);
  CHECK(content_type_fits(mtom, "multipart/related; type=\"application/xop+xml\"; boundary=x"));
  CHECK_FALSE(content_type_fits(mtom, "multipart/mixed"));
}

TEST_CASE("client_preamble_encoder_writes_long_vias_and_refuses_what_net_tcp_cannot_say") {
  std::string via = "net.tcp://h/" + std::string(200, 'p');
  bytes_t out;
  std::string why;
  REQUIRE(encode_client_preamble(via, WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_ENCODING_XML_BINARY_SESSION_1,
                                 WS_ENVELOPE_VERSION_SOAP_1_2, out, why) == S_OK);
  CHECK(out[5] == 0x02);
  CHECK(std::size_t{out[6]} == (0x80 | (via.size() & 0x7F)));  // 212: two length bytes
  CHECK(std::size_t{out[7]} == (via.size() >> 7));
  CHECK(out.size() == 3 + 2 + 1 + 2 + via.size() + 2 + 1);
  // MTOM with SOAP 1.1 has no known byte: an Extensible Encoding record.
  out.clear();
  REQUIRE(encode_client_preamble("net.tcp://h/", WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_ENCODING_XML_MTOM_UTF8,
                                 WS_ENVELOPE_VERSION_SOAP_1_1, out, why) == S_OK);
  std::string content_type = "multipart/related; type=\"application/xop+xml\"";
  bytes_t tail = {0x04, static_cast<std::uint8_t>(content_type.size())};
  tail.insert(tail.end(), content_type.begin(), content_type.end());
  tail.push_back(0x0C);
  CHECK(bytes_t(out.end() - static_cast<std::ptrdiff_t>(tail.size()), out.end()) == tail);
  for (WS_CHANNEL_TYPE t : {WS_CHANNEL_TYPE_DUPLEX, WS_CHANNEL_TYPE_REQUEST, WS_CHANNEL_TYPE_INPUT}) {
    out.clear();
    CHECK(encode_client_preamble("net.tcp://h/", t, WS_ENCODING_XML_BINARY_SESSION_1, WS_ENVELOPE_VERSION_SOAP_1_2,
                                 out, why) == WS_E_NOT_SUPPORTED);
    CHECK(out.empty());
  }
}

// --- The client's reading of the answer ----------------------------------------------------

TEST_CASE("answer_fault_records_give_the_endpoint_results_with_the_fault_string") {
  for (framing_fault f : {framing_fault::endpoint_not_found, framing_fault::server_too_busy,
                          framing_fault::endpoint_access_denied, framing_fault::endpoint_unavailable,
                          framing_fault::endpoint_paused, framing_fault::service_activation_failed,
                          framing_fault::upgrade_invalid, framing_fault::content_type_invalid,
                          framing_fault::unsupported_version, framing_fault::via_too_long}) {
    CAPTURE(fault_name(f));
    auto record_bytes = fault_record(f);
    bytes_t stream(record_bytes.begin(), record_bytes.end());
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
      answer_parser a;
      std::size_t at = 0;
      feed_result r{step::need_more, 0};
      while (at < stream.size() && r.status == step::need_more) {
        std::size_t n = chunk == 0 ? stream.size() : std::min(chunk, stream.size() - at);
        r = a.feed(std::span<const std::uint8_t>(stream.data() + at, n));
        at += r.consumed;
      }
      CHECK(r.status == step::failed);
      CHECK(at == stream.size());
      CHECK(a.fault() == f);
      CHECK(a.result() == fault_hresult(f));
      CHECK(a.fault_string() == fault_uri(f));
      CHECK(std::string(a.reason()).find(fault_uri(f)) != std::string::npos);
    }
  }
  std::string other = "urn:example:custom-fault";
  bytes_t stream = {0x08, static_cast<std::uint8_t>(other.size())};
  stream.insert(stream.end(), other.begin(), other.end());
  answer_parser a;
  a.feed(stream);
  CHECK(a.fault() == framing_fault::unknown);
  CHECK(a.result() == WS_E_ENDPOINT_FAILURE);
  CHECK(a.fault_string() == other);
}

TEST_CASE("answer_other_than_ack_or_fault_is_invalid_format") {
  for (bytes_t bad : {bytes_t{0x0A}, bytes_t{'H', 'T', 'T', 'P'}, bytes_t{0x06, 0x01, 0x00}, bytes_t{0x00},
                      bytes_t{0x08, 0x00}, bytes_t{0x08, 0x81, 0x02},  // empty, then 257 bytes
                      bytes_t{0x08, 0x80, 0x80, 0x80, 0x80, 0x80}}) {
    CAPTURE(bad.size());
    answer_parser a;
    feed_result r = a.feed(bad);
    CHECK(r.status == step::failed);
    CHECK(a.result() == WS_E_INVALID_FORMAT);
    CHECK(a.fault() == framing_fault::none);
    CHECK(a.fault_string().empty());
    CHECK_FALSE(a.reason().empty());
  }
  answer_parser http;
  http.feed(bytes_t{'H'});
  CHECK(std::string(http.reason()).find("HTTP") != std::string::npos);
  answer_parser waiting;
  CHECK(waiting.feed(bytes_t{0x08, 0x10, 'h', 't'}).status == step::need_more);
  waiting.reset();
  CHECK(waiting.feed(bytes_t{0x0B, 0x06}).consumed == 1);
}

// --- Via matching --------------------------------------------------------------------------

TEST_CASE("via_matching_host_flags_on_a_wildcard_listener") {
  parsed_url plus = listener_url(u"net.tcp://+:808/svc");
  parsed_url star = listener_url(u"net.tcp://*:808/svc");
  parsed_url any4 = listener_url(u"net.tcp://0.0.0.0:808/svc");
  struct row {
    const char* host;
    ULONG flag;
  };
  const row rows[] = {
      {"testbox", WS_MATCH_URL_DNS_HOST},          {"TESTBOX", WS_MATCH_URL_DNS_HOST},
      {"testbox.example.org", WS_MATCH_URL_DNS_FULLY_QUALIFIED_HOST},
      {"TESTBOX", WS_MATCH_URL_NETBIOS_HOST},      {"localhost", WS_MATCH_URL_LOCAL_HOST},
      {"192.0.2.10", WS_MATCH_URL_HOST_ADDRESSES}, {"[2001:db8::10]", WS_MATCH_URL_HOST_ADDRESSES},
      {"[2001:DB8:0::10]", WS_MATCH_URL_HOST_ADDRESSES}, {"[::ffff:192.0.2.10]", WS_MATCH_URL_HOST_ADDRESSES},
      {"127.0.0.1", WS_MATCH_URL_HOST_ADDRESSES},  {"127.0.0.2", WS_MATCH_URL_HOST_ADDRESSES},
      {"[::1]", WS_MATCH_URL_HOST_ADDRESSES},
  };
  const ULONG host_flags[] = {WS_MATCH_URL_DNS_HOST, WS_MATCH_URL_DNS_FULLY_QUALIFIED_HOST, WS_MATCH_URL_NETBIOS_HOST,
                              WS_MATCH_URL_LOCAL_HOST, WS_MATCH_URL_HOST_ADDRESSES};
  for (const parsed_url* listener : {&plus, &star, &any4}) {
    for (const row& r : rows) {
      std::string via = std::string("net.tcp://") + r.host + ":808/svc";
      CAPTURE(via);
      for (ULONG flag : host_flags) {
        CAPTURE(flag);
        std::string why;
        bool ok = via_matches(*listener, via, flag, the_host, why);
        // "testbox" in any case is both the DNS host name and the NetBIOS name.
        std::string lower = r.host;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
        bool expected = lower == "testbox" ? flag == WS_MATCH_URL_DNS_HOST || flag == WS_MATCH_URL_NETBIOS_HOST
                                           : flag == r.flag;
        CHECK(ok == expected);
        CHECK(why.empty() == ok);
      }
      std::string why;
      CHECK(via_matches(*listener, via, WS_MATCH_URL_THIS_HOST, the_host, why));
    }
    std::string why;
    for (const char* stranger : {"net.tcp://elsewhere:808/svc", "net.tcp://192.0.2.99:808/svc",
                                 "net.tcp://testbox.other.org:808/svc", "net.tcp://[2001:db8::11]:808/svc"})
      CHECK_FALSE(via_matches(*listener, stranger, WS_MATCH_URL_THIS_HOST, the_host, why));
    CHECK(via_matches(*listener, "net.tcp://elsewhere:808/svc", WS_MATCH_URL_PORT, the_host, why));  // no host flag
  }
}

TEST_CASE("via_matching_a_listener_opened_on_a_name_or_an_address_compares_that") {
  std::string why;
  parsed_url named = listener_url(u"net.tcp://Service.Example:808/svc");
  CHECK(via_matches(named, "net.tcp://service.example:808/svc", 0x17F, the_host, why));
  CHECK_FALSE(via_matches(named, "net.tcp://testbox:808/svc", 0x17F, the_host, why));
  CHECK_FALSE(via_matches(named, "net.tcp://127.0.0.1:808/svc", 0x17F, the_host, why));
  parsed_url v4 = listener_url(u"net.tcp://192.0.2.10:808/svc");
  CHECK(via_matches(v4, "net.tcp://192.0.2.10:808/svc", 0x17F, the_host, why));
  CHECK(via_matches(v4, "net.tcp://[::ffff:192.0.2.10]:808/svc", 0x17F, the_host, why));
  CHECK_FALSE(via_matches(v4, "net.tcp://testbox:808/svc", 0x17F, the_host, why));
  CHECK_FALSE(via_matches(v4, "net.tcp://127.0.0.1:808/svc", 0x17F, the_host, why));
  parsed_url v6 = listener_url(u"net.tcp://[2001:db8::10]:808/svc");
  CHECK(via_matches(v6, "net.tcp://[2001:db8:0:0::10]:808/svc", 0x17F, the_host, why));
  CHECK_FALSE(via_matches(v6, "net.tcp://192.0.2.10:808/svc", 0x17F, the_host, why));
  // Without host flags the host is not looked at.
  CHECK(via_matches(named, "net.tcp://anything:808/svc", 0x17F & ~ULONG{WS_MATCH_URL_THIS_HOST}, the_host, why));
}

TEST_CASE("via_matching_port_path_and_query_each_follow_their_flag") {
  parsed_url l = listener_url(u"net.tcp://+:808/Echo/Svc");
  std::string why;
  auto m = [&](const char* via, ULONG flags) { return via_matches(l, via, flags, the_host, why); };
  // Port: the Via's default is 808.
  CHECK(m("net.tcp://testbox/Echo/Svc", WS_MATCH_URL_PORT));
  CHECK_FALSE(m("net.tcp://testbox:809/Echo/Svc", WS_MATCH_URL_PORT));
  CHECK(m("net.tcp://testbox:809/Echo/Svc", WS_MATCH_URL_EXACT_PATH));
  // Exact path: case, escapes, dot segments and one trailing slash aside.
  for (const char* same : {"net.tcp://testbox:808/Echo/Svc", "net.tcp://testbox:808/echo/svc",
                           "net.tcp://testbox:808/Echo/Svc/", "net.tcp://testbox:808/Echo/%53vc",
                           "net.tcp://testbox:808/Echo/x/../Svc"})
    CHECK_MESSAGE(m(same, WS_MATCH_URL_EXACT_PATH), same);
  for (const char* other : {"net.tcp://testbox:808/Echo", "net.tcp://testbox:808/Echo/Svc/more",
                            "net.tcp://testbox:808/Echo/Svcs", "net.tcp://testbox:808/"})
    CHECK_FALSE_MESSAGE(m(other, WS_MATCH_URL_EXACT_PATH), other);
  // Prefix path: whole leading segments.
  for (const char* under : {"net.tcp://testbox:808/Echo/Svc", "net.tcp://testbox:808/Echo/Svc/more",
                            "net.tcp://testbox:808/ECHO/svc/a/b"})
    CHECK_MESSAGE(m(under, WS_MATCH_URL_PREFIX_PATH), under);
  for (const char* outside : {"net.tcp://testbox:808/Echo/Svcs", "net.tcp://testbox:808/Echo", "net.tcp://testbox:808/"})
    CHECK_FALSE_MESSAGE(m(outside, WS_MATCH_URL_PREFIX_PATH), outside);
  CHECK(m("net.tcp://testbox:808/Echo/Svc/more", WS_MATCH_URL_EXACT_PATH | WS_MATCH_URL_PREFIX_PATH));
  parsed_url root = listener_url(u"net.tcp://+:808/");
  CHECK(via_matches(root, "net.tcp://testbox:808", WS_MATCH_URL_EXACT_PATH, the_host, why));
  CHECK(via_matches(root, "net.tcp://testbox:808/anything", WS_MATCH_URL_PREFIX_PATH, the_host, why));
  CHECK_FALSE(via_matches(root, "net.tcp://testbox:808/anything", WS_MATCH_URL_EXACT_PATH, the_host, why));
  // Query.
  CHECK_FALSE(m("net.tcp://testbox:808/Echo/Svc?a=b", WS_MATCH_URL_NO_QUERY));
  CHECK_FALSE(m("net.tcp://testbox:808/Echo/Svc?", WS_MATCH_URL_NO_QUERY));
  CHECK(m("net.tcp://testbox:808/Echo/Svc?a=b", WS_MATCH_URL_EXACT_PATH));
  CHECK(m("net.tcp://testbox:808/Echo/Svc#frag", 0x17F));
  // The default 0x17F: this host, port, exact path, no query.
  CHECK(m("net.tcp://localhost:808/Echo/Svc", 0x17F));
  CHECK(m("net.tcp://127.0.0.1/Echo/Svc", 0x17F));
}

TEST_CASE("via_matching_with_no_flags_takes_anything_and_otherwise_needs_a_url_of_the_scheme") {
  parsed_url l = listener_url(u"net.tcp://+:808/svc");
  std::string why;
  CHECK(via_matches(l, "", 0, the_host, why));
  CHECK(via_matches(l, "garbage", 0, the_host, why));
  for (const char* bad : {"", "garbage", "http://testbox:808/svc", "net.tcp://+:808/svc", "net.tcp://[zz]:808/svc",
                          "net.tcp://testbox:99999/svc"}) {
    why.clear();
    CHECK_FALSE_MESSAGE(via_matches(l, bad, WS_MATCH_URL_PORT, the_host, why), bad);
    CHECK_FALSE(why.empty());
  }
  CHECK(via_matches(l, "NET.TCP://testbox:808/svc", 0x17F, the_host, why));
  CHECK(via_matches(l, "garbage", 0x200, the_host, why));  // no WS_MATCH_URL_* bit: nothing to check
}

TEST_CASE("this_host_knows_a_name_and_the_loopback_address") {
  const host_identity& self = this_host();
  CHECK(&self == &this_host());  // read once
  CHECK_FALSE(self.dns_host.empty());
  CHECK(self.dns_host.find('.') == std::string::npos);
  CHECK(self.netbios.size() <= 15);
  CHECK(std::find(self.addresses.begin(), self.addresses.end(), *parse_ip("127.0.0.1")) != self.addresses.end());
  parsed_url l = listener_url(u"net.tcp://+:808/svc");
  std::string why;
  CHECK(via_matches(l, "net.tcp://" + self.dns_host + ":808/svc", 0x17F, why));
  CHECK(via_matches(l, "net.tcp://localhost:808/svc", 0x17F, why));
}

TEST_CASE("ip_addresses_parse_strictly") {
  CHECK(parse_ip("127.0.0.1").has_value());
  CHECK(parse_ip("fe80::1%2").has_value());
  CHECK(*parse_ip("::ffff:10.0.0.1") == *parse_ip("10.0.0.1"));
  CHECK(parse_ip("::ffff:10.0.0.1")->family == AF_INET);
  CHECK(parse_ip("0.0.0.0")->is_unspecified());
  CHECK(parse_ip("::")->is_unspecified());
  CHECK(parse_ip("127.9.9.9")->is_loopback());
  CHECK(parse_ip("::1")->is_loopback());
  for (const char* bad : {"", "127.1", "localhost", "1.2.3.4.5", "::g", "[::1]", "256.0.0.1"})
    CHECK_FALSE_MESSAGE(parse_ip(bad).has_value(), bad);
}

}  // TEST_SUITE
