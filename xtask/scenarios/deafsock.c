/* deafsock PATH: listens on a SOCK_SEQPACKET socket at PATH and never
 * accepts or answers — what a stopped keel looks like to a broker
 * (connections wait in the backlog). Runs until killed. For the VM tests
 * (xtask/src/upcall_vm.rs). */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: deafsock PATH\n");
        return 2;
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0) {
        perror("deafsock");
        return 1;
    }
    for (;;)
        pause();
}
