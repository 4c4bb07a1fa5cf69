/* auth/: secrets from a pipe and from a terminal (without echo), and the keyring. */
#include <fcntl.h>
#include <stdio.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth.h"
#include "testutil.h"

static int pipe_with(const char *data)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], data, strlen(data)), (ssize_t)strlen(data));
	close(p[1]);
	return p[0];
}

START_TEST(secret_from_fd_line_by_line)
{
	int fd = pipe_with("correct horse\r\n123456\n");
	lpa_secbuf *a = NULL, *b = NULL;

	ck_assert_int_eq(auth_secret_read(NULL, fd, 64, &a), LPA_OK);
	ck_assert_int_eq(auth_secret_read(NULL, fd, 64, &b), LPA_OK);
	ck_assert_uint_eq(lpa_secbuf_len(a), 13);
	ck_assert_mem_eq(lpa_secbuf_cdata(a), "correct horse", 13);
	ck_assert_uint_eq(lpa_secbuf_len(b), 6);
	ck_assert_mem_eq(lpa_secbuf_cdata(b), "123456", 6);
	lpa_secbuf_free(&a);
	lpa_secbuf_free(&b);
	close(fd);
}
END_TEST

START_TEST(secret_refuses_empty_and_long)
{
	int fd = pipe_with("\n");
	lpa_secbuf *a = NULL;

	ck_assert_int_eq(auth_secret_read(NULL, fd, 64, &a), LPA_ERR_LENGTH);
	ck_assert_ptr_null(a);
	close(fd);
	fd = pipe_with("0123456789\n");
	ck_assert_int_eq(auth_secret_read(NULL, fd, 8, &a), LPA_ERR_LENGTH);
	ck_assert_ptr_null(a);
	close(fd);
	fd = pipe_with("");
	ck_assert_int_eq(auth_secret_read(NULL, fd, 8, &a), LPA_ERR_LENGTH);
	close(fd);
}
END_TEST

/* A child with the pty as its controlling terminal reads the secret from /dev/tty; the
 * parent, at the other end, must see the prompt but never the secret echoed back. */
START_TEST(secret_from_terminal_without_echo)
{
	int master, slave, st = 0;
	pid_t pid;
	char seen[256] = {0};
	size_t got = 0;

	ck_assert_int_eq(openpty(&master, &slave, NULL, NULL, NULL), 0);
	if ((pid = fork()) == 0) {
		lpa_secbuf *s = NULL;

		close(master);
		setsid();
		ioctl(slave, TIOCSCTTY, 0);
		if (auth_secret_read("Password: ", -1, 64, &s) != LPA_OK)
			_exit(2);
		_exit(lpa_secbuf_len(s) == 9 && memcmp(lpa_secbuf_cdata(s), "s3cr3t-pw", 9) == 0
			      ? 0
			      : 3);
	}
	close(slave);
	/* Wait for the prompt, then type. */
	while (got < sizeof(seen) - 1 && strstr(seen, "Password: ") == NULL) {
		ssize_t n = read(master, seen + got, sizeof(seen) - 1 - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(write(master, "s3cr3t-pw\n", 10), 10);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	/* Drain what the terminal sent back: the newline, not the secret. */
	fcntl(master, F_SETFL, O_NONBLOCK);
	for (ssize_t n;
	     got < sizeof(seen) - 1 && (n = read(master, seen + got, sizeof(seen) - 1 - got)) > 0;)
		got += (size_t)n;
	seen[got] = '\0';
	ck_assert_ptr_null(strstr(seen, "s3cr3t"));
	close(master);
}
END_TEST

START_TEST(keyring_store_load_drop)
{
	lpa_secbuf *tok = tu_secbuf_hex("00112233445566778899aabbccddeeff", 16), *back = NULL;
	struct auth_session s = {.operator_name = "alice", .roles = "operator,qa"}, got;
	char name[64];

	snprintf(name, sizeof(name), "test-%d", (int)getpid());
	s.expires_at = time(NULL) + 600;
	ck_assert_int_eq(auth_session_store(name, tok, &s), LPA_OK);
	ck_assert_int_eq(auth_session_load(name, &back, &got), LPA_OK);
	ck_assert_mem_eq(lpa_secbuf_cdata(back), lpa_secbuf_cdata(tok), 16);
	ck_assert_str_eq(got.operator_name, "alice");
	ck_assert_str_eq(got.roles, "operator,qa");
	ck_assert_int_eq(got.expires_at, s.expires_at);
	lpa_secbuf_free(&back);
	ck_assert_int_eq(auth_session_drop(name), LPA_OK);
	ck_assert_int_eq(auth_session_load(name, &back, &got), LPA_ERR_NOT_FOUND);
	ck_assert_int_eq(auth_session_drop(name), LPA_ERR_NOT_FOUND);
	lpa_secbuf_free(&tok);
}
END_TEST

/* login and the next command are different processes: the session must outlive the
 * process that stored it. */
START_TEST(keyring_survives_the_storing_process)
{
	lpa_secbuf *back = NULL;
	struct auth_session got;
	char name[64];
	pid_t pid;
	int st = 0;

	snprintf(name, sizeof(name), "cross-%d", (int)getpid());
	if ((pid = fork()) == 0) {
		lpa_secbuf *tok = lpa_secbuf_new(4);
		struct auth_session s = {.operator_name = "carol", .roles = "qa"};

		memcpy(lpa_secbuf_data(tok), "t0k3", 4);
		s.expires_at = time(NULL) + 600;
		_exit(auth_session_store(name, tok, &s) == LPA_OK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(auth_session_load(name, &back, &got), LPA_OK);
	ck_assert_mem_eq(lpa_secbuf_cdata(back), "t0k3", 4);
	ck_assert_str_eq(got.operator_name, "carol");
	lpa_secbuf_free(&back);
	ck_assert_int_eq(auth_session_drop(name), LPA_OK);
}
END_TEST

START_TEST(keyring_session_expires)
{
	lpa_secbuf *tok = tu_secbuf_hex("aabb", 2), *back = NULL;
	struct auth_session s = {.operator_name = "bob", .roles = "operator"}, got;
	char name[64];

	snprintf(name, sizeof(name), "expire-%d", (int)getpid());
	s.expires_at = time(NULL) + 1;
	ck_assert_int_eq(auth_session_store(name, tok, &s), LPA_OK);
	sleep(2);
	ck_assert_int_eq(auth_session_load(name, &back, &got), LPA_ERR_NOT_FOUND);
	ck_assert_ptr_null(back);
	s.expires_at = time(NULL) - 1; /* already over: refused, not stored */
	ck_assert_int_eq(auth_session_store(name, tok, &s), LPA_ERR_INVAL);
	lpa_secbuf_free(&tok);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(secret_from_fd_line_by_line),
		TU_CASE(secret_refuses_empty_and_long),
		TU_CASE(secret_from_terminal_without_echo),
		TU_CASE(keyring_store_load_drop),
		TU_CASE(keyring_survives_the_storing_process),
		TU_CASE(keyring_session_expires),
	};

	return tu_main("auth", cases, TU_N(cases));
}
