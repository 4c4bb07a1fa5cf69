/*
 * test-kms-join.c — the KMS as LoRaWAN Join Server (LBI over HTTPS, mutual TLS): devices
 * provisioned through the real issue/confirm flow, network and application servers added
 * with `lpa-kms admin peer add`, JoinRequests built and join-accepts opened by the device
 * side of lpa/core (lorawan.c). Each TCase is one behaviour: 1.0.x and 1.1 joins, what each
 * peer can unwrap, AppSKeyReq, HomeNSReq, replays, and every refusal with its result code
 * and no key in the answer.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmstest.h"

#define NS_NETID "000013"
#define NS_NETID_NUM 0x13u

static char token[64];

/* Peers: ns1 (NetID 000013) serves lots LOT-J*, as1 owns LOT-JA and as2 owns LOT-JB, ns2
 * (NetID 000042) serves only LOT-OTHER. */
static void peers_once(void)
{
	static bool done;
	struct kt_op op;

	kt_start();
	if (done)
		return;
	done = true;
	kt_peer_add("ns1", "ns", NS_NETID, "ns:000013:ns1", "LOT-J*", NULL);
	kt_peer_add("ns2", "ns", "000042", "ns:000042:ns2", "LOT-OTHER", NULL);
	kt_peer_add("as1", "as", NULL, "as:as1", "LOT-JA", "70b3d57ed0000000-70b3d57ed00000ff");
	kt_peer_add("as2", "as", NULL, "as:as2", "LOT-JB", NULL);
	kt_operator(&op, "joiner", "operator", NULL, NULL, NULL);
	kt_login_ok(&op, "st1", token);
}

