/* Prometheus endpoint tests: the rendered text read back against the 0.0.4 grammar and the
 * counters of a real packet core, bounded output, and the HTTP responder on good and hostile
 * requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "ctl_metrics.h"
#include "ice_warn.h"

#define GW_IP 0xcb007101u
static const uint8_t GW_MAC[6] = {2, 0, 0, 0, 0, 1};

/* Ethernet + IPv4 + UDP (or another protocol), enough for the classifier's early drops. */
static uint16_t mk_frame(uint8_t *f, uint16_t ethertype, uint8_t proto, uint32_t dip,
			 uint16_t dport)
{
	uint8_t *ip = f + 14, *udp = ip + 20;

	memset(f, 0, 14 + 20 + 8 + 12);
	memcpy(f, GW_MAC, 6);
	f[6] = 2;
	f[12] = (uint8_t)(ethertype >> 8);
	f[13] = (uint8_t)ethertype;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 12;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = proto;
	ip[12] = 192, ip[13] = 0, ip[14] = 2, ip[15] = 9;
	ip[16] = (uint8_t)(dip >> 24), ip[17] = (uint8_t)(dip >> 16);
	ip[18] = (uint8_t)(dip >> 8), ip[19] = (uint8_t)dip;
	udp[0] = 0x9c, udp[1] = 0x40;
	udp[2] = (uint8_t)(dport >> 8), udp[3] = (uint8_t)dport;
	udp[5] = 8 + 12;
	udp[8] = 0x80; /* RTP version 2 */
	return 14 + 20 + 8 + 12;
}

static void push(struct dp_core *c, uint16_t ethertype, uint8_t proto, uint32_t dip,
		 uint16_t dport, unsigned times)
{
	for (unsigned i = 0; i < times; i++) {
		uint8_t f[256];
		uint16_t len = mk_frame(f, ethertype, proto, dip, dport);

		assert_int_equal(dp_core_rx(c, 1000000, f, &len, sizeof(f)), DP_VERDICT_DROP);
	}
}

/* ---- a reader of the text format, strict where the format is ---- */

#define FAM_MAX 64

struct fam {
	char name[96];
	char type[16];
	bool help, closed;
	unsigned samples;
};

struct parsed {
	struct fam fam[FAM_MAX];
	unsigned nfam;
	int cur;  /* family whose samples may follow */
};

static bool name_ok(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':';
		if (!alpha && !(i > 0 && ch >= '0' && ch <= '9'))
			return false;
	}
	return true;
}

static struct fam *fam_get(struct parsed *p, const char *name, size_t n, bool create)
{
	for (unsigned i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == n && !memcmp(p->fam[i].name, name, n))
			return &p->fam[i];
	if (!create)
		return NULL;
	assert_true(p->nfam < FAM_MAX && n < sizeof(p->fam[0].name));
	memcpy(p->fam[p->nfam].name, name, n);
	return &p->fam[p->nfam++];
}

static void begin_family(struct parsed *p, struct fam *f)
{
	int idx = (int)(f - p->fam);

	if (p->cur != idx && p->cur >= 0)
		p->fam[p->cur].closed = true;
	assert_false(f->closed); /* a family's lines are contiguous */
	p->cur = idx;
}

/* Check one sample line; returns its value. */
static uint64_t check_sample(struct parsed *p, const char *l, size_t n)
{
	size_t i = 0, name_end;
	struct fam *f;
	char num[32];

	while (i < n && l[i] != '{' && l[i] != ' ')
		i++;
	name_end = i;
	assert_true(name_ok(l, name_end));
	f = fam_get(p, l, name_end, false);
	assert_non_null(f); /* TYPE came first */
	assert_int_equal(p->cur, (int)(f - p->fam));
	if (!strcmp(f->type, "counter"))
		assert_true(name_end > 6 && !memcmp(l + name_end - 6, "_total", 6));
	if (i < n && l[i] == '{') {
		i++;
		for (;;) {
			size_t k0 = i;
			while (i < n && l[i] != '=')
				i++;
			assert_true(name_ok(l + k0, i - k0));
			assert_true(i + 1 < n && l[i + 1] == '"');
			i += 2;
			while (i < n && l[i] != '"') {
				assert_true(l[i] != '\n');
				if (l[i] == '\\') {
					assert_true(i + 1 < n && strchr("\\\"n", l[i + 1]));
					i++;
				}
				i++;
			}
			assert_true(i < n);
			i++;
			if (l[i] == ',') {
				i++;
				continue;
			}
			assert_int_equal(l[i], '}');
			i++;
			break;
		}
	}
	assert_int_equal(l[i], ' ');
	i++;
	assert_true(n - i > 0 && n - i < sizeof(num));
	memcpy(num, l + i, n - i);
	num[n - i] = 0;
	for (size_t k = 0; num[k]; k++)
		assert_true(num[k] >= '0' && num[k] <= '9');
	f->samples++;
	return strtoull(num, NULL, 10);
}

