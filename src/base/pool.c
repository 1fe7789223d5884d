/*
** pool.c -- a small pthread pool that runs one parallel loop at a time.
**
** A forward pass issues hundreds of short parallel loops per token, so the
** hand-off must be cheap: workers spin briefly on a generation counter
** before they sleep on a condition variable.  The caller is worker 0 and
** does its share of the work instead of waiting idle.
*/
#define _GNU_SOURCE
#include "base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SPIN_ITERS 20000 /* before a worker sleeps on the condition variable */
#define SPIN_YIELD 1000  /* before a spinning thread gives its core away */

/* On a loaded machine a waiting thread may hold the very core the thread
** it waits for needs, so spinning turns into yielding after a while. */
static void backoff(int spins) {
    if (spins > SPIN_YIELD) sched_yield();
#if defined(__x86_64__) || defined(__i386__)
    else
        __builtin_ia32_pause();
#endif
}

struct lx_pool {
    int n;              /* threads including the caller */
    pthread_t *threads; /* n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;    /* bumped once per lx_pool_run */
    atomic_int pending; /* workers still busy with the current loop */
    atomic_int stop;
    lx_pool_fn fn;
    void *arg;
};

typedef struct {
    lx_pool *p;
    int ith;
} worker_arg;

static void *worker_main(void *v) {
    worker_arg *wa = v;
    lx_pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop)) {
            if (++spins < SPIN_ITERS) {
                backoff(spins);
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        p->fn(p->arg, ith, p->n);
        atomic_fetch_sub(&p->pending, 1);
    }
}

lx_pool *lx_pool_new(int n_threads, lexie_error *err) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > LX_POOL_MAX) {
        lx_fail(err, LEXIE_E_INVALID, "thread count %d is too large (max %d)", n_threads,
                LX_POOL_MAX);
        return NULL;
    }
    lx_pool *p = lx_calloc(1, sizeof *p, err);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = lx_calloc((size_t)n_threads, sizeof *p->threads, err);
    if (!p->threads) {
        lx_pool_free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            p->n = i;
            lx_pool_free(p);
            lx_fail(err, LEXIE_E_NOMEM, "out of memory starting threads");
            return NULL;
        }
        wa->p = p;
        wa->ith = i;
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n = i;
            lx_pool_free(p);
            lx_fail(err, LEXIE_E_INTERNAL, "cannot start thread %d", i);
            return NULL;
        }
    }
    return p;
}

void lx_pool_free(lx_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int lx_pool_size(const lx_pool *p) { return p ? p->n : 1; }

void lx_pool_run(lx_pool *p, lx_pool_fn fn, void *arg) {
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    for (int spins = 0; atomic_load(&p->pending) > 0; spins++) backoff(spins);
}

int lx_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

double lx_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
