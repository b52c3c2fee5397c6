/* SPDX-License-Identifier: MIT */
/* Checks that api/webservices.h compiles as strict C11 and that u"..."
 * literals, WS_STRING_VALUE and the HRESULT macros work from C. */

#include <webservices.h>

#include <stddef.h>

int openwws_c11_header_compiles(void);

_Static_assert(sizeof(ULONG) == 4, "ULONG is 32 bits");
_Static_assert(sizeof(LONG) == 4, "LONG is 32 bits");
_Static_assert(sizeof(BOOL) == 4, "BOOL is 32 bits");
_Static_assert(sizeof(WCHAR) == 2, "WCHAR is 16 bits");
_Static_assert(sizeof(HRESULT) == 4, "HRESULT is 32 bits");
_Static_assert(sizeof(WS_LISTENER_PROPERTY_ID) == 4, "enums are int-sized");
_Static_assert(offsetof(WS_LISTENER_PROPERTY, value) == sizeof(void *),
               "natural alignment");

static const WCHAR url_chars[] = u"net.tcp://+:808/path";

int openwws_c11_header_compiles(void)
{
    WS_STRING url = WS_STRING_VALUE(u"net.tcp://+:808/path");
    WS_STRING same = WS_STRING_VALUE(url_chars);
    WS_XML_STRING action = WS_XML_STRING_VALUE("urn:action");
    ULONG backlog = 16;
    WS_LISTENER_PROPERTY prop;
    WS_ASYNC_CONTEXT ctx = { NULL, NULL };
    HRESULT hr = WS_E_OPERATION_ABORTED;

    prop.id = WS_LISTENER_PROPERTY_LISTEN_BACKLOG;
    prop.value = &backlog;
    prop.valueSize = sizeof(backlog);

    if (url.length != 20 || same.length != url.length || action.length != 10)
        return 1;
    if (url.chars[0] != u'n' || prop.valueSize != 4 || ctx.callback != NULL)
        return 2;
    if (!FAILED(hr) || SUCCEEDED(hr) || !SUCCEEDED(WS_S_ASYNC))
        return 3;
    if ((ULONG)hr != 0x803D0004u || (ULONG)E_INVALIDARG != 0x80070057u)
        return 4;
    if ((ULONG)HRESULT_FROM_WIN32(10048) != 0x80072740u)
        return 5;
    if (OPENWWS_LISTENER_PROPERTY_BACKEND_NAME == WS_LISTENER_PROPERTY_STATE)
        return 6;
    return 0;
}
