/*
 * test_rp_http.c — the verifier service's request parsing apart from the
 * connection (src/rp/http_parse.c, rp_internal.h): routes and transaction
 * ids, the wait and response_code query arguments, the body of
 * POST /api/v1/transactions. Each check is broken once and expects its
 * verdict, its code and its wire message (the handlers send the message
 * as error_description). No network.
 */
#define TES_HARNESS_ERR_NAME(code) tes_err_name((tes_err)(code))
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#include "rp/rp_internal.h"

#define ID22 "AAAAAAAAAAAAAAAAAAAAAA"
#define ID64 ID22 ID22 "AAAAAAAAAAAAAAAAAAAA"
#define Q                                                                                          \
    "{\"credentials\":[{\"id\":\"pid\",\"format\":\"mso_mdoc\",\"meta\":{\"doctype_value\":"       \
    "\"eu.europa.ec.eudi.pid.1\"},\"claims\":[{\"path\":[\"eu.europa.ec.eudi.pid.1\","             \
    "\"family_name\"]}]}]}"

static rp_route route(const char *url)
{
    rp_route r;
    rp_route_parse(url, strlen(url), &r);
    return r;
}

TEST(route_wallet_endpoints)
{
    rp_route r = route("/oid4vp/request/" ID22);
    CHECK_EQ_INT(r.kind, RP_ROUTE_REQUEST);
    CHECK(r.id_ok && r.id_len == 22 && strcmp(r.id, ID22) == 0);
    r = route("/oid4vp/response/abc-_9");
    CHECK_EQ_INT(r.kind, RP_ROUTE_RESPONSE);
    CHECK(r.id_ok && r.id_len == 6);
}

TEST(route_id_checks_each_break)
{
    CHECK(!route("/oid4vp/request/").id_ok);          /* empty */
    CHECK(route("/oid4vp/request/" ID64).id_ok);      /* 64: the maximum */
    CHECK(!route("/oid4vp/request/" ID64 "A").id_ok); /* 65 */
    CHECK(!route("/oid4vp/response/abc%2e").id_ok);   /* not base64url */
    CHECK(!route("/oid4vp/response/abc/def").id_ok);  /* a further segment */
    CHECK(!route("/api/v1/transactions/abc=").id_ok); /* padding */
    rp_route r;
    rp_route_parse("/oid4vp/request/ab\0cd", 21, &r); /* a NUL inside the given length */
    CHECK_EQ_INT(r.kind, RP_ROUTE_REQUEST);
    CHECK(r.id_len == 5 && !r.id_ok);
    CHECK(!rp_tx_id_ok(NULL, 0));
}

TEST(route_api)
{
    rp_route r = route("/api/v1/transactions");
    CHECK_EQ_INT(r.kind, RP_ROUTE_API_CREATE);
    CHECK(r.id == NULL);
    r = route("/api/v1/transactions/" ID22);
    CHECK_EQ_INT(r.kind, RP_ROUTE_API_TX);
    CHECK(r.id_ok && strcmp(r.id, ID22) == 0);
    CHECK_EQ_INT(route("/api/v1/transactions/").kind, RP_ROUTE_API_TX);
    CHECK(!route("/api/v1/transactions/").id_ok);
    CHECK_EQ_INT(route("/api/v1/transactionsX").kind, RP_ROUTE_API_UNKNOWN);
    CHECK_EQ_INT(route("/api/").kind, RP_ROUTE_API_UNKNOWN);
    CHECK_EQ_INT(route("/api").kind, RP_ROUTE_SITE);
    CHECK_EQ_INT(route("/").kind, RP_ROUTE_SITE);
    CHECK_EQ_INT(route("/oid4vp/request").kind, RP_ROUTE_SITE);
    rp_route_parse("/api/v1/transactions", 19, &r); /* the length counts, not the NUL */
    CHECK_EQ_INT(r.kind, RP_ROUTE_API_UNKNOWN);
}

static int64_t wait_of(const char *v)
{
    return rp_wait_parse(v, strlen(v));
}

TEST(wait_parse)
{
    CHECK_EQ_INT(rp_wait_parse(NULL, 0), 0);
    CHECK_EQ_INT(wait_of("10"), 10);
    CHECK_EQ_INT(wait_of("0"), 0);
    CHECK_EQ_INT(wait_of(""), 0);
    CHECK_EQ_INT(wait_of("25"), TES_RP_WAIT_MAX);
    CHECK_EQ_INT(wait_of("26"), TES_RP_WAIT_MAX);                         /* capped */
    CHECK_EQ_INT(wait_of("99999999999999999999999999"), TES_RP_WAIT_MAX); /* saturates */
    CHECK_EQ_INT(wait_of("-5"), 0);                                       /* negative */
    CHECK_EQ_INT(wait_of("5s"), 0);                                       /* trailing */
    CHECK_EQ_INT(wait_of("+"), 0);                                        /* no digits */
    CHECK_EQ_INT(wait_of(" +7"), 7);                                      /* as strtol reads it */
    CHECK_EQ_INT(wait_of("7 "), 0);
    CHECK_EQ_INT(rp_wait_parse("7\0", 2), 0); /* a NUL inside */
    char big[RP_QUERY_MAX + 2];
    memset(big, '0', sizeof big);
    big[RP_QUERY_MAX - 1] = '9';
    CHECK_EQ_INT(rp_wait_parse(big, RP_QUERY_MAX), 9); /* 256 bytes: looked at */
    big[RP_QUERY_MAX] = '9';
    CHECK_EQ_INT(rp_wait_parse(big, RP_QUERY_MAX + 1), 0); /* 257: absent */
    CHECK(rp_query_usable("", 0));
    CHECK(!rp_query_usable(NULL, 0));
    CHECK(!rp_query_usable(big, RP_QUERY_MAX + 1));
}

