/* reqloop [-t TYPE] [-d DOMAIN] [-p PAYLOAD] TAG N: N request_key(2)
 * calls, each for a fresh description (a key already there would need no
 * upcall), each timed alone with CLOCK_MONOTONIC.
 *
 *   -t TYPE    the key type (default "user");
 *   -d DOMAIN  host names: descriptions "TAG-PID-I.DOMAIN" and an empty
 *              callout — a dns_resolver request as CIFS, NFS and Ceph make
 *              it (one IPv4 address). Without it: "keelbench:TAG:PID:I",
 *              callout "keel-bench";
 *   -p PAYLOAD the key's payload must be PAYLOAD (read after the clock
 *              stopped).
 *
 * Prints one line per request: "NANOSECONDS RESULT", RESULT being the key's
 * serial, or -ERRNO when the request failed, or "bad" when -p was given and
 * the key's payload is not PAYLOAD (the payload read, "bad:…", escaped).
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

static int usage(void) {
    fprintf(stderr, "usage: reqloop [-t TYPE] [-d DOMAIN] [-p PAYLOAD] TAG N\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *payload = NULL, *type = "user", *domain = NULL;
    int a = 1;
    while (a + 1 < argc && argv[a][0] == '-' && argv[a][1] && !argv[a][2]) {
        switch (argv[a][1]) {
        case 'p': payload = argv[a + 1]; break;
        case 't': type = argv[a + 1]; break;
        case 'd': domain = argv[a + 1]; break;
        default: return usage();
        }
        a += 2;
    }
    if (argc - a != 2)
        return usage();
    const char *tag = argv[a];
    long n = atol(argv[a + 1]);
    const char *callout = domain ? "" : "keel-bench";
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0) {
        perror("reqloop: keyctl(JOIN_SESSION_KEYRING)");
        return 1;
    }
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    int pid = getpid();
    char desc[256], buf[256];
    for (long i = 0; i < n; i++) {
        if (domain)
            snprintf(desc, sizeof desc, "%s-%d-%ld.%s", tag, pid, i, domain);
        else
            snprintf(desc, sizeof desc, "keelbench:%s:%d:%ld", tag, pid, i);
        long long t0 = now_ns();
        long id = syscall(SYS_request_key, type, desc, callout, 0);
        long long t1 = now_ns();
        int err = errno;
        if (id < 0) {
            printf("%lld -%d\n", t1 - t0, err);
            continue;
        }
        if (payload) {
            long len = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof buf);
            if (len != (long)strlen(payload) || memcmp(buf, payload, len) != 0) {
                printf("%lld bad:", t1 - t0);
                if (len < 0)
                    printf("-%d", errno);
                for (long j = 0; j < len && j < (long)sizeof buf; j++)
                    printf(buf[j] > ' ' && buf[j] < 127 ? "%c" : "\\x%02x", (unsigned char)buf[j]);
                printf("\n");
                continue;
            }
        }
        printf("%lld %ld\n", t1 - t0, id);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
