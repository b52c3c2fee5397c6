// SPDX-License-Identifier: MIT
// POSIX socket helpers (Linux uses accept4; macOS accept + fcntl).
#include "platform/socket.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace openwws::platform {

namespace {

// FD_CLOEXEC, and O_NONBLOCK set or cleared: where accept4 and SOCK_* flags are missing.
[[maybe_unused]] int set_flags(int fd, bool nonblocking) noexcept {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  int want = nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (want != flags && ::fcntl(fd, F_SETFL, want) < 0) return -errno;
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return -errno;
  return 0;
}

// SO_NOSIGPIPE (macOS, FreeBSD): a write to a reset peer gives EPIPE instead of raising
// SIGPIPE. Accepted sockets get it too; where the option is missing (Linux),
// send_nosignal's MSG_NOSIGNAL does the same per call.
void set_no_sigpipe([[maybe_unused]] int fd) noexcept {
#ifdef SO_NOSIGPIPE
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
}

void fill_v4(endpoint& out, in_addr addr, std::uint16_t port) noexcept {
  out = endpoint{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  sin->sin_addr = addr;
  out.len = sizeof(sockaddr_in);
}

void fill_v6(endpoint& out, const in6_addr& addr, std::uint16_t port, std::uint32_t scope) noexcept {
  out = endpoint{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  sin6->sin6_addr = addr;
  sin6->sin6_scope_id = scope;
  out.len = sizeof(sockaddr_in6);
}

bool ipv6_available() noexcept {
  int fd = stream_socket(AF_INET6, false);
  if (fd < 0) return false;
  close_fd(fd);
  return true;
}

}  // namespace

int literal_endpoint(std::string_view host, std::uint16_t port, ip_family family, endpoint& out) noexcept {
  char buf[INET6_ADDRSTRLEN + 16];
  if (host.empty() || host.size() >= sizeof buf) return -EINVAL;
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  in_addr v4{};
  if (::inet_pton(AF_INET, buf, &v4) == 1) {
    if (family == ip_family::v6) return -EAFNOSUPPORT;
    fill_v4(out, v4, port);
    return 0;
  }
  // A zone ("fe80::1%2") is allowed in IPv6 literals; inet_pton does not take it. Only
  // digits, and no wrap past 32 bits: strtoul would take "-1" or " +1" and wrap.
  std::uint32_t scope = 0;
  if (char* pct = std::strchr(buf, '%')) {
    *pct = '\0';
    if (pct[1] == '\0') return -EINVAL;
    std::uint64_t n = 0;
    for (const char* d = pct + 1; *d; ++d) {
      if (*d < '0' || *d > '9') return -EINVAL;
      n = n * 10 + static_cast<unsigned>(*d - '0');
      if (n > UINT32_MAX) return -EINVAL;
    }
    scope = static_cast<std::uint32_t>(n);
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, buf, &v6) != 1) return -EINVAL;
  // An IPv4-mapped address (::ffff:a.b.c.d) is kept as given, on an IPv6 socket with
  // IPV6_V6ONLY off: with it on, bind() fails with EINVAL. Its traffic is IPv4 on an
  // IPv6 socket, so it fits neither version alone.
  bool v4_mapped = IN6_IS_ADDR_V4MAPPED(&v6);
  if (family == ip_family::v4 || (v4_mapped && family == ip_family::v6)) return -EAFNOSUPPORT;
  fill_v6(out, v6, port, scope);
  out.dual_stack = v4_mapped;
  return 0;
}

int wildcard_endpoint(std::uint16_t port, ip_family family, endpoint& out) noexcept {
  if (family == ip_family::v4 || (family == ip_family::any && !ipv6_available())) {
    fill_v4(out, in_addr{htonl(INADDR_ANY)}, port);
    return 0;
  }
  fill_v6(out, in6addr_any, port, 0);
  out.dual_stack = family == ip_family::any;
  return 0;
}

int resolve_endpoint(const std::string& host, std::uint16_t port, ip_family family, endpoint& out) noexcept {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = family == ip_family::v4 ? AF_INET : family == ip_family::v6 ? AF_INET6 : AF_UNSPEC;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) return rc == EAI_SYSTEM ? -errno : rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
  int result = -ENOENT;
  for (addrinfo* ai = list; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      fill_v4(out, reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, port);
      result = 0;
      break;
    }
    if (ai->ai_family == AF_INET6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      fill_v6(out, sin6->sin6_addr, port, sin6->sin6_scope_id);
      result = 0;
      break;
    }
  }
  ::freeaddrinfo(list);
  return result;
}

int stream_socket(int family, bool nonblocking) noexcept {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -errno;
#else
  // macOS has neither flag: another thread's fork+exec between socket() and fcntl()
  // could inherit this fd, a window Apple's API leaves open.
  int fd = ::socket(family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  if (int rc = set_flags(fd, nonblocking); rc < 0) {
    close_fd(fd);
    return rc;
  }
#endif
  set_no_sigpipe(fd);
  return fd;
}

int listen_on(const endpoint& ep, int backlog) noexcept {
  int fd = stream_socket(ep.addr.ss_family, true);
  if (fd < 0) return fd;
  int one = 1;
  int rc = 0;
  // SO_REUSEADDR lets a listener reopen on a port whose old connections sit in
  // TIME_WAIT; unlike SO_REUSEPORT it does not let two listeners share the port.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) rc = -errno;
  if (rc == 0 && ep.addr.ss_family == AF_INET6) {
    int v6only = ep.dual_stack ? 0 : 1;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) rc = -errno;
  }
  if (rc == 0 && ::bind(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len) < 0) rc = -errno;
  if (rc == 0 && ::listen(fd, backlog) < 0) rc = -errno;
  if (rc < 0) {
    close_fd(fd);
    return rc;
  }
  return fd;
}

