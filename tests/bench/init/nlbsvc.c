/* The service every supervisor runs in tests/bench/init.sh: the same static binary for all,
 * exec'd directly (no shell). It does nothing but wait; with `--ready FD` it first writes one
 * newline to FD (s6-style readiness, init's `ready=fd:N`) and closes it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0) {
            int fd = atoi(argv[i + 1]);
            if (write(fd, "\n", 1) != 1)
                return 111;
            close(fd);
        }
    }
    for (;;)
        pause();
}
