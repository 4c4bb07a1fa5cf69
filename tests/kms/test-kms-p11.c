/*
 * test-kms-p11.c — the KMS's key storage against a real SoftHSM2 token (made by
 * softhsm-token.sh in a temporary directory for this run): sealing and opening in the
 * token, signing with token keys (CKM_ECDSA over a SHA-256 computed outside), imported
 * keys, keys that the token refuses to reveal, the PIN from a descriptor or a systemd
 * credential, record-key rotation with both kinds of vault, and parallel use.
 * Each test has a token of its own: objects made by one do not meet another.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "kms-db.h"
#include "kms-keys.h"
#include "kms-p11.h"
#include "softhsm.h"
#include "testutil.h"

static struct softhsm hsm;

static const char *const tokens[] = {"t-seal",   "t-sign", "t-import", "t-extract",
				     "t-rotate", "t-pin",  "t-exists", "t-threads"};

static void vopts(struct vault_opts *o, const char *token, int pin_fd)
{
	memset(o, 0, sizeof(*o));
	o->module = hsm.module;
	o->token = token;
	o->pin_fd = pin_fd;
}

static struct vault *token_vault(const char *token)
{
	struct vault_opts o;
	struct vault *v = NULL;
	int fd = softhsm_pin_fd(&hsm);

	vopts(&o, token, fd);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_OK);
	close(fd);
	ck_assert_int_eq(vault_kind(v), VAULT_PKCS11);
	return v;
}

static struct db *new_db(const char *name)
{
	struct kms_paths paths = {0}; /* an SQLite file of its own */
	struct db *db = NULL;

	snprintf(paths.db, sizeof(paths.db), "%s/%s.db", hsm.dir, name);
	ck_assert_int_eq(db_open(&paths, true, &db), KMS_OK);
	return db;
}

static EVP_PKEY *public_key(struct db *db, const char *purpose, uint32_t *key_id)
{
	EVP_PKEY *k = NULL;

	ck_assert_int_eq(keys_load_public(db, purpose, &k, key_id), KMS_OK);
	return k;
}

/* A JWS by signer that must verify with pub and name kid. */
static char *sign_jws(struct keys_signer *signer, const char *kid)
{
	char *jws = NULL;

	ck_assert_int_eq(lpa_jws_sign_with(keys_sign, signer, kid, "{\"v\":1}", 7, &jws), LPA_OK);
	return jws;
}

static void assert_jws(const char *jws, const EVP_PKEY *pub, const char *kid)
{
	uint8_t *payload = NULL;
	size_t len;
	char *got = NULL;

	ck_assert_int_eq(lpa_jws_verify(jws, pub, &got, &payload, &len), LPA_OK);
	ck_assert_str_eq(got, kid);
	ck_assert_uint_eq(len, 7);
	free(got);
	free(payload);
}

static bool jws_verifies(const char *jws, const EVP_PKEY *pub)
{
	uint8_t *payload = NULL;
	size_t len;
	int r = lpa_jws_verify(jws, pub, NULL, &payload, &len);

	free(payload);
	return r == LPA_OK;
}

