// SPDX-License-Identifier: MIT
// .NET Message Framing records: faults, encodings, the client preamble and the reading of
// the server's answer ([MC-NMF] sections 2 and 3; what real clients send is in
// shared/spec/nettcp.md and the captured vectors).
#include "core/nettcp.h"

#include "core/text.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

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

constexpr std::string_view known_encoding_names[] = {
    "SOAP 1.1 UTF-8", "SOAP 1.1 UTF-16", "SOAP 1.1 UTF-16 little-endian",
    "SOAP 1.2 UTF-8", "SOAP 1.2 UTF-16", "SOAP 1.2 UTF-16 little-endian",
    "SOAP 1.2 MTOM",  "SOAP 1.2 binary", "SOAP 1.2 binary with in-band dictionary",
};

char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of the charset parameter of a content type; found is false without one.
std::string_view charset_of(std::string_view content_type, bool& found) noexcept {
  found = false;
  std::string_view value;
  std::size_t semi = content_type.find(';');
  while (semi != std::string_view::npos) {
    content_type.remove_prefix(semi + 1);
    semi = content_type.find(';');
    std::string_view param = trim(content_type.substr(0, semi));
    std::size_t eq = param.find('=');
    if (eq == std::string_view::npos || !iequals(trim(param.substr(0, eq)), "charset")) continue;
    value = trim(param.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    found = true;
  }
  return value;
}

std::string hex_byte(std::uint8_t b) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", static_cast<unsigned>(b));
  return text;
}

}  // namespace

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

wire_encoding wire_encoding_for(WS_ENCODING encoding, WS_ENVELOPE_VERSION envelope) noexcept {
  const bool soap11 = envelope == WS_ENVELOPE_VERSION_SOAP_1_1;
  if (!soap11 && envelope != WS_ENVELOPE_VERSION_SOAP_1_2) return {};  // NONE: HTTP with RAW only
  // The known bytes are [MC-NMF]'s, as Wine's client maps them (UTF-16LE to "Unicode
  // little-endian"). WCF reads 0x01/0x04 as .NET's "utf-16" (little-endian) and
  // 0x02/0x05 as "unicodeFFFE" (big-endian), the other way round; XML in UTF-16 must
  // start with a byte order mark (XML 1.0, 4.3.3), so either UTF-16 byte is taken for
  // either UTF-16 encoding.
  switch (encoding) {
    case WS_ENCODING_XML_BINARY_1:
      if (soap11) return {};
      return {true, 0x07, -1, "application/soap+msbin1", "application/soap+msbin1", text_charset::none};
    case WS_ENCODING_XML_BINARY_SESSION_1:
      if (soap11) return {};
      return {true, 0x08, -1, "application/soap+msbinsession1", "application/soap+msbinsession1",
              text_charset::none};
    // MTOM's character set is named inside the MIME parts, not by the framing.
    case WS_ENCODING_XML_MTOM_UTF8:
    case WS_ENCODING_XML_MTOM_UTF16BE:
    case WS_ENCODING_XML_MTOM_UTF16LE:
      return {true, soap11 ? -1 : 0x06, -1, "multipart/related; type=\"application/xop+xml\"", "multipart/related",
              text_charset::none};
    case WS_ENCODING_XML_UTF8:
      return soap11 ? wire_encoding{true, 0x00, -1, "text/xml; charset=utf-8", "text/xml", text_charset::utf8}
                    : wire_encoding{true, 0x03, -1, "application/soap+xml; charset=utf-8", "application/soap+xml",
                                    text_charset::utf8};
    case WS_ENCODING_XML_UTF16BE:
      return soap11 ? wire_encoding{true, 0x01, 0x02, "text/xml; charset=utf-16", "text/xml", text_charset::utf16}
                    : wire_encoding{true, 0x04, 0x05, "application/soap+xml; charset=utf-16", "application/soap+xml",
                                    text_charset::utf16};
    case WS_ENCODING_XML_UTF16LE:
      return soap11 ? wire_encoding{true, 0x02, 0x01, "text/xml; charset=utf-16", "text/xml", text_charset::utf16}
                    : wire_encoding{true, 0x05, 0x04, "application/soap+xml; charset=utf-16", "application/soap+xml",
                                    text_charset::utf16};
    default:
      return {};  // WS_ENCODING_RAW (HTTP only) and values outside the enum
  }
}

bool known_encoding_fits(const wire_encoding& expected, std::uint8_t known) noexcept {
  return expected.supported && (known == expected.known || known == expected.known_alternative);
}

bool content_type_fits(const wire_encoding& expected, std::string_view content_type) noexcept {
  if (!expected.supported || !iequals(trim(content_type.substr(0, content_type.find(';'))), expected.media_type))
    return false;
  if (expected.charset == text_charset::none) return true;
  bool found = false;
  std::string_view charset = charset_of(content_type, found);
  // Without a charset, XML is UTF-8 unless a byte order mark says otherwise.
  if (!found) return expected.charset == text_charset::utf8;
  if (expected.charset == text_charset::utf8) return iequals(charset, "utf-8") || iequals(charset, "utf8");
  for (std::string_view name : {"utf-16", "utf16", "utf-16be", "utf-16le", "unicodeFFFE", "unicode"})
    if (iequals(charset, name)) return true;
  return false;
}

