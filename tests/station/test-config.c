/* station.conf(5): a full file parses; every kind of mistake is named with its line. */
#include <stdio.h>

#include "config.h"
#include "testutil.h"

static int parse(const char *text, struct station_config *c, char *err)
{
	config_defaults(c);
	return config_parse(text, strlen(text), c, err, 256);
}

START_TEST(full_file)
{
	struct station_config c;
	char err[256];
	const char *text = "# line 1\n"
			   "[kms]\n"
			   "url = https://kms.example:8443\n"
			   "ca=/etc/lpa/ca.pem\r\n"
			   "timeout = 30\n"
			   "record_keys = /etc/lpa/keys/kms-keys.json\n"
			   "\n"
			   "[station]\n"
			   "name = line-3_station.a\n"
			   "backend = openocd\n"
			   "clock_khz = 4000\n"
			   "[provision]\n"
			   "; comment\n"
			   "lot = LOT-2026-11\n"
			   "join_eui = 70B3D57ED0000000\n"
			   "lorawan = 1.0.4\n"
			   "allow_protection = virgin, normal\n"
			   "reprovision = yes\n";

	ck_assert_int_eq(parse(text, &c, err), LPA_OK);
	ck_assert_str_eq(c.kms_url, "https://kms.example:8443");
	ck_assert_str_eq(c.kms_ca, "/etc/lpa/ca.pem");
	ck_assert_uint_eq(c.kms_timeout_s, 30);
	ck_assert_str_eq(c.record_keys, "/etc/lpa/keys/kms-keys.json");
	ck_assert_str_eq(c.name, "line-3_station.a");
	ck_assert_int_eq(c.backend, PROG_BACKEND_OPENOCD);
	ck_assert_uint_eq(c.clock_khz, 4000);
	ck_assert_str_eq(c.lot, "LOT-2026-11");
	ck_assert(c.have_join_eui);
	ck_assert_uint_eq(c.join_eui, 0x70b3d57ed0000000ULL);
	ck_assert_str_eq(c.lorawan, "1.0.4");
	ck_assert_uint_eq(c.allowed_protection, (1u << 1) | (1u << 2));
	ck_assert(c.reprovision);
	ck_assert_str_eq(c.tls_cert, "/etc/lpa/station.pem"); /* default kept */
}
END_TEST

START_TEST(mistakes_named_with_line)
{
	struct station_config c;
	char err[256];

	ck_assert_int_eq(parse("[kms]\nurl = http://plain\n", &c, err), LPA_ERR_INVAL);
	/* Each refusal says what the key takes, and a typo gets its suggestion. */
	ck_assert_str_eq(err, "line 2: bad value 'http://plain' for 'url' in [kms]: expected an "
			      "https:// URL of the KMS");
	ck_assert_int_eq(parse("[kms]\ntimeout = 0\n", &c, err), LPA_ERR_INVAL);
	ck_assert_str_eq(err, "line 2: bad value '0' for 'timeout' in [kms]: expected seconds per "
			      "request, 1..600");
	ck_assert_int_eq(parse("[kms]\nurll = https://x\n", &c, err), LPA_ERR_NOT_FOUND);
	ck_assert_str_eq(err, "line 2: unknown key 'urll' in [kms]; did you mean 'url'?");
	ck_assert_int_eq(parse("[station]\nbakend = openocd\n", &c, err), LPA_ERR_NOT_FOUND);
	ck_assert_str_eq(err, "line 2: unknown key 'bakend' in [station]; did you mean 'backend'?");
	ck_assert_int_eq(parse("[kms]\nbanana = 1\n", &c, err), LPA_ERR_NOT_FOUND);
	ck_assert_str_eq(err, "line 2: unknown key 'banana' in [kms]");
	ck_assert_int_eq(parse("[kmss]\n", &c, err), LPA_ERR_NOT_FOUND);
	ck_assert_int_eq(parse("url = https://x\n", &c, err), LPA_ERR_ENCODING);
	ck_assert_int_eq(parse("[kms\n", &c, err), LPA_ERR_ENCODING);
	ck_assert_int_eq(parse("[kms]\njust words\n", &c, err), LPA_ERR_ENCODING);
	ck_assert_int_eq(parse("[station]\nbackend = jtag\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[station]\nclock_khz = 9\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[station]\nclock_khz = -5\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[station]\nname = a b\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[provision]\njoin_eui = 70b3\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[provision]\nlorawan = 1.2\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[provision]\nallow_protection = tired\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[provision]\nreprovision = maybe\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[kms]\ntimeout = 99999999999999999999\n", &c, err), LPA_ERR_INVAL);
	/* The lot names a file: a name, never a path (red team: ../../outside/pwned). */
	ck_assert_int_eq(parse("[provision]\nlot = ../../outside/pwned\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[provision]\nlot = a/b\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[kms]\nrecord_keys =\n", &c, err), LPA_ERR_INVAL);
}
END_TEST

