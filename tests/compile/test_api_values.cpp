// SPDX-License-Identifier: MIT
// Checks that api/webservices.h matches the Windows SDK: type widths, HRESULT
// values, enum values, struct layouts and exact Ws* function signatures.
// Values are taken from shared/spec/wwsapi.md (SDK values, not the 0x804D...
// misprints of the "Windows Web Services Return Values" page).

#include <webservices.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace {

// Base types: Windows widths on LP64 (spec section 1).
static_assert(sizeof(ULONG) == 4);
static_assert(sizeof(LONG) == 4);
static_assert(sizeof(BOOL) == 4);
static_assert(sizeof(WCHAR) == 2);
static_assert(sizeof(LANGID) == 2);
static_assert(sizeof(USHORT) == 2);
static_assert(sizeof(WORD) == 2);
static_assert(sizeof(BYTE) == 1);
static_assert(sizeof(HRESULT) == 4);
static_assert(sizeof(ULONGLONG) == 8);
static_assert(sizeof(INT64) == 8);
static_assert(sizeof(UINT64) == 8);
static_assert(sizeof(SIZE_T) == sizeof(void *));
static_assert(std::is_signed_v<LONG> && std::is_signed_v<HRESULT>);
static_assert(std::is_unsigned_v<ULONG> && std::is_unsigned_v<USHORT>);
static_assert(std::is_same_v<WCHAR, char16_t>);  // so u"..." literals fit
static_assert(std::is_same_v<SOCKADDR_STORAGE, struct sockaddr_storage>);
static_assert(TRUE == 1 && FALSE == 0);
static_assert((uint32_t)INFINITE == 0xFFFFFFFFu);

// Every enum is int-sized (properties typed as an enum have valueSize 4).
static_assert(sizeof(WS_LISTENER_STATE) == 4);
static_assert(sizeof(WS_LISTENER_PROPERTY_ID) == 4);
static_assert(sizeof(WS_CHANNEL_TYPE) == 4);
static_assert(sizeof(WS_CHANNEL_BINDING) == 4);
static_assert(sizeof(WS_IP_VERSION) == 4);
static_assert(sizeof(WS_CALLBACK_MODEL) == 4);
static_assert(sizeof(WS_CHANNEL_STATE) == 4);
static_assert(sizeof(WS_URL_SCHEME_TYPE) == 4);
static_assert(sizeof(WS_ENCODING) == 4);
static_assert(sizeof(WS_ENVELOPE_VERSION) == 4);
static_assert(sizeof(WS_ADDRESSING_VERSION) == 4);
static_assert(sizeof(WS_TRANSFER_MODE) == 4);
static_assert(sizeof(WS_ERROR_PROPERTY_ID) == 4);
static_assert(sizeof(WS_CHANNEL_PROPERTY_ID) == 4);
static_assert(sizeof(WS_HEAP_PROPERTY_ID) == 4);
static_assert(sizeof(WS_PROTECTION_LEVEL) == 4);
static_assert(sizeof(WS_COOKIE_MODE) == 4);
static_assert(sizeof(WS_HTTP_PROXY_SETTING_MODE) == 4);
static_assert(sizeof(WS_ENDPOINT_IDENTITY_TYPE) == 4);

