/*
 * tessera/lock.h — the door lock: its crash-safe store (endpoints it has
 * authenticated, with their persistent keys and grants; the revocation
 * watermark; its log) and its decisions over the access engine (access.h).
 *
 * A lock directory holds lock.json (group id, instance id, the door's room,
 * the hotel's issuer key, limits), reader_key.pem (0600: the reader group's
 * private key, which signs AUTH1) and lock.db (SQLite, the store below).
 * See docs/KEYS.md.
 */
#ifndef TESSERA_LOCK_H
#define TESSERA_LOCK_H

#include "tessera/access.h"
#include "tessera/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An endpoint the lock knows: authenticated by a standard transaction and
 * granted by a verified access document. */
typedef struct tes_lock_endpoint {
    uint8_t endpoint_key[TES_ACCESS_POINT_LEN];
    uint8_t kpersistent[32]; /* secret */
    tes_access_grant grant;
    int64_t last_used;
} tes_lock_endpoint;

/* ---- the store (declared by the lock-store helper) ---- */

#ifdef __cplusplus
}
#endif
#endif
