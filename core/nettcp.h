// SPDX-License-Identifier: MIT
// .NET Message Framing ([MC-NMF], bound to TCP by [MS-NMFTB]) as net.tcp channels speak
// it: record types, limits, fault records, the wire encodings a WS_ENCODING stands for,
// the client preamble, and the client's reading of the server's answer. No I/O here:
// callers feed the bytes they read and write the bytes these functions produce. The
// server's preamble parser is in nettcp_preamble.h, Via matching in nettcp_via.h.
#pragma once

#include <webservices.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace openwws::core::nettcp {

// Record types ([MC-NMF] 2.2.3); every record starts with one of these bytes.
enum class record : std::uint8_t {
  version = 0x00,
  mode = 0x01,
  via = 0x02,
  known_encoding = 0x03,
  extensible_encoding = 0x04,
  unsized_envelope = 0x05,
  sized_envelope = 0x06,
  end = 0x07,
  fault = 0x08,
  upgrade_request = 0x09,
  upgrade_response = 0x0A,
  preamble_ack = 0x0B,
  preamble_end = 0x0C,
};

// "Version", "Mode", ... for messages; "an unknown record type" past 0x0C.
std::string_view record_name(std::uint8_t type) noexcept;
// "0x0B", for messages.
std::string hex_byte(std::uint8_t b);

// Mode record values ([MC-NMF] 2.2.3.2).
constexpr std::uint8_t mode_singleton_unsized = 0x01;
constexpr std::uint8_t mode_duplex = 0x02;
constexpr std::uint8_t mode_simplex = 0x03;
constexpr std::uint8_t mode_singleton_sized = 0x04;

// The mode a channel type needs: duplex for WS_CHANNEL_TYPE_DUPLEX_SESSION, the only
// type WWSAPI offers on TCP; 0 for every other type (no mode fits).
std::uint8_t mode_for(WS_CHANNEL_TYPE type) noexcept;

// Limits on what a peer may make us hold. [MC-NMF] 3.1.4.5/3.1.4.6 say a receiver SHOULD
// use a MaxViaSize and a MaxContentTypeSize; these are WCF's defaults (MaxViaSize 2048,
// MaxContentTypeSize 256, FaultStringDecoder.FaultSizeQuota 256). The upgrade protocol
// name shares the content-type limit, as in WCF.
constexpr std::size_t max_via_length = 2048;
constexpr std::size_t max_content_type_length = 256;
constexpr std::size_t max_upgrade_protocol_length = 256;
constexpr std::size_t max_fault_length = 256;
// A record length takes 1 to 5 bytes ([MC-NMF] 2.2.2).
constexpr std::size_t max_varint_bytes = 5;

// Fault records ([MC-NMF] 2.2.5). The first group is what openwws's listener sends; the
// second only comes from other servers. via_too_long and content_type_too_long are WCF's
// names for the two size limits above.
enum class framing_fault : std::uint8_t {
  none,
  unsupported_version,
  unsupported_mode,
  content_type_invalid,
  content_type_too_long,
  via_too_long,
  endpoint_not_found,
  upgrade_invalid,
  endpoint_access_denied,
  endpoint_paused,
  endpoint_unavailable,
  server_too_busy,
  connection_dispatch_failed,
  service_activation_failed,
  max_message_size_exceeded,
  unknown,  // a fault string outside the list above
};

constexpr std::string_view fault_namespace = "http://schemas.microsoft.com/ws/2006/05/framing/faults/";

// "EndpointNotFound"; empty for none and unknown.
std::string_view fault_name(framing_fault f) noexcept;
// The whole fault string, namespace included; empty for none and unknown.
std::string fault_uri(framing_fault f);
// The fault a received string names (exact comparison, as WCF does); unknown otherwise.
framing_fault fault_from_uri(std::string_view uri) noexcept;
// What a client reports for a fault, in the terms of the WWSAPI return values page:
// EndpointNotFound -> WS_E_ENDPOINT_NOT_FOUND, EndpointAccessDenied ->
// WS_E_ENDPOINT_ACCESS_DENIED, EndpointUnavailable/EndpointPaused/ServiceActivationFailed
// -> WS_E_ENDPOINT_NOT_AVAILABLE, ServerTooBusy -> WS_E_ENDPOINT_TOO_BUSY, every other
// fault (unknown ones too) -> WS_E_ENDPOINT_FAILURE; S_OK for none.
HRESULT fault_hresult(framing_fault f) noexcept;

// The bytes to send: a Fault record (0x08, length, fault string), static and never
// empty except for none and unknown; Preamble Ack (0x0B); End (0x07).
std::span<const std::uint8_t> fault_record(framing_fault f) noexcept;
std::span<const std::uint8_t> preamble_ack_record() noexcept;
std::span<const std::uint8_t> end_record() noexcept;

// A record length ([MC-NMF] 2.2.2): 7 bits per byte, least significant first. Writes 1
// to 5 bytes to out and returns how many. Values above 2^31 - 1 are not representable
// in .NET's reader, so callers keep below that.
std::size_t encode_varint(std::uint32_t value, std::uint8_t (&out)[max_varint_bytes]) noexcept;