START_TEST(token_seals_and_opens)
{
	static const uint8_t pt[32] = "AppKey..........NwkKey..........";
	struct vault *v = token_vault("t-seal");
	struct vault_opts o;
	uint8_t *b1 = NULL, *b2 = NULL, r1[32], r2[32];
	size_t l1, l2;
	lpa_secbuf *out = NULL;
	struct db *db = new_db("seal");
	int fd;

	ck_assert_int_eq(vault_seal(v, "lpa-kms root keys", "ctx1", 4, pt, 32, &b1, &l1), KMS_OK);
	ck_assert_uint_eq(l1, 32 + VAULT_OVERHEAD);
	ck_assert_int_eq(vault_seal(v, "lpa-kms root keys", "ctx1", 4, pt, 32, &b2, &l2), KMS_OK);
	ck_assert_mem_ne(b1, b2, l1); /* a fresh nonce each time */
	ck_assert_int_eq(vault_open(v, "lpa-kms root keys", "ctx1", 4, b1, l1, &out), KMS_OK);
	ck_assert_mem_eq(lpa_secbuf_cdata(out), pt, 32);
	lpa_secbuf_free(&out);
	/* Another row's context, another label, a flipped bit, a short blob: none opens. */
	ck_assert_int_eq(vault_open(v, "lpa-kms root keys", "ctx2", 4, b1, l1, &out),
			 KMS_ERR_SEALED);
	ck_assert_int_eq(vault_open(v, "lpa-kms totp", "ctx1", 4, b1, l1, &out), KMS_ERR_SEALED);
	b1[20] ^= 1;
	ck_assert_int_eq(vault_open(v, "lpa-kms root keys", "ctx1", 4, b1, l1, &out),
			 KMS_ERR_SEALED);
	b1[20] ^= 1;
	ck_assert_int_eq(vault_open(v, "lpa-kms root keys", "ctx1", 4, b1, 27, &out),
			 KMS_ERR_SEALED);
	ck_assert_ptr_null(out);
	/* The token's RNG. */
	ck_assert_int_eq(vault_random(v, r1, sizeof(r1)), KMS_OK);
	ck_assert_int_eq(vault_random(v, r2, sizeof(r2)), KMS_OK);
	ck_assert_mem_ne(r1, r2, sizeof(r1));
	/* The sealing key is a token object: a new login, found through the database's
	 * configuration, opens what the first one sealed. */
	ck_assert_int_eq(vault_save_config(db, v), KMS_OK);
	vault_free(&v);
	fd = softhsm_pin_fd(&hsm);
	vopts(&o, NULL, fd);
	o.module = NULL; /* the database's */
	ck_assert_int_eq(vault_load_db(db, &o, &v), KMS_OK);
	close(fd);
	ck_assert_int_eq(vault_open(v, "lpa-kms root keys", "ctx1", 4, b1, l1, &out), KMS_OK);
	ck_assert_mem_eq(lpa_secbuf_cdata(out), pt, 32);
	lpa_secbuf_free(&out);
	free(b1);
	free(b2);
	vault_free(&v);
	db_close(&db);
}
END_TEST

START_TEST(token_keys_sign)
{
	struct vault *v = token_vault("t-sign");
	struct db *db = new_db("sign");
	struct keys_signer *rec = NULL, *pkg = NULL;
	EVP_PKEY *rec_pub, *pkg_pub, *dik = NULL, *mem = NULL;
	struct lpa_lpk1_hdr hdr = {
		.lorawan = LPA_LORAWAN_11, .dev_eui = 1, .chip_uid = 2, .counter = 1, .key_id = 7};
	lpa_secbuf *keys = lpa_secbuf_new(LPA_ROOT_KEYS_LEN);
	uint8_t pkg_bytes[LPA_LPK1_LEN];
	struct db_stmt *st = NULL;
	uint32_t id = 0;
	char *jws;

	ck_assert_int_eq(keys_create(db, v, KEY_RECORD, 1, NULL), KMS_OK);
	ck_assert_int_eq(keys_create(db, v, KEY_PACKAGE, 7, NULL), KMS_OK);
	ck_assert_int_eq(keys_signer_load(db, v, KEY_RECORD, &rec, &id), KMS_OK);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(keys_signer_load(db, v, KEY_PACKAGE, &pkg, &id), KMS_OK);
	ck_assert_uint_eq(id, 7);
	rec_pub = public_key(db, KEY_RECORD, NULL);
	pkg_pub = public_key(db, KEY_PACKAGE, NULL);
	/* A record JWS signed in the token verifies with the published key. */
	jws = sign_jws(rec, "record-1");
	assert_jws(jws, rec_pub, "record-1");
	ck_assert(!jws_verifies(jws, pkg_pub));
	free(jws);
	/* An LPK1 signed in the token verifies as the chip checks it. */
	ck_assert_int_eq(lpa_p256_generate(&dik), LPA_OK);
	ck_assert_int_eq(
		lpa_lpk1_build_with(&hdr, keys, dik, keys_sign, pkg, NULL, NULL, pkg_bytes),
		LPA_OK);
	ck_assert_int_eq(lpa_lpk1_verify(pkg_bytes, sizeof(pkg_bytes), pkg_pub), LPA_OK);
	ck_assert_int_ne(lpa_lpk1_verify(pkg_bytes, sizeof(pkg_bytes), rec_pub), LPA_OK);
	/* The rows name the token objects; no private key material is in the database. */
	ck_assert_int_eq(
		db_query(db, &st, "SELECT sealed FROM keys WHERE purpose = ?", "t", KEY_RECORD),
		KMS_OK);
	ck_assert_uint_eq(db_col_len(st, 0), strlen("pkcs11:lpa-kms record 1"));
	ck_assert_mem_eq(db_col_bytes(st, 0, NULL), "pkcs11:lpa-kms record 1",
			 strlen("pkcs11:lpa-kms record 1"));
	db_done(&st);
	/* ... and a token key is never loaded into memory as an EVP_PKEY. */
	ck_assert_int_eq(keys_load(db, v, KEY_RECORD, &mem, NULL, NULL, NULL), KMS_ERR_INVAL);
	ck_assert_ptr_null(mem);
	lpa_pkey_free(&rec_pub);
	lpa_pkey_free(&pkg_pub);
	lpa_pkey_free(&dik);
	lpa_secbuf_free(&keys);
	keys_signer_free(&rec);
	keys_signer_free(&pkg);
	vault_free(&v);
	db_close(&db);
}
END_TEST