static void check_grammar(const char *text, size_t len)
{
	static struct parsed p;
	size_t off = 0;

	memset(&p, 0, sizeof(p));
	p.cur = -1;
	assert_int_equal(strlen(text), len);
	assert_true(len > 0 && text[len - 1] == '\n');
	while (off < len) {
		const char *l = text + off, *nl = memchr(l, '\n', len - off);
		size_t n = (size_t)(nl - l);

		assert_non_null(nl);
		assert_true(n > 0);
		if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
			const char *nm = l + 7, *sp = memchr(nm, ' ', n - 7);
			struct fam *f;

			assert_non_null(sp);
			assert_true(name_ok(nm, (size_t)(sp - nm)));
			f = fam_get(&p, nm, (size_t)(sp - nm), true);
			begin_family(&p, f);
			assert_int_equal(f->samples, 0); /* HELP / TYPE before samples */
			if (l[2] == 'H') {
				assert_false(f->help);
				f->help = true;
			} else {
				size_t tl = n - (size_t)(sp + 1 - l);
				assert_int_equal(f->type[0], 0);
				assert_true(tl < sizeof(f->type));
				memcpy(f->type, sp + 1, tl);
				assert_true(!strcmp(f->type, "counter") || !strcmp(f->type, "gauge"));
			}
		} else {
			assert_int_not_equal(l[0], '#');
			check_sample(&p, l, n);
		}
		off += n + 1;
	}
	for (unsigned i = 0; i < p.nfam; i++) {
		assert_true(p.fam[i].help);
		assert_int_not_equal(p.fam[i].type[0], 0);
	}
}

/* The value of the sample "name{labels}" (exactly as written), or -1. */
static int64_t sample(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		if (!strncmp(l, key, kl) && l[kl] == ' ')
			return (int64_t)strtoull(l + kl + 1, NULL, 10);
		l = nl ? nl + 1 : l + strlen(l);
	}
	return -1;
}

static struct dp_core core0, core1;
static char text[1 << 17];

static long render_fixture(struct ctl_stats *cs)
{
	const struct dp_core *cores[3] = {&core0, NULL, &core1};

	memset(cs, 0, sizeof(*cs));
	memset(&core0, 0, sizeof(core0));
	memset(&core1, 0, sizeof(core1));
	assert_int_equal(dp_core_init(&core0, GW_IP, GW_MAC, 16, 1, calloc, 1000000), 0);
	assert_int_equal(dp_core_init(&core1, GW_IP, GW_MAC, 16, 2, calloc, 1000000), 0);
	push(&core0, 0x86dd, 17, GW_IP, 30000, 2);      /* IPv6: not_ip */
	push(&core0, 0x0800, 6, GW_IP, 30000, 1);       /* TCP: not_udp */
	push(&core0, 0x0800, 17, GW_IP, 30000, 3);      /* no leg on the port */
	push(&core1, 0x0800, 17, 0x0a000001, 30000, 4); /* not for us */
	cs->offers = 7;
	cs->answers = 5;
	cs->lists = 1;
	cs->calls = 3;
	cs->peak_calls = 9;
	cs->calls_created = 12;
	cs->port_exhausted = 2;
	ctl_metrics_note_warn(&cs->ice_warn, true, ICE_WARN_LOCAL_CONNECTIVITY_FAILED |
							ICE_WARN_TCP_NAT_FAILED | 0x800);
	ctl_metrics_note_warn(&cs->ice_warn, false, 0);
	ctl_metrics_note_warn(&cs->ice_warn, false, ICE_WARN_LOCAL_CONNECTIVITY_FAILED);
	return ctl_metrics_render(text, sizeof(text), cs, cores, 3);
}

