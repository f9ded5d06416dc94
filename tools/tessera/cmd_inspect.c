/* tessera inspect — CBOR diagnostic notation, tag-24 items unwrapped.
 *
 * After the item itself, byte strings that hold one complete CBOR map, array or
 * tag (a COSE payload such as the MSO, a protected header) are shown decoded
 * too, each under a comment naming where it sits. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define MAX_EMBED_DEPTH 8
#define MAX_PATH 512

typedef struct walk {
    int depth;
    int shown;
    bool failed;
} walk;

static void show_embedded(walk *w, tes_bytes content, const char *path);

static bool plain_name(const uint8_t *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/* Appends a path step for map key k: .name, ["dotted.name"] or [123]. */
static void key_step(const tes_cbor_doc *d, uint32_t k, char *path, size_t cap)
{
    size_t l = strlen(path);
    const tes_cbor_node *n = &d->nodes[k];
    int64_t v;
    if (n->type == TES_CBOR_TEXT && plain_name(n->data, n->len))
        snprintf(path + l, cap - l, ".%.*s", (int)n->len, (const char *)n->data);
    else if (n->type == TES_CBOR_TEXT)
        snprintf(path + l, cap - l, "[\"%.*s\"]", (int)(n->len > 64 ? 64 : n->len),
                 (const char *)n->data);
    else if (tes_cbor_get_int(d, k, &v))
        snprintf(path + l, cap - l, "[%lld]", (long long)v);
    else
        snprintf(path + l, cap - l, "[?]");
}

/* Looks for embedded CBOR in byte strings below node i (pre-order). */
static void scan(walk *w, const tes_cbor_doc *d, uint32_t i, char *path)
{
    const tes_cbor_node *n = &d->nodes[i];
    size_t l = strlen(path);
    switch ((tes_cbor_type)n->type) {
    case TES_CBOR_BYTES:
        if (n->len >= 2) {
            uint8_t major = n->data[0] >> 5;
            if (major == 4 || major == 5 || major == 6)
                show_embedded(w, TES_BYTES(n->data, n->len), path);
        }
        break;
    case TES_CBOR_ARRAY: {
        uint64_t k = 0;
        for (uint32_t c = tes_cbor_child(d, i); c != TES_CBOR_NONE && c < n->next;
             c = tes_cbor_next(d, c), k++) {
            snprintf(path + l, MAX_PATH - l, "[%llu]", (unsigned long long)k);
            scan(w, d, c, path);
            path[l] = '\0';
        }
        break;
    }
    case TES_CBOR_MAP:
        for (uint32_t c = tes_cbor_child(d, i); c != TES_CBOR_NONE && c < n->next;) {
            uint32_t v = tes_cbor_next(d, c);
            if (v >= n->next)
                break;
            key_step(d, c, path, MAX_PATH);
            scan(w, d, v, path);
            path[l] = '\0';
            c = tes_cbor_next(d, v);
        }
        break;
    case TES_CBOR_TAG: {
        tes_bytes inner;
        if (n->val == 24 && tes_cbor_tag24_content(d, i, &inner)) {
            /* already unwrapped by the diagnostic text: look inside it */
            tes_cbor_doc sub;
            if (w->depth < MAX_EMBED_DEPTH && tes_cbor_parse(inner, NULL, &sub) == TES_OK) {
                snprintf(path + l, MAX_PATH - l, "<<>>");
                w->depth++;
                scan(w, &sub, 0, path);
                w->depth--;
                path[l] = '\0';
                tes_cbor_doc_free(&sub);
            }
        } else if (tes_cbor_child(d, i) != TES_CBOR_NONE) {
            scan(w, d, tes_cbor_child(d, i), path);
        }
        break;
    }
    default:
        break;
    }
}

static void show_embedded(walk *w, tes_bytes content, const char *path)
{
    if (w->depth >= MAX_EMBED_DEPTH)
        return;
    tes_cbor_doc sub;
    if (tes_cbor_parse(content, NULL, &sub) != TES_OK)
        return; /* not CBOR: an ordinary byte string */
    tes_buf text = {0};
    if (tes_cbor_diag(content, true, &text) != TES_OK) {
        w->failed = true;
    } else {
        printf("\n/ %s: byte string holding embedded CBOR, %zu bytes /\n<<", *path ? path : "(top)",
               content.len);
        fwrite(text.ptr, 1, text.len > 0 ? text.len - 1 : 0, stdout); /* drop the newline */
        printf(">>\n");
        w->shown++;
        char sub_path[MAX_PATH];
        snprintf(sub_path, sizeof(sub_path), "%s<<>>", path);
        w->depth++;
        scan(w, &sub, 0, sub_path);
        w->depth--;
    }
    tes_buf_free(&text);
    tes_cbor_doc_free(&sub);
}

int cmd_inspect(int argc, char **argv)
{
    cli_getopt opts;
    cli_getopt_for("inspect", &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cli_help("inspect");
            return CLI_EXIT_OK;
        default:
            return cli_bad_option("inspect", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("inspect", "missing FILE");
    if (optind + 1 < argc)
        return cli_usage_error("inspect", "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];

    tes_buf raw = {0}, out = {0};
    if (cli_read_file(path, &raw) != TES_OK)
        return cli_fail(CLI_EXIT_USAGE, "inspect");
    cli_maybe_unhex(&raw); /* hex text, as the test vectors are stored */
    int rc = CLI_EXIT_OK;
    tes_cbor_doc doc;
    if (tes_cbor_diag(tes_buf_bytes(&raw), true, &out) != TES_OK) {
        rc = cli_fail(CLI_EXIT_FAIL, "%s is not well-formed CBOR", path);
    } else if (fwrite(out.ptr, 1, out.len, stdout) != out.len) {
        rc = cli_error(CLI_EXIT_USAGE, "cannot write to standard output");
    } else if (tes_cbor_parse(tes_buf_bytes(&raw), NULL, &doc) == TES_OK) {
        walk w = {0};
        char p[MAX_PATH] = "";
        scan(&w, &doc, 0, p);
        tes_cbor_doc_free(&doc);
        if (w.failed)
            rc = cli_fail(CLI_EXIT_FAIL, "rendering embedded CBOR");
    }
    tes_buf_free(&out);
    tes_buf_free(&raw);
    return rc;
}
