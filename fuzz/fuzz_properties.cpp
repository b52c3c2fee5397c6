// SPDX-License-Identifier: MIT
// Fuzzes property get/set/create on listeners, channels and WS_ERROR. Each input gets a
// fresh TCP listener, a channel made for it, a client channel and a WS_ERROR, then runs
// ops read from the input until it ends (see run_op for the byte layout). The only
// sockets are listening ones on 127.0.0.1, port 0.
//
// Invariants (spec sections 3.8, 5, 8, 9.4): every HRESULT is S_OK, E_INVALIDARG,
// WS_E_INVALID_OPERATION, WS_E_NOT_SUPPORTED or E_OUTOFMEMORY; a Set that succeeded reads
// back the same bytes with a Get of the same size; read-only ids can neither be set nor
// given at creation; a Get that fails writes nothing, and one that succeeds writes no
// byte past valueSize; a Create that succeeded reads back every gettable value it was
// given; no descriptor outlives the input.
#include "fuzz/fuzz_common.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

enum target : std::uint8_t { t_listener, t_listener_channel, t_client_channel, t_error, t_count };
const char* const target_names[] = {"listener", "listener channel", "client channel", "error"};

// Properties that are results, never inputs.
bool read_only(target t, std::uint32_t id) {
  switch (t) {
    case t_listener:
      return id == WS_LISTENER_PROPERTY_STATE || id == WS_LISTENER_PROPERTY_CHANNEL_TYPE ||
             id == WS_LISTENER_PROPERTY_CHANNEL_BINDING || id == WS_LISTENER_PROPERTY_CUSTOM_LISTENER_INSTANCE ||
             id == OPENWWS_LISTENER_PROPERTY_BACKEND_NAME || id == OPENWWS_LISTENER_PROPERTY_LOCAL_PORT;
    case t_listener_channel:
    case t_client_channel:
      return id == WS_CHANNEL_PROPERTY_STATE || id == WS_CHANNEL_PROPERTY_CHANNEL_TYPE ||
             id == WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS || id == WS_CHANNEL_PROPERTY_TRANSPORT_URL ||
             id == WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN;
    case t_error:
      return id == WS_ERROR_PROPERTY_STRING_COUNT;
    default:
      return false;
  }
}

// Ids whose values hold pointers (callbacks, strings, arrays of strings). The fuzzer
// passes them as zeros: arbitrary pointer bits would be the caller's bug, not the
// library's, if the library ever followed them.
bool holds_pointers(target t, std::uint32_t id) {
  if (t == t_listener)
    return id == WS_LISTENER_PROPERTY_CUSTOM_LISTENER_CALLBACKS || id == WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT;
  if (t == t_listener_channel || t == t_client_channel)
    return id == WS_CHANNEL_PROPERTY_REMOTE_ADDRESS || id == WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_CALLBACKS ||
           id == WS_CHANNEL_PROPERTY_ENCODER || id == WS_CHANNEL_PROPERTY_DECODER ||
           id == WS_CHANNEL_PROPERTY_CUSTOM_HTTP_PROXY || id == WS_CHANNEL_PROPERTY_HTTP_REDIRECT_CALLBACK_CONTEXT;
  return false;
}

bool allowed(HRESULT hr) {
  return hr == S_OK || hr == E_INVALIDARG || hr == WS_E_INVALID_OPERATION || hr == WS_E_NOT_SUPPORTED ||
         hr == E_OUTOFMEMORY;
}

#define CHECK_HR(hr, what, ...)                                                                            \
  FUZZ_CHECK(allowed(hr), what " returned 0x%08X (%s)", ##__VA_ARGS__, static_cast<unsigned>(hr), \
             fuzz::hr_name(hr))

// A C caller may pass any int where webservices.h has an enum, but in C++ (the library)
// loading an enum object holding a value outside the enum's range is undefined, and
// UBSan (-fsanitize=enum) stops there: see fuzz/findings/properties-1. Until the header
// widens its enums, raw values are masked to each enum's range; set
// OPENWWS_FUZZ_ANY_ENUM=1 to pass all 32 bits (and reproduce that finding).
bool any_enum() {
  static const bool on = [] {
    const char* e = std::getenv("OPENWWS_FUZZ_ANY_ENUM");
    return e && *e == '1';
  }();
  return on;
}

std::uint32_t enum_value(std::uint32_t raw, std::uint32_t range) { return any_enum() ? raw : raw % range; }

