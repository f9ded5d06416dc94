/* `tessera hotel` and `tessera lock`: door keys (tessera/access.h, tessera/lock.h,
 * docs/KEYS.md). The hotel issues room keys for the key requests of guests' phones and
 * revokes them; a lock directory is a door's configuration and store, `lock serve` runs
 * the door on a PC/SC reader. All logic is the library's; this file parses and prints. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "tessera/lock.h"
#include "tessera/transport.h"

#define MAX_ROOMS TES_ACCESS_MAX_ROOMS

static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

/* "HH:MM-HH:MM" into minutes after midnight. */
static bool parse_daily(const char *s, uint16_t *from, uint16_t *until)
{
    unsigned h1, m1, h2, m2;
    char end;
    if (sscanf(s, "%2u:%2u-%2u:%2u%c", &h1, &m1, &h2, &m2, &end) != 4 || h1 > 24 || h2 > 24 ||
        m1 > 59 || m2 > 59)
        return false;
    *from = (uint16_t)(h1 * 60 + m1);
    *until = (uint16_t)(h2 * 60 + m2);
    return *from < *until && *until <= 1440;
}

static int open_hotel(const char *cmd, const char *dir, tes_hotel **h)
{
    if (!dir)
        return cli_usage_error(cmd, "needs --hotel DIR");
    tes_err e = tes_hotel_open(dir, NULL, h);
    return e ? cli_fail_code(cli_exit_for(e), e, "%s: %s", cmd, dir) : CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- hotel */

static int hotel_init(int argc, char **argv)
{
    const char *cmd = "hotel init", *dir = NULL, *name = NULL;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!dir || !name)
        return cli_usage_error(cmd, "needs --dir and --name");
    tes_err e = tes_hotel_init(dir, name, NULL);
    if (e)
        return cli_fail_code(cli_exit_for(e), e, "%s: %s", cmd, dir);
    printf("hotel \"%s\" in %s: issuer_key.pem and reader_key.pem (0600), hotel.json\n", name,
           dir);
    return CLI_EXIT_OK;
}

static int hotel_issue_key(int argc, char **argv)
{
    const char *cmd = "hotel issue-key", *dir = NULL, *request = NULL, *out = NULL,
               *from = NULL, *until = NULL, *daily = NULL, *guest = NULL;
    const char *rooms[MAX_ROOMS];
    size_t n_rooms = 0;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            dir = optarg;
            break;
        case 'r':
            request = optarg;
            break;
        case 'R':
            if (n_rooms == MAX_ROOMS)
                return cli_usage_error(cmd, "at most %d --room", MAX_ROOMS);
            rooms[n_rooms++] = optarg;
            break;
        case 'F':
            from = optarg;
            break;
        case 'U':
            until = optarg;
            break;
        case 'D':
            daily = optarg;
            break;
        case 'g':
            guest = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!request || !out || !n_rooms || !from || !until)
        return cli_usage_error(cmd, "needs --hotel, --request, --room, --from, --until and --out");
    tes_hotel_key_params p = {.rooms = rooms, .n_rooms = n_rooms, .guest = guest};
    if (tes_time_parse(from, strlen(from), false, &p.not_before) != TES_OK)
        return cli_usage_error(cmd, "--from is not an RFC 3339 time (2026-12-08T14:00:00Z)");
    if (tes_time_parse(until, strlen(until), false, &p.not_after) != TES_OK)
        return cli_usage_error(cmd, "--until is not an RFC 3339 time (2026-12-10T11:00:00Z)");
    if (daily && !parse_daily(daily, &p.daily_from, &p.daily_until))
        return cli_usage_error(cmd, "--daily is HH:MM-HH:MM (UTC, the first before the second)");
    if (cli_check_output(out) != TES_OK)
        return cli_fail_code(CLI_EXIT_USAGE, TES_ERR_IO, "%s: cannot write %s", cmd, out);
    tes_hotel *h = NULL;
    int rc = open_hotel(cmd, dir, &h);
    if (rc)
        return rc;
    tes_buf req = {0}, pkg = {0};
    uint8_t kid[TES_ACCESS_KEY_ID_LEN];
    tes_err e = cli_read_file(request, &req);
    if (!e)
        e = tes_hotel_issue_key(h, tes_buf_bytes(&req), &p, &pkg, kid);
    if (!e)
        e = cli_write_file(out, tes_buf_bytes(&pkg), CLI_FILE_PRIVATE);
    if (e) {
        rc = cli_fail_code(cli_exit_for(e), e, "%s", cmd);
    } else {
        printf("room key ");
        print_hex(kid, sizeof kid);
        printf(" for room");
        for (size_t i = 0; i < n_rooms; i++)
            printf(" %s", rooms[i]);
        printf(", %s to %s: %s (give it to the phone: tessera wallet key-add)\n", from, until,
               out);
    }
    tes_buf_free(&req);
    tes_buf_free(&pkg);
    tes_hotel_close(h);
    return rc;
}