// Reads a record length one byte at a time, bounded: it reports over_limit as soon as
// the value passes the limit (so no overlong length is read to its end), and malformed
// when a sixth byte would be needed.
class varint_reader {
 public:
  enum class result : std::uint8_t { more, value, malformed, over_limit };
  result take(std::uint8_t byte, std::uint32_t limit) noexcept;
  std::uint32_t value() const noexcept { return static_cast<std::uint32_t>(value_); }
  void reset() noexcept { value_ = 0, bytes_ = 0; }

 private:
  std::uint64_t value_ = 0;
  std::uint8_t bytes_ = 0;
};

// What a channel's WS_ENCODING and WS_ENVELOPE_VERSION are called on the wire: a Known
// Encoding byte ([MC-NMF] 2.2.3.4.1) when one exists, else only an Extensible Encoding
// content type. supported is false where net.tcp has no name for the pair (RAW, envelope
// NONE, binary with SOAP 1.1: [MC-NMF] lists binary under SOAP 1.2 only).
enum class text_charset : std::uint8_t { none, utf8, utf16 };
struct wire_encoding {
  bool supported = false;
  int known = -1;              // Known Encoding byte, or -1 when there is none
  int known_alternative = -1;  // the other UTF-16 byte for UTF-16 text, or -1
  std::string_view content_type;  // what a client sends when known < 0
  std::string_view media_type;    // type/subtype an Extensible Encoding must name
  text_charset charset = text_charset::none;
};
wire_encoding wire_encoding_for(WS_ENCODING encoding, WS_ENVELOPE_VERSION envelope) noexcept;

// Whether a client's Known Encoding byte or Extensible Encoding content type fits.
bool known_encoding_fits(const wire_encoding& expected, std::uint8_t known) noexcept;
bool content_type_fits(const wire_encoding& expected, std::string_view content_type) noexcept;
// "SOAP 1.2 binary with in-band dictionary (0x08)"; "reserved (0x0A)" past 0x08.
std::string describe_known_encoding(std::uint8_t known);
// "WS_ENCODING_XML_BINARY_SESSION_1 with SOAP 1.2" for messages.
std::string describe_channel_encoding(WS_ENCODING encoding, WS_ENVELOPE_VERSION envelope);

// Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool is_utf8(std::string_view bytes) noexcept;
// bytes for a message: printable ASCII kept, other bytes below 0x80 as \xNN, at most
// max_chars characters, then "...".
std::string printable(std::string_view bytes, std::size_t max_chars = 200);

// The preamble WsOpenChannel sends right after connecting: Version 1.0, Mode, Via (the
// endpoint URL as UTF-8, as given), the encoding, Preamble End. Byte-for-byte what the
// Windows-compatible clients in the captured vectors send. S_OK; WS_E_NOT_SUPPORTED
// (with why) when net.tcp has no mode or encoding for the channel; E_INVALIDARG for a
// Via of 2^31 bytes or more. Appends to out.
HRESULT encode_client_preamble(std::string_view via_utf8, WS_CHANNEL_TYPE type, WS_ENCODING encoding,
                               WS_ENVELOPE_VERSION envelope, std::vector<std::uint8_t>& out, std::string& why);
HRESULT encode_client_preamble(std::u16string_view via, WS_CHANNEL_TYPE type, WS_ENCODING encoding,
                               WS_ENVELOPE_VERSION envelope, std::vector<std::uint8_t>& out, std::string& why);

// How far a parser got with the bytes it was fed.
enum class step : std::uint8_t {
  need_more,  // every byte fed was consumed; feed more
  done,       // complete: the bytes after `consumed` belong to the channel
  failed,     // the peer broke the protocol; see the parser for which fault and why
};
struct feed_result {
  step status;
  std::size_t consumed;  // bytes of this call's input the parser took (<= its size)
};

// The client's reading of the server's answer to its preamble: Preamble Ack (done), or
// a Fault record (failed, with the fault's WS_E_ENDPOINT_* result), or anything else
// (failed, WS_E_INVALID_FORMAT). Fed any split of the bytes; holds at most
// max_fault_length bytes. After done or failed, feed consumes nothing. One parser per
// connection, used by one thread at a time.
class answer_parser {
 public:
  feed_result feed(std::span<const std::uint8_t> bytes) noexcept;
  void reset() noexcept;
  step status() const noexcept { return status_; }
  // S_OK after the ack; the failure's HRESULT; S_OK while more is needed.
  HRESULT result() const noexcept { return result_; }
  framing_fault fault() const noexcept { return fault_; }
  // The fault string as received (bytes, not checked as UTF-8); empty without a fault.
  std::string_view fault_string() const noexcept;
  // For the WS_ERROR: names the fault string or what was wrong. Empty unless failed.
  std::string_view reason() const noexcept;

 private:
  enum class state : std::uint8_t { record_type, fault_length, fault_bytes, finished };
  // Ends the parse as failed; reason_ comes from text(), or is fallback if that throws.
  template <class Text>
  void fail(HRESULT hr, framing_fault f, const char* fallback, Text&& text) noexcept;
  void finish_fault() noexcept;

  state state_ = state::record_type;
  step status_ = step::need_more;
  HRESULT result_ = S_OK;
  framing_fault fault_ = framing_fault::none;
  varint_reader length_;
  std::uint32_t fault_length_ = 0;
  std::uint32_t fault_got_ = 0;
  std::string reason_;
  const char* fallback_reason_ = nullptr;  // used when building reason_ ran out of memory
  char fault_bytes_[max_fault_length];
};

}  // namespace openwws::core::nettcp
