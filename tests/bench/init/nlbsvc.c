/* The service every supervisor runs in tests/bench/init.sh: the same static binary for all,
 * exec'd directly (no shell). With `--ready FD` it first writes one newline to FD (s6-style
 * readiness, init's `ready=fd:N`). It then appends one record, the CLOCK_MONOTONIC time at
 * which main() began and its pid, to the events file (NLB_EVENTS, fixed when the script
 * compiles it; nothing happens when the file is absent), and waits forever. The benchmark
 * reads bring-up and restart times from those records: no polling of /proc involved. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef NLB_EVENTS
#error "compile with -DNLB_EVENTS='\"/path/of/events\"'"
#endif

int main(int argc, char **argv)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    struct {
        int64_t ns;
        int32_t pid;
        int32_t pad;
    } rec = {(int64_t)t.tv_sec * 1000000000 + t.tv_nsec, (int32_t)getpid(), 0};

    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0) {
            int fd = atoi(argv[i + 1]);
            if (write(fd, "\n", 1) != 1)
                return 111;
            close(fd);
        }
    }
    int fd = open(NLB_EVENTS, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, &rec, sizeof rec) != (ssize_t)sizeof rec)
            return 111;
        close(fd);
    }
    for (;;)
        pause();
}
