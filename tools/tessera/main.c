/*
 * tessera — command-line tool of the Tessera mdoc wallet library.
 *
 * main() only dispatches; each subcommand lives in its own cmd_*.c file and
 * parses its own options with getopt_long. See docs/tessera.1.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct cli_cmd {
    const char *name;
    cli_cmd_fn fn;
    const char *summary;
    const char *usage; /* full help text of the command */
} cli_cmd;

static int cmd_help(int argc, char **argv);

static const char USAGE_AUTHORITY[] =
    "usage: tessera authority init --dir DIR [--country CC] [--name NAME] [--url URL] [--force]\n"
    "                              [--ds-hsm pkcs11:MODULE_PATH[:TOKEN_LABEL] [--pin-fd N]]\n"
    "       tessera authority serve --dir DIR [--db URL] [--listen HOST:PORT] [--public-url URL]\n"
    "                               [--vendor-root PEM] [--require-uv] [--batch-max N]\n"
    "                               [--valid-days N] [--status-ttl SEC] [--port-file FILE]\n"
    "                               [--hsm-pin-fd N] [--credentials-per-offer N]\n"
    "                               [--credentials-per-person N] [--budget-period SEC]\n"
    "                               [--nonce-rate N] [--max-connections N]\n"
    "                               [--max-connections-per-address N] [--request-deadline SEC]\n"
    "                               [--idle-timeout SEC] [--max-body BYTES] [--rate-limit N]\n"
    "       tessera authority enrol --dir DIR --claims PERSON.json [--doctype T] [--db URL]\n"
    "                               [--public-url URL] [--operator NAME] [--json]\n"
    "                               [--qr-png FILE]\n"
    "       tessera authority revoke|suspend|reinstate --dir DIR [--db URL]\n"
    "                               (--credential ID | --person ID | --device HEX [--person ID])\n"
    "                               [--operator NAME]\n"
    "\n"
    "The issuing authority: its root and document signer (init), its OpenID4VCI service\n"
    "(serve; also the 'tessera-issuerd' program), the counter where a citizen is enrolled\n"
    "after identity proofing (enrol), and the operator's status changes (revoke, suspend,\n"
    "reinstate), all on the authority's registry (DIR/registry.db, or --db\n"
    "postgresql://...).\n"
    "\n"
    "See 'tessera help authority SUBCOMMAND'.\n"
    "exit status: 0 done; 1 the operation failed on its input (claims do not fit, no such\n"
    "             credential, a revoked credential cannot be reinstated, ...); 2 usage\n"
    "             error, not an authority, I/O or registry failure\n"
    "\n"
    "example (the lost-phone story):\n"
    "  tessera authority init --dir ministry\n"
    "  tessera authority serve --dir ministry --listen 127.0.0.1:8080 \\\n"
    "      --vendor-root chipmaker/vendor.pem --require-uv &\n"
    "  tessera authority enrol --dir ministry --claims person.json   # offer + code\n"
    "  tessera wallet enrol --wallet phone --offer-file offer.txt --batch 3  # PIN, code\n"
    "  tessera wallet report-lost --issuer http://127.0.0.1:8080 \\\n"
    "      --recovery-code ABCD-EFGH-JKLM-NPQR --device HEX         # phone lost (any machine)\n"
    "  tessera authority suspend --dir ministry --device HEX         # or at the counter\n"
    "  tessera authority reinstate --dir ministry --device HEX       # phone found\n";

static const char USAGE_AUTHORITY_SERVE[] =
    "usage: tessera authority serve --dir DIR [--db URL] [--listen HOST:PORT]\n"
    "                               [--public-url URL] [--vendor-root PEM] [--require-uv]\n"
    "                               [--batch-max N] [--valid-days N] [--status-ttl SEC]\n"
    "                               [--port-file FILE] [--hsm-pin-fd N]\n"
    "                               [--credentials-per-offer N] [--credentials-per-person N]\n"
    "                               [--budget-period SEC] [--nonce-rate N]\n"
    "       tessera-issuerd (the same options)\n"
    "\n"
    "Runs the authority's OpenID4VCI 1.0 issuer (mso_mdoc, pre-authorized code with a\n"
    "transaction code, nonce endpoint, proofs of possession with the secure element's key\n"
    "attestation, batch issuance) and publishes its Token Status Lists, until SIGINT or\n"
    "SIGTERM (then it stops cleanly). Endpoints: /.well-known/openid-credential-issuer,\n"
    "/.well-known/oauth-authorization-server, /token, /nonce, /credential,\n"
    "/status/N (list 1, 2, ...: a new one when one is full), and /lost (the holder reports a lost phone with the recovery code;\n"
    "'tessera wallet report-lost'). Prints \"serving OpenID4VCI at URL\" once it listens, and "
    "records\n"
    "URL in DIR/issuer_url (where 'authority enrol' points its offers).\n"
    "\n"
    "The status lists are built from the registry: a revoke, suspend or reinstate is in\n"
    "the next list served. Verifiers cache a list for its ttl (--status-ttl).\n"
    "\n"
    "options:\n"
    "  --dir DIR           the authority (made by 'tessera authority init'): ds.pem and\n"
    "                      ds_key.pem (or the token key named by ds_key.hsm) sign\n"
    "                      credentials and status lists\n"
    "  --db URL            the registry: a file path, sqlite:PATH or postgresql://...\n"
    "                      (default DIR/registry.db)\n"
    "  --listen HOST:PORT  where to listen (default 127.0.0.1:8080; port 0 picks a free one)\n"
    "  --public-url URL    the credential_issuer URL wallets reach (default http://HOST:PORT\n"
    "                      with the port bound; set it behind a TLS proxy)\n"
    "  --vendor-root PEM   secure-element vendor roots: proofs must carry a key attestation\n"
    "                      that chains to one of them (without: attestation not required,\n"
    "                      for development only)\n"
    "  --require-uv        refuse keys not attested as needing the holder's PIN\n"
    "  --batch-max N       most copies per credential request (default 10)\n"
    "  --valid-days N      validity of issued credentials (default 365)\n"
    "  --status-ttl SEC    how long verifiers may cache a status list before fetching it\n"
    "                      again (default 3600)\n"
    "  --status-cache SEC  how long the service reuses a signed list (default 5; 0: rebuild\n"
    "                      it on every request)\n"
    "  --port-file FILE    write the bound port to FILE once listening (for scripts)\n"
    "  --hsm-pin-fd N      the PIN of the PKCS#11 token holding the document signer key\n"
    "                      (authority init --ds-hsm): one line from file descriptor N.\n"
    "                      Without it the PIN comes from the environment variable\n"
    "                      TESSERA_HSM_PIN (for a service under a supervisor). It is\n"
    "                      checked at start (a wrong PIN: exit 1, one of Tessera's 5\n"
    "                      tries for the token spent) and never written anywhere.\n"
    "  --credentials-per-offer N  most credentials one offer obtains in all (default 3 x\n"
    "                      --batch-max; 0: no limit); kept in the registry\n"
    "  --credentials-per-person N  most credentials one person obtains within\n"
    "                      --budget-period (default 10 x --batch-max; 0: no limit)\n"
    "  --budget-period SEC the window of the person's budget (default 86400)\n"
    "  --nonce-rate N      most /nonce requests per client address a minute (default 600;\n"
    "                      0: no limit). See docs/SERVICE-LIMITS.md.\n"
    "\n"
    "defences against hostile clients (docs/SERVICE-LIMITS.md):\n"
    "  --max-connections N  open connections in all (default 256)\n"
    "  --max-connections-per-address N\n"
    "                      open connections from one client address (default 16); more\n"
    "                      are closed at once\n"
    "  --request-deadline SEC\n"
    "                      a request's headers and body must arrive within SEC seconds of\n"
    "                      the connection (or the previous answer), however steadily they\n"
    "                      trickle; then the connection is closed (default 10)\n"
    "  --idle-timeout SEC  close a connection silent for SEC seconds (default 30)\n"
    "  --max-body BYTES    largest request body (default 65536; larger: 413)\n"
    "  --rate-limit N      token and /lost failures per client address, requests per\n"
    "                      pre-authorized code and per access token, each a minute\n"
    "                      (default 60; more: 429)\n"
    "Refused requests, connections cut at the deadline, and the cause of every server\n"
    "error are logged on stderr, one line each.\n"
    "\n"
    "exit status: 0 stopped by a signal; 1 the document signer does not load (wrong or\n"
    "             locked token PIN, key not in the token, key and ds.pem differ); 2 usage\n"
    "             error, not an authority, cannot listen, or the registry cannot be opened\n"
    "\n"
    "example:\n"
    "  tessera authority serve --dir ministry --listen 127.0.0.1:0 --port-file port \\\n"
    "      --vendor-root chipmaker/vendor.pem --require-uv\n";