std::uint16_t local_port(int fd) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

int accept_socket(int listen_fd, bool nonblocking) noexcept {
  for (;;) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
#else
    // macOS: plain accept. The BSDs hand down O_NONBLOCK from the listening socket, so
    // set_flags sets or clears it explicitly either way.
    int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd >= 0) {
      if (int rc = set_flags(fd, nonblocking); rc < 0) {
        close_fd(fd);
        return rc;
      }
    }
#endif
    if (fd >= 0) {
      set_no_sigpipe(fd);
      return fd;
    }
    int err = errno;
    if (err == EINTR) continue;
    // A connection that was reset while queued is not an error of the listener
    // (macOS and the BSDs report it as ECONNABORTED, Linux rarely, as EPROTO too).
    if (err == ECONNABORTED || err == EPROTO) continue;
    return err == EWOULDBLOCK ? -EAGAIN : -err;
  }
}

int accept_one(int listen_fd) noexcept { return accept_socket(listen_fd, true); }

bool connection_queued(int listen_fd) noexcept {
  pollfd p{listen_fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int connect_start(const endpoint& ep, int* fd_out) noexcept {
  int fd = stream_socket(ep.addr.ss_family, true);
  if (fd < 0) return fd;
  int rc;
  // An IPv4-mapped peer needs IPV6_V6ONLY off, which is only the usual default
  // (Linux net.ipv6.bindv6only).
  if (ep.dual_stack) {
    int v6only = 0;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) < 0) {
      rc = -errno;
      close_fd(fd);
      return rc;
    }
  }
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&ep.addr), ep.len);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) {
    *fd_out = fd;
    return 0;
  }
  int err = errno;
  if (err == EINPROGRESS) {
    *fd_out = fd;
    return -EINPROGRESS;
  }
  close_fd(fd);
  return -err;
}

int connect_result(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

namespace {
ssize_t send_with(int fd, const void* data, std::size_t len, int more) noexcept {
#ifdef MSG_NOSIGNAL
  const int flags = MSG_NOSIGNAL | more;
#else
  const int flags = more;  // SO_NOSIGPIPE, set on every socket made here, does it
#endif
  for (;;) {
    ssize_t n = ::send(fd, data, len, flags);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}
}  // namespace

ssize_t send_nosignal(int fd, const void* data, std::size_t len) noexcept { return send_with(fd, data, len, 0); }

ssize_t send_before_close(int fd, const void* data, std::size_t len) noexcept {
#ifdef MSG_MORE
  // Held back until the FIN, which then goes on the same segment.
  return send_with(fd, data, len, MSG_MORE);
#else
  return send_with(fd, data, len, 0);
#endif
}

int send_last(int fd, const void* data, std::size_t len) noexcept {
  ssize_t n = send_before_close(fd, data, len);
  return n < 0 ? static_cast<int>(n) : shutdown_send(fd);
}

ssize_t recv_some(int fd, void* buf, std::size_t len) noexcept {
  for (;;) {
    ssize_t n = ::recv(fd, buf, len, 0);
    if (n >= 0) return n;
    int err = errno;
    if (err == EINTR) continue;
    return err == EWOULDBLOCK ? -EAGAIN : -err;
  }
}

bool discard_received(int fd, std::size_t max) noexcept {
  char sink[4096];
  while (max > 0) {
    ssize_t n = recv_some(fd, sink, max < sizeof sink ? max : sizeof sink);
    if (n == -EAGAIN) return false;
    if (n <= 0) return true;
    max -= static_cast<std::size_t>(n);
  }
  return false;
}

void close_fd(int fd) noexcept {
  if (fd < 0) return;
  int saved = errno;
  ::close(fd);  // POSIX leaves the fd state unspecified on EINTR; Linux always frees it.
  errno = saved;
}

void close_with_reset(int fd) noexcept {
  if (fd < 0) return;
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close_fd(fd);
}

int shutdown_send(int fd) noexcept { return ::shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }

int set_no_delay(int fd, bool on) noexcept {
  int v = on ? 1 : 0;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0 ? -errno : 0;
}

int set_keep_alive(int fd, bool on, std::uint32_t time_ms, std::uint32_t interval_ms) noexcept {
  int v = on ? 1 : 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) < 0) return -errno;
  if (!on) return 0;
  int idle = static_cast<int>(time_ms / 1000 ? time_ms / 1000 : 1);
  int intvl = static_cast<int>(interval_ms / 1000 ? interval_ms / 1000 : 1);
#ifdef TCP_KEEPIDLE
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0) return -errno;
#elif defined(TCP_KEEPALIVE)
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof idle) < 0) return -errno;
#endif
#ifdef TCP_KEEPINTVL
  if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0) return -errno;
#endif
  return 0;
}

int peer_address(int fd, sockaddr_storage& out) noexcept {
  socklen_t len = sizeof out;
  return ::getpeername(fd, reinterpret_cast<sockaddr*>(&out), &len) < 0 ? -errno : 0;
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer; XSI returns an int. Both fill or point at text.
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  return std::string(::strerror_r(err, buf, sizeof buf));
#else
  if (::strerror_r(err, buf, sizeof buf) != 0) return "error " + std::to_string(err);
  return std::string(buf);
#endif
}

int open_descriptor_count() noexcept {
#ifdef __linux__
  const char* dir_path = "/proc/self/fd";
#else
  const char* dir_path = "/dev/fd";
#endif
  DIR* dir = ::opendir(dir_path);
  if (!dir) return -errno;
  int n = 0;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace openwws::platform
