/* Tests of ice/ice_warn: the flag table against seed 000, value parsing and formatting,
 * and the ms-client-diagnostics reader on seed 002's header and on hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ice_warn.h"

/* Seed 000, written out independently of ice_warn.h: each bit and a phrase of its
 * description that the table's meaning must keep. */
static const struct {
	uint32_t value;
	const char *phrase;
} seed000[] = {
	{0x1, "TURN server is unreachable"},
	{0x2, "allocate a UDP port on the TURN server failed"},
	{0x4, "send UDP on the TURN server failed"},
	{0x8, "allocate a TCP port on the TURN server failed"},
	{0x10, "send TCP on the TURN server failed"},
	{0x20, "Local connectivity failed"},
	{0x40, "UDP NAT connectivity failed"},
	{0x80, "UDP TURN server connectivity failed"},
	{0x100, "TCP NAT connectivity failed"},
	{0x200, "TCP TURN server connectivity failed"},
	{0x400, "Message integrity failed"},
	{0x1000, "policy server was configured"},
	{0x2000, "memory problem"},
	{0x4000, "TURN server credentials have expired or are unknown"},
	{0x8000, "Bandwidth policy restriction has removed some candidates"},
	{0x10000, "Bandwidth policy restriction decreases the bandwidth"},
	{0x20000, "Bandwidth policy keepalive failed"},
	{0x40000, "Bandwidth policy allocation failure"},
	{0x80000, "No TURN server configured"},
	{0x100000, "Multiple TURN servers configured"},
	{0x200000, "Port range exhausted"},
	{0x400000, "Received alternate server"},
	{0x800000, "Pseudo-TLS failure"},
	{0x1000000, "HTTP proxy configured"},
	{0x2000000, "HTTP proxy authentication failed"},
	{0x4000000, "TCP-TCP connectivity checks failed over the TURN server"},
	{0x80000000, "Use candidate checks failed"},
};

/* The flags seed 000 says do not indicate an ICE failure. */
static const uint32_t seed000_info = 0x1000 | 0x10000 | 0x20000 | 0x100000 | 0x1000000;

/* Seed 002's header byte for byte: U+201C / U+201D around the reason, U+201D and U+2033
 * (double prime) around CallerMediaDebug. */
static const char seed002[] =
	"ms-client-diagnostics: 24; reason=\xe2\x80\x9c"
	"Call failed to establish due to a media connectivity failure when both endpoints are "
	"remote\xe2\x80\x9d;CallerMediaDebug=\xe2\x80\x9d"
	"application-sharing:ICEWarn=0x320,,,RemoteSite=,PortRange=50040:50049,"
	"LocalMRTCPPort=57498,LocalLocation=1,RemoteLocation=1,FederationType=0\xe2\x80\xb3";

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] && (hay[i] | 0x20) == (needle[i] | 0x20))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

