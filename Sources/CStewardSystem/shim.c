#ifdef __linux__
#define _GNU_SOURCE
#include <CStewardSystem.h>
#include <sys/socket.h>

_Static_assert(sizeof(CStewardUDP_mmsghdr) == sizeof(struct mmsghdr),
               "sizes of CStewardUDP_mmsghdr and struct mmsghdr differ");

int CStewardUDP_recvmmsg(int sockfd, CStewardUDP_mmsghdr *msgvec, unsigned int vlen, int flags) {
    return recvmmsg(sockfd, (struct mmsghdr *)msgvec, vlen, flags, NULL);
}

int CStewardUDP_sendmmsg(int sockfd, CStewardUDP_mmsghdr *msgvec, unsigned int vlen, int flags) {
    return sendmmsg(sockfd, (struct mmsghdr *)msgvec, vlen, flags);
}
#endif
