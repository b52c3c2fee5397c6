// SPDX-License-Identifier: MIT
// The client's reading of the server's answer to its net.tcp preamble: Preamble Ack, or a
// Fault record ([MC-NMF] 2.2.5) turned into the WS_E_ENDPOINT_* result WsOpenChannel returns.
#include "core/nettcp.h"

#include <algorithm>
#include <cstring>

namespace openwws::core::nettcp {

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
