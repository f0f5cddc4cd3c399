/* Tests of control/ng_proto: framing, the offer/answer keys as Kamailio's rtpengine module sends
 * them, missing and bad values, reply shapes, TCP reassembly and the reply cache. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ng_proto.h"

static struct ng_benc_node nodes[NG_NODES_MAX];
static struct ng_benc_doc doc;
static struct ng_request req;

static int parse(const char *msg)
{
	ng_benc_init(&doc, nodes, NG_NODES_MAX);
	return ng_request_parse(&req, &doc, msg, strlen(msg));
}

static bool str_is(struct ng_str s, const char *want)
{
	return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void test_split(void **state)
{
	struct ng_str c, b;

	(void)state;
	assert_int_equal(ng_split("5323_1 d7:command4:pinge", 24, &c, &b), 0);
	assert_true(str_is(c, "5323_1"));
	assert_int_equal(b.n, 17);
	assert_int_equal(ng_split(" de", 3, &c, &b), NG_E_FRAME);
	assert_int_equal(ng_split("abc", 3, &c, &b), NG_E_FRAME);
	assert_int_equal(ng_split("a\x01 de", 5, &c, &b), NG_E_FRAME);
	{
		char big[NG_COOKIE_MAX + 8];

		memset(big, 'x', sizeof(big));
		big[NG_COOKIE_MAX] = ' ';
		assert_int_equal(ng_split(big, NG_COOKIE_MAX + 3, &c, &b), 0);
		big[NG_COOKIE_MAX] = 'x';
		big[NG_COOKIE_MAX + 1] = ' ';
		assert_int_equal(ng_split(big, NG_COOKIE_MAX + 3, &c, &b), NG_E_FRAME);
	}
}

static void test_ping(void **state)
{
	char out[64];
	long n;

	(void)state;
	/* Kamailio's first message (shared/PEERS.md) */
	assert_int_equal(parse("2731_0 d7:command4:pinge"), 0);
	assert_int_equal(req.cmd, NG_CMD_PING);
	n = ng_reply_pong(out, sizeof(out), req.cookie);
	assert_true(n > 0);
	assert_memory_equal(out, "2731_0 d6:result4:ponge", (size_t)n);
	assert_int_equal(n, 23);
}

static void test_offer(void **state)
{
	char warn[256];
	int n;

	(void)state;
	/* keys as Kamailio 5.6 writes them (insertion order, dashes), plus rtpengine's spaced forms */
	assert_int_equal(parse("7_12 d3:sdp12:v=0\r\no=- 1\r\n5:flagsl13:trust-address18:SIP-source-addresse"
			       "7:replacel6:origin18:session-connectione3:ICE5:force7:call-id6:abc@h1"
			       "10:via-branch5:z9hG48:from-tag3:ft18:rtcp-muxl5:demux6:rejecte"
			       "9:directionl4:priv3:pube18:transport protocol7:RTP/AVP"
			       "13:received froml3:IP410:192.0.2.10e13:media-address12:198.51.100.7"
			       "8:ICE-lite8:backward4:SDESl3:offe6:DTLS-x2:no7:command5:offere"), 0);
	assert_int_equal(req.cmd, NG_CMD_OFFER);
	assert_true(str_is(req.cookie, "7_12"));
	assert_true(str_is(req.sdp, "v=0\r\no=- 1\r\n"));
	assert_true(str_is(req.call_id, "abc@h1"));
	assert_true(str_is(req.from_tag, "ft1"));
	assert_true(str_is(req.via_branch, "z9hG4"));
	assert_null(req.to_tag.p);
	assert_int_equal(req.n_flags, 2);
	assert_true(ng_request_has_flag(&req, "trust address"));
	assert_true(ng_request_has_flag(&req, "sip-source-address"));
	assert_false(ng_request_has_flag(&req, "symmetric"));
	assert_int_equal(req.replace, NG_REPLACE_ORIGIN | NG_REPLACE_SESSION_CONNECTION);
	assert_int_equal(req.ice, NG_ICE_FORCE);
	assert_int_equal(req.ice_lite, NG_ICE_LITE_BACKWARD);
	assert_int_equal(req.rtcp_mux, NG_RTCP_MUX_DEMUX | NG_RTCP_MUX_REJECT);
	assert_int_equal(req.n_direction, 2);
	assert_true(str_is(req.direction[0], "priv"));
	assert_true(str_is(req.direction[1], "pub"));
	assert_true(str_is(req.transport_protocol, "RTP/AVP"));
	assert_true(req.has_received_from);
	assert_int_equal(req.received_from.family, ICE_AF_INET);
	assert_int_equal(ice_addr_v4(&req.received_from), 0xc000020a);
	assert_true(req.has_media_address);
	assert_int_equal(ice_addr_v4(&req.media_address), 0xc6336407);
	assert_int_equal(req.n_unknown, 2);
	n = ng_request_warning(&req, warn, sizeof(warn));
	assert_int_equal(n, (int)strlen(warn));
	assert_string_equal(warn, "unsupported keys ignored: SDES, DTLS-x");
	/* a warning that does not fit is refused, not cut */
	assert_int_equal(ng_request_warning(&req, warn, 10), NG_E_NOSPACE);
}

