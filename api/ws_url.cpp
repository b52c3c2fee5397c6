// SPDX-License-Identifier: MIT
// Exported WS_HEAP functions and WsDecodeUrl.
#include <webservices.h>

#include "api/validate.h"
#include "core/heap.h"
#include "core/url.h"

#include <cstdlib>
#include <cstring>
#include <new>

using openwws::api::invalid;

void* _WS_HEAP::allocate(std::size_t size) noexcept {
  constexpr std::size_t align = alignof(std::max_align_t);
  std::size_t rounded = (size + align - 1) & ~(align - 1);
  if (rounded < size || rounded > max_size - used) return nullptr;
  void* p = std::aligned_alloc(align, rounded ? rounded : align);
  if (!p) return nullptr;
  try {
    blocks.push_back(p);
  } catch (const std::bad_alloc&) {
    std::free(p);
    return nullptr;
  }
  used += rounded;
  return p;
}

void _WS_HEAP::release_all() noexcept {
  for (void* p : blocks) std::free(p);
  blocks.clear();
  used = 0;
}

namespace {

bool usable_heap(const WS_HEAP* h) noexcept { return h && h->magic == _WS_HEAP::live_magic; }

// Copies s onto the heap as a WS_STRING (false: the heap is full).
bool heap_string(WS_HEAP* heap, const std::u16string& s, WS_STRING& out) noexcept {
  out.length = static_cast<ULONG>(s.size());
  out.chars = nullptr;
  if (s.empty()) return true;
  void* p = heap->allocate(s.size() * sizeof(WCHAR));
  if (!p) return false;
  std::memcpy(p, s.data(), s.size() * sizeof(WCHAR));
  out.chars = static_cast<WCHAR*>(p);
  return true;
}

}  // namespace

extern "C" {

HRESULT WINAPI WsCreateHeap(SIZE_T maxSize, SIZE_T trimSize, const WS_HEAP_PROPERTY* properties, ULONG propertyCount,
                            WS_HEAP** heap, WS_ERROR* error) {
  const char* fn = "WsCreateHeap";
  if (!heap) return invalid(error, fn, "heap is NULL");
  if (!properties && propertyCount) return invalid(error, fn, "properties is NULL but propertyCount is not 0");
  if (propertyCount) return invalid(error, fn, "no heap property can be given at creation");
  auto* h = new (std::nothrow) WS_HEAP();
  if (!h) return openwws::core::fail(error, E_OUTOFMEMORY, "WsCreateHeap: out of memory");
  h->max_size = maxSize;
  h->trim_size = trimSize;
  *heap = h;
  return S_OK;
}

HRESULT WINAPI WsAlloc(WS_HEAP* heap, SIZE_T size, void** ptr, WS_ERROR* error) {
  if (!usable_heap(heap) || !ptr) return invalid(error, "WsAlloc", "heap or ptr is NULL");
  void* p = heap->allocate(size);
  if (!p)
    return openwws::core::fail(error, WS_E_QUOTA_EXCEEDED,
                               openwws::core::format("WsAlloc: %zu bytes do not fit the heap's maxSize %zu", size,
                                                     heap->max_size));
  *ptr = p;
  return S_OK;
}

HRESULT WINAPI WsResetHeap(WS_HEAP* heap, WS_ERROR* error) {
  if (!usable_heap(heap)) return invalid(error, "WsResetHeap", "heap is NULL");
  heap->release_all();
  return S_OK;
}

void WINAPI WsFreeHeap(WS_HEAP* heap) {
  if (!usable_heap(heap)) return;
  heap->magic = 0;
  delete heap;
}

HRESULT WINAPI WsDecodeUrl(const WS_STRING* url, ULONG flags, WS_HEAP* heap, WS_URL** outUrl, WS_ERROR* error) {
  const char* fn = "WsDecodeUrl";
  if (!openwws::api::valid_string(url) || !usable_heap(heap) || !outUrl)
    return invalid(error, fn, "url, heap or outUrl is NULL");
  constexpr ULONG known = WS_URL_FLAGS_ALLOW_HOST_WILDCARDS | WS_URL_FLAGS_NO_PATH_COLLAPSE;
  if (flags & ~known) return invalid(error, fn, "unknown flags");
  try {
    openwws::core::parsed_url u;
    std::string why;
    // WsDecodeUrl remarks: IP-literals are returned without an IPv6 check.
    ULONG parse_flags = flags | openwws::core::url_flag_unchecked_ip_literal;
    if (HRESULT hr = openwws::core::parse_url(url->chars, url->length, parse_flags, u, why); FAILED(hr))
      return openwws::core::fail(error, hr, "WsDecodeUrl: " + why);
    // Every scheme's struct has the WS_HTTP_URL layout.
    auto* out = static_cast<WS_HTTP_URL*>(heap->allocate(sizeof(WS_HTTP_URL)));
    bool ok = out && heap_string(heap, u.host, out->host) && heap_string(heap, u.port_text, out->portAsString) &&
              heap_string(heap, u.path, out->path) && heap_string(heap, u.query, out->query) &&
              heap_string(heap, u.fragment, out->fragment);
    if (!ok) return openwws::core::fail(error, WS_E_QUOTA_EXCEEDED, "WsDecodeUrl: the heap is full");
    out->url.scheme = u.scheme;
    out->port = u.port;
    *outUrl = &out->url;
    return S_OK;
  } catch (const std::bad_alloc&) {
    return openwws::core::fail(error, E_OUTOFMEMORY, "WsDecodeUrl: out of memory");
  }
}

}  // extern "C"