static int hotel_revoke(int argc, char **argv)
{
    const char *cmd = "hotel revoke", *dir = NULL, *key_id = NULL, *request = NULL, *out = NULL;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            dir = optarg;
            break;
        case 'k':
            key_id = optarg;
            break;
        case 'r':
            request = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!key_id == !request)
        return cli_usage_error(cmd, "needs --key-id ID or --phone REQUEST (one of them)");
    uint8_t kid[TES_ACCESS_KEY_ID_LEN];
    if (key_id && !parse_hex(key_id, kid, sizeof kid))
        return cli_usage_error(cmd, "--key-id is 32 hex digits");
    tes_hotel *h = NULL;
    int rc = open_hotel(cmd, dir, &h);
    if (rc)
        return rc;
    tes_buf req = {0}, doc = {0};
    tes_access_key_request q;
    size_t n_new = 0;
    tes_err e = TES_OK;
    if (request) {
        e = cli_read_file(request, &req);
        if (!e)
            e = tes_access_key_request_parse(tes_buf_bytes(&req), &q);
    }
    if (!e)
        e = tes_hotel_revoke(h, key_id ? kid : NULL, request ? q.endpoint_key : NULL, &n_new, &doc);
    if (!e && out)
        e = cli_write_file(out, tes_buf_bytes(&doc), CLI_FILE_PUBLIC);
    if (e)
        rc = cli_fail_code(cli_exit_for(e), e, "%s", cmd);
    else
        printf("%zu key%s newly revoked; the revocation document travels to the locks with "
               "every phone that has it%s%s\n",
               n_new, n_new == 1 ? "" : "s", out ? ": " : "", out ? out : "");
    tes_buf_free(&req);
    tes_buf_free(&doc);
    tes_hotel_close(h);
    return rc;
}

static int hotel_revocation(int argc, char **argv)
{
    const char *cmd = "hotel revocation", *dir = NULL, *out = NULL;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            dir = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc || !out)
        return cli_usage_error(cmd, "needs --hotel and --out");
    tes_hotel *h = NULL;
    int rc = open_hotel(cmd, dir, &h);
    if (rc)
        return rc;
    tes_buf doc = {0};
    tes_err e = tes_hotel_revocation(h, &doc);
    if (!e && doc.len == 0)
        e = tes_err_set(TES_ERR_NOT_FOUND, "no key has been revoked yet");
    if (!e)
        e = cli_write_file(out, tes_buf_bytes(&doc), CLI_FILE_PUBLIC);
    rc = e ? cli_fail_code(e == TES_ERR_NOT_FOUND ? CLI_EXIT_FAIL : cli_exit_for(e), e, "%s", cmd)
           : CLI_EXIT_OK;
    tes_buf_free(&doc);
    tes_hotel_close(h);
    return rc;
}

/* ---------------------------------------------------------------- lock */

