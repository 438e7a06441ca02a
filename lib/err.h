/*
 * err.h - error codes shared by every tally module.
 *
 * Functions return 0 on success or one of these negative codes. The human
 * message is built once, where the error is reported, from tally_strerror()
 * plus context; library code does not print.
 */
#ifndef TALLY_ERR_H
#define TALLY_ERR_H

enum tally_err {
	TALLY_OK = 0,
	TALLY_ERR_NOMEM = -1,        /* allocation failed */
	TALLY_ERR_INVALID = -2,      /* malformed input: bad encoding, field out of range */
	TALLY_ERR_TOO_LARGE = -3,    /* input longer than its documented maximum */
	TALLY_ERR_AGAIN = -4,        /* incomplete input: more bytes needed */
	TALLY_ERR_SIGNATURE = -5,    /* no valid signature by the expected key */
	TALLY_ERR_KEY = -6,          /* key cannot be loaded, parsed or is of an unsupported type */
	TALLY_ERR_KEY_PERM = -7,     /* private key file readable by group or others */
	TALLY_ERR_CRYPTO = -8,       /* OpenSSL failed for another reason */
	TALLY_ERR_IO = -9,           /* read, write, open or socket error (errno kept) */
	TALLY_ERR_NOT_FOUND = -10,   /* no such record, file or key */
	TALLY_ERR_EXISTS = -11,      /* record already present */
	TALLY_ERR_EXPIRED = -12,     /* outside a validity window */
	TALLY_ERR_MISMATCH = -13,    /* well-formed but bound to something else (UID, key ID, digest, type) */
	TALLY_ERR_STORAGE_FULL = -14,/* LMDB map full or file system full */
	TALLY_ERR_STORAGE = -15,     /* other LMDB error, or a corrupted store */
	TALLY_ERR_UNSUPPORTED = -16, /* algorithm or version not supported */
	TALLY_ERR_CLOSED = -17,      /* peer closed the connection */
	TALLY_ERR_TIMEOUT = -18,     /* operation timed out */
	TALLY_ERR_PERM = -19,        /* permission denied (e.g. control socket peer) */
};

/* Returns a static, lower-case description of err (e.g. "signature invalid").
 * Never NULL; unknown codes give "unknown error". */
const char *tally_strerror(int err);

#endif
