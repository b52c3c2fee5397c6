// SPDX-License-Identifier: MIT
// Property tables: one validation path for every object's get/set.
#include "core/properties.h"

#include "core/error.h"

#include <cstring>

namespace openwws::core {

const prop_info* find_prop(std::span<const prop_info> table, std::uint32_t id) noexcept {
  for (const auto& p : table)
    if (p.id == id) return &p;
  return nullptr;
}

HRESULT check_value(const void* value, ULONG size, ULONG expected, const char* what, std::uint32_t id,
                    WS_ERROR* error) noexcept {
  if (!value) return fail(error, E_INVALIDARG, format("%s property %u: value is NULL", what, id));
  if (size != expected)
    return fail(error, E_INVALIDARG,
                format("%s property %u: valueSize is %u, must be %u", what, id, size, expected));
  return S_OK;
}

HRESULT store_prop(std::span<const prop_info> table, void* fields, std::uint32_t id, const void* value,
                   ULONG size, prop_access need, const char* what, WS_ERROR* error) noexcept {
  const prop_info* p = find_prop(table, id);
  if (!p) return fail(error, E_INVALIDARG, format("%s property id %u is not supported", what, id));
  if (!(p->access & need))
    return fail(error, E_INVALIDARG,
                format("%s property %s (%u) cannot be %s", what, p->name, id,
                       need == at_create ? "given at creation" : "set after creation"));
  if (HRESULT hr = check_value(value, size, p->size, what, id, error); FAILED(hr)) return hr;
  if (p->valid && !p->valid(value))
    return fail(error, E_INVALIDARG, format("%s property %s (%u): value out of range", what, p->name, id));
  std::memcpy(static_cast<char*>(fields) + p->offset, value, p->size);
  return S_OK;
}

HRESULT load_prop(std::span<const prop_info> table, const void* fields, std::uint32_t id, void* value, ULONG size,
                  const char* what, WS_ERROR* error) noexcept {
  const prop_info* p = find_prop(table, id);
  if (!p || !(p->access & can_get))
    return fail(error, E_INVALIDARG, format("%s property id %u cannot be read", what, id));
  if (HRESULT hr = check_value(value, size, p->size, what, id, error); FAILED(hr)) return hr;
  std::memcpy(value, static_cast<const char*>(fields) + p->offset, p->size);
  return S_OK;
}

namespace {
template <typename T>
T read(const void* v) noexcept {
  T x;
  std::memcpy(&x, v, sizeof x);
  return x;
}
}  // namespace

bool valid_bool(const void* v) noexcept {
  auto b = read<BOOL>(v);
  return b == TRUE || b == FALSE;
}

bool valid_ip_version(const void* v) noexcept {
  auto x = read<int>(v);
  return x == WS_IP_VERSION_4 || x == WS_IP_VERSION_6 || x == WS_IP_VERSION_AUTO;
}

bool valid_callback_model(const void* v) noexcept {
  auto x = read<int>(v);
  return x == WS_SHORT_CALLBACK || x == WS_LONG_CALLBACK;
}

bool valid_nonzero(const void* v) noexcept { return read<ULONG>(v) != 0; }

}  // namespace openwws::core
