/*
 * join.c — the Join Server: POST /lbi answers JoinReq, AppSKeyReq and HomeNSReq (LoRaWAN
 * Backend Interfaces 1.0/1.1) for provisioned devices, to peers (peer.c) that show their
 * client certificate.
 *
 * JoinReq, first phase (no transaction): the peer is a network server whose NetID is the
 * SenderID; the device is provisioned, assigned to that network server, and owned by an
 * application server; the JoinRequest's MIC verifies under its root key (NwkKey for 1.1,
 * AppKey for 1.0.x). Second phase (the transaction that also writes the audit line): the
 * DevNonce is new (1.0.x: never seen for the device; 1.1: above the last), the next
 * JoinNonce is taken, the join-accept built, MIC'd and encrypted, the session keys derived,
 * the AppSKey sealed for AppSKeyReq; the answer leaves only after that commit, so a KMS
 * that dies before answering has used the nonces up and never hands them out again.
 *
 * The network server receives its network session keys, and the application server its
 * AppSKey, each wrapped (RFC 3394) under that peer's own KEK: no key ever travels in
 * clear, and the AppSKey never under a network server's KEK. Every answer is HTTP 200
 * with the spec's Result; the audit line names the result, the peer and what was released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kms-device.h"
#include "kms-keys.h"
#include "kms-lbi.h"

struct join_ctx {
	struct lbi_msg m;
	struct device_provisioned dev;
	lpa_secbuf *keys; /* AppKey || NwkKey */
	struct peer caller, as;
	uint16_t dev_nonce;
	uint32_t net_id;
	bool opt_neg; /* a 1.1 device joining as 1.1 */
};

static void join_ctx_free(void *p)
{
	struct join_ctx *j = p;

	if (!j)
		return;
	lpa_secbuf_free(&j->keys);
	peer_free(&j->caller);
	peer_free(&j->as);
	OPENSSL_cleanse(j, sizeof(*j));
	free(j);
}

/* The answer with a result code (Success or a refusal), noted in the audit line. */
static void join_answer(struct kms_call *c, const struct lbi_msg *m, enum lbi_result r,
			const char *description, json_t *extra)
{
	json_t *a = lbi_answer(m, r, description);
	const char *k;
	json_t *v;

	call_note(c, "result", json_string(lbi_result_name(r)));
	if (r != LBI_SUCCESS && description)
		call_note(c, "reason", json_string(description));
	if (a && extra) {
		json_object_foreach(extra, k, v)
		{
			json_object_set(a, k, v);
		}
	}
	json_decref(extra);
	if (!a) {
		call_fail(c, API_INTERNAL, "out of memory");
		return;
	}
	call_ok(c, 200, a);
}

/* NetID of a network server's SenderID: 6 hex digits. */
static bool join_net_id(const char *s, uint32_t *net_id)
{
	uint8_t b[3];

	if (strlen(s) != 6 || lpa_hex_decode(s, 6, b, 3) != LPA_OK)
		return false;
	*net_id = (uint32_t)lpa_be_get(b, 3);
	return true;
}

/* The calling peer, of the kind the message needs; a refusal answered otherwise. */
static int join_peer(struct kms_call *c, const uint8_t *fp, const struct lbi_msg *m,
		     const char *kind, struct peer *p)
{
	int r;

	if (!fp) {
		join_answer(c, m, LBI_UNKNOWN_SENDER, "a peer certificate (clientAuth) is required",
			    NULL);
		return -1;
	}
	if ((r = peer_by_fingerprint(c->db, fp, p)) == KMS_ERR_NOT_FOUND) {
		join_answer(c, m, LBI_UNKNOWN_SENDER, "this certificate is not a registered peer",
			    NULL);
		return -1;
	}
	if (r != KMS_OK)
		return call_internal(c, r);
	call_note(c, "peer", json_string(p->name));
	if (p->revoked) {
		join_answer(c, m, LBI_UNKNOWN_SENDER, "this peer was revoked", NULL);
		return -1;
	}
	if (strcmp(p->kind, kind) != 0) {
		join_answer(c, m, LBI_UNKNOWN_SENDER,
			    strcmp(kind, "ns") == 0 ? "only a network server may send this"
						    : "only an application server may send this",
			    NULL);
		return -1;
	}
	return 0;
}

