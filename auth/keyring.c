/*
 * keyring.c — the KMS session token in the kernel's session keyring. A file would outlive
 * the shift, land in backups and be readable by anything running as the operator; a
 * keyring key dies with the login session and at its timeout, and never touches disk.
 *
 * Payload: "LPA1" | u64 expires_at | operator NUL | roles NUL | token bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <keyutils.h>
#include <openssl/crypto.h>

#include "auth.h"

#define KEYRING_MAGIC "LPA1"
#define KEYRING_MAX 2048

static void keyring_desc(const char *name, char *desc, size_t cap)
{
	snprintf(desc, cap, "lpa:session:%s", name);
}

int auth_session_store(const char *name, const lpa_secbuf *token, const struct auth_session *s)
{
	lpa_secbuf *payload = NULL;
	char desc[320];
	size_t ol = strnlen(s->operator_name, sizeof(s->operator_name));
	size_t rl = strnlen(s->roles, sizeof(s->roles));
	size_t n = 4 + 8 + ol + 1 + rl + 1 + lpa_secbuf_len(token);
	time_t now = time(NULL);
	key_serial_t key, ring;
	uint8_t *p;
	int r = LPA_OK;

	if (n > KEYRING_MAX || s->expires_at <= now)
		return LPA_ERR_INVAL;
	if ((payload = lpa_secbuf_new(n)) == NULL)
		return LPA_ERR_NOMEM;
	p = lpa_secbuf_data(payload);
	memcpy(p, KEYRING_MAGIC, 4);
	lpa_be_put(p + 4, (uint64_t)s->expires_at, 8);
	memcpy(p + 12, s->operator_name, ol);
	memcpy(p + 12 + ol + 1, s->roles, rl);
	memcpy(p + 12 + ol + 1 + rl + 1, lpa_secbuf_cdata(token), lpa_secbuf_len(token));
	keyring_desc(name, desc, sizeof(desc));
	/* A process outside a login session (a service, a CI job) has no session keyring;
	 * add_key(KEY_SPEC_SESSION_KEYRING) would create one that dies with this process and
	 * the next command would find no session. Resolved without "create", the special ID
	 * names the login session's keyring, or else the user's default session keyring,
	 * which the later commands of the same user search too. */
	if ((ring = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0)) < 0) {
		r = LPA_ERR_SYSTEM;
		goto fail;
	}
	key = add_key("user", desc, p, n, ring);
	if (key < 0) {
		r = LPA_ERR_SYSTEM;
		goto fail;
	}
	/* Possessor may do anything; nobody else, not even the same user outside the
	 * session, may read it. */
	if (keyctl_setperm(key, KEY_POS_ALL) != 0 ||
	    keyctl_set_timeout(key, (unsigned)(s->expires_at - now)) != 0) {
		(void)keyctl_invalidate(key);
		r = LPA_ERR_SYSTEM;
	}
fail:
	lpa_secbuf_free(&payload);
	return r;
}

int auth_session_load(const char *name, lpa_secbuf **token, struct auth_session *s)
{
	lpa_secbuf *buf = NULL;
	char desc[320];
	key_serial_t key;
	long n;
	const uint8_t *p, *end, *op, *roles, *tok;
	int r = LPA_ERR_NOT_FOUND;

	*token = NULL;
	memset(s, 0, sizeof(*s));
	keyring_desc(name, desc, sizeof(desc));
	if ((key = keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc, 0)) < 0)
		return errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED
			       ? LPA_ERR_NOT_FOUND
			       : LPA_ERR_SYSTEM;
	if ((buf = lpa_secbuf_new(KEYRING_MAX)) == NULL)
		return LPA_ERR_NOMEM;
	n = keyctl_read(key, (char *)lpa_secbuf_data(buf), KEYRING_MAX);
	if (n < 0) {
		r = errno == EKEYEXPIRED || errno == EKEYREVOKED ? LPA_ERR_NOT_FOUND
								 : LPA_ERR_SYSTEM;
		goto fail;
	}
	p = lpa_secbuf_cdata(buf);
	end = p + (n < KEYRING_MAX ? n : KEYRING_MAX);
	r = LPA_ERR_ENCODING;
	if (end - p < 14 || memcmp(p, KEYRING_MAGIC, 4) != 0)
		goto fail;
	s->expires_at = (time_t)lpa_be_get(p + 4, 8);
	op = p + 12;
	if ((roles = memchr(op, 0, (size_t)(end - op))) == NULL)
		goto fail;
	roles++;
	if ((tok = memchr(roles, 0, (size_t)(end - roles))) == NULL)
		goto fail;
	tok++;
	if (tok == end || (size_t)(roles - op) > sizeof(s->operator_name) ||
	    (size_t)(tok - roles) > sizeof(s->roles))
		goto fail;
	memcpy(s->operator_name, op, (size_t)(roles - op));
	memcpy(s->roles, roles, (size_t)(tok - roles));
	if (s->expires_at <= time(NULL)) {
		r = LPA_ERR_NOT_FOUND;
		goto fail;
	}
	if ((*token = lpa_secbuf_new((size_t)(end - tok))) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	memcpy(lpa_secbuf_data(*token), tok, (size_t)(end - tok));
	r = LPA_OK;
fail:
	lpa_secbuf_free(&buf);
	return r;
}

int auth_session_drop(const char *name)
{
	char desc[320];
	key_serial_t key;

	keyring_desc(name, desc, sizeof(desc));
	if ((key = keyctl_search(KEY_SPEC_SESSION_KEYRING, "user", desc, 0)) < 0)
		return LPA_ERR_NOT_FOUND;
	/* Invalidate, not just unlink: the key is gone for every keyring that holds it. */
	return keyctl_invalidate(key) == 0 ? LPA_OK : LPA_ERR_SYSTEM;
}