static void test_render_grammar_and_values(void **state)
{
	struct ctl_stats cs;
	long n = render_fixture(&cs);

	(void)state;
	assert_true(n > 0);
	check_grammar(text, (size_t)n);
	assert_int_equal(sample(text, "icegw_rx_packets_total{core=\"0\"}"), 6);
	assert_int_equal(sample(text, "icegw_rx_packets_total{core=\"2\"}"), 4);
	assert_int_equal(sample(text, "icegw_rx_packets_total{core=\"1\"}"), -1); /* NULL core */
	assert_int_equal(sample(text, "icegw_drops_total{core=\"0\",reason=\"not_ip\"}"),
			 (int64_t)core0.st.drops[DP_DROP_NOT_IP]);
	assert_int_equal(core0.st.drops[DP_DROP_NOT_IP], 2);
	assert_int_equal(sample(text, "icegw_drops_total{core=\"0\",reason=\"not_udp\"}"), 1);
	assert_int_equal(sample(text, "icegw_drops_total{core=\"0\",reason=\"no_leg\"}"), 3);
	assert_int_equal(sample(text, "icegw_drops_total{core=\"0\",reason=\"wrong_source\"}"), 0);
	assert_int_equal(sample(text, "icegw_drops_total{core=\"2\",reason=\"not_for_us\"}"), 4);
	assert_int_equal(sample(text, "icegw_legs_active{core=\"0\"}"), 0);
	assert_int_equal(sample(text, "icegw_tx_generated_packets_total{core=\"0\"}"), 0);
	assert_int_equal(sample(text, "icegw_arp_requests_total{core=\"0\"}"), 0);
	assert_int_equal(sample(text, "icegw_ice_consent_lost_total{core=\"0\"}"), 0);
	assert_int_equal(sample(text, "icegw_sessions"), 3);
	assert_int_equal(sample(text, "icegw_sessions_peak"), 9);
	assert_int_equal(sample(text, "icegw_sessions_created_total"), 12);
	assert_int_equal(sample(text, "icegw_ng_commands_total{command=\"offer\"}"), 7);
	assert_int_equal(sample(text, "icegw_ng_commands_total{command=\"list\"}"), 1);
	assert_int_equal(sample(text, "icegw_port_exhausted_total"), 2);
	assert_int_equal(sample(text, "icegw_ice_ended_total{outcome=\"failed\"}"), 1);
	assert_int_equal(sample(text, "icegw_ice_ended_total{outcome=\"completed\"}"), 2);
	assert_int_equal(sample(text, "icegw_ice_warn_total{flag=\"NONE\"}"), 1);
	assert_int_equal(sample(text, "icegw_ice_warn_total{flag=\"LOCAL_CONNECTIVITY_FAILED\"}"), 2);
	assert_int_equal(sample(text, "icegw_ice_warn_total{flag=\"TCP_NAT_FAILED\"}"), 1);
	assert_int_equal(sample(text, "icegw_ice_warn_total{flag=\"USE_CANDIDATE_FAILED\"}"), 0);
	assert_int_equal(sample(text, "icegw_ice_warn_total{flag=\"UNKNOWN_0x800\"}"), 1);
	dp_core_free(&core0, free);
	dp_core_free(&core1, free);
}

static void test_render_bounded(void **state)
{
	static char small[1 << 17];
	struct ctl_stats cs;
	long full = render_fixture(&cs);
	const struct dp_core *cores[3] = {&core0, NULL, &core1};

	(void)state;
	assert_true(full > 0);
	assert_int_equal(ctl_metrics_render(small, 0, &cs, cores, 3), -ENOSPC);
	/* every capacity up to the length fails cleanly and writes nothing past cap */
	for (size_t cap = 1; cap <= (size_t)full + 1; cap += cap < 64 ? 1 : 97) {
		long n;

		memset(small, 0x5a, sizeof(small));
		n = ctl_metrics_render(small, cap, &cs, cores, 3);
		assert_true(n == -ENOSPC || (size_t)n < cap);
		if (n == -ENOSPC)
			assert_int_equal(small[0], 0);
		for (size_t k = cap; k < cap + 64; k++)
			assert_int_equal((unsigned char)small[k], 0x5a);
	}
	assert_int_equal(ctl_metrics_render(small, (size_t)full, &cs, cores, 3), -ENOSPC);
	assert_int_equal(ctl_metrics_render(small, (size_t)full + 1, &cs, cores, 3), full);
	assert_memory_equal(small, text, (size_t)full + 1);
	dp_core_free(&core0, free);
	dp_core_free(&core1, free);
}

