// SPDX-FileCopyrightText: 2026 The Nanolin authors
// SPDX-License-Identifier: MIT
//
// hello: the smallest program a Nanolin board runs, built from source in the sandbox.
#include <stdio.h>

int main(void) {
    puts("hello from a Nanolin package");
    return 0;
}
