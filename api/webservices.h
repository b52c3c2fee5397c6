/* SPDX-License-Identifier: MIT */
/* Public C header of openwws: the listener side of Microsoft's WWSAPI
 * (webservices.h) with Windows type widths on Linux and macOS. */

#ifndef OPENWWS_WEBSERVICES_H
#define OPENWWS_WEBSERVICES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Windows base types with their Windows (LLP64) widths. Define             */
/* OPENWWS_NO_BASE_TYPES when a Windows-compat layer already provides them.  */
/* ------------------------------------------------------------------------ */

/* Every enum spans the whole int range in C++ too, as it does in C: a caller may pass
 * any 32-bit value (an id outside the list must give E_INVALIDARG, not undefined
 * behaviour when the library loads it). */
#ifdef __cplusplus
#define OPENWWS_ENUM_BASE : int
#else
#define OPENWWS_ENUM_BASE
#endif

#ifndef OPENWWS_NO_BASE_TYPES
typedef int32_t  LONG;        /* Windows long is 32 bits, even on 64-bit */
typedef uint32_t ULONG;
typedef LONG     HRESULT;
typedef int      BOOL;        /* 32 bits; TRUE = 1, FALSE = 0 */
typedef unsigned char BYTE;
typedef uint16_t USHORT;
typedef uint16_t WORD;
typedef WORD     LANGID;
#ifdef __cplusplus
typedef char16_t WCHAR;       /* UTF-16 code unit: u"..." literals */
#else
typedef uint_least16_t WCHAR; /* C11: the type of u"..." elements */
#endif
typedef size_t   SIZE_T;      /* ULONG_PTR: pointer-sized */
typedef uint64_t ULONGLONG;
typedef int64_t  INT64;
typedef uint64_t UINT64;
typedef struct sockaddr_storage SOCKADDR_STORAGE;
#endif /* OPENWWS_NO_BASE_TYPES */

/* GUID, as in Windows' guiddef.h (used by WS_XML_DICTIONARY). */
#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
    ULONG  Data1;
    USHORT Data2;
    USHORT Data3;
    BYTE   Data4[8];
} GUID;
#endif

/* Boolean values and calling-convention macros (no effect off Windows). */
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
#ifndef WINAPI
#define WINAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef INFINITE
#define INFINITE 0xFFFFFFFF
#endif

/* ------------------------------------------------------------------------ */
/* HRESULT helpers and generic codes (winerror.h values).                   */
/* ------------------------------------------------------------------------ */

#ifndef SUCCEEDED
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#endif
#ifndef FAILED
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#endif
#ifndef MAKE_HRESULT
#define MAKE_HRESULT(sev, fac, code) \
    ((HRESULT)(((ULONG)(sev) << 31) | ((ULONG)(fac) << 16) | ((ULONG)(code))))
#endif
#ifndef FACILITY_WIN32
#define FACILITY_WIN32 7
#endif
/* Values <= 0 pass through; others become 0x8007xxxx (low 16 bits kept). */
#ifndef HRESULT_FROM_WIN32
#define HRESULT_FROM_WIN32(x)                                            \
    ((HRESULT)(x) <= 0 ? ((HRESULT)(x))                                  \
                       : ((HRESULT)(((ULONG)(x) & 0x0000FFFFu) |         \
                                    ((ULONG)FACILITY_WIN32 << 16) |      \
                                    0x80000000u)))
#endif

#ifndef S_OK
#define S_OK ((HRESULT)0x00000000L)
#endif
#ifndef NO_ERROR
#define NO_ERROR 0
#endif
#ifndef NOERROR
#define NOERROR 0
#endif
#ifndef S_FALSE
#define S_FALSE ((HRESULT)0x00000001L)
#endif
#ifndef E_NOTIMPL
#define E_NOTIMPL ((HRESULT)0x80004001L)
#endif
#ifndef E_POINTER
#define E_POINTER ((HRESULT)0x80004003L)
#endif
#ifndef E_ABORT
#define E_ABORT ((HRESULT)0x80004004L)
#endif
#ifndef E_FAIL
#define E_FAIL ((HRESULT)0x80004005L)
#endif
#ifndef E_UNEXPECTED
#define E_UNEXPECTED ((HRESULT)0x8000FFFFL)
#endif
#ifndef E_ACCESSDENIED
#define E_ACCESSDENIED ((HRESULT)0x80070005L)
#endif
#ifndef E_OUTOFMEMORY
#define E_OUTOFMEMORY ((HRESULT)0x8007000EL)
#endif
#ifndef E_INVALIDARG
#define E_INVALIDARG ((HRESULT)0x80070057L)
#endif

/* ------------------------------------------------------------------------ */
/* WWSAPI codes, FACILITY_WEBSERVICES (0x3D), as in the SDK's winerror.h.    */
/* ------------------------------------------------------------------------ */