static void test_escape(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(ctl_metrics_escape(out, sizeof(out), "a\\b\"c\nd"), 10);
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	assert_int_equal(ctl_metrics_escape(out, sizeof(out), "plain"), 5);
	assert_int_equal(ctl_metrics_escape(out, 5, "plain"), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(ctl_metrics_escape(out, 3, "a\""), -ENOSPC);
	assert_int_equal(ctl_metrics_escape(out, 4, "a\""), 3);
	assert_int_equal(ctl_metrics_escape(out, 0, ""), -ENOSPC);
}

/* ---- HTTP ---- */

static char resp[1 << 16];
static const char BODY[] = "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n";

static long http(const char *req)
{
	memset(resp, 0, sizeof(resp));
	return ctl_metrics_http(req, strlen(req), resp, sizeof(resp), BODY, strlen(BODY));
}

static void assert_status(const char *req, const char *status)
{
	long n = http(req);
	char want[64];

	assert_true(n > 0);
	snprintf(want, sizeof(want), "HTTP/1.0 %s", status);
	if (strncmp(resp, want, strlen(want)) != 0)
		fail_msg("request %.40s: got %.40s, want %s", req, resp, want);
}

static void test_http_ok(void **state)
{
	long n;
	char *hdr_end;

	(void)state;
	n = http("GET /metrics HTTP/1.0\r\n\r\n");
	assert_true(n > 0);
	assert_non_null(strstr(resp, "HTTP/1.0 200 OK\r\n"));
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
	hdr_end = strstr(resp, "\r\n\r\n");
	assert_non_null(hdr_end);
	assert_string_equal(hdr_end + 4, BODY);
	{
		char cl[64];
		snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(BODY));
		assert_non_null(strstr(resp, cl));
	}
	assert_int_equal((size_t)n, (size_t)(hdr_end + 4 - resp) + strlen(BODY));
	/* what Prometheus sends */
	assert_status("GET /metrics HTTP/1.1\r\nHost: 10.0.0.1:9100\r\nUser-Agent: Prometheus/2.45.0\r\n"
		      "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
		      "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
		      "200 OK");
	assert_status("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", "200 OK");
	assert_status("GET /metrics HTTP/1.0\n\n", "200 OK"); /* bare LF */
	/* HEAD: headers only */
	n = http("HEAD /metrics HTTP/1.0\r\n\r\n");
	assert_true(n > 0);
	assert_non_null(strstr(resp, "200 OK"));
	assert_string_equal(strstr(resp, "\r\n\r\n") + 4, "");
	/* the render failed: 500, never a 200 without metrics */
	n = ctl_metrics_http("GET /metrics HTTP/1.0\r\n\r\n", 25, resp, sizeof(resp), NULL, 0);
	assert_true(n > 0);
	assert_memory_equal(resp, "HTTP/1.0 500 ", 13);
}