// Value ranges of the id enums as webservices.h declares them (smallest bit-field that
// holds every enumerator, including openwws's extension base 0x10000 for listeners).
constexpr std::uint32_t listener_id_range = 0x20000;
constexpr std::uint32_t channel_id_range = 64;
constexpr std::uint32_t error_id_range = 4;

// Mostly the documented ids of the object kind, now and then any other value.
std::uint32_t pick_id(fuzz::reader& in, target t) {
  std::uint8_t b = in.u8();
  if (b >= 0xF8) {
    std::uint32_t raw = in.u32();
    return enum_value(raw, t == t_listener ? listener_id_range
                           : t == t_error  ? error_id_range
                                           : channel_id_range);
  }
  switch (t) {
    case t_listener: {
      unsigned k = b % 19u;  // 0..16, then the two openwws ids
      return k < 17 ? k : (k == 17 ? OPENWWS_LISTENER_PROPERTY_BACKEND_NAME : OPENWWS_LISTENER_PROPERTY_LOCAL_PORT);
    }
    case t_listener_channel:
    case t_client_channel:
      return b % 51u;  // 0..49 and one past the end
    default:
      return b % 4u;  // 0..2 and one past the end
  }
}

constexpr std::size_t max_value = 512;

ULONG pick_size(fuzz::reader& in) {
  static constexpr ULONG common[] = {0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, sizeof(SOCKADDR_STORAGE)};
  std::uint8_t b = in.u8();
  if (b < 208) return common[b % (sizeof common / sizeof common[0])];
  if (b < 248) return in.u8();
  return in.u16() % (max_value + 1);
}

struct objects {
  WS_LISTENER* listener = nullptr;
  WS_CHANNEL* listener_channel = nullptr;  // made by listener
  WS_CHANNEL* client_channel = nullptr;
  WS_ERROR* error = nullptr;
};

HRESULT get(objects& o, target t, std::uint32_t id, void* value, ULONG size, WS_ERROR* err) {
  switch (t) {
    case t_listener:
      return WsGetListenerProperty(o.listener, static_cast<WS_LISTENER_PROPERTY_ID>(id), value, size, err);
    case t_listener_channel:
      return WsGetChannelProperty(o.listener_channel, static_cast<WS_CHANNEL_PROPERTY_ID>(id), value, size, err);
    case t_client_channel:
      return WsGetChannelProperty(o.client_channel, static_cast<WS_CHANNEL_PROPERTY_ID>(id), value, size, err);
    default:
      return WsGetErrorProperty(o.error, static_cast<WS_ERROR_PROPERTY_ID>(id), value, size);
  }
}

HRESULT set(objects& o, target t, std::uint32_t id, const void* value, ULONG size, WS_ERROR* err) {
  switch (t) {
    case t_listener:
      return WsSetListenerProperty(o.listener, static_cast<WS_LISTENER_PROPERTY_ID>(id), value, size, err);
    case t_listener_channel:
      return WsSetChannelProperty(o.listener_channel, static_cast<WS_CHANNEL_PROPERTY_ID>(id), value, size, err);
    case t_client_channel:
      return WsSetChannelProperty(o.client_channel, static_cast<WS_CHANNEL_PROPERTY_ID>(id), value, size, err);
    default:
      return WsSetErrorProperty(o.error, static_cast<WS_ERROR_PROPERTY_ID>(id), value, size);
  }
}

// A Get into a canary-filled buffer: a failure must leave every byte alone, a success
// every byte past size. Returns the HRESULT; on S_OK out holds the size bytes.
constexpr std::size_t slack = 32;

std::uint8_t canary(std::size_t i) { return static_cast<std::uint8_t>(0xA5 ^ (i * 37)); }

HRESULT checked_get(objects& o, target t, std::uint32_t id, ULONG size, WS_ERROR* err, bool null_value,
                    std::uint8_t* out = nullptr) {
  alignas(16) std::uint8_t buf[max_value + slack];
  for (std::size_t i = 0; i < sizeof buf; ++i) buf[i] = canary(i);
  HRESULT hr = get(o, t, id, null_value ? nullptr : buf, size, err);
  CHECK_HR(hr, "Get %s property %u size %u", target_names[t], id, size);
  if (null_value) {
    FUZZ_CHECK(FAILED(hr) || size == 0, "Get %s property %u with value NULL, size %u: S_OK", target_names[t], id,
               size);
    return hr;
  }
  std::size_t from = SUCCEEDED(hr) ? size : 0;
  for (std::size_t i = from; i < sizeof buf; ++i)
    FUZZ_CHECK(buf[i] == canary(i), "Get %s property %u size %u returned %s and wrote byte %zu", target_names[t], id,
               size, fuzz::hr_name(hr), i);
  if (SUCCEEDED(hr)) {
    if (t == t_listener && id == OPENWWS_LISTENER_PROPERTY_BACKEND_NAME && size == sizeof(const char*)) {
      const char* name;
      std::memcpy(&name, buf, sizeof name);
      FUZZ_CHECK(name && std::strlen(name) > 0, "BACKEND_NAME is empty");
    }
    if (out) std::memcpy(out, buf, size);
  }
  return hr;
}

