// SPDX-License-Identifier: MIT
// The wire names of a channel's WS_ENCODING ([MC-NMF] 2.2.3.4: Known Encoding bytes and
// Extensible Encoding content types), and whether what a client names fits.
#include "core/nettcp.h"

#include <algorithm>

namespace openwws::core::nettcp {

namespace {

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

}  // namespace

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

}  // namespace openwws::core::nettcp
