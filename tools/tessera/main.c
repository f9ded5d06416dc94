/*
 * tessera — command-line tool of the Tessera mdoc wallet library.
 *
 * main() only dispatches; each subcommand lives in its own cmd_*.c file and
 * parses its own options with getopt_long. See docs/tessera.1.
 */
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
    "\n"
    "Creates an issuing authority: a new directory DIR (mode 0700) holding\n"
    "  iaca.pem      IACA root certificate \"<NAME> IACA\", C=CC, CA with pathLen 0,\n"
    "                keyCertSign+cRLSign, issuerAltName URL; valid 10 years\n"
    "  iaca_key.pem  its private key (P-256, PKCS#8, mode 0600)\n"
    "  ds.pem        document signer certificate \"<NAME> Document Signer\", C=CC,\n"
    "                digitalSignature, EKU 1.0.18013.5.1.2 (mdlDS), CRL URL/crl/iaca.crl;\n"
    "                valid 3 years\n"
    "  ds_key.pem    its private key (P-256, PKCS#8, mode 0600)\n"
    "Both certificates start one hour in the past, to tolerate clock skew.\n"
    "\n"
    "options:\n"
    "  --dir DIR       where to create the authority (required)\n"
    "  --country CC    two-letter country code (default UT)\n"
    "  --name NAME     authority name used in the certificates (default Utopia)\n"
    "  --url URL       issuerAltName / CRL base URL (default https://iaca.<cc>.example)\n"
    "  --force         replace an existing authority in DIR (its keys are lost)\n"
    "\n"
    "exit status: 0 created; 2 usage error, DIR already holds an authority, or I/O error\n"
    "\n"
    "example:\n"
    "  tessera authority init --dir ministry --country UT --name \"Utopia Ministry of Interior\"\n";

static const char USAGE_ISSUE[] =
    "usage: tessera issue --authority DIR --doctype DOCTYPE --claims CLAIMS.json\n"
    "                     --device-key PUB.pem --out MDOC.cbor\n"
    "                     [--valid-days N] [--decoys N] [--doctype-table TABLE.json]\n"
    "\n"
    "Issues one mdoc (ISO/IEC 18013-5 IssuerSigned with a signed MSO), signed by the\n"
    "document signer of DIR (ds.pem, ds_key.pem) and bound to the holder's device key.\n"
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
    "  --valid-days N          validity from now (default 365)\n"
    "  --decoys N              decoy digests per namespace (default 2)\n"
    "  --doctype-table FILE    registers a doctype first: {\"docType\", \"namespace\",\n"
    "                          \"elements\": [{\"name\", \"type\", \"mandatory\"}]}\n"
    "  --out MDOC.cbor         where to write the credential\n"
    "\n"
    "A summary line \"issued <doctype> with N elements to <out>\" goes to stderr.\n"
    "exit status: 0 issued; 1 the claims do not fit the doctype or issuing failed;\n"
    "             2 usage error or unreadable input\n"
    "\n"
    "example:\n"
    "  tessera issue --authority ministry --doctype eu.europa.ec.eudi.pid.1 \\\n"
    "      --claims pid.json --device-key device_pub.pem --out pid.mdoc\n";

static const char USAGE_PRESENT[] =
    "usage: tessera present --mdoc MDOC.cbor --device-key KEY.pem\n"
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
    "  --request REQUEST.cbor    a DeviceRequest: the first DocRequest for the mdoc's\n"
    "                            docType is answered (its reader authentication is NOT\n"
    "                            checked by this command)\n"
    "  --elements LIST           comma-separated NAMESPACE/ELEMENT; a bare ELEMENT means\n"
    "                            the doctype's own namespace\n"
    "  --transcript ST.cbor      SessionTranscript, plain or tag-24 wrapped (binary or hex)\n"
    "  --mac                     device MAC instead of a device signature\n"
    "  --reader-pub READER.pem   the reader's ephemeral public key (with --mac)\n"
    "  --out RESPONSE.cbor       where to write the DeviceResponse\n"
    "\n"
    "stderr tells how many elements were disclosed and which requested ones the\n"
    "credential does not hold (they are left out, not an error).\n"
    "exit status: 0 written; 1 the library refused; 2 usage error or unreadable input\n"
    "\n"
    "example:\n"
    "  tessera present --mdoc pid.mdoc --device-key device_key.pem \\\n"
    "      --elements family_name,given_name,age_over_18 --transcript st.cbor --out resp.cbor\n";

static const char USAGE_VERIFY[] =
    "usage: tessera verify --trust ROOT.pem[,ROOT2.pem...] --transcript ST.cbor\n"
    "                      [--reader-key EREADER.pem] [--at TIME] [--json] RESPONSE.cbor\n"
    "\n"
    "Verifies a DeviceResponse as a reader does: the document signer chains to one of\n"
    "the trusted IACA roots, the issuer signature, the MSO validity at TIME, every\n"
    "disclosed element's digest, and the device signature or MAC over the transcript.\n"
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
    "null|{\"idx\",\"uri\"},\n"
    "                         \"elements\": {NAMESPACE: {ELEMENT: value}}}]}\n"
    "\n"
    "Output: \"VALID\" and the disclosed data, or \"INVALID: <code>: <reason>\".\n"
    "exit status: 0 valid; 1 invalid; 2 usage error or unreadable input (missing file,\n"
    "             unreadable key or root, bad --at)\n"
    "\n"
    "example:\n"
    "  tessera verify --trust ministry/iaca.pem --transcript st.cbor --json resp.cbor\n";

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

static const char USAGE_HELP[] = "usage: tessera help [COMMAND]\n";

static const cli_cmd COMMANDS[] = {
    {"authority", cmd_authority, "create an issuing authority (IACA root + document signer)",
     USAGE_AUTHORITY},
    {"issue", cmd_issue, "issue an mdoc bound to a device key", USAGE_ISSUE},
    {"present", cmd_present, "answer a request with a DeviceResponse", USAGE_PRESENT},
    {"verify", cmd_verify, "verify a DeviceResponse as a reader", USAGE_VERIFY},
    {"inspect", cmd_inspect, "print CBOR in diagnostic notation", USAGE_INSPECT},
    {"help", cmd_help, "show help for a command", USAGE_HELP},
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

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
               "See 'tessera COMMAND --help' and tessera(1).\n");
}

void cli_print_usage(const char *cmd, bool to_stderr)
{
    const cli_cmd *c = find_cmd(cmd);
    FILE *f = to_stderr ? stderr : stdout;
    if (c == NULL)
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
    cli_print_usage(argv[1], false);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
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