static void test_answer_and_others(void **state)
{
	(void)state;
	assert_int_equal(parse("c d7:command6:answer7:call-id1:x8:from-tag1:f6:to-tag1:t3:sdp3:v=0e"), 0);
	assert_int_equal(req.cmd, NG_CMD_ANSWER);
	assert_true(str_is(req.to_tag, "t"));
	assert_int_equal(req.ice, NG_ICE_UNSET);

	assert_int_equal(parse("c d7:command6:answer7:call-id1:x8:from-tag1:f3:sdp3:v=0e"), NG_E_MISSING);
	assert_string_equal(req.missing, "to-tag");
	assert_true(str_is(req.cookie, "c")); /* an error reply can still be sent */
	assert_int_equal(parse("c d7:command5:offer7:call-id1:x3:sdp3:v=0e"), NG_E_MISSING);
	assert_string_equal(req.missing, "from-tag");
	assert_int_equal(parse("c d7:command5:offer7:call-id1:x8:from-tag1:fe"), NG_E_MISSING);
	assert_string_equal(req.missing, "sdp");
	assert_int_equal(parse("c d7:command6:deletee"), NG_E_MISSING);
	assert_string_equal(req.missing, "call-id");
	assert_int_equal(parse("c d7:command6:delete7:call-id1:x8:from-tag1:fe"), 0);
	assert_int_equal(req.cmd, NG_CMD_DELETE);
	assert_int_equal(parse("c d7:command5:query7:call-id1:xe"), 0);
	assert_int_equal(req.cmd, NG_CMD_QUERY);
	assert_int_equal(parse("c d7:command4:list5:limiti32ee"), 0);
	assert_int_equal(req.cmd, NG_CMD_LIST);
	assert_int_equal(req.limit, 32);
	assert_int_equal(parse("c d7:command10:statisticse"), 0);
	assert_int_equal(req.cmd, NG_CMD_STATISTICS);
	assert_int_equal(req.limit, -1);
}