// Generic HRESULTs (spec 2.1) and WWSAPI codes (spec 2.2).
static_assert((uint32_t)S_OK == 0x00000000u);
static_assert((uint32_t)S_FALSE == 0x00000001u);
static_assert((uint32_t)E_NOTIMPL == 0x80004001u);
static_assert((uint32_t)E_POINTER == 0x80004003u);
static_assert((uint32_t)E_ABORT == 0x80004004u);
static_assert((uint32_t)E_FAIL == 0x80004005u);
static_assert((uint32_t)E_UNEXPECTED == 0x8000FFFFu);
static_assert((uint32_t)E_ACCESSDENIED == 0x80070005u);
static_assert((uint32_t)E_OUTOFMEMORY == 0x8007000Eu);
static_assert((uint32_t)E_INVALIDARG == 0x80070057u);
static_assert((uint32_t)WS_S_ASYNC == 0x003D0000u);
static_assert((uint32_t)WS_S_END == 0x003D0001u);
static_assert((uint32_t)WS_E_INVALID_FORMAT == 0x803D0000u);
static_assert((uint32_t)WS_E_OBJECT_FAULTED == 0x803D0001u);
static_assert((uint32_t)WS_E_NUMERIC_OVERFLOW == 0x803D0002u);
static_assert((uint32_t)WS_E_INVALID_OPERATION == 0x803D0003u);
static_assert((uint32_t)WS_E_OPERATION_ABORTED == 0x803D0004u);
static_assert((uint32_t)WS_E_ENDPOINT_ACCESS_DENIED == 0x803D0005u);
static_assert((uint32_t)WS_E_OPERATION_TIMED_OUT == 0x803D0006u);
static_assert((uint32_t)WS_E_OPERATION_ABANDONED == 0x803D0007u);
static_assert((uint32_t)WS_E_QUOTA_EXCEEDED == 0x803D0008u);
static_assert((uint32_t)WS_E_NO_TRANSLATION_AVAILABLE == 0x803D0009u);
static_assert((uint32_t)WS_E_SECURITY_VERIFICATION_FAILURE == 0x803D000Au);
static_assert((uint32_t)WS_E_ADDRESS_IN_USE == 0x803D000Bu);
static_assert((uint32_t)WS_E_ADDRESS_NOT_AVAILABLE == 0x803D000Cu);
static_assert((uint32_t)WS_E_ENDPOINT_NOT_FOUND == 0x803D000Du);
static_assert((uint32_t)WS_E_ENDPOINT_NOT_AVAILABLE == 0x803D000Eu);
static_assert((uint32_t)WS_E_ENDPOINT_FAILURE == 0x803D000Fu);
static_assert((uint32_t)WS_E_ENDPOINT_UNREACHABLE == 0x803D0010u);
static_assert((uint32_t)WS_E_ENDPOINT_ACTION_NOT_SUPPORTED == 0x803D0011u);
static_assert((uint32_t)WS_E_ENDPOINT_TOO_BUSY == 0x803D0012u);
static_assert((uint32_t)WS_E_ENDPOINT_FAULT_RECEIVED == 0x803D0013u);
static_assert((uint32_t)WS_E_ENDPOINT_DISCONNECTED == 0x803D0014u);
static_assert((uint32_t)WS_E_PROXY_FAILURE == 0x803D0015u);
static_assert((uint32_t)WS_E_PROXY_ACCESS_DENIED == 0x803D0016u);
static_assert((uint32_t)WS_E_NOT_SUPPORTED == 0x803D0017u);
static_assert((uint32_t)WS_E_PROXY_REQUIRES_BASIC_AUTH == 0x803D0018u);
static_assert((uint32_t)WS_E_PROXY_REQUIRES_DIGEST_AUTH == 0x803D0019u);
static_assert((uint32_t)WS_E_PROXY_REQUIRES_NTLM_AUTH == 0x803D001Au);
static_assert((uint32_t)WS_E_PROXY_REQUIRES_NEGOTIATE_AUTH == 0x803D001Bu);
static_assert((uint32_t)WS_E_SERVER_REQUIRES_BASIC_AUTH == 0x803D001Cu);
static_assert((uint32_t)WS_E_SERVER_REQUIRES_DIGEST_AUTH == 0x803D001Du);
static_assert((uint32_t)WS_E_SERVER_REQUIRES_NTLM_AUTH == 0x803D001Eu);
static_assert((uint32_t)WS_E_SERVER_REQUIRES_NEGOTIATE_AUTH == 0x803D001Fu);
static_assert((uint32_t)WS_E_INVALID_ENDPOINT_URL == 0x803D0020u);
static_assert((uint32_t)WS_E_OTHER == 0x803D0021u);
static_assert((uint32_t)WS_E_SECURITY_TOKEN_EXPIRED == 0x803D0022u);
static_assert((uint32_t)WS_E_SECURITY_SYSTEM_FAILURE == 0x803D0023u);
static_assert(NO_ERROR == 0 && NOERROR == 0);
static_assert(std::is_same_v<decltype(WS_E_OPERATION_ABORTED), HRESULT>);
static_assert(WS_E_OPERATION_ABORTED < 0);  // signed: FAILED() works
static_assert(FAILED(WS_E_INVALID_FORMAT) && FAILED(E_INVALIDARG));
static_assert(SUCCEEDED(S_OK) && SUCCEEDED(S_FALSE));
static_assert(SUCCEEDED(WS_S_ASYNC) && SUCCEEDED(WS_S_END));

