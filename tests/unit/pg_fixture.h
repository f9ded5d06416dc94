/*
 * pg_fixture.h — a throw-away PostgreSQL cluster for unit tests
 * (scripts/pg-test.sh), started at the first pg_new_db() and stopped by a
 * reaper child when the test process ends however it ends (test_registry.c,
 * test_rp.c).
 * Tests run from the repository root (ctest's WORKING_DIRECTORY).
 */
#ifndef TES_TESTS_PG_FIXTURE_H
#define TES_TESTS_PG_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <postgresql/libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char repo_root[4096];

__attribute__((constructor)) static void pg_fixture_root(void)
{
    if (getcwd(repo_root, sizeof repo_root - 2))
        strcat(repo_root, "/");
}

/* ------------------------------------------------------------ the PostgreSQL cluster */

static struct {
    int tried, ok;
    char dir[64];
    char url[256];  /* .../tessera */
    char base[192]; /* postgresql://postgres@127.0.0.1:PORT/ */
    int reaper_fd;  /* write end: the reaper stops the cluster when it closes */
    pid_t reaper;
    int ndb;
} pg = {.reaper_fd = -1};

__attribute__((unused)) static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int port = 0;
    if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

/* Runs the script; stdout's first line into out. Returns the exit status (0 ok). */
static int run_script(const char *args, char *out, size_t cap)
{
    char cmd[4600];
    snprintf(cmd, sizeof cmd, "bash '%sscripts/pg-test.sh' %s", repo_root, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    if (out && cap) {
        out[0] = '\0';
        if (fgets(out, (int)cap, p))
            out[strcspn(out, "\r\n")] = '\0';
    }
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A child that stops the cluster once this process is gone, however it ends. */
static void start_reaper(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        char c;
        while (read(fds[0], &c, 1) < 0 && errno == EINTR) {
        }
        char script[4200];
        snprintf(script, sizeof script, "%sscripts/pg-test.sh", repo_root);
        execl("/bin/bash", "bash", script, "stop", pg.dir, (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        return;
    }
    pg.reaper = pid;
    pg.reaper_fd = fds[1];
}

static int pg_ensure(void)
{
    if (pg.tried)
        return pg.ok;
    pg.tried = 1;
    for (int attempt = 0; attempt < 3 && !pg.ok; attempt++) {
        snprintf(pg.dir, sizeof pg.dir, "/tmp/tes_regpg_XXXXXX");
        if (!mkdtemp(pg.dir))
            return 0;
        int port = free_port();
        char args[256];
        snprintf(args, sizeof args, "start '%s' %d", pg.dir, port);
        int rc = run_script(args, pg.url, sizeof pg.url);
        if (rc == 0 && strncmp(pg.url, "postgresql://", 13) == 0) {
            pg.ok = 1;
            snprintf(pg.base, sizeof pg.base, "postgresql://postgres@127.0.0.1:%d/", port);
            start_reaper();
        } else {
            fprintf(stderr, "    pg-test.sh start failed (exit %d) on port %d\n", rc, port);
            snprintf(args, sizeof args, "stop '%s'", pg.dir);
            (void)run_script(args, NULL, 0);
        }
    }
    return pg.ok;
}

/* Creates a fresh database; its URL into url. */
static int pg_new_db(char *url, size_t cap)
{
    if (!pg_ensure())
        return 0;
    PGconn *c = PQconnectdb(pg.url);
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        char sql[64];
        snprintf(sql, sizeof sql, "CREATE DATABASE t%d", ++pg.ndb);
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "    %s", PQresultErrorMessage(r));
        PQclear(r);
        snprintf(url, cap, "%st%d", pg.base, pg.ndb);
    } else {
        fprintf(stderr, "    cannot connect to %s: %s", pg.url, PQerrorMessage(c));
    }
    PQfinish(c);
    return ok;
}

#endif
