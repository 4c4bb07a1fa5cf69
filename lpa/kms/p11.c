/*
 * p11.c — the KMS's PKCS#11 token. The module is a path in the KMS's configuration,
 * loaded with dlopen (never linked: the HSM vendor's library is the operator's choice)
 * and kept loaded for the life of the process. One session stays open from the login to
 * the close: PKCS#11 logs the application out when its last session closes. Operations
 * take a session from a small pool (SoftHSM and HSMs are thread-safe with
 * CKF_OS_LOCKING_OK; a session is not), so the KMS's workers sign and seal in parallel.
 *
 * Mechanisms (checked against SoftHSM 2.6.1, docs/kms.md "Keys in an HSM"): CKM_AES_KEY_GEN
 * and CKM_AES_GCM for the sealing key, CKM_EC_KEY_PAIR_GEN and CKM_ECDSA (over a SHA-256
 * computed here: SoftHSM has no CKM_ECDSA_SHA256) for the signing keys, C_GenerateRandom.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>

#include "kms-p11.h"

#define P11_POOL 16

/*
 * The module, once per process: PKCS#11 initialises a library once (a second C_Initialize
 * is CKR_CRYPTOKI_ALREADY_INITIALIZED) and its login is the application's, not a
 * session's. Handles share it; the last one to close logs out and finalises.
 */
static struct {
	pthread_mutex_t lock;
	char path[4096];
	CK_FUNCTION_LIST *f;
	unsigned refs;
} p11_lib = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct p11 {
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE login; /* open from login to close: it keeps the login */
	pthread_mutex_t lock;
	CK_SESSION_HANDLE idle[P11_POOL];
	size_t n_idle;
};

/* The DER of the P-256 curve's OID, as CKA_EC_PARAMS wants it. */
static const uint8_t p11_p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static int p11_fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "lpa-kms: PKCS#11 %s: CK_RV 0x%lx\n", what, (unsigned long)rv);
	return KMS_ERR_TOKEN;
}

/* The token label is 32 bytes padded with blanks. */
static bool p11_label_is(const CK_UTF8CHAR label[32], const char *want)
{
	size_t n = strlen(want);

	if (n > 32 || memcmp(label, want, n) != 0)
		return false;
	for (size_t i = n; i < 32; i++)
		if (label[i] != ' ')
			return false;
	return true;
}