void check_set(objects& o, target t, std::uint32_t id, const std::uint8_t* value, ULONG size, WS_ERROR* err) {
  HRESULT hr = set(o, t, id, value, size, err);
  CHECK_HR(hr, "Set %s property %u size %u", target_names[t], id, size);
  if (hr != S_OK) return;
  FUZZ_CHECK(!read_only(t, id), "Set of read-only %s property %u succeeded", target_names[t], id);
  FUZZ_CHECK(value != nullptr || size == 0, "Set %s property %u from NULL succeeded", target_names[t], id);
  std::uint8_t back[max_value];
  HRESULT g = checked_get(o, t, id, size, nullptr, false, back);
  // MULTICAST_INTERFACES is documented as Set but not Get (spec section 5).
  if (!(t == t_listener && id == WS_LISTENER_PROPERTY_MULTICAST_INTERFACES))
    FUZZ_CHECK(g == S_OK, "Set %s property %u size %u succeeded, Get returned %s", target_names[t], id, size,
               fuzz::hr_name(g));
  if (g == S_OK && size > 0)
    FUZZ_CHECK(std::memcmp(back, value, size) == 0, "%s property %u reads back other bytes than were set",
               target_names[t], id);
}

// One property of a Create call: the fuzzer keeps the bytes alive for the call.
struct prop_bytes {
  std::uint32_t id;
  ULONG size;
  bool null_value;
  alignas(16) std::uint8_t value[max_value];
};

void read_props(fuzz::reader& in, target t, std::vector<prop_bytes>& props) {
  std::size_t n = in.u8() % 6u;
  props.resize(n);
  for (auto& p : props) {
    p.id = pick_id(in, t);
    p.size = pick_size(in);
    std::uint8_t how = in.u8();
    p.null_value = (how & 0x0F) == 0x0F;
    in.bytes(p.value, p.size);
    if (holds_pointers(t, p.id)) std::memset(p.value, 0, p.size);
  }
}

// After a successful Create: each id given (the last one wins) that can be read back
// reads back as given, and none of them was read-only.
void check_created(objects& o, target t, const std::vector<prop_bytes>& props) {
  for (std::size_t i = 0; i < props.size(); ++i) {
    const prop_bytes& p = props[i];
    FUZZ_CHECK(!read_only(t, p.id), "Create %s with read-only property %u succeeded", target_names[t], p.id);
    FUZZ_CHECK(!p.null_value || p.size == 0, "Create %s with property %u NULL, size %u succeeded",
               target_names[t], p.id, p.size);
    bool later = false;
    for (std::size_t k = i + 1; k < props.size(); ++k) later |= props[k].id == p.id;
    if (later || p.null_value) continue;
    std::uint8_t back[max_value];
    if (checked_get(o, t, p.id, p.size, nullptr, false, back) == S_OK)
      FUZZ_CHECK(std::memcmp(back, p.value, p.size) == 0, "%s created with property %u reads back other bytes",
                 target_names[t], p.id);
  }
}

// Types and bindings stay plain integers in this file (an enum object holding an
// out-of-range value is itself undefined in C++); they become enums only as arguments.
std::uint32_t pick_channel_type(fuzz::reader& in) {
  static constexpr WS_CHANNEL_TYPE types[] = {
      WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_CHANNEL_TYPE_DUPLEX, WS_CHANNEL_TYPE_REPLY,  WS_CHANNEL_TYPE_REQUEST,
      WS_CHANNEL_TYPE_INPUT,          WS_CHANNEL_TYPE_OUTPUT, WS_CHANNEL_TYPE_SESSION, WS_CHANNEL_TYPE_INPUT_SESSION,
      WS_CHANNEL_TYPE_OUTPUT_SESSION};
  std::uint8_t b = in.u8();
  if (b >= 0xF0) return enum_value(in.u32(), 32);  // largest is 0x10
  return types[b % (sizeof types / sizeof types[0])];
}

