/*
 * mkpkg — test helper standing in for the KMS: builds an LPK1 package for a simulated
 * chip from its record (lpa-sim --state) and the fixture KMS package-signing key.
 *
 *   mkpkg CHIP_DIR KMS_KEY.pem COUNTER OUT.bin
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "lpa/core/lpa-core.h"

/* The value of "key value" in a chip record file. */
static int read_kv(const char *path, const char *key, char *val, size_t cap)
{
	char line[512];
	size_t kl = strlen(key);
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			size_t n = strcspn(line + kl + 1, "\n");

			if (n < cap) {
				memcpy(val, line + kl + 1, n);
				val[n] = '\0';
				found = 1;
			}
		}
	}
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	char path[1024], uid_hex[32], pub_hex[160];
	uint8_t pub[65], out[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	EVP_PKEY *kms = NULL, *dik = NULL;
	lpa_secbuf *keys = NULL;
	FILE *f;
	int r = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: mkpkg CHIP_DIR KMS_KEY.pem COUNTER OUT.bin\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/identity", argv[1]);
	if (!read_kv(path, "uid", uid_hex, sizeof(uid_hex)) ||
	    !read_kv(path, "dik_pub", pub_hex, sizeof(pub_hex)) ||
	    lpa_hex_decode(pub_hex, strlen(pub_hex), pub, sizeof(pub)) != LPA_OK) {
		fprintf(stderr, "mkpkg: bad chip record %s\n", path);
		goto out;
	}
	if ((f = fopen(argv[2], "r")) == NULL ||
	    (kms = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "mkpkg: cannot read %s\n", argv[2]);
		goto out;
	}
	fclose(f);
	if (lpa_p256_from_public(pub, &dik) != LPA_OK || (keys = lpa_secbuf_new(32)) == NULL)
		goto out;
	memset(&h, 0, sizeof(h));
	h.lorawan = LPA_LORAWAN_11;
	h.dev_eui = 0x70B3D57ED0001234ull;
	h.join_eui = 0x70B3D57ED0000000ull;
	if (lpa_eui_parse(uid_hex, &h.chip_uid) != LPA_OK) {
		fprintf(stderr, "mkpkg: %s: the uid is not 16 hex digits\n", path);
		goto out;
	}
	h.counter = (uint32_t)strtoul(argv[3], NULL, 0);
	h.key_id = 1;
	h.issued_at = 1790000000;
	for (int i = 0; i < 32; i++)
		lpa_secbuf_data(keys)[i] = (uint8_t)(0x40 + i);
	if (lpa_lpk1_build(&h, keys, dik, kms, NULL, NULL, out) != LPA_OK) {
		fprintf(stderr, "mkpkg: lpa_lpk1_build failed\n");
		goto out;
	}
	if ((f = fopen(argv[4], "wb")) == NULL || fwrite(out, 1, sizeof(out), f) != sizeof(out)) {
		fprintf(stderr, "mkpkg: cannot write %s\n", argv[4]);
		goto out;
	}
	fclose(f);
	r = 0;
out:
	lpa_secbuf_free(&keys);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&kms);
	return r;
}