static int p11_find_slot(struct p11 *t, const char *token)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_TOKEN_INFO info;
	CK_RV rv;
	int r = KMS_ERR_NOT_FOUND;

	if ((rv = t->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return p11_fail("C_GetSlotList", rv);
	if (n && (slots = calloc(n, sizeof(*slots))) == NULL)
		return KMS_ERR_NOMEM;
	if (n && (rv = t->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		free(slots);
		return p11_fail("C_GetSlotList", rv);
	}
	for (CK_ULONG i = 0; i < n && r == KMS_ERR_NOT_FOUND; i++)
		if (t->f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    p11_label_is(info.label, token)) {
			t->slot = slots[i];
			r = KMS_OK;
		}
	free(slots);
	if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no PKCS#11 token labelled \"%s\"\n", token);
	return r;
}

/* The process's module: loaded and initialised by the first caller, shared after. */
static int p11_lib_get(const char *module, CK_FUNCTION_LIST **f)
{
	CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
	CK_C_GetFunctionList get;
	void *lib;
	CK_RV rv;
	int r = KMS_OK;

	pthread_mutex_lock(&p11_lib.lock);
	if (p11_lib.refs) {
		if (strcmp(p11_lib.path, module) != 0) {
			fprintf(stderr, "lpa-kms: PKCS#11 module %s is in use; not loading %s\n",
				p11_lib.path, module);
			r = KMS_ERR_TOKEN;
		}
		goto out;
	}
	if (strlen(module) >= sizeof(p11_lib.path)) {
		r = KMS_ERR_INVAL;
		goto out;
	}
	/* RTLD_NODELETE: modules register atexit handlers and threads of their own; a module
	 * unloaded under them would crash the exit. */
	if ((lib = dlopen(module, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) == NULL) {
		fprintf(stderr, "lpa-kms: cannot load PKCS#11 module %s: %s\n", module, dlerror());
		r = KMS_ERR_TOKEN;
		goto out;
	}
	get = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	dlclose(lib); /* the NODELETE mapping stays */
	if (!get) {
		fprintf(stderr, "lpa-kms: %s is no PKCS#11 module (no C_GetFunctionList)\n",
			module);
		r = KMS_ERR_TOKEN;
		goto out;
	}
	if ((rv = get(&p11_lib.f)) != CKR_OK) {
		r = p11_fail("C_GetFunctionList", rv);
		goto out;
	}
	if ((rv = p11_lib.f->C_Initialize(&init)) != CKR_OK) {
		r = p11_fail("C_Initialize", rv);
		goto out;
	}
	strcpy(p11_lib.path, module);
out:
	if (r == KMS_OK) {
		p11_lib.refs++;
		*f = p11_lib.f;
	}
	pthread_mutex_unlock(&p11_lib.lock);
	return r;
}

/* Releases the module with a handle's login session: the last user logs out and
 * finalises (which closes every session); others only close theirs, the sessions of the
 * handles still open keep the login. */
static void p11_lib_put(CK_SESSION_HANDLE login)
{
	pthread_mutex_lock(&p11_lib.lock);
	if (--p11_lib.refs == 0) {
		if (login != CK_INVALID_HANDLE)
			p11_lib.f->C_Logout(login);
		p11_lib.f->C_Finalize(NULL);
		p11_lib.f = NULL;
		p11_lib.path[0] = '\0';
	} else if (login != CK_INVALID_HANDLE) {
		p11_lib.f->C_CloseSession(login);
	}
	pthread_mutex_unlock(&p11_lib.lock);
}

int p11_open(const char *module, const char *token, const lpa_secbuf *pin, struct p11 **out)
{
	struct p11 *t;
	CK_RV rv;
	int r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return KMS_ERR_NOMEM;
	t->login = CK_INVALID_HANDLE;
	pthread_mutex_init(&t->lock, NULL);
	if ((r = p11_lib_get(module, &t->f)) != KMS_OK) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return r;
	}
	if ((r = p11_find_slot(t, token)) != KMS_OK)
		goto fail;
	if ((rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				      &t->login)) != CKR_OK) {
		t->login = CK_INVALID_HANDLE;
		r = p11_fail("C_OpenSession", rv);
		goto fail;
	}
	/* Already logged in: this process opened the token before, with the right PIN. */
	rv = t->f->C_Login(t->login, CKU_USER, (CK_UTF8CHAR_PTR)lpa_secbuf_cdata(pin),
			   (CK_ULONG)lpa_secbuf_len(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
			fprintf(stderr, "lpa-kms: the token refused the PIN\n");
		r = p11_fail("C_Login", rv);
		goto fail;
	}
	*out = t;
	return KMS_OK;
fail:
	p11_close(&t);
	return r;
}

void p11_close(struct p11 **tp)
{
	struct p11 *t = *tp;

	if (!t)
		return;
	for (size_t i = 0; i < t->n_idle; i++)
		t->f->C_CloseSession(t->idle[i]);
	p11_lib_put(t->login);
	pthread_mutex_destroy(&t->lock);
	free(t);
	*tp = NULL;
}

/* A session for one operation: an idle one, or a new one (the login covers it). */
static int p11_get(struct p11 *t, CK_SESSION_HANDLE *s)
{
	CK_RV rv;

	pthread_mutex_lock(&t->lock);
	if (t->n_idle) {
		*s = t->idle[--t->n_idle];
		pthread_mutex_unlock(&t->lock);
		return KMS_OK;
	}
	pthread_mutex_unlock(&t->lock);
	if ((rv = t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
				      s)) != CKR_OK)
		return p11_fail("C_OpenSession", rv);
	return KMS_OK;
}

/* Back to the pool, unless an operation failed on it: a session whose operation state is
 * unknown is closed rather than reused. */
static void p11_put(struct p11 *t, CK_SESSION_HANDLE s, bool ok)
{
	pthread_mutex_lock(&t->lock);
	if (ok && t->n_idle < P11_POOL) {
		t->idle[t->n_idle++] = s;
		s = CK_INVALID_HANDLE;
	}
	pthread_mutex_unlock(&t->lock);
	if (s != CK_INVALID_HANDLE)
		t->f->C_CloseSession(s);
}

int p11_random(struct p11 *t, void *buf, size_t len)
{
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if ((r = p11_get(t, &s)) != KMS_OK)
		return r;
	rv = t->f->C_GenerateRandom(s, buf, (CK_ULONG)len);
	p11_put(t, s, rv == CKR_OK);
	return rv == CKR_OK ? KMS_OK : p11_fail("C_GenerateRandom", rv);
}

/* Up to cap objects on session s that match tmpl, in *n. Finding one key and destroying
 * all under a label search alike; C_FindObjectsFinal ends every search that began, found
 * or not, so that no session goes back to the pool in the middle of one. */
static CK_RV p11_search(struct p11 *t, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
			CK_OBJECT_HANDLE *found, CK_ULONG cap, CK_ULONG *n)
{
	CK_RV rv;

	if ((rv = t->f->C_FindObjectsInit(s, tmpl, n_tmpl)) == CKR_OK) {
		rv = t->f->C_FindObjects(s, found, cap, n);
		t->f->C_FindObjectsFinal(s);
	}
	return rv;
}

static int p11_find(struct p11 *t, const char *label, CK_OBJECT_CLASS cls, p11_handle *h)
{
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, (void *)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if ((r = p11_get(t, &s)) != KMS_OK)
		return r;
	rv = p11_search(t, s, tmpl, 2, found, 2, &n);
	p11_put(t, s, rv == CKR_OK);
	if (rv != CKR_OK)
		return p11_fail("C_FindObjects", rv);
	if (n == 0)
		return KMS_ERR_NOT_FOUND;
	if (n > 1) {
		fprintf(stderr, "lpa-kms: the token holds more than one \"%s\"\n", label);
		return KMS_ERR_EXISTS;
	}
	*h = found[0];
	return KMS_OK;
}

int p11_find_private(struct p11 *t, const char *label, p11_handle *h)
{
	return p11_find(t, label, CKO_PRIVATE_KEY, h);
}

int p11_find_secret(struct p11 *t, const char *label, p11_handle *h)
{
	return p11_find(t, label, CKO_SECRET_KEY, h);
}

/* Never two objects of one class under one label: labels are how the KMS names keys. */
static int p11_absent(struct p11 *t, const char *label, CK_OBJECT_CLASS cls)
{
	p11_handle h;
	int r = p11_find(t, label, cls, &h);

	if (r == KMS_OK) {
		fprintf(stderr, "lpa-kms: the token already holds \"%s\"\n", label);
		return KMS_ERR_EXISTS;
	}
	return r == KMS_ERR_NOT_FOUND ? KMS_OK : r;
}

int p11_aes_generate(struct p11 *t, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_KEY_TYPE, &type, sizeof(type)},
		{CKA_VALUE_LEN, &len, sizeof(len)},
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &yes, sizeof(yes)},
		{CKA_SENSITIVE, &yes, sizeof(yes)},
		{CKA_EXTRACTABLE, &no, sizeof(no)},
		{CKA_ENCRYPT, &yes, sizeof(yes)},
		{CKA_DECRYPT, &yes, sizeof(yes)},
		{CKA_WRAP, &no, sizeof(no)},
		{CKA_UNWRAP, &no, sizeof(no)},
		{CKA_DERIVE, &no, sizeof(no)},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_ID, (void *)label, strlen(label)},
	};
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if ((r = p11_absent(t, label, CKO_SECRET_KEY)) != KMS_OK || (r = p11_get(t, &s)) != KMS_OK)
		return r;
	rv = t->f->C_GenerateKey(s, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
	p11_put(t, s, rv == CKR_OK);
	return rv == CKR_OK ? KMS_OK : p11_fail("C_GenerateKey(CKM_AES_KEY_GEN)", rv);
}

