// Linux system calls that Swift's Glibc module does not expose: batched UDP for the DNS server's
// receive loop (`recvmmsg`/`sendmmsg`, which need _GNU_SOURCE), and epoll and eventfd for the
// proxy's tunnel relay. Modelled on SwiftNIO's CNIOLinux.
#ifndef C_STEWARD_SYSTEM_H
#define C_STEWARD_SYSTEM_H

#ifdef __linux__
#include <sys/socket.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

/// The layout of `struct mmsghdr` (checked in shim.c).
typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} CStewardUDP_mmsghdr;

int CStewardUDP_recvmmsg(int sockfd, CStewardUDP_mmsghdr *msgvec, unsigned int vlen, int flags);
int CStewardUDP_sendmmsg(int sockfd, CStewardUDP_mmsghdr *msgvec, unsigned int vlen, int flags);
#endif

#endif
