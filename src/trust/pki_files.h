/*
 * trust/pki_files.h — private to libtessera: the files of a certificate
 * authority's directory (a reader authority here, the issuing authority in
 * issuer/authority.c): preparing the directory, writing keys and certificates.
 */
#ifndef TESSERA_TRUST_PKI_FILES_H
#define TESSERA_TRUST_PKI_FILES_H

#include "tessera/crypto.h"

#define TES_PKI_DAY 86400LL
#define TES_PKI_SKEW 3600LL /* not_before = now - 1 hour (clock skew) */

/* "dir/file" into out; false when it does not fit (error set, TES_ERR_ARG). */
bool tes_pki_path(char *out, size_t cap, const char *dir, const char *file);
/* Makes dir with tes_dir_secret; an existing directory must hold none of
 * files[0..n) unless force (TES_ERR_EXISTS, "'dir' already holds what (file
 * exists); refusing to overwrite obj"). */
tes_err tes_pki_prepare_dir(const char *dir, const char *what, const char *obj,
                            const char *const *files, size_t n, bool force);
/* Writes the private key as PKCS#8 PEM, mode 0600, from a secret buffer. */
tes_err tes_pki_write_key(const char *dir, const char *file, const tes_key *k);
/* Writes the certificate as PEM, mode 0644. */
tes_err tes_pki_write_cert(const char *dir, const char *file, const tes_cert *c);
/* Two upper-case ASCII letters. */
bool tes_pki_country_ok(const char *cc);

#endif