/* [agent]: the image, its SHA-256 and version, all three or none. */
START_TEST(agent_image_keys)
{
	struct station_config c;
	char err[256];
	const char *h = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
	char text[512];

	snprintf(text, sizeof(text),
		 "[agent]\nimage = /usr/share/lpa/agent/lpa-agent-cy8c6xx7.hex\n"
		 "sha256 = %s\nversion = 1.2\n",
		 h);
	ck_assert_int_eq(parse(text, &c, err), LPA_OK);
	ck_assert_str_eq(c.agent_image, "/usr/share/lpa/agent/lpa-agent-cy8c6xx7.hex");
	ck_assert(c.have_agent_sha256);
	ck_assert_uint_eq(c.agent_sha256[0], 0x00);
	ck_assert_uint_eq(c.agent_sha256[31], 0xFF);
	ck_assert_uint_eq(c.agent_version, 0x0102);
	/* Defaults: no image, nothing to program. */
	ck_assert_int_eq(parse("[agent]\n", &c, err), LPA_OK);
	ck_assert_str_eq(c.agent_image, "");
	/* Malformed values, each named. */
	ck_assert_int_eq(parse("[agent]\nsha256 = 0011\n", &c, err), LPA_ERR_INVAL);
	ck_assert_str_eq(err, "line 2: bad value '0011' for 'sha256' in [agent]: expected 64 hex "
			      "digits: the image's SHA-256 (lpa-station agent info)");
	snprintf(text, sizeof(text), "[agent]\nsha256 = %.63sg\n", h);
	ck_assert_int_eq(parse(text, &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nversion = 1\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nversion = 0.0\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nversion = 1.256\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nversion = .1\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nversion = 1.-1\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nimage =\n", &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nimag = x\n", &c, err), LPA_ERR_NOT_FOUND);
	ck_assert_str_eq(err, "line 2: unknown key 'imag' in [agent]; did you mean 'image'?");
	/* An image without the hash it must have (or the hash without an image). */
	ck_assert_int_eq(parse("[agent]\nimage = /a.hex\nversion = 1.0\n", &c, err), LPA_ERR_INVAL);
	ck_assert_str_eq(err, "[agent]: image needs its sha256 and version");
	snprintf(text, sizeof(text), "[agent]\nimage = /a.hex\nsha256 = %s\n", h);
	ck_assert_int_eq(parse(text, &c, err), LPA_ERR_INVAL);
	ck_assert_int_eq(parse("[agent]\nversion = 1.0\n", &c, err), LPA_ERR_INVAL);
	ck_assert_str_eq(err, "[agent]: sha256 or version without an image");
}
END_TEST

START_TEST(nul_and_long_lines_refused)
{
	struct station_config c;
	char err[256], big[2048];

	config_defaults(&c);
	ck_assert_int_eq(config_parse("[kms]\0x\n", 8, &c, err, sizeof(err)), LPA_ERR_ENCODING);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(parse(big, &c, err), LPA_ERR_ENCODING);
}
END_TEST

START_TEST(missing_file_reported)
{
	struct station_config c;
	char err[256];
	bool missing = false;

	config_defaults(&c);
	ck_assert_int_eq(config_load("/nonexistent/station.conf", &c, &missing, err, sizeof(err)),
			 LPA_ERR_NOT_FOUND);
	ck_assert(missing);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(full_file),
		TU_CASE(mistakes_named_with_line),
		TU_CASE(agent_image_keys),
		TU_CASE(nul_and_long_lines_refused),
		TU_CASE(missing_file_reported),
	};

	return tu_main("config", cases, TU_N(cases));
}
