/*
 * The wallet store's schema version 1, as the releases before schema 2
 * created it (src/store/wallet_store.c, migration 1), for the tests that
 * open a store or a wallet directory an earlier release left (test_store,
 * test_wallet_life). Then a credential's "needs the PIN" flag was the
 * setting "credential.N.uv". Ends with the migration recorded and
 * user_version 1; the includer appends its rows.
 */
#ifndef TES_TEST_STORE_V1_H
#define TES_TEST_STORE_V1_H

#define TES_TEST_STORE_V1_SCHEMA                                                                   \
    "PRAGMA application_id = 1413829463;"                                                          \
    "CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"          \
    "CREATE TABLE credentials (id INTEGER PRIMARY KEY AUTOINCREMENT, doctype TEXT NOT NULL,"       \
    " display_name TEXT NOT NULL, issuer TEXT NOT NULL, valid_from INTEGER NOT NULL,"              \
    " valid_until INTEGER NOT NULL, single_use INTEGER NOT NULL CHECK (single_use IN (0, 1)),"     \
    " created_at INTEGER NOT NULL);"                                                               \
    "CREATE TABLE copies (id INTEGER PRIMARY KEY AUTOINCREMENT, credential_id INTEGER NOT NULL"    \
    " REFERENCES credentials(id) ON DELETE CASCADE, key_id TEXT NOT NULL, mdoc BLOB NOT NULL,"     \
    " use_count INTEGER NOT NULL DEFAULT 0 CHECK (use_count >= 0),"                                \
    " used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)));"                                    \
    "CREATE INDEX copies_by_credential ON copies(credential_id, used, use_count);"                 \
    "CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"                 \
    " relying_party TEXT NOT NULL, elements TEXT NOT NULL, credential_id INTEGER NOT NULL,"        \
    " outcome TEXT NOT NULL);"                                                                     \
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"                           \
    "INSERT INTO migrations VALUES (1, 0);"                                                        \
    "PRAGMA user_version = 1;"

#endif
