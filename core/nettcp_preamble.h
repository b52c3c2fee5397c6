// SPDX-License-Identifier: MIT
// The listener's reading of a net.tcp client's preamble ([MC-NMF] 2.2.6, 3.1.4): Version,
// Mode, Via, Known or Extensible Encoding, optional Upgrade Requests, Preamble End.
#pragma once

#include "core/nettcp.h"
#include "core/nettcp_via.h"
#include "core/url.h"

#include <webservices.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace openwws::core::nettcp {

// What the listener and its channel accept. The pointers must outlive the parser.
struct preamble_policy {
  WS_CHANNEL_TYPE channel_type = WS_CHANNEL_TYPE_DUPLEX_SESSION;  // the mode must be its mode_for
  WS_ENCODING encoding = WS_ENCODING_XML_BINARY_SESSION_1;        // WS_CHANNEL_PROPERTY_ENCODING
  WS_ENVELOPE_VERSION envelope_version = WS_ENVELOPE_VERSION_SOAP_1_2;
  const parsed_url* listener_url = nullptr;  // the Via must match it; nullptr takes any Via
  ULONG url_matching = 0x17F;  // WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS
  const host_identity* host = nullptr;  // "this host" for matching; nullptr is this_host()
};

// Fed the bytes a client sends, in any split down to one byte per call, it consumes the
// preamble and stops right after Preamble End: the bytes after that (often the first
// message, in the same segment) are not consumed and belong to the channel. It holds at
// most max_via_length + max_content_type_length + max_upgrade_protocol_length bytes of
// the input, never allocates while reading, and allocates only when it finishes or fails
// (Via matching and the reason text); feed never throws. One parser per connection, used
// by one thread at a time (the loop thread that reads the connection).
//
// Faults, by where the client goes wrong:
//   - a Version major other than 1 (any minor is taken): UnsupportedVersion;
//   - a Mode other than the channel type's (duplex for DUPLEX_SESSION): UnsupportedMode;
//   - a Via past max_via_length, or whose length takes more than 5 bytes: ViaTooLong;
//   - a Via that is not UTF-8, holds U+0000, or does not match the listener's URL under
//     url_matching (via_matches): EndpointNotFound;
//   - an encoding that does not fit the channel's (known_encoding_fits,
//     content_type_fits), or an empty content type: ContentTypeInvalid; a content type
//     past max_content_type_length: ContentTypeTooLong;
//   - any Upgrade Request (security upgrades are not supported): UpgradeInvalid;
//   - memory running out while matching the Via: ServerTooBusy.
// A record of the wrong type is a fault too ([MC-NMF] 3.1.4.2 lets the receiver send
// any fault before it closes); openwws sends the fault of the record it expected there,
// so the client learns which part of its preamble was refused: Version expected ->
// UnsupportedVersion (also for a peer that speaks something else, such as HTTP or TLS),
// Mode -> UnsupportedMode, Via -> EndpointNotFound (without a Via no endpoint can be
// found), Known/Extensible Encoding -> ContentTypeInvalid, Upgrade Request or Preamble
// End -> UpgradeInvalid (that is where only upgrades may come).
class preamble_parser {
 public:
  explicit preamble_parser(const preamble_policy& policy = {}) noexcept;
  // Not copied: the text fields point into the parser's own buffers.
  preamble_parser(const preamble_parser&) = delete;
  preamble_parser& operator=(const preamble_parser&) = delete;

  // Consumes from bytes what belongs to the preamble. need_more: all of it was taken.
  // done: the preamble ended at bytes[consumed - 1]. failed: fault() says what to send;
  // consumed counts up to the byte that broke it. After done or failed it consumes
  // nothing and repeats the status.
  feed_result feed(std::span<const std::uint8_t> bytes) noexcept;
  // Back to the start, same policy (the next connection).
  void reset() noexcept;

  step status() const noexcept { return status_; }
  framing_fault fault() const noexcept { return fault_; }
  // Why, for a WS_ERROR or a log; empty unless failed.
  std::string_view reason() const noexcept;
  // Bytes consumed by every feed since the start or reset: the preamble's length once done.
  std::size_t consumed() const noexcept { return consumed_; }

  // What the client sent, once read (the Via as UTF-8 bytes: WS_CHANNEL_PROPERTY_TRANSPORT_URL).
  std::string_view via() const noexcept;
  std::uint8_t major_version() const noexcept { return major_; }
  std::uint8_t minor_version() const noexcept { return minor_; }
  std::uint8_t mode() const noexcept { return mode_; }
  int known_encoding() const noexcept { return known_; }  // -1 unless a Known Encoding was read
  std::string_view content_type() const noexcept;          // empty unless an Extensible Encoding was read

 private:
  enum class state : std::uint8_t {
    version_record,
    version_major,
    version_minor,
    mode_record,
    mode_value,
    via_record,
    via_length,
    via_bytes,
    encoding_record,
    known_encoding_value,
    content_type_length,
    content_type_bytes,
    upgrade_or_end,
    upgrade_length,
    upgrade_bytes,
    finished,
  };
  // A length-prefixed string of the preamble: where it goes and how much has come.
  struct text_field {
    char* data;
    std::uint32_t limit;
    std::uint32_t length = 0;
    std::uint32_t got = 0;
    bool complete = false;
  };

  template <class Text>
  void fail(framing_fault f, const char* fallback, Text&& text) noexcept;
  void unexpected_record(std::uint8_t type, bool first_byte, framing_fault f, const char* expected) noexcept;
  bool take_length(std::uint8_t byte, text_field& field, framing_fault too_long, const char* what) noexcept;
  std::size_t take_text(std::span<const std::uint8_t> bytes, text_field& field) noexcept;
  void via_complete() noexcept;
  void content_type_complete() noexcept;
  void upgrade_complete() noexcept;

  preamble_policy policy_;
  wire_encoding expected_encoding_;
  std::uint8_t expected_mode_;

  state state_ = state::version_record;
  step status_ = step::need_more;
  framing_fault fault_ = framing_fault::none;
  std::size_t consumed_ = 0;
  std::uint8_t major_ = 0;
  std::uint8_t minor_ = 0;
  std::uint8_t mode_ = 0;
  int known_ = -1;
  varint_reader length_;
  std::string reason_;
  const char* fallback_reason_ = nullptr;  // when building reason_ ran out of memory

  char via_bytes_[max_via_length];
  char content_type_bytes_[max_content_type_length];
  char upgrade_bytes_[max_upgrade_protocol_length];
  text_field via_{via_bytes_, max_via_length};
  text_field content_type_{content_type_bytes_, max_content_type_length};
  text_field upgrade_{upgrade_bytes_, max_upgrade_protocol_length};
};

}  // namespace openwws::core::nettcp