static void p11_gcm_params(CK_GCM_PARAMS *p, const uint8_t nonce[12], const uint8_t *aad,
			   size_t aad_len)
{
	p->pIv = (CK_BYTE_PTR)nonce;
	p->ulIvLen = 12;
	p->ulIvBits = 96;
	p->pAAD = (CK_BYTE_PTR)aad;
	p->ulAADLen = (CK_ULONG)aad_len;
	p->ulTagBits = 128;
}

int p11_gcm_seal(struct p11 *t, p11_handle key, const uint8_t nonce[12], const uint8_t *aad,
		 size_t aad_len, const uint8_t *pt, size_t len, uint8_t *out)
{
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
	CK_ULONG out_len = (CK_ULONG)len + 16;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	p11_gcm_params(&gcm, nonce, aad, aad_len);
	if ((r = p11_get(t, &s)) != KMS_OK)
		return r;
	if ((rv = t->f->C_EncryptInit(s, &mech, key)) == CKR_OK)
		rv = t->f->C_Encrypt(s, (CK_BYTE_PTR)pt, (CK_ULONG)len, out, &out_len);
	p11_put(t, s, rv == CKR_OK);
	if (rv != CKR_OK)
		return p11_fail("C_Encrypt(CKM_AES_GCM)", rv);
	return out_len == len + 16 ? KMS_OK : KMS_ERR_TOKEN;
}

