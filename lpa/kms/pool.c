/*
 * pool.c — the threads behind the server: workers that run the first phase of requests
 * (parsing, checks, Argon2, signing: the slow, parallel part), each with its own
 * database connection, and between them the second phase (the writes and audit lines:
 * the serial part). A worker done with a first phase queues its call for the second;
 * if no worker is committing, it becomes the committer and commits every call that has
 * gathered, in one transaction, until none is left (group commit with a leader: no
 * extra thread to wake). With more stations there are more calls per fdatasync, not
 * more fdatasyncs: throughput grows with the number of clients instead of falling.
 *
 * Logins (Argon2id, ~0.25 s and 64 MiB each) may occupy at most login_workers workers at
 * once; the others always take the quick requests first, so a login flood cannot delay
 * an issue or a GET /v1/keys behind it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms-server.h"

#define POOL_MAX_THREADS 64
#define POOL_BATCH 128 /* calls per transaction, at most */

struct pool_list {
	struct kms_job *head, *tail;
};

struct kms_pool {
	struct kms_server *s;
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct pool_list fast, slow, done;
	unsigned slow_running, slow_max;
	bool stop, committing;
	pthread_t threads[POOL_MAX_THREADS];
	struct db *dbs[POOL_MAX_THREADS];
	unsigned nthreads;
};

struct pool_start_arg {
	struct kms_pool *p;
	struct db *db;
};

static void pool_push(struct pool_list *l, struct kms_job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct kms_job *pool_pop(struct pool_list *l)
{
	struct kms_job *j = l->head;

	if (j && (l->head = j->next) == NULL)
		l->tail = NULL;
	return j;
}

/* Quick work first; a login only while fewer than slow_max run. */
static struct kms_job *pool_take(struct kms_pool *p)
{
	struct kms_job *j = pool_pop(&p->fast);

	if (!j && p->slow_running < p->slow_max && (j = pool_pop(&p->slow)) != NULL)
		p->slow_running++;
	return j;
}

/* Called with the lock held; returns with it held. Commits what has gathered, as long
 * as anything has, unless another worker is at it already (which then takes ours up
 * before it lets go: it looks at the queue again, under the lock, after every batch). */
static void pool_commit(struct kms_pool *p, struct db *db)
{
	struct kms_call *calls[POOL_BATCH];
	struct kms_job *jobs[POOL_BATCH];

	if (p->committing)
		return;
	p->committing = true;
	while (p->done.head) {
		size_t n = 0;
		int begun;

		/* The transaction first, then the batch: while this waits for the database's
		 * writers' lock (another KMS instance on PostgreSQL holds it), calls keep
		 * gathering, and all of them go into this one transaction. */
		pthread_mutex_unlock(&p->lock);
		begun = db_begin(db);
		pthread_mutex_lock(&p->lock);
		while (n < POOL_BATCH && (jobs[n] = pool_pop(&p->done)) != NULL)
			n++;
		pthread_mutex_unlock(&p->lock);
		for (size_t i = 0; i < n; i++)
			calls[i] = &jobs[i]->call;
		call_commit(p->s, db, calls, n, begun);
		for (size_t i = 0; i < n; i++)
			jobs[i]->done(jobs[i]); /* the job may be gone after this */
		pthread_mutex_lock(&p->lock);
	}
	p->committing = false;
}

static void *pool_work(void *arg)
{
	struct pool_start_arg *a = arg;
	struct kms_pool *p = a->p;
	struct db *db = a->db;
	struct kms_job *j;

	free(a);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		if ((j = pool_take(p)) == NULL) {
			if (p->stop && !p->fast.head && !p->slow.head)
				break;
			pthread_cond_wait(&p->work, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		j->call.db = db;
		j->prepare(p->s, j);
		j->call.db = NULL;
		pthread_mutex_lock(&p->lock);
		if (j->slow) {
			p->slow_running--;
			pthread_cond_signal(&p->work); /* a waiting login may go now */
		}
		pool_push(&p->done, j);
		pool_commit(p, db);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int pool_thread(struct kms_pool *p)
{
	struct pool_start_arg *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return KMS_ERR_NOMEM;
	a->p = p;
	if ((r = db_open(&p->s->paths, false, &a->db)) != KMS_OK) {
		free(a);
		return r;
	}
	p->dbs[p->nthreads] = a->db;
	if (pthread_create(&p->threads[p->nthreads], NULL, pool_work, a) != 0) {
		db_close(&p->dbs[p->nthreads]);
		free(a);
		return KMS_ERR_NOMEM;
	}
	p->nthreads++;
	return KMS_OK;
}

int pool_start(struct kms_server *s, struct kms_pool **out)
{
	struct kms_pool *p = calloc(1, sizeof(*p));
	unsigned n = s->cfg.workers;
	int r = KMS_OK;

	*out = NULL;
	if (!p)
		return KMS_ERR_NOMEM;
	p->s = s;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	if (n < 1)
		n = 1;
	if (n > POOL_MAX_THREADS)
		n = POOL_MAX_THREADS;
	p->slow_max = s->cfg.login_workers ? s->cfg.login_workers : 1;
	if (p->slow_max >= n && n > 1)
		p->slow_max = n - 1; /* one worker always free for quick requests */
	while (p->nthreads < n && (r = pool_thread(p)) == KMS_OK)
		;
	if (r != KMS_OK) {
		pool_stop(&p);
		return r;
	}
	*out = p;
	return KMS_OK;
}

void pool_submit(struct kms_pool *p, struct kms_job *job)
{
	pthread_mutex_lock(&p->lock);
	pool_push(job->slow ? &p->slow : &p->fast, job);
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void pool_stop(struct kms_pool **pp)
{
	struct kms_pool *p = *pp;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	/* A worker leaves only when the queues are empty and what it queued is committed
	 * (by itself, or by the committer, which finishes before it leaves). */
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	for (unsigned i = 0; i < p->nthreads; i++)
		db_close(&p->dbs[i]);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p);
	*pp = NULL;
}
