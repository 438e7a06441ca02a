/*
 * verify_token.h - tally-oem verify-token: checks a token bundle file
 * exactly as a device does, with lib/devverify.h (tdv_verify_bundle) and
 * its OpenSSL back-end, for a device UID and optionally a firmware image.
 * Exit status: OEM_EXIT_OK accepted, OEM_EXIT_ANOMALY refused (the result
 * is named), OEM_EXIT_USAGE usage or file error (oem.h). docs/oem-guide.md
 * "verify-token", docs/verifier.md.
 */
#ifndef TALLY_OEM_VERIFY_TOKEN_H
#define TALLY_OEM_VERIFY_TOKEN_H

#include "oem.h"

extern const struct oem_cmd oem_cmd_verify_token;

#endif
