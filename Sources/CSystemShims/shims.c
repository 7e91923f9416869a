#define _GNU_SOURCE
#include "CSystemShims.h"
#include <sys/prctl.h>

int csystem_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0); }
int csystem_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

static int fill_address(struct sockaddr_un *address, const char *path, socklen_t *length) {
    size_t n = strlen(path);
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    if (n == 0 || n >= sizeof(address->sun_path)) { errno = ENAMETOOLONG; return -1; }
    memcpy(address->sun_path, path, n);
    if (path[0] == '@') {
        address->sun_path[0] = 0; /* abstract namespace: no terminating NUL counted */
        *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int csystem_unix_connect(int fd, const char *path) {
    struct sockaddr_un address;
    socklen_t length;
    if (fill_address(&address, path, &length) != 0) return -1;
    return connect(fd, (struct sockaddr *)&address, length);
}

ssize_t csystem_unix_sendto(int fd, const char *path, const void *buffer, size_t length) {
    struct sockaddr_un address;
    socklen_t address_length;
    if (fill_address(&address, path, &address_length) != 0) return -1;
    return sendto(fd, buffer, length, MSG_NOSIGNAL, (struct sockaddr *)&address, address_length);
}

int csystem_socket_family(int fd) {
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    return address.ss_family;
}

int csystem_socket_type(int fd) {
    int type = 0;
    socklen_t length = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) return -1;
    return type;
}

#include <arpa/inet.h>
#include <netinet/in.h>

int csystem_tcp_bind_loopback(int fd, unsigned short port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return bind(fd, (struct sockaddr *)&address, sizeof(address));
}

int csystem_tcp_local_port(int fd) {
    struct sockaddr_in address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    if (address.sin_family != AF_INET) { errno = EAFNOSUPPORT; return -1; }
    return ntohs(address.sin_port);
}

int csystem_accept_nonblocking(int fd) {
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}
