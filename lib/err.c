/* err.c - human text for tally error codes, see err.h. */
#include "err.h"

const char *
tally_strerror(int err)
{
	switch (err) {
	case TALLY_OK:			return "success";
	case TALLY_ERR_NOMEM:		return "out of memory";
	case TALLY_ERR_INVALID:		return "malformed input";
	case TALLY_ERR_TOO_LARGE:	return "input too large";
	case TALLY_ERR_AGAIN:		return "incomplete input";
	case TALLY_ERR_SIGNATURE:	return "signature invalid";
	case TALLY_ERR_KEY:		return "unusable key";
	case TALLY_ERR_KEY_PERM:	return "key file readable by group or others";
	case TALLY_ERR_CRYPTO:		return "cryptographic operation failed";
	case TALLY_ERR_IO:		return "input/output error";
	case TALLY_ERR_NOT_FOUND:	return "not found";
	case TALLY_ERR_EXISTS:		return "already exists";
	case TALLY_ERR_EXPIRED:		return "outside validity period";
	case TALLY_ERR_MISMATCH:	return "bound to something else";
	case TALLY_ERR_STORAGE_FULL:	return "storage full";
	case TALLY_ERR_STORAGE:		return "storage error";
	case TALLY_ERR_UNSUPPORTED:	return "not supported";
	case TALLY_ERR_CLOSED:		return "connection closed by peer";
	case TALLY_ERR_TIMEOUT:		return "timed out";
	case TALLY_ERR_PERM:		return "permission denied";
	default:			return "unknown error";
	}
}
