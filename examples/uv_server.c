/* SPDX-License-Identifier: MIT */
/* A libuv program that serves its own plain TCP echo port and a WWSAPI listener on the
 * same loop, with no thread of openwws's own: every openwws callback runs on this
 * loop's thread, like the echo server's. Usage: uv_server [echo-port [nettcp-port]]
 * (defaults 9000 and 8080). */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>
#include <webservices.h>

/* ---- the application's own service: TCP echo ---------------------------------- */

static void echo_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void echo_closed(uv_handle_t *handle) { free(handle); }

static void echo_written(uv_write_t *req, int status) {
    (void)status;
    free(req->data);
    free(req);
}

static void echo_read(uv_stream_t *client, ssize_t n, const uv_buf_t *buf) {
    if (n > 0) {
        uv_write_t *req = malloc(sizeof *req);
        if (req) {
            uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
            req->data = buf->base;
            if (uv_write(req, client, &out, 1, echo_written) == 0) return;
            free(req);
        }
    } else if (n < 0) {
        uv_close((uv_handle_t *)client, echo_closed);
    }
    free(buf->base);
}

static void echo_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    uv_tcp_t *client = malloc(sizeof *client);
    if (!client) return;
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0)
        uv_read_start((uv_stream_t *)client, echo_alloc, echo_read);
    else
        uv_close((uv_handle_t *)client, echo_closed);
}

/* ---- the WWSAPI listener, on the same loop -------------------------------------- */

typedef struct {
    WS_LISTENER *listener;
    WS_CHANNEL *channel;
    unsigned accepted;
} service;

static void CALLBACK accepted(HRESULT hr, WS_CALLBACK_MODEL model, void *state);

/* Accepts the next client; the callback runs on this loop's thread. */
static void accept_next(service *s) {
    WS_ASYNC_CONTEXT ctx = {accepted, s};
    HRESULT hr = WsAcceptChannel(s->listener, s->channel, &ctx, NULL);
    if (hr != WS_S_ASYNC) accepted(hr, WS_SHORT_CALLBACK, s);
}

static void CALLBACK accepted(HRESULT hr, WS_CALLBACK_MODEL model, void *state) {
    service *s = state;
    (void)model;
    if (FAILED(hr)) {
        fprintf(stderr, "accept ended: HRESULT 0x%08X\n", (unsigned)hr);
        return;
    }
    printf("net.tcp connection %u accepted\n", ++s->accepted);
    fflush(stdout);
    WsCloseChannel(s->channel, NULL, NULL);
    WsResetChannel(s->channel, NULL);
    accept_next(s);
}

int main(int argc, char **argv) {
    int echo_port = argc > 1 ? atoi(argv[1]) : 9000;
    int nettcp_port = argc > 2 ? atoi(argv[2]) : 8080;
    uv_loop_t *loop = uv_default_loop();

    uv_tcp_t echo;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &echo);
    uv_ip4_addr("0.0.0.0", echo_port, &addr);
    if (uv_tcp_bind(&echo, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&echo, 128, echo_connection) != 0) {
        fprintf(stderr, "cannot listen on echo port %d\n", echo_port);
        return 1;
    }

    OPENWWS_EVENT_LOOP *wws_loop = NULL;
    service s = {NULL, NULL, 0};
    WCHAR url_chars[64];
    char url[64];
    int len = snprintf(url, sizeof url, "net.tcp://+:%d/", nettcp_port);
    for (int i = 0; i <= len; ++i) url_chars[i] = (WCHAR)url[i];
    WS_STRING ws_url = {(ULONG)len, url_chars};

    HRESULT hr = OpenwwsCreateEventLoop(loop, &wws_loop, NULL);
    WS_LISTENER_PROPERTY on_loop = {OPENWWS_LISTENER_PROPERTY_EVENT_LOOP, &wws_loop, sizeof wws_loop};
    if (SUCCEEDED(hr))
        hr = WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, &on_loop, 1, NULL,
                              &s.listener, NULL);
    if (SUCCEEDED(hr)) hr = WsOpenListener(s.listener, &ws_url, NULL, NULL);
    if (SUCCEEDED(hr)) hr = WsCreateChannelForListener(s.listener, NULL, 0, &s.channel, NULL);
    if (FAILED(hr)) {
        fprintf(stderr, "cannot start the net.tcp listener: HRESULT 0x%08X\n", (unsigned)hr);
        return 1;
    }
    accept_next(&s);
    printf("echo on port %d, net.tcp on port %d, one loop\n", echo_port, nettcp_port);
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