static int lock_init(int argc, char **argv)
{
    const char *cmd = "lock init", *dir = NULL, *hotel = NULL, *room = NULL, *instance = NULL;
    size_t max_ep = 0, rate = 0;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'H':
            hotel = optarg;
            break;
        case 'R':
            room = optarg;
            break;
        case 'i':
            instance = optarg;
            break;
        case 'm':
            if (!cli_parse_size(optarg, 4096, &max_ep) || max_ep == 0)
                return cli_usage_error(cmd, "--max-endpoints is 1..4096");
            break;
        case 'r':
            if (!cli_parse_size(optarg, 100000, &rate) || rate == 0)
                return cli_usage_error(cmd, "--standard-per-minute is 1..100000");
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!dir || !room)
        return cli_usage_error(cmd, "needs --dir, --hotel and --room");
    tes_lock_init_params p = {.max_endpoints = max_ep, .standard_per_minute = (unsigned)rate};
    if (instance && !parse_hex(instance, p.instance_id, sizeof p.instance_id))
        return cli_usage_error(cmd, "--instance-id is 32 hex digits");
    if (!instance && tes_rng_fill(NULL, p.instance_id, sizeof p.instance_id) != 0)
        return cli_error(CLI_EXIT_USAGE, "%s: no randomness", cmd);
    if (strlen(room) >= sizeof p.room)
        return cli_usage_error(cmd, "--room is at most %d characters", TES_ACCESS_ROOM_MAX - 1);
    snprintf(p.room, sizeof p.room, "%s", room);
    tes_hotel *h = NULL;
    int rc = open_hotel(cmd, hotel, &h);
    if (rc)
        return rc;
    snprintf(p.hotel, sizeof p.hotel, "%s", tes_hotel_name(h));
    memcpy(p.group_id, tes_hotel_group_id(h), TES_ACCESS_GROUP_ID_LEN);
    p.reader_key = tes_hotel_reader_key(h);
    p.issuer_key = tes_hotel_issuer_key(h);
    tes_err e = tes_lock_init(dir, &p);
    if (e)
        rc = cli_fail_code(cli_exit_for(e), e, "%s: %s", cmd, dir);
    else
        printf("lock of room %s (%s) in %s: lock.json, reader_key.pem (0600), lock.db\n", room,
               p.hotel, dir);
    tes_hotel_close(h);
    return rc;
}

static int open_lock(const char *cmd, const char *dir, tes_lock **l)
{
    if (!dir)
        return cli_usage_error(cmd, "needs --config LOCK_DIR");
    tes_err e = tes_lock_open(dir, NULL, l);
    return e ? cli_fail_code(cli_exit_for(e), e, "%s: %s", cmd, dir) : CLI_EXIT_OK;
}

static volatile sig_atomic_t lock_stop;
static void on_signal(int sig)
{
    (void)sig;
    lock_stop = 1;
}

static void print_outcome(const tes_lock *l, const tes_lock_outcome *o, double ms)
{
    static const char *const flows[] = {"none", "fast", "standard", "step-up"};
    printf("{\"result\": \"%s\", \"room\": \"%s\", \"flow\": \"%s\", \"reason\": \"%s\", "
           "\"key_id\": \"",
           o->unlocked ? "unlocked" : "refused", tes_lock_room(l),
           flows[o->flow <= TES_ACCESS_FLOW_STEP_UP ? o->flow : 0],
           o->unlocked ? "" : tes_err_name(o->reason));
    if (o->has_key_id)
        print_hex(o->key_id, TES_ACCESS_KEY_ID_LEN);
    printf("\", \"learned_revocation\": %s, \"ms\": %.1f, \"detail\": \"", o->learned_revocation ? "true" : "false", ms);
    for (const char *p = o->detail; *p; p++)
        if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            putchar(*p);
    printf("\"}\n");
    fflush(stdout);
}

