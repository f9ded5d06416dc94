/*
 * bench/floor.h — the references the benchmark compares against, computed
 * with OpenSSL directly (the cheapest path it offers) over exactly the bytes
 * of the benchmark's responses and credentials:
 *
 *  floor_sig   SHA-256 of the issuer's Sig_structure + ECDSA_do_verify with the
 *              document signer's EC_KEY imported once (cached, as a verifier
 *              caches chains), then the holder's device key imported from its
 *              affine coordinates into an EC_KEY (per verification: every holder
 *              differs) + SHA-256 of the device Sig_structure + ECDSA_do_verify.
 *  floor_sig_items  floor_sig + SHA-256 over each disclosed IssuerSignedItemBytes
 *              (the digest checks: all the cryptography a verification needs).
 *  floor_cold  floor_sig + the document signer certificate's signature checked
 *              with the IACA's EC_KEY (SHA-256 of the TBSCertificate,
 *              d2i_ECDSA_SIG, ECDSA_do_verify). Certificate parsing is not part
 *              of it.
 *  floor_mac   the issuer half of floor_sig + device key import + ECDH with the
 *              reader's ephemeral key + SHA-256(SessionTranscriptBytes) + HKDF
 *              (two HMAC-SHA-256) + HMAC-SHA-256 over the MAC_structure.
 *  floor_issue SHA-256 over each IssuerSignedItemBytes and over the MSO's
 *              Sig_structure + ECDSA_do_sign with the DS EC_KEY.
 *
 * The Sig_/MAC_structures are built once at setup (a verifier could hash them
 * without building them); every result is checked once at setup so the floor
 * provably does the same cryptographic work as the real check.
 */
#ifndef TESSERA_BENCH_FLOOR_H
#define TESSERA_BENCH_FLOOR_H

#include "fixture.h"

typedef struct floor_pool floor_pool;

/* Extracts what the floor needs from every response of w (signature or MAC
 * world). Exits on any inconsistency. */
floor_pool *floor_prepare(const bench_world *w);
void floor_free(floor_pool *f);
void floor_sig(floor_pool *f, size_t i);
void floor_sig_items(floor_pool *f, size_t i);
void floor_cold(floor_pool *f, size_t i);
void floor_mac(floor_pool *f, size_t i);

typedef struct floor_issue floor_issue;
/* From one credential issued by a (its items and MSO as issued). */
floor_issue *floor_issue_prepare(const bench_authority *a, tes_bytes mdoc);
void floor_issue_free(floor_issue *f);
void floor_issue_run(floor_issue *f);
/* How many SHA-256 it hashes (items + the MSO's Sig_structure). */
size_t floor_issue_hashes(const floor_issue *f);

/* Row 8 (login.h): the JWE half of an OpenID4VP login's floor, for one
 * compact JWE (ECDH-ES + A256GCM, no apu/apv) to recipient (private half
 * given): ECDH with the ephemeral key, the Concat KDF's one SHA-256 and
 * AES-256-GCM decryption with its tag check. prepare checks that it
 * decrypts (exits otherwise); run returns false when it does not. */
typedef struct floor_login floor_login;
floor_login *floor_login_prepare(const tes_key *recipient, tes_bytes jwe);
bool floor_login_run(floor_login *f);
void floor_login_free(floor_login *f);

/* "OpenSSL 3.0.x ..." of the library actually linked. */
const char *floor_openssl_version(void);

#endif