std::string describe_known_encoding(std::uint8_t known) {
  std::string name = known < std::size(known_encoding_names) ? std::string(known_encoding_names[known]) : "reserved";
  return name + " (" + hex_byte(known) + ")";
}

std::string describe_channel_encoding(WS_ENCODING encoding, WS_ENVELOPE_VERSION envelope) {
  static constexpr std::string_view names[] = {
      "WS_ENCODING_XML_BINARY_1", "WS_ENCODING_XML_BINARY_SESSION_1", "WS_ENCODING_XML_MTOM_UTF8",
      "WS_ENCODING_XML_MTOM_UTF16BE", "WS_ENCODING_XML_MTOM_UTF16LE", "WS_ENCODING_XML_UTF8",
      "WS_ENCODING_XML_UTF16BE", "WS_ENCODING_XML_UTF16LE", "WS_ENCODING_RAW",
  };
  auto e = static_cast<unsigned>(encoding);
  std::string text = e < std::size(names) ? std::string(names[e]) : "WS_ENCODING " + std::to_string(e);
  switch (envelope) {
    case WS_ENVELOPE_VERSION_SOAP_1_1: return text + " with SOAP 1.1";
    case WS_ENVELOPE_VERSION_SOAP_1_2: return text + " with SOAP 1.2";
    case WS_ENVELOPE_VERSION_NONE: return text + " without an envelope";
    default: return text + " with envelope version " + std::to_string(static_cast<unsigned>(envelope));
  }
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

// --- The client's reading of the answer ---------------------------------------------

template <class Text>
void answer_parser::fail(HRESULT hr, framing_fault f, const char* fallback, Text&& text) noexcept {
  state_ = state::finished;
  status_ = step::failed;
  result_ = hr;
  fault_ = f;
  try {
    reason_ = text();
  } catch (...) {  // std::bad_alloc: the fixed text still says what happened
    reason_.clear();
    fallback_reason_ = fallback;
  }
}

void answer_parser::reset() noexcept {
  state_ = state::record_type;
  status_ = step::need_more;
  result_ = S_OK;
  fault_ = framing_fault::none;
  length_.reset();
  fault_length_ = fault_got_ = 0;
  reason_.clear();
  fallback_reason_ = nullptr;
}

std::string_view answer_parser::fault_string() const noexcept {
  return state_ == state::finished && status_ == step::failed && fault_ != framing_fault::none
             ? std::string_view(fault_bytes_, fault_length_)
             : std::string_view{};
}

std::string_view answer_parser::reason() const noexcept {
  if (status_ != step::failed) return {};
  return fallback_reason_ ? std::string_view(fallback_reason_) : std::string_view(reason_);
}

void answer_parser::finish_fault() noexcept {
  std::string_view uri(fault_bytes_, fault_length_);
  framing_fault f = fault_from_uri(uri);
  fail(fault_hresult(f), f, "the server refused the net.tcp preamble with a Fault record", [&] {
    return "the server refused the net.tcp preamble with the fault " + printable(uri);
  });
}

feed_result answer_parser::feed(std::span<const std::uint8_t> bytes) noexcept {
  std::size_t i = 0;
  while (i < bytes.size() && state_ != state::finished) {
    switch (state_) {
      case state::record_type: {
        std::uint8_t b = bytes[i++];
        if (b == static_cast<std::uint8_t>(record::preamble_ack)) {
          state_ = state::finished;
          status_ = step::done;
        } else if (b == static_cast<std::uint8_t>(record::fault)) {
          state_ = state::fault_length;
        } else {
          fail(WS_E_INVALID_FORMAT, framing_fault::none, "the server did not answer the net.tcp preamble", [&] {
            std::string got = std::string(record_name(b)) + " (" + hex_byte(b) + ")";
            if (b == 'H' || b == 'h') got = "'H' (" + hex_byte(b) + "), which looks like an HTTP server";
            return "the server answered the net.tcp preamble with " + got +
                   " instead of a Preamble Ack (0x0B) or a Fault (0x08)";
          });
        }
        break;
      }
      case state::fault_length:
        switch (length_.take(bytes[i++], max_fault_length)) {
          case varint_reader::result::more:
            break;
          case varint_reader::result::value:
            fault_length_ = length_.value();
            if (fault_length_ == 0) {
              fail(WS_E_INVALID_FORMAT, framing_fault::none, "the server sent an empty Fault record",
                   [] { return std::string("the server sent a Fault record with an empty fault string"); });
            } else {
              state_ = state::fault_bytes;
            }
            break;
          default:
            fail(WS_E_INVALID_FORMAT, framing_fault::none, "the server sent an overlong Fault record", [] {
              return "the server sent a Fault record longer than " + std::to_string(max_fault_length) +
                     " bytes or with a malformed length";
            });
        }
        break;
      case state::fault_bytes: {
        std::size_t n = std::min<std::size_t>(fault_length_ - fault_got_, bytes.size() - i);
        std::memcpy(fault_bytes_ + fault_got_, bytes.data() + i, n);
        fault_got_ += static_cast<std::uint32_t>(n);
        i += n;
        if (fault_got_ == fault_length_) finish_fault();
        break;
      }
      case state::finished:
        break;
    }
  }
  return {status_, i};
}

}  // namespace openwws::core::nettcp