static void test_bad(void **state)
{
	(void)state;
	assert_int_equal(parse("c d7:command15:start recordinge"), NG_E_COMMAND);
	assert_int_equal(parse("c d3:foo3:bare"), NG_E_NO_COMMAND);
	assert_int_equal(parse("c d7:commandi1ee"), NG_E_NO_COMMAND);
	assert_int_equal(parse("c l7:commande"), NG_E_NOT_DICT);
	assert_int_equal(parse("c d7:command4:ping"), NG_E_BENCODE);
	assert_int_equal(parse("c "), NG_E_BENCODE);
	assert_int_equal(parse("nocookie"), NG_E_FRAME);
	assert_int_equal(parse("c d7:command4:ping3:ICE4:suree"), NG_E_VALUE);
	assert_string_equal(req.bad_key, "ICE");
	assert_int_equal(parse("c d7:command4:ping8:ICE-lite2:one"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping5:flags3:abce"), NG_E_VALUE);
	assert_string_equal(req.bad_key, "flags");
	assert_int_equal(parse("c d7:command4:ping5:flagsli1eee"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping9:directionl1:a1:b1:cee"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping13:received froml3:IP67:1.2.3.4ee"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping13:received froml3:IP4ee"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping13:media address5:1.2.3e"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping18:transport-protocol3:TCPe"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:ping7:call-idi5ee"), NG_E_VALUE);
	assert_int_equal(parse("c d7:command4:list5:limiti-1ee"), NG_E_VALUE);
	assert_string_equal(ng_strerror(NG_E_VALUE), "invalid value for key");
	assert_string_equal(ng_strerror(NG_BENC_E_INT),
			    "malformed integer (leading zero, -0, no digits or out of range)");
}

/* Kamailio's rtpengine module sends "supports": ["load limit"] with every command. */
static void test_supports(void **state)
{
	char warn[128];

	(void)state;
	assert_int_equal(parse("c d7:command4:ping8:supportsl10:load limitee"), 0);
	assert_int_equal(req.supports, NG_SUPPORTS_LOAD_LIMIT);
	/* a capability of the client, not a request: nothing to warn about */
	assert_int_equal(ng_request_warning(&req, warn, sizeof(warn)), 0);
	assert_int_equal(parse("c d7:command4:ping8:supportsl10:load_limit6:futureee"), 0);
	assert_int_equal(req.supports, NG_SUPPORTS_LOAD_LIMIT);
	assert_int_equal(ng_request_warning(&req, warn, sizeof(warn)), 0);
	assert_int_equal(parse("c d7:command4:ping8:supportslee"), 0);
	assert_int_equal(req.supports, 0);
	assert_int_equal(parse("c d7:command4:ping8:supports10:load limite"), NG_E_VALUE);
	assert_string_equal(req.bad_key, "supports");
	assert_int_equal(parse("c d7:command4:ping8:supportsli1eee"), NG_E_VALUE);
}

static void test_flags_cap(void **state)
{
	char msg[2048], warn[128];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "c d7:command4:ping5:flagsl");
	for (int i = 0; i < NG_FLAGS_MAX + 3; i++)
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "2:f%c", 'A' + i % 26);
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "ee");
	assert_int_equal(parse(msg), 0);
	assert_int_equal(req.n_flags, NG_FLAGS_MAX);
	assert_int_equal(req.flags_dropped, 3);
	assert_true(ng_request_warning(&req, warn, sizeof(warn)) > 0);
	assert_string_equal(warn, "3 flags beyond 32 ignored");
}

static void test_replies(void **state)
{
	struct ng_str ck = { "k1", 2 };
	char out[256];
	long n;

	(void)state;
	n = ng_reply_ok(out, sizeof(out), ck, "v=0\r\n", 5, NULL);
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "k1 d6:result2:ok3:sdp5:v=0\r\ne");
	n = ng_reply_ok(out, sizeof(out), ck, "v=0\r\n", 5, "unsupported keys ignored: SDES");
	out[n] = 0;
	assert_string_equal(out, "k1 d6:result2:ok3:sdp5:v=0\r\n7:warning30:unsupported keys ignored: SDESe");
	n = ng_reply_ok(out, sizeof(out), ck, NULL, 0, "");
	out[n] = 0;
	assert_string_equal(out, "k1 d6:result2:oke");
	n = ng_reply_error(out, sizeof(out), ck, "Unknown call-id");
	out[n] = 0;
	assert_string_equal(out, "k1 d12:error-reason15:Unknown call-id6:result5:errore");
	assert_int_equal(ng_reply_error(out, 10, ck, "Unknown call-id"), NG_E_NOSPACE);
	n = ng_reply_load_limit(out, sizeof(out), ck, "port range exhausted");
	out[n] = 0;
	assert_string_equal(out, "k1 d7:message20:port range exhausted6:result10:load limite");
	n = ng_reply_error(out, sizeof(out), ck, "Unknown call-id");
	/* replies parse back as requests' bodies would */
	ng_benc_init(&doc, nodes, NG_NODES_MAX);
	assert_int_equal(ng_benc_parse(&doc, out + 3, (size_t)n - 3), 0);
	assert_true(ng_benc_str_eq(ng_benc_dict_get(&doc, &nodes[0], "result"), "error"));
}

