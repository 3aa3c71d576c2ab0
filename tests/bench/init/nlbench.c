/* Measuring helper of tests/bench/init.sh. Linux only; built static by the script.
 *
 *   nlbench stamp FILE [--bind SRC DST]... -- CMD...
 *       Runs as PID 1 of the benchmark's namespace (started by unshare): bind-mounts SRC on
 *       DST (the namespace has a private mount table), resets signal dispositions and mask,
 *       closes inherited descriptors above 2, writes CLOCK_MONOTONIC in ns to FILE, then
 *       execs CMD, the supervisor. The stamp is taken immediately before execve, so
 *       bring-up figures exclude unshare's own set-up.
 *   nlbench wait N TIMEOUT_MS STAMP EVENTS SVC WATCHPID
 *       Started right after `unshare … nlbench stamp … supervisor`: waits until the events
 *       file holds N records (every service appends one, with the time its main() began),
 *       prints the milliseconds from the stamp to the latest record, and checks that exactly
 *       N processes then run the service binary SVC. Fails when WATCHPID (the unshare) ends
 *       first, or after TIMEOUT_MS.
 *   nlbench restart SVC NSPID KILLS TIMEOUT_MS EVENTS
 *       In the PID namespace of host pid NSPID: for each of the KILLS lowest-pid service
 *       processes (distinct services, long up), SIGKILL it and wait for the next record in
 *       the events file; prints each time from the kill to the start of the replacement's
 *       main(), in microseconds.
 *   nlbench mem NSPID SVC
 *       Prints "PID1_KIB TREE_KIB TREE_PROCS SVC_PROCS": private memory (Private_Clean +
 *       Private_Dirty of /proc/PID/smaps_rollup) of NSPID, and summed over every process of
 *       its PID namespace that does not run SVC (the supervision tree).
 *   nlbench count SVC
 *       Prints how many processes run SVC, anywhere.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "nlbench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_us(long us)
{
    struct timespec t = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&t, NULL);
}

/* --- /proc scanning ------------------------------------------------------------------- */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int proc_fd = -1;
static char dents[1 << 16];
static int max_pid;

static void proc_open(void)
{
    proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (proc_fd < 0)
        die("cannot open %s", "/proc");
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    if (!f || fscanf(f, "%d", &max_pid) != 1)
        max_pid = 4194304;
    if (f)
        fclose(f);
    max_pid += 1;
}

/* Calls fn(pid, ctx) for every process; stops early when fn returns non-zero. */
static void proc_each(int (*fn)(int, void *), void *ctx)
{
    if (lseek(proc_fd, 0, SEEK_SET) < 0)
        die("cannot rewind %s", "/proc");
    for (;;) {
        long n = syscall(SYS_getdents64, proc_fd, dents, sizeof dents);
        if (n < 0)
            die("cannot read %s", "/proc");
        if (n == 0)
            return;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
            off += d->d_reclen;
            const char *s = d->d_name;
            if (*s < '1' || *s > '9')
                continue;
            int pid = 0;
            for (; *s >= '0' && *s <= '9'; s++)
                pid = pid * 10 + (*s - '0');
            if (*s == 0 && pid < max_pid && fn(pid, ctx))
                return;
        }
    }
}

static const char *svc_path;


/* 1 when `pid` runs the service binary (it has exec'd it). */
static int runs_svc(int pid)
{
    char p[64], buf[PATH_MAX];
    snprintf(p, sizeof p, "/proc/%d/exe", pid);
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    if (n < 0)
        return 0;
    buf[n] = 0;
    return strcmp(buf, svc_path) == 0;
}

/* The inode of pid's PID namespace, 0 when gone. */
static unsigned long long pid_ns(int pid)
{
    char p[64], buf[64];
    snprintf(p, sizeof p, "/proc/%d/ns/pid", pid);
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    if (n < 0)
        return 0;
    buf[n] = 0;
    unsigned long long ino = 0;
    if (sscanf(buf, "pid:[%llu]", &ino) != 1)
        return 0;
    return ino;
}

/* --- counting ----------------------------------------------------------------------- */

static unsigned char *known; /* 1: seen running SVC (services do not die during bring-up) */

static int count_one(int pid, void *ctx)
{
    int *count = ctx;
    if (known[pid] || runs_svc(pid)) {
        known[pid] = 1;
        ++*count;
    }
    return 0;
}

