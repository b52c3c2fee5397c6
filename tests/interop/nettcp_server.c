/* SPDX-License-Identifier: MIT */
/* The server side of run-wcf-interop.sh: one net.tcp listener on a port the kernel
 * chooses, one synchronous WsAcceptChannel, then the client's Via as the accepted
 * channel's WS_CHANNEL_PROPERTY_TRANSPORT_URL.
 *
 * Usage: nettcp-server [SECONDS]  (the watchdog, 20 s by default)
 * Prints, on stdout, "backend NAME", "port N" (flushed: the script waits for it) and
 * "transport-url URL", then exits 0. Any failed call prints its HRESULT and the
 * WS_ERROR's strings on stderr and exits 1, as does the watchdog. */
#define _POSIX_C_SOURCE 200809L /* sigaction, alarm */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <webservices.h>

/* What the program is doing, for the watchdog's message. */
static const char *const stage_names[] = {"starting", "WsAcceptChannel", "closing"};
static volatile sig_atomic_t stage;

static void on_alarm(int sig) {
    /* Only async-signal-safe calls here: the main thread may hold stdio's locks. */
    static const char head[] = "nettcp-server: FAILED: the watchdog expired during ";
    const char *name = stage_names[stage];
    (void)sig;
    (void)!write(STDERR_FILENO, head, sizeof head - 1);
    (void)!write(STDERR_FILENO, name, strlen(name));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(1);
}

/* Writes UTF-16 text as UTF-8 (unpaired surrogates as U+FFFD). */
static void put_utf16(FILE *out, const WCHAR *chars, ULONG length) {
    for (ULONG i = 0; i < length; ++i) {
        unsigned long c = chars[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < length && chars[i + 1] >= 0xDC00 && chars[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (chars[i + 1] - 0xDC00);
            ++i;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        if (c < 0x80) {
            fputc((int)c, out);
        } else if (c < 0x800) {
            fputc((int)(0xC0 | (c >> 6)), out);
            fputc((int)(0x80 | (c & 0x3F)), out);
        } else if (c < 0x10000) {
            fputc((int)(0xE0 | (c >> 12)), out);
            fputc((int)(0x80 | ((c >> 6) & 0x3F)), out);
            fputc((int)(0x80 | (c & 0x3F)), out);
        } else {
            fputc((int)(0xF0 | (c >> 18)), out);
            fputc((int)(0x80 | ((c >> 12) & 0x3F)), out);
            fputc((int)(0x80 | ((c >> 6) & 0x3F)), out);
            fputc((int)(0x80 | (c & 0x3F)), out);
        }
    }
}

/* On failure: prints what failed, the HRESULT and the error's strings, and exits 1. */
static void check(HRESULT hr, const char *what, WS_ERROR *error) {
    if (SUCCEEDED(hr)) return;
    fprintf(stderr, "nettcp-server: FAILED: %s: HRESULT 0x%08lX\n", what, (unsigned long)(ULONG)hr);
    ULONG count = 0;
    if (error && SUCCEEDED(WsGetErrorProperty(error, WS_ERROR_PROPERTY_STRING_COUNT, &count, sizeof count))) {
        for (ULONG i = 0; i < count; ++i) {
            WS_STRING text = {0, NULL};
            if (FAILED(WsGetErrorString(error, i, &text))) break;
            fputs("  ", stderr);
            put_utf16(stderr, text.chars, text.length);
            fputc('\n', stderr);
        }
    }
    exit(1);
}

int main(int argc, char **argv) {
    long seconds = argc > 1 ? strtol(argv[1], NULL, 10) : 20;
    if (argc > 2 || seconds <= 0) {
        fprintf(stderr, "usage: %s [WATCHDOG-SECONDS]\n", argv[0]);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)seconds);

    WS_ERROR *error = NULL;
    check(WsCreateError(NULL, 0, &error), "WsCreateError", NULL);

    WS_LISTENER *listener = NULL;
    check(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, NULL, 0, NULL, &listener, error),
          "WsCreateListener", error);
    WS_STRING url = WS_STRING_VALUE(u"net.tcp://127.0.0.1:0/echo");
    check(WsOpenListener(listener, &url, NULL, error), "WsOpenListener", error);

    const char *backend = NULL;
    check(WsGetListenerProperty(listener, OPENWWS_LISTENER_PROPERTY_BACKEND_NAME, &backend, sizeof backend, error),
          "WsGetListenerProperty(BACKEND_NAME)", error);
    USHORT port = 0;
    check(WsGetListenerProperty(listener, OPENWWS_LISTENER_PROPERTY_LOCAL_PORT, &port, sizeof port, error),
          "WsGetListenerProperty(LOCAL_PORT)", error);
    printf("backend %s\nport %u\n", backend, (unsigned)port);
    fflush(stdout);

    WS_CHANNEL *channel = NULL;
    check(WsCreateChannelForListener(listener, NULL, 0, &channel, error), "WsCreateChannelForListener", error);
    stage = 1;
    check(WsAcceptChannel(listener, channel, NULL, error), "WsAcceptChannel", error);

    WS_STRING via = {0, NULL};
    check(WsGetChannelProperty(channel, WS_CHANNEL_PROPERTY_TRANSPORT_URL, &via, sizeof via, error),
          "WsGetChannelProperty(TRANSPORT_URL)", error);
    fputs("transport-url ", stdout);
    put_utf16(stdout, via.chars, via.length);
    fputc('\n', stdout);
    fflush(stdout);

    stage = 2;
    check(WsCloseChannel(channel, NULL, error), "WsCloseChannel", error);
    WsFreeChannel(channel);
    check(WsCloseListener(listener, NULL, error), "WsCloseListener", error);
    WsFreeListener(listener);
    WsFreeError(error);
    return 0;
}