std::uint32_t pick_binding(fuzz::reader& in) {
  std::uint8_t b = in.u8();
  if (b >= 0xF0) return enum_value(in.u32(), 8);  // largest is 4
  return b % 6u;  // the five bindings and one past them
}

template <typename P>
std::vector<P> as_array(const std::vector<prop_bytes>& props) {
  std::vector<P> out(props.size());
  for (std::size_t i = 0; i < props.size(); ++i) {
    out[i].id = static_cast<decltype(out[i].id)>(props[i].id);
    out[i].value = props[i].null_value ? nullptr : const_cast<std::uint8_t*>(props[i].value);
    out[i].valueSize = props[i].size;
  }
  return out;
}

void close_and_free_listener(WS_LISTENER* l) {
  if (!l) return;
  HRESULT hr = WsCloseListener(l, nullptr, nullptr);
  FUZZ_CHECK(hr == S_OK, "WsCloseListener at the end returned %s", fuzz::hr_name(hr));
  WsFreeListener(l);
}

void close_and_free_channel(WS_CHANNEL* c) {
  if (!c) return;
  HRESULT hr = WsCloseChannel(c, nullptr, nullptr);
  FUZZ_CHECK(hr == S_OK, "WsCloseChannel at the end returned %s", fuzz::hr_name(hr));
  WsFreeChannel(c);
}

// One Create of any kind with a property array from the input. On success the new
// object replaces the current one of its kind.
void op_create(fuzz::reader& in, objects& o, WS_ERROR* err) {
  target t = static_cast<target>(in.u8() % t_count);
  std::vector<prop_bytes> props;
  switch (t) {
    case t_listener: {
      std::uint32_t type = pick_channel_type(in);
      std::uint32_t binding = pick_binding(in);
      read_props(in, t, props);
      auto arr = as_array<WS_LISTENER_PROPERTY>(props);
      WS_LISTENER* l = nullptr;
      HRESULT hr = WsCreateListener(static_cast<WS_CHANNEL_TYPE>(type), static_cast<WS_CHANNEL_BINDING>(binding),
                                    arr.data(), static_cast<ULONG>(arr.size()), nullptr, &l, err);
      CHECK_HR(hr, "WsCreateListener(type 0x%X, binding %u, %zu properties)", type, binding, arr.size());
      if (hr != S_OK) return;
      // The channel made for the old listener goes with it.
      close_and_free_channel(o.listener_channel);
      o.listener_channel = nullptr;
      close_and_free_listener(o.listener);
      o.listener = l;
      check_created(o, t, props);
      HRESULT c = WsCreateChannelForListener(o.listener, nullptr, 0, &o.listener_channel, err);
      FUZZ_CHECK(c == S_OK, "WsCreateChannelForListener without properties returned %s", fuzz::hr_name(c));
      return;
    }
    case t_listener_channel: {
      read_props(in, t, props);
      auto arr = as_array<WS_CHANNEL_PROPERTY>(props);
      WS_CHANNEL* c = nullptr;
      HRESULT hr = WsCreateChannelForListener(o.listener, arr.data(), static_cast<ULONG>(arr.size()), &c, err);
      CHECK_HR(hr, "WsCreateChannelForListener(%zu properties)", arr.size());
      if (hr != S_OK) return;
      close_and_free_channel(o.listener_channel);
      o.listener_channel = c;
      check_created(o, t, props);
      return;
    }
    case t_client_channel: {
      std::uint32_t type = pick_channel_type(in);
      std::uint32_t binding = pick_binding(in);
      read_props(in, t, props);
      auto arr = as_array<WS_CHANNEL_PROPERTY>(props);
      WS_CHANNEL* c = nullptr;
      HRESULT hr = WsCreateChannel(static_cast<WS_CHANNEL_TYPE>(type), static_cast<WS_CHANNEL_BINDING>(binding),
                                   arr.data(), static_cast<ULONG>(arr.size()), nullptr, &c, err);
      CHECK_HR(hr, "WsCreateChannel(type 0x%X, binding %u, %zu properties)", type, binding, arr.size());
      if (hr != S_OK) return;
      close_and_free_channel(o.client_channel);
      o.client_channel = c;
      check_created(o, t, props);
      return;
    }
    default: {
      read_props(in, t, props);
      // Windows (spec section 8) refuses STRING_COUNT and ORIGINAL_ERROR_CODE at creation.
      bool result_id = false;
      for (const auto& p : props) result_id |= p.id == WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE;
      auto arr = as_array<WS_ERROR_PROPERTY>(props);
      WS_ERROR* e = nullptr;
      HRESULT hr = WsCreateError(arr.data(), static_cast<ULONG>(arr.size()), &e);
      CHECK_HR(hr, "WsCreateError(%zu properties)", arr.size());
      if (hr != S_OK) return;
      FUZZ_CHECK(!result_id, "WsCreateError with ORIGINAL_ERROR_CODE succeeded");
      WsFreeError(o.error);
      o.error = e;
      check_created(o, t, props);
      return;
    }
  }
}