// HRESULT helpers (spec 2.3).
static_assert(FACILITY_WIN32 == 7);
static_assert((uint32_t)MAKE_HRESULT(1, 0x3D, 4) == 0x803D0004u);
static_assert((uint32_t)MAKE_HRESULT(0, 0x3D, 1) == 0x003D0001u);
static_assert((uint32_t)HRESULT_FROM_WIN32(10048) == 0x80072740u);
static_assert((uint32_t)HRESULT_FROM_WIN32(10049) == 0x80072741u);
static_assert((uint32_t)HRESULT_FROM_WIN32(10060) == 0x8007274Cu);
static_assert((uint32_t)HRESULT_FROM_WIN32(10061) == 0x8007274Du);
static_assert((uint32_t)HRESULT_FROM_WIN32(995) == 0x800703E3u);
static_assert((uint32_t)HRESULT_FROM_WIN32(5) == 0x80070005u);
static_assert((uint32_t)HRESULT_FROM_WIN32(14) == 0x8007000Eu);
static_assert((uint32_t)HRESULT_FROM_WIN32(87) == 0x80070057u);
static_assert(HRESULT_FROM_WIN32(0) == S_OK);
static_assert(HRESULT_FROM_WIN32(E_FAIL) == E_FAIL);  // <= 0 passes through