int p11_gcm_open(struct p11 *t, p11_handle key, const uint8_t nonce[12], const uint8_t *aad,
		 size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *pt)
{
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
	CK_ULONG pt_len = (CK_ULONG)in_len;
	CK_SESSION_HANDLE s;
	lpa_secbuf *tmp = NULL;
	CK_RV rv;
	int r;

	if (in_len < 16)
		return KMS_ERR_SEALED;
	/* SoftHSM wants room for the whole input (CKR_BUFFER_TOO_SMALL otherwise): the plain
	 * text lands in secure memory of that size and only its own bytes are copied out. */
	if ((tmp = lpa_secbuf_new(in_len)) == NULL)
		return KMS_ERR_NOMEM;
	p11_gcm_params(&gcm, nonce, aad, aad_len);
	if ((r = p11_get(t, &s)) != KMS_OK)
		goto fail;
	if ((rv = t->f->C_DecryptInit(s, &mech, key)) == CKR_OK)
		rv = t->f->C_Decrypt(s, (CK_BYTE_PTR)in, (CK_ULONG)in_len, lpa_secbuf_data(tmp),
				     &pt_len);
	p11_put(t, s, rv == CKR_OK);
	/* A wrong tag is the sealed blob's fault, not the token's. SoftHSM 2.6.1 reports it
	 * as CKR_GENERAL_ERROR, which a blob that opens never gets. */
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	    rv == CKR_GENERAL_ERROR)
		r = KMS_ERR_SEALED;
	else if (rv != CKR_OK)
		r = p11_fail("C_Decrypt(CKM_AES_GCM)", rv);
	else if (pt_len != in_len - 16)
		r = KMS_ERR_TOKEN;
	else
		memcpy(pt, lpa_secbuf_cdata(tmp), pt_len);
fail:
	lpa_secbuf_free(&tmp);
	return r;
}

/* What every P-256 private key on the token is, generated there or imported: kept on the
 * token, private, sensitive and never extractable, for signing and not for deriving. One
 * list, so that an imported key is never guarded less than a generated one; it fills
 * P11_EC_POLICY_LEN entries from at, in this order, pointing at the caller's yes and no
 * (CK_TRUE, CK_FALSE), which must outlive the template. */
enum { P11_EC_POLICY_LEN = 6 };

