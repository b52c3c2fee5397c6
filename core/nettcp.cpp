// SPDX-License-Identifier: MIT
// .NET Message Framing records: fault records, lengths, the client preamble ([MC-NMF]
// section 2; what real clients send is in shared/spec/nettcp.md and the captured vectors).
// The encodings are in nettcp_encoding.cpp, the client's reading of the answer in
// nettcp_answer.cpp.
#include "core/nettcp.h"

#include "core/text.h"

#include <array>
#include <cstdio>

namespace openwws::core::nettcp {

namespace {

struct fault_entry {
  framing_fault fault;
  std::string_view name;
  HRESULT result;
};

// Fault names from [MC-NMF] 2.2.5, plus ViaTooLong (sent by WCF for a Via past its
// MaxViaSize). Results from the WWSAPI return values page: NOT_FOUND "does not exist or
// could not be located", NOT_AVAILABLE "not currently in service at this location",
// TOO_BUSY "overloaded", FAILURE "could not process the request".
constexpr fault_entry fault_table[] = {
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

const fault_entry* find_fault(framing_fault f) noexcept {
  for (const auto& e : fault_table)
    if (e.fault == f) return &e;
  return nullptr;
}

// Every fault string is shorter than 128 bytes, so its length is one varint byte.
struct fixed_record {
  std::array<std::uint8_t, 2 + 127> bytes{};
  std::size_t size = 0;
};

constexpr fixed_record make_fault_record(std::string_view name) {
  fixed_record r;
  std::size_t length = fault_namespace.size() + name.size();
  r.bytes[0] = static_cast<std::uint8_t>(record::fault);
  r.bytes[1] = static_cast<std::uint8_t>(length);
  std::size_t at = 2;
  for (char c : fault_namespace) r.bytes[at++] = static_cast<std::uint8_t>(c);
  for (char c : name) r.bytes[at++] = static_cast<std::uint8_t>(c);
  r.size = at;
  return r;
}

constexpr auto fault_records = [] {
  std::array<fixed_record, std::size(fault_table)> all{};
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = make_fault_record(fault_table[i].name);
  return all;
}();

constexpr bool fault_lengths_fit_one_byte() {
  for (const auto& e : fault_table)
    if (fault_namespace.size() + e.name.size() >= 128) return false;
  return true;
}
static_assert(fault_lengths_fit_one_byte(), "a fault string needs a two-byte length");

constexpr std::uint8_t preamble_ack_bytes[] = {static_cast<std::uint8_t>(record::preamble_ack)};
constexpr std::uint8_t end_bytes[] = {static_cast<std::uint8_t>(record::end)};

constexpr std::string_view record_names[] = {
    "Version",  "Mode",  "Via",     "Known Encoding",  "Extensible Encoding", "Unsized Envelope", "Sized Envelope",
    "End",      "Fault", "Upgrade Request", "Upgrade Response", "Preamble Ack", "Preamble End",
};

}  // namespace

std::string hex_byte(std::uint8_t b) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(b));
  return text;
}

std::string_view record_name(std::uint8_t type) noexcept {
  return type < std::size(record_names) ? record_names[type] : "an unknown record type";
}

std::uint8_t mode_for(WS_CHANNEL_TYPE type) noexcept { return type == WS_CHANNEL_TYPE_DUPLEX_SESSION ? mode_duplex : 0; }

std::string_view fault_name(framing_fault f) noexcept {
  const fault_entry* e = find_fault(f);
  return e ? e->name : std::string_view{};
}

std::string fault_uri(framing_fault f) {
  std::string_view name = fault_name(f);
  return name.empty() ? std::string{} : std::string(fault_namespace) + std::string(name);
}

framing_fault fault_from_uri(std::string_view uri) noexcept {
  if (uri.substr(0, fault_namespace.size()) != fault_namespace) return framing_fault::unknown;
  std::string_view name = uri.substr(fault_namespace.size());
  for (const auto& e : fault_table)
    if (e.name == name) return e.fault;
  return framing_fault::unknown;
}

HRESULT fault_hresult(framing_fault f) noexcept {
  if (f == framing_fault::none) return S_OK;
  const fault_entry* e = find_fault(f);
  return e ? e->result : WS_E_ENDPOINT_FAILURE;
}

std::span<const std::uint8_t> fault_record(framing_fault f) noexcept {
  for (std::size_t i = 0; i < std::size(fault_table); ++i)
    if (fault_table[i].fault == f) return {fault_records[i].bytes.data(), fault_records[i].size};
  return {};
}

