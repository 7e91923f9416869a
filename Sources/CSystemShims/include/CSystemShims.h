#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H
#include <stddef.h>
#include <sys/types.h>
/* prctl(2) is variadic, so Swift cannot import it; these fixed-arity wrappers can be. */
int csystem_set_dumpable(int dumpable);
int csystem_get_dumpable(void);

/* struct sockaddr_un is awkward to fill from Swift without rebinding memory; these take a
 * path (a leading '@' means the abstract namespace, as systemd's NOTIFY_SOCKET uses) and
 * return -1 with errno set, or ENAMETOOLONG when the path does not fit sun_path. */
int csystem_unix_connect(int fd, const char *path);
ssize_t csystem_unix_sendto(int fd, const char *path, const void *buffer, size_t length);
/* The address family and type of a socket fd (for checking socket-activated fds). */
int csystem_socket_family(int fd);
int csystem_socket_type(int fd);
/* A TCP socket bound to 127.0.0.1:port (port 0: the kernel picks one), for the CLI's OAuth
 * redirect listener; struct sockaddr_in is filled here for the same reason as above. */
int csystem_tcp_bind_loopback(int fd, unsigned short port);
/* The local port of a bound TCP socket, or -1 with errno set. */
int csystem_tcp_local_port(int fd);
/* accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK): accept4 needs _GNU_SOURCE, which
 * the Glibc module does not define. */
int csystem_accept_nonblocking(int fd);
#endif