#ifndef WS_S_ASYNC
#define WS_S_ASYNC ((HRESULT)0x003D0000L)
#endif
#ifndef WS_S_END
#define WS_S_END ((HRESULT)0x003D0001L)
#endif
#ifndef WS_E_INVALID_FORMAT
#define WS_E_INVALID_FORMAT ((HRESULT)0x803D0000L)
#endif
#ifndef WS_E_OBJECT_FAULTED
#define WS_E_OBJECT_FAULTED ((HRESULT)0x803D0001L)
#endif
#ifndef WS_E_NUMERIC_OVERFLOW
#define WS_E_NUMERIC_OVERFLOW ((HRESULT)0x803D0002L)
#endif
#ifndef WS_E_INVALID_OPERATION
#define WS_E_INVALID_OPERATION ((HRESULT)0x803D0003L)
#endif
#ifndef WS_E_OPERATION_ABORTED
#define WS_E_OPERATION_ABORTED ((HRESULT)0x803D0004L)
#endif
#ifndef WS_E_ENDPOINT_ACCESS_DENIED
#define WS_E_ENDPOINT_ACCESS_DENIED ((HRESULT)0x803D0005L)
#endif
#ifndef WS_E_OPERATION_TIMED_OUT
#define WS_E_OPERATION_TIMED_OUT ((HRESULT)0x803D0006L)
#endif
#ifndef WS_E_OPERATION_ABANDONED
#define WS_E_OPERATION_ABANDONED ((HRESULT)0x803D0007L)
#endif
#ifndef WS_E_QUOTA_EXCEEDED
#define WS_E_QUOTA_EXCEEDED ((HRESULT)0x803D0008L)
#endif
#ifndef WS_E_NO_TRANSLATION_AVAILABLE
#define WS_E_NO_TRANSLATION_AVAILABLE ((HRESULT)0x803D0009L)
#endif
#ifndef WS_E_SECURITY_VERIFICATION_FAILURE
#define WS_E_SECURITY_VERIFICATION_FAILURE ((HRESULT)0x803D000AL)
#endif
#ifndef WS_E_ADDRESS_IN_USE
#define WS_E_ADDRESS_IN_USE ((HRESULT)0x803D000BL)
#endif
#ifndef WS_E_ADDRESS_NOT_AVAILABLE
#define WS_E_ADDRESS_NOT_AVAILABLE ((HRESULT)0x803D000CL)
#endif
#ifndef WS_E_ENDPOINT_NOT_FOUND
#define WS_E_ENDPOINT_NOT_FOUND ((HRESULT)0x803D000DL)
#endif
#ifndef WS_E_ENDPOINT_NOT_AVAILABLE
#define WS_E_ENDPOINT_NOT_AVAILABLE ((HRESULT)0x803D000EL)
#endif
#ifndef WS_E_ENDPOINT_FAILURE
#define WS_E_ENDPOINT_FAILURE ((HRESULT)0x803D000FL)
#endif
#ifndef WS_E_ENDPOINT_UNREACHABLE
#define WS_E_ENDPOINT_UNREACHABLE ((HRESULT)0x803D0010L)
#endif
#ifndef WS_E_ENDPOINT_ACTION_NOT_SUPPORTED
#define WS_E_ENDPOINT_ACTION_NOT_SUPPORTED ((HRESULT)0x803D0011L)
#endif
#ifndef WS_E_ENDPOINT_TOO_BUSY
#define WS_E_ENDPOINT_TOO_BUSY ((HRESULT)0x803D0012L)
#endif
#ifndef WS_E_ENDPOINT_FAULT_RECEIVED
#define WS_E_ENDPOINT_FAULT_RECEIVED ((HRESULT)0x803D0013L)
#endif
#ifndef WS_E_ENDPOINT_DISCONNECTED
#define WS_E_ENDPOINT_DISCONNECTED ((HRESULT)0x803D0014L)
#endif
#ifndef WS_E_PROXY_FAILURE
#define WS_E_PROXY_FAILURE ((HRESULT)0x803D0015L)
#endif
#ifndef WS_E_PROXY_ACCESS_DENIED
#define WS_E_PROXY_ACCESS_DENIED ((HRESULT)0x803D0016L)
#endif
#ifndef WS_E_NOT_SUPPORTED
#define WS_E_NOT_SUPPORTED ((HRESULT)0x803D0017L)
#endif
#ifndef WS_E_PROXY_REQUIRES_BASIC_AUTH
#define WS_E_PROXY_REQUIRES_BASIC_AUTH ((HRESULT)0x803D0018L)
#endif
#ifndef WS_E_PROXY_REQUIRES_DIGEST_AUTH
#define WS_E_PROXY_REQUIRES_DIGEST_AUTH ((HRESULT)0x803D0019L)
#endif
#ifndef WS_E_PROXY_REQUIRES_NTLM_AUTH
#define WS_E_PROXY_REQUIRES_NTLM_AUTH ((HRESULT)0x803D001AL)
#endif
#ifndef WS_E_PROXY_REQUIRES_NEGOTIATE_AUTH
#define WS_E_PROXY_REQUIRES_NEGOTIATE_AUTH ((HRESULT)0x803D001BL)
#endif
#ifndef WS_E_SERVER_REQUIRES_BASIC_AUTH
#define WS_E_SERVER_REQUIRES_BASIC_AUTH ((HRESULT)0x803D001CL)
#endif
#ifndef WS_E_SERVER_REQUIRES_DIGEST_AUTH
#define WS_E_SERVER_REQUIRES_DIGEST_AUTH ((HRESULT)0x803D001DL)
#endif
#ifndef WS_E_SERVER_REQUIRES_NTLM_AUTH
#define WS_E_SERVER_REQUIRES_NTLM_AUTH ((HRESULT)0x803D001EL)
#endif
#ifndef WS_E_SERVER_REQUIRES_NEGOTIATE_AUTH
#define WS_E_SERVER_REQUIRES_NEGOTIATE_AUTH ((HRESULT)0x803D001FL)
#endif
#ifndef WS_E_INVALID_ENDPOINT_URL
#define WS_E_INVALID_ENDPOINT_URL ((HRESULT)0x803D0020L)
#endif
#ifndef WS_E_OTHER
#define WS_E_OTHER ((HRESULT)0x803D0021L)
#endif
#ifndef WS_E_SECURITY_TOKEN_EXPIRED
#define WS_E_SECURITY_TOKEN_EXPIRED ((HRESULT)0x803D0022L)
#endif
#ifndef WS_E_SECURITY_SYSTEM_FAILURE
#define WS_E_SECURITY_SYSTEM_FAILURE ((HRESULT)0x803D0023L)
#endif

/* ------------------------------------------------------------------------ */
/* Opaque handle types: only ever used through pointers.                     */
/* ------------------------------------------------------------------------ */

typedef struct _WS_LISTENER WS_LISTENER;
typedef struct _WS_CHANNEL WS_CHANNEL;
typedef struct _WS_ERROR WS_ERROR;
typedef struct _WS_HEAP WS_HEAP;
typedef struct _WS_MESSAGE WS_MESSAGE;
typedef struct _WS_XML_BUFFER WS_XML_BUFFER;
typedef struct _WS_XML_READER WS_XML_READER;
typedef struct _WS_XML_WRITER WS_XML_WRITER;
typedef struct _WS_SERVICE_PROXY WS_SERVICE_PROXY;