static void kek_of(const char *peer, uint8_t kek[16])
{
	char path[700], hex[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.kek", kt.certs, peer);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(hex, sizeof(hex), f));
	fclose(f);
	ck_assert_int_eq(lpa_hex_decode(hex, 32, kek, 16), LPA_OK);
}

/* A provisioned chip: issue, install, confirm, as a station does. */
static void provision(struct kt_chip *chip, const char *lot, const char *lorawan)
{
	uint8_t pkg[LPA_LPK1_LEN], receipt[LPA_LPR1_LEN];
	struct kt_resp r;
	uint32_t counter;

	kt_chip_new(chip, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, chip, lot, lorawan, &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_install(chip, pkg, receipt);
	ck_assert_int_eq(kt_confirm("st1", token, chip->dev_eui, counter, receipt, &r), 200);
	kt_resp_free(&r);
}

static const uint8_t *app_key(const struct kt_chip *c)
{
	return lpa_secbuf_cdata(c->keys);
}
static const uint8_t *nwk_key(const struct kt_chip *c)
{
	return lpa_secbuf_cdata(c->keys) + 16;
}

static void le_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The device's JoinRequest (hex), MIC'd with key (NULL: the right root key). */
static void join_request(const struct kt_chip *c, uint16_t dev_nonce, const uint8_t *key,
			 char hex[47])
{
	uint8_t phy[23];
	uint64_t join_eui = kt_hex64(KT_JOIN_EUI);

	phy[0] = 0x00;
	le_put(phy + 1, join_eui, 8);
	le_put(phy + 9, c->dev_eui, 8);
	le_put(phy + 17, dev_nonce, 2);
	if (!key)
		key = c->lorawan == LPA_LORAWAN_11 ? nwk_key(c) : app_key(c);
	ck_assert_int_eq(
		lpa_lorawan_join_request_mic(key, 0x00, join_eui, c->dev_eui, dev_nonce, phy + 19),
		LPA_OK);
	lpa_hex_encode(phy, 23, hex);
}

/* A JoinReq body as ChirpStack v4 writes it. */
static void join_req_body(const struct kt_chip *c, const char *sender, const char *mac,
			  const char *phy_hex, char *body, size_t cap)
{
	snprintf(body, cap,
		 "{\"ProtocolVersion\":\"1.0\",\"SenderID\":\"%s\",\"ReceiverID\":\"%s\","
		 "\"TransactionID\":1234,\"MessageType\":\"JoinReq\",\"SenderToken\":\"0102\","
		 "\"MACVersion\":\"%s\",\"PHYPayload\":\"%s\",\"DevEUI\":\"%016llx\","
		 "\"DevAddr\":\"26011234\",\"DLSettings\":\"00\",\"RxDelay\":1,\"CFList\":\"\"}",
		 sender, KT_JOIN_EUI, mac, phy_hex, (unsigned long long)c->dev_eui);
}

static void lbi(const char *peer, const char *body, struct kt_resp *r)
{
	kt_http(peer, "POST", "/lbi", NULL, NULL, body, strlen(body), r);
	ck_assert_msg(r->status == 200, "status %ld: %s", r->status, r->body);
	ck_assert_ptr_nonnull(r->json);
}

static const char *result(const struct kt_resp *r)
{
	const char *s = json_string_value(
		json_object_get(json_object_get(r->json, "Result"), "ResultCode"));

	return s ? s : "";
}

/* No key of any kind in a refusal. */
static void no_keys(const struct kt_resp *r)
{
	static const char *const keys[] = {"NwkSKey",    "AppSKey",    "FNwkSIntKey", "SNwkSIntKey",
					   "NwkSEncKey", "PHYPayload", "SessionKeyID"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(json_object_get(r->json, keys[i]) == NULL, "%s in %s", keys[i],
			      r->body);
}

/* Unwraps envelope name of the answer under kek; the label must be label. */
static int unwrap(const struct kt_resp *r, const char *name, const char *label,
		  const uint8_t kek[16], uint8_t key[16])
{
	json_t *e = json_object_get(r->json, name);
	const char *l = json_string_value(json_object_get(e, "KEKLabel"));
	const char *hex = json_string_value(json_object_get(e, "AESKey"));
	uint8_t w[24];

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(hex);
	ck_assert_str_eq(l, label);
	ck_assert_int_eq(strlen(hex), 48);
	ck_assert_int_eq(lpa_hex_decode(hex, 48, w, 24), LPA_OK);
	return lpa_aes_keyunwrap(kek, 16, w, 24, key);
}

/* The device opens the join-accept; body out, JoinNonce returned. */
static uint32_t open_accept(const struct kt_chip *c, const struct kt_resp *r, bool v11,
			    uint16_t dev_nonce, uint8_t body[28])
{
	const char *hex = json_string_value(json_object_get(r->json, "PHYPayload"));
	uint8_t phy[33], js_int[16], js_enc[16];
	size_t n, len = 0;

	ck_assert_ptr_nonnull(hex);
	n = strlen(hex) / 2;
	ck_assert(n == 17 || n == 33);
	ck_assert_int_eq(lpa_hex_decode(hex, 2 * n, phy, n), LPA_OK);
	if (v11) {
		ck_assert_int_eq(lpa_lorawan11_js_keys(nwk_key(c), c->dev_eui, js_int, js_enc),
				 LPA_OK);
		ck_assert_int_eq(lpa_lorawan_join_accept_open(js_int, nwk_key(c), true,
							      kt_hex64(KT_JOIN_EUI), dev_nonce, phy,
							      n, body, &len),
				 LPA_OK);
	} else {
		const uint8_t *root = c->lorawan == LPA_LORAWAN_11 ? nwk_key(c) : app_key(c);

		ck_assert_int_eq(lpa_lorawan_join_accept_open(root, root, false,
							      kt_hex64(KT_JOIN_EUI), dev_nonce, phy,
							      n, body, &len),
				 LPA_OK);
	}
	ck_assert_int_eq(len, 12);
	/* NetID from SenderID, DevAddr from the request, OptNeg for 1.1 */
	ck_assert_int_eq(body[3] | body[4] << 8 | body[5] << 16, NS_NETID_NUM);
	ck_assert_int_eq(body[6] | body[7] << 8 | body[8] << 16 | (uint32_t)body[9] << 24,
			 0x26011234u);
	ck_assert_int_eq(body[10] & 0x80, v11 ? 0x80 : 0);
	ck_assert_int_eq(body[11], 1);
	return (uint32_t)(body[0] | body[1] << 8 | body[2] << 16);
}

static void appskey_req(const char *peer, const struct kt_chip *c, const char *skid,
			struct kt_resp *r)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"ProtocolVersion\":\"1.1\",\"SenderID\":\"%s\",\"ReceiverID\":\"%s\","
		 "\"TransactionID\":77,\"MessageType\":\"AppSKeyReq\",\"DevEUI\":\"%016llx\","
		 "\"SessionKeyID\":\"%s\"}",
		 peer, KT_JOIN_EUI, (unsigned long long)c->dev_eui, skid);
	lbi(peer, body, r);
}

START_TEST(join_10)
{
	uint8_t ns_kek[16], as_kek[16], k[16], body[28];
	struct lpa_lorawan10_skeys sk;
	struct kt_chip chip;
	struct kt_resp r, a;
	char phy[47], req[1024], skid[80];
	uint32_t jn;

	peers_once();
	provision(&chip, "LOT-JA", "1.0.4");
	kek_of("ns1", ns_kek);
	kek_of("as1", as_kek);
	join_request(&chip, 0x0102, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_msg(strcmp(result(&r), "Success") == 0, "%s", r.body);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "MessageType")), "JoinAns");
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "TransactionID")), 1234);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "ReceiverToken")), "0102");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "ReceiverID")), NS_NETID);
	jn = open_accept(&chip, &r, false, 0x0102, body);
	ck_assert_uint_eq(jn, 1);
	ck_assert_int_eq(lpa_lorawan10_derive(app_key(&chip), jn, NS_NETID_NUM, 0x0102, &sk),
			 LPA_OK);
	/* The NS opens its NwkSKey, and cannot open the AppSKey; the AS can. */
	ck_assert_int_eq(unwrap(&r, "NwkSKey", "ns:000013:ns1", ns_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.nwk_s_key, 16);
	ck_assert_int_ne(unwrap(&r, "AppSKey", "as:as1", ns_kek, k), LPA_OK);
	ck_assert_int_eq(unwrap(&r, "AppSKey", "as:as1", as_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.app_s_key, 16);
	ck_assert_ptr_null(json_object_get(r.json, "FNwkSIntKey"));
	snprintf(skid, sizeof(skid), "%s",
		 json_string_value(json_object_get(r.json, "SessionKeyID")));
	ck_assert_int_eq(strlen(skid), 32);
	/* AppSKeyReq: the owner gets it again under its KEK; the other AS nothing. */
	appskey_req("as1", &chip, skid, &a);
	ck_assert_msg(strcmp(result(&a), "Success") == 0, "%s", a.body);
	ck_assert_int_eq(unwrap(&a, "AppSKey", "as:as1", as_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.app_s_key, 16);
	kt_resp_free(&a);
	appskey_req("as2", &chip, skid, &a);
	ck_assert_str_eq(result(&a), "ActivationDisallowed");
	no_keys(&a);
	kt_resp_free(&a);
	/* An NS may not ask for the AppSKey. */
	appskey_req("ns1", &chip, skid, &a);
	ck_assert_str_eq(result(&a), "UnknownSender");
	no_keys(&a);
	kt_resp_free(&a);
	kt_resp_free(&r);
	/* Every release is an audit line naming who got which key, and never a key. */
	{
		static char log[4 << 20];
		char hex[33], *line;

		ck_assert_int_eq(
			kt_run(-1, -1, log, sizeof(log), "audit", "export", "--dir", kt.kms, NULL),
			0);
		ck_assert_uint_lt(strlen(log), sizeof(log) - 1);
		line = strstr(log, skid);
		ck_assert_ptr_nonnull(line);
		ck_assert_ptr_nonnull(strstr(log, "\"action\":\"lbi-join\""));
		ck_assert_ptr_nonnull(strstr(log, "\"released\":[\"NwkSKey:ns\",\"AppSKey:as\"]"));
		ck_assert_ptr_nonnull(strstr(log, "\"action\":\"lbi-appskey\""));
		lpa_hex_encode(sk.app_s_key, 16, hex);
		ck_assert_ptr_null(strstr(log, hex));
		lpa_hex_encode(sk.nwk_s_key, 16, hex);
		ck_assert_ptr_null(strstr(log, hex));
		lpa_hex_encode(app_key(&chip), 16, hex);
		ck_assert_ptr_null(strstr(log, hex));
		ck_assert_int_eq(
			kt_run(-1, -1, log, sizeof(log), "audit", "verify", "--dir", kt.kms, NULL),
			0);
	}
	/* The same JoinRequest again: a replay. */
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "JoinReqFailed");
	no_keys(&r);
	kt_resp_free(&r);
	/* 1.0.x: any DevNonce not seen before, a lower one too; the JoinNonce moves on. */
	join_request(&chip, 0x0001, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "Success");
	ck_assert_uint_eq(open_accept(&chip, &r, false, 0x0001, body), 2);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(join_11)
{
	uint8_t ns_kek[16], as_kek[16], k[16], body[28];
	struct lpa_lorawan11_skeys sk;
	struct kt_chip chip;
	struct kt_resp r;
	char phy[47], req[1024];
	uint32_t jn;

	peers_once();
	provision(&chip, "LOT-JA", "1.1");
	kek_of("ns1", ns_kek);
	kek_of("as1", as_kek);
	join_request(&chip, 5, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.1.0", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_msg(strcmp(result(&r), "Success") == 0, "%s", r.body);
	jn = open_accept(&chip, &r, true, 5, body);
	ck_assert_int_eq(lpa_lorawan11_derive(nwk_key(&chip), app_key(&chip), jn,
					      kt_hex64(KT_JOIN_EUI), 5, &sk),
			 LPA_OK);
	ck_assert_int_eq(unwrap(&r, "FNwkSIntKey", "ns:000013:ns1", ns_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.f_nwk_s_int_key, 16);
	ck_assert_int_eq(unwrap(&r, "SNwkSIntKey", "ns:000013:ns1", ns_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.s_nwk_s_int_key, 16);
	ck_assert_int_eq(unwrap(&r, "NwkSEncKey", "ns:000013:ns1", ns_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.nwk_s_enc_key, 16);
	ck_assert_int_eq(unwrap(&r, "AppSKey", "as:as1", as_kek, k), LPA_OK);
	ck_assert_mem_eq(k, sk.app_s_key, 16);
	ck_assert_ptr_null(json_object_get(r.json, "NwkSKey"));
	kt_resp_free(&r);
	/* 1.1: DevNonce strictly increasing: the same and a lower one are replays. */
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "JoinReqFailed");
	no_keys(&r);
	kt_resp_free(&r);
	join_request(&chip, 4, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.1.0", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "JoinReqFailed");
	kt_resp_free(&r);
	join_request(&chip, 6, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.1.0", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "Success");
	ck_assert_uint_eq(open_accept(&chip, &r, true, 6, body), jn + 1);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(refusals)
{
	uint8_t wrong[16] = {1, 2, 3};
	struct kt_chip chip, other;
	struct kt_resp r;
	char phy[47], req[1024];

	peers_once();
	provision(&chip, "LOT-JA", "1.0.4");
	/* wrong MIC */
	join_request(&chip, 10, wrong, phy);
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "MICFailed");
	no_keys(&r);
	kt_resp_free(&r);
	/* the NetID in SenderID is not the calling NS's */
	join_request(&chip, 11, NULL, phy);
	join_req_body(&chip, "000042", "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "UnknownSender");
	no_keys(&r);
	kt_resp_free(&r);
	/* a network server the device is not assigned to */
	lbi("ns2", req, &r);
	ck_assert_str_eq(result(&r), "ActivationDisallowed");
	no_keys(&r);
	kt_resp_free(&r);
	/* a station's certificate is no peer's; as1 is no network server */
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("st1", req, &r);
	ck_assert_str_eq(result(&r), "UnknownSender");
	no_keys(&r);
	kt_resp_free(&r);
	lbi("as1", req, &r);
	ck_assert_str_eq(result(&r), "UnknownSender");
	no_keys(&r);
	kt_resp_free(&r);
	/* an unknown DevEUI; a device issued but never confirmed */
	other = chip;
	other.dev_eui ^= 0x5a5a;
	join_request(&other, 12, NULL, phy);
	join_req_body(&other, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "UnknownDevEUI");
	no_keys(&r);
	kt_resp_free(&r);
	/* ReceiverID is not the device's JoinEUI */
	join_request(&chip, 13, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	memcpy(strstr(req, KT_JOIN_EUI), "70b3d57ed0000001", 16);
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "UnknownReceiver");
	no_keys(&r);
	kt_resp_free(&r);
	/* and after all those, DevNonce 13 is still fresh: refusals use up nothing */
	join_request(&chip, 13, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "Success");
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(device_without_owner)
{
	struct kt_chip chip;
	struct kt_resp r;
	char phy[47], req[1024];

	peers_once();
	/* LOT-JC: served by ns1 (LOT-J*), owned by no application server */
	provision(&chip, "LOT-JC", "1.0.4");
	join_request(&chip, 1, NULL, phy);
	join_req_body(&chip, NS_NETID, "1.0.3", phy, req, sizeof(req));
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "JoinReqFailed");
	no_keys(&r);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

START_TEST(home_ns)
{
	struct kt_chip chip;
	struct kt_resp r;
	char req[512];

	peers_once();
	provision(&chip, "LOT-JB", "1.0.4");
	snprintf(req, sizeof(req),
		 "{\"ProtocolVersion\":\"1.1\",\"SenderID\":\"%s\",\"ReceiverID\":\"%s\","
		 "\"TransactionID\":9,\"MessageType\":\"HomeNSReq\",\"DevEUI\":\"%016llx\"}",
		 NS_NETID, KT_JOIN_EUI, (unsigned long long)chip.dev_eui);
	lbi("ns1", req, &r);
	ck_assert_str_eq(result(&r), "Success");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "MessageType")), "HomeNSAns");
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "HNetID")), NS_NETID);
	kt_resp_free(&r);
	lbi("ns2", req, &r);
	ck_assert_str_eq(result(&r), "ActivationDisallowed");
	ck_assert_ptr_null(json_object_get(r.json, "HNetID"));
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

/* Malformed LBI of every kind: the spec's result code, and nothing released. */
START_TEST(malformed)
{
	static const struct {
		const char *body, *code;
	} cases[] = {
		{"", "MalformedRequest"},
		{"[1,2]", "MalformedRequest"},
		{"{\"MessageType\":\"JoinReq\"", "MalformedRequest"},
		{"{\"MessageType\":\"JoinReq\",\"MessageType\":\"JoinReq\"}", "MalformedRequest"},
		{"{\"MessageType\":\"JoinAns\",\"ProtocolVersion\":\"1.0\"}", "MalformedRequest"},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"2.0\",\"TransactionID\":1}",
		 "InvalidProtocolVersion"},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"000013\","
		 "\"ReceiverID\":\"70b3d57ed0000000\"}",
		 "MalformedRequest"},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"000013\","
		 "\"ReceiverID\":\"70b3d57ed0000000\",\"TransactionID\":-1}",
		 "MalformedRequest"},
		{"{\"MessageType\":\"HomeNSReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":"
		 "\"000013\","
		 "\"ReceiverID\":\"70b3d57ed0000000\",\"TransactionID\":1,\"DevEUI\":\"xyz\"}",
		 "MalformedRequest"},
		{"{\"MessageType\":\"HomeNSReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":"
		 "\"000013\","
		 "\"ReceiverID\":\"70b3d57ed0000000\",\"TransactionID\":1,\"DevEUI\":\"00\","
		 "\"Extra\":1}",
		 "MalformedRequest"},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"000013\","
		 "\"ReceiverID\":\"70b3d57ed0000000\",\"TransactionID\":1,\"MACVersion\":\"1.0.3\","
		 "\"PHYPayload\":\"0011\"}",
		 "FrameSizeError"},
		{"{\"MessageType\":\"JoinReq\",\"ProtocolVersion\":\"1.0\",\"SenderID\":\"000013\","
		 "\"ReceiverID\":\"70b3d57ed0000000\",\"TransactionID\":1,\"MACVersion\":\"9.9\"}",
		 "MalformedRequest"},
	};
	struct kt_resp r;

	peers_once();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lbi("ns1", cases[i].body, &r);
		ck_assert_msg(strcmp(result(&r), cases[i].code) == 0, "case %zu: %s", i, r.body);
		no_keys(&r);
		kt_resp_free(&r);
	}
}
END_TEST