// Enum values (spec sections 4, 5, 5.1, 6 and 8).
static_assert(WS_LISTENER_STATE_CREATED == 0);
static_assert(WS_LISTENER_STATE_OPENING == 1);
static_assert(WS_LISTENER_STATE_OPEN == 2);
static_assert(WS_LISTENER_STATE_FAULTED == 3);
static_assert(WS_LISTENER_STATE_CLOSING == 4);
static_assert(WS_LISTENER_STATE_CLOSED == 5);
static_assert(WS_LISTENER_PROPERTY_LISTEN_BACKLOG == 0);
static_assert(WS_LISTENER_PROPERTY_IP_VERSION == 1);
static_assert(WS_LISTENER_PROPERTY_STATE == 2);
static_assert(WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL == 3);
static_assert(WS_LISTENER_PROPERTY_CHANNEL_TYPE == 4);
static_assert(WS_LISTENER_PROPERTY_CHANNEL_BINDING == 5);
static_assert(WS_LISTENER_PROPERTY_CONNECT_TIMEOUT == 6);
static_assert(WS_LISTENER_PROPERTY_IS_MULTICAST == 7);
static_assert(WS_LISTENER_PROPERTY_MULTICAST_INTERFACES == 8);
static_assert(WS_LISTENER_PROPERTY_MULTICAST_LOOPBACK == 9);
static_assert(WS_LISTENER_PROPERTY_CLOSE_TIMEOUT == 10);
static_assert(WS_LISTENER_PROPERTY_TO_HEADER_MATCHING_OPTIONS == 11);
static_assert(WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS == 12);
static_assert(WS_LISTENER_PROPERTY_CUSTOM_LISTENER_CALLBACKS == 13);
static_assert(WS_LISTENER_PROPERTY_CUSTOM_LISTENER_PARAMETERS == 14);
static_assert(WS_LISTENER_PROPERTY_CUSTOM_LISTENER_INSTANCE == 15);
static_assert(WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT == 16);
static_assert(WS_MATCH_URL_DNS_HOST == 0x1);
static_assert(WS_MATCH_URL_DNS_FULLY_QUALIFIED_HOST == 0x2);
static_assert(WS_MATCH_URL_NETBIOS_HOST == 0x4);
static_assert(WS_MATCH_URL_LOCAL_HOST == 0x8);
static_assert(WS_MATCH_URL_HOST_ADDRESSES == 0x10);
static_assert(WS_MATCH_URL_THIS_HOST == 0x1F);
static_assert(WS_MATCH_URL_PORT == 0x20);
static_assert(WS_MATCH_URL_EXACT_PATH == 0x40);
static_assert(WS_MATCH_URL_PREFIX_PATH == 0x80);
static_assert(WS_MATCH_URL_NO_QUERY == 0x100);
static_assert(WS_CHANNEL_TYPE_INPUT == 0x1);
static_assert(WS_CHANNEL_TYPE_OUTPUT == 0x2);
static_assert(WS_CHANNEL_TYPE_SESSION == 0x4);
static_assert(WS_CHANNEL_TYPE_INPUT_SESSION == 0x5);
static_assert(WS_CHANNEL_TYPE_OUTPUT_SESSION == 0x6);
static_assert(WS_CHANNEL_TYPE_DUPLEX == 0x3);
static_assert(WS_CHANNEL_TYPE_DUPLEX_SESSION == 0x7);
static_assert(WS_CHANNEL_TYPE_REQUEST == 0x8);
static_assert(WS_CHANNEL_TYPE_REPLY == 0x10);
static_assert(WS_HTTP_CHANNEL_BINDING == 0);
static_assert(WS_TCP_CHANNEL_BINDING == 1);
static_assert(WS_UDP_CHANNEL_BINDING == 2);
static_assert(WS_CUSTOM_CHANNEL_BINDING == 3);
static_assert(WS_NAMEDPIPE_CHANNEL_BINDING == 4);
static_assert(WS_IP_VERSION_4 == 1);
static_assert(WS_IP_VERSION_6 == 2);
static_assert(WS_IP_VERSION_AUTO == 3);
static_assert(WS_SHORT_CALLBACK == 0);
static_assert(WS_LONG_CALLBACK == 1);
static_assert(WS_CHANNEL_STATE_CREATED == 0);
static_assert(WS_CHANNEL_STATE_OPENING == 1);
static_assert(WS_CHANNEL_STATE_ACCEPTING == 2);
static_assert(WS_CHANNEL_STATE_OPEN == 3);
static_assert(WS_CHANNEL_STATE_FAULTED == 4);
static_assert(WS_CHANNEL_STATE_CLOSING == 5);
static_assert(WS_CHANNEL_STATE_CLOSED == 6);
static_assert(WS_URL_HTTP_SCHEME_TYPE == 0);
static_assert(WS_URL_HTTPS_SCHEME_TYPE == 1);
static_assert(WS_URL_NETTCP_SCHEME_TYPE == 2);
static_assert(WS_URL_SOAPUDP_SCHEME_TYPE == 3);
static_assert(WS_URL_NETPIPE_SCHEME_TYPE == 4);
static_assert(WS_URL_FLAGS_ALLOW_HOST_WILDCARDS == 0x1);
static_assert(WS_URL_FLAGS_NO_PATH_COLLAPSE == 0x2);
static_assert(WS_URL_FLAGS_ZERO_TERMINATE == 0x4);
static_assert(WS_ENCODING_XML_BINARY_1 == 0);
static_assert(WS_ENCODING_XML_BINARY_SESSION_1 == 1);
static_assert(WS_ENCODING_XML_MTOM_UTF8 == 2);
static_assert(WS_ENCODING_XML_MTOM_UTF16BE == 3);
static_assert(WS_ENCODING_XML_MTOM_UTF16LE == 4);
static_assert(WS_ENCODING_XML_UTF8 == 5);
static_assert(WS_ENCODING_XML_UTF16BE == 6);
static_assert(WS_ENCODING_XML_UTF16LE == 7);
static_assert(WS_ENCODING_RAW == 8);
static_assert(WS_ENVELOPE_VERSION_SOAP_1_1 == 1);
static_assert(WS_ENVELOPE_VERSION_SOAP_1_2 == 2);
static_assert(WS_ENVELOPE_VERSION_NONE == 3);
static_assert(WS_ADDRESSING_VERSION_0_9 == 1);
static_assert(WS_ADDRESSING_VERSION_1_0 == 2);
static_assert(WS_ADDRESSING_VERSION_TRANSPORT == 3);
static_assert(WS_BUFFERED_TRANSFER_MODE == 0x0);
static_assert(WS_STREAMED_INPUT_TRANSFER_MODE == 0x1);
static_assert(WS_STREAMED_OUTPUT_TRANSFER_MODE == 0x2);
static_assert(WS_STREAMED_TRANSFER_MODE == 0x3);
static_assert(WS_ERROR_PROPERTY_STRING_COUNT == 0);
static_assert(WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE == 1);
static_assert(WS_ERROR_PROPERTY_LANGID == 2);

