/*
 * cosignature.h - OEM receipts: C2SP tlog-cosignature/v1 cosignatures on
 * an appliance checkpoint (C2SP signed-note, tlog-checkpoint,
 * tlog-cosignature).
 *
 * A receipt is the appliance's signed checkpoint note with one more
 * signature line, by the OEM root key, whose key name is
 * TALLY_OEM_COSIGNER_NAME. For an Ed25519 OEM key the line is exactly
 * tlog-cosignature/v1: signature type 0x04, key hash over
 * name || 0x0A || 0x04 || 32-byte public key, signature bytes
 * timestamp (8 bytes, big-endian Unix seconds) || Ed25519 signature over
 *   "cosignature/v1\ntime <timestamp>\n" || checkpoint note text.
 * tlog-cosignature defines no P-256 form; for a P-256 OEM key tally uses
 * the same signed message and layout with a DER ECDSA signature and the
 * type and key-hash rule documented in docs/formats.md ("Receipt"):
 *   key hash  = SHA-256(DER SubjectPublicKeyInfo)[:4], the signed-note
 *               type 0x02 (ECDSA) rule that note.h already uses for P-256
 *               checkpoints (no name, no type byte);
 *   signature = timestamp (8 bytes, big-endian Unix seconds) ||
 *               DER ECDSA-Sig-Value over SHA-256(the same message
 *               "cosignature/v1\ntime <timestamp>\n" || note text).
 * The "cosignature/v1" header line keeps it apart from a plain note
 * signature by the same key. In both forms the timestamp line is the
 * decimal timestamp without leading zeros; timestamps are 0..2^63-1.
 */
#ifndef TALLY_COSIGNATURE_H
#define TALLY_COSIGNATURE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define TALLY_OEM_COSIGNER_NAME "tally.oem"

/* Appends an OEM cosignature line, made at time ts (Unix seconds), to the
 * signed checkpoint note (len bytes, at most TALLY_NOTE_MAX); *receipt
 * (NUL-terminated, free()) is the whole cosigned note: the note's bytes
 * unchanged, then the new line. The note's own signatures are not checked
 * here (the caller verified the checkpoint).
 * Errors: TALLY_ERR_INVALID (not a note, text not a checkpoint, ts < 0),
 * TALLY_ERR_TOO_LARGE (note or receipt over TALLY_NOTE_MAX),
 * TALLY_ERR_KEY (neither Ed25519 nor P-256), TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
int tally_cosign(EVP_PKEY *oem_key, const char *note, size_t len, int64_t ts,
    char **receipt);

/* Verifies a receipt: it is a note whose text is a checkpoint, carrying a
 * cosignature line by oem_pub under TALLY_OEM_COSIGNER_NAME that verifies.
 * Other signature lines (the appliance's) are not checked here. On success
 * sets *ts to the cosignature's timestamp and *text_len to the length of
 * the note text (the checkpoint body, including its final newline), which
 * starts at receipt[0]. Every cosignature line by oem_pub (name and key
 * hash match) must verify; with several, *ts is the last one's.
 * Errors: TALLY_ERR_TOO_LARGE, TALLY_ERR_INVALID (not a note, text not a
 * checkpoint, bad signature line), TALLY_ERR_SIGNATURE (no valid
 * cosignature by oem_pub, a line by it that does not verify, or oem_pub
 * neither Ed25519 nor P-256), TALLY_ERR_NOMEM. */
int tally_cosignature_verify(const char *receipt, size_t len, EVP_PKEY *oem_pub,
    int64_t *ts, size_t *text_len);

#endif