START_TEST(peer_admin)
{
	char out[8192];

	peers_once();
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "peer", "list", "--dir", kt.kms,
				"--json", NULL),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\"ns:000013:ns1\""));
	/* the KEK itself is never listed */
	{
		uint8_t kek[16];
		char hex[33];

		kek_of("ns1", kek);
		lpa_hex_encode(kek, 16, hex);
		ck_assert_ptr_null(strstr(out, hex));
	}
	/* a label already taken, an empty label, an NS without NetID: refused */
	ck_assert_int_ne(kt_run(-1, -1, out, sizeof(out), "admin", "peer", "add", "x1", "--dir",
				kt.kms, "--kind", "as", "--kek-label", "as:as1", "--lots", "L",
				"--out", kt.certs, NULL),
			 0);
	ck_assert_int_ne(kt_run(-1, -1, out, sizeof(out), "admin", "peer", "add", "x2", "--dir",
				kt.kms, "--kind", "as", "--kek-label", "", "--lots", "L", "--out",
				kt.certs, NULL),
			 0);
	ck_assert_int_ne(kt_run(-1, -1, out, sizeof(out), "admin", "peer", "add", "x3", "--dir",
				kt.kms, "--kind", "ns", "--kek-label", "ns:x3", "--lots", "L",
				"--out", kt.certs, NULL),
			 0);
}
END_TEST