static const char USAGE_AUTHORITY_ENROL[] =
    "usage: tessera authority enrol --dir DIR --claims PERSON.json [--doctype T] [--db URL]\n"
    "                               [--public-url URL] [--operator NAME] [--json]\n"
    "                               [--qr-png FILE]\n"
    "\n"
    "At the counter, after identity proofing: records the person's claims in the registry\n"
    "and makes a credential offer (OpenID4VCI pre-authorized code). Prints the\n"
    "openid-credential-offer:// URI, its QR code (for the citizen's wallet), the one-time\n"
    "transaction code to tell the citizen (never sent with the offer), the person id\n"
    "(for 'authority suspend --person') and the person's recovery code for a lost phone\n"
    "(ABCD-EFGH-JKLM-NPQR, shown only now: for the citizen to keep on paper; with it\n"
    "'tessera wallet report-lost' suspends the eID from any machine; a new enrolment of\n"
    "the person replaces it). The offer works once, expires after 10 minutes, and dies\n"
    "after 5 wrong transaction codes. The service need not run meanwhile.\n"
    "\n"
    "options:\n"
    "  --dir DIR            the authority\n"
    "  --claims FILE        {\"namespace\": {\"element\": value}} as for 'tessera issue';\n"
    "                       {\"file\": \"path\"} values (relative to FILE) are read now\n"
    "  --doctype T          default eu.europa.ec.eudi.pid.1\n"
    "  --db URL             the registry (default DIR/registry.db)\n"
    "  --public-url URL     the service's URL (default: the one 'authority serve' recorded\n"
    "                       in DIR/issuer_url)\n"
    "  --operator NAME      who enrols, for the audit log (default $USER)\n"
    "  --json               {\"person\", \"doctype\", \"offer\", \"tx_code\", \"recovery_code\",\n"
    "                        \"credential_issuer\"} instead of the text and the QR code\n"
    "  --qr-png FILE        also write the offer's QR code as a PNG image\n"
    "\n"
    "exit status: 0 enrolled; 1 the claims do not fit the doctype; 2 usage error,\n"
    "             unreadable claims, not an authority, registry failure\n"
    "\n"
    "example:\n"
    "  tessera authority enrol --dir ministry --claims erika.json\n";

static const char USAGE_AUTHORITY_STATUS[] =
    "usage: tessera authority revoke|suspend|reinstate --dir DIR [--db URL]\n"
    "                               (--credential ID | --person ID | --device HEX [--person ID])\n"
    "                               [--operator NAME]\n"
    "\n"
    "Changes the status of one issued credential (--credential: the registry's credential\n"
    "id), of every credential of a person (--person), or of every credential bound to one\n"
    "phone (--device: the phone was lost or found; with --person only that person's), in\n"
    "one audited transaction on the registry; prints how many credentials changed.\n"
    "Suspended credentials can be reinstated; revoked is final (revoked ones are skipped).\n"
    "\n"
    "The running service builds its status lists from the registry, so the change is in\n"
    "the next list it serves; a verifier sees it when it fetches the list again, at the\n"
    "latest after the list's ttl ('authority serve --status-ttl', default 3600 s) unless\n"
    "it refreshes sooner.\n"
    "\n"
    "options:\n"
    "  --dir DIR          the authority\n"
    "  --db URL           the registry (default DIR/registry.db)\n"
    "  --credential ID    one credential (one copy of a batch)\n"
    "  --person ID        every credential of the person (as printed by 'authority enrol')\n"
    "  --device HEX       every credential on the phone with this device id (64 hex\n"
    "                     digits: SHA-256 of its secure element's attestation certificate,\n"
    "                     printed by 'tessera wallet enrol' and 'tessera wallet device-id';\n"
    "                     for keys issued without attestation, the key's thumbprint)\n"
    "  --operator NAME    who acts, for the audit log (default $USER)\n"
    "\n"
    "exit status: 0 done; 1 no such credential or person, no credential on that device,\n"
    "             or reinstating a revoked credential; 2 usage error or registry failure\n"
    "\n"
    "example:\n"
    "  tessera authority suspend --dir ministry --person 7 --operator \"desk 3\"\n"
    "  tessera authority reinstate --dir ministry --device 5f0c...e1 # the phone was found\n";

static const char USAGE_AUTHORITY_INIT[] =
    "usage: tessera authority init --dir DIR [--country CC] [--name NAME] [--url URL] [--force]\n"
    "                              [--ds-hsm pkcs11:MODULE_PATH[:TOKEN_LABEL] [--pin-fd N]]\n"
    "\n"
    "Creates an issuing authority: a new directory DIR (mode 0700) holding\n"
    "  iaca.pem      IACA root certificate \"<NAME> IACA\", C=CC, CA with pathLen 0,\n"
    "                keyCertSign+cRLSign, issuerAltName URL; valid 10 years\n"
    "  iaca_key.pem  its private key (P-256, PKCS#8, mode 0600)\n"
    "  ds.pem        document signer certificate \"<NAME> Document Signer\", C=CC,\n"
    "                digitalSignature, EKU 1.0.18013.5.1.2 (mdlDS), CRL URL/crl/iaca.crl;\n"
    "                valid 3 years\n"
    "  ds_key.pem    its private key (P-256, PKCS#8, mode 0600)\n"
    "With --ds-hsm the document signer key pair is generated inside a PKCS#11 token\n"
    "(sensitive, not extractable) and DIR holds instead of ds_key.pem\n"
    "  ds_key.hsm    {\"se\": \"pkcs11:...\", \"key_id\": \"...\"}: which token and key (no "
    "secret)\n"
    "  hsm-state/    Tessera's PIN retry counter for the token (5 tries)\n"
    "The IACA key stays a file by design: it signs rarely and belongs offline.\n"
    "Both certificates start at midnight UTC of the day an hour ago: in the past, for\n"
    "clock skew, and on the day boundary the service rounds credentials' signing time to.\n"
    "\n"
    "options:\n"
    "  --dir DIR       where to create the authority (required)\n"
    "  --country CC    two-letter country code (default UT)\n"
    "  --name NAME     authority name used in the certificates (default Utopia)\n"
    "  --url URL       issuerAltName / CRL base URL (default https://iaca.<cc>.example)\n"
    "  --force         replace an existing authority in DIR (its keys are lost)\n"
    "  --ds-hsm pkcs11:MODULE_PATH[:TOKEN_LABEL]\n"
    "                  generate the document signer key in this PKCS#11 token (e.g.\n"
    "                  /usr/lib/softhsm/libsofthsm2.so; without a label: the first\n"
    "                  initialised token). Logs in with the token's user PIN; the first\n"
    "                  time Tessera meets the token it also asks for the token's SO PIN\n"
    "                  once (it unblocks Tessera's PIN counter). Neither is stored: give\n"
    "                  the PIN to 'tessera issue' and 'tessera authority serve' with\n"
    "                  --hsm-pin-fd N or the environment variable TESSERA_HSM_PIN.\n"
    "  --pin-fd N      read the token PIN, then (first time only) the SO PIN, one per line\n"
    "                  from file descriptor N instead of the terminal\n"
    "\n"
    "exit status: 0 created; 1 wrong token PIN or SO PIN; 2 usage error, DIR already\n"
    "             holds an authority, the token cannot be used, or I/O error\n"
    "\n"
    "example:\n"
    "  tessera authority init --dir ministry --country UT --name \"Utopia Ministry of Interior\"\n"
    "  tessera authority init --dir ministry --ds-hsm pkcs11:/usr/lib/softhsm/libsofthsm2.so:ds\n";