// Channel property ids (spec 9.4).
static_assert(WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE == 0);
static_assert(WS_CHANNEL_PROPERTY_MAX_STREAMED_MESSAGE_SIZE == 1);
static_assert(WS_CHANNEL_PROPERTY_MAX_STREAMED_START_SIZE == 2);
static_assert(WS_CHANNEL_PROPERTY_MAX_STREAMED_FLUSH_SIZE == 3);
static_assert(WS_CHANNEL_PROPERTY_ENCODING == 4);
static_assert(WS_CHANNEL_PROPERTY_ENVELOPE_VERSION == 5);
static_assert(WS_CHANNEL_PROPERTY_ADDRESSING_VERSION == 6);
static_assert(WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE == 7);
static_assert(WS_CHANNEL_PROPERTY_STATE == 8);
static_assert(WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL == 9);
static_assert(WS_CHANNEL_PROPERTY_IP_VERSION == 10);
static_assert(WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT == 11);
static_assert(WS_CHANNEL_PROPERTY_CONNECT_TIMEOUT == 12);
static_assert(WS_CHANNEL_PROPERTY_SEND_TIMEOUT == 13);
static_assert(WS_CHANNEL_PROPERTY_RECEIVE_RESPONSE_TIMEOUT == 14);
static_assert(WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT == 15);
static_assert(WS_CHANNEL_PROPERTY_CLOSE_TIMEOUT == 16);
static_assert(WS_CHANNEL_PROPERTY_ENABLE_TIMEOUTS == 17);
static_assert(WS_CHANNEL_PROPERTY_TRANSFER_MODE == 18);
static_assert(WS_CHANNEL_PROPERTY_MULTICAST_INTERFACE == 19);
static_assert(WS_CHANNEL_PROPERTY_MULTICAST_HOPS == 20);
static_assert(WS_CHANNEL_PROPERTY_REMOTE_ADDRESS == 21);
static_assert(WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS == 22);
static_assert(WS_CHANNEL_PROPERTY_HTTP_CONNECTION_ID == 23);
static_assert(WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_CALLBACKS == 24);
static_assert(WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_PARAMETERS == 25);
static_assert(WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_INSTANCE == 26);
static_assert(WS_CHANNEL_PROPERTY_TRANSPORT_URL == 27);
static_assert(WS_CHANNEL_PROPERTY_NO_DELAY == 28);
static_assert(WS_CHANNEL_PROPERTY_SEND_KEEP_ALIVES == 29);
static_assert(WS_CHANNEL_PROPERTY_KEEP_ALIVE_TIME == 30);
static_assert(WS_CHANNEL_PROPERTY_KEEP_ALIVE_INTERVAL == 31);
static_assert(WS_CHANNEL_PROPERTY_MAX_HTTP_SERVER_CONNECTIONS == 32);
static_assert(WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN == 33);
static_assert(WS_CHANNEL_PROPERTY_CHANNEL_TYPE == 34);
static_assert(WS_CHANNEL_PROPERTY_TRIM_BUFFERED_MESSAGE_SIZE == 35);
static_assert(WS_CHANNEL_PROPERTY_ENCODER == 36);
static_assert(WS_CHANNEL_PROPERTY_DECODER == 37);
static_assert(WS_CHANNEL_PROPERTY_PROTECTION_LEVEL == 38);
static_assert(WS_CHANNEL_PROPERTY_COOKIE_MODE == 39);
static_assert(WS_CHANNEL_PROPERTY_HTTP_PROXY_SETTING_MODE == 40);
static_assert(WS_CHANNEL_PROPERTY_CUSTOM_HTTP_PROXY == 41);
static_assert(WS_CHANNEL_PROPERTY_HTTP_MESSAGE_MAPPING == 42);
static_assert(WS_CHANNEL_PROPERTY_ENABLE_HTTP_REDIRECT == 43);
static_assert(WS_CHANNEL_PROPERTY_HTTP_REDIRECT_CALLBACK_CONTEXT == 44);
static_assert(WS_CHANNEL_PROPERTY_FAULTS_AS_ERRORS == 45);
static_assert(WS_CHANNEL_PROPERTY_ALLOW_UNSECURED_FAULTS == 46);
static_assert(WS_CHANNEL_PROPERTY_HTTP_SERVER_SPN == 47);
static_assert(WS_CHANNEL_PROPERTY_HTTP_PROXY_SPN == 48);
static_assert(WS_CHANNEL_PROPERTY_MAX_HTTP_REQUEST_HEADERS_BUFFER_SIZE == 49);

// Heap property ids, and the cheap extra enums taken from Wine's header.
static_assert(WS_HEAP_PROPERTY_MAX_SIZE == 0);
static_assert(WS_HEAP_PROPERTY_TRIM_SIZE == 1);
static_assert(WS_HEAP_PROPERTY_REQUESTED_SIZE == 2);
static_assert(WS_HEAP_PROPERTY_ACTUAL_SIZE == 3);
static_assert(WS_PROTECTION_LEVEL_NONE == 1);
static_assert(WS_PROTECTION_LEVEL_SIGN == 2);
static_assert(WS_PROTECTION_LEVEL_SIGN_AND_ENCRYPT == 3);
static_assert(WS_MANUAL_COOKIE_MODE == 1);
static_assert(WS_AUTO_COOKIE_MODE == 2);
static_assert(WS_HTTP_PROXY_SETTING_MODE_AUTO == 1);
static_assert(WS_HTTP_PROXY_SETTING_MODE_NONE == 2);
static_assert(WS_HTTP_PROXY_SETTING_MODE_CUSTOM == 3);
static_assert(WS_DNS_ENDPOINT_IDENTITY_TYPE == 1);
static_assert(WS_UPN_ENDPOINT_IDENTITY_TYPE == 2);
static_assert(WS_SPN_ENDPOINT_IDENTITY_TYPE == 3);
static_assert(WS_RSA_ENDPOINT_IDENTITY_TYPE == 4);
static_assert(WS_CERT_ENDPOINT_IDENTITY_TYPE == 5);
static_assert(WS_UNKNOWN_ENDPOINT_IDENTITY_TYPE == 6);