/* Security binding and property are declared but not defined: openwws
 * implements no security, so only pointers to them are needed. */
typedef struct _WS_SECURITY_BINDING WS_SECURITY_BINDING;
typedef struct _WS_SECURITY_PROPERTY WS_SECURITY_PROPERTY;

/* Security description passed to WsCreateListener / WsCreateChannel. */
typedef struct _WS_SECURITY_DESCRIPTION {
    WS_SECURITY_BINDING  **securityBindings;
    ULONG                  securityBindingCount;
    WS_SECURITY_PROPERTY  *properties;
    ULONG                  propertyCount;
} WS_SECURITY_DESCRIPTION;

/* ------------------------------------------------------------------------ */
/* Strings and byte arrays.                                                  */
/* ------------------------------------------------------------------------ */

/* UTF-16 string, counted; not required to be NUL-terminated. */
typedef struct _WS_STRING {
    ULONG  length;   /* WCHARs, terminator (if any) not counted */
    WCHAR *chars;
} WS_STRING;

/* Initializer for a WS_STRING from a u"..." literal or WCHAR array. */
#define WS_STRING_VALUE(s) \
    { (ULONG)(sizeof(s) / sizeof((s)[0]) - 1), (WCHAR *)(s) }

struct _WS_XML_STRING;

/* Dictionary of UTF-8 strings used by the binary XML encodings. */
typedef struct _WS_XML_DICTIONARY {
    GUID                   guid;
    struct _WS_XML_STRING *strings;
    ULONG                  stringCount;
    BOOL                   isConst;
} WS_XML_DICTIONARY;

/* UTF-8 string, optionally a dictionary entry. */
typedef struct _WS_XML_STRING {
    ULONG              length;      /* bytes */
    BYTE              *bytes;
    WS_XML_DICTIONARY *dictionary;
    ULONG              id;
} WS_XML_STRING;

/* Initializer for a WS_XML_STRING from a "..." literal (no dictionary). */
#define WS_XML_STRING_VALUE(s) \
    { (ULONG)(sizeof(s) - 1), (BYTE *)(s), NULL, 0 }

/* Counted byte array. */
typedef struct _WS_BYTES {
    ULONG  length;
    BYTE  *bytes;
} WS_BYTES;

/* ------------------------------------------------------------------------ */
/* Endpoint identity and address.                                            */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_DNS_ENDPOINT_IDENTITY_TYPE     = 1,
    WS_UPN_ENDPOINT_IDENTITY_TYPE     = 2,
    WS_SPN_ENDPOINT_IDENTITY_TYPE     = 3,
    WS_RSA_ENDPOINT_IDENTITY_TYPE     = 4,
    WS_CERT_ENDPOINT_IDENTITY_TYPE    = 5,
    WS_UNKNOWN_ENDPOINT_IDENTITY_TYPE = 6
} WS_ENDPOINT_IDENTITY_TYPE;

/* Base of every endpoint identity; identityType selects the subtype. */
typedef struct _WS_ENDPOINT_IDENTITY {
    WS_ENDPOINT_IDENTITY_TYPE identityType;
} WS_ENDPOINT_IDENTITY;

/* Endpoint address; only url is required. */
typedef struct _WS_ENDPOINT_ADDRESS {
    WS_STRING              url;         /* escaped; empty = anonymous */
    WS_XML_BUFFER         *headers;     /* reference parameters, may be NULL */
    WS_XML_BUFFER         *extensions;  /* may be NULL */
    WS_ENDPOINT_IDENTITY  *identity;    /* may be NULL */
} WS_ENDPOINT_ADDRESS;

/* ------------------------------------------------------------------------ */
/* Channel enumerations: type, binding, state, encoding, versions, modes.   */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_CHANNEL_TYPE_INPUT          = 0x1,
    WS_CHANNEL_TYPE_OUTPUT         = 0x2,
    WS_CHANNEL_TYPE_SESSION        = 0x4,   /* flag only, never used alone */
    WS_CHANNEL_TYPE_INPUT_SESSION  = 0x5,   /* INPUT | SESSION */
    WS_CHANNEL_TYPE_OUTPUT_SESSION = 0x6,   /* OUTPUT | SESSION */
    WS_CHANNEL_TYPE_DUPLEX         = 0x3,   /* INPUT | OUTPUT */
    WS_CHANNEL_TYPE_DUPLEX_SESSION = 0x7,   /* INPUT | OUTPUT | SESSION */
    WS_CHANNEL_TYPE_REQUEST        = 0x8,
    WS_CHANNEL_TYPE_REPLY          = 0x10
} WS_CHANNEL_TYPE;

typedef enum OPENWWS_ENUM_BASE {
    WS_HTTP_CHANNEL_BINDING      = 0,
    WS_TCP_CHANNEL_BINDING       = 1,
    WS_UDP_CHANNEL_BINDING       = 2,
    WS_CUSTOM_CHANNEL_BINDING    = 3,
    WS_NAMEDPIPE_CHANNEL_BINDING = 4
} WS_CHANNEL_BINDING;

typedef enum OPENWWS_ENUM_BASE {
    WS_IP_VERSION_4    = 1,
    WS_IP_VERSION_6    = 2,
    WS_IP_VERSION_AUTO = 3
} WS_IP_VERSION;

typedef enum OPENWWS_ENUM_BASE {
    WS_SHORT_CALLBACK = 0,
    WS_LONG_CALLBACK  = 1
} WS_CALLBACK_MODEL;

typedef enum OPENWWS_ENUM_BASE {
    WS_CHANNEL_STATE_CREATED   = 0,
    WS_CHANNEL_STATE_OPENING   = 1,
    WS_CHANNEL_STATE_ACCEPTING = 2,
    WS_CHANNEL_STATE_OPEN      = 3,
    WS_CHANNEL_STATE_FAULTED   = 4,
    WS_CHANNEL_STATE_CLOSING   = 5,
    WS_CHANNEL_STATE_CLOSED    = 6
} WS_CHANNEL_STATE;

