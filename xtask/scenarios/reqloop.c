/* reqloop [-p PAYLOAD] TAG N: N request_key(2) calls for user keys with
 * fresh descriptions "keelbench:TAG:PID:I" (a new description each time,
 * else the kernel finds the key and no upcall happens), each timed alone
 * with CLOCK_MONOTONIC. Prints one line per request: "NANOSECONDS RESULT",
 * RESULT being the key's serial, or -ERRNO when the request failed, or
 * "bad" when -p was given and the key's payload is not PAYLOAD (read after
 * the clock stopped).
 *
 * It first joins a new anonymous session keyring, so that the keys it makes
 * (instantiated or negative) are linked there only and go with it.
 *
 * cargo xtask bench (the upcall section) runs it on the host and, through
 * `keel enter`, inside containers. Raw system calls: no libkeyutils. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_READ 11

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *payload = NULL;
    int a = 1;
    if (argc > 2 && !strcmp(argv[1], "-p")) {
        payload = argv[2];
        a = 3;
    }
    if (argc - a != 2) {
        fprintf(stderr, "usage: reqloop [-p PAYLOAD] TAG N\n");
        return 2;
    }
    const char *tag = argv[a];
    long n = atol(argv[a + 1]);
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) {
        perror("reqloop: keyctl(JOIN_SESSION_KEYRING)");
        return 1;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    int pid = getpid();
    char desc[256], buf[256];
    for (long i = 0; i < n; i++) {
        snprintf(desc, sizeof desc, "keelbench:%s:%d:%ld", tag, pid, i);
        long long t0 = now_ns();
        long id = syscall(SYS_request_key, "user", desc, "keel-bench", 0);
        long long t1 = now_ns();
        int err = errno;
        if (id < 0) {
            printf("%lld -%d\n", t1 - t0, err);
            continue;
        }
        if (payload) {
            long len = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf);
            if (len != (long)strlen(payload) || memcmp(buf, payload, len) != 0) {
                printf("%lld bad\n", t1 - t0);
                continue;
            }
        }
        printf("%lld %ld\n", t1 - t0, id);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
