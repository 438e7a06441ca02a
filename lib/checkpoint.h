/*
 * checkpoint.h - log checkpoints as C2SP signed notes (C2SP signed-note,
 * C2SP tlog-checkpoint).
 *
 * Note text:   <origin>\n<tree size, decimal>\n<base64 root hash>\n
 * then a blank line and one signature line per signer:
 *   "— <key name> <base64(key hash[4] || signature)>\n"
 * The key name is the origin. Signature lines follow note.h:
 * Ed25519: signature type 0x01, key hash = first 4 bytes of
 *   SHA-256(key name || 0x0A || 0x01 || 32-byte public key), signature over
 *   the note text (RFC 8032).
 * ECDSA P-256: the type C2SP signed-note itself assigns to ECDSA, 0x02
 *   ("ECDSA signatures as implemented by github.com/transparency-dev/witness"):
 *   public key encoding = DER SubjectPublicKeyInfo, key hash = first 4
 *   bytes of SHA-256(DER SPKI) (no name or type byte, as that type
 *   defines), signature = DER ECDSA-Sig-Value over SHA-256(note text).
 * Generic note signing/verification (and verifier key strings) is in note.h.
 * base64 is RFC 4648 §4, through OpenSSL's EVP_EncodeBlock/DecodeBlock.
 */
#ifndef TALLY_CHECKPOINT_H
#define TALLY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "merkle.h"
#include "note.h"

#define TALLY_NOTE_MAX 8192     /* largest note accepted, bytes */
#define TALLY_ORIGIN_MAX 128

/* The origin line for an appliance: "tally.appliance/<hex of the first 8
 * bytes of key_id>" into out (TALLY_ORIGIN_MAX bytes). */
void tally_checkpoint_origin(const uint8_t key_id[32], char out[TALLY_ORIGIN_MAX]);

/* Signs a checkpoint (origin, size, root) with key; *note (NUL-terminated,
 * free()) holds the whole signed note. Errors: TALLY_ERR_INVALID (origin
 * empty, too long, or with a newline), TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
int tally_checkpoint_sign(EVP_PKEY *key, const char *origin, uint64_t size,
    const uint8_t root[TALLY_HASH_LEN], char **note);

/* Verifies a signed note (len bytes, at most TALLY_NOTE_MAX, need not be
 * NUL-terminated) against pub, whose key name must be origin, and parses
 * the checkpoint body. Signature lines by other keys are ignored; at least
 * one must be by pub and verify. Extension lines after the root are
 * allowed and ignored. On success fills *size and root.
 * Errors: TALLY_ERR_TOO_LARGE, TALLY_ERR_INVALID (not a note, control
 * characters, bad number or base64, root not 32 bytes), TALLY_ERR_MISMATCH
 * (origin differs), TALLY_ERR_SIGNATURE. */
int tally_checkpoint_verify(const char *note, size_t len, EVP_PKEY *pub,
    const char *origin, uint64_t *size, uint8_t root[TALLY_HASH_LEN]);

#endif