typedef enum OPENWWS_ENUM_BASE {
    WS_ENCODING_XML_BINARY_1         = 0,
    WS_ENCODING_XML_BINARY_SESSION_1 = 1,
    WS_ENCODING_XML_MTOM_UTF8        = 2,
    WS_ENCODING_XML_MTOM_UTF16BE     = 3,
    WS_ENCODING_XML_MTOM_UTF16LE     = 4,
    WS_ENCODING_XML_UTF8             = 5,
    WS_ENCODING_XML_UTF16BE          = 6,
    WS_ENCODING_XML_UTF16LE          = 7,
    WS_ENCODING_RAW                  = 8
} WS_ENCODING;

typedef enum OPENWWS_ENUM_BASE {
    WS_ENVELOPE_VERSION_SOAP_1_1 = 1,
    WS_ENVELOPE_VERSION_SOAP_1_2 = 2,
    WS_ENVELOPE_VERSION_NONE     = 3
} WS_ENVELOPE_VERSION;

typedef enum OPENWWS_ENUM_BASE {
    WS_ADDRESSING_VERSION_0_9       = 1,
    WS_ADDRESSING_VERSION_1_0       = 2,
    WS_ADDRESSING_VERSION_TRANSPORT = 3
} WS_ADDRESSING_VERSION;

typedef enum OPENWWS_ENUM_BASE {
    WS_BUFFERED_TRANSFER_MODE        = 0x0,
    WS_STREAMED_INPUT_TRANSFER_MODE  = 0x1,
    WS_STREAMED_OUTPUT_TRANSFER_MODE = 0x2,
    WS_STREAMED_TRANSFER_MODE        = 0x3
} WS_TRANSFER_MODE;

typedef enum OPENWWS_ENUM_BASE {
    WS_PROTECTION_LEVEL_NONE             = 1,
    WS_PROTECTION_LEVEL_SIGN             = 2,
    WS_PROTECTION_LEVEL_SIGN_AND_ENCRYPT = 3
} WS_PROTECTION_LEVEL;

typedef enum OPENWWS_ENUM_BASE {
    WS_MANUAL_COOKIE_MODE = 1,
    WS_AUTO_COOKIE_MODE   = 2
} WS_COOKIE_MODE;

typedef enum OPENWWS_ENUM_BASE {
    WS_HTTP_PROXY_SETTING_MODE_AUTO   = 0x1,
    WS_HTTP_PROXY_SETTING_MODE_NONE   = 0x2,
    WS_HTTP_PROXY_SETTING_MODE_CUSTOM = 0x3
} WS_HTTP_PROXY_SETTING_MODE;

/* ------------------------------------------------------------------------ */
/* Asynchronous model: completion callback, context, and async composition. */
/* ------------------------------------------------------------------------ */

/* Called once with the final result of an operation that returned WS_S_ASYNC. */
typedef void (CALLBACK *WS_ASYNC_CALLBACK)(
    HRESULT errorCode, WS_CALLBACK_MODEL callbackModel, void *callbackState);

/* Read only during the call; may live on the caller's stack. */
typedef struct _WS_ASYNC_CONTEXT {
    WS_ASYNC_CALLBACK  callback;
    void              *callbackState;
} WS_ASYNC_CONTEXT;

typedef struct _WS_ASYNC_OPERATION WS_ASYNC_OPERATION;

/* One step of a WsAsyncExecute chain; sets next->function to continue. */
typedef HRESULT (CALLBACK *WS_ASYNC_FUNCTION)(
    HRESULT hr, WS_CALLBACK_MODEL callbackModel, void *callbackState,
    WS_ASYNC_OPERATION *next, const WS_ASYNC_CONTEXT *asyncContext,
    WS_ERROR *error);

struct _WS_ASYNC_OPERATION {
    WS_ASYNC_FUNCTION function;
};

/* Caller-allocated state for WsAsyncExecute; opaque. */
typedef struct _WS_ASYNC_STATE {
    void *internal0;
    void *internal1;
    void *internal2;
    void *internal3;
    void *internal4;
} WS_ASYNC_STATE;

/* ------------------------------------------------------------------------ */
/* Listener: state, property ids, property structs, custom callbacks.       */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_LISTENER_STATE_CREATED = 0,
    WS_LISTENER_STATE_OPENING = 1,
    WS_LISTENER_STATE_OPEN    = 2,
    WS_LISTENER_STATE_FAULTED = 3,
    WS_LISTENER_STATE_CLOSING = 4,
    WS_LISTENER_STATE_CLOSED  = 5
} WS_LISTENER_STATE;

typedef enum OPENWWS_ENUM_BASE {
    WS_LISTENER_PROPERTY_LISTEN_BACKLOG                 = 0,
    WS_LISTENER_PROPERTY_IP_VERSION                     = 1,
    WS_LISTENER_PROPERTY_STATE                          = 2,
    WS_LISTENER_PROPERTY_ASYNC_CALLBACK_MODEL           = 3,
    WS_LISTENER_PROPERTY_CHANNEL_TYPE                   = 4,
    WS_LISTENER_PROPERTY_CHANNEL_BINDING                = 5,
    WS_LISTENER_PROPERTY_CONNECT_TIMEOUT                = 6,
    WS_LISTENER_PROPERTY_IS_MULTICAST                   = 7,
    WS_LISTENER_PROPERTY_MULTICAST_INTERFACES           = 8,
    WS_LISTENER_PROPERTY_MULTICAST_LOOPBACK             = 9,
    WS_LISTENER_PROPERTY_CLOSE_TIMEOUT                  = 10,
    WS_LISTENER_PROPERTY_TO_HEADER_MATCHING_OPTIONS     = 11,
    WS_LISTENER_PROPERTY_TRANSPORT_URL_MATCHING_OPTIONS = 12,
    WS_LISTENER_PROPERTY_CUSTOM_LISTENER_CALLBACKS      = 13,
    WS_LISTENER_PROPERTY_CUSTOM_LISTENER_PARAMETERS     = 14,
    WS_LISTENER_PROPERTY_CUSTOM_LISTENER_INSTANCE       = 15,
    WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT          = 16
} WS_LISTENER_PROPERTY_ID;