/* The device the message names, if the caller may have it (lot and JoinEUI assigned). */
static int join_device(struct kms_server *s, struct kms_call *c, const struct lbi_msg *m,
		       const struct peer *caller, struct device_provisioned *dev, lpa_secbuf **keys)
{
	char eui[17];
	int r;

	lpa_eui_format(m->dev_eui, eui);
	call_note(c, "dev_eui", json_string(eui));
	r = device_provisioned(s->master, c->db, m->dev_eui, dev, keys);
	if (r == KMS_ERR_NOT_FOUND) {
		join_answer(c, m, LBI_UNKNOWN_DEV_EUI, "no provisioned device has this DevEUI",
			    NULL);
		return -1;
	}
	if (r != KMS_OK)
		return call_internal(c, r);
	if (!peer_covers(caller, dev->lot, dev->join_eui)) {
		lpa_secbuf_free(keys);
		join_answer(c, m, LBI_ACTIVATION_DISALLOWED, "this device is not assigned to you",
			    NULL);
		return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- JoinReq */
static int join_session_seal(struct kms_server *s, struct kms_call *c, const uint8_t skid[16],
			     const struct join_ctx *j, uint32_t join_nonce,
			     const uint8_t app_s_key[16])
{
	uint8_t *blob = NULL;
	size_t blob_len;
	int r;

	if ((r = vault_seal(s->master, "lpa-kms appskey", skid, 16, app_s_key, 16, &blob,
			    &blob_len)) != KMS_OK)
		return r;
	r = db_run(c->db, NULL,
		   "INSERT INTO join_sessions(session_key_id, dev_eui, join_nonce, ns_peer_id,"
		   " as_peer_id, app_s_key_sealed, created_at) VALUES(?, ?, ?, ?, ?, ?, ?)",
		   "buiiibi", skid, (size_t)16, j->dev.dev_eui, (int64_t)join_nonce, j->caller.id,
		   j->as.id, blob, blob_len, (int64_t)time(NULL));
	free(blob);
	return r;
}

/* The DevNonce is fresh and the next JoinNonce is ours: both written now. */
static int join_nonces(struct kms_call *c, struct join_ctx *j, uint32_t *join_nonce, bool *replay)
{
	struct db_stmt *st = NULL;
	int64_t jn = 0, last = -1;
	bool known = false;
	int r;

	*replay = false;
	r = db_query(c->db, &st,
		     "SELECT join_nonce, last_dev_nonce FROM join_state WHERE dev_eui = ?", "u",
		     j->dev.dev_eui);
	if (r == KMS_OK) {
		jn = db_col_int64(st, 0);
		last = db_col_int64(st, 1);
		known = true;
	}
	db_done(&st);
	if (r != KMS_OK && r != KMS_ERR_NOT_FOUND)
		return r;
	if (jn >= 0xffffff)
		return KMS_ERR_INVAL; /* answered JoinReqFailed: the device must be re-keyed */
	if (j->dev.lorawan == LPA_LORAWAN_11) {
		/* 1.1: DevNonce counts up from 0 and never repeats (LoRaWAN 1.1 §6.2.5). */
		if ((int64_t)j->dev_nonce <= last) {
			*replay = true;
			return KMS_OK;
		}
	} else {
		r = db_query(c->db, &st,
			     "SELECT dev_nonce FROM dev_nonces WHERE dev_eui = ? AND dev_nonce = ?",
			     "ui", j->dev.dev_eui, (int64_t)j->dev_nonce);
		db_done(&st);
		if (r == KMS_OK) {
			*replay = true;
			return KMS_OK;
		}
		if (r != KMS_ERR_NOT_FOUND)
			return r;
		if ((r = db_run(c->db, NULL,
				"INSERT INTO dev_nonces(dev_eui, dev_nonce) VALUES(?, ?)", "ui",
				j->dev.dev_eui, (int64_t)j->dev_nonce)) != KMS_OK)
			return r;
	}
	*join_nonce = (uint32_t)jn + 1;
	if (j->dev_nonce > last)
		last = j->dev_nonce;
	if (known)
		return db_run(c->db, NULL,
			      "UPDATE join_state SET join_nonce = ?, last_dev_nonce = ?"
			      " WHERE dev_eui = ?",
			      "iiu", (int64_t)*join_nonce, last, j->dev.dev_eui);
	return db_run(c->db, NULL,
		      "INSERT INTO join_state(dev_eui, join_nonce, last_dev_nonce) VALUES(?, ?, ?)",
		      "uii", j->dev.dev_eui, (int64_t)*join_nonce, last);
}

static void join_le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Adds {"name": KeyEnvelope} with key wrapped under p's KEK. */
static int join_envelope(struct kms_server *s, json_t *o, const char *name, const struct peer *p,
			 const uint8_t key[16])
{
	uint8_t w[24];
	json_t *e;
	int r;

	if ((r = peer_wrap(s, p, key, w)) != KMS_OK)
		return r;
	if ((e = lbi_key_envelope(p->kek_label, w)) == NULL || json_object_set_new(o, name, e) != 0)
		return KMS_ERR_NOMEM;
	return KMS_OK;
}

static void join_req_apply(struct kms_server *s, struct kms_call *c)
{
	struct join_ctx *j = c->state;
	const uint8_t *app_key = lpa_secbuf_cdata(j->keys), *nwk_key = app_key + 16;
	/* A 1.1 device in 1.0 mode uses its NwkKey where a 1.0 device uses its AppKey. */
	const uint8_t *root10 = j->dev.lorawan == LPA_LORAWAN_11 ? nwk_key : app_key;
	uint8_t body[LPA_LORAWAN_ACCEPT_BODY_MAX], phy[1 + LPA_LORAWAN_ACCEPT_BODY_MAX + 4];
	uint8_t js_int[16], js_enc[16], skid[16];
	struct lpa_lorawan10_skeys k10;
	struct lpa_lorawan11_skeys k11;
	const uint8_t *app_s_key;
	size_t body_len = 12, phy_len;
	uint32_t join_nonce = 0;
	json_t *extra = NULL, *released = NULL;
	bool replay;
	int r;

	memset(&k10, 0, sizeof(k10));
	memset(&k11, 0, sizeof(k11));
	memset(js_int, 0, sizeof(js_int));
	r = join_nonces(c, j, &join_nonce, &replay);
	if (r == KMS_ERR_INVAL) {
		join_answer(c, &j->m, LBI_JOIN_REQ_FAILED, "the device's JoinNonce is used up",
			    NULL);
		goto done;
	}
	if (r != KMS_OK) {
		call_internal(c, r);
		goto done;
	}
	call_note(c, "dev_nonce", json_integer(j->dev_nonce));
	if (replay) {
		join_answer(c, &j->m, LBI_JOIN_REQ_FAILED,
			    j->dev.lorawan == LPA_LORAWAN_11
				    ? "DevNonce is not above the last one (replay)"
				    : "DevNonce was used before (replay)",
			    NULL);
		goto done;
	}
	call_note(c, "join_nonce", json_integer(join_nonce));
	/* The join-accept: JoinNonce NetID DevAddr DLSettings RxDelay [CFList]. */
	join_le_put(body, join_nonce, 3);
	join_le_put(body + 3, j->net_id, 3);
	join_le_put(body + 6, j->m.dev_addr, 4);
	body[10] = (uint8_t)((j->m.dl_settings & 0x7f) | (j->opt_neg ? 0x80 : 0));
	body[11] = j->m.rx_delay;
	if (j->m.has_cflist) {
		memcpy(body + 12, j->m.cflist, 16);
		body_len = 28;
	}
	if (j->opt_neg) {
		if (lpa_lorawan11_js_keys(nwk_key, j->dev.dev_eui, js_int, js_enc) != LPA_OK ||
		    lpa_lorawan11_derive(nwk_key, app_key, join_nonce, j->dev.join_eui,
					 j->dev_nonce, &k11) != LPA_OK ||
		    lpa_lorawan_join_accept_seal(js_int, nwk_key, true, j->dev.join_eui,
						 j->dev_nonce, body, body_len, phy,
						 &phy_len) != LPA_OK) {
			call_internal(c, KMS_ERR_CRYPTO);
			goto done;
		}
		OPENSSL_cleanse(js_enc, sizeof(js_enc));
		app_s_key = k11.app_s_key;
	} else {
		if (lpa_lorawan10_derive(root10, join_nonce, j->net_id, j->dev_nonce, &k10) !=
			    LPA_OK ||
		    lpa_lorawan_join_accept_seal(root10, root10, false, j->dev.join_eui,
						 j->dev_nonce, body, body_len, phy,
						 &phy_len) != LPA_OK) {
			call_internal(c, KMS_ERR_CRYPTO);
			goto done;
		}
		app_s_key = k10.app_s_key;
	}
	if ((r = vault_random(s->master, skid, sizeof(skid))) != KMS_OK ||
	    (r = join_session_seal(s, c, skid, j, join_nonce, app_s_key)) != KMS_OK) {
		call_internal(c, r);
		goto done;
	}
	/* The network keys under the network server's KEK, the AppSKey under the
	 * application server's: nothing else is released. */
	if ((extra = json_object()) == NULL || (released = json_array()) == NULL) {
		call_internal(c, KMS_ERR_NOMEM);
		goto done;
	}
	if (j->opt_neg) {
		r = join_envelope(s, extra, "FNwkSIntKey", &j->caller, k11.f_nwk_s_int_key);
		if (r == KMS_OK)
			r = join_envelope(s, extra, "SNwkSIntKey", &j->caller, k11.s_nwk_s_int_key);
		if (r == KMS_OK)
			r = join_envelope(s, extra, "NwkSEncKey", &j->caller, k11.nwk_s_enc_key);
		json_array_append_new(released, json_string("FNwkSIntKey:ns"));
		json_array_append_new(released, json_string("SNwkSIntKey:ns"));
		json_array_append_new(released, json_string("NwkSEncKey:ns"));
	} else {
		r = join_envelope(s, extra, "NwkSKey", &j->caller, k10.nwk_s_key);
		json_array_append_new(released, json_string("NwkSKey:ns"));
	}
	if (r == KMS_OK)
		r = join_envelope(s, extra, "AppSKey", &j->as, app_s_key);
	json_array_append_new(released, json_string("AppSKey:as"));
	if (r != KMS_OK) {
		call_internal(c, r);
		goto done;
	}
	json_object_set_new(extra, "PHYPayload", lbi_hex(phy, phy_len));
	json_object_set_new(extra, "SessionKeyID", lbi_hex(skid, sizeof(skid)));
	json_object_set_new(extra, "Lifetime", json_integer(0));
	call_note(c, "session_key_id", lbi_hex(skid, sizeof(skid)));
	call_note(c, "as", json_string(j->as.name));
	call_note(c, "released", released);
	released = NULL;
	join_answer(c, &j->m, LBI_SUCCESS, NULL, extra);
	extra = NULL;
done:
	json_decref(extra);
	json_decref(released);
	OPENSSL_cleanse(&k10, sizeof(k10));
	OPENSSL_cleanse(&k11, sizeof(k11));
	OPENSSL_cleanse(js_int, sizeof(js_int));
	OPENSSL_cleanse(body, sizeof(body));
}

static void join_req(struct kms_server *s, struct kms_call *c, const uint8_t *fp,
		     struct join_ctx *j)
{
	const uint8_t *app_key, *root;
	uint8_t mic[4];
	char eui[17];
	int r;

	c->action = "lbi-join";
	if (join_peer(c, fp, &j->m, "ns", &j->caller) != 0)
		return;
	if (!join_net_id(j->m.sender_id, &j->net_id) || j->caller.net_id != (int64_t)j->net_id) {
		join_answer(c, &j->m, LBI_UNKNOWN_SENDER,
			    "SenderID is not this network server's NetID", NULL);
		return;
	}
	if (join_device(s, c, &j->m, &j->caller, &j->dev, &j->keys) != 0)
		return;
	lpa_eui_format(j->dev.join_eui, eui);
	if (strcasecmp(j->m.receiver_id, eui) != 0) {
		join_answer(c, &j->m, LBI_UNKNOWN_RECEIVER,
			    "ReceiverID is not the device's JoinEUI", NULL);
		return;
	}
	/* The JoinRequest itself: MHDR JoinEUI DevEUI DevNonce MIC, little-endian. */
	{
		uint64_t join_eui = 0, dev_eui = 0;

		for (int i = 7; i >= 0; i--) {
			join_eui = join_eui << 8 | j->m.phy[1 + i];
			dev_eui = dev_eui << 8 | j->m.phy[9 + i];
		}
		j->dev_nonce = (uint16_t)(j->m.phy[17] | j->m.phy[18] << 8);
		if (join_eui != j->dev.join_eui || dev_eui != j->m.dev_eui) {
			join_answer(c, &j->m, LBI_MALFORMED_REQUEST,
				    "the JoinRequest names another JoinEUI or DevEUI", NULL);
			return;
		}
	}
	if ((r = peer_owner(c->db, "as", j->dev.lot, j->dev.join_eui, &j->as)) ==
	    KMS_ERR_NOT_FOUND) {
		join_answer(c, &j->m, LBI_JOIN_REQ_FAILED, "no application server owns this device",
			    NULL);
		return;
	}
	if (r != KMS_OK) {
		call_internal(c, r);
		return;
	}
	app_key = lpa_secbuf_cdata(j->keys);
	root = j->dev.lorawan == LPA_LORAWAN_11 ? app_key + 16 : app_key;
	if (lpa_lorawan_join_request_mic(root, j->m.phy[0], j->dev.join_eui, j->m.dev_eui,
					 j->dev_nonce, mic) != LPA_OK) {
		call_internal(c, KMS_ERR_CRYPTO);
		return;
	}
	if (CRYPTO_memcmp(mic, j->m.phy + 19, 4) != 0) {
		join_answer(c, &j->m, LBI_MIC_FAILED, "the JoinRequest's MIC does not verify",
			    NULL);
		return;
	}
	j->opt_neg = j->dev.lorawan == LPA_LORAWAN_11 && j->m.mac_11;
	call_defer(c, join_req_apply, j, join_ctx_free);
}

/* ------------------------------------------------------------ AppSKeyReq */
static void join_appskey(struct kms_server *s, struct kms_call *c, const uint8_t *fp,
			 struct join_ctx *j)
{
	struct db_stmt *st = NULL;
	lpa_secbuf *key = NULL;
	uint8_t *blob = NULL, w[24];
	size_t blob_len = 0;
	int64_t as_id = 0;
	json_t *extra, *env;
	char eui[17];
	int r;

	c->action = "lbi-appskey";
	if (join_peer(c, fp, &j->m, "as", &j->caller) != 0)
		return;
	lpa_eui_format(j->m.dev_eui, eui);
	call_note(c, "dev_eui", json_string(eui));
	call_note(c, "session_key_id", lbi_hex(j->m.session_key_id, j->m.session_key_id_len));
	r = db_query(c->db, &st,
		     "SELECT as_peer_id, app_s_key_sealed FROM join_sessions"
		     " WHERE session_key_id = ? AND dev_eui = ?",
		     "bu", j->m.session_key_id, j->m.session_key_id_len, j->m.dev_eui);
	if (r == KMS_OK) {
		as_id = db_col_int64(st, 0);
		blob = db_col_blob_dup(st, 1, &blob_len);
	}
	db_done(&st);
	if (r == KMS_ERR_NOT_FOUND) {
		join_answer(c, &j->m, LBI_UNKNOWN_DEV_EUI,
			    "no session of this DevEUI has this SessionKeyID", NULL);
		return;
	}
	if (r != KMS_OK || !blob) {
		free(blob);
		call_internal(c, r != KMS_OK ? r : KMS_ERR_NOMEM);
		return;
	}
	if (as_id != j->caller.id) {
		free(blob);
		join_answer(c, &j->m, LBI_ACTIVATION_DISALLOWED,
			    "this device's session belongs to another application server", NULL);
		return;
	}
	r = vault_open(s->master, "lpa-kms appskey", j->m.session_key_id, j->m.session_key_id_len,
		       blob, blob_len, &key);
	free(blob);
	if (r == KMS_OK && lpa_secbuf_len(key) != 16)
		r = KMS_ERR_SEALED;
	if (r == KMS_OK)
		r = peer_wrap(s, &j->caller, lpa_secbuf_cdata(key), w);
	lpa_secbuf_free(&key);
	if (r != KMS_OK) {
		call_internal(c, r);
		return;
	}
	env = lbi_key_envelope(j->caller.kek_label, w);
	extra = json_pack("{s:s, s:o, s:o}", "DevEUI", eui, "AppSKey", env, "SessionKeyID",
			  lbi_hex(j->m.session_key_id, j->m.session_key_id_len));
	call_note(c, "released", json_pack("[s]", "AppSKey:as"));
	join_answer(c, &j->m, LBI_SUCCESS, NULL, extra);
}

/* ------------------------------------------------------------- HomeNSReq */
static void join_home_ns(struct kms_server *s, struct kms_call *c, const uint8_t *fp,
			 struct join_ctx *j)
{
	struct peer ns;
	char net_id[7];
	int r;

	c->action = "lbi-homens";
	if (join_peer(c, fp, &j->m, "ns", &j->caller) != 0)
		return;
	if (join_device(s, c, &j->m, &j->caller, &j->dev, &j->keys) != 0)
		return;
	lpa_secbuf_free(&j->keys); /* no key is needed to name the home network */
	if ((r = peer_owner(c->db, "ns", j->dev.lot, j->dev.join_eui, &ns)) == KMS_ERR_NOT_FOUND) {
		join_answer(c, &j->m, LBI_UNKNOWN_DEV_EUI, "no network server is home to it", NULL);
		return;
	}
	if (r != KMS_OK) {
		call_internal(c, r);
		return;
	}
	snprintf(net_id, sizeof(net_id), "%06llx", (unsigned long long)ns.net_id);
	peer_free(&ns);
	join_answer(c, &j->m, LBI_SUCCESS, NULL, json_pack("{s:s}", "HNetID", net_id));
}

void join_call(struct kms_server *s, struct kms_call *c, const uint8_t *fp)
{
	struct join_ctx *j = calloc(1, sizeof(*j));
	enum lbi_result res;
	char msg[200];
	int r;

	c->action = "lbi";
	if (!j) {
		call_internal(c, KMS_ERR_NOMEM);
		return;
	}
	if (strcmp(c->method, "POST") != 0) {
		call_fail(c, API_METHOD_NOT_ALLOWED, "/lbi needs POST");
		goto done;
	}
	if ((r = lbi_parse(c->body ? c->body : "", c->body_len, &j->m, &res, msg, sizeof(msg))) !=
	    LBI_OK) {
		call_note(c, "lbi_error", json_string(lbi_strerror(r)));
		join_answer(c, &j->m, res, msg, NULL);
		goto done;
	}
	switch (j->m.type) {
	case LBI_JOIN_REQ:
		join_req(s, c, fp, j);
		break;
	case LBI_APP_SKEY_REQ:
		join_appskey(s, c, fp, j);
		break;
	case LBI_HOME_NS_REQ:
		join_home_ns(s, c, fp, j);
		break;
	}
	if (c->state == j)
		return; /* apply owns it now */
done:
	join_ctx_free(j);
}