// Derived flag values agree with their parts.
static_assert(WS_MATCH_URL_THIS_HOST == (WS_MATCH_URL_DNS_HOST | WS_MATCH_URL_DNS_FULLY_QUALIFIED_HOST |
                                         WS_MATCH_URL_NETBIOS_HOST | WS_MATCH_URL_LOCAL_HOST |
                                         WS_MATCH_URL_HOST_ADDRESSES));
static_assert((WS_MATCH_URL_THIS_HOST | WS_MATCH_URL_EXACT_PATH | WS_MATCH_URL_PORT |
               WS_MATCH_URL_NO_QUERY) == 0x17F);  // documented matching default

// openwws extension: outside Microsoft's listener property id range.
static_assert(OPENWWS_LISTENER_PROPERTY_BACKEND_NAME == 0x10000);
static_assert(std::is_same_v<decltype(OPENWWS_LISTENER_PROPERTY_BACKEND_NAME), WS_LISTENER_PROPERTY_ID>);
static_assert(OPENWWS_LISTENER_PROPERTY_BACKEND_NAME > WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT);

// Struct layouts: natural alignment, no packing (spec section 1). The exact
// byte counts below are those of an LP64 target (x86_64, aarch64).
static_assert(sizeof(GUID) == 16);
static_assert(offsetof(WS_STRING, length) == 0);
static_assert(offsetof(WS_STRING, chars) == sizeof(void *));
static_assert(offsetof(WS_LISTENER_PROPERTY, id) == 0);
static_assert(offsetof(WS_LISTENER_PROPERTY, value) == sizeof(void *));
static_assert(offsetof(WS_LISTENER_PROPERTY, valueSize) == 2 * sizeof(void *));
static_assert(offsetof(WS_CHANNEL_PROPERTY, value) == offsetof(WS_LISTENER_PROPERTY, value));
static_assert(offsetof(WS_CHANNEL_PROPERTY, valueSize) == offsetof(WS_LISTENER_PROPERTY, valueSize));
static_assert(sizeof(WS_CHANNEL_PROPERTY) == sizeof(WS_LISTENER_PROPERTY));
static_assert(sizeof(WS_ERROR_PROPERTY) == sizeof(WS_LISTENER_PROPERTY));
static_assert(sizeof(WS_HEAP_PROPERTY) == sizeof(WS_LISTENER_PROPERTY));
static_assert(offsetof(WS_ASYNC_CONTEXT, callback) == 0);
static_assert(offsetof(WS_ASYNC_CONTEXT, callbackState) == sizeof(void *));
static_assert(sizeof(WS_ASYNC_STATE) == 5 * sizeof(void *));
static_assert(sizeof(WS_ASYNC_OPERATION) == sizeof(void *));
static_assert(sizeof(WS_CUSTOM_LISTENER_CALLBACKS) == 10 * sizeof(void *));
static_assert(offsetof(WS_CUSTOM_LISTENER_CALLBACKS, createListenerCallback) == 0);
static_assert(offsetof(WS_CUSTOM_LISTENER_CALLBACKS, acceptChannelCallback) == 9 * sizeof(void *));
static_assert(offsetof(WS_ENDPOINT_ADDRESS, url) == 0);
static_assert(offsetof(WS_ENDPOINT_ADDRESS, headers) == sizeof(WS_STRING));
static_assert(offsetof(WS_ENDPOINT_ADDRESS, identity) == sizeof(WS_STRING) + 2 * sizeof(void *));
static_assert(offsetof(WS_URL, scheme) == 0);
static_assert(offsetof(WS_NETTCP_URL, url) == 0);
static_assert(offsetof(WS_NETTCP_URL, port) == offsetof(WS_NETTCP_URL, host) + sizeof(WS_STRING));
static_assert(offsetof(WS_HTTP_URL, fragment) == offsetof(WS_NETTCP_URL, fragment));
static_assert(offsetof(WS_HTTPS_URL, fragment) == offsetof(WS_NETTCP_URL, fragment));
static_assert(offsetof(WS_SOAPUDP_URL, fragment) == offsetof(WS_NETTCP_URL, fragment));
static_assert(offsetof(WS_NETPIPE_URL, fragment) == offsetof(WS_NETTCP_URL, fragment));
static_assert(offsetof(WS_SECURITY_DESCRIPTION, securityBindingCount) == sizeof(void *));
static_assert(offsetof(WS_SECURITY_DESCRIPTION, properties) == 2 * sizeof(void *));
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
static_assert(sizeof(WS_STRING) == 16);
static_assert(sizeof(WS_LISTENER_PROPERTY) == 24);
static_assert(offsetof(WS_LISTENER_PROPERTY, value) == 8);
static_assert(offsetof(WS_LISTENER_PROPERTY, valueSize) == 16);
static_assert(sizeof(WS_XML_STRING) == 32);
static_assert(sizeof(WS_BYTES) == 16);
static_assert(sizeof(WS_ENDPOINT_ADDRESS) == 40);
static_assert(sizeof(WS_DISALLOWED_USER_AGENT_SUBSTRINGS) == 16);
static_assert(sizeof(WS_SECURITY_DESCRIPTION) == 32);
static_assert(offsetof(WS_NETTCP_URL, host) == 8);
static_assert(offsetof(WS_NETTCP_URL, port) == 24);
static_assert(offsetof(WS_NETTCP_URL, portAsString) == 32);
static_assert(sizeof(WS_NETTCP_URL) == 96);
#endif