static void test_stream(void **state)
{
	static const char wire[] = "a1 d7:command4:pinge\r\nb2 d7:command5:query7:call-id3:xyze";
	char buf[128];
	struct ng_stream s;
	const char *m;

	(void)state;
	/* byte by byte: a message appears exactly when its last byte arrives */
	ng_stream_init(&s, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(wire) - 1; i++) {
		long n;

		assert_int_equal(ng_stream_feed(&s, wire + i, 1), 0);
		n = ng_stream_next(&s, &m);
		if (i == 19) {
			assert_int_equal(n, 20);
			assert_memory_equal(m, "a1 d7:command4:pinge", 20);
		} else if (i == sizeof(wire) - 2) {
			assert_int_equal(n, 35);
			assert_memory_equal(m, "b2 d7:command5:query7:call-id3:xyze", 35);
		} else {
			assert_int_equal(n, 0);
		}
	}
	assert_int_equal(ng_stream_next(&s, &m), 0);
	/* garbage and overflow close the stream */
	ng_stream_init(&s, buf, sizeof(buf));
	assert_int_equal(ng_stream_feed(&s, "c x", 3), 0);
	assert_int_equal(ng_stream_next(&s, &m), NG_E_STREAM);
	ng_stream_init(&s, buf, 16);
	assert_int_equal(ng_stream_feed(&s, "c d3:abc", 8), 0);
	assert_int_equal(ng_stream_feed(&s, "3:def3:g", 8), 0);
	assert_int_equal(ng_stream_next(&s, &m), NG_E_STREAM); /* can never complete in 16 bytes */
	assert_int_equal(ng_stream_feed(&s, "x", 1), NG_E_STREAM);
}

static void test_cache(void **state)
{
	struct ng_cache c;
	const char *r;
	size_t rl;
	char key[8];

	(void)state;
	assert_int_equal(ng_cache_init(&c, 4, 100, NG_CACHE_TTL_MS), 0);
	assert_null(ng_cache_get(&c, "k1", 2, 0, &rl));
	assert_int_equal(ng_cache_put(&c, "k1", 2, "reply-1", 7, 1000), 0);
	r = ng_cache_get(&c, "k1", 2, 1500, &rl);
	assert_non_null(r);
	assert_int_equal(rl, 7);
	assert_memory_equal(r, "reply-1", 7);
	/* expired after the TTL */
	assert_non_null(ng_cache_get(&c, "k1", 2, 1000 + NG_CACHE_TTL_MS - 1, &rl));
	assert_null(ng_cache_get(&c, "k1", 2, 1000 + NG_CACHE_TTL_MS, &rl));
	assert_int_equal(c.count, 0);
	/* count bound: the oldest goes */
	for (int i = 0; i < 6; i++) {
		snprintf(key, sizeof(key), "c%d", i);
		assert_int_equal(ng_cache_put(&c, key, strlen(key), key, strlen(key), 2000 + (uint64_t)i), 0);
	}
	assert_int_equal(c.count, 4);
	assert_null(ng_cache_get(&c, "c0", 2, 2010, &rl));
	assert_null(ng_cache_get(&c, "c1", 2, 2010, &rl));
	r = ng_cache_get(&c, "c5", 2, 2010, &rl);
	assert_non_null(r);
	assert_memory_equal(r, "c5", 2);
	/* byte bound */
	{
		char big[95];

		memset(big, 'b', sizeof(big));
		assert_int_equal(ng_cache_put(&c, "big", 3, big, sizeof(big), 2020), 0);
		assert_true(c.bytes <= 100);
		assert_null(ng_cache_get(&c, "c3", 2, 2020, &rl));
		assert_non_null(ng_cache_get(&c, "c4", 2, 2020, &rl));
		assert_non_null(ng_cache_get(&c, "big", 3, 2020, &rl));
		assert_int_equal(ng_cache_put(&c, "huge", 4, big, 101, 2020), -E2BIG);
	}
	assert_int_equal(ng_cache_put(&c, key, NG_CACHE_KEY_MAX + 1, "x", 1, 0), -EINVAL);
	ng_cache_free(&c);
	assert_int_equal(ng_cache_init(&c, 0, 100, 1), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_answer_and_others),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_supports),
		cmocka_unit_test(test_flags_cap),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