START_TEST(peer_rotate_revoke)
{
	struct kt_chip chip;
	uint8_t old[16], kek[16], k[16];
	struct kt_resp r;
	char phy[47], req[1024], out[4096];

	peers_once();
	kt_peer_add("ns9", "ns", "000099", "ns:000099:ns9", "LOT-R", NULL);
	kt_peer_add("as9", "as", NULL, "as:as9", "LOT-R", NULL);
	kek_of("ns9", old);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "peer", "rotate", "ns9", "--dir",
				kt.kms, "--kek-label", "ns:000099:ns9:2", "--out", kt.certs, NULL),
			 0);
	kek_of("ns9", kek);
	ck_assert_mem_ne(old, kek, 16);
	provision(&chip, "LOT-R", "1.0.4");
	join_request(&chip, 1, NULL, phy);
	join_req_body(&chip, "000099", "1.0.3", phy, req, sizeof(req));
	lbi("ns9", req, &r);
	ck_assert_str_eq(result(&r), "Success");
	ck_assert_int_eq(unwrap(&r, "NwkSKey", "ns:000099:ns9:2", kek, k), LPA_OK);
	ck_assert_int_ne(unwrap(&r, "NwkSKey", "ns:000099:ns9:2", old, k), LPA_OK);
	kt_resp_free(&r);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "peer", "revoke", "ns9", "--dir",
				kt.kms, NULL),
			 0);
	join_request(&chip, 2, NULL, phy);
	join_req_body(&chip, "000099", "1.0.3", phy, req, sizeof(req));
	lbi("ns9", req, &r);
	ck_assert_str_eq(result(&r), "UnknownSender");
	no_keys(&r);
	kt_resp_free(&r);
	kt_chip_free(&chip);
}
END_TEST