ULONG string_count(WS_ERROR* e) {
  ULONG n = ~0u;
  FUZZ_CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, &n, sizeof n) == S_OK, "STRING_COUNT");
  return n;
}

// WS_ERROR strings: add, read by index, reset (spec section 8).
void op_error_strings(fuzz::reader& in, objects& o) {
  std::uint8_t how = in.u8();
  ULONG before = string_count(o.error);
  switch (how % 3) {
    case 0: {
      WCHAR text[16];
      ULONG len = in.u8() % 17u;
      in.bytes(text, len * sizeof(WCHAR));
      WS_STRING s{len, len ? text : nullptr};
      HRESULT hr = WsAddErrorString(o.error, &s);
      CHECK_HR(hr, "WsAddErrorString");
      if (hr == S_OK) {
        FUZZ_CHECK(string_count(o.error) == before + 1, "STRING_COUNT did not grow by one");
        WS_STRING back{};
        FUZZ_CHECK(WsGetErrorString(o.error, 0, &back) == S_OK, "WsGetErrorString(0) after an add");
        FUZZ_CHECK(back.length == len && (len == 0 || std::memcmp(back.chars, text, len * sizeof(WCHAR)) == 0),
                   "string 0 is not the one added last");
      }
      return;
    }
    case 1: {
      ULONG index = in.u8();
      WS_STRING s{0xDEAD, nullptr};
      HRESULT hr = WsGetErrorString(o.error, index, &s);
      CHECK_HR(hr, "WsGetErrorString(%u)", index);
      FUZZ_CHECK((hr == S_OK) == (index < before), "WsGetErrorString(%u) with %u strings: %s", index, before,
                 fuzz::hr_name(hr));
      if (hr == S_OK) {
        FUZZ_CHECK(s.length == 0 || s.chars, "error string %u: chars NULL", index);
        volatile unsigned sum = 0;
        for (ULONG i = 0; i < s.length; ++i) sum = sum + s.chars[i];
      } else {
        FUZZ_CHECK(s.length == 0xDEAD && !s.chars, "a failed WsGetErrorString wrote its output");
      }
      return;
    }
    default: {
      FUZZ_CHECK(WsResetError(o.error) == S_OK, "WsResetError");
      FUZZ_CHECK(string_count(o.error) == 0, "strings left after WsResetError");
      ULONG code = 1;
      FUZZ_CHECK(WsGetErrorProperty(o.error, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == S_OK &&
                     code == 0,
                 "ORIGINAL_ERROR_CODE left after WsResetError");
      return;
    }
  }
}

// State changes that make some properties readable or not (LOCAL_PORT, STATE).
void op_lifecycle(fuzz::reader& in, objects& o, WS_ERROR* err) {
  static WCHAR url_text[] = u"net.tcp://127.0.0.1:0/";
  static WS_STRING url = WS_STRING_VALUE(url_text);
  HRESULT hr;
  switch (in.u8() % 8) {
    case 0:
      hr = WsOpenListener(o.listener, &url, nullptr, err);
      // A listener from op_create may be UDP/HTTP (not implemented) or IPv6-only.
      FUZZ_CHECK(allowed(hr) || hr == WS_E_ADDRESS_NOT_AVAILABLE, "WsOpenListener returned 0x%08X (%s)",
                 static_cast<unsigned>(hr), fuzz::hr_name(hr));
      return;
    case 1:
      hr = WsCloseListener(o.listener, nullptr, err);
      break;
    case 2:
      hr = WsAbortListener(o.listener, err);
      break;
    case 3:
      hr = WsResetListener(o.listener, err);
      break;
    case 4:
      hr = WsCloseChannel(o.listener_channel, nullptr, err);
      break;
    case 5:
      hr = WsResetChannel(in.u8() & 1 ? o.listener_channel : o.client_channel, err);
      break;
    case 6:
      hr = WsAbortChannel(in.u8() & 1 ? o.listener_channel : o.client_channel, err);
      break;
    default:
      hr = WsCloseChannel(o.client_channel, nullptr, err);
      break;
  }
  CHECK_HR(hr, "lifecycle call");
}

// The runtime (I/O thread) starts with the first object and stops with the last; one
// object kept for the whole process keeps it from restarting for every input.
WS_LISTENER* keep_runtime() {
  WS_LISTENER* l = nullptr;
  if (WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, nullptr) !=
      S_OK)
    fuzz::violation("cannot create the runtime-keeping listener");
  return l;
}

}  // namespace

