/* keyprobe OP SERIAL [ARG]: one keyctl operation on a key, for the VM
 * tests of the agent keyring's permissions (xtask/src/upcall_vm.rs).
 * Prints "ok" (and a serial where there is one) or "errno N NAME".
 *   link K      KEYCTL_LINK K into the session keyring
 *   search K    KEYCTL_SEARCH K for user:x
 *   describe K  KEYCTL_DESCRIBE K
 *   read K      KEYCTL_READ K
 *   setperm K   KEYCTL_SETPERM K 0x3f3f0000
 *   assume K    KEYCTL_ASSUME_AUTHORITY K (K: a key under construction)
 *   join NAME   KEYCTL_JOIN_SESSION_KEYRING NAME (prints the joined serial)
 *   plant K     adds user key "planted" (payload "secret") to the session
 *               keyring and links it into keyring K
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SETPERM 5
#define KEYCTL_DESCRIBE 6
#define KEYCTL_LINK 8
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11
#define KEYCTL_ASSUME_AUTHORITY 16
#define KEY_SPEC_SESSION_KEYRING -3

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: keyprobe OP SERIAL\n");
        return 2;
    }
    const char *op = argv[1];
    long k = strtol(argv[2], 0, 10);
    char buf[4096];
    long r;
    if (!strcmp(op, "link"))
        r = syscall(SYS_keyctl, KEYCTL_LINK, k, KEY_SPEC_SESSION_KEYRING);
    else if (!strcmp(op, "search"))
        r = syscall(SYS_keyctl, KEYCTL_SEARCH, k, "user", "x", 0);
    else if (!strcmp(op, "describe"))
        r = syscall(SYS_keyctl, KEYCTL_DESCRIBE, k, buf, sizeof buf);
    else if (!strcmp(op, "read"))
        r = syscall(SYS_keyctl, KEYCTL_READ, k, buf, sizeof buf);
    else if (!strcmp(op, "setperm"))
        r = syscall(SYS_keyctl, KEYCTL_SETPERM, k, 0x3f3f0000);
    else if (!strcmp(op, "assume"))
        r = syscall(SYS_keyctl, KEYCTL_ASSUME_AUTHORITY, k);
    else if (!strcmp(op, "join"))
        r = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, argv[2]);
    else if (!strcmp(op, "plant")) {
        r = syscall(SYS_add_key, "user", "planted", "secret", 6, KEY_SPEC_SESSION_KEYRING);
        if (r >= 0)
            r = syscall(SYS_keyctl, KEYCTL_LINK, r, k);
    }
    else {
        fprintf(stderr, "keyprobe: unknown op %s\n", op);
        return 2;
    }
    if (r < 0) {
        int e = errno;
        printf("errno %d %s\n", e, e == EACCES ? "EACCES" : e == EPERM ? "EPERM" : e == ENOKEY ? "ENOKEY" : "other");
    } else if (!strcmp(op, "join")) {
        printf("ok %ld\n", r);
    } else {
        printf("ok\n");
    }
    return 0;
}