// WS_STRING_VALUE builds a counted string from a u"..." literal.
constexpr WS_STRING url_literal = WS_STRING_VALUE(u"net.tcp://+:808/");
static_assert(url_literal.length == 16);

// Callback types (spec 5.2 and 7).
static_assert(std::is_same_v<WS_ASYNC_CALLBACK, void (*)(HRESULT, WS_CALLBACK_MODEL, void *)>);
static_assert(std::is_same_v<WS_ASYNC_FUNCTION,
                             HRESULT (*)(HRESULT, WS_CALLBACK_MODEL, void *, WS_ASYNC_OPERATION *,
                                         const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
static_assert(std::is_same_v<WS_CREATE_LISTENER_CALLBACK,
                             HRESULT (*)(WS_CHANNEL_TYPE, const void *, ULONG, void **, WS_ERROR *)>);
static_assert(std::is_same_v<WS_FREE_LISTENER_CALLBACK, void (*)(void *)>);
static_assert(std::is_same_v<WS_RESET_LISTENER_CALLBACK, HRESULT (*)(void *, WS_ERROR *)>);
static_assert(std::is_same_v<WS_OPEN_LISTENER_CALLBACK,
                             HRESULT (*)(void *, const WS_STRING *, const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
static_assert(std::is_same_v<WS_CLOSE_LISTENER_CALLBACK,
                             HRESULT (*)(void *, const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
static_assert(std::is_same_v<WS_ABORT_LISTENER_CALLBACK, HRESULT (*)(void *, WS_ERROR *)>);
static_assert(std::is_same_v<WS_GET_LISTENER_PROPERTY_CALLBACK,
                             HRESULT (*)(void *, WS_LISTENER_PROPERTY_ID, void *, ULONG, WS_ERROR *)>);
static_assert(std::is_same_v<WS_SET_LISTENER_PROPERTY_CALLBACK,
                             HRESULT (*)(void *, WS_LISTENER_PROPERTY_ID, const void *, ULONG, WS_ERROR *)>);
static_assert(std::is_same_v<WS_CREATE_CHANNEL_FOR_LISTENER_CALLBACK,
                             HRESULT (*)(void *, const void *, ULONG, void **, WS_ERROR *)>);
static_assert(std::is_same_v<WS_ACCEPT_CHANNEL_CALLBACK,
                             HRESULT (*)(void *, void *, const WS_ASYNC_CONTEXT *, WS_ERROR *)>);

// Exact signatures of every declared function (spec 3, 8, 9.2, 10.1).
// Listener.
static_assert(std::is_same_v<decltype(&WsCreateListener),
                             HRESULT (*)(WS_CHANNEL_TYPE, WS_CHANNEL_BINDING, const WS_LISTENER_PROPERTY *,
                                         ULONG, const WS_SECURITY_DESCRIPTION *, WS_LISTENER **,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsOpenListener),
                             HRESULT (*)(WS_LISTENER *, const WS_STRING *, const WS_ASYNC_CONTEXT *,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsAcceptChannel),
                             HRESULT (*)(WS_LISTENER *, WS_CHANNEL *, const WS_ASYNC_CONTEXT *,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsCloseListener),
                             HRESULT (*)(WS_LISTENER *, const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsAbortListener), HRESULT (*)(WS_LISTENER *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsResetListener), HRESULT (*)(WS_LISTENER *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsFreeListener), void (*)(WS_LISTENER *)>);
static_assert(std::is_same_v<decltype(&WsGetListenerProperty),
                             HRESULT (*)(WS_LISTENER *, WS_LISTENER_PROPERTY_ID, void *, ULONG,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsSetListenerProperty),
                             HRESULT (*)(WS_LISTENER *, WS_LISTENER_PROPERTY_ID, const void *, ULONG,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsCreateChannelForListener),
                             HRESULT (*)(WS_LISTENER *, const WS_CHANNEL_PROPERTY *, ULONG, WS_CHANNEL **,
                                         WS_ERROR *)>);
// Channel.
static_assert(std::is_same_v<decltype(&WsCreateChannel),
                             HRESULT (*)(WS_CHANNEL_TYPE, WS_CHANNEL_BINDING, const WS_CHANNEL_PROPERTY *,
                                         ULONG, const WS_SECURITY_DESCRIPTION *, WS_CHANNEL **,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsOpenChannel),
                             HRESULT (*)(WS_CHANNEL *, const WS_ENDPOINT_ADDRESS *,
                                         const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsCloseChannel),
                             HRESULT (*)(WS_CHANNEL *, const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsAbortChannel), HRESULT (*)(WS_CHANNEL *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsResetChannel), HRESULT (*)(WS_CHANNEL *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsFreeChannel), void (*)(WS_CHANNEL *)>);
static_assert(std::is_same_v<decltype(&WsGetChannelProperty),
                             HRESULT (*)(WS_CHANNEL *, WS_CHANNEL_PROPERTY_ID, void *, ULONG,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsSetChannelProperty),
                             HRESULT (*)(WS_CHANNEL *, WS_CHANNEL_PROPERTY_ID, const void *, ULONG,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsShutdownSessionChannel),
                             HRESULT (*)(WS_CHANNEL *, const WS_ASYNC_CONTEXT *, WS_ERROR *)>);
// Error object.
static_assert(std::is_same_v<decltype(&WsCreateError),
                             HRESULT (*)(const WS_ERROR_PROPERTY *, ULONG, WS_ERROR **)>);
static_assert(std::is_same_v<decltype(&WsFreeError), void (*)(WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsResetError), HRESULT (*)(WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsGetErrorProperty),
                             HRESULT (*)(WS_ERROR *, WS_ERROR_PROPERTY_ID, void *, ULONG)>);
static_assert(std::is_same_v<decltype(&WsSetErrorProperty),
                             HRESULT (*)(WS_ERROR *, WS_ERROR_PROPERTY_ID, const void *, ULONG)>);
static_assert(std::is_same_v<decltype(&WsGetErrorString), HRESULT (*)(WS_ERROR *, ULONG, WS_STRING *)>);
static_assert(std::is_same_v<decltype(&WsAddErrorString), HRESULT (*)(WS_ERROR *, const WS_STRING *)>);
static_assert(std::is_same_v<decltype(&WsCopyError), HRESULT (*)(WS_ERROR *, WS_ERROR *)>);
// Heap.
static_assert(std::is_same_v<decltype(&WsCreateHeap),
                             HRESULT (*)(SIZE_T, SIZE_T, const WS_HEAP_PROPERTY *, ULONG, WS_HEAP **,
                                         WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsFreeHeap), void (*)(WS_HEAP *)>);
static_assert(std::is_same_v<decltype(&WsResetHeap), HRESULT (*)(WS_HEAP *, WS_ERROR *)>);
static_assert(std::is_same_v<decltype(&WsAlloc), HRESULT (*)(WS_HEAP *, SIZE_T, void **, WS_ERROR *)>);
// URL.
static_assert(std::is_same_v<decltype(&WsDecodeUrl),
                             HRESULT (*)(const WS_STRING *, ULONG, WS_HEAP *, WS_URL **, WS_ERROR *)>);

}  // namespace
