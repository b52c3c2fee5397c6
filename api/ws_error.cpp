// SPDX-License-Identifier: MIT
// Exported WS_ERROR functions (Microsoft's "Error Handling" pages).
#include <webservices.h>

#include "core/error.h"
#include "core/text.h"

#include <cstring>
#include <new>

using openwws::core::is_error;

namespace {

HRESULT set_langid(WS_ERROR* e, const void* value, ULONG size) noexcept {
  if (!value || size != sizeof(LANGID)) return E_INVALIDARG;
  LANGID id;
  std::memcpy(&id, value, sizeof id);
  if (id == 0) return E_INVALIDARG;
  e->langid = id;
  return S_OK;
}

std::size_t string_count(const WS_ERROR* e) noexcept {
  return e->strings.size() + (e->original_code ? 1 : 0);
}

}  // namespace

extern "C" {

HRESULT WINAPI WsCreateError(const WS_ERROR_PROPERTY* properties, ULONG propertyCount, WS_ERROR** error) {
  if (!error || (!properties && propertyCount)) return E_INVALIDARG;
  auto* e = new (std::nothrow) WS_ERROR();
  if (!e) return E_OUTOFMEMORY;
  for (ULONG i = 0; i < propertyCount; ++i) {
    // Only LANGID may be given at creation (STRING_COUNT and ORIGINAL_ERROR_CODE are results).
    HRESULT hr = properties[i].id == WS_ERROR_PROPERTY_LANGID
                     ? set_langid(e, properties[i].value, properties[i].valueSize)
                     : E_INVALIDARG;
    if (FAILED(hr)) {
      delete e;
      return hr;
    }
  }
  e->created_langid = e->langid;
  *error = e;
  return S_OK;
}

void WINAPI WsFreeError(WS_ERROR* error) {
  if (!is_error(error)) return;
  error->magic = 0;
  delete error;
}

HRESULT WINAPI WsResetError(WS_ERROR* error) {
  if (!is_error(error)) return E_INVALIDARG;
  error->strings.clear();
  error->strings.shrink_to_fit();
  error->original_text.clear();
  error->original_code = 0;
  error->langid = error->created_langid;
  error->langid_settable = true;
  return S_OK;
}

HRESULT WINAPI WsGetErrorProperty(WS_ERROR* error, WS_ERROR_PROPERTY_ID id, void* buffer, ULONG bufferSize) {
  if (!is_error(error) || !buffer) return E_INVALIDARG;
  switch (id) {
    case WS_ERROR_PROPERTY_STRING_COUNT: {
      if (bufferSize != sizeof(ULONG)) return E_INVALIDARG;
      ULONG n = static_cast<ULONG>(string_count(error));
      std::memcpy(buffer, &n, sizeof n);
      return S_OK;
    }
    case WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE:
      if (bufferSize != sizeof(ULONG)) return E_INVALIDARG;
      std::memcpy(buffer, &error->original_code, sizeof(ULONG));
      return S_OK;
    case WS_ERROR_PROPERTY_LANGID:
      if (bufferSize != sizeof(LANGID)) return E_INVALIDARG;
      std::memcpy(buffer, &error->langid, sizeof(LANGID));
      return S_OK;
    default:
      return E_INVALIDARG;
  }
}

HRESULT WINAPI WsSetErrorProperty(WS_ERROR* error, WS_ERROR_PROPERTY_ID id, const void* value, ULONG valueSize) {
  if (!is_error(error)) return E_INVALIDARG;
  switch (id) {
    case WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE: {
      if (!value || valueSize != sizeof(ULONG)) return E_INVALIDARG;
      ULONG code;
      std::memcpy(&code, value, sizeof code);
      try {
        error->original_text =
            code ? openwws::core::utf8_to_utf16(openwws::core::format("original error code 0x%08X", code))
                 : std::u16string();
      } catch (const std::bad_alloc&) {
        return E_OUTOFMEMORY;
      }
      error->original_code = code;
      return S_OK;
    }
    case WS_ERROR_PROPERTY_LANGID:
      // Settable at creation, or after WsResetError (Microsoft's LANGID page).
      if (!error->langid_settable) return WS_E_INVALID_OPERATION;
      return set_langid(error, value, valueSize);
    default:
      return E_INVALIDARG;
  }
}

HRESULT WINAPI WsGetErrorString(WS_ERROR* error, ULONG index, WS_STRING* string) {
  if (!is_error(error) || !string) return E_INVALIDARG;
  std::size_t added = error->strings.size();
  if (index >= string_count(error)) return E_INVALIDARG;
  // Index 0 is the string added last; the original error code's text comes last.
  const std::u16string& s = index < added ? error->strings[added - 1 - index] : error->original_text;
  string->length = static_cast<ULONG>(s.size());
  string->chars = const_cast<WCHAR*>(reinterpret_cast<const WCHAR*>(s.data()));
  return S_OK;
}

HRESULT WINAPI WsAddErrorString(WS_ERROR* error, const WS_STRING* string) {
  if (!is_error(error) || !string || (!string->chars && string->length)) return E_INVALIDARG;
  try {
    error->strings.emplace_back(reinterpret_cast<const char16_t*>(string->chars), string->length);
  } catch (const std::bad_alloc&) {
    return E_OUTOFMEMORY;
  }
  return S_OK;
}

HRESULT WINAPI WsCopyError(WS_ERROR* source, WS_ERROR* destination) {
  if (!is_error(source) || !is_error(destination)) return E_INVALIDARG;
  if (source == destination) return S_OK;
  try {
    destination->strings.insert(destination->strings.end(), source->strings.begin(), source->strings.end());
    if (source->original_code) {
      destination->original_code = source->original_code;
      destination->original_text = source->original_text;
    }
  } catch (const std::bad_alloc&) {
    return E_OUTOFMEMORY;
  }
  return S_OK;
}

}  // extern "C"