static const char USAGE_ISSUE[] =
    "usage: tessera issue --authority DIR --doctype DOCTYPE --claims CLAIMS.json\n"
    "                     (--device-key PUB.pem | --wallet D --key ID) --out MDOC.cbor\n"
    "                     [--valid-days N] [--decoys N] [--doctype-table TABLE.json]\n"
    "                     [--hsm-pin-fd N]\n"
    "\n"
    "Issues one mdoc (ISO/IEC 18013-5 IssuerSigned with a signed MSO), signed by the\n"
    "document signer of DIR (ds.pem with ds_key.pem, or with the PKCS#11 token key that\n"
    "ds_key.hsm names) and bound to the holder's device key.\n"
    "MDOC.cbor is the stored credential {\"docType\": ..., \"issuerSigned\": ...} (mode 0644).\n"
    "\n"
    "options:\n"
    "  --authority DIR         directory made by 'tessera authority init'\n"
    "  --doctype DOCTYPE       org.iso.18013.5.1.mDL, eu.europa.ec.eudi.pid.1, or one\n"
    "                          added with --doctype-table\n"
    "  --claims CLAIMS.json    {\"namespace\": {\"element\": value, ...}, ...}; dates as\n"
    "                          \"YYYY-MM-DD\", byte strings as base64url text or\n"
    "                          {\"file\": \"path\"} (relative to the claims file)\n"
    "  --device-key PUB.pem    the holder's device public key (PEM or DER; a private key\n"
    "                          file also works, only its public half is used)\n"
    "  --wallet D --key ID     instead of --device-key: the public key of key ID in the\n"
    "                          secure element of wallet D (see 'tessera wallet keygen')\n"
    "  --valid-days N          validity from now (default 365)\n"
    "  --decoys N              decoy digests per namespace (default 2)\n"
    "  --attestation FILE      the device key's attestation chain (from 'tessera wallet keygen\n"
    "                          --attest'); checked before anything is issued\n"
    "  --vendor-root PEM       secure-element vendor roots the issuer accepts (with\n"
    "                          --attestation; several certificates in one PEM allowed)\n"
    "  --challenge HEX         the challenge the attestation must carry\n"
    "  --require-uv            refuse keys whose attestation does not say they need the PIN\n"
    "  --doctype-table FILE    registers a doctype first: {\"docType\", \"namespace\",\n"
    "                          \"elements\": [{\"name\", \"type\", \"mandatory\"}]}\n"
    "  --out MDOC.cbor         where to write the credential\n"
    "  --hsm-pin-fd N          the token PIN when the document signer key is in a PKCS#11\n"
    "                          token (ds_key.hsm): one line from file descriptor N; without\n"
    "                          it, the environment variable TESSERA_HSM_PIN\n"
    "\n"
    "A summary line \"issued <doctype> with N elements to <out>\" goes to stderr.\n"
    "exit status: 0 issued; 1 the claims do not fit the doctype or issuing failed;\n"
    "             2 usage error or unreadable input\n"
    "\n"
    "example:\n"
    "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
    "      --claims pid.json --device-key device_pub.pem --out pid.mdoc\n";

static const char USAGE_PRESENT[] =
    "usage: tessera present (--mdoc MDOC.cbor --device-key KEY.pem |\n"
    "                        --wallet D --credential ID [--pin-fd N])\n"
    "                       (--request REQUEST.cbor | --elements NS/NAME,...)\n"
    "                       --transcript ST.cbor [--mac --reader-pub READER.pem]\n"
    "                       --out RESPONSE.cbor\n"
    "\n"
    "Builds a DeviceResponse disclosing the requested elements the credential holds,\n"
    "authenticated with the device key: by signature (default) or, with --mac, by a MAC\n"
    "keyed from ECDH between the device key and the reader's ephemeral key.\n"
    "\n"
    "options:\n"
    "  --mdoc MDOC.cbor          credential made by 'tessera issue'\n"
    "  --device-key KEY.pem      the device PRIVATE key the credential is bound to\n"
    "  --wallet D                instead of --mdoc and --device-key: present from wallet D;\n"
    "  --credential ID           a copy of credential ID ('tessera wallet list') is taken\n"
    "                            (single-use copies are never shown twice) and the device\n"
    "                            key in the secure element signs; the presentation goes into\n"
    "                            the wallet's log (relying party \"unknown reader\")\n"
    "  --pin-fd N                read the PIN as one line from file descriptor N instead of\n"
    "                            the terminal; it is asked when the key needs user\n"
    "                            verification (checked before a copy is spent), and on a\n"
    "                            PKCS#11 token for every key (its session needs a login)\n"
    "  --request REQUEST.cbor    a DeviceRequest: the first DocRequest for the mdoc's\n"
    "                            docType is answered (its reader authentication is NOT\n"
    "                            checked by this command)\n"
    "  --elements LIST           comma-separated NAMESPACE/ELEMENT; a bare ELEMENT means\n"
    "                            the doctype's own namespace\n"
    "  --transcript ST.cbor      SessionTranscript, plain or tag-24 wrapped (binary or hex)\n"
    "  --mac                     device MAC instead of a device signature (with --wallet only\n"
    "                            when the secure element may release the ECDH result)\n"
    "  --reader-pub READER.pem   the reader's ephemeral public key (with --mac)\n"
    "  --out RESPONSE.cbor       where to write the DeviceResponse\n"
    "\n"
    "stderr tells how many elements were disclosed and which requested ones the\n"
    "credential does not hold (they are left out, not an error).\n"
    "exit status: 0 written; 1 the library refused (also: wrong PIN, locked PIN, every\n"
    "             single-use copy spent); 2 usage error or unreadable input\n"
    "\n"
    "examples:\n"
    "  tessera present --mdoc pid.mdoc --device-key device_key.pem \\\n"
    "      --elements family_name,given_name,age_over_18 --transcript st.cbor --out resp.cbor\n"
    "  tessera present --wallet phone --credential 1 --pin-fd 3 \\\n"
    "      --elements family_name,age_over_18 --transcript st.cbor --out resp.cbor\n";

