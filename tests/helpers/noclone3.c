/*
 * noclone3: runs a program under a seccomp filter that makes clone3(2)
 * fail the way container runtimes' default profiles do (Docker and
 * containerd: ENOSYS; older profiles: EPERM). Every other system call is
 * allowed. Used by tests/tests/container_init.rs, which builds it with
 * `cc -static`.
 *
 *   noclone3 ENOSYS|EPERM PROGRAM [ARGS...]
 *
 * Exits 98 on a usage error, 99 when the filter cannot be installed or
 * does not answer as asked, else execs PROGRAM (127 if that fails).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "unsupported architecture"
#endif

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: noclone3 ENOSYS|EPERM PROGRAM [ARGS...]\n");
        return 98;
    }
    unsigned int err;
    if (strcmp(argv[1], "ENOSYS") == 0)
        err = ENOSYS;
    else if (strcmp(argv[1], "EPERM") == 0)
        err = EPERM;
    else {
        fprintf(stderr, "noclone3: unknown errno %s\n", argv[1]);
        return 98;
    }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        perror("noclone3: PR_SET_NO_NEW_PRIVS");
        return 99;
    }
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("noclone3: PR_SET_SECCOMP");
        return 99;
    }
    /* The filter must answer before anything is cloned. */
    errno = 0;
    if (syscall(__NR_clone3, NULL, 0) != -1 || errno != (int)err) {
        fprintf(stderr, "noclone3: clone3 was not refused with %s (errno %d)\n", argv[1], errno);
        return 99;
    }
    execv(argv[2], argv + 2);
    perror("noclone3: execv");
    return 127;
}