/* export-devices: root keys only under the customer's KEK, in both formats. */
START_TEST(export_devices)
{
	struct kt_chip c10, c11;
	uint8_t kek[16], w[24], k[16];
	char out[16384];
	json_t *j;

	peers_once();
	provision(&c10, "LOT-X", "1.0.4");
	provision(&c11, "LOT-X", "1.1");
	kek_of("as2", kek);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "export-devices", "--dir",
				kt.kms, "--lot", "LOT-X", "--format", "chirpstack", "--kek",
				"as:as2", NULL),
			 0);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_array_size(j), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *d = json_array_get(j, i);
		struct kt_chip *c =
			kt_hex64(json_string_value(json_object_get(d, "dev_eui"))) == c10.dev_eui
				? &c10
				: &c11;
		json_t *ak = json_object_get(json_object_get(d, "device_keys"), "app_key");

		ck_assert_str_eq(json_string_value(json_object_get(ak, "kek_label")), "as:as2");
		ck_assert_int_eq(lpa_hex_decode(json_string_value(json_object_get(ak, "aes_key")),
						48, w, 24),
				 LPA_OK);
		ck_assert_int_eq(lpa_aes_keyunwrap(kek, 16, w, 24, k), LPA_OK);
		ck_assert_mem_eq(k, app_key(c), 16);
	}
	json_decref(j);
	/* neither key appears in clear */
	{
		char hex[33];

		lpa_hex_encode(app_key(&c11), 16, hex);
		ck_assert_ptr_null(strstr(out, hex));
		lpa_hex_encode(nwk_key(&c11), 16, hex);
		ck_assert_ptr_null(strstr(out, hex));
	}
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "export-devices", "--dir",
				kt.kms, "--lot", "LOT-X", "--format", "tts", "--kek", "as:as2",
				NULL),
			 0);
	j = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_array_size(j), 2);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_object_get(json_array_get(j, 0), "root_keys"),
						 "app_key"),
				 "kek_label")),
			 "as:as2");
	json_decref(j);
	/* an unknown label: nothing written */
	ck_assert_int_ne(kt_run(-1, -1, out, sizeof(out), "admin", "export-devices", "--dir",
				kt.kms, "--lot", "LOT-X", "--format", "tts", "--kek", "nobody",
				NULL),
			 0);
	ck_assert_ptr_null(strstr(out, "root_keys"));
	kt_chip_free(&c10);
	kt_chip_free(&c11);
}
END_TEST

