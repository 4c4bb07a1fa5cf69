/*
 * kms-err.h — the reference KMS's error codes: internal ones (KMS_ERR_*, named by
 * kms_strerror), the API errors an HTTP client sees (one table, err.c, so
 * docs/kms-api.md, the server and the tests agree), and the exit codes of lpa-kms.
 */
#ifndef LPA_KMS_ERR_H
#define LPA_KMS_ERR_H

enum kms_err {
	KMS_OK = 0,
	KMS_ERR_NOMEM = -1,     /* out of memory */
	KMS_ERR_INVAL = -2,     /* bad argument or option */
	KMS_ERR_DB = -3,        /* a database call failed */
	KMS_ERR_IO = -4,        /* a file could not be read or written */
	KMS_ERR_CRYPTO = -5,    /* an OpenSSL or core crypto call failed */
	KMS_ERR_NOT_FOUND = -6, /* no such operator, station, device ... */
	KMS_ERR_EXISTS = -7,    /* the name is already taken */
	KMS_ERR_SCHEMA = -8,    /* the database has another schema version */
	KMS_ERR_PERM = -9,      /* a secret file is readable by others */
	KMS_ERR_AUDIT = -10,    /* the audit chain does not verify */
	KMS_ERR_TLS = -11,      /* the HTTPS server could not start */
	KMS_ERR_SEALED = -12,   /* a sealed secret does not open (wrong master key?) */
	KMS_ERR_BUSY = -13,     /* the database stayed locked (another writer) */
	KMS_ERR_TOKEN = -14,    /* a PKCS#11 token call failed (named on stderr) */
	KMS_ERR_CONF = -15,     /* kms.conf does not parse */
	KMS_ERR_LAST = -16
};
const char *kms_strerror(int err);

enum kms_api_err {
	API_BAD_REQUEST,         /* 400 malformed JSON, missing/unknown/ill-typed member */
	API_BAD_IDENTITY,        /* 400 the LPI1 identity record does not parse */
	API_BAD_RECEIPT,         /* 400 the receipt is not an LPR1 record */
	API_BAD_PROOF,           /* 400 the proof is not an LPP1 record */
	API_BAD_ENROLMENT,       /* 400 the enrolment request is not an LPE1 record */
	API_UNAUTHENTICATED,     /* 401 no or unknown session token */
	API_TOKEN_EXPIRED,       /* 401 the session expired */
	API_WRONG_STATION,       /* 401 the token belongs to another station */
	API_LOGIN_FAILED,        /* 401 wrong operator, password or TOTP code */
	API_FORBIDDEN,           /* 403 the operator's roles do not allow this call */
	API_OUT_OF_SCOPE,        /* 403 lot or JoinEUI outside the operator's scope */
	API_STATION_UNKNOWN,     /* 403 the client certificate is not a registered station */
	API_STATION_REVOKED,     /* 403 the station's certificate was revoked */
	API_OTHER_STATION,       /* 403 the attempt or challenge belongs to another station */
	API_NOT_FOUND,           /* 404 no such endpoint, device or attempt */
	API_METHOD_NOT_ALLOWED,  /* 405 */
	API_ALREADY_PROVISIONED, /* 409 the chip is provisioned; re-provision not authorised */
	API_IDENTITY_CONFLICT,   /* 409 the chip UID is known with another DIK */
	API_ATTEMPT_CLOSED,      /* 409 the attempt was superseded, abandoned or confirmed */
	API_NOT_PROVISIONED,     /* 409 challenge for a device that is not provisioned */
	API_NO_CHALLENGE,        /* 409 no open challenge with that nonce (replay) */
	API_COUNTER_EXHAUSTED,   /* 409 the chip's counter reached 2^32-1 */
	API_CHALLENGE_EXPIRED,   /* 410 */
	API_PAYLOAD_TOO_LARGE,   /* 413 */
	API_UNSUPPORTED_MEDIA,   /* 415 Content-Type is not application/json */
	API_UNTRUSTED_CHIP,      /* 422 the DIK certificate does not chain to the device CA */
	API_IDENTITY_MISMATCH,   /* 422 certificate key or serialNumber differs from the record */
	API_RECEIPT_INVALID,     /* 422 the receipt does not verify */
	API_PROOF_INVALID,       /* 422 the proof does not verify */
	API_ENROLMENT_INVALID,   /* 422 the LPE1's proof of possession does not verify */
	API_ACCOUNT_LOCKED,      /* 423 too many failed logins from this station; back off */
	API_RATE_LIMITED,        /* 429 */
	API_INTERNAL,            /* 500 */
	API_DEV_EUI_EXHAUSTED,   /* 503 the configured DevEUI block is used up */
	API_ERR_COUNT
};
unsigned kms_api_status(enum kms_api_err e);
const char *kms_api_code(enum kms_api_err e);

/* Exit codes of lpa-kms, mapped in one place (err.c). */
enum kms_exit {
	KMS_EXIT_OK = 0,
	KMS_EXIT_FAILURE = 1,
	KMS_EXIT_USAGE = 2,
	KMS_EXIT_NOT_FOUND = 3,
	KMS_EXIT_AUDIT = 4,
};
int kms_exit_for(int err);

#endif /* LPA_KMS_ERR_H */
