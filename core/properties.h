// SPDX-License-Identifier: MIT
// Table-driven property get/set shared by listeners, channels and errors.
#pragma once

#include <webservices.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace openwws::core {

enum prop_access : std::uint8_t {
  at_create = 1,  // may be given to Ws*Create*
  can_get = 2,
  can_set = 4,    // may be set after creation
};

// One property stored as a fixed-size field of a struct.
struct prop_info {
  std::uint32_t id;
  std::uint16_t offset;  // of the field in the property struct
  std::uint16_t size;    // the exact valueSize Windows requires
  std::uint8_t access;
  bool (*valid)(const void* value) noexcept = nullptr;  // range check for set/create
  const char* name = "";
};

const prop_info* find_prop(std::span<const prop_info> table, std::uint32_t id) noexcept;

// Copies value into the field after checking id, access (need), size and range.
// E_INVALIDARG with a string in error on any mismatch. `what` names the object kind.
HRESULT store_prop(std::span<const prop_info> table, void* fields, std::uint32_t id, const void* value,
                   ULONG size, prop_access need, const char* what, WS_ERROR* error) noexcept;

// Copies the field into value after checking id, access and size.
HRESULT load_prop(std::span<const prop_info> table, const void* fields, std::uint32_t id, void* value, ULONG size,
                  const char* what, WS_ERROR* error) noexcept;

// Checks a value buffer against an exact size (E_INVALIDARG with a string).
HRESULT check_value(const void* value, ULONG size, ULONG expected, const char* what, std::uint32_t id,
                    WS_ERROR* error) noexcept;

// Range checks used by the tables.
bool valid_bool(const void* v) noexcept;
bool valid_ip_version(const void* v) noexcept;
bool valid_callback_model(const void* v) noexcept;
bool valid_nonzero(const void* v) noexcept;

#define OPENWWS_PROP(id, type, field, access, ...) \
  prop_info { static_cast<std::uint32_t>(id), offsetof(type, field), sizeof(type::field), access, __VA_ARGS__ }

}  // namespace openwws::core
