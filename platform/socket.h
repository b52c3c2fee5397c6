// SPDX-License-Identifier: MIT
// Socket helpers for core: addresses, listen, accept, connect. Every function returns
// >= 0 on success or -errno, and retries EINTR itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <sys/socket.h>
#include <sys/types.h>

namespace openwws::platform {

enum class ip_family { any, v4, v6 };

struct endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool dual_stack = false;  // IPv6 that also carries IPv4 (IPV6_V6ONLY off): the wildcard, or ::ffff:a.b.c.d
};

// An IP literal ("127.0.0.1", "::1", "fe80::1%2" with a decimal zone, brackets already
// removed) as an endpoint: 0, or -EINVAL if host is no literal, or -EAFNOSUPPORT if its
// family is not allowed (an IPv4-mapped IPv6 address needs ip_family::any).
int literal_endpoint(std::string_view host, std::uint16_t port, ip_family family, endpoint& out) noexcept;

// The wildcard address for family: any = dual-stack [::] where IPv6 exists, else 0.0.0.0.
int wildcard_endpoint(std::uint16_t port, ip_family family, endpoint& out) noexcept;

// Name resolution for clients (blocking getaddrinfo): the first address of family.
// -ENOENT when the name has no such address.
int resolve_endpoint(const std::string& host, std::uint16_t port, ip_family family, endpoint& out) noexcept;

// A TCP socket of family (AF_INET, AF_INET6): close-on-exec, SO_NOSIGPIPE where it
// exists, non-blocking if asked. An fd or -errno.
int stream_socket(int family, bool nonblocking) noexcept;

// socket + SO_REUSEADDR + bind + listen, non-blocking and close-on-exec: an fd.
int listen_on(const endpoint& ep, int backlog) noexcept;

// Port a bound socket listens on (0 on failure).
std::uint16_t local_port(int fd) noexcept;

// accept4(NONBLOCK|CLOEXEC), or accept + fcntl where accept4 is missing (macOS), and
// SO_NOSIGPIPE where it exists; EINTR retried; -EAGAIN when nothing is queued.
// ECONNABORTED and EPROTO (a peer that reset before the accept) are retried.
int accept_one(int listen_fd) noexcept;

// Whether listen_fd has a connection queued now (never blocks).
bool connection_queued(int listen_fd) noexcept;
// accept_one, but the new socket is blocking unless nonblocking (tests, tools).
int accept_socket(int listen_fd, bool nonblocking) noexcept;

// send() that never raises SIGPIPE (MSG_NOSIGNAL where it exists, SO_NOSIGPIPE on
// every socket made by these helpers otherwise): bytes sent, or -errno (-EPIPE for a
// peer that went away). EINTR retried.
ssize_t send_nosignal(int fd, const void* data, std::size_t len) noexcept;

// recv() of at most len bytes: bytes read (0: the peer's FIN), -EAGAIN when nothing
// waits, or -errno. EINTR retried.
ssize_t recv_some(int fd, void* buf, std::size_t len) noexcept;

// Reads and drops, without blocking, up to max bytes the peer sent: closing a socket
// with unread bytes in it makes the kernel send a reset instead of FIN. True when the
// peer's FIN (or an error) was reached.
bool discard_received(int fd, std::size_t max) noexcept;

// Lets the kernel hand a connection to accept only once its first bytes have come, or
// after about `seconds` without them (Linux TCP_DEFER_ACCEPT, FreeBSD's "dataready"
// accept filter): a client that speaks first is then read at once after its accept.
// True where the platform did it; false where it has no such option.
bool accept_when_data(int listen_fd, unsigned seconds) noexcept;

// Non-blocking socket for ep, connect() started: the fd in *fd_out, and 0 when it
// connected at once or -EINPROGRESS when the connect goes on; else -errno (no fd).
int connect_start(const endpoint& ep, int* fd_out) noexcept;

// SO_ERROR of a socket whose connect finished: 0 or -errno.
int connect_result(int fd) noexcept;

// close(), keeping errno; a negative fd is ignored.
void close_fd(int fd) noexcept;

// Closes so that the peer sees a reset, not FIN (SO_LINGER {1, 0}).
void close_with_reset(int fd) noexcept;

// shutdown(SHUT_WR): 0 or -errno.
int shutdown_send(int fd) noexcept;

// The last small send before close() or shutdown_send: where the platform can hold the
// bytes back (Linux MSG_MORE), they go on one segment with the FIN. As send_nosignal.
ssize_t send_before_close(int fd, const void* data, std::size_t len) noexcept;

// send_before_close, then shutdown_send: 0 or -errno of the first that failed.
int send_last(int fd, const void* data, std::size_t len) noexcept;

// Boolean and integer socket options used by channel properties: 0 or -errno.
int set_no_delay(int fd, bool on) noexcept;
int set_keep_alive(int fd, bool on, std::uint32_t time_ms, std::uint32_t interval_ms) noexcept;

// Peer address of a connected socket: 0 or -errno.
int peer_address(int fd, sockaddr_storage& out) noexcept;

// "Address already in use" for EADDRINUSE.
std::string errno_text(int err);

// How many descriptors the process has open (Linux /proc/self/fd, macOS /dev/fd).
int open_descriptor_count() noexcept;

}  // namespace openwws::platform
