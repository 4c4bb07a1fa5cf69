/*
 * kms-lbi.h — the Join Server (LoRaWAN Backend Interfaces TS002 1.0/1.1): the LBI JSON
 * messages as ChirpStack v4 and The Things Stack send them (lbi.c: parser and answers; no
 * database, so the fuzz target drives it alone), the peers that may call (peer.c: network
 * and application servers, their certificates and KEKs, which devices are theirs), and
 * JoinReq, AppSKeyReq and HomeNSReq (join.c).
 */
#ifndef LPA_KMS_LBI_H
#define LPA_KMS_LBI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The spec's result codes (TS002-1.1.0 Table 24), in its order. */
enum lbi_result {
	LBI_SUCCESS,
	LBI_MIC_FAILED,
	LBI_JOIN_REQ_FAILED,
	LBI_NO_ROAMING_AGREEMENT,
	LBI_DEV_ROAMING_DISALLOWED,
	LBI_ROAMING_ACT_DISALLOWED,
	LBI_ACTIVATION_DISALLOWED,
	LBI_UNKNOWN_DEV_EUI,
	LBI_UNKNOWN_DEV_ADDR,
	LBI_UNKNOWN_SENDER,
	LBI_UNKNOWN_RECEIVER,
	LBI_DEFERRED,
	LBI_XMIT_FAILED,
	LBI_INVALID_FCNT_UP,
	LBI_INVALID_PROTOCOL_VERSION,
	LBI_STALE_DEVICE_PROFILE,
	LBI_MALFORMED_REQUEST,
	LBI_FRAME_SIZE_ERROR,
	LBI_OTHER,
	LBI_RESULT_COUNT
};
const char *lbi_result_name(enum lbi_result r);
/* A ResultCode as text (the spec's names, and "UnkownReceiver", the spec's own misspelling
 * that ChirpStack accepts); -1 when unknown. */
int lbi_result_parse(const char *s);

/* How a request can be malformed: each its own code and message. */
enum lbi_err {
	LBI_OK = 0,
	LBI_ERR_JSON = -1,      /* not JSON, a duplicate key, trailing garbage, not an object */
	LBI_ERR_UNKNOWN = -2,   /* a member this message type does not have */
	LBI_ERR_MISSING = -3,   /* a required member is absent */
	LBI_ERR_TYPE = -4,      /* a member of the wrong JSON type */
	LBI_ERR_HEX = -5,       /* a byte field that is not hex of the right length */
	LBI_ERR_RANGE = -6,     /* a number or string out of range */
	LBI_ERR_VERSION = -7,   /* ProtocolVersion is neither "1.0" nor "1.1" */
	LBI_ERR_MSGTYPE = -8,   /* MessageType is not a request the Join Server answers */
	LBI_ERR_FRAME = -9,     /* PHYPayload is not a 23-byte JoinRequest */
	LBI_ERR_MACVER = -10,   /* MACVersion is not 1.0.x or 1.1.x */
	LBI_ERR_TOO_LARGE = -11 /* the body exceeds LBI_MAX_BODY */
};
const char *lbi_strerror(int err);

#define LBI_MAX_BODY 8192
#define LBI_MAX_ID 64    /* SenderID, ReceiverID: printable, 1..64 */
#define LBI_MAX_TOKEN 64 /* SenderToken, ReceiverToken, SessionKeyID: bytes */
#define LBI_JOIN_REQUEST_LEN 23

enum lbi_type { LBI_JOIN_REQ, LBI_APP_SKEY_REQ, LBI_HOME_NS_REQ };

struct lbi_msg {
	/* header: what could be read is kept even when the rest fails, for the answer */
	char protocol_version[4];
	bool has_transaction_id;
	uint32_t transaction_id;
	enum lbi_type type;
	bool has_type;
	char sender_id[LBI_MAX_ID + 1], receiver_id[LBI_MAX_ID + 1];
	uint8_t sender_token[LBI_MAX_TOKEN];
	size_t sender_token_len; /* 0: none */
	/* JoinReq */
	bool mac_11; /* MACVersion 1.1.x (else 1.0.x) */
	char mac_version[16];
	uint8_t phy[LBI_JOIN_REQUEST_LEN];
	uint32_t dev_addr;
	uint8_t dl_settings, rx_delay;
	uint8_t cflist[16];
	bool has_cflist;
	/* JoinReq, AppSKeyReq, HomeNSReq */
	uint64_t dev_eui;
	/* AppSKeyReq */
	uint8_t session_key_id[LBI_MAX_TOKEN];
	size_t session_key_id_len;
};

/* Parses one request. On failure returns an LBI_ERR_* code, *result the spec's result
 * code for the answer (MalformedRequest, InvalidProtocolVersion, FrameSizeError) and msg a
 * sentence naming the member; m keeps the header fields read so far. */
int lbi_parse(const char *body, size_t len, struct lbi_msg *m, enum lbi_result *result, char *msg,
	      size_t msg_len);

/* The answer to m: the header (SenderID and ReceiverID swapped, ReceiverToken = the
 * request's SenderToken, MessageType the request's answer) and Result. Members are added
 * by the caller. NULL when out of memory. */
json_t *lbi_answer(const struct lbi_msg *m, enum lbi_result r, const char *description);
/* {"KEKLabel": label, "AESKey": hex of the 24-byte RFC 3394 wrap}; never an empty label. */
json_t *lbi_key_envelope(const char *kek_label, const uint8_t wrapped[24]);
/* Hex text of n bytes (lower case) as a JSON string. */
json_t *lbi_hex(const uint8_t *b, size_t n);

#endif /* LPA_KMS_LBI_H */

/* ------------------------------------------------------------------ peers */
#include "kms-server.h"

/* A network server (kind "ns", with its NetID) or application server ("as"): its client
 * certificate's fingerprint names it, its KEK (16 bytes, sealed under the master key with
 * the label as context) wraps what it receives, lots and JoinEUIs say which devices are
 * its own. */
#define PEER_KEK_LEN 16
#define PEER_MAX_LABEL 64
struct peer {
	int64_t id;
	char name[REQ_MAX_NAME + 1];
	char kind[3];
	int64_t net_id; /* -1 for an application server */
	char kek_label[PEER_MAX_LABEL + 1];
	uint8_t *kek_sealed;
	size_t kek_sealed_len;
	char *lots, *join_euis;
	bool revoked;
};
void peer_free(struct peer *p);
/* By certificate fingerprint; KMS_ERR_NOT_FOUND when none. */
int peer_by_fingerprint(struct db *db, const uint8_t fp[32], struct peer *p);
/* The first unrevoked peer of kind whose lots and JoinEUIs cover the device. */
int peer_owner(struct db *db, const char *kind, const char *lot, uint64_t join_eui, struct peer *p);
bool peer_covers(const struct peer *p, const char *lot, uint64_t join_eui);
/* A JoinEUI list: "*", or items of 16 hex digits or LO-HI ranges. */
bool peer_euis_ok(const char *list);
/* key (16 bytes) wrapped (RFC 3394) under the peer's KEK. */
int peer_wrap(struct kms_server *s, const struct peer *p, const uint8_t key[16],
	      uint8_t wrapped[24]);

/* ----------------------------------------------------------- Join Server */
/* One LBI request (POST /lbi): the peer is identified by fp (NULL: no valid certificate). */
void join_call(struct kms_server *s, struct kms_call *c, const uint8_t *fp);