/* Whether needle is anywhere in the file (the database and its WAL). */
static bool file_has(const char *path, const uint8_t *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t len;

	if (!f)
		return false;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return len >= n && memmem(buf, len, needle, n) != NULL;
}

START_TEST(imported_key_signs_and_stays_inside)
{
	struct vault *v = token_vault("t-import");
	struct db *db = new_db("import");
	struct keys_signer *pkg = NULL;
	struct p11_key_info info;
	EVP_PKEY *k = NULL;
	lpa_secbuf *d = NULL;
	p11_handle h;
	char *jws, path[700];

	ck_assert_int_eq(lpa_p256_generate(&k), LPA_OK);
	ck_assert_int_eq(lpa_p256_private_bytes(k, &d), LPA_OK);
	ck_assert_int_eq(keys_create(db, v, KEY_PACKAGE, 1, k), KMS_OK);
	ck_assert_int_eq(keys_signer_load(db, v, KEY_PACKAGE, &pkg, NULL), KMS_OK);
	jws = sign_jws(pkg, "package-1");
	assert_jws(jws, k, "package-1"); /* the token signs with the key it was given */
	free(jws);
	ck_assert_int_eq(p11_find_private(vault_token(v), "lpa-kms package 1", &h), KMS_OK);
	ck_assert_int_eq(p11_key_info(vault_token(v), h, &info), KMS_OK);
	ck_assert(info.sensitive && !info.extractable && info.value_refused);
	ck_assert(!info.always_sensitive); /* it existed outside: the token says so */
	/* The scalar is in no file the KMS wrote. */
	snprintf(path, sizeof(path), "%s/import.db", hsm.dir);
	ck_assert(!file_has(path, lpa_secbuf_cdata(d), 32));
	snprintf(path, sizeof(path), "%s/import.db-wal", hsm.dir);
	ck_assert(!file_has(path, lpa_secbuf_cdata(d), 32));
	lpa_secbuf_free(&d);
	lpa_pkey_free(&k);
	keys_signer_free(&pkg);
	vault_free(&v);
	db_close(&db);
}
END_TEST

START_TEST(token_refuses_to_reveal_keys)
{
	struct vault *v = token_vault("t-extract");
	struct db *db = new_db("extract");
	const char *labels[] = {P11_LABEL_SEALING, "lpa-kms package 1", "lpa-kms record 1"};

	ck_assert_int_eq(keys_create(db, v, KEY_PACKAGE, 1, NULL), KMS_OK);
	ck_assert_int_eq(keys_create(db, v, KEY_RECORD, 1, NULL), KMS_OK);
	for (size_t i = 0; i < 3; i++) {
		struct p11_key_info info;
		p11_handle h;

		if (i == 0)
			ck_assert_int_eq(p11_find_secret(vault_token(v), labels[i], &h), KMS_OK);
		else
			ck_assert_int_eq(p11_find_private(vault_token(v), labels[i], &h), KMS_OK);
		ck_assert_int_eq(p11_key_info(vault_token(v), h, &info), KMS_OK);
		ck_assert_msg(info.value_refused && info.value_rv == CKR_ATTRIBUTE_SENSITIVE,
			      "%s: CKA_VALUE read gave CK_RV 0x%lx", labels[i], info.value_rv);
		ck_assert(info.sensitive && !info.extractable);
		ck_assert(info.always_sensitive && info.never_extractable);
	}
	vault_free(&v);
	db_close(&db);
}
END_TEST