/* One listener property: id, pointer to a value of the id's type, size. */
typedef struct _WS_LISTENER_PROPERTY {
    WS_LISTENER_PROPERTY_ID  id;
    void                    *value;
    ULONG                    valueSize;
} WS_LISTENER_PROPERTY;

typedef struct _WS_LISTENER_PROPERTIES {
    WS_LISTENER_PROPERTY *properties;
    ULONG                 propertyCount;
} WS_LISTENER_PROPERTIES;

/* Value of WS_LISTENER_PROPERTY_DISALLOWED_USER_AGENT. */
typedef struct _WS_DISALLOWED_USER_AGENT_SUBSTRINGS {
    ULONG       subStringCount;
    WS_STRING **subStrings;
} WS_DISALLOWED_USER_AGENT_SUBSTRINGS;

/* URL matching flags: values of ..._TO_HEADER_MATCHING_OPTIONS and
 * ..._TRANSPORT_URL_MATCHING_OPTIONS. */
enum {
    WS_MATCH_URL_DNS_HOST                 = 0x1,
    WS_MATCH_URL_DNS_FULLY_QUALIFIED_HOST = 0x2,
    WS_MATCH_URL_NETBIOS_HOST             = 0x4,
    WS_MATCH_URL_LOCAL_HOST               = 0x8,
    WS_MATCH_URL_HOST_ADDRESSES           = 0x10,
    WS_MATCH_URL_THIS_HOST                = 0x1F,   /* the five host flags */
    WS_MATCH_URL_PORT                     = 0x20,
    WS_MATCH_URL_EXACT_PATH               = 0x40,
    WS_MATCH_URL_PREFIX_PATH              = 0x80,
    WS_MATCH_URL_NO_QUERY                 = 0x100
};

/* Custom listener callbacks (WS_CUSTOM_CHANNEL_BINDING); each has the
 * contract of the corresponding Ws* function. */
typedef HRESULT (CALLBACK *WS_CREATE_LISTENER_CALLBACK)(
    WS_CHANNEL_TYPE channelType, const void *listenerParameters,
    ULONG listenerParametersSize, void **listenerInstance, WS_ERROR *error);
typedef void (CALLBACK *WS_FREE_LISTENER_CALLBACK)(void *listenerInstance);
typedef HRESULT (CALLBACK *WS_RESET_LISTENER_CALLBACK)(
    void *listenerInstance, WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_OPEN_LISTENER_CALLBACK)(
    void *listenerInstance, const WS_STRING *url,
    const WS_ASYNC_CONTEXT *asyncContext, WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_CLOSE_LISTENER_CALLBACK)(
    void *listenerInstance, const WS_ASYNC_CONTEXT *asyncContext,
    WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_ABORT_LISTENER_CALLBACK)(
    void *listenerInstance, WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_GET_LISTENER_PROPERTY_CALLBACK)(
    void *listenerInstance, WS_LISTENER_PROPERTY_ID id, void *value,
    ULONG valueSize, WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_SET_LISTENER_PROPERTY_CALLBACK)(
    void *listenerInstance, WS_LISTENER_PROPERTY_ID id, const void *value,
    ULONG valueSize, WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_CREATE_CHANNEL_FOR_LISTENER_CALLBACK)(
    void *listenerInstance, const void *channelParameters,
    ULONG channelParametersSize, void **channelInstance, WS_ERROR *error);
typedef HRESULT (CALLBACK *WS_ACCEPT_CHANNEL_CALLBACK)(
    void *listenerInstance, void *channelInstance,
    const WS_ASYNC_CONTEXT *asyncContext, WS_ERROR *error);

/* Value of WS_LISTENER_PROPERTY_CUSTOM_LISTENER_CALLBACKS. */
typedef struct _WS_CUSTOM_LISTENER_CALLBACKS {
    WS_CREATE_LISTENER_CALLBACK             createListenerCallback;
    WS_FREE_LISTENER_CALLBACK               freeListenerCallback;
    WS_RESET_LISTENER_CALLBACK              resetListenerCallback;
    WS_OPEN_LISTENER_CALLBACK               openListenerCallback;
    WS_CLOSE_LISTENER_CALLBACK              closeListenerCallback;
    WS_ABORT_LISTENER_CALLBACK              abortListenerCallback;
    WS_GET_LISTENER_PROPERTY_CALLBACK       getListenerPropertyCallback;
    WS_SET_LISTENER_PROPERTY_CALLBACK       setListenerPropertyCallback;
    WS_CREATE_CHANNEL_FOR_LISTENER_CALLBACK createChannelForListenerCallback;
    WS_ACCEPT_CHANNEL_CALLBACK              acceptChannelCallback;
} WS_CUSTOM_LISTENER_CALLBACKS;

