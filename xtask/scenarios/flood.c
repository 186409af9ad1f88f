/* flood PREFIX N: N request_key("user", "PREFIX-i", "x") calls in a row
 * into the user session keyring, one line each: "MS RESULT" — the call's
 * wall time in milliseconds and "ok" or the errno's number. No process is
 * forked per request, so the time measured is the upcall's, not the
 * requester's own start-up (xtask/src/upcall_vm.rs, the flood test). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KEY_SPEC_USER_SESSION_KEYRING -5

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: flood PREFIX N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    char desc[256];
    for (int i = 1; i <= n; i++) {
        snprintf(desc, sizeof desc, "%s-%d", argv[1], i);
        double t0 = now_ms();
        long r = syscall(SYS_request_key, "user", desc, "x", KEY_SPEC_USER_SESSION_KEYRING);
        int e = errno;
        double t1 = now_ms();
        if (r < 0)
            printf("%.1f %d\n", t1 - t0, e);
        else
            printf("%.1f ok\n", t1 - t0);
        fflush(stdout);
    }
    return 0;
}