std::span<const std::uint8_t> preamble_ack_record() noexcept { return preamble_ack_bytes; }
std::span<const std::uint8_t> end_record() noexcept { return end_bytes; }

std::size_t encode_varint(std::uint32_t value, std::uint8_t (&out)[max_varint_bytes]) noexcept {
  std::size_t n = 0;
  do {
    std::uint8_t group = value & 0x7F;
    value >>= 7;
    out[n++] = static_cast<std::uint8_t>(value ? group | 0x80 : group);
  } while (value && n < max_varint_bytes);
  return n;
}

varint_reader::result varint_reader::take(std::uint8_t byte, std::uint32_t limit) noexcept {
  if (bytes_ >= max_varint_bytes) return result::malformed;
  value_ |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * bytes_);
  ++bytes_;
  // Groups only add bits, so a value past the limit stays past it: stop reading now.
  if (value_ > limit) return result::over_limit;
  if (!(byte & 0x80)) return result::value;
  return bytes_ == max_varint_bytes ? result::malformed : result::more;
}

bool is_utf8(std::string_view bytes) noexcept {
  for (std::size_t i = 0; i < bytes.size();) {
    auto b = static_cast<unsigned char>(bytes[i]);
    std::size_t len = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > bytes.size()) return false;
    std::uint32_t cp = len == 1 ? b : b & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(bytes[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string printable(std::string_view bytes, std::size_t max_chars) {
  std::string out;
  std::size_t chars = 0;
  for (char c : bytes) {
    if (chars == max_chars) return out + "...";
    auto b = static_cast<unsigned char>(c);
    // Bytes from 0x80 up are left to the UTF-8 to UTF-16 conversion of WS_ERROR strings,
    // which turns what is not UTF-8 into U+FFFD.
    if (b < 0x20 || b == 0x7F) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02X", static_cast<unsigned>(b));
      out += esc;
    } else {
      out += c;
    }
    ++chars;
  }
  return out;
}

HRESULT encode_client_preamble(std::string_view via_utf8, WS_CHANNEL_TYPE type, WS_ENCODING encoding,
                               WS_ENVELOPE_VERSION envelope, std::vector<std::uint8_t>& out, std::string& why) {
  std::uint8_t mode = mode_for(type);
  if (mode == 0) {
    why = "net.tcp has no framing mode for channel type " + std::to_string(static_cast<unsigned>(type)) +
          " (only WS_CHANNEL_TYPE_DUPLEX_SESSION)";
    return WS_E_NOT_SUPPORTED;
  }
  wire_encoding wire = wire_encoding_for(encoding, envelope);
  if (!wire.supported) {
    why = "net.tcp has no name for " + describe_channel_encoding(encoding, envelope);
    return WS_E_NOT_SUPPORTED;
  }
  if (via_utf8.size() > 0x7FFFFFFF) {
    why = "the endpoint URL is too long for a Via record";
    return E_INVALIDARG;
  }
  std::uint8_t length[max_varint_bytes];
  auto put = [&](std::uint8_t b) { out.push_back(b); };
  auto put_string = [&](std::string_view s) {
    std::size_t n = encode_varint(static_cast<std::uint32_t>(s.size()), length);
    out.insert(out.end(), length, length + n);
    out.insert(out.end(), s.begin(), s.end());
  };
  put(static_cast<std::uint8_t>(record::version)), put(1), put(0);
  put(static_cast<std::uint8_t>(record::mode)), put(mode);
  put(static_cast<std::uint8_t>(record::via)), put_string(via_utf8);
  if (wire.known >= 0) {
    put(static_cast<std::uint8_t>(record::known_encoding)), put(static_cast<std::uint8_t>(wire.known));
  } else {
    put(static_cast<std::uint8_t>(record::extensible_encoding)), put_string(wire.content_type);
  }
  put(static_cast<std::uint8_t>(record::preamble_end));
  return S_OK;
}

HRESULT encode_client_preamble(std::u16string_view via, WS_CHANNEL_TYPE type, WS_ENCODING encoding,
                               WS_ENVELOPE_VERSION envelope, std::vector<std::uint8_t>& out, std::string& why) {
  return encode_client_preamble(utf16_to_utf8(via), type, encoding, envelope, out, why);
}

}  // namespace openwws::core::nettcp