static int lock_serve(int argc, char **argv)
{
    const char *cmd = "lock serve", *dir = NULL, *reader = NULL;
    size_t count = 0, timeout = 0;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            dir = optarg;
            break;
        case 'N':
            break; /* --nfc: the only medium today (PC/SC) */
        case 'r':
            reader = optarg;
            break;
        case 'n':
            if (!cli_parse_size(optarg, 1000000, &count))
                return cli_usage_error(cmd, "--count is a number");
            break;
        case 't':
            if (!cli_parse_size(optarg, 86400, &timeout))
                return cli_usage_error(cmd, "--timeout is seconds (0..86400)");
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    tes_lock *l = NULL;
    int rc = open_lock(cmd, dir, &l);
    if (rc)
        return rc;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fprintf(stderr, "lock of room %s: waiting for phones on PC/SC reader %s\n", tes_lock_room(l),
            reader ? reader : "(any)");
    size_t done = 0, opened = 0;
    rc = CLI_EXIT_OK;
    while (!lock_stop && (count == 0 || done < count)) {
        tes_pcsc_card *card = NULL;
        int wait_ms = timeout ? (int)timeout * 1000 : 1000;
        tes_err e = tes_pcsc_card_connect(reader, wait_ms, &card);
        if (e == TES_ERR_TIMEOUT && !timeout)
            continue; /* poll again, so that a signal is noticed */
        if (e) {
            rc = cli_fail_code(cli_exit_for(e), e, "%s", cmd);
            break;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tes_lock_outcome o;
        e = tes_lock_transaction(l, tes_pcsc_card_transmit, card, &o);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        print_outcome(l, &o, ms);
        if (e)
            fprintf(stderr, "%s: the tap failed: %s\n", cmd, tes_err_message());
        opened += o.unlocked;
        done++;
        /* one transaction per presentation: wait for the phone to leave */
        if (tes_pcsc_card_wait_removed(card, 5000) != TES_OK)
            fprintf(stderr, "%s: the phone stays in the field; going on\n", cmd);
        tes_pcsc_card_free(card);
    }
    tes_lock_close(l);
    if (rc == CLI_EXIT_OK && count && opened < done)
        rc = CLI_EXIT_FAIL;
    return rc;
}

static int lock_log(int argc, char **argv)
{
    const char *cmd = "lock log", *dir = NULL;
    size_t max = 100;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            dir = optarg;
            break;
        case 'n':
            if (!cli_parse_size(optarg, TES_LOCK_LOG_KEEP, &max) || max == 0)
                return cli_usage_error(cmd, "--last is 1..%d", TES_LOCK_LOG_KEEP);
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    tes_lock *l = NULL;
    int rc = open_lock(cmd, dir, &l);
    if (rc)
        return rc;
    tes_buf lines = {0};
    tes_err e = tes_lock_store_log_list(tes_lock_store_of(l), max, &lines);
    if (e)
        rc = cli_fail_code(cli_exit_for(e), e, "%s", cmd);
    else
        fwrite(lines.ptr, 1, lines.len, stdout);
    tes_buf_free(&lines);
    tes_lock_close(l);
    return rc;
}

static int lock_revocation(int argc, char **argv)
{
    const char *cmd = "lock revocation", *dir = NULL;
    cli_getopt opts;
    cli_getopt_for(cmd, &opts);
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, opts.shortopts, opts.longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            dir = optarg;
            break;
        case 'h':
            cli_help(cmd);
            return CLI_EXIT_OK;
        default:
            return cli_bad_option(cmd, c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cmd, "needs --config LOCK_DIR and one revocation document");
    tes_lock *l = NULL;
    int rc = open_lock(cmd, dir, &l);
    if (rc)
        return rc;
    tes_buf doc = {0};
    tes_err e = cli_read_file(argv[optind], &doc);
    if (!e)
        e = tes_lock_apply_revocation(l, tes_buf_bytes(&doc));
    if (e)
        rc = cli_fail_code(cli_exit_for(e), e, "%s: %s", cmd, argv[optind]);
    else
        printf("revocation applied: the keys it lists no longer open room %s\n", tes_lock_room(l));
    tes_buf_free(&doc);
    tes_lock_close(l);
    return rc;
}

/* ---------------------------------------------------------------- groups */

typedef struct {
    const char *name;
    int (*fn)(int, char **);
} sub_entry;

static int group(const char *name, const char *subs, int argc, char **argv,
                 const sub_entry *table, size_t n)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        char full[64];
        snprintf(full, sizeof full, "%s", name);
        if (argc >= 3 && strcmp(argv[1], "help") == 0)
            snprintf(full, sizeof full, "%s %s", name, argv[2]);
        cli_help(full);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error(name, "missing subcommand (%s)", subs);
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], table[i].name) == 0)
            return table[i].fn(argc - 1, argv + 1);
    return cli_usage_error(name, "unknown subcommand '%s' (%s)", argv[1], subs);
}

int cmd_hotel(int argc, char **argv)
{
    static const sub_entry subs[] = {{"init", hotel_init},
                                     {"issue-key", hotel_issue_key},
                                     {"revoke", hotel_revoke},
                                     {"revocation", hotel_revocation}};
    return group("hotel", "init, issue-key, revoke, revocation", argc, argv,
                 subs, sizeof subs / sizeof subs[0]);
}

int cmd_lock(int argc, char **argv)
{
    static const sub_entry subs[] = {{"init", lock_init},
                                     {"serve", lock_serve},
                                     {"log", lock_log},
                                     {"revocation", lock_revocation}};
    return group("lock", "init, serve, log, revocation", argc, argv, (const void *)subs,
                 sizeof subs / sizeof subs[0]);
}
