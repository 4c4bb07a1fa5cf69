/*
 * softhsm.c — the fixture of softhsm.h. Only the process that made the directory removes
 * it: Check forks a child per test, and a child's exit must not take the tokens away from
 * the tests after it.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "softhsm.h"

/* No Check assertion (the fixture also serves main() and a benchmark): a message and
 * exit(1), which the atexit handler follows by removing the directory. */
#define SH_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "softhsm fixture: " __VA_ARGS__);                          \
			fputc('\n', stderr);                                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static char softhsm_dir[512];
static pid_t softhsm_owner;

static int softhsm_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void softhsm_stop(void)
{
	if (softhsm_dir[0] && getpid() == softhsm_owner) {
		nftw(softhsm_dir, softhsm_rm, 16, FTW_DEPTH | FTW_PHYS);
		softhsm_dir[0] = '\0';
	}
}

static void softhsm_signal(int sig)
{
	softhsm_stop();
	signal(sig, SIG_DFL);
	raise(sig);
}

void softhsm_start(struct softhsm *t, const char *script, const char *const *labels, size_t n)
{
	const char *tmp = getenv("KT_TMP") ? getenv("KT_TMP") : "/tmp";
	const char *argv[24];
	char conf[600];
	size_t k = 0;
	int status;
	pid_t pid;
	FILE *f;

	SH_CHECK(n <= 20, "at most 20 tokens");
	mkdir(tmp, 0700);
	snprintf(t->dir, sizeof(t->dir), "%s/softhsm.XXXXXX", tmp);
	SH_CHECK(mkdtemp(t->dir) != NULL, "cannot create %s", t->dir);
	snprintf(softhsm_dir, sizeof(softhsm_dir), "%s", t->dir);
	softhsm_owner = getpid();
	atexit(softhsm_stop);
	signal(SIGTERM, softhsm_signal);
	signal(SIGINT, softhsm_signal);
	signal(SIGHUP, softhsm_signal);
	argv[k++] = "sh";
	argv[k++] = script;
	argv[k++] = t->dir;
	for (size_t i = 0; i < n; i++)
		argv[k++] = labels[i];
	argv[k] = NULL;
	if ((pid = fork()) == 0) {
		execvp("sh", (char *const *)argv);
		_exit(127);
	}
	SH_CHECK(pid > 0, "fork failed");
	SH_CHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
	SH_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "softhsm-token.sh failed (status %d): is softhsm2 installed?", status);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", t->dir);
	setenv("SOFTHSM2_CONF", conf, 1);
	snprintf(t->pin, sizeof(t->pin), "%s/pin", t->dir);
	snprintf(conf, sizeof(conf), "%s/module", t->dir);
	SH_CHECK((f = fopen(conf, "r")) != NULL, "no %s", conf);
	SH_CHECK(fgets(t->module, sizeof(t->module), f) != NULL, "empty %s", conf);
	fclose(f);
	t->module[strcspn(t->module, "\n")] = '\0';
}

int softhsm_pin_fd(const struct softhsm *t)
{
	int fd = open(t->pin, O_RDONLY | O_CLOEXEC);

	SH_CHECK(fd >= 0, "cannot open %s", t->pin);
	return fd;
}