static const char USAGE_VERIFY[] =
    "usage: tessera verify --trust ROOT.pem[,ROOT2.pem...] --transcript ST.cbor\n"
    "                      [--reader-key EREADER.pem] [--at TIME] [--json]\n"
    "                      [--status online|cached|off] [--status-cache DIR]\n"
    "                      [--status-max-age SEC] [--status-max-ttl SEC] RESPONSE.cbor\n"
    "\n"
    "Verifies a DeviceResponse as a reader does: the document signer chains to one of\n"
    "the trusted IACA roots, the issuer signature, the MSO validity at TIME, every\n"
    "disclosed element's digest, and the device signature or MAC over the transcript.\n"
    "With --status, then the status of every document that carries a status reference\n"
    "(IETF Token Status List, signed by the credential's own issuer: a document signer\n"
    "of the same IACA): valid, REVOKED or SUSPENDED (the response is then invalid), or\n"
    "undetermined (list unreachable, not verifiable, not the issuer's, older than the\n"
    "cached one or too old: a warning, never reported as valid nor as revoked).\n"
    "\n"
    "options:\n"
    "  --trust FILES        IACA root certificates (PEM, every certificate of each file;\n"
    "                       or DER); comma-separated, option may be repeated\n"
    "  --transcript ST.cbor SessionTranscript, plain or tag-24 wrapped (binary or hex)\n"
    "  --reader-key KEY.pem the reader's ephemeral PRIVATE key; needed when the response\n"
    "                       is authenticated by device MAC\n"
    "  --at TIME            evaluation time, RFC 3339 (default: now),\n"
    "                       e.g. 2021-01-01T00:00:00Z\n"
    "  --json               machine-readable output:\n"
    "                       {\"valid\", \"error\": null|{\"code\",\"message\"}, \"documents\": [\n"
    "                        {\"docType\", \"issuer\", \"signed\", \"validFrom\", \"validUntil\",\n"
    "                         \"deviceAuth\": \"signature\"|\"mac\", \"status\": "
    "null|{\"idx\",\"uri\"[,\n"
    "                         \"value\": \"valid\"|\"revoked\"|\"suspended\"|\"undetermined\",\n"
    "                         \"detail\", \"reason\", \"fetched\"]}, \"elements\": {NAMESPACE:\n"
    "                         {ELEMENT: value}}}]}; a revoked or suspended document is\n"
    "                       listed, with \"valid\": false and the error credential_revoked\n"
    "                       or credential_suspended\n"
    "  --status MODE        off (default): not checked; online: fetch the list when the\n"
    "                       cached one is older than its ttl (if the fetch fails, a cached\n"
    "                       list younger than --status-max-age is used); cached: never\n"
    "                       fetch, use a cached list younger than --status-max-age\n"
    "  --status-cache DIR   where fetched lists are kept (default\n"
    "                       $XDG_CACHE_HOME/tessera/status or ~/.cache/tessera/status)\n"
    "  --status-max-age SEC the oldest cached list accepted (default 86400)\n"
    "  --status-max-ttl SEC the longest ttl of a list honoured (default 86400)\n"
    "Fetches time out after 5 s; the status is checked at the current time (not --at).\n"
    "\n"
    "Output: \"VALID\" and the disclosed data (with each document's status), or\n"
    "\"INVALID: <code>: <reason>\" (credential_revoked / credential_suspended: the data is\n"
    "not shown). An undetermined status adds a WARNING on standard error.\n"
    "exit status: 0 valid (also with an undetermined status); 1 invalid, revoked or\n"
    "             suspended; 2 usage error or unreadable input (missing file, unreadable\n"
    "             key or root, bad --at, unusable status cache)\n"
    "\n"
    "example:\n"
    "  tessera verify --trust ministry/iaca.pem --transcript st.cbor --json resp.cbor\n"
    "  tessera verify --trust ministry/iaca.pem --transcript st.cbor --status online resp.cbor\n";

static const char USAGE_INSPECT[] =
    "usage: tessera inspect FILE\n"
    "\n"
    "Prints FILE as CBOR diagnostic notation (RFC 8949 section 8), with embedded CBOR\n"
    "(tag 24) unwrapped as 24(<< ... >>). FILE may be binary CBOR or hex text; '-'\n"
    "reads standard input.\n"
    "\n"
    "exit status: 0 printed; 1 not well-formed CBOR; 2 usage error or unreadable file\n"
    "\n"
    "example:\n"
    "  tessera inspect resp.cbor\n";

static const char USAGE_WALLET[] =
    "usage: tessera wallet init --dir D [--se soft | --se pkcs11:MODULE_PATH[:TOKEN_LABEL]]\n"
    "                           [--vendor VENDOR_DIR]\n"
    "       tessera wallet pin set|change|unblock|status --wallet D [--pin-fd N]\n"
    "       tessera wallet keygen --wallet D [--uv] [--single-use] [--out PUB.pem]\n"
    "                             [--attest --attestation-out FILE [--challenge HEX]]\n"
    "       tessera wallet add --wallet D --mdoc FILE [--mdoc FILE...] [--name DISPLAY]\n"
    "       tessera wallet enrol --wallet D [--offer-file F | --offer-fd N] [--pin-fd N]\n"
    "                            [--tx-code-fd N] [--batch N] [--name DISPLAY]\n"
    "       tessera wallet device-id --wallet D\n"
    "       tessera wallet report-lost --issuer URL [--recovery-code-fd N] [--device HEX]\n"
    "       tessera wallet list --wallet D [--json]\n"
    "       tessera wallet log --wallet D [--json]\n"
    "       tessera wallet present --wallet D (--qr --tcp HOST:PORT | --nfc) [--policy FILE]\n"
    "       tessera wallet trust-reader --wallet D [--root READER_CA.pem]\n"
    "\n"
    "The holder's wallet: credentials in a store (D/wallet.db), their device keys in a\n"
    "secure element that never lets them out (the software secure element in D/se/, or a\n"
    "PKCS#11 token). At a front desk: 'tessera wallet present' (QR or NFC); from files:\n"
    "'tessera present --wallet D --credential ID'.\n"
    "\n"
    "PINs are never given on the command line: they are asked on the terminal (no echo)\n"
    "or, with --pin-fd N, read one per line from file descriptor N.\n"
    "\n"
    "See 'tessera wallet SUBCOMMAND --help'.\n"
    "exit status: 0 done; 1 the operation failed (wrong PIN or PUK, locked PIN, no matching\n"
    "             key, ...); 2 usage error, not a wallet, or unreadable input\n"
    "\n"
    "example (software secure element):\n"
    "  tessera vendor init --dir vendor\n"
    "  tessera wallet init --dir phone --vendor vendor\n"
    "  tessera wallet pin set --wallet phone\n"
    "  id=$(tessera wallet keygen --wallet phone --uv --out dev.pem)\n"
    "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
    "      --claims pid.json --wallet phone --key \"$id\" --out pid.mdoc\n"
    "  tessera wallet add --wallet phone --mdoc pid.mdoc --name \"My eID\"\n";

static const char USAGE_WALLET_INIT[] =
    "usage: tessera wallet init --dir D [--se soft | --se pkcs11:MODULE_PATH[:TOKEN_LABEL]]\n"
    "                           [--vendor VENDOR_DIR]\n"
    "\n"
    "Creates a wallet: the directory D (mode 0700) with\n"
    "  wallet.db  the store: credentials, their copies, the transaction log, and the\n"
    "             setting \"se\" naming the secure element\n"
    "  se/        the software secure element's sealed state and device key (--se soft),\n"
    "             or Tessera's own PIN retry counters for the token (--se pkcs11:...)\n"
    "\n"
    "options:\n"
    "  --dir D             the wallet directory (created; an existing one must hold no\n"
    "                      wallet.db)\n"
    "  --se soft           the built-in software secure element (default)\n"
    "  --se pkcs11:MODULE_PATH[:TOKEN_LABEL]\n"
    "                      a PKCS#11 token, e.g. pkcs11:/usr/lib/softhsm/libsofthsm2.so:t;\n"
    "                      without a label the first token present. The token's user\n"
    "                      PIN is the wallet PIN and its SO PIN the PUK ('wallet pin set'\n"
    "                      checks both with the token; Tessera counts the tries itself)\n"
    "  --vendor VENDOR_DIR certify the software secure element's attestation key with the\n"
    "                      vendor root made by 'tessera vendor init' (soft only)\n"
    "\n"
    "exit status: 0 created; 1 the secure element refused; 2 usage error, D already holds a\n"
    "             wallet, PKCS#11 module missing or token not found, or I/O error\n"
    "\n"
    "example:\n"
    "  tessera wallet init --dir phone --vendor vendor\n";

