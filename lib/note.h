/*
 * note.h - C2SP signed notes (c2sp.org/signed-note), the envelope of
 * checkpoints (checkpoint.h) and of receipts.
 *
 * A note is its text (ending in a newline), a blank line, then signature
 * lines "— <key name> <base64(key ID[4] || signature)>\n". The whole note
 * is valid UTF-8 without control characters other than newline.
 *
 * Signature types used (signed-note "Signature types"):
 *   0x01 Ed25519: signature over the note text (RFC 8032, pure);
 *        public key = the 32 raw bytes;
 *        key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4].
 *   0x02 ECDSA "as implemented by github.com/transparency-dev/witness",
 *        here NIST P-256 only: DER ECDSA-Sig-Value over SHA-256(note text);
 *        public key = DER SubjectPublicKeyInfo;
 *        key ID = SHA-256(DER SPKI)[:4] (no name, no type byte, as the
 *        signed-note specification says for this type).
 * A verifier key string ("vkey", golang.org/x/mod/sumdb/note form) is
 *   <name>+<key ID as 8 lower-case hex digits>+<base64(type || public key)>.
 * base64 is RFC 4648 §4 (util.h).
 */
#ifndef TALLY_NOTE_H
#define TALLY_NOTE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define TALLY_NOTE_MAX 8192       /* largest note accepted, bytes */
#define TALLY_NOTE_NAME_MAX 128   /* longest key name, bytes */
#define TALLY_NOTE_MAX_SIGS 100   /* signature lines looked at per note */
#define TALLY_NOTE_SIG_ED25519 0x01
#define TALLY_NOTE_SIG_ECDSA 0x02

/* Is name a valid key name: 1..TALLY_NOTE_NAME_MAX bytes, no space, '+',
 * control character or byte >= 0x7f? 1 yes, 0 no. (The specification
 * allows non-ASCII names; tally only makes and accepts ASCII ones.) */
int tally_note_name_ok(const char *name);

/* Key ID of pub under name (see above). Errors: TALLY_ERR_KEY (neither
 * P-256 nor Ed25519), TALLY_ERR_CRYPTO. */
int tally_note_key_id(EVP_PKEY *pub, const char *name, uint32_t *id);

/* Verifier key string of pub under name into a new NUL-terminated buffer
 * (*vkey, free()). Errors: TALLY_ERR_INVALID (bad name), TALLY_ERR_KEY,
 * TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
int tally_note_vkey(EVP_PKEY *pub, const char *name, char **vkey);

/* Parses a verifier key string: name into name (TALLY_NOTE_NAME_MAX + 1
 * bytes), the public key into *pub (EVP_PKEY_free). Types 0x01 and 0x02
 * (P-256 only). The key ID in the string must equal the one computed.
 * Errors: TALLY_ERR_INVALID (syntax, base64, key ID differs),
 * TALLY_ERR_UNSUPPORTED (other type byte), TALLY_ERR_KEY (bad key). */
int tally_note_vkey_parse(const char *vkey, char name[TALLY_NOTE_NAME_MAX + 1],
    EVP_PKEY **pub);

/* One signature line of key under name over text (len bytes, the whole
 * note text including its final newline), into a new NUL-terminated
 * buffer (*line, free()), ending in a newline. Appending such lines after
 * a note's last signature line cosigns it.
 * Errors: TALLY_ERR_INVALID (bad name), TALLY_ERR_KEY, TALLY_ERR_CRYPTO,
 * TALLY_ERR_NOMEM. */
int tally_note_sign_line(EVP_PKEY *key, const char *name, const char *text,
    size_t len, char **line);

/* Signs text (NUL-terminated, non-empty, ending in a newline, no control
 * characters but newline, at most TALLY_NOTE_MAX / 2 bytes) as a note with
 * one signature; *note is NUL-terminated (free()).
 * Errors: TALLY_ERR_INVALID, TALLY_ERR_TOO_LARGE, those of sign_line. */
int tally_note_sign(EVP_PKEY *key, const char *name, const char *text, char **note);

/* Verifies note (len bytes, at most TALLY_NOTE_MAX, need not be
 * NUL-terminated) by the key pub named name. Signature lines of other
 * keys (another name or key ID) are ignored; a line of this key that does
 * not verify rejects the note; at least one must verify. On success
 * *text points at the note text inside note (its first *text_len bytes,
 * including the final newline, excluding the blank line); text and
 * text_len may be NULL.
 * Errors: TALLY_ERR_TOO_LARGE, TALLY_ERR_INVALID (not a note: no blank
 * line, bad UTF-8, control characters, bad signature line or base64, more
 * than TALLY_NOTE_MAX_SIGS lines), TALLY_ERR_KEY (pub unsupported),
 * TALLY_ERR_SIGNATURE. */
int tally_note_verify(const char *note, size_t len, const char *name,
    EVP_PKEY *pub, const char **text, size_t *text_len);

/*
 * Helpers for other signature kinds on notes (cosignature.h), additive.
 */

/* Key ID of pub under name with signature type byte type for Ed25519
 * keys: SHA-256(name || 0x0A || type || 32-byte public key)[:4] (type
 * 0x01 for note signatures, 0x04 for tlog-cosignature/v1). P-256 keys
 * ignore type and get SHA-256(DER SPKI)[:4] as for type 0x02.
 * Errors: TALLY_ERR_KEY, TALLY_ERR_CRYPTO, TALLY_ERR_NOMEM. */
int tally_note_key_id_type(EVP_PKEY *pub, const char *name, uint8_t type, uint32_t *id);

/* Checks that note (len bytes, need not be NUL-terminated) is a note:
 * at most TALLY_NOTE_MAX bytes, valid UTF-8 without control characters
 * but newline, ending in a newline, with a blank line after the text.
 * Sets *text_len to the text's length (including its final newline) and
 * *sigs to the offset of the first signature line.
 * Errors: TALLY_ERR_TOO_LARGE, TALLY_ERR_INVALID. */
int tally_note_split(const char *note, size_t len, size_t *text_len, size_t *sigs);

/* Parses the signature line starting at note[*off] (note as checked by
 * tally_note_split, *off < len) and advances *off past its newline.
 * *name / *nlen: the key name inside note; blob (max bytes) receives the
 * decoded key ID || signature, *blen its length (at least 5).
 * Errors: TALLY_ERR_INVALID (syntax, base64, blob shorter than 5 bytes or
 * longer than max). */
int tally_note_next_sig(const char *note, size_t len, size_t *off, const char **name,
    size_t *nlen, uint8_t *blob, size_t max, size_t *blen);

/* Formats "— <name> <base64(blob)>\n" into a new NUL-terminated buffer
 * (*line, free()). Errors: TALLY_ERR_INVALID (bad name), TALLY_ERR_NOMEM. */
int tally_note_format_line(const char *name, const uint8_t *blob, size_t blen, char **line);

#endif