/* Rotation with one vault: old records verify with the old kid, new with the new. */
static void rotate_with(struct vault *v, struct db *db)
{
	struct keys_signer *s = NULL;
	uint32_t old_id, new_id, id;
	json_t *jwks = NULL, *k;
	EVP_PKEY *pub[3] = {NULL};
	char *jws[3];
	size_t i;

	ck_assert_int_eq(keys_create(db, v, KEY_PACKAGE, 1, NULL), KMS_OK);
	ck_assert_int_eq(keys_create(db, v, KEY_RECORD, 1, NULL), KMS_OK);
	for (unsigned round = 0; round < 3; round++) {
		char kid[32];

		ck_assert_int_eq(keys_signer_load(db, v, KEY_RECORD, &s, &id), KMS_OK);
		ck_assert_uint_eq(id, round + 1);
		keys_kid(KEY_RECORD, id, kid);
		jws[round] = sign_jws(s, kid);
		keys_signer_free(&s);
		if (round < 2) {
			ck_assert_int_eq(keys_rotate_record(db, v, &old_id, &new_id), KMS_OK);
			ck_assert_uint_eq(old_id, round + 1);
			ck_assert_uint_eq(new_id, round + 2);
		}
	}
	/* The JWKS: the package key, then record-1, record-2, record-3. */
	ck_assert_int_eq(keys_jwks(db, &jwks), KMS_OK);
	ck_assert_uint_eq(json_array_size(json_object_get(jwks, "keys")), 4);
	json_array_foreach(json_object_get(jwks, "keys"), i, k)
	{
		char *s_json = json_dumps(k, JSON_COMPACT), kid[32];

		ck_assert_str_eq(json_string_value(json_object_get(k, "purpose")),
				 i == 0 ? KEY_PACKAGE : KEY_RECORD);
		if (i > 0) {
			keys_kid(KEY_RECORD, (uint32_t)i, kid);
			ck_assert_str_eq(json_string_value(json_object_get(k, "kid")), kid);
			ck_assert_int_eq(lpa_jwk_to_p256(s_json, &pub[i - 1]), LPA_OK);
		}
		free(s_json);
	}
	for (i = 0; i < 3; i++) {
		char kid[32];

		keys_kid(KEY_RECORD, (uint32_t)i + 1, kid);
		assert_jws(jws[i], pub[i], kid);
		/* ... and with no other record key. */
		ck_assert(!jws_verifies(jws[i], pub[(i + 1) % 3]));
		free(jws[i]);
		lpa_pkey_free(&pub[i]);
	}
	json_decref(jwks);
}

START_TEST(record_key_rotation_in_token)
{
	struct vault *v = token_vault("t-rotate");
	struct db *db = new_db("rotate-token");

	rotate_with(v, db);
	vault_free(&v);
	db_close(&db);
}
END_TEST

START_TEST(record_key_rotation_with_key_file)
{
	struct vault *v = NULL;
	struct db *db = new_db("rotate-file");
	char path[700];

	snprintf(path, sizeof(path), "%s/master.key", hsm.dir);
	ck_assert_int_eq(vault_create_master(path), KMS_OK);
	ck_assert_int_eq(vault_load_file(path, &v), KMS_OK);
	ck_assert_int_eq(vault_kind(v), VAULT_FILE);
	rotate_with(v, db);
	vault_free(&v);
	db_close(&db);
}
END_TEST

/* A PIN written to a pipe: the descriptor the vault reads. */
static int pin_pipe(const char *pin)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], pin, strlen(pin)), (ssize_t)strlen(pin));
	close(p[1]);
	return p[0];
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(pin_from_descriptor_or_credential)
{
	struct vault_opts o;
	struct vault *v = NULL;
	char pin[128], creds[700], path[800];
	FILE *f;
	int fd;

	ck_assert_ptr_nonnull(f = fopen(hsm.pin, "r"));
	ck_assert_ptr_nonnull(fgets(pin, sizeof(pin), f));
	fclose(f);
	/* A wrong PIN: the token refuses the login. */
	fd = pin_pipe("not-the-pin\n");
	vopts(&o, "t-pin", fd);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_TOKEN);
	close(fd);
	/* Empty, two lines: refused before the token sees them. */
	fd = pin_pipe("");
	vopts(&o, "t-pin", fd);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_INVAL);
	close(fd);
	fd = pin_pipe("1234\n5678\n");
	vopts(&o, "t-pin", fd);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_INVAL);
	close(fd);
	/* No descriptor and no credentials directory: nowhere to read the PIN from. */
	unsetenv("CREDENTIALS_DIRECTORY");
	vopts(&o, "t-pin", -1);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_INVAL);
	/* The systemd credential: $CREDENTIALS_DIRECTORY/pkcs11-pin, or a name of one's own. */
	snprintf(creds, sizeof(creds), "%s/creds", hsm.dir);
	mkdir(creds, 0700);
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	snprintf(path, sizeof(path), "%s/pkcs11-pin", creds);
	write_file(path, pin, 0644);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_PERM); /* others may read it */
	ck_assert_int_eq(chmod(path, 0400), 0);
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_OK);
	vault_free(&v);
	o.pin_credential = "../pin";
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_INVAL);
	o.pin_credential = "absent";
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_IO);
	snprintf(path, sizeof(path), "%s/other", creds);
	write_file(path, pin, 0600);
	o.pin_credential = "other";
	/* The PIN opened the token; init's second sealing key is refused. */
	ck_assert_int_eq(vault_create_pkcs11(&o, &v), KMS_ERR_EXISTS);
	ck_assert_ptr_null(v);
	unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