static const char USAGE_WALLET_PIN[] =
    "usage: tessera wallet pin set|change|unblock --wallet D [--pin-fd N]\n"
    "       tessera wallet pin status --wallet D\n"
    "\n"
    "Manages the secure element's holder PIN (4..16 digits) and its PUK (8..16 digits);\n"
    "on a PKCS#11 token they are the token's user and SO PIN (text, 4..63 and 8..63).\n"
    "After 5 wrong PINs in a row the PIN is locked and the keys that need it refuse to\n"
    "work until the PUK unblocks it; after 10 wrong PUKs the secure element is blocked for\n"
    "good. Every failure says how many tries are left.\n"
    "\n"
    "  set      sets the first PIN and PUK. Asks, in this order:\n"
    "             new PIN, new PIN again, new PUK, new PUK again\n"
    "  change   asks: current PIN, new PIN, new PIN again\n"
    "  unblock  asks: PUK, new PIN, new PIN again (resets the PIN tries)\n"
    "  status   prints whether a PIN is set and the PIN and PUK tries left\n"
    "\n"
    "options:\n"
    "  --wallet D    the wallet directory\n"
    "  --pin-fd N    read the answers from file descriptor N, one per line, in the order\n"
    "                above (confirmations included) instead of asking on the terminal,\n"
    "                e.g. 3< <(printf '123456\\n123456\\n12345678\\n12345678\\n')\n"
    "\n"
    "exit status: 0 done; 1 wrong PIN or PUK, PIN locked, secure element blocked; 2 usage\n"
    "             error, a PIN already set, the two entries differ, malformed PIN or PUK, no\n"
    "             terminal and no --pin-fd\n"
    "\n"
    "example:\n"
    "  tessera wallet pin change --wallet phone\n";

static const char USAGE_WALLET_KEYGEN[] =
    "usage: tessera wallet keygen --wallet D [--uv] [--single-use] [--out PUB.pem]\n"
    "                             [--attest --attestation-out FILE [--challenge HEX]]\n"
    "                             [--pin-fd N]\n"
    "\n"
    "Creates a P-256 key in the wallet's secure element. The key's id goes to standard\n"
    "output (the first line; without --out the public key PEM follows it); the private key\n"
    "never leaves the secure element.\n"
    "\n"
    "options:\n"
    "  --wallet D              the wallet directory\n"
    "  --uv                    every use of the key needs the PIN\n"
    "  --single-use            the key signs (or agrees) once, then refuses; for batches of\n"
    "                          single-use credential copies\n"
    "  --out PUB.pem           write the public key (PEM) here, for 'tessera issue'\n"
    "  --attest                also write the key's attestation: a CBOR array of DER\n"
    "                          certificates, leaf first, stating the key's protections and\n"
    "                          chaining to the secure element's vendor root\n"
    "  --attestation-out FILE  where the attestation goes (implies --attest)\n"
    "  --challenge HEX         the issuer's nonce, carried in the attestation\n"
    "  --pin-fd N              when the secure element needs the PIN to create keys (a\n"
    "                          PKCS#11 token: the session must be logged in), read it as\n"
    "                          one line from file descriptor N instead of the terminal\n"
    "\n"
    "exit status: 0 created; 1 the secure element refused; 2 usage error or I/O error\n"
    "\n"
    "example:\n"
    "  tessera wallet keygen --wallet phone --uv --attest --challenge 0011aabb \\\n"
    "      --out dev.pem --attestation-out dev.att\n";

static const char USAGE_WALLET_ADD[] =
    "usage: tessera wallet add --wallet D --mdoc FILE [--mdoc FILE...] [--name DISPLAY]\n"
    "\n"
    "Stores a credential in the wallet. Each FILE is an mdoc made by 'tessera issue' for a\n"
    "key of the wallet's secure element: the key is found by the MSO's deviceKey. Several\n"
    "FILEs are copies of one credential (same doctype and issuer), each bound to its own\n"
    "key; when those keys are single-use, every copy is shown at most once. The doctype,\n"
    "validity and issuer (document signer subject) are read from the MSO and the document\n"
    "signer certificate, whose signature over the MSO is checked (the chain is not: the\n"
    "wallet holds no trust roots). The new credential's id goes to standard output.\n"
    "\n"
    "options:\n"
    "  --wallet D        the wallet directory\n"
    "  --mdoc FILE       a credential copy (repeat for a batch, up to 256)\n"
    "  --name DISPLAY    the name shown in 'tessera wallet list' (default: PID, mDL, or\n"
    "                    the doctype)\n"
    "\n"
    "exit status: 0 added; 1 no key of the secure element matches, copies that do not\n"
    "             belong together, a damaged credential; 2 usage error or unreadable file\n"
    "\n"
    "example:\n"
    "  tessera wallet add --wallet phone --mdoc pid1.mdoc --mdoc pid2.mdoc --name \"My eID\"\n";

static const char USAGE_WALLET_LIST[] =
    "usage: tessera wallet list --wallet D [--json]\n"
    "\n"
    "Lists the wallet's credentials: id, display name, doctype, issuer, validity, whether\n"
    "presenting needs the PIN, and how many copies are left (a single-use copy once shown\n"
    "is gone; reusable copies stay).\n"
    "\n"
    "options:\n"
    "  --wallet D   the wallet directory\n"
    "  --json       [{\"id\", \"docType\", \"name\", \"issuer\", \"validFrom\", \"validUntil\",\n"
    "                \"copies\", \"copiesLeft\", \"singleUse\", \"needsPin\", \"added\"}]\n"
    "\n"
    "exit status: 0 listed; 1 the store failed; 2 usage error or not a wallet\n";

static const char USAGE_WALLET_LOG[] =
    "usage: tessera wallet log --wallet D [--json]\n"
    "\n"
    "Prints the wallet's transaction log, oldest first: when, which credential, to whom\n"
    "(the reader's or website's name from its certificate, \"unknown reader\" when it was\n"
    "not authenticated), which elements (* = the relying party announced it keeps them)\n"
    "and the outcome (\"disclosed\", \"declined\" or \"failed: <code>\").\n"
    "\n"
    "options:\n"
    "  --wallet D   the wallet directory\n"
    "  --json       [{\"id\", \"at\", \"credential\", \"relyingParty\", \"elements\":\n"
    "                [{\"namespace\", \"element\", \"intentToRetain\"}], \"outcome\"}]\n"
    "\n"
    "exit status: 0 printed; 1 the store failed; 2 usage error or not a wallet\n";