TEST(response_code_check)
{
    CHECK_EQ_INT(rp_response_code_check("", NULL, 0), RP_CODE_CLAIMS);
    CHECK_EQ_INT(rp_response_code_check("", "x", 1), RP_CODE_CLAIMS);
    CHECK_EQ_INT(rp_response_code_check("abc", NULL, 0), RP_CODE_STATUS_ONLY);
    CHECK_EQ_INT(rp_response_code_check("abc", "abc", 3), RP_CODE_CLAIMS);
    CHECK_EQ_INT(rp_response_code_check("abc", "abd", 3), RP_CODE_WRONG);
    CHECK_EQ_INT(rp_response_code_check("abc", "ab", 2), RP_CODE_WRONG);
    CHECK_EQ_INT(rp_response_code_check("abc", "abcd", 4), RP_CODE_WRONG);
    CHECK_EQ_INT(rp_response_code_check("abc", "", 0), RP_CODE_WRONG);
}

static tes_err create(const char *body, rp_create_req *r)
{
    return rp_create_parse(body, strlen(body), r);
}

TEST(create_ok)
{
    rp_create_req r;
    REQUIRE(create("{\"dcql_query\": " Q "}", &r) == TES_OK);
    CHECK_EQ_STR(r.flow, "cross_device");
    CHECK_EQ_STR(r.cred_id, "pid");
    REQUIRE(r.dcql != NULL);
    CHECK_EQ_STR(r.dcql, Q);
    rp_create_req_free(&r);
    CHECK(r.dcql == NULL);
    REQUIRE(create("{\"flow\": \"same_device\", \"dcql_query\": " Q "}", &r) == TES_OK);
    CHECK_EQ_STR(r.flow, "same_device");
    rp_create_req_free(&r);
}

static void create_fails(const char *body, size_t len, tes_err code, const char *msg)
{
    rp_create_req r;
    tes_err e = rp_create_parse(body, len, &r);
    CHECK_ERR(e, code);
    CHECK(r.dcql == NULL);
    if (strncmp(msg, "dcql_query: ", 12) == 0 && strlen(msg) == 12)
        CHECK(strncmp(tes_err_message_for(e), msg, 12) == 0 && strlen(tes_err_message_for(e)) > 12);
    else
        CHECK_EQ_STR(tes_err_message_for(e), msg);
}

#define BODY_MSG "the body must be a JSON object with a \"dcql_query\" object"
#define FLOW_MSG "\"flow\" is \"cross_device\" or \"same_device\""

TEST(create_each_check_breaks)
{
    create_fails(NULL, 0, TES_ERR_RP_REQUEST, BODY_MSG);
    create_fails("", 0, TES_ERR_RP_REQUEST, BODY_MSG);
    create_fails("[]", 2, TES_ERR_RP_REQUEST, BODY_MSG);
    create_fails("{\"dcql_query\": []}", 18, TES_ERR_RP_REQUEST, BODY_MSG);
    create_fails("{}", 2, TES_ERR_RP_REQUEST, BODY_MSG);
    const char *dup = "{\"dcql_query\": " Q ", \"dcql_query\": " Q "}";
    create_fails(dup, strlen(dup), TES_ERR_RP_REQUEST, BODY_MSG);
    const char *trunc = "{\"dcql_query\": " Q;
    create_fails(trunc, strlen(trunc), TES_ERR_RP_REQUEST, BODY_MSG);
    const char *flow = "{\"flow\": \"other\", \"dcql_query\": " Q "}";
    create_fails(flow, strlen(flow), TES_ERR_RP_REQUEST, FLOW_MSG);
    /* a flow that is not a string is refused, not taken for the default */
    const char *flow_int = "{\"flow\": 1, \"dcql_query\": " Q "}";
    create_fails(flow_int, strlen(flow_int), TES_ERR_RP_REQUEST, FLOW_MSG);
    const char *flow_null = "{\"flow\": null, \"dcql_query\": " Q "}";
    create_fails(flow_null, strlen(flow_null), TES_ERR_RP_REQUEST, FLOW_MSG);
    const char *empty = "{\"dcql_query\": {}}";
    create_fails(empty, strlen(empty), TES_ERR_DCQL, "dcql_query: ");
    const char *sdjwt = "{\"dcql_query\": {\"credentials\": [{\"id\": \"x\", \"format\": "
                        "\"dc+sd-jwt\", \"claims\": [{\"path\": [\"a\"]}]}]}}";
    create_fails(sdjwt, strlen(sdjwt), TES_ERR_DCQL_UNSUPPORTED, "dcql_query: ");
    const char *noclaims = "{\"dcql_query\": {\"credentials\": [{\"id\": \"a\", \"format\": "
                           "\"mso_mdoc\", \"meta\": {\"doctype_value\": \"d\"}}]}}";
    create_fails(noclaims, strlen(noclaims), TES_ERR_RP_REQUEST,
                 "dcql_query: the Credential Query must name its claims (without claim_sets)");
}