START_TEST(token_objects_are_never_replaced)
{
	struct vault *v = token_vault("t-exists"), *again = NULL;
	struct vault_opts o;
	struct db *db = new_db("exists");
	int fd = softhsm_pin_fd(&hsm);

	/* A second init on the same token, or the same key twice, is refused. */
	vopts(&o, "t-exists", fd);
	ck_assert_int_eq(vault_create_pkcs11(&o, &again), KMS_ERR_EXISTS);
	close(fd);
	ck_assert_int_eq(keys_create(db, v, KEY_RECORD, 1, NULL), KMS_OK);
	ck_assert_int_eq(keys_create(db, v, KEY_RECORD, 1, NULL), KMS_ERR_EXISTS);
	/* No such token, no such module. */
	fd = softhsm_pin_fd(&hsm);
	vopts(&o, "no-such-token", fd);
	ck_assert_int_eq(vault_create_pkcs11(&o, &again), KMS_ERR_NOT_FOUND);
	close(fd);
	fd = softhsm_pin_fd(&hsm);
	vopts(&o, "t-exists", fd);
	o.module = "/nonexistent/libpkcs11.so";
	ck_assert_int_eq(vault_create_pkcs11(&o, &again), KMS_ERR_TOKEN);
	close(fd);
	vault_free(&v);
	db_close(&db);
}
END_TEST

struct worker {
	struct vault *v;
	struct keys_signer *signer;
	EVP_PKEY *pub;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 40; i++) {
		uint8_t sig[64], *blob = NULL;
		lpa_secbuf *out = NULL;
		size_t len;
		char msg[32];

		snprintf(msg, sizeof(msg), "message %d", i);
		if (keys_sign(w->signer, msg, strlen(msg), sig) != LPA_OK ||
		    lpa_p256_verify(w->pub, msg, strlen(msg), sig) != LPA_OK ||
		    vault_seal(w->v, "t", msg, strlen(msg), (const uint8_t *)msg, strlen(msg),
			       &blob, &len) != KMS_OK ||
		    vault_open(w->v, "t", msg, strlen(msg), blob, len, &out) != KMS_OK ||
		    memcmp(lpa_secbuf_cdata(out), msg, strlen(msg)) != 0) {
			free(blob);
			lpa_secbuf_free(&out);
			return NULL;
		}
		free(blob);
		lpa_secbuf_free(&out);
	}
	w->ok = 1;
	return NULL;
}

START_TEST(token_serves_threads_in_parallel)
{
	struct vault *v = token_vault("t-threads");
	struct db *db = new_db("threads");
	struct keys_signer *s = NULL;
	struct worker w[4];
	pthread_t th[4];
	EVP_PKEY *pub;

	ck_assert_int_eq(keys_create(db, v, KEY_RECORD, 1, NULL), KMS_OK);
	ck_assert_int_eq(keys_signer_load(db, v, KEY_RECORD, &s, NULL), KMS_OK);
	pub = public_key(db, KEY_RECORD, NULL);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.v = v, .signer = s, .pub = pub};
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(w[i].ok, "worker %d failed", i);
	}
	lpa_pkey_free(&pub);
	keys_signer_free(&s);
	vault_free(&v);
	db_close(&db);
}
END_TEST

int main(int argc, char **argv)
{
	const struct tu_case cases[] = {
		TU_CASE(token_seals_and_opens),
		TU_CASE(token_keys_sign),
		TU_CASE(imported_key_signs_and_stays_inside),
		TU_CASE(token_refuses_to_reveal_keys),
		TU_CASE(record_key_rotation_in_token),
		TU_CASE(record_key_rotation_with_key_file),
		TU_CASE(pin_from_descriptor_or_credential),
		TU_CASE(token_objects_are_never_replaced),
		TU_CASE(token_serves_threads_in_parallel),
	};
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: test-kms-p11 SOFTHSM-TOKEN.SH\n");
		return 2;
	}
	lpa_secure_init(64 * 1024);
	softhsm_start(&hsm, argv[1], tokens, TU_N(tokens));
	r = tu_main("kms-p11", cases, TU_N(cases));
	softhsm_stop();
	return r;
}