static void p11_ec_private_policy(CK_ATTRIBUTE at[P11_EC_POLICY_LEN], CK_BBOOL *yes, CK_BBOOL *no)
{
	const CK_ATTRIBUTE policy[P11_EC_POLICY_LEN] = {
		{CKA_TOKEN, yes, sizeof(*yes)},     {CKA_PRIVATE, yes, sizeof(*yes)},
		{CKA_SENSITIVE, yes, sizeof(*yes)}, {CKA_EXTRACTABLE, no, sizeof(*no)},
		{CKA_SIGN, yes, sizeof(*yes)},      {CKA_DERIVE, no, sizeof(*no)},
	};

	memcpy(at, policy, sizeof(policy));
}

/* SEC1 uncompressed from CKA_EC_POINT, which is a DER OCTET STRING around it. */
static int p11_ec_point(struct p11 *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub_h,
			uint8_t pub[LPA_P256_PUB_LEN])
{
	uint8_t der[LPA_P256_PUB_LEN + 2];
	CK_ATTRIBUTE a = {CKA_EC_POINT, der, sizeof(der)};
	CK_RV rv;

	if ((rv = t->f->C_GetAttributeValue(s, pub_h, &a, 1)) != CKR_OK)
		return p11_fail("C_GetAttributeValue(CKA_EC_POINT)", rv);
	if (a.ulValueLen == sizeof(der) && der[0] == 0x04 && der[1] == LPA_P256_PUB_LEN &&
	    der[2] == 0x04) {
		memcpy(pub, der + 2, LPA_P256_PUB_LEN);
		return KMS_OK;
	}
	if (a.ulValueLen == LPA_P256_PUB_LEN && der[0] == 0x04) { /* some modules: raw */
		memcpy(pub, der, LPA_P256_PUB_LEN);
		return KMS_OK;
	}
	fprintf(stderr, "lpa-kms: the token's CKA_EC_POINT is no P-256 point\n");
	return KMS_ERR_TOKEN;
}

int p11_ec_generate(struct p11 *t, const char *label, uint8_t pub[LPA_P256_PUB_LEN])
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub_tmpl[] = {
		{CKA_TOKEN, &yes, sizeof(yes)},
		{CKA_PRIVATE, &no, sizeof(no)},
		{CKA_VERIFY, &yes, sizeof(yes)},
		{CKA_EC_PARAMS, (void *)p11_p256_oid, sizeof(p11_p256_oid)},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_ID, (void *)label, strlen(label)},
	};
	CK_ATTRIBUTE priv_tmpl[P11_EC_POLICY_LEN + 2] = {
		/* [0, P11_EC_POLICY_LEN): p11_ec_private_policy */
		[P11_EC_POLICY_LEN] = {CKA_LABEL, (void *)label, strlen(label)},
		{CKA_ID, (void *)label, strlen(label)},
	};
	CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_OBJECT_HANDLE pub_h, priv_h;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	p11_ec_private_policy(priv_tmpl, &yes, &no);
	if ((r = p11_absent(t, label, CKO_PRIVATE_KEY)) != KMS_OK || (r = p11_get(t, &s)) != KMS_OK)
		return r;
	rv = t->f->C_GenerateKeyPair(s, &mech, pub_tmpl, sizeof(pub_tmpl) / sizeof(pub_tmpl[0]),
				     priv_tmpl, sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &pub_h,
				     &priv_h);
	if (rv != CKR_OK) {
		p11_put(t, s, false);
		return p11_fail("C_GenerateKeyPair(CKM_EC_KEY_PAIR_GEN)", rv);
	}
	r = p11_ec_point(t, s, pub_h, pub);
	p11_put(t, s, r == KMS_OK);
	if (r != KMS_OK)
		p11_destroy(t, label);
	return r;
}