/* ------------------------------------------------------------------------ */
/* Channel property ids and property structs.                               */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_CHANNEL_PROPERTY_MAX_BUFFERED_MESSAGE_SIZE            = 0,
    WS_CHANNEL_PROPERTY_MAX_STREAMED_MESSAGE_SIZE            = 1,
    WS_CHANNEL_PROPERTY_MAX_STREAMED_START_SIZE              = 2,
    WS_CHANNEL_PROPERTY_MAX_STREAMED_FLUSH_SIZE              = 3,
    WS_CHANNEL_PROPERTY_ENCODING                             = 4,
    WS_CHANNEL_PROPERTY_ENVELOPE_VERSION                     = 5,
    WS_CHANNEL_PROPERTY_ADDRESSING_VERSION                   = 6,
    WS_CHANNEL_PROPERTY_MAX_SESSION_DICTIONARY_SIZE          = 7,
    WS_CHANNEL_PROPERTY_STATE                                = 8,
    WS_CHANNEL_PROPERTY_ASYNC_CALLBACK_MODEL                 = 9,
    WS_CHANNEL_PROPERTY_IP_VERSION                           = 10,
    WS_CHANNEL_PROPERTY_RESOLVE_TIMEOUT                      = 11,
    WS_CHANNEL_PROPERTY_CONNECT_TIMEOUT                      = 12,
    WS_CHANNEL_PROPERTY_SEND_TIMEOUT                         = 13,
    WS_CHANNEL_PROPERTY_RECEIVE_RESPONSE_TIMEOUT             = 14,
    WS_CHANNEL_PROPERTY_RECEIVE_TIMEOUT                      = 15,
    WS_CHANNEL_PROPERTY_CLOSE_TIMEOUT                        = 16,
    WS_CHANNEL_PROPERTY_ENABLE_TIMEOUTS                      = 17,
    WS_CHANNEL_PROPERTY_TRANSFER_MODE                        = 18,
    WS_CHANNEL_PROPERTY_MULTICAST_INTERFACE                  = 19,
    WS_CHANNEL_PROPERTY_MULTICAST_HOPS                       = 20,
    WS_CHANNEL_PROPERTY_REMOTE_ADDRESS                       = 21,
    WS_CHANNEL_PROPERTY_REMOTE_IP_ADDRESS                    = 22,
    WS_CHANNEL_PROPERTY_HTTP_CONNECTION_ID                   = 23,
    WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_CALLBACKS             = 24,
    WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_PARAMETERS            = 25,
    WS_CHANNEL_PROPERTY_CUSTOM_CHANNEL_INSTANCE              = 26,
    WS_CHANNEL_PROPERTY_TRANSPORT_URL                        = 27,
    WS_CHANNEL_PROPERTY_NO_DELAY                             = 28,
    WS_CHANNEL_PROPERTY_SEND_KEEP_ALIVES                     = 29,
    WS_CHANNEL_PROPERTY_KEEP_ALIVE_TIME                      = 30,
    WS_CHANNEL_PROPERTY_KEEP_ALIVE_INTERVAL                  = 31,
    WS_CHANNEL_PROPERTY_MAX_HTTP_SERVER_CONNECTIONS          = 32,
    WS_CHANNEL_PROPERTY_IS_SESSION_SHUT_DOWN                 = 33,
    WS_CHANNEL_PROPERTY_CHANNEL_TYPE                         = 34,
    WS_CHANNEL_PROPERTY_TRIM_BUFFERED_MESSAGE_SIZE           = 35,
    WS_CHANNEL_PROPERTY_ENCODER                              = 36,
    WS_CHANNEL_PROPERTY_DECODER                              = 37,
    WS_CHANNEL_PROPERTY_PROTECTION_LEVEL                     = 38,
    WS_CHANNEL_PROPERTY_COOKIE_MODE                          = 39,
    WS_CHANNEL_PROPERTY_HTTP_PROXY_SETTING_MODE              = 40,
    WS_CHANNEL_PROPERTY_CUSTOM_HTTP_PROXY                    = 41,
    WS_CHANNEL_PROPERTY_HTTP_MESSAGE_MAPPING                 = 42,
    WS_CHANNEL_PROPERTY_ENABLE_HTTP_REDIRECT                 = 43,
    WS_CHANNEL_PROPERTY_HTTP_REDIRECT_CALLBACK_CONTEXT       = 44,
    WS_CHANNEL_PROPERTY_FAULTS_AS_ERRORS                     = 45,
    WS_CHANNEL_PROPERTY_ALLOW_UNSECURED_FAULTS               = 46,
    WS_CHANNEL_PROPERTY_HTTP_SERVER_SPN                      = 47,
    WS_CHANNEL_PROPERTY_HTTP_PROXY_SPN                       = 48,
    WS_CHANNEL_PROPERTY_MAX_HTTP_REQUEST_HEADERS_BUFFER_SIZE = 49
} WS_CHANNEL_PROPERTY_ID;

/* One channel property: id, pointer to a value of the id's type, size. */
typedef struct _WS_CHANNEL_PROPERTY {
    WS_CHANNEL_PROPERTY_ID  id;
    void                   *value;
    ULONG                   valueSize;
} WS_CHANNEL_PROPERTY;

typedef struct _WS_CHANNEL_PROPERTIES {
    WS_CHANNEL_PROPERTY *properties;
    ULONG                propertyCount;
} WS_CHANNEL_PROPERTIES;

/* ------------------------------------------------------------------------ */
/* Error object property ids and property struct.                           */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_ERROR_PROPERTY_STRING_COUNT        = 0,
    WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE = 1,
    WS_ERROR_PROPERTY_LANGID              = 2
} WS_ERROR_PROPERTY_ID;

typedef struct _WS_ERROR_PROPERTY {
    WS_ERROR_PROPERTY_ID  id;
    void                 *value;
    ULONG                 valueSize;
} WS_ERROR_PROPERTY;

/* ------------------------------------------------------------------------ */
/* Heap property ids and property struct.                                   */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_HEAP_PROPERTY_MAX_SIZE       = 0,
    WS_HEAP_PROPERTY_TRIM_SIZE      = 1,
    WS_HEAP_PROPERTY_REQUESTED_SIZE = 2,
    WS_HEAP_PROPERTY_ACTUAL_SIZE    = 3
} WS_HEAP_PROPERTY_ID;

typedef struct _WS_HEAP_PROPERTY {
    WS_HEAP_PROPERTY_ID  id;
    void                *value;
    ULONG                valueSize;
} WS_HEAP_PROPERTY;

/* ------------------------------------------------------------------------ */
/* URLs: scheme types, WsDecodeUrl flags, decoded URL structs.              */
/* ------------------------------------------------------------------------ */

typedef enum OPENWWS_ENUM_BASE {
    WS_URL_HTTP_SCHEME_TYPE    = 0,   /* "http"     -> WS_HTTP_URL    */
    WS_URL_HTTPS_SCHEME_TYPE   = 1,   /* "https"    -> WS_HTTPS_URL   */
    WS_URL_NETTCP_SCHEME_TYPE  = 2,   /* "net.tcp"  -> WS_NETTCP_URL  */
    WS_URL_SOAPUDP_SCHEME_TYPE = 3,   /* "soap.udp" -> WS_SOAPUDP_URL */
    WS_URL_NETPIPE_SCHEME_TYPE = 4    /* "net.pipe" -> WS_NETPIPE_URL */
} WS_URL_SCHEME_TYPE;

