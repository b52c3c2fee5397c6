// SPDX-License-Identifier: MIT
// The server side of the net.tcp preamble: a byte-at-a-time state machine over the
// records of [MC-NMF] 2.2.6, checking each against the listener's policy as it arrives,
// so that a bad preamble is refused at its first wrong byte.
#include "core/nettcp_preamble.h"

#include <algorithm>
#include <cstring>

namespace openwws::core::nettcp {

namespace {

constexpr std::uint8_t type_of(record r) noexcept { return static_cast<std::uint8_t>(r); }

// What a first byte that is no Version record suggests the peer speaks.
const char* foreign_protocol_hint(std::uint8_t first) noexcept {
  if (first >= 'A' && first <= 'Z') return ": not .NET Message Framing (an HTTP request?)";
  if (first == 0x16) return ": not .NET Message Framing (a TLS handshake?)";
  return "";
}

}  // namespace

preamble_parser::preamble_parser(const preamble_policy& policy) noexcept
    : policy_(policy),
      expected_encoding_(wire_encoding_for(policy.encoding, policy.envelope_version)),
      expected_mode_(mode_for(policy.channel_type)) {}

void preamble_parser::reset() noexcept {
  state_ = state::version_record;
  status_ = step::need_more;
  fault_ = framing_fault::none;
  consumed_ = 0;
  major_ = minor_ = mode_ = 0;
  known_ = -1;
  length_.reset();
  reason_.clear();
  fallback_reason_ = nullptr;
  for (text_field* f : {&via_, &content_type_, &upgrade_}) f->length = f->got = 0, f->complete = false;
}

std::string_view preamble_parser::reason() const noexcept {
  if (status_ != step::failed) return {};
  return fallback_reason_ ? std::string_view(fallback_reason_) : std::string_view(reason_);
}

std::string_view preamble_parser::via() const noexcept {
  return via_.complete ? std::string_view(via_.data, via_.length) : std::string_view{};
}

std::string_view preamble_parser::content_type() const noexcept {
  return content_type_.complete ? std::string_view(content_type_.data, content_type_.length) : std::string_view{};
}

template <class Text>
void preamble_parser::fail(framing_fault f, const char* fallback, Text&& text) noexcept {
  state_ = state::finished;
  status_ = step::failed;
  fault_ = f;
  try {
    reason_ = text();
  } catch (...) {  // std::bad_alloc: the fixed text still says what happened
    reason_.clear();
    fallback_reason_ = fallback;
  }
}

void preamble_parser::unexpected_record(std::uint8_t type, bool first_byte, framing_fault f,
                                        const char* expected) noexcept {
  fail(f, "the net.tcp preamble has a record of the wrong type", [&] {
    std::string text = "expected " + std::string(expected) + ", got " + std::string(record_name(type)) + " (" +
                       hex_byte(type) + ")";
    if (first_byte) text += foreign_protocol_hint(type);
    return text;
  });
}

// Reads one byte of a string's length; true once the length is known and within limit.
bool preamble_parser::take_length(std::uint8_t byte, text_field& field, framing_fault too_long,
                                  const char* what) noexcept {
  switch (length_.take(byte, field.limit)) {
    case varint_reader::result::more:
      return false;
    case varint_reader::result::value:
      field.length = length_.value();
      field.got = 0;
      length_.reset();
      return true;
    case varint_reader::result::over_limit:
      fail(too_long, "a net.tcp preamble string is over its length limit", [&] {
        return "the " + std::string(what) + " is longer than " + std::to_string(field.limit) + " bytes";
      });
      return false;
    case varint_reader::result::malformed:
      break;
  }
  fail(too_long, "a net.tcp preamble length is malformed", [&] {
    return "the length of the " + std::string(what) + " takes more than " + std::to_string(max_varint_bytes) +
           " bytes";
  });
  return false;
}

std::size_t preamble_parser::take_text(std::span<const std::uint8_t> bytes, text_field& field) noexcept {
  std::size_t n = std::min<std::size_t>(field.length - field.got, bytes.size());
  std::memcpy(field.data + field.got, bytes.data(), n);
  field.got += static_cast<std::uint32_t>(n);
  field.complete = field.got == field.length;
  return n;
}

void preamble_parser::via_complete() noexcept {
  std::string_view via(via_.data, via_.length);
  if (!is_utf8(via) || via.find('\0') != std::string_view::npos) {
    // Whoever reads the Via as text (TRANSPORT_URL, C strings) would misread it.
    fail(framing_fault::endpoint_not_found, "the Via is not UTF-8 text", [&] {
      return "the Via '" + printable(via) + "' is not UTF-8 text without U+0000";
    });
    return;
  }
  state_ = state::encoding_record;
  if (!policy_.listener_url) return;
  std::string why;
  bool matches = false;
  try {
    const host_identity& self = policy_.host ? *policy_.host : this_host();
    matches = via_matches(*policy_.listener_url, via, policy_.url_matching, self, why);
  } catch (...) {  // std::bad_alloc: our shortage, not the client's mistake
    fail(framing_fault::server_too_busy, "out of memory while matching the Via",
         [] { return std::string("out of memory while matching the Via"); });
    return;
  }
  if (!matches) fail(framing_fault::endpoint_not_found, "the Via does not match the listener's URL", [&] {
    return std::move(why);
  });
}

void preamble_parser::content_type_complete() noexcept {
  std::string_view type(content_type_.data, content_type_.length);
  if (content_type_fits(expected_encoding_, type)) {
    state_ = state::upgrade_or_end;
    return;
  }
  fail(framing_fault::content_type_invalid, "the client's content type does not fit the channel's encoding", [&] {
    return "the client's content type '" + printable(type) + "' does not fit the channel's " +
           describe_channel_encoding(policy_.encoding, policy_.envelope_version);
  });
}

void preamble_parser::upgrade_complete() noexcept {
  fail(framing_fault::upgrade_invalid, "the client asked for a security upgrade, which is not supported", [&] {
    return "the client asked for an upgrade to '" +
           printable(std::string_view(upgrade_.data, upgrade_.length)) +
           "': security upgrades (TLS, Windows authentication) are not supported";
  });
}

feed_result preamble_parser::feed(std::span<const std::uint8_t> bytes) noexcept {
  std::size_t i = 0;
  while (i < bytes.size() && state_ != state::finished) {
    // The bodies of strings are copied in bulk, the rest is judged byte by byte.
    if (state_ == state::via_bytes || state_ == state::content_type_bytes || state_ == state::upgrade_bytes) {
      text_field& field = state_ == state::via_bytes ? via_ : state_ == state::content_type_bytes ? content_type_ : upgrade_;
      i += take_text(bytes.subspan(i), field);
      if (!field.complete) continue;
      if (state_ == state::via_bytes) via_complete();
      else if (state_ == state::content_type_bytes) content_type_complete();
      else upgrade_complete();
      continue;
    }
    const bool first_byte = consumed_ + i == 0;
    const std::uint8_t b = bytes[i++];
    switch (state_) {
      case state::version_record:
        if (b == type_of(record::version)) state_ = state::version_major;
        else unexpected_record(b, first_byte, framing_fault::unsupported_version, "a Version record (0x00)");
        break;
      case state::version_major:
        major_ = b;
        if (b == 1) state_ = state::version_minor;
        else fail(framing_fault::unsupported_version, "the client's framing version is not 1.x", [&] {
          return "the client speaks .NET Message Framing version " + std::to_string(b) + ".x; only 1.x is supported";
        });
        break;
      case state::version_minor:
        minor_ = b;  // any minor version of 1 reads the same records
        state_ = state::mode_record;
        break;
      case state::mode_record:
        if (b == type_of(record::mode)) state_ = state::mode_value;
        else unexpected_record(b, false, framing_fault::unsupported_mode, "a Mode record (0x01)");
        break;
      case state::mode_value:
        mode_ = b;
        if (expected_mode_ != 0 && b == expected_mode_) state_ = state::via_record;
        else fail(framing_fault::unsupported_mode, "the client's framing mode does not fit the channel type", [&] {
          std::string channel = policy_.channel_type == WS_CHANNEL_TYPE_DUPLEX_SESSION
                                    ? "WS_CHANNEL_TYPE_DUPLEX_SESSION"
                                    : "type " + std::to_string(static_cast<unsigned>(policy_.channel_type));
          return "the client asked for framing mode " + hex_byte(b) + "; a channel of " + channel + " takes " +
                 (expected_mode_ ? "only " + hex_byte(expected_mode_) + " (duplex)" : std::string("no mode"));
        });
        break;
      case state::via_record:
        if (b == type_of(record::via)) state_ = state::via_length;
        else unexpected_record(b, false, framing_fault::endpoint_not_found, "a Via record (0x02)");
        break;
      case state::via_length:
        if (!take_length(b, via_, framing_fault::via_too_long, "Via")) break;
        state_ = state::via_bytes;
        if (via_.length == 0) via_.complete = true, via_complete();  // nothing more to wait for
        break;
      case state::encoding_record:
        if (b == type_of(record::known_encoding)) state_ = state::known_encoding_value;
        else if (b == type_of(record::extensible_encoding)) state_ = state::content_type_length;
        else unexpected_record(b, false, framing_fault::content_type_invalid,
                               "a Known Encoding (0x03) or Extensible Encoding (0x04) record");
        break;
      case state::known_encoding_value:
        known_ = b;
        if (known_encoding_fits(expected_encoding_, b)) state_ = state::upgrade_or_end;
        else fail(framing_fault::content_type_invalid, "the client's encoding does not fit the channel's", [&] {
          return "the client's encoding " + describe_known_encoding(b) + " does not fit the channel's " +
                 describe_channel_encoding(policy_.encoding, policy_.envelope_version);
        });
        break;
      case state::content_type_length:
        if (!take_length(b, content_type_, framing_fault::content_type_too_long, "content type")) break;
        state_ = state::content_type_bytes;
        // [MC-NMF] 2.2.3.4.2: the length MUST NOT be 0.
        if (content_type_.length == 0) fail(framing_fault::content_type_invalid, "the client's content type is empty", [] {
          return std::string("the client's Extensible Encoding record has an empty content type");
        });
        break;
      case state::upgrade_or_end:
        if (b == type_of(record::preamble_end)) state_ = state::finished, status_ = step::done;
        else if (b == type_of(record::upgrade_request)) state_ = state::upgrade_length;
        else unexpected_record(b, false, framing_fault::upgrade_invalid,
                               "an Upgrade Request (0x09) or Preamble End (0x0C) record");
        break;
      case state::upgrade_length:
        if (!take_length(b, upgrade_, framing_fault::upgrade_invalid, "upgrade protocol name")) break;
        state_ = state::upgrade_bytes;
        if (upgrade_.length == 0) upgrade_complete();
        break;
      case state::via_bytes:
      case state::content_type_bytes:
      case state::upgrade_bytes:
      case state::finished:
        break;  // handled above the switch
    }
  }
  consumed_ += i;
  return {status_, i};
}

}  // namespace openwws::core::nettcp
