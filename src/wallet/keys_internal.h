/*
 * Private to src/wallet/: what the door-key files share (keys.c: request, add,
 * revocations, listing; keys_tap.c: the keyring and the tap).
 */
#ifndef TES_WALLET_KEYS_INTERNAL_H
#define TES_WALLET_KEYS_INTERNAL_H

#include "tessera/access.h"
#include "tessera/store.h"
#include "tessera/wallet.h"

/* A P-256 public key from an uncompressed point p; TES_ERR_ACCESS_DOC_FORMAT
 * ("the key package's <what> is not ...") when it is not one. */
tes_err keys_point_key(const uint8_t p[TES_ACCESS_POINT_LEN], const char *what, tes_key **out);
/* The grant's rooms as "101, 102" (cut at cap). */
void keys_rooms_join(const tes_access_grant *g, char *out, size_t cap);
/* The holder's view of a stored key (revoked: the group's revocation held lists it). */
void keys_info_from_row(tes_wallet *w, const tes_store_access_key *k, tes_wallet_key_info *out);

#endif