static const char USAGE_WALLET_ENROL[] =
    "usage: tessera wallet enrol --wallet D [--offer-file F | --offer-fd N] [--pin-fd N]\n"
    "                            [--tx-code-fd N] [--batch N] [--name DISPLAY] [--proof MODE]\n"
    "\n"
    "Obtains a credential from an issuing authority over OpenID4VCI 1.0: redeems the\n"
    "offer's pre-authorized code with the transaction code the citizen was told, gets a\n"
    "c_nonce, makes one key per copy in the wallet's secure element (each needs the PIN),\n"
    "attests it for the c_nonce (the issuer checks that the key lives in a chip it\n"
    "trusts), proves possession with a signature, and stores the copies it receives as\n"
    "one credential. With --batch N > 1 the copies are single-use: each presentation\n"
    "spends one, so that verifiers cannot link presentations. (The keys themselves are\n"
    "not single-use in the secure element: the proof of possession is their first\n"
    "signature; the store hands out each copy once.)\n"
    "\n"
    "The PIN is checked before the offer is redeemed (an offer works once). Neither the\n"
    "offer nor the transaction code belongs on the command line, where every user of the\n"
    "machine can read it (ps, /proc): each is read from a file descriptor, or asked on the\n"
    "terminal without echo. Order of the lines on a shared descriptor: the offer (with\n"
    "--offer-fd), the PIN, then the transaction code (from --pin-fd unless --tx-code-fd\n"
    "names another descriptor).\n"
    "\n"
    "options:\n"
    "  --wallet D         the wallet directory (its PIN must be set)\n"
    "  --offer-file F     the file holding the offer: openid-credential-offer://...\n"
    "                     (the QR code's text) on one line\n"
    "  --offer-fd N       read the offer as one line from descriptor N\n"
    "                     (without either, it is asked on the terminal)\n"
    "  --offer URI        the offer on the command line: works, with a warning (other\n"
    "                     users can read it while the command runs)\n"
    "  --pin-fd N         read the PIN (then the transaction code) one per line from N\n"
    "  --tx-code-fd N     read the transaction code as one line from descriptor N\n"
    "                     (--tx-code CODE on the command line is refused)\n"
    "  --batch N          copies to obtain, each bound to its own key (default 1; the\n"
    "                     issuer may allow up to 10)\n"
    "  --name DISPLAY     display name (default PID, mDL, or the doctype)\n"
    "  --proof MODE       how the keys are attested to the issuer:\n"
    "                     auto             key-attestation when the issuer's metadata\n"
    "                                      asks for key attestations, else x5c (default)\n"
    "                     key-attestation  OpenID4VCI 1.0: each proof's header carries a\n"
    "                                      key attestation JWT made in the secure element\n"
    "                     x5c              Tessera's own form: the attestation certificate\n"
    "                                      chain in each proof's x5c header (older Tessera\n"
    "                                      issuers)\n"
    "                     attestation      OpenID4VCI 1.0 proof type \"attestation\": one key\n"
    "                                      attestation of all the keys, no signatures\n"
    "                     A PKCS#11 secure element makes no attestations: auto sends\n"
    "                     proofs without.\n"
    "\n"
    "Prints the new credential id on standard output and, on standard error, a summary\n"
    "and the phone's device id (see 'tessera wallet device-id').\n"
    "exit status: 0 stored; 1 the issuer refused (invalid_grant: wrong, used or expired\n"
    "             offer or transaction code, with the tries left; invalid_proof: the key's\n"
    "             attestation is not accepted; ...), wrong PIN; 2 usage error, not a wallet,\n"
    "             no PIN set, the issuer cannot be reached\n"
    "\n"
    "example:\n"
    "  tessera wallet enrol --wallet phone --batch 3 --offer-file offer.txt\n"
    "      (asks for the PIN, then the transaction code)\n";

static const char USAGE_WALLET_DEVICE_ID[] =
    "usage: tessera wallet device-id --wallet D\n"
    "\n"
    "Prints the phone's device id: the hex SHA-256 of its secure element's attestation\n"
    "certificate, which every key attestation of the wallet carries (x5c[1] of the\n"
    "OpenID4VCI proofs). The issuing authority records it with every credential it\n"
    "issues to the wallet, so that all of them can be suspended at once when the phone\n"
    "is lost ('tessera wallet report-lost --device', 'tessera authority suspend\n"
    "--device'). Note it somewhere other than the phone. A key is attested to read it (a\n"
    "temporary one when the wallet has no key yet; no PIN needed).\n"
    "\n"
    "A PKCS#11 wallet makes no attestations and has no device id: the authority knows\n"
    "each key by its thumbprint; the command lists those and exits with 1.\n"
    "\n"
    "exit status: 0 printed; 1 the secure element makes no attestations or refused; 2\n"
    "             usage error or not a wallet\n"
    "\n"
    "example:\n"
    "  tessera wallet device-id --wallet phone\n";

static const char USAGE_WALLET_REPORT_LOST[] =
    "usage: tessera wallet report-lost --issuer URL [--recovery-code-fd N | --recovery-code CODE]\n"
    "                                  [--device HEX]\n"
    "\n"
    "Reports a lost phone to the issuing authority, from any machine (no wallet needed):\n"
    "POST URL/lost with the recovery code the citizen got at enrolment. The authority\n"
    "suspends every credential of the citizen bound to the phone --device names, or\n"
    "with no --device every credential of the citizen; verifiers see it when they next\n"
    "fetch the status list. Prints how many credentials were suspended. When the phone\n"
    "is found, the authority reinstates them ('tessera authority reinstate --device').\n"
    "\n"
    "options:\n"
    "  --issuer URL          the authority's service (the offer's credential_issuer)\n"
    "  --recovery-code-fd N  read the recovery code (one line) from file descriptor N\n"
    "  --recovery-code CODE  ABCD-EFGH-JKLM-NPQR (case and dashes do not matter); visible to\n"
    "                        other users of the machine (ps), so prefer the descriptor or\n"
    "                        the prompt: with neither option the code is asked for on the\n"
    "                        terminal, without echo\n"
    "  --device HEX          the lost phone's device id ('tessera wallet device-id', or as\n"
    "                        'tessera wallet enrol' printed it)\n"
    "\n"
    "exit status: 0 suspended; 1 wrong recovery code (invalid_grant), too many wrong codes,\n"
    "             none of the citizen's credentials on that device; 2 usage error, the\n"
    "             authority cannot be reached\n"
    "\n"
    "example:\n"
    "  tessera wallet report-lost --issuer https://eid.ut.example --device 5f0c...e1\n"
    "  Recovery code: (typed, not shown)\n";

static const char USAGE_VENDOR[] =
    "usage: tessera vendor init --dir V [--name NAME] [--force]\n"
    "\n"
    "Creates a secure-element vendor root, standing in for a chip maker's: the directory V\n"
    "(mode 0700) with\n"
    "  vendor.pem      the self-signed root certificate; issuers check key attestations\n"
    "                  against it\n"
    "  vendor_key.pem  its private key (mode 0600); 'tessera wallet init --vendor V' uses it\n"
    "                  to certify a software secure element's attestation key\n"
    "\n"
    "options:\n"
    "  --dir V       where to create it\n"
    "  --name NAME   the root's name (default \"Tessera Test SE Vendor\")\n"
    "  --force       replace a vendor root already in V\n"
    "\n"
    "exit status: 0 created; 2 usage error, V already holds a root, or I/O error\n"
    "\n"
    "example:\n"
    "  tessera vendor init --dir vendor --name \"Utopia Chip Works\"\n";

static const char USAGE_READER_CA[] =
    "usage: tessera reader-ca init --dir D --name NAME [--country CC] [--force]\n"
    "       tessera reader-ca issue --dir D --name READER --scope NS/ELEM,... --out DIR\n"
    "                               [--purpose TEXT] [--valid-days N | --valid-from T\n"
    "                               --valid-until T] [--country CC] [--force]\n"
    "\n"
    "The authority that licenses mdoc readers (for example the police bureau that\n"
    "authorises hotels to register guests) and the reader certificates it issues.\n"
    "\n"
    "  init    creates D (mode 0700) with\n"
    "            reader_ca.pem      root certificate CN=NAME, C=CC: CA, pathLen 0,\n"
    "                               keyCertSign+cRLSign, SKI; valid 10 years\n"
    "            reader_ca_key.pem  its private key (P-256, PKCS#8, mode 0600)\n"
    "  issue   creates DIR (mode 0700) with\n"
    "            reader.pem         reader certificate CN=READER, signed by D's root: EKU\n"
    "                               1.0.18013.5.1.6 (mdoc reader authentication),\n"
    "                               keyUsage digitalSignature, AKI, not a CA, and the\n"
    "                               granted scope (extension 1.3.6.1.4.1.59999.2.1:\n"
    "                               purpose and the elements the reader may ask for)\n"
    "            reader_key.pem     its private key (P-256, PKCS#8, mode 0600)\n"
    "\n"
    "options:\n"
    "  --dir D            the reader authority's directory\n"
    "  --name NAME        init: the authority's name; issue: the reader's name, which\n"
    "                     wallets show the holder\n"
    "  --country CC       two-letter country (init default UT; issue default the root's)\n"
    "  --scope LIST       comma-separated NAMESPACE/ELEMENT the reader may ask for;\n"
    "                     NS/age_over_NN allows every age_over_NN of NS\n"
    "  --purpose TEXT     why it may ask, shown to the holder (e.g. \"hotel registration\")\n"
    "  --valid-days N     validity from one hour ago (default 365)\n"
    "  --valid-from T, --valid-until T\n"
    "                     an explicit validity (RFC 3339), e.g. to make an expired\n"
    "                     certificate for tests\n"
    "  --out DIR          where the reader's certificate and key go\n"
    "  --force            replace files already there\n"
    "\n"
    "exit status: 0 created; 1 creating a key or certificate failed; 2 usage error, files\n"
    "             already there, not a reader authority, or I/O error\n"
    "\n"
    "example:\n"
    "  tessera reader-ca init --dir police --name \"Utopia Police Bureau\"\n"
    "  tessera reader-ca issue --dir police --name \"Hotel Utopia\" --out hotel \\\n"
    "      --purpose \"hotel registration\" --scope eu.europa.ec.eudi.pid.1/family_name,\\\n"
    "  eu.europa.ec.eudi.pid.1/given_name,eu.europa.ec.eudi.pid.1/portrait\n";