/* ------------------------------------------------------------ crash safety */
/* After every sixth success the killer thread SIGKILLs the instance at its next audit
 * write (SQLite: the line is written inside the transaction, before the commit) or, in
 * turn, at its next WAL write (the commit's first frame); on PostgreSQL at once. So the
 * kill lands while a JoinReq is accepted and being decided, not yet answered; the joiner
 * restarts the instance and sends the same JoinReq again, as a network server retries.
 * The answer is either a fresh join (nothing of the killed one stayed) or, had its commit
 * completed, a replay refusal; in the runs so far every kill landed before the commit's
 * last frame, so the second case is checked when it happens, not forced. */
struct crash {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int pid;    /* the instance to kill */
	bool armed; /* kill it at the next audit write */
	bool quit;
	unsigned kills;
	/* SQLite: the audit log (written before each commit) and the WAL (written by the
	 * commit), watched in turn; NULL (PostgreSQL): kill at once */
	const char *audit, *wal;
	int quit_fd; /* readable when the test ends */
};

/* Until the audit log is next written (a JoinReq being committed), or the test ends:
 * the kill then lands between the decision and its answer. */
static bool crash_wait_write(const struct crash *k)
{
	int fd = inotify_init1(IN_CLOEXEC);
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = k->quit_fd, .events = POLLIN}};
	bool ok = false;

	if (fd < 0)
		return false;
	if (inotify_add_watch(fd, k->kills % 2 ? k->wal : k->audit, IN_MODIFY) >= 0 &&
	    poll(p, 2, -1) > 0 && (p[0].revents & POLLIN))
		ok = true;
	close(fd);
	return ok;
}