int p11_ec_import(struct p11 *t, const char *label, EVP_PKEY *key)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type = CKK_EC;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	lpa_secbuf *d = NULL;
	CK_OBJECT_HANDLE h;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if ((r = p11_absent(t, label, CKO_PRIVATE_KEY)) != KMS_OK)
		return r;
	if (lpa_p256_private_bytes(key, &d) != LPA_OK)
		return KMS_ERR_CRYPTO;
	{
		CK_ATTRIBUTE tmpl[2 + P11_EC_POLICY_LEN + 4] = {
			{CKA_CLASS, &cls, sizeof(cls)},
			{CKA_KEY_TYPE, &type, sizeof(type)},
			/* [2, 2 + P11_EC_POLICY_LEN): p11_ec_private_policy */
			[2 + P11_EC_POLICY_LEN] = {CKA_EC_PARAMS, (void *)p11_p256_oid,
						   sizeof(p11_p256_oid)},
			{CKA_VALUE, lpa_secbuf_data(d), lpa_secbuf_len(d)},
			{CKA_LABEL, (void *)label, strlen(label)},
			{CKA_ID, (void *)label, strlen(label)},
		};

		p11_ec_private_policy(tmpl + 2, &yes, &no);
		if ((r = p11_get(t, &s)) == KMS_OK) {
			rv = t->f->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
			p11_put(t, s, rv == CKR_OK);
			r = rv == CKR_OK ? KMS_OK : p11_fail("C_CreateObject(CKO_PRIVATE_KEY)", rv);
		}
	}
	lpa_secbuf_free(&d);
	return r;
}

int p11_ecdsa_sign(struct p11 *t, p11_handle key, const uint8_t digest[32],
		   uint8_t sig[LPA_P256_SIG_LEN])
{
	CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
	CK_ULONG len = LPA_P256_SIG_LEN;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if ((r = p11_get(t, &s)) != KMS_OK)
		return r;
	if ((rv = t->f->C_SignInit(s, &mech, key)) == CKR_OK)
		rv = t->f->C_Sign(s, (CK_BYTE_PTR)digest, 32, sig, &len);
	p11_put(t, s, rv == CKR_OK);
	if (rv != CKR_OK)
		return p11_fail("C_Sign(CKM_ECDSA)", rv);
	/* PKCS#11 gives ECDSA signatures as r || s, each the order's length: the raw form
	 * LPK1 and JWS carry, with no DER to undo. */
	return len == LPA_P256_SIG_LEN ? KMS_OK : KMS_ERR_TOKEN;
}

int p11_destroy(struct p11 *t, const char *label)
{
	CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, (void *)label, strlen(label)}};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	if ((r = p11_get(t, &s)) != KMS_OK)
		return r;
	rv = p11_search(t, s, tmpl, 1, found, 8, &n);
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++)
		rv = t->f->C_DestroyObject(s, found[i]);
	p11_put(t, s, rv == CKR_OK);
	return rv == CKR_OK ? KMS_OK : p11_fail("C_DestroyObject", rv);
}

int p11_key_info(struct p11 *t, p11_handle key, struct p11_key_info *info)
{
	CK_BBOOL v[4] = {0};
	CK_ATTRIBUTE flags[] = {
		{CKA_SENSITIVE, &v[0], sizeof(v[0])},
		{CKA_EXTRACTABLE, &v[1], sizeof(v[1])},
		{CKA_ALWAYS_SENSITIVE, &v[2], sizeof(v[2])},
		{CKA_NEVER_EXTRACTABLE, &v[3], sizeof(v[3])},
	};
	uint8_t value[64];
	CK_ATTRIBUTE val = {CKA_VALUE, value, sizeof(value)};
	CK_SESSION_HANDLE s;
	CK_RV rv;
	int r;

	memset(info, 0, sizeof(*info));
	if ((r = p11_get(t, &s)) != KMS_OK)
		return r;
	if ((rv = t->f->C_GetAttributeValue(s, key, flags, 4)) != CKR_OK) {
		p11_put(t, s, false);
		return p11_fail("C_GetAttributeValue", rv);
	}
	info->sensitive = v[0];
	info->extractable = v[1];
	info->always_sensitive = v[2];
	info->never_extractable = v[3];
	/* The one read that must fail: a value that came back is wiped at once. */
	info->value_rv = t->f->C_GetAttributeValue(s, key, &val, 1);
	info->value_refused =
		info->value_rv != CKR_OK && val.ulValueLen == CK_UNAVAILABLE_INFORMATION;
	OPENSSL_cleanse(value, sizeof(value));
	p11_put(t, s, true);
	return KMS_OK;
}
