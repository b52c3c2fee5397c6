/* SPDX-License-Identifier: MIT */
/* The smallest openwws server: accepts TCP connections on port 8080, one at a time. */
#include <stdio.h>
#include <webservices.h>

int main(void) {
    WS_STRING url = WS_STRING_VALUE(u"net.tcp://+:8080/");
    WS_LISTENER *listener = NULL;
    WS_CHANNEL *channel = NULL;
    HRESULT hr = WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING,
                                  NULL, 0, NULL, &listener, NULL);
    if (SUCCEEDED(hr)) hr = WsOpenListener(listener, &url, NULL, NULL);
    if (SUCCEEDED(hr)) hr = WsCreateChannelForListener(listener, NULL, 0, &channel, NULL);
    for (unsigned n = 1; SUCCEEDED(hr); ++n) {
        hr = WsAcceptChannel(listener, channel, NULL, NULL); /* blocks until a client connects */
        if (FAILED(hr)) break;
        printf("connection %u accepted\n", n);
        WsCloseChannel(channel, NULL, NULL);
        hr = WsResetChannel(channel, NULL); /* the channel can accept again */
    }
    fprintf(stderr, "stopped: HRESULT 0x%08X\n", (unsigned)hr);
    if (channel) WsFreeChannel(channel);
    if (listener) {
        WsCloseListener(listener, NULL, NULL);
        WsFreeListener(listener);
    }
    return 1;
}