static int count_svc(void)
{
    int count = 0;
    proc_each(count_one, &count);
    return count;
}

static int cmd_count(char **argv)
{
    svc_path = argv[0];
    proc_open();
    known = calloc(max_pid, 1);
    if (!known)
        die("%s", "out of memory");
    printf("%d\n", count_svc());
    return 0;
}

/* --- stamp ------------------------------------------------------------------------- */

static int cmd_stamp(int argc, char **argv)
{
    if (argc < 3)
        die("%s", "usage: nlbench stamp FILE [--bind SRC DST]... -- CMD...");
    const char *file = argv[0];
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 2 < argc) {
            if (mount(argv[i + 1], argv[i + 2], NULL, MS_BIND, NULL) != 0)
                die("cannot bind-mount over %s", argv[i + 2]);
            i += 2;
        } else {
            die("unexpected argument %s", argv[i]);
        }
    }
    if (i + 1 >= argc)
        die("%s", "no command after --");
    /* Start the supervisor as the kernel starts PID 1: default signal dispositions (a shell's
     * `&` leaves SIGINT and SIGQUIT ignored), nothing blocked, no inherited descriptors. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die("cannot write %s", tmp);
    fprintf(f, "%lld\n", now_ns());
    if (fclose(f) != 0 || rename(tmp, file) != 0)
        die("cannot write %s", file);
    execv(argv[i + 1], argv + i + 1);
    die("cannot execute %s", argv[i + 1]);
    return 1;
}

static long long read_stamp(const char *file)
{
    long long t = 0;
    FILE *f = fopen(file, "r");
    if (!f || fscanf(f, "%lld", &t) != 1)
        die("no time stamp in %s (the supervisor was not started)", file);
    fclose(f);
    return t;
}

/* --- wait --------------------------------------------------------------------------- */