// Byte layout, repeated until the input ends: one op byte (op % 6), then its operands.
//   0 Get: target, id, size, flags (bit 0 value NULL, bit 1 pass the WS_ERROR)
//   1 Set: target, id, size, flags, value bytes (size of them)
//   2 Create: kind, [type, binding,] count, then per property: id, size, flags, bytes
//   3 error strings: how, operands
//   4 lifecycle: which call
//   5 Get with the size most ids take (4; 2 or 8 for the ids that differ), to reach the
//     success path more often: target, id
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static WS_LISTENER* keeper = keep_runtime();
  (void)keeper;
  const int fds_before = fuzz::open_fds();
  objects o;
  FUZZ_CHECK(WsCreateError(nullptr, 0, &o.error) == S_OK, "WsCreateError");
  FUZZ_CHECK(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr,
                              &o.listener, nullptr) == S_OK,
             "WsCreateListener");
  FUZZ_CHECK(WsCreateChannelForListener(o.listener, nullptr, 0, &o.listener_channel, nullptr) == S_OK,
             "WsCreateChannelForListener");
  FUZZ_CHECK(WsCreateChannel(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr,
                             &o.client_channel, nullptr) == S_OK,
             "WsCreateChannel");

  fuzz::reader in(data, size);
  for (int ops = 0; !in.empty() && ops < 256; ++ops) {
    std::uint8_t op = in.u8() % 6;
    // A WS_ERROR is passed to about half the calls; strings pile up until a reset.
    switch (op) {
      case 0: {
        target t = static_cast<target>(in.u8() % t_count);
        std::uint32_t id = pick_id(in, t);
        ULONG sz = pick_size(in);
        std::uint8_t fl = in.u8();
        checked_get(o, t, id, sz, (fl & 2) ? o.error : nullptr, (fl & 1) != 0);
        break;
      }
      case 1: {
        target t = static_cast<target>(in.u8() % t_count);
        std::uint32_t id = pick_id(in, t);
        ULONG sz = pick_size(in);
        std::uint8_t fl = in.u8();
        alignas(16) std::uint8_t value[max_value];
        in.bytes(value, sz);
        if (holds_pointers(t, id)) std::memset(value, 0, sz);
        check_set(o, t, id, (fl & 1) ? nullptr : value, sz, (fl & 2) ? o.error : nullptr);
        break;
      }
      case 2:
        op_create(in, o, (in.u8() & 1) ? o.error : nullptr);
        break;
      case 3:
        op_error_strings(in, o);
        break;
      case 4:
        op_lifecycle(in, o, (in.u8() & 1) ? o.error : nullptr);
        break;
      default: {
        target t = static_cast<target>(in.u8() % t_count);
        std::uint32_t id = pick_id(in, t);
        ULONG sz = 4;
        if (t == t_listener && id == OPENWWS_LISTENER_PROPERTY_LOCAL_PORT) sz = sizeof(USHORT);
        if (t == t_listener && id == OPENWWS_LISTENER_PROPERTY_BACKEND_NAME) sz = sizeof(const char*);
        if (t == t_error && id == WS_ERROR_PROPERTY_LANGID) sz = sizeof(LANGID);
        checked_get(o, t, id, sz, nullptr, false);
        break;
      }
    }
  }

  close_and_free_channel(o.listener_channel);
  close_and_free_channel(o.client_channel);
  close_and_free_listener(o.listener);
  WsFreeError(o.error);
  const int fds_after = fuzz::open_fds_settled(fds_before);
  FUZZ_CHECK(fds_after == fds_before, "descriptors before the input: %d, after: %d", fds_before, fds_after);
  return 0;
}
