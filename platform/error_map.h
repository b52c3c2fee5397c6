// SPDX-License-Identifier: MIT
// The one place where an errno becomes an HRESULT.
#pragma once

#include <cstdint>

namespace openwws::platform {

// err is a positive errno value. Unmapped values give WS_E_OTHER.
std::int32_t hresult_from_errno(int err) noexcept;

// "EADDRINUSE" for EADDRINUSE, "errno 1234" style text never (unknown gives "E?").
const char* errno_name(int err) noexcept;

}  // namespace openwws::platform