static const char USAGE_READER[] =
    "usage: tessera reader checkin --reader DIR --trust ROOTS.pem[,ROOTS2.pem]\n"
    "                              (--qr URI --tcp HOST:PORT | --qr-png FILE --tcp HOST:PORT |\n"
    "                               --nfc [--pcsc-reader NAME])\n"
    "                              [--elements NS/ELEM,...] [--retain NS/ELEM,...|all]\n"
    "                              [--doctype T] [--json] [--portrait-out FILE]\n"
    "                              [--timeout SEC] [--status cached|online|off]\n"
    "                              [--status-cache DIR] [--status-max-age SEC]\n"
    "                              [--status-max-ttl SEC]\n"
    "\n"
    "The front desk's side of an offline check-in (ISO/IEC 18013-5 proximity\n"
    "presentation): takes the phone's device engagement, opens an encrypted session,\n"
    "asks for the elements with reader authentication (DIR/reader.pem and\n"
    "DIR/reader_key.pem from 'tessera reader-ca issue'), and verifies the answer with\n"
    "the issuing authorities' roots at the current time, with no network. The verdict\n"
    "is printed as by 'tessera verify' (--json: the same JSON). Nothing is stored; the\n"
    "portrait is written only to --portrait-out.\n"
    "\n"
    "options:\n"
    "  --reader DIR          the reader's certificate (+ chain) and key\n"
    "  --trust ROOTS.pem     IACA roots accepted (repeatable, comma-separated lists)\n"
    "  --qr URI              the \"mdoc:\" text of the phone's QR code\n"
    "  --qr-png FILE         an image (PNG) of the phone's QR code, decoded with zbar\n"
    "  --tcp HOST:PORT       with --qr/--qr-png: the phone's data channel\n"
    "  --nfc                 tap: the phone is found through PC/SC (pcscd); the\n"
    "                        engagement comes from its NFC handover\n"
    "  --pcsc-reader NAME    the first PC/SC reader whose name contains NAME (default any)\n"
    "  --elements LIST       NAMESPACE/ELEMENT or ELEMENT (the doctype's namespace);\n"
    "                        default family_name, given_name, document_number, portrait,\n"
    "                        nationality, age_over_18\n"
    "  --retain LIST|all     elements announced as kept by the hotel (intentToRetain);\n"
    "                        default none\n"
    "  --doctype T           default eu.europa.ec.eudi.pid.1\n"
    "  --json                {\"valid\", \"error\", \"documents\"} as 'tessera verify --json'\n"
    "  --portrait-out FILE   write the disclosed portrait here\n"
    "  --timeout SEC         for the connection and each answer (default 30)\n"
    "  --status MODE         the credential's status (IETF Token Status List), as for\n"
    "                        'tessera verify': cached (default: the front desk has no\n"
    "                        network; a list fetched within --status-max-age), online (fetch\n"
    "                        when the cached list is past its ttl: the reader refreshes its\n"
    "                        lists), off. A revoked or suspended eID is rejected; an\n"
    "                        undetermined status is a WARNING (the guest's data is shown)\n"
    "  --status-cache DIR    default DIR/status-cache in the --reader directory\n"
    "  --status-max-age SEC  the oldest cached list accepted (default 86400)\n"
    "  --status-max-ttl SEC  the longest ttl of a list honoured (default 86400)\n"
    "\n"
    "exit status: 0 valid (also with an undetermined status); 1 invalid, revoked or\n"
    "             suspended, declined by the holder (session_ended) or the phone's\n"
    "             engagement is malformed; 2 usage error, unreadable input, no connection\n"
    "             or timeout\n"
    "\n"
    "example:\n"
    "  tessera reader checkin --reader hotel --trust ministry/iaca.pem \\\n"
    "      --qr \"$(cat uri.txt)\" --tcp 127.0.0.1:47001 --portrait-out guest.png\n";

static const char USAGE_WALLET_PRESENT[] =
    "usage: tessera wallet present --wallet D (--qr --tcp HOST:PORT | --tcp HOST:PORT | --nfc)\n"
    "                              [--policy FILE] [--pin-fd N] [--reader-trust ROOTS.pem]\n"
    "                              [--qr-png FILE] [--uri-out FILE] [--timeout SEC]\n"
    "                              [--vpcd HOST:PORT]\n"
    "\n"
    "The phone at the front desk (ISO/IEC 18013-5 proximity presentation). A fresh\n"
    "ephemeral key and device engagement are made for the session, then:\n"
    "  --qr --tcp H:P   the engagement is shown as a QR code in the terminal (and its\n"
    "                   \"mdoc:\" text); the data goes over TCP on H:P, which the reader\n"
    "                   is told out of band (printed; port 0 picks one)\n"
    "  --tcp H:P        the same without drawing the QR code\n"
    "  --nfc            the phone plays an NFC card through vsmartcard's vpcd (pcscd):\n"
    "                   the reader reads the Handover Select, then exchanges the session\n"
    "                   messages with ENVELOPE / GET RESPONSE\n"
    "The reader's request is decrypted and its reader authentication checked against\n"
    "the trusted reader authorities; then the holder is asked: the reader's verified name\n"
    "and authority (or a WARNING that it is not authenticated, and why), the purpose, each\n"
    "requested element (\"will be kept\" when the reader says so, \"OUTSIDE THE READER'S\n"
    "PERMITTED SCOPE\" when its certificate does not grant it). The holder shares all,\n"
    "some (by number) or none; each out-of-scope element needs its own 'yes'; then the\n"
    "PIN. Nothing is released before that. The answer is signed in the secure element\n"
    "and the wallet's log records the transaction.\n"
    "\n"
    "options:\n"
    "  --wallet D            the wallet directory\n"
    "  --policy FILE         decide by rules instead of asking (for scripts):\n"
    "                        {\"readers\": [{\"name\": \"Hotel Utopia\" | \"*\",\n"
    "                          \"authenticated\": true, \"allow\": [\"ns/elem\", ...] | \"*\",\n"
    "                          \"deny\": [...], \"override_scope\": false}],\n"
    "                         \"unauthenticated\": \"decline\", \"pin\": \"123456\"}\n"
    "  --pin-fd N            read the PIN as one line from descriptor N (else the policy's\n"
    "                        \"pin\", else the terminal without echo)\n"
    "  --reader-trust FILE   reader authority roots (repeatable); default the wallet's own\n"
    "                        (see 'tessera wallet trust-reader')\n"
    "  --qr-png FILE         also write the QR code as a PNG image (implies --qr)\n"
    "  --uri-out FILE        also write the \"mdoc:\" URI to FILE (for scripts; written once\n"
    "                        the phone listens)\n"
    "  --timeout SEC         waiting for the reader and for each message (default 120)\n"
    "  --vpcd HOST:PORT      where vpcd listens (default 127.0.0.1:35963)\n"
    "\n"
    "exit status: 0 answered (what was disclosed is printed); 1 declined or the session\n"
    "             failed on the reader's input; 2 usage error, no terminal and no policy,\n"
    "             I/O error or timeout\n"
    "\n"
    "example:\n"
    "  tessera wallet present --wallet phone --qr --tcp 127.0.0.1:47001\n";

