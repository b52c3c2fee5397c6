// SPDX-License-Identifier: MIT
// Fuzzes the net.tcp framing parsers (core/nettcp_preamble.h, core/nettcp.h): the
// listener's reading of a client preamble, and the client's reading of the server's
// answer. Input: byte 0 picks the channel's encoding (bits 0-3, modulo 9), SOAP 1.1
// (bit 4), whether the Via is matched (bit 5) and the listener URL (bits 6-7: a wildcard,
// a name, an IPv4 and an IPv6 address); bytes 1-2 are the WS_MATCH_URL_* flags
// (little-endian, 9 bits); byte 3 seeds the split into pieces; the rest is the stream.
// No sockets, no name resolution: "this host" is a fixed identity.
//
// Invariants: feed never takes more than it was given, takes all of it while it needs
// more, and stops right after Preamble End (0x0C) when done; a failure names a fault the
// listener sends, with a fault record and a reason; done and failed are final. Fed whole,
// in pieces split by the seed (each piece in a heap block of its own, so that ASan sees a
// read past its end) or one byte at a time, the result is the same: status, fault,
// consumed, Via, reason. Memory is bounded: the Via and content type stay within their
// limits, and a whole parse allocates a bounded number of blocks whatever the input's
// length (none per byte). What the listener accepts, encode_client_preamble writes again
// and the listener accepts again. The answer parser obeys the same rules; a Fault gives a
// failing HRESULT with the fault string in the reason.
#include "fuzz/fuzz_common.h"

#include "core/nettcp.h"
#include "core/nettcp_preamble.h"
#include "core/nettcp_via.h"
#include "core/url.h"

#include <sanitizer/allocator_interface.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using namespace openwws::core;
using namespace openwws::core::nettcp;