/* WS_URL_FLAGS */
enum {
    WS_URL_FLAGS_ALLOW_HOST_WILDCARDS = 0x1,
    WS_URL_FLAGS_NO_PATH_COLLAPSE     = 0x2,
    WS_URL_FLAGS_ZERO_TERMINATE       = 0x4
};

/* Base of every decoded URL; scheme selects the subtype. */
typedef struct _WS_URL {
    WS_URL_SCHEME_TYPE scheme;
} WS_URL;

typedef struct _WS_HTTP_URL {
    WS_URL    url;
    WS_STRING host;
    USHORT    port;
    WS_STRING portAsString;   /* empty if the URL had no port */
    WS_STRING path;
    WS_STRING query;
    WS_STRING fragment;
} WS_HTTP_URL;

typedef struct _WS_HTTPS_URL {
    WS_URL    url;
    WS_STRING host;
    USHORT    port;
    WS_STRING portAsString;
    WS_STRING path;
    WS_STRING query;
    WS_STRING fragment;
} WS_HTTPS_URL;

typedef struct _WS_NETTCP_URL {
    WS_URL    url;
    WS_STRING host;
    USHORT    port;
    WS_STRING portAsString;
    WS_STRING path;
    WS_STRING query;
    WS_STRING fragment;
} WS_NETTCP_URL;

typedef struct _WS_SOAPUDP_URL {
    WS_URL    url;
    WS_STRING host;
    USHORT    port;
    WS_STRING portAsString;
    WS_STRING path;
    WS_STRING query;
    WS_STRING fragment;
} WS_SOAPUDP_URL;

typedef struct _WS_NETPIPE_URL {
    WS_URL    url;
    WS_STRING host;
    USHORT    port;
    WS_STRING portAsString;
    WS_STRING path;
    WS_STRING query;
    WS_STRING fragment;
} WS_NETPIPE_URL;

/* ------------------------------------------------------------------------ */
/* Listener functions.                                                      */
/* ------------------------------------------------------------------------ */

HRESULT WINAPI WsCreateListener(WS_CHANNEL_TYPE channelType,
                                WS_CHANNEL_BINDING channelBinding,
                                const WS_LISTENER_PROPERTY *properties,
                                ULONG propertyCount,
                                const WS_SECURITY_DESCRIPTION *securityDescription,
                                WS_LISTENER **listener, WS_ERROR *error);
HRESULT WINAPI WsOpenListener(WS_LISTENER *listener, const WS_STRING *url,
                              const WS_ASYNC_CONTEXT *asyncContext,
                              WS_ERROR *error);
HRESULT WINAPI WsAcceptChannel(WS_LISTENER *listener, WS_CHANNEL *channel,
                               const WS_ASYNC_CONTEXT *asyncContext,
                               WS_ERROR *error);
HRESULT WINAPI WsCloseListener(WS_LISTENER *listener,
                               const WS_ASYNC_CONTEXT *asyncContext,
                               WS_ERROR *error);
HRESULT WINAPI WsAbortListener(WS_LISTENER *listener, WS_ERROR *error);
HRESULT WINAPI WsResetListener(WS_LISTENER *listener, WS_ERROR *error);
void    WINAPI WsFreeListener(WS_LISTENER *listener);
HRESULT WINAPI WsGetListenerProperty(WS_LISTENER *listener,
                                     WS_LISTENER_PROPERTY_ID id, void *value,
                                     ULONG valueSize, WS_ERROR *error);
HRESULT WINAPI WsSetListenerProperty(WS_LISTENER *listener,
                                     WS_LISTENER_PROPERTY_ID id,
                                     const void *value, ULONG valueSize,
                                     WS_ERROR *error);
HRESULT WINAPI WsCreateChannelForListener(WS_LISTENER *listener,
                                          const WS_CHANNEL_PROPERTY *properties,
                                          ULONG propertyCount,
                                          WS_CHANNEL **channel, WS_ERROR *error);

/* ------------------------------------------------------------------------ */
/* Channel functions.                                                       */
/* ------------------------------------------------------------------------ */

HRESULT WINAPI WsCreateChannel(WS_CHANNEL_TYPE channelType,
                               WS_CHANNEL_BINDING channelBinding,
                               const WS_CHANNEL_PROPERTY *properties,
                               ULONG propertyCount,
                               const WS_SECURITY_DESCRIPTION *securityDescription,
                               WS_CHANNEL **channel, WS_ERROR *error);
HRESULT WINAPI WsOpenChannel(WS_CHANNEL *channel,
                             const WS_ENDPOINT_ADDRESS *endpointAddress,
                             const WS_ASYNC_CONTEXT *asyncContext,
                             WS_ERROR *error);
HRESULT WINAPI WsCloseChannel(WS_CHANNEL *channel,
                              const WS_ASYNC_CONTEXT *asyncContext,
                              WS_ERROR *error);
HRESULT WINAPI WsAbortChannel(WS_CHANNEL *channel, WS_ERROR *error);
HRESULT WINAPI WsResetChannel(WS_CHANNEL *channel, WS_ERROR *error);
void    WINAPI WsFreeChannel(WS_CHANNEL *channel);
HRESULT WINAPI WsGetChannelProperty(WS_CHANNEL *channel,
                                    WS_CHANNEL_PROPERTY_ID id, void *value,
                                    ULONG valueSize, WS_ERROR *error);
HRESULT WINAPI WsSetChannelProperty(WS_CHANNEL *channel,
                                    WS_CHANNEL_PROPERTY_ID id,
                                    const void *value, ULONG valueSize,
                                    WS_ERROR *error);
HRESULT WINAPI WsShutdownSessionChannel(WS_CHANNEL *channel,
                                        const WS_ASYNC_CONTEXT *asyncContext,
                                        WS_ERROR *error);

/* ------------------------------------------------------------------------ */
/* Error object functions (note: the property calls take no WS_ERROR*).     */
/* ------------------------------------------------------------------------ */

HRESULT WINAPI WsCreateError(const WS_ERROR_PROPERTY *properties,
                             ULONG propertyCount, WS_ERROR **error);