static void *crash_killer(void *arg)
{
	struct crash *k = arg;

	for (;;) {
		pthread_mutex_lock(&k->lock);
		while (!k->armed && !k->quit)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->quit) {
			pthread_mutex_unlock(&k->lock);
			break;
		}
		pthread_mutex_unlock(&k->lock);
		if (k->audit && !crash_wait_write(k))
			break;
		pthread_mutex_lock(&k->lock);
		kill(k->pid, SIGKILL);
		k->armed = false;
		k->kills++;
		pthread_cond_broadcast(&k->cond);
		pthread_mutex_unlock(&k->lock);
	}
	return NULL;
}

START_TEST(crash_never_reuses_nonces)
{
	struct crash k = {PTHREAD_MUTEX_INITIALIZER,
			  PTHREAD_COND_INITIALIZER,
			  0,
			  false,
			  false,
			  0,
			  NULL,
			  NULL,
			  -1};
	char audit[700], wal[700];
	int quit_pipe[2];
	struct kt_chip chips[2];
	unsigned main_port, port, n_ok = 0, resent_ok = 0, resent_replay = 0;
	uint32_t last_jn[2] = {0, 0};
	pthread_t t;
	char phy[47], req[1024];

	peers_once();
	provision(&chips[0], "LOT-JA", "1.1");
	provision(&chips[1], "LOT-JA", "1.0.4");
	main_port = kt.port;
	snprintf(audit, sizeof(audit), "%s/audit.log", kt.kms);
	snprintf(wal, sizeof(wal), "%s/kms.db-wal", kt.kms);
	k.audit = kt.pg ? NULL : audit;
	k.wal = wal;
	ck_assert_int_eq(pipe(quit_pipe), 0);
	k.quit_fd = quit_pipe[0];
	k.pid = kt_serve("crash", &port);
	kt.port = port;
	ck_assert_int_eq(pthread_create(&t, NULL, crash_killer, &k), 0);
	for (uint16_t dn = 1; dn <= 24; dn++) {
		for (int c = 0; c < 2; c++) {
			struct kt_resp r;
			bool resent = false;
			uint8_t body[28];

			join_request(&chips[c], dn, NULL, phy);
			join_req_body(&chips[c], NS_NETID, c == 0 ? "1.1.0" : "1.0.3", phy, req,
				      sizeof(req));
			for (;;) {
				kt_http("ns1", "POST", "/lbi", NULL, NULL, req, strlen(req), &r);
				if (r.status != -1 && r.status != 500)
					break;
				/* killed: wait for the kill to be done, restart, send again */
				kt_resp_free(&r);
				pthread_mutex_lock(&k.lock);
				while (k.armed)
					pthread_cond_wait(&k.cond, &k.lock);
				pthread_mutex_unlock(&k.lock);
				waitpid(k.pid, NULL, 0);
				pthread_mutex_lock(&k.lock);
				k.pid = kt_serve("crash", &port);
				pthread_mutex_unlock(&k.lock);
				kt.port = port;
				resent = true;
			}
			ck_assert_int_eq(r.status, 200);
			if (strcmp(result(&r), "Success") == 0) {
				uint32_t jn = open_accept(&chips[c], &r, c == 0, dn, body);

				/* never a JoinNonce handed out before */
				ck_assert_uint_gt(jn, last_jn[c]);
				last_jn[c] = jn;
				resent_ok += resent;
				if (++n_ok % 6 == 0 && k.kills < 6) {
					pthread_mutex_lock(&k.lock);
					k.armed = true;
					pthread_cond_broadcast(&k.cond);
					pthread_mutex_unlock(&k.lock);
				}
			} else {
				/* only a request whose first sending committed before the kill */
				ck_assert_msg(resent, "%s", r.body);
				ck_assert_str_eq(result(&r), "JoinReqFailed");
				no_keys(&r);
				resent_replay++;
			}
			kt_resp_free(&r);
		}
	}
	pthread_mutex_lock(&k.lock);
	k.quit = true;
	pthread_cond_broadcast(&k.cond);
	pthread_mutex_unlock(&k.lock);
	ck_assert_int_eq(write(quit_pipe[1], "q", 1), 1);
	pthread_join(t, NULL);
	close(quit_pipe[0]);
	close(quit_pipe[1]);
	ck_assert_uint_ge(k.kills, 1);
	/* every DevNonce used, on either side of a crash, is refused from now on */
	for (uint16_t dn = 1; dn <= 24; dn++)
		for (int c = 0; c < 2; c++) {
			struct kt_resp r;

			join_request(&chips[c], dn, NULL, phy);
			join_req_body(&chips[c], NS_NETID, c == 0 ? "1.1.0" : "1.0.3", phy, req,
				      sizeof(req));
			lbi("ns1", req, &r);
			ck_assert_str_eq(result(&r), "JoinReqFailed");
			kt_resp_free(&r);
		}
	kill(k.pid, SIGTERM);
	waitpid(k.pid, NULL, 0);
	kt.port = main_port;
	fprintf(stderr, "crash: %u kills, %u joins, after a kill %u answered anew, %u replays\n",
		k.kills, n_ok, resent_ok, resent_replay);
	kt_chip_free(&chips[0]);
	kt_chip_free(&chips[1]);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {
		{"join_10", join_10},
		{"join_11", join_11},
		{"refusals", refusals},
		{"device_without_owner", device_without_owner},
		{"home_ns", home_ns},
		{"malformed", malformed},
		{"peer_admin", peer_admin},
		{"peer_rotate_revoke", peer_rotate_revoke},
		{"export_devices", export_devices},
		{"crash_never_reuses_nonces", crash_never_reuses_nonces},
	};

	/* One process: the peers and the session are made once for every TCase. */
	return kt_main("kms-join", cases, sizeof(cases) / sizeof(cases[0]), kt_start, 60, true);
}
