/*
 * admin-export.c — `lpa-kms admin export-devices --lot L --format tts|chirpstack --kek
 * LABEL`: for a factory whose customer runs its own Join Server, the lot's provisioned
 * devices with their root keys wrapped (RFC 3394) under the customer's KEK — a peer's KEK,
 * named by its label — in The Things Stack's end-device JSON (root_keys.app_key /
 * nwk_key as {kek_label, encrypted_key}) or as ChirpStack device keys in KeyEnvelopes.
 * A key never leaves in clear: without a known KEK label nothing is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kms-device.h"
#include "kms-keys.h"
#include "kms-lbi.h"

#include "admin-private.h"

static int admin_export_kek(struct admin_ctx *a, const char *label, lpa_secbuf **kek)
{
	struct db_stmt *st = NULL;
	uint8_t *sealed = NULL;
	size_t len = 0;
	int r;

	r = db_query(a->db, &st,
		     "SELECT kek_sealed FROM peers WHERE kek_label = ? AND revoked_at IS NULL", "t",
		     label);
	if (r == KMS_OK && (sealed = db_col_blob_dup(st, 0, &len)) == NULL)
		r = KMS_ERR_NOMEM;
	db_done(&st);
	if (r == KMS_ERR_NOT_FOUND)
		fprintf(stderr, "lpa-kms: no unrevoked peer has the KEK label %s\n", label);
	if (r == KMS_OK) {
		r = vault_open(a->master, "lpa-kms peer kek", label, strlen(label), sealed, len,
			       kek);
		if (r == KMS_OK && lpa_secbuf_len(*kek) != PEER_KEK_LEN) {
			lpa_secbuf_free(kek);
			r = KMS_ERR_SEALED;
		}
	}
	free(sealed);
	return r;
}

/* One wrapped key in the format's envelope. */
static json_t *admin_export_envelope(bool tts, const char *label, const lpa_secbuf *kek,
				     const uint8_t key[16])
{
	uint8_t w[24];
	char b64[64], hex[49];

	if (lpa_aes_keywrap(lpa_secbuf_cdata(kek), PEER_KEK_LEN, key, 16, w) != LPA_OK)
		return NULL;
	if (tts) {
		/* protobuf JSON: bytes as standard base64 */
		static const char al[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t o = 0;

		for (size_t i = 0; i < 24; i += 3) {
			uint32_t v = (uint32_t)w[i] << 16 | (uint32_t)w[i + 1] << 8 | w[i + 2];

			b64[o++] = al[v >> 18 & 63];
			b64[o++] = al[v >> 12 & 63];
			b64[o++] = al[v >> 6 & 63];
			b64[o++] = al[v & 63];
		}
		b64[o] = '\0';
		return json_pack("{s:s, s:s}", "kek_label", label, "encrypted_key", b64);
	}
	lpa_hex_encode(w, 24, hex);
	return json_pack("{s:s, s:s}", "kek_label", label, "aes_key", hex);
}

static json_t *admin_export_device(bool tts, const struct device_provisioned *d,
				   const lpa_secbuf *keys, const char *label, const lpa_secbuf *kek)
{
	const uint8_t *k = lpa_secbuf_cdata(keys);
	bool v11 = d->lorawan == LPA_LORAWAN_11;
	char dev[17], join[17], id[24];
	json_t *app = admin_export_envelope(tts, label, kek, k);
	json_t *nwk = v11 ? admin_export_envelope(tts, label, kek, k + 16) : NULL;

	lpa_eui_format(d->dev_eui, dev);
	lpa_eui_format(d->join_eui, join);
	snprintf(id, sizeof(id), "eui-%s", dev);
	if (!app || (v11 && !nwk)) {
		json_decref(app);
		json_decref(nwk);
		return NULL;
	}
	if (tts) {
		json_t *root = json_pack("{s:o}", "app_key", app);

		if (nwk)
			json_object_set_new(root, "nwk_key", nwk);
		return json_pack("{s:{s:s, s:s, s:s}, s:s, s:b, s:o}", "ids", "device_id", id,
				 "dev_eui", dev, "join_eui", join, "lorawan_version",
				 v11 ? "MAC_V1_1" : "MAC_V1_0_4", "supports_join", 1, "root_keys",
				 root);
	}
	{
		json_t *keys_o = json_pack("{s:o}", "app_key", app);

		/* ChirpStack keeps a 1.0.x device's root key as nwk_key. */
		if (nwk)
			json_object_set_new(keys_o, "nwk_key", nwk);
		return json_pack("{s:s, s:s, s:s, s:o}", "dev_eui", dev, "join_eui", join,
				 "mac_version", v11 ? "LORAWAN_1_1_0" : "LORAWAN_1_0_4",
				 "device_keys", keys_o);
	}
}

int admin_export_devices(const struct admin_opts *o)
{
	struct db_stmt *st = NULL;
	struct admin_ctx a;
	lpa_secbuf *kek = NULL;
	uint64_t *euis = NULL;
	size_t n = 0, cap = 0;
	json_t *out = NULL;
	char *text = NULL;
	bool tts;
	int r;

	if (!o->lot || !o->format || !o->kek ||
	    (strcmp(o->format, "tts") != 0 && strcmp(o->format, "chirpstack") != 0)) {
		fprintf(stderr,
			"lpa-kms: export-devices --lot L --format tts|chirpstack --kek LABEL"
			" [--out FILE]\n");
		return KMS_ERR_INVAL;
	}
	tts = strcmp(o->format, "tts") == 0;
	if ((r = admin_open(o, &a)) != KMS_OK)
		return r;
	if ((r = admin_export_kek(&a, o->kek, &kek)) != KMS_OK)
		goto fail;
	r = db_query(
		a.db, &st,
		"SELECT d.dev_eui FROM devices d JOIN attempts t ON t.dev_eui = d.dev_eui"
		" AND t.counter = d.provisioned_counter WHERE t.lot = ? AND t.state = 'confirmed'"
		" ORDER BY d.dev_eui",
		"t", o->lot);
	for (; r == KMS_OK; r = db_next(st)) {
		if (n == cap) {
			uint64_t *m = realloc(euis, (cap = cap ? 2 * cap : 64) * sizeof(*m));

			if (!m) {
				r = KMS_ERR_NOMEM;
				break;
			}
			euis = m;
		}
		euis[n++] = (uint64_t)db_col_int64(st, 0);
	}
	db_done(&st);
	if (r != KMS_ERR_NOT_FOUND)
		goto fail;
	if ((out = json_array()) == NULL) {
		r = KMS_ERR_NOMEM;
		goto fail;
	}
	r = KMS_OK;
	for (size_t i = 0; i < n && r == KMS_OK; i++) {
		struct device_provisioned d;
		lpa_secbuf *keys = NULL;
		json_t *e;

		if ((r = device_provisioned(a.master, a.db, euis[i], &d, &keys)) != KMS_OK)
			break;
		e = admin_export_device(tts, &d, keys, o->kek, kek);
		lpa_secbuf_free(&keys);
		if (!e || json_array_append_new(out, e) != 0)
			r = KMS_ERR_NOMEM;
	}
	if (r != KMS_OK)
		goto fail;
	if ((text = json_dumps(out, JSON_INDENT(2))) == NULL) {
		r = KMS_ERR_NOMEM;
		goto fail;
	}
	if (o->out)
		r = pki_write_file(o->out, text, strlen(text), 0600);
	else
		printf("%s\n", text);
	/* The export is recorded like every other admin act (in its own transaction). */
	if (r == KMS_OK && (r = admin_begin(&a)) == KMS_OK)
		r = admin_end(&a, "export-devices", o->lot, r);
	if (r == KMS_OK)
		fprintf(stderr, "lpa-kms: exported %zu device(s) of lot %s, keys under KEK %s\n", n,
			o->lot, o->kek);
fail:
	free(text);
	json_decref(out);
	free(euis);
	lpa_secbuf_free(&kek);
	admin_close(&a);
	return r;
}
