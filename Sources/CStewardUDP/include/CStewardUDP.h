// Batched UDP system calls for the DNS server's receive loop (Linux `recvmmsg`/`sendmmsg`), which
// Swift's Glibc module does not expose (they need _GNU_SOURCE). Modelled on SwiftNIO's CNIOLinux.
#ifndef C_STEWARD_UDP_H
#define C_STEWARD_UDP_H

#ifdef __linux__
#include <sys/socket.h>
#include <time.h>

/// The layout of `struct mmsghdr` (checked in shim.c).
typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} CStewardUDP_mmsghdr;

int CStewardUDP_recvmmsg(int sockfd, CStewardUDP_mmsghdr *msgvec, unsigned int vlen, int flags);
int CStewardUDP_sendmmsg(int sockfd, CStewardUDP_mmsghdr *msgvec, unsigned int vlen, int flags);
#endif

#endif
