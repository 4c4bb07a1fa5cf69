/*
 * test-kms-conf.c — kms.conf (lpa/kms/conf.c): what it accepts, and for each fault the
 * reason, the line and a message that names it.
 */
#include <check.h>
#include <string.h>

#include "kms-db.h"
#include "testutil.h"

static int parse(const char *text, struct kms_conf *conf, enum kms_conf_err *why, unsigned *line,
		 char msg[256])
{
	return kms_conf_parse(text, strlen(text), conf, why, line, msg, 256);
}

START_TEST(accepts)
{
	struct kms_conf conf;
	enum kms_conf_err why;
	unsigned line;
	char msg[256];

	ck_assert_int_eq(parse("", &conf, &why, &line, msg), KMS_OK);
	ck_assert_str_eq(conf.conninfo, ""); /* SQLite */
	ck_assert_int_eq(parse("# comment\n\n  \t\npostgresql =  host=/run/postgresql"
			       " dbname=lpa passfile=/etc/lpa-kms/pgpass  \n",
			       &conf, &why, &line, msg),
			 KMS_OK);
	ck_assert_str_eq(conf.conninfo,
			 "host=/run/postgresql dbname=lpa passfile=/etc/lpa-kms/pgpass");
	ck_assert_int_eq(parse("postgresql=postgresql://lpa@%2Frun%2Fpostgresql/lpa\r\n", &conf,
			       &why, &line, msg),
			 KMS_OK);
	ck_assert_str_eq(conf.conninfo, "postgresql://lpa@%2Frun%2Fpostgresql/lpa");
	ck_assert_int_eq(why, CONF_OK);
}
END_TEST

START_TEST(refuses)
{
	static const struct {
		const char *text;
		enum kms_conf_err why;
		unsigned line;
		const char *msg;
	} cases[] = {
		{"postgresql host=x\n", CONF_ERR_SYNTAX, 1, "key = value"},
		{"# ok\n= x\n", CONF_ERR_SYNTAX, 2, "key = value"},
		{"sqlite = yes\n", CONF_ERR_KEY, 1, "unknown key 'sqlite'"},
		{"PostgreSQL = dbname=a\n", CONF_ERR_SYNTAX, 1, "key = value"},
		{"postgresql = dbname=a\npostgresql = dbname=b\n", CONF_ERR_DUP, 2, "twice"},
		{"postgresql =\n", CONF_ERR_VALUE, 1, "empty"},
		{"postgresql = dbname=a\x01\n", CONF_ERR_VALUE, 1, "non-printable"},
		{"postgresql = host='x\n", CONF_ERR_CONNINFO, 1, "not a libpq connection string"},
		{"postgresql = nosuchkey=1\n", CONF_ERR_CONNINFO, 1, "nosuchkey"},
		{"postgresql = dbname=k password=secret\n", CONF_ERR_PASSWORD, 1, "passfile"},
		{"postgresql = postgresql://u:secret@db/k\n", CONF_ERR_PASSWORD, 1, "password"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kms_conf conf;
		enum kms_conf_err why;
		unsigned line;
		char msg[256];

		ck_assert_int_eq(parse(cases[i].text, &conf, &why, &line, msg), KMS_ERR_CONF);
		ck_assert_msg(why == cases[i].why, "case %zu: reason %d, not %d (%s)", i, why,
			      cases[i].why, msg);
		ck_assert_uint_eq(line, cases[i].line);
		ck_assert_msg(strstr(msg, cases[i].msg) != NULL, "case %zu: '%s'", i, msg);
		ck_assert_str_eq(conf.conninfo, ""); /* nothing half-parsed is used */
	}
}
END_TEST

START_TEST(refuses_oversize)
{
	static char big[70 * 1024];
	struct kms_conf conf;
	enum kms_conf_err why;
	unsigned line;
	char msg[256];

	memset(big, '#', sizeof(big));
	ck_assert_int_eq(kms_conf_parse(big, sizeof(big), &conf, &why, &line, msg, sizeof(msg)),
			 KMS_ERR_CONF);
	ck_assert_int_eq(why, CONF_ERR_SIZE);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(accepts),
		TU_CASE(refuses),
		TU_CASE(refuses_oversize),
	};

	return tu_main("kms-conf", cases, TU_N(cases));
}