static bool str_is(struct ice_warn_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* Parse from an exact-size heap copy, so that ASan sees any read past the end. The copy
 * lives until the next call, as the results point into it. */
static char *last_copy;

static int parse_exact(const char *src, size_t len, struct ice_warn_diag *d)
{
	free(last_copy);
	last_copy = malloc(len ? len : 1);
	assert_non_null(last_copy);
	memcpy(last_copy, src, len);
	return ice_warn_parse_header(last_copy, len, d);
}

static int free_copy(void **state)
{
	(void)state;
	free(last_copy);
	last_copy = NULL;
	return 0;
}

static void test_table_matches_seed(void **state)
{
	size_t n;
	const struct ice_warn_flag *t = ice_warn_table(&n);
	uint32_t all = 0;

	(void)state;
	assert_int_equal(n, sizeof(seed000) / sizeof(seed000[0]));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(t[i].value, seed000[i].value);
		assert_ptr_equal(ice_warn_lookup(seed000[i].value), &t[i]);
		if (!contains_ci(t[i].meaning, seed000[i].phrase))
			fail_msg("0x%x: meaning \"%s\" lost \"%s\"", t[i].value, t[i].meaning,
				 seed000[i].phrase);
		assert_true(strlen(t[i].action) > 10);
		assert_true(t[i].meaning[strlen(t[i].meaning) - 1] != '.');
		for (const char *c = t[i].name; *c; c++)
			assert_true((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(t[i].name, t[j].name);
		all |= t[i].value;
	}
	assert_int_equal(all, (uint32_t)ICE_WARN_KNOWN_MASK);
	assert_int_equal(all, 0x87fff7ffu);
	assert_int_equal(ICE_WARN_TURN_UNREACHABLE, 0x1);
	assert_int_equal(ICE_WARN_LOCAL_CONNECTIVITY_FAILED, 0x20);
	assert_int_equal(ICE_WARN_TURN_CREDENTIALS, 0x4000);
	assert_int_equal(ICE_WARN_PORT_RANGE_EXHAUSTED, 0x200000);
	assert_int_equal((uint32_t)ICE_WARN_USE_CANDIDATE_FAILED, 0x80000000u);
}

static void test_severity(void **state)
{
	size_t n;
	const struct ice_warn_flag *t = ice_warn_table(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		bool info = (t[i].value & seed000_info) != 0;
		if (info != (t[i].sev == ICE_WARN_SEV_INFO))
			fail_msg("0x%x: severity %s", t[i].value, ice_warn_sev_name(t[i].sev));
	}
	assert_int_equal(ice_warn_lookup(0x400)->sev, ICE_WARN_SEV_FAILURE);
	assert_int_equal(ice_warn_lookup(0x4000)->sev, ICE_WARN_SEV_FAILURE);
	assert_int_equal(ice_warn_lookup(0x100)->sev, ICE_WARN_SEV_EXPECTED);
	assert_int_equal(ice_warn_lookup(0x200)->sev, ICE_WARN_SEV_EXPECTED);
	/* a failure outranks any number of expected flags, whatever the bit order */
	assert_int_equal(ice_warn_worst(0x4000320)->value, 0x4000000);
	assert_int_equal(ice_warn_worst(0x1000 | 0x20)->value, 0x20);
	assert_int_equal(ice_warn_worst(0x1000)->value, 0x1000);
	assert_null(ice_warn_worst(0));
	assert_null(ice_warn_worst(0x800));
}

static void test_0x320(void **state)
{
	static const uint32_t want[] = {0x20, 0x100, 0x200};
	char buf[ICE_WARN_FORMAT_MAX];
	unsigned pos, n = 0;
	uint32_t bit;

	(void)state;
	ice_warn_foreach_bit(bit, pos, 0x320) {
		assert_true(n < 3);
		assert_int_equal(bit, want[n]);
		assert_non_null(ice_warn_lookup(bit));
		n++;
	}
	assert_int_equal(n, 3);
	assert_string_equal(ice_warn_lookup(0x20)->name, "LOCAL_CONNECTIVITY_FAILED");
	assert_string_equal(ice_warn_lookup(0x100)->name, "TCP_NAT_FAILED");
	assert_string_equal(ice_warn_lookup(0x200)->name, "TCP_TURN_FAILED");

	int len = ice_warn_format(buf, sizeof(buf), 0x320);
	assert_string_equal(buf, "0x320 = LOCAL_CONNECTIVITY_FAILED|TCP_NAT_FAILED|TCP_TURN_FAILED");
	assert_int_equal(len, strlen(buf));
	len = ice_warn_format_reason(buf, sizeof(buf), 0x320);
	assert_string_equal(buf, "ICEWarn=0x320; reason=\"TCP TURN server connectivity failed "
				 "(and 2 more warnings)\"");
	assert_int_equal(len, strlen(buf));
	ice_warn_format_reason(buf, sizeof(buf), 0x4000);
	assert_string_equal(buf, "ICEWarn=0x4000; reason=\"TURN server credentials have expired "
				 "or are unknown\"");
	ice_warn_format_reason(buf, sizeof(buf), 0);
	assert_string_equal(buf, "ICEWarn=0x0; reason=\"" ICE_WARN_NONE_MEANING "\"");
	ice_warn_format(buf, sizeof(buf), 0);
	assert_string_equal(buf, "0x0 = NONE");
}

static void test_unknown_bits(void **state)
{
	char buf[ICE_WARN_FORMAT_MAX];
	unsigned pos, n = 0;
	uint32_t bit;

	(void)state;
	assert_null(ice_warn_lookup(0x800));
	assert_null(ice_warn_lookup(0x8000000));
	assert_null(ice_warn_lookup(0x40000000));
	assert_null(ice_warn_lookup(0));
	assert_null(ice_warn_lookup(0x3));  /* two known bits are not one flag */
	ice_warn_foreach_bit(bit, pos, 0x820) {
		assert_int_equal(bit, n == 0 ? 0x20 : 0x800);
		n++;
	}
	assert_int_equal(n, 2);
	ice_warn_format(buf, sizeof(buf), 0x800);
	assert_string_equal(buf, "0x800 = UNKNOWN(0x800)");
	ice_warn_format(buf, sizeof(buf), 0x40000820);
	assert_string_equal(buf, "0x40000820 = LOCAL_CONNECTIVITY_FAILED|UNKNOWN(0x40000800)");
	ice_warn_format_reason(buf, sizeof(buf), 0x800);
	assert_string_equal(buf, "ICEWarn=0x800; reason=\"Unknown ICEWarn flags 0x800\"");
	ice_warn_format_reason(buf, sizeof(buf), 0x820);
	assert_string_equal(buf, "ICEWarn=0x820; reason=\"Local connectivity failed (local UDP "
				 "for audio/video, local TCP for application sharing and file "
				 "transfer) (and 1 more warning)\"");
	n = 0;
	ice_warn_foreach_bit(bit, pos, 0xffffffffu)
		n++;
	assert_int_equal(n, 32);
}

static void test_format_nospace(void **state)
{
	char buf[ICE_WARN_FORMAT_MAX];

	(void)state;
	assert_true(ice_warn_format(buf, sizeof(buf), 0xffffffffu) > 0);
	assert_non_null(strstr(buf, "|USE_CANDIDATE_FAILED|UNKNOWN(0x78000800)"));
	assert_true(ice_warn_format_reason(buf, sizeof(buf), 0xffffffffu) > 0);
	assert_non_null(strstr(buf, "(and 31 more warnings)"));

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(ice_warn_format(buf, 12, 0x320), ICE_WARN_E_NOSPACE);
	assert_string_equal(buf, "0x320 = LOC");
	assert_int_equal(buf[12], 'x');
	assert_int_equal(ice_warn_format_reason(buf, 5, 0x320), ICE_WARN_E_NOSPACE);
	assert_string_equal(buf, "ICEW");
	buf[0] = 'x';
	assert_int_equal(ice_warn_format(buf, 0, 0x320), ICE_WARN_E_NOSPACE);
	assert_int_equal(buf[0], 'x');
	/* exactly enough room */
	assert_int_equal(ice_warn_format(buf, 23, 0x100), 22);
	assert_int_equal(ice_warn_format(buf, 22, 0x100), ICE_WARN_E_NOSPACE);
}

static void check_parse(const char *s, int rc_want, uint32_t want)
{
	uint32_t v = 0xdeadbeef;
	int rc = ice_warn_parse(s, s ? strlen(s) : 0, &v);

	if (rc != rc_want)
		fail_msg("\"%s\": rc %d (%s), want %d", s ? s : "(null)", rc, ice_warn_strerror(rc),
			 rc_want);
	assert_int_equal(v, rc == 0 ? want : 0xdeadbeef);
}

static void test_parse(void **state)
{
	(void)state;
	check_parse("0x320", 0, 0x320);
	check_parse("0X320", 0, 0x320);
	check_parse("0x0000000000320", 0, 0x320);
	check_parse("800", 0, 800);
	check_parse("0800", 0, 800);   /* never octal */
	check_parse("320h", 0, 0x320);
	check_parse("ffH", 0, 0xff);
	check_parse("0", 0, 0);
	check_parse("0x0", 0, 0);
	check_parse("0xffffffff", 0, 0xffffffffu);
	check_parse("4294967295", 0, 0xffffffffu);
	check_parse("0x80000000", 0, 0x80000000u);

	check_parse("", ICE_WARN_E_EMPTY, 0);
	check_parse(NULL, ICE_WARN_E_EMPTY, 0);
	check_parse("0x", ICE_WARN_E_EMPTY, 0);
	check_parse("h", ICE_WARN_E_EMPTY, 0);
	check_parse("zz", ICE_WARN_E_SYNTAX, 0);
	check_parse("0xzz", ICE_WARN_E_SYNTAX, 0);
	check_parse("ffff", ICE_WARN_E_SYNTAX, 0);   /* hex needs 0x or h */
	check_parse("0x320h", ICE_WARN_E_SYNTAX, 0);
	check_parse("0x-1", ICE_WARN_E_SYNTAX, 0);
	check_parse("+1", ICE_WARN_E_SYNTAX, 0);
	check_parse(" 0x1", ICE_WARN_E_SYNTAX, 0);
	check_parse("0x1 ", ICE_WARN_E_SYNTAX, 0);
	check_parse("1e3", ICE_WARN_E_SYNTAX, 0);
	check_parse("99999999999zz", ICE_WARN_E_SYNTAX, 0);
	check_parse("-1", ICE_WARN_E_NEGATIVE, 0);
	check_parse("-0x320", ICE_WARN_E_NEGATIVE, 0);
	check_parse("4294967296", ICE_WARN_E_RANGE, 0);
	check_parse("0x100000000", ICE_WARN_E_RANGE, 0);
	check_parse("100000000h", ICE_WARN_E_RANGE, 0);
	check_parse("99999999999999999999999999999999", ICE_WARN_E_RANGE, 0);

	/* the length is honoured: no reliance on a terminator */
	uint32_t v;
	assert_int_equal(ice_warn_parse("0x320zz", 5, &v), 0);
	assert_int_equal(v, 0x320);
	assert_int_equal(ice_warn_parse("0x320", 3, &v), 0);
	assert_int_equal(v, 3);

	for (int e = ICE_WARN_E_ERR_MIN; e < 0; e++)
		assert_string_not_equal(ice_warn_strerror(e), "unknown error");
	assert_string_equal(ice_warn_strerror(ICE_WARN_E_ERR_MIN - 1), "unknown error");
	assert_string_equal(ice_warn_strerror(1), "unknown error");
}

static void test_header_seed002(void **state)
{
	struct ice_warn_diag d;

	(void)state;
	assert_int_equal(parse_exact(seed002, strlen(seed002), &d), 1);
	assert_int_equal(d.code, 24);
	assert_true(str_is(d.reason, "Call failed to establish due to a media connectivity "
				     "failure when both endpoints are remote"));
	assert_int_equal(d.n, 1);
	assert_true(str_is(d.media[0].param, "CallerMediaDebug"));
	assert_true(str_is(d.media[0].label, "application-sharing"));
	assert_int_equal(d.media[0].value, 0x320);

	/* the same header with ASCII quotes, a CRLF, no header name */
	static const char ascii[] =
		"24; reason=\"Call failed\";CallerMediaDebug=\"application-sharing:ICEWarn=0x320,"
		"PortRange=50040:50049\"\r\n";
	assert_int_equal(parse_exact(ascii, strlen(ascii), &d), 1);
	assert_int_equal(d.code, 24);
	assert_true(str_is(d.reason, "Call failed"));
	assert_true(str_is(d.media[0].label, "application-sharing"));
	assert_int_equal(d.media[0].value, 0x320);
}

static void test_header_several(void **state)
{
	struct ice_warn_diag d;
	static const char two[] =
		"MS-Client-Diagnostics : 23; reason=\"Call failed to establish due to a media "
		"connectivity failure when one endpoint is internal and the other is remote\";"
		"CallerMediaDebug=\"audio:ICEWarn=0x4000320,LocalSite=10.0.0.5:50012,"
		"LocalMR=192.0.2.1:3478,PortRange=1025:65000,ICEWarnEx=0x1|"
		"video:ICEWarn=0x300,LocalSite=10.0.0.5:50020\";"
		"CalleeMediaDebug=\"audio:ICEWarn=800h,RemoteSite=\"";

	(void)state;
	assert_int_equal(parse_exact(two, strlen(two), &d), 3);
	assert_int_equal(d.code, 23);
	assert_true(str_is(d.media[0].param, "CallerMediaDebug"));
	assert_true(str_is(d.media[0].label, "audio"));
	assert_int_equal(d.media[0].value, 0x4000320);
	assert_true(str_is(d.media[1].param, "CallerMediaDebug"));
	assert_true(str_is(d.media[1].label, "video"));
	assert_int_equal(d.media[1].value, 0x300);
	assert_true(str_is(d.media[2].param, "CalleeMediaDebug"));
	assert_true(str_is(d.media[2].label, "audio"));
	assert_int_equal(d.media[2].value, 0x800);

	/* sections separated by ',' keep working; an unlabelled value has an empty label */
	static const char comma[] =
		"ms-client-diagnostics: 24;CallerMediaDebug=audio:ICEWarn=0x1,video:ICEWarn=0x2;"
		"X=ICEWarn=0x4;;";
	assert_int_equal(parse_exact(comma, strlen(comma), &d), 3);
	assert_true(str_is(d.media[0].label, "audio"));
	assert_true(str_is(d.media[1].label, "video"));
	assert_int_equal(d.media[1].value, 2);
	assert_true(str_is(d.media[2].param, "X"));
	assert_int_equal(d.media[2].label.len, 0);
	assert_int_equal(d.media[2].value, 4);
	assert_int_equal(d.reason.len, 0);

	/* a well-formed header without ICEWarn */
	static const char none[] = "ms-client-diagnostics: 52001; reason=\"Client side general processing error\"";
	assert_int_equal(parse_exact(none, strlen(none), &d), 0);
	assert_int_equal(d.code, 52001);
	assert_true(str_is(d.reason, "Client side general processing error"));

	/* an escaped quote inside an ASCII quoted reason */
	static const char esc[] = "24; reason=\"say \\\"hi\\\"\";CallerMediaDebug=\"a:ICEWarn=1\"";
	assert_int_equal(parse_exact(esc, strlen(esc), &d), 1);
	assert_true(str_is(d.reason, "say \\\"hi\\\""));
}

static void check_header(const char *h, int want)
{
	struct ice_warn_diag d;
	int rc = parse_exact(h, strlen(h), &d);

	if (rc != want)
		fail_msg("\"%s\": rc %d (%s), want %d", h, rc, ice_warn_strerror(rc), want);
}

static void test_header_hostile(void **state)
{
	struct ice_warn_diag d;
	char big[ICE_WARN_HEADER_MAX + 64];

	(void)state;
	check_header("", ICE_WARN_E_NOT_HEADER);
	check_header("   \r\n", ICE_WARN_E_NOT_HEADER);
	check_header("hello world", ICE_WARN_E_NOT_HEADER);
	check_header("ms-client-diagnostics:", ICE_WARN_E_CODE);
	check_header("ms-client-diagnostics: ; reason=\"x\"", ICE_WARN_E_CODE);
	check_header("ms-client-diagnostics: 24x; reason=\"x\"", ICE_WARN_E_CODE);
	check_header("ms-client-diagnostics: 99999999999", ICE_WARN_E_CODE);
	check_header("ms-diagnostics: 24", ICE_WARN_E_NOT_HEADER);
	check_header("application-sharing:ICEWarn=0x320", ICE_WARN_E_NOT_HEADER);
	check_header("24 garbage", ICE_WARN_E_NOT_HEADER);
	check_header("24; =x", ICE_WARN_E_NOT_HEADER);
	check_header("24; reason", ICE_WARN_E_NOT_HEADER);
	check_header("24; rea son=x", ICE_WARN_E_NOT_HEADER);
	check_header("24; reason=\"unterminated", ICE_WARN_E_TRUNCATED);
	check_header("24; reason=\"ends in a backslash\\", ICE_WARN_E_TRUNCATED);
	check_header("24; reason=\"ends in half a quote\xe2\x80", ICE_WARN_E_TRUNCATED);
	check_header("24; reason=\xe2\x80\x9cunterminated", ICE_WARN_E_TRUNCATED);
	check_header("24; reason=\"x\" junk", ICE_WARN_E_NOT_HEADER);
	check_header("24;CallerMediaDebug=\"audio:ICEWarn=zz\"", ICE_WARN_E_SYNTAX);
	check_header("24;CallerMediaDebug=\"audio:ICEWarn=\"", ICE_WARN_E_EMPTY);
	check_header("24;CallerMediaDebug=\"audio:ICEWarn=-1\"", ICE_WARN_E_NEGATIVE);
	check_header("24;CallerMediaDebug=\"audio:ICEWarn=0x100000000\"", ICE_WARN_E_RANGE);
	check_header("24;CallerMediaDebug=\"a:ICEWarn=1|b:ICEWarn=2|c:ICEWarn=3|d:ICEWarn=4|"
		     "e:ICEWarn=5|f:ICEWarn=6|g:ICEWarn=7|h:ICEWarn=8|i:ICEWarn=9|j:ICEWarn=10|"
		     "k:ICEWarn=11|l:ICEWarn=12|m:ICEWarn=13|n:ICEWarn=14|o:ICEWarn=15|"
		     "p:ICEWarn=16\"", 16);
	check_header("24;CallerMediaDebug=\"a:ICEWarn=1|b:ICEWarn=2|c:ICEWarn=3|d:ICEWarn=4|"
		     "e:ICEWarn=5|f:ICEWarn=6|g:ICEWarn=7|h:ICEWarn=8|i:ICEWarn=9|j:ICEWarn=10|"
		     "k:ICEWarn=11|l:ICEWarn=12|m:ICEWarn=13|n:ICEWarn=14|o:ICEWarn=15|"
		     "p:ICEWarn=16|q:ICEWarn=17\"", ICE_WARN_E_TOO_MANY);

	/* overlong: refused before looking at it */
	memset(big, ' ', sizeof(big));
	memcpy(big, "24;", 3);
	assert_int_equal(ice_warn_parse_header(big, ICE_WARN_HEADER_MAX + 1, &d),
			 ICE_WARN_E_TOO_LONG);
	assert_int_equal(ice_warn_parse_header(big, ICE_WARN_HEADER_MAX, &d), 0);
	assert_int_equal(ice_warn_parse_header(NULL, 5, &d), ICE_WARN_E_NOT_HEADER);
	/* embedded NUL is just a byte that is not allowed there */
	assert_int_equal(parse_exact("24;\0reason=x", 12, &d), ICE_WARN_E_NOT_HEADER);

	/* every truncation of seed 002's header: a clean result, never a read past the end;
	 * a cut inside either quoted value (quote marks are 3 bytes) must say truncated */
	size_t full = strlen(seed002);
	size_t r_open = (size_t)(strstr(seed002, "reason=") - seed002) + strlen("reason=");
	size_t r_close = (size_t)(strstr(seed002, "remote\xe2") - seed002) + strlen("remote");
	size_t d_open = (size_t)(strstr(seed002, "Debug=") - seed002) + strlen("Debug=");
	size_t d_close = full - 3;
	for (size_t len = 0; len <= full; len++) {
		int rc = parse_exact(seed002, len, &d);
		bool in_reason = len >= r_open + 3 && len < r_close + 3;
		bool in_debug = len >= d_open + 3 && len < d_close + 3;
		if ((in_reason || in_debug) && rc != ICE_WARN_E_TRUNCATED)
			fail_msg("cut at %zu inside a quoted value: rc %d", len, rc);
		if (!in_reason && !in_debug && len != full && rc > 0)
			fail_msg("cut at %zu found an ICEWarn value", len);
		assert_true(rc >= ICE_WARN_E_ERR_MIN && rc <= 1);
	}
	assert_int_equal(parse_exact(seed002, full, &d), 1);
	assert_int_equal(parse_exact(seed002, full - 1, &d), ICE_WARN_E_TRUNCATED);

	/* pseudo-random bytes drawn from the header's own alphabet */
	static const char alphabet[] = "ms-client-diagnostics:24; reason=\"\xe2\x80\x9c\x9d\xb3"
				       "CallerMediaDebug=audio:ICEWarn=0x320,|\\ \r\n";
	uint32_t seed = 12345;
	char fuzz[200];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = 0;
		seed = seed * 1103515245u + 12345u;
		size_t want = (seed >> 16) % sizeof(fuzz);
		while (len < want) {
			seed = seed * 1103515245u + 12345u;
			fuzz[len++] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		int rc = parse_exact(fuzz, len, &d);
		assert_true(rc >= ICE_WARN_E_ERR_MIN && rc <= ICE_WARN_MAX_MEDIA);
		if (rc > 0)
			assert_int_equal((unsigned)rc, d.n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_seed),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_0x320),
		cmocka_unit_test(test_unknown_bits),
		cmocka_unit_test(test_format_nospace),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_header_seed002),
		cmocka_unit_test(test_header_several),
		cmocka_unit_test(test_header_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, free_copy);
}