void    WINAPI WsFreeError(WS_ERROR *error);
HRESULT WINAPI WsResetError(WS_ERROR *error);
HRESULT WINAPI WsGetErrorProperty(WS_ERROR *error, WS_ERROR_PROPERTY_ID id,
                                  void *buffer, ULONG bufferSize);
HRESULT WINAPI WsSetErrorProperty(WS_ERROR *error, WS_ERROR_PROPERTY_ID id,
                                  const void *value, ULONG valueSize);
HRESULT WINAPI WsGetErrorString(WS_ERROR *error, ULONG index,
                                WS_STRING *string);
HRESULT WINAPI WsAddErrorString(WS_ERROR *error, const WS_STRING *string);
HRESULT WINAPI WsCopyError(WS_ERROR *source, WS_ERROR *destination);

/* ------------------------------------------------------------------------ */
/* Heap functions.                                                          */
/* ------------------------------------------------------------------------ */

HRESULT WINAPI WsCreateHeap(SIZE_T maxSize, SIZE_T trimSize,
                            const WS_HEAP_PROPERTY *properties,
                            ULONG propertyCount, WS_HEAP **heap,
                            WS_ERROR *error);
void    WINAPI WsFreeHeap(WS_HEAP *heap);
HRESULT WINAPI WsResetHeap(WS_HEAP *heap, WS_ERROR *error);
HRESULT WINAPI WsAlloc(WS_HEAP *heap, SIZE_T size, void **ptr,
                       WS_ERROR *error);

/* ------------------------------------------------------------------------ */
/* URL functions.                                                           */
/* ------------------------------------------------------------------------ */

HRESULT WINAPI WsDecodeUrl(const WS_STRING *url, ULONG flags, WS_HEAP *heap,
                           WS_URL **outUrl, WS_ERROR *error);

/* ------------------------------------------------------------------------ */
/* openwws extension, not in Microsoft's header.                            */
/* ------------------------------------------------------------------------ */

/* WsGetListenerProperty with this id and a `const char *` buffer
 * (valueSize == sizeof(const char *)) returns the static NUL-terminated
 * name of the I/O backend the listener uses ("epoll", "io_uring", ...).
 * The id lies outside Microsoft's range (0..16). */
#define OPENWWS_LISTENER_PROPERTY_BACKEND_NAME ((WS_LISTENER_PROPERTY_ID)0x10000)

/* WsGetListenerProperty with this id and a USHORT buffer (valueSize 2) returns
 * the TCP port an OPEN listener listens on: the port the kernel chose when the
 * URL named port 0. E_INVALIDARG when the listener is not open. */
#define OPENWWS_LISTENER_PROPERTY_LOCAL_PORT ((WS_LISTENER_PROPERTY_ID)0x10001)

/* Running listeners and channels on the application's own event loop, with no
 * thread of openwws's own (openwws-only).
 *
 * OpenwwsCreateEventLoop(uvLoop, ...) makes a loop that the application drives:
 * - uvLoop non-NULL (a libuv `uv_loop_t *`): the I/O of every listener and
 *   channel on this loop runs as handles on that libuv loop, whose thread runs
 *   their callbacks; the application just runs uv_run as usual.
 * - uvLoop NULL: any other event loop watches OpenwwsGetEventLoopDescriptor for
 *   readability, waits at most OpenwwsGetEventLoopTimeout milliseconds (-1: no
 *   limit), then calls OpenwwsRunEventLoop, which runs what is ready and never
 *   blocks (the shape of libuv's uv_backend_fd/uv_backend_timeout, or libcurl's
 *   multi-socket interface).
 * A listener made with OPENWWS_LISTENER_PROPERTY_EVENT_LOOP (WsCreateListener;
 * value: the OPENWWS_EVENT_LOOP *, valueSize sizeof(OPENWWS_EVENT_LOOP *)), its
 * channels, and a client channel made with OPENWWS_CHANNEL_PROPERTY_EVENT_LOOP
 * (WsCreateChannel) then live on that loop:
 * - every callback runs on the loop's thread, as WS_SHORT_CALLBACK (with no thread
 *   of openwws's own nobody could keep the loop going while a LONG one blocks);
 * - a synchronous call from the loop's thread would wait for itself: it fails at
 *   once with WS_E_INVALID_OPERATION; from other threads synchronous calls work
 *   while the application runs its loop;
 * - WsFree* from a callback returns at once; the object goes once its last
 *   operation has reported.
 * OpenwwsFreeEventLoop drops the application's handle; the loop goes when the last
 * object on it is freed too. On libuv it is a referenced handle like any other:
 * the uv loop stays alive until then, and its handles close in the following
 * iterations, after which uv_run returns. */
typedef struct _OPENWWS_EVENT_LOOP OPENWWS_EVENT_LOOP;
#define OPENWWS_LISTENER_PROPERTY_EVENT_LOOP ((WS_LISTENER_PROPERTY_ID)0x10002)
#define OPENWWS_CHANNEL_PROPERTY_EVENT_LOOP ((WS_CHANNEL_PROPERTY_ID)0x10000)

HRESULT WINAPI OpenwwsCreateEventLoop(void *uvLoop, OPENWWS_EVENT_LOOP **loop, WS_ERROR *error);
HRESULT WINAPI OpenwwsGetEventLoopDescriptor(OPENWWS_EVENT_LOOP *loop, int *descriptor, WS_ERROR *error);
int WINAPI OpenwwsGetEventLoopTimeout(OPENWWS_EVENT_LOOP *loop);
HRESULT WINAPI OpenwwsRunEventLoop(OPENWWS_EVENT_LOOP *loop, WS_ERROR *error);
void WINAPI OpenwwsFreeEventLoop(OPENWWS_EVENT_LOOP *loop);
/* Listeners and channels created from now on without an EVENT_LOOP property live on
 * loop (NULL: on openwws's own threads again), so that code written for Windows
 * runs unchanged on the application's loop. Objects created before stay where they
 * are. E_INVALIDARG if loop is neither NULL nor an event loop. */
HRESULT WINAPI OpenwwsSetDefaultEventLoop(OPENWWS_EVENT_LOOP *loop, WS_ERROR *error);

#ifdef __cplusplus
}
#endif

#endif /* OPENWWS_WEBSERVICES_H */