static const char USAGE_WALLET_TRUST_READER[] =
    "usage: tessera wallet trust-reader --wallet D [--root READER_CA.pem ...]\n"
    "\n"
    "Adds reader authority roots (made by 'tessera reader-ca init') to those the wallet\n"
    "trusts, kept in D/reader_roots.pem, and lists them. 'wallet present' shows a reader\n"
    "as verified only when its certificate chains to one of them.\n"
    "\n"
    "options:\n"
    "  --wallet D     the wallet directory\n"
    "  --root FILE    a PEM file of root certificates (repeatable); none: only list\n"
    "\n"
    "exit status: 0 done; 1 a certificate is not a root; 2 usage error or I/O error\n"
    "\n"
    "example:\n"
    "  tessera wallet trust-reader --wallet phone --root police/reader_ca.pem\n";

static const char USAGE_HELP[] = "usage: tessera help [COMMAND [SUBCOMMAND]]\n";

static const cli_cmd COMMANDS[] = {
    {"authority", cmd_authority,
     "the issuing authority: keys, OpenID4VCI service, enrolment, revocation", USAGE_AUTHORITY},
    {"issue", cmd_issue, "issue an mdoc bound to a device key", USAGE_ISSUE},
    {"present", cmd_present, "answer a request with a DeviceResponse", USAGE_PRESENT},
    {"verify", cmd_verify, "verify a DeviceResponse as a reader", USAGE_VERIFY},
    {"inspect", cmd_inspect, "print CBOR in diagnostic notation", USAGE_INSPECT},
    {"wallet", cmd_wallet, "the holder's wallet: secure-element keys, credentials, PIN, log",
     USAGE_WALLET},
    {"vendor", cmd_vendor, "create a secure-element vendor root (for key attestation)",
     USAGE_VENDOR},
    {"reader-ca", cmd_reader_ca, "the authority that licenses readers, and reader certificates",
     USAGE_READER_CA},
    {"reader", cmd_reader, "front desk: check a guest in from the phone (QR or NFC)", USAGE_READER},
    {"help", cmd_help, "show help for a command", USAGE_HELP},
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

/* Help of the subcommands of the commands that have them (dispatched by their
 * command's function). */
static const struct {
    const char *name, *usage;
} SUBCOMMANDS[] = {
    {"authority init", USAGE_AUTHORITY_INIT},
    {"authority serve", USAGE_AUTHORITY_SERVE},
    {"authority enrol", USAGE_AUTHORITY_ENROL},
    {"authority enroll", USAGE_AUTHORITY_ENROL},
    {"authority revoke", USAGE_AUTHORITY_STATUS},
    {"authority suspend", USAGE_AUTHORITY_STATUS},
    {"authority reinstate", USAGE_AUTHORITY_STATUS},
    {"wallet enrol", USAGE_WALLET_ENROL},
    {"wallet enroll", USAGE_WALLET_ENROL},
    {"wallet device-id", USAGE_WALLET_DEVICE_ID},
    {"wallet report-lost", USAGE_WALLET_REPORT_LOST},
    {"wallet init", USAGE_WALLET_INIT},
    {"wallet pin", USAGE_WALLET_PIN},
    {"wallet keygen", USAGE_WALLET_KEYGEN},
    {"wallet add", USAGE_WALLET_ADD},
    {"wallet list", USAGE_WALLET_LIST},
    {"wallet log", USAGE_WALLET_LOG},
    {"vendor init", USAGE_VENDOR},
    {"wallet present", USAGE_WALLET_PRESENT},
    {"wallet trust-reader", USAGE_WALLET_TRUST_READER},
    {"reader-ca init", USAGE_READER_CA},
    {"reader-ca issue", USAGE_READER_CA},
    {"reader checkin", USAGE_READER},
};

static const char *find_sub_usage(const char *name)
{
    for (size_t i = 0; i < sizeof(SUBCOMMANDS) / sizeof(SUBCOMMANDS[0]); i++)
        if (strcmp(SUBCOMMANDS[i].name, name) == 0)
            return SUBCOMMANDS[i].usage;
    return NULL;
}

static const cli_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static void print_overview(FILE *f)
{
    fprintf(f, "usage: tessera COMMAND [OPTIONS]\n"
               "       tessera COMMAND --help | tessera --help | tessera --version\n"
               "\n"
               "Tessera: ISO/IEC 18013-5 mdoc credentials (issue, present, verify).\n"
               "\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n"
               "exit status: 0 success; 1 the operation failed on its input (verify: the\n"
               "response is invalid); 2 usage error or unreadable input\n"
               "\n"
               "a whole story:\n"
               "  tessera authority init --dir ministry\n"
               "  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 \\\n"
               "      -nocrypt -out device_key.pem\n"
               "  openssl pkey -in device_key.pem -pubout -out device_pub.pem\n"
               "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
               "      --claims pid.json --device-key device_pub.pem --out pid.mdoc\n"
               "  echo 83f6f6826474657374420102 | xxd -r -p > st.cbor  # a SessionTranscript\n"
               "  tessera present --mdoc pid.mdoc --device-key device_key.pem \\\n"
               "      --elements family_name,age_over_18 --transcript st.cbor --out resp.cbor\n"
               "  tessera verify --trust ministry/iaca.pem --transcript st.cbor resp.cbor\n"
               "\n"
               "with a wallet whose keys live in a secure element: see 'tessera wallet --help'.\n"
               "\n"
               "See 'tessera COMMAND --help' and tessera(1).\n");
}

void cli_print_usage(const char *cmd, bool to_stderr)
{
    const cli_cmd *c = find_cmd(cmd);
    const char *sub = find_sub_usage(cmd);
    FILE *f = to_stderr ? stderr : stdout;
    if (sub != NULL)
        fputs(sub, f);
    else if (c == NULL)
        print_overview(f);
    else
        fputs(c->usage, f);
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (find_cmd(argv[1]) == NULL) {
        fprintf(stderr, "tessera: help: unknown command '%s' (see 'tessera --help')\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (argc >= 3) {
        char full[128];
        snprintf(full, sizeof(full), "%s %s", argv[1], argv[2]);
        if (find_sub_usage(full) == NULL) {
            fprintf(stderr, "tessera: help: unknown subcommand '%s' (see 'tessera help %s')\n",
                    full, argv[1]);
            return CLI_EXIT_USAGE;
        }
        cli_print_usage(full, false);
        return CLI_EXIT_OK;
    }
    cli_print_usage(argv[1], false);
    return CLI_EXIT_OK;
}

/* `tessera-issuerd ARGS` is `tessera authority serve ARGS`. */
static bool called_as_issuerd(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0;
    return base != NULL && strcmp(base, "tessera-issuerd") == 0;
}

int main(int argc, char **argv)
{
    if (called_as_issuerd(argv[0])) {
        if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
            printf("tessera-issuerd %s\n", CLI_VERSION);
            return CLI_EXIT_OK;
        }
        int rc = cmd_authority_serve(argc, argv);
        if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
            rc = cli_error(CLI_EXIT_USAGE, "cannot write to standard output");
        return rc;
    }
    if (argc < 2) {
        print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("tessera %s\n", CLI_VERSION);
        return CLI_EXIT_OK;
    }
    const cli_cmd *c = find_cmd(name);
    if (c == NULL) {
        fprintf(stderr, "tessera: unknown command '%s' (see 'tessera --help')\n", name);
        return CLI_EXIT_USAGE;
    }
    int rc = c->fn(argc - 1, argv + 1);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK)
        rc = cli_error(CLI_EXIT_USAGE, "cannot write to standard output");
    return rc;
}
