/*
 * CHECK(call) for the benchmark programs of benches/c: a failed call ends the program,
 * printing where, the status and the library's message.
 */
#ifndef SA_BENCH_CHECK_H
#define SA_BENCH_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include <softadastra/sync.h>

#define CHECK(call)                                                                    \
    do {                                                                               \
        sa_status check_status_ = (call);                                              \
        if (check_status_ != SA_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,    \
                    sa_status_str(check_status_), sa_last_error_message());            \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#endif