namespace {

// Counts heap blocks allocated inside feed calls (the hook sees every malloc and new),
// when measuring is on; the harness's own copies of the pieces are not counted.
bool measuring = false;
bool counting = false;
std::size_t allocations = 0;
std::size_t allocated_bytes = 0;
void on_malloc(const volatile void*, std::size_t size) {
  if (!counting) return;
  ++allocations;
  allocated_bytes += size;
}
void on_free(const volatile void*) {}

// A parse allocates only for the Via match (URL parsing, a few strings) and the reason.
constexpr std::size_t max_allocations = 64;
constexpr std::size_t max_allocated_bytes = 64 * 1024;
constexpr std::size_t max_reason_length = 8 * 1024;

struct outcome {
  step status = step::need_more;
  std::size_t consumed = 0;
  framing_fault fault = framing_fault::none;
  std::string via;
  std::string content_type;
  std::string reason;
  bool operator==(const outcome&) const = default;
};

parsed_url url_of(const char16_t* text) {
  parsed_url u;
  std::string why;
  std::u16string s = text;
  if (parse_url(s.data(), static_cast<ULONG>(s.size()), WS_URL_FLAGS_ALLOW_HOST_WILDCARDS, u, why) != S_OK)
    fuzz::violation("listener URL: %s", why.c_str());
  return u;
}

const parsed_url* listener_urls() {
  static const parsed_url urls[4] = {url_of(u"net.tcp://+:26001/echo"), url_of(u"net.tcp://fuzzbox:808/a/b"),
                                     url_of(u"net.tcp://127.0.0.1:26001/"), url_of(u"net.tcp://[::1]:9/x")};
  return urls;
}

const host_identity& fuzz_host() {
  static const host_identity h = [] {
    host_identity id;
    id.dns_host = "fuzzbox";
    id.fully_qualified = "fuzzbox.example.org";
    id.netbios = "FUZZBOX";
    id.addresses = {*parse_ip("192.0.2.1"), *parse_ip("2001:db8::1"), *parse_ip("127.0.0.1")};
    return id;
  }();
  return h;
}

// The faults the listener may send (the others only come from other servers).
bool listener_fault(framing_fault f) {
  switch (f) {
    case framing_fault::unsupported_version:
    case framing_fault::unsupported_mode:
    case framing_fault::content_type_invalid:
    case framing_fault::content_type_too_long:
    case framing_fault::via_too_long:
    case framing_fault::endpoint_not_found:
    case framing_fault::upgrade_invalid:
    case framing_fault::server_too_busy:
      return true;
    default:
      return false;
  }
}

// Checks one feed call's result against its input and the parser's state.
template <class Parser>
void check_step(const Parser& p, const feed_result& r, std::size_t n, bool was_final) {
  FUZZ_CHECK(r.consumed <= n, "consumed %zu of %zu", r.consumed, n);
  FUZZ_CHECK(r.status == p.status(), "feed returned another status than the parser's");
  if (was_final) FUZZ_CHECK(r.consumed == 0, "consumed %zu after done or failed", r.consumed);
  if (r.status == step::need_more) FUZZ_CHECK(r.consumed == n, "need_more after %zu of %zu bytes", r.consumed, n);
}

outcome result_of(const preamble_parser& p, std::size_t consumed) {
  return {p.status(), consumed, p.fault(), std::string(p.via()), std::string(p.content_type()),
          std::string(p.reason())};
}

// Feeds data in pieces whose sizes come from next_size(), each copied to a block of its own.
template <class NextSize>
outcome feed_pieces(preamble_parser& p, const std::uint8_t* data, std::size_t size, NextSize next_size) {
  std::size_t at = 0, consumed = 0;
  while (at < size) {
    std::size_t n = std::min(size - at, std::max<std::size_t>(1, next_size()));
    std::unique_ptr<std::uint8_t[]> piece(new std::uint8_t[n]);
    std::memcpy(piece.get(), data + at, n);
    bool was_final = p.status() != step::need_more;
    counting = measuring;
    feed_result r = p.feed(std::span<const std::uint8_t>(piece.get(), n));
    counting = false;
    check_step(p, r, n, was_final);
    if (r.status == step::done && !was_final)
      FUZZ_CHECK(r.consumed > 0 && piece[r.consumed - 1] == 0x0C, "done without ending at a Preamble End");
    consumed += r.consumed;
    at += n;
  }
  FUZZ_CHECK(p.consumed() == consumed, "consumed() %zu, calls %zu", p.consumed(), consumed);
  return result_of(p, consumed);
}

void check_outcome(const outcome& o, const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(o.consumed <= size, "consumed %zu of %zu", o.consumed, size);
  FUZZ_CHECK(o.via.size() <= max_via_length, "Via of %zu bytes", o.via.size());
  FUZZ_CHECK(o.content_type.size() <= max_content_type_length, "content type of %zu bytes", o.content_type.size());
  FUZZ_CHECK(o.reason.size() <= max_reason_length, "reason of %zu bytes", o.reason.size());
  switch (o.status) {
    case step::need_more:
      FUZZ_CHECK(o.consumed == size && o.fault == framing_fault::none && o.reason.empty(), "need_more");
      break;
    case step::done:
      // Version (3), Mode (2), Via (2 or more), an encoding (2 or more), Preamble End (1).
      FUZZ_CHECK(o.consumed >= 10 && data[o.consumed - 1] == 0x0C, "done at %zu", o.consumed);
      FUZZ_CHECK(o.fault == framing_fault::none && o.reason.empty(), "done with a fault");
      break;
    case step::failed:
      FUZZ_CHECK(listener_fault(o.fault), "fault %d is not one the listener sends", static_cast<int>(o.fault));
      FUZZ_CHECK(!fault_record(o.fault).empty(), "no fault record for fault %d", static_cast<int>(o.fault));
      FUZZ_CHECK(!o.reason.empty(), "failed without a reason");
      FUZZ_CHECK(o.consumed >= 1, "failed before any byte");
      break;
  }
}

void fuzz_answer(const std::uint8_t* data, std::size_t size) {
  answer_parser whole;
  feed_result w = whole.feed(std::span<const std::uint8_t>(data, size));
  check_step(whole, w, size, false);
  answer_parser bytewise;
  std::size_t consumed = 0;
  for (std::size_t i = 0; i < size; ++i) {
    std::unique_ptr<std::uint8_t[]> b(new std::uint8_t[1]{data[i]});
    bool was_final = bytewise.status() != step::need_more;
    feed_result r = bytewise.feed(std::span<const std::uint8_t>(b.get(), 1));
    check_step(bytewise, r, 1, was_final);
    consumed += r.consumed;
  }
  FUZZ_CHECK(consumed == w.consumed && bytewise.status() == whole.status() && bytewise.result() == whole.result() &&
                 bytewise.fault() == whole.fault() && bytewise.fault_string() == whole.fault_string() &&
                 bytewise.reason() == whole.reason(),
             "the answer parser read one byte at a time differently");
  switch (whole.status()) {
    case step::done:
      FUZZ_CHECK(w.consumed == 1 && data[0] == 0x0B && whole.result() == S_OK, "ack");
      break;
    case step::failed:
      FUZZ_CHECK(FAILED(whole.result()) && !whole.reason().empty(), "failed without an error");
      FUZZ_CHECK(whole.fault_string().size() <= max_fault_length, "fault string of %zu bytes",
                 whole.fault_string().size());
      if (whole.fault() != framing_fault::none)
        FUZZ_CHECK(data[0] == 0x08 && whole.result() == fault_hresult(whole.fault()), "fault result");
      else
        FUZZ_CHECK(whole.result() == WS_E_INVALID_FORMAT, "invalid answer result 0x%08X",
                   static_cast<unsigned>(whole.result()));
      break;
    case step::need_more:
      FUZZ_CHECK(w.consumed == size && whole.result() == S_OK, "need_more");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool hooked = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
  (void)hooked;
  fuzz::reader in(data, size);
  const std::uint8_t config = in.u8();
  const std::uint16_t flags = in.u16();
  const std::uint8_t seed = in.u8();
  const std::uint8_t* stream = data + std::min<std::size_t>(size, 4);
  const std::size_t length = size - std::min<std::size_t>(size, 4);

  preamble_policy policy;
  policy.encoding = static_cast<WS_ENCODING>((config & 0x0F) % 9);
  policy.envelope_version = (config & 0x10) ? WS_ENVELOPE_VERSION_SOAP_1_1 : WS_ENVELOPE_VERSION_SOAP_1_2;
  policy.listener_url = (config & 0x20) ? &listener_urls()[config >> 6] : nullptr;
  policy.url_matching = flags & 0x1FF;
  policy.host = &fuzz_host();

  // Whole, counting what the parse allocates.
  preamble_parser whole(policy);
  allocations = allocated_bytes = 0;
  measuring = true;
  outcome w = feed_pieces(whole, stream, length, [&] { return length; });
  measuring = false;
  check_outcome(w, stream, length);
  FUZZ_CHECK(allocations <= max_allocations && allocated_bytes <= max_allocated_bytes,
             "one parse allocated %zu blocks, %zu bytes", allocations, allocated_bytes);

  // In pieces of 1 to 16 bytes from the seed, then one byte at a time, counting again:
  // allocations must not grow with the number of calls.
  std::uint32_t state = seed * 2654435761u + 1;
  preamble_parser pieces(policy);
  outcome p = feed_pieces(pieces, stream, length, [&] {
    state = state * 1103515245u + 12345u;
    return static_cast<std::size_t>((state >> 16) % 16 + 1);
  });
  FUZZ_CHECK(p == w, "split by seed %u: status %d/%d, consumed %zu/%zu, fault %d/%d", seed,
             static_cast<int>(p.status), static_cast<int>(w.status), p.consumed, w.consumed,
             static_cast<int>(p.fault), static_cast<int>(w.fault));
  preamble_parser bytewise(policy);
  allocations = allocated_bytes = 0;
  measuring = true;
  outcome b = feed_pieces(bytewise, stream, length, [] { return std::size_t{1}; });
  measuring = false;
  FUZZ_CHECK(b == w, "one byte at a time: status %d/%d, consumed %zu/%zu", static_cast<int>(b.status),
             static_cast<int>(w.status), b.consumed, w.consumed);
  FUZZ_CHECK(allocations <= max_allocations, "fed byte by byte, one parse allocated %zu blocks", allocations);

  // reset() gives a fresh parse.
  whole.reset();
  outcome again = feed_pieces(whole, stream, length, [&] { return length; });
  FUZZ_CHECK(again == w, "a reset parser read the input differently");

  // What was accepted, the client encoder writes again, and it is accepted again.
  if (w.status == step::done) {
    std::vector<std::uint8_t> encoded;
    std::string why;
    HRESULT hr = encode_client_preamble(w.via, policy.channel_type, policy.encoding, policy.envelope_version,
                                        encoded, why);
    FUZZ_CHECK(hr == S_OK, "encode_client_preamble refused an accepted preamble: %s", why.c_str());
    preamble_parser reread(policy);
    feed_result r = reread.feed(encoded);
    FUZZ_CHECK(r.status == step::done && r.consumed == encoded.size() && reread.via() == w.via,
               "the re-encoded preamble was not accepted: %.*s", static_cast<int>(reread.reason().size()),
               reread.reason().data());
  }

  fuzz_answer(stream, length);
  return 0;
}
