// SPDX-License-Identifier: MIT
// UTF-8 <-> UTF-16 for WS_STRING (WCHAR is a UTF-16 code unit on every platform).
#pragma once

#include <string>
#include <string_view>

namespace openwws::core {

// Invalid sequences become U+FFFD; never throws except std::bad_alloc.
std::u16string utf8_to_utf16(std::string_view in);
// The same into out, whose memory is reused when it is large enough.
void utf8_to_utf16(std::string_view in, std::u16string& out);
std::string utf16_to_utf8(std::u16string_view in);

}  // namespace openwws::core
