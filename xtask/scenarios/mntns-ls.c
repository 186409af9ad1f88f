/* mntns-ls NSFILE|FD: setns(2) into the mount namespace NSFILE names
 * (e.g. /proc/self/ns/mnt) or the open fd FD refers to (the shell opened
 * it before detaching its root: `exec 3</proc/self/ns/mnt`), which puts the
 * caller at that namespace's root, and list "/" there: one name per line,
 * then "entries N".
 *
 * The VM test "detach" runs it in a container that has detached its own
 * root (umount -l /): the namespace's root is then what lies below the
 * container's root, which must be an empty directory (keel emptied the
 * initramfs rootfs at boot). busybox's nsenter cannot do this: after the
 * setns it would exec a program from the new root, and there is none. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mntns-ls NSFILE|FD\n");
        return 2;
    }
    const char *a = argv[1];
    int digits = *a != 0;
    for (const char *p = a; *p; p++)
        digits &= *p >= '0' && *p <= '9';
    int fd = digits ? atoi(a) : open(a, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    if (setns(fd, CLONE_NEWNS) != 0) {
        perror("setns");
        return 1;
    }
    DIR *d = opendir("/");
    if (!d) {
        perror("opendir /");
        return 1;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        printf("%s\n", e->d_name);
        n++;
    }
    printf("entries %d\n", n);
    return 0;
}