/* 1 while `pid` exists and is not a zombie. */
static int alive(int pid)
{
    char p[64], buf[512];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

struct record {
    int64_t ns;
    int32_t pid;
    int32_t pad;
};

static off_t events_size(int fd)
{
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        die("%s", "cannot seek in the events file");
    return end;
}

static int cmd_wait(int argc, char **argv)
{
    if (argc != 6)
        die("%s", "usage: nlbench wait N TIMEOUT_MS STAMP EVENTS SVC WATCHPID");
    int want = atoi(argv[0]);
    long long timeout = atoll(argv[1]) * 1000000LL;
    const char *stamp = argv[2];
    int events = open(argv[3], O_RDONLY | O_CLOEXEC);
    svc_path = argv[4];
    int watch = atoi(argv[5]);
    if (events < 0)
        die("cannot open %s", argv[3]);
    off_t need = (off_t)want * (off_t)sizeof(struct record);
    long long start = now_ns();
    for (;;) {
        off_t size = events_size(events);
        if (size >= need) {
            if (size > need) {
                fprintf(stderr, "nlbench: %lld service starts recorded, expected %d\n",
                        (long long)(size / sizeof(struct record)), want);
                return 1;
            }
            break;
        }
        if (!alive(watch)) {
            fprintf(stderr, "nlbench: the supervisor ended with %lld of %d services started\n",
                    (long long)(size / sizeof(struct record)), want);
            return 1;
        }
        if (now_ns() - start > timeout) {
            fprintf(stderr, "nlbench: timed out with %lld of %d services started\n",
                    (long long)(size / sizeof(struct record)), want);
            return 1;
        }
        sleep_us(200);
    }
    struct record *recs = malloc(need);
    if (!recs || pread(events, recs, need, 0) != need)
        die("%s", "cannot read the events file");
    long long last = 0;
    for (int i = 0; i < want; i++)
        if (recs[i].ns > last)
            last = recs[i].ns;
    long long t0 = read_stamp(stamp);
    /* Cross-check with /proc: each record is one live service process. */
    proc_open();
    known = calloc(max_pid, 1);
    if (!known)
        die("%s", "out of memory");
    int count = count_svc();
    if (count != want) {
        fprintf(stderr, "nlbench: %d processes run %s, expected %d\n", count, svc_path, want);
        return 1;
    }
    printf("%.2f\n", (last - t0) / 1e6);
    return 0;
}

/* --- restart ------------------------------------------------------------------------ */

struct targets {
    unsigned long long ns;
    int *pids;
    int n, cap;
};

static int collect_target(int pid, void *ctx)
{
    struct targets *t = ctx;
    if (t->n < t->cap && runs_svc(pid) && pid_ns(pid) == t->ns)
        t->pids[t->n++] = pid;
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int cmd_restart(int argc, char **argv)
{
    if (argc != 5)
        die("%s", "usage: nlbench restart SVC NSPID KILLS TIMEOUT_MS EVENTS");
    svc_path = argv[0];
    int nspid = atoi(argv[1]);
    int kills = atoi(argv[2]);
    long long timeout = atoll(argv[3]) * 1000000LL;
    int events = open(argv[4], O_RDONLY | O_CLOEXEC);
    if (events < 0)
        die("cannot open %s", argv[4]);
    proc_open();
    struct targets t = {pid_ns(nspid), calloc(100000, sizeof(int)), 0, 100000};
    if (!t.pids)
        die("%s", "out of memory");
    if (t.ns == 0)
        die("no process %s", argv[1]);
    proc_each(collect_target, &t);
    if (t.n < kills) {
        fprintf(stderr, "nlbench: only %d services to kill, %d wanted\n", t.n, kills);
        return 1;
    }
    qsort(t.pids, t.n, sizeof(int), cmp_int);
    for (int k = 0; k < kills; k++) {
        int victim = t.pids[k];
        if (!runs_svc(victim))
            die("service process %s vanished before its kill", "");
        off_t before = events_size(events);
        long long t0 = now_ns();
        if (kill(victim, SIGKILL) != 0)
            die("%s", "kill failed");
        while (events_size(events) < before + (off_t)sizeof(struct record)) {
            if (now_ns() - t0 > timeout) {
                fprintf(stderr, "nlbench: service not restarted within %s ms\n", argv[3]);
                return 1;
            }
            sleep_us(100);
        }
        struct record rec;
        if (pread(events, &rec, sizeof rec, before) != (ssize_t)sizeof rec)
            die("%s", "cannot read the events file");
        printf("%.0f\n", (rec.ns - t0) / 1e3);
        fflush(stdout);
        sleep_us(20000);
    }
    return 0;
}

/* --- mem ---------------------------------------------------------------------------- */

static long private_kib(int pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    long total = 0, v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Private_Clean: %ld kB", &v) == 1 ||
            sscanf(line, "Private_Dirty: %ld kB", &v) == 1)
            total += v;
    }
    fclose(f);
    return total;
}

struct tree {
    unsigned long long ns;
    long kib;
    int procs, svcs;
};

static int add_tree(int pid, void *ctx)
{
    struct tree *t = ctx;
    if (pid_ns(pid) != t->ns)
        return 0;
    if (runs_svc(pid)) {
        t->svcs++;
        return 0;
    }
    long kib = private_kib(pid);
    if (kib >= 0) {
        t->kib += kib;
        t->procs++;
    }
    return 0;
}

static int cmd_mem(int argc, char **argv)
{
    if (argc != 2)
        die("%s", "usage: nlbench mem NSPID SVC");
    int nspid = atoi(argv[0]);
    svc_path = argv[1];
    proc_open();
    struct tree t = {pid_ns(nspid), 0, 0, 0};
    long pid1 = private_kib(nspid);
    if (t.ns == 0 || pid1 < 0)
        die("no process %s", argv[0]);
    proc_each(add_tree, &t);
    printf("%ld %ld %d %d\n", pid1, t.kib, t.procs, t.svcs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("%s", "usage: nlbench stamp|wait|restart|mem|count ...");
    const char *c = argv[1];
    if (strcmp(c, "stamp") == 0)
        return cmd_stamp(argc - 2, argv + 2);
    if (strcmp(c, "wait") == 0)
        return cmd_wait(argc - 2, argv + 2);
    if (strcmp(c, "restart") == 0)
        return cmd_restart(argc - 2, argv + 2);
    if (strcmp(c, "mem") == 0)
        return cmd_mem(argc - 2, argv + 2);
    if (strcmp(c, "count") == 0 && argc == 3)
        return cmd_count(argv + 2);
    die("unknown command %s", c);
    return 1;
}