static void test_http_errors(void **state)
{
	(void)state;
	assert_status("GET / HTTP/1.0\r\n\r\n", "404 ");
	assert_status("GET /metricsx HTTP/1.0\r\n\r\n", "404 ");
	assert_status("POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", "405 ");
	assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
	assert_status("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "405 ");
	/* malformed */
	assert_status("", "400 ");
	assert_status("\r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.0\r\n", "400 ");           /* no blank line */
	assert_status("GET /metr", "400 ");                          /* partial */
	assert_status("GET /metrics\r\n\r\n", "400 ");               /* HTTP/0.9 */
	assert_status("GET /metrics HTTP/2.0\r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.1\r\n\r\n", "400 ");      /* 1.1 without Host */
	assert_status("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400 ");
	assert_status("GET  /metrics HTTP/1.0\r\n\r\n", "400 ");
	assert_status("GET metrics HTTP/1.0\r\n\r\n", "400 ");
	assert_status("GET http://x/metrics HTTP/1.0\r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.0 \r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.0\r\nBad Header: x\r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.0\r\nHost : x\r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.0\r\nA: b\r\n folded\r\n\r\n", "400 ");
	assert_status("GET /metrics HTTP/1.0\r\nA: b\x01\r\n\r\n", "400 ");
	assert_status("GET /m\xc3\xa9trics HTTP/1.0\r\n\r\n", "400 ");
	assert_status("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "400 "); /* TLS hello */
	{
		/* a NUL inside: the length counts, not the C string */
		static const char nul[] = "GET /metrics HTTP/1.0\r\nA: \0b\r\n\r\n";
		assert_true(ctl_metrics_http(nul, sizeof(nul) - 1, resp, sizeof(resp), BODY,
					     strlen(BODY)) > 0);
		assert_memory_equal(resp, "HTTP/1.0 400 ", 13);
		assert_true(ctl_metrics_http_ready(nul, 27));
	}
	{
		/* huge: a valid start followed by endless headers */
		static char big[CTL_METRICS_REQ_MAX * 2];
		size_t n = (size_t)snprintf(big, sizeof(big), "GET /metrics HTTP/1.0\r\n");
		while (n + 12 < sizeof(big) - 8)
			n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad: yyy\r\n");
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
		assert_true(n > CTL_METRICS_REQ_MAX);
		assert_true(ctl_metrics_http_ready(big, CTL_METRICS_REQ_MAX));
		assert_true(ctl_metrics_http(big, n, resp, sizeof(resp), BODY, strlen(BODY)) > 0);
		assert_memory_equal(resp, "HTTP/1.0 400 ", 13);
	}
}

static void test_http_ready(void **state)
{
	(void)state;
	assert_false(ctl_metrics_http_ready("", 0));
	assert_false(ctl_metrics_http_ready("GET /metr", 9));
	assert_false(ctl_metrics_http_ready("GET /metrics HTTP/1.0\r\n", 23));
	assert_true(ctl_metrics_http_ready("GET /metrics HTTP/1.0\r\n\r\n", 25));
	assert_true(ctl_metrics_http_ready("GET /metrics HTTP/1.0\n\n", 23));
	assert_true(ctl_metrics_http_ready("\x16\x03\x01", 3));
}

static void test_http_bounded(void **state)
{
	static char out[512];
	const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
	long full;

	(void)state;
	full = ctl_metrics_http(req, strlen(req), out, sizeof(out), BODY, strlen(BODY));
	assert_true(full > 0);
	for (size_t cap = 0; cap < (size_t)full + 8 && cap + 16 < sizeof(out); cap++) {
		long n;

		memset(out, 0x5a, sizeof(out));
		n = ctl_metrics_http(req, strlen(req), out, cap, BODY, strlen(BODY));
		/* too small for the 200: a 500 if that fits, else nothing */
		assert_true(n == -ENOSPC || (n > 0 && (size_t)n <= cap));
		if (n > 0 && (size_t)n < (size_t)full)
			assert_memory_equal(out, "HTTP/1.0 500 ", 13);
		for (size_t k = cap; k < cap + 16; k++)
			assert_int_equal((unsigned char)out[k], 0x5a);
	}
}

/* Random and mutated requests: always a well-formed status line, never past the buffer. */
static void test_http_garbage(void **state)
{
	static const char good[] = "GET /metrics HTTP/1.1\r\nHost: gw\r\nAccept: */*\r\n\r\n";
	static char req[256], out[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int it = 0; it < 20000; it++) {
		size_t len;
		long n;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (it & 1) {
			len = x % sizeof(req);
			for (size_t i = 0; i < len; i++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				req[i] = (char)x;
			}
		} else {
			len = sizeof(good) - 1;
			memcpy(req, good, len);
			for (int m = 0; m < 3; m++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				req[x % len] = (char)(x >> 32);
			}
			len -= (x >> 40) % 4 == 0 ? (x >> 48) % len : 0;
		}
		memset(out + 1024, 0x5a, 64);
		n = ctl_metrics_http(req, len, out, 1024, BODY, strlen(BODY));
		assert_true(n > 0 && n <= 1024);
		assert_memory_equal(out, "HTTP/1.0 ", 9);
		assert_true(!memcmp(out + 9, "200 ", 4) || !memcmp(out + 9, "400 ", 4) ||
			    !memcmp(out + 9, "404 ", 4) || !memcmp(out + 9, "405 ", 4));
		for (int k = 0; k < 64; k++)
			assert_int_equal((unsigned char)out[1024 + k], 0x5a);
		(void)ctl_metrics_http_ready(req, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_grammar_and_values),
		cmocka_unit_test(test_render_bounded),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_http_ok),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_ready),
		cmocka_unit_test(test_http_bounded),
		cmocka_unit_test(test_http_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
