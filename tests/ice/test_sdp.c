/* Tests of ice/sdp: RFC 8839 and pjsip examples, the Microsoft forms (draft-06, TCP-ACT/PASS,
 * x-candidate-ipv6/info, remote-candidate), libnice SDP, every rejection, hostile input, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sdp.h"

/* Sessions are large (fixed capacities); keep them off the stack. */
static struct sdp_session sess;
static struct sdp_session sess2;

static int parse_str(struct sdp_session *s, const char *body)
{
	return sdp_parse(s, body, strlen(body));
}

/* Formats c and checks that the returned length is the text's. */
static void fmt_ok(char *buf, size_t len, const struct sdp_candidate *c, enum sdp_form form)
{
	int n = sdp_fmt_candidate(buf, len, c, form);

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
}

static void assert_ip(const struct ice_addr *a, const char *ip, unsigned port)
{
	struct ice_addr want;

	assert_int_equal(ice_addr_parse_ip_port(&want, ip, port), 0);
	assert_true(ice_addr_eq(a, &want));
}

/* RFC 8839 §5.1 example lines (documentation addresses). */
static void test_rfc8839_lines(void **state)
{
	struct sdp_candidate c;
	char buf[256];

	(void)state;
	assert_int_equal(sdp_parse_candidate(&c, "a=candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host"), 0);
	assert_string_equal(c.foundation, "1");
	assert_int_equal(c.component, 1);
	assert_int_equal(c.transport, SDP_TP_UDP);
	assert_int_equal(c.priority, 2130706431u);
	assert_ip(&c.addr, "203.0.113.141", 8998);
	assert_int_equal(c.type, SDP_CAND_HOST);
	assert_int_equal(c.form, SDP_FORM_RFC8839);
	assert_int_equal(c.flags, 0);

	assert_int_equal(sdp_parse_candidate(&c,
		"candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998\r\n"), 0);
	assert_int_equal(c.type, SDP_CAND_SRFLX);
	assert_true(c.flags & SDP_CAND_F_RADDR);
	assert_ip(&c.raddr, "203.0.113.141", 8998);
	fmt_ok(buf, sizeof(buf), &c, SDP_FORM_RFC8839);
	assert_string_equal(buf, "candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998");

	/* rport before raddr, lower-case tokens, WebRTC extensions */
	assert_int_equal(sdp_parse_candidate(&c,
		"candidate:842163049 1 udp 1677729535 198.51.100.7 61665 TYP Relay rport 3478 raddr 10.0.0.5 "
		"generation 0 ufrag EsAw network-id 1 network-cost 10"), 0);
	assert_int_equal(c.type, SDP_CAND_RELAY);
	assert_ip(&c.raddr, "10.0.0.5", 3478);
	assert_int_equal(c.n_ext, 4);
	assert_string_equal(c.ext[0].name, "generation");
	assert_string_equal(c.ext[0].value, "0");
	assert_string_equal(c.ext[1].name, "ufrag");
	assert_string_equal(c.ext[1].value, "EsAw");
	assert_string_equal(c.ext[3].name, "network-cost");
	assert_string_equal(c.ext[3].value, "10");

	/* RFC 6544 §4.5 TCP candidates */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:3 1 tcp 1518280447 192.0.2.9 9 typ host tcptype active"), 0);
	assert_int_equal(c.transport, SDP_TP_TCP);
	assert_int_equal(c.tcptype, SDP_TCPTYPE_ACTIVE);
	fmt_ok(buf, sizeof(buf), &c, SDP_FORM_RFC8839);
	assert_string_equal(buf, "candidate:3 1 TCP 1518280447 192.0.2.9 9 typ host tcptype active");
	assert_int_equal(sdp_parse_candidate(&c, "candidate:3 1 TCP 1 192.0.2.9 9 typ host tcptype so"), 0);
	assert_int_equal(c.tcptype, SDP_TCPTYPE_SO);
}

static const char rfc8839_body[] =
	"v=0\r\n"
	"o=jdoe 2890844526 2890842807 IN IP4 203.0.113.141\r\n"
	"s=\r\n"
	"c=IN IP4 192.0.2.3\r\n"
	"t=0 0\r\n"
	"a=ice-options:ice2 trickle\r\n"
	"a=ice-pacing:50\r\n"
	"a=ice-pwd:asd88fgpdd777uzjYhagZg\r\n"
	"a=ice-ufrag:8hhY\r\n"
	"m=audio 45664 RTP/AVP 0\r\n"
	"b=RS:0\r\n"
	"b=RR:0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=candidate:1 1 UDP 2130706431 203.0.113.141 8998 typ host\r\n"
	"a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 203.0.113.141 rport 8998\r\n"
	"a=end-of-candidates\r\n";

static void test_rfc8839_body(void **state)
{
	struct sdp_media *m;

	(void)state;
	assert_int_equal(parse_str(&sess, rfc8839_body), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_int_equal(sess.first_error, 0);
	assert_int_equal(sess.n_media, 1);
	assert_true(sess.params.has_ufrag);
	assert_string_equal(sess.params.ufrag, "8hhY");
	assert_string_equal(sess.params.pwd, "asd88fgpdd777uzjYhagZg");
	assert_false(sess.params.short_creds);
	assert_int_equal(sess.params.opt_flags, SDP_OPT_F_ICE2 | SDP_OPT_F_TRICKLE);
	assert_int_equal(sess.params.n_options, 2);
	assert_string_equal(sess.params.options[1], "trickle");
	assert_ip(&sess.params.conn, "192.0.2.3", 0);
	m = &sess.media[0];
	assert_string_equal(m->type, "audio");
	assert_string_equal(m->proto, "RTP/AVP");
	assert_string_equal(m->fmt, "0");
	assert_int_equal(m->ice.port, 45664);
	assert_int_equal(m->ice.n_cand, 2);
	assert_true(m->ice.params.end_of_candidates);
	assert_false(m->ice.params.has_ufrag);
	assert_int_equal(m->ice.forms_seen, 1u << SDP_FORM_RFC8839);

	/* session-level credentials apply where the media has none */
	sdp_ice_merge(&m->ice.params, &sess.params);
	assert_string_equal(m->ice.params.ufrag, "8hhY");
	assert_string_equal(m->ice.params.pwd, "asd88fgpdd777uzjYhagZg");
	assert_int_equal(m->ice.params.opt_flags, SDP_OPT_F_ICE2 | SDP_OPT_F_TRICKLE);
	assert_true(m->ice.params.has_conn);
	assert_ip(&m->ice.params.conn, "192.0.2.3", 0);
}

static void test_merge_media_overrides(void **state)
{
	static const char body[] =
		"v=0\n"
		"a=ice-ufrag:sessUF\n"
		"a=ice-pwd:sessionpasswordsession1\n"
		"a=ice-lite\n"
		"c=IN IP6 2001:db8::1\n"
		"m=audio 5000 RTP/AVP 0\n"
		"a=ice-ufrag:mediaUF\n"
		"c=IN IP4 192.0.2.77/127\n"
		"m=video 5002 RTP/AVP 96\n"
		"a=ice-pwd:videopasswordvideopass\n"
		"a=ice-options:trickle\n";
	struct sdp_ice_params *a, *v;

	(void)state;
	assert_int_equal(parse_str(&sess, body), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_int_equal(sess.n_media, 2);
	assert_true(sess.params.lite);
	a = &sess.media[0].ice.params;
	v = &sess.media[1].ice.params;
	sdp_ice_merge(a, &sess.params);
	sdp_ice_merge(v, &sess.params);
	assert_string_equal(a->ufrag, "mediaUF");
	assert_string_equal(a->pwd, "sessionpasswordsession1");
	assert_ip(&a->conn, "192.0.2.77", 0);
	assert_true(a->lite);
	assert_false(a->has_options);
	assert_string_equal(v->ufrag, "sessUF");
	assert_string_equal(v->pwd, "videopasswordvideopass");
	assert_ip(&v->conn, "2001:db8::1", 0);
	assert_int_equal(v->opt_flags, SDP_OPT_F_TRICKLE);
}

/* seed 001: the pjsip troubleshooting page's SDP, as printed there (LF endings, indent removed). */
static const char pjsip_body[] =
	"v=0\n"
	"o=- 3400859894 3400859894 IN IP4 1.1.1.1\n"
	"s=pjmedia\n"
	"c=IN IP4 1.1.1.1\n"
	"t=0 0\n"
	"a=X-nat:6 Symmetric\n"
	"a=ice-ufrag:349219da\n"
	"a=ice-pwd:50644d54\n"
	"m=audio 16902 RTP/AVP 103 101\n"
	"a=rtpmap:103 speex/16000\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"a=fmtp:101 0-15\n"
	"a=candidate:Hc0a80265 1 UDP 1694498815 192.168.2.101 16052 typ host\n"
	"a=candidate:Sc0a80266 1 UDP 2130706431 1.1.1.1 16902 typ srflx raddr 192.168.2.101 rport 16052\n";

static void test_pjsip_seed(void **state)
{
	struct sdp_media *m;

	(void)state;
	assert_int_equal(parse_str(&sess, pjsip_body), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_int_equal(sess.n_media, 1);
	/* pjsip's 8-char password is below RFC 8839's 22: accepted, flagged */
	assert_string_equal(sess.params.pwd, "50644d54");
	assert_true(sess.params.short_creds);
	m = &sess.media[0];
	assert_string_equal(m->fmt, "103 101");
	assert_int_equal(m->ice.n_cand, 2);
	assert_string_equal(m->ice.cand[0].foundation, "Hc0a80265");
	assert_int_equal(m->ice.cand[0].type, SDP_CAND_HOST);
	assert_ip(&m->ice.cand[0].addr, "192.168.2.101", 16052);
	assert_string_equal(m->ice.cand[1].foundation, "Sc0a80266");
	assert_int_equal(m->ice.cand[1].priority, 2130706431u);
	assert_ip(&m->ice.cand[1].raddr, "192.168.2.101", 16052);
}

/*
 * The body part Lync 2010/2013 sends for OCS 2007 peers (Content-Disposition: session;
 * handling=optional; ms-proxy-2007fallback): draft-06 candidates, no ice-ufrag/ice-pwd, two
 * components per candidate, q-values, and a trailing space on each candidate line. Identifiers
 * and passwords below are freshly generated, in the observed sizes (base64 of 32 / 16 bytes,
 * padding stripped).
 */
static const char lync_fallback_part[] =
	"v=0\r\n"
	"o=- 0 0 IN IP4 10.20.30.40\r\n"
	"s=session\r\n"
	"c=IN IP4 10.20.30.40\r\n"
	"b=CT:99980\r\n"
	"t=0 0\r\n"
	"m=audio 21000 RTP/SAVP 114 9 0 8 101\r\n"
	"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 1 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21000 \r\n"
	"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 2 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21001 \r\n"
	"a=candidate:/1KABJ1wqleR1wAF5HqXu+sYIum3mOQPlOH9oI3aL4Q 1 uiIficDKEXW1okMYozFEVg TCP 0.190 198.51.100.20 443 \r\n"
	"a=candidate:/1KABJ1wqleR1wAF5HqXu+sYIum3mOQPlOH9oI3aL4Q 2 uiIficDKEXW1okMYozFEVg TCP 0.190 198.51.100.20 443 \r\n"
	"a=cryptoscale:1 client AES_CM_128_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|2^31|1:1\r\n"
	"a=rtcp:21001\r\n"
	"a=rtpmap:114 x-msrta/16000\r\n"
	"m=video 21002 RTP/SAVP 122\r\n"
	"a=candidate:Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU 1 xg7aCmMYOrBsFql6jKH3UQ UDP 0.840 10.20.30.40 21002 \r\n"
	"a=candidate:Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU 2 xg7aCmMYOrBsFql6jKH3UQ UDP 0.840 10.20.30.40 21003 \r\n";

static void test_lync_draft06_part(void **state)
{
	const struct sdp_candidate *c;

	(void)state;
	assert_int_equal(parse_str(&sess, lync_fallback_part), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_int_equal(sess.n_media, 2);
	assert_false(sess.params.has_ufrag);
	assert_int_equal(sess.media[0].ice.n_cand, 4);
	assert_int_equal(sess.media[0].ice.forms_seen, 1u << SDP_FORM_DRAFT06);
	c = &sess.media[0].ice.cand[1];
	assert_int_equal(c->form, SDP_FORM_DRAFT06);
	assert_string_equal(c->foundation, "Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4");
	assert_int_equal(strlen(c->foundation), 43);
	assert_string_equal(c->password, "Jo/VrHly2zrQfNQt6dRSAA");
	assert_int_equal(c->component, 2);
	assert_int_equal(c->qvalue, 830);
	assert_int_equal(c->type, SDP_CAND_NONE);
	assert_int_equal(c->priority, 0);
	assert_ip(&c->addr, "10.20.30.40", 21001);
	c = &sess.media[0].ice.cand[2];
	assert_int_equal(c->transport, SDP_TP_TCP);
	assert_int_equal(c->tcptype, SDP_TCPTYPE_NONE);
	assert_int_equal(c->qvalue, 190);
	assert_true(sess.media[0].ice.has_rtcp);
	assert_int_equal(sess.media[0].ice.rtcp_port, 21001);
	assert_int_equal(sess.media[0].ice.rtcp_addr.family, 0);
	assert_string_equal(sess.media[1].type, "video");
	assert_int_equal(sess.media[1].ice.cand[0].qvalue, 840);
}

/* The RFC-style part of the same offer (ICE "v19" in Lync terms): 4-char ufrag, 24-char pwd,
 * upper-case transports with Microsoft TCP tokens, IPv6 candidates on x-candidate-ipv6 lines,
 * the relay's MTURNID extension, x-candidate-info. */
static const char lync_rfc_part[] =
	"v=0\r\n"
	"o=- 0 1 IN IP4 10.20.30.40\r\n"
	"s=session\r\n"
	"c=IN IP4 10.20.30.40\r\n"
	"t=0 0\r\n"
	"a=x-devicecaps:audio:send,recv;video:send,recv\r\n"
	"m=audio 22000 RTP/SAVP 114 9 0 8 101\r\n"
	"a=x-ssrc-range:100-100\r\n"
	"a=rtcp-fb:* x-message app send:dsh recv:dsh\r\n"
	"a=rtcp-rsize\r\n"
	"a=label:main-audio\r\n"
	"a=ice-ufrag:Q7e+\r\n"
	"a=ice-pwd:Zb3k9/Pq1LmN0xYwVt8uSr2o\r\n"
	"a=candidate:1 1 UDP 2130706431 10.20.30.40 22000 typ host \r\n"
	"a=candidate:1 2 UDP 2130705918 10.20.30.40 22001 typ host \r\n"
	"a=x-candidate-ipv6:2 1 UDP 33553407 2001:db8:5ef5:79fb::7cf9 22004 typ host \r\n"
	"a=x-candidate-ipv6:2 2 UDP 33552894 2001:db8:5ef5:79fb::7cf9 22005 typ host \r\n"
	"a=candidate:3 1 TCP-ACT 1684797951 10.20.30.40 22000 typ srflx raddr 10.20.30.40 rport 22000 \r\n"
	"a=candidate:3 2 TCP-ACT 1684797438 10.20.30.40 22000 typ srflx raddr 10.20.30.40 rport 22000 \r\n"
	"a=candidate:4 1 tcp-pass 174455807 198.51.100.20 50014 typ relay raddr 203.0.113.9 rport 50014 MTURNID 71834 \r\n"
	"a=x-candidate-info:4 network-type=WLAN\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|2^31|1:1\r\n"
	"a=rtcp:22001 IN IP4 10.20.30.40\r\n"
	"a=rtpmap:114 x-msrta/16000\r\n";

static void test_lync_rfc_part(void **state)
{
	const struct sdp_ice_media *m;
	const struct sdp_candidate *c;

	(void)state;
	assert_int_equal(parse_str(&sess, lync_rfc_part), 0);
	assert_int_equal(sess.lines_skipped, 0);
	m = &sess.media[0].ice;
	assert_string_equal(m->params.ufrag, "Q7e+");
	assert_int_equal(strlen(m->params.pwd), 24);
	assert_false(m->params.short_creds);
	assert_int_equal(m->n_cand, 7);
	assert_int_equal(m->forms_seen, 1u << SDP_FORM_RFC8839);
	c = &m->cand[2];
	assert_true(c->flags & SDP_CAND_F_X_IPV6);
	assert_int_equal(c->addr.family, ICE_AF_INET6);
	assert_ip(&c->addr, "2001:db8:5ef5:79fb::7cf9", 22004);
	c = &m->cand[4];
	assert_int_equal(c->transport, SDP_TP_TCP_ACT);
	assert_int_equal(c->tcptype, SDP_TCPTYPE_ACTIVE);
	assert_int_equal(c->type, SDP_CAND_SRFLX);
	c = &m->cand[6];
	assert_int_equal(c->transport, SDP_TP_TCP_PASS);
	assert_int_equal(c->tcptype, SDP_TCPTYPE_PASSIVE);
	assert_int_equal(c->type, SDP_CAND_RELAY);
	assert_int_equal(c->n_ext, 1);
	assert_string_equal(c->ext[0].name, "MTURNID");
	assert_string_equal(c->ext[0].value, "71834");
	assert_int_equal(m->n_info, 1);
	assert_string_equal(m->info[0].foundation, "4");
	assert_string_equal(m->info[0].network_type, "WLAN");
	assert_true(m->has_rtcp);
	assert_ip(&m->rtcp_addr, "10.20.30.40", 22001);
}

/* [MS-ICE] §3.1.4.5: the final offer carries only the chosen pair; in draft-06 the remote side
 * is named by its identifier. The RFC dialect uses a=remote-candidates (RFC 8839 §5.2). */
static void test_final_offer(void **state)
{
	static const char d6[] =
		"v=0\r\nc=IN IP4 10.20.30.40\r\nt=0 0\r\n"
		"m=audio 21000 RTP/SAVP 0\r\n"
		"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 1 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21000\r\n"
		"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 2 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21001\r\n"
		"a=remote-candidate:Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU\r\n";
	static const char rfc[] =
		"v=0\r\nt=0 0\r\nm=audio 22000 RTP/SAVP 0\r\n"
		"a=remote-candidates:1 192.0.2.10 3478 2 2001:db8::10 3479\r\n";

	(void)state;
	assert_int_equal(parse_str(&sess, d6), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_string_equal(sess.media[0].ice.remote_candidate, "Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU");
	assert_int_equal(parse_str(&sess, rfc), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_true(sess.media[0].ice.has_remote);
	assert_int_equal(sess.media[0].ice.n_remote, 2);
	assert_int_equal(sess.media[0].ice.remote[1].component, 2);
	assert_ip(&sess.media[0].ice.remote[1].addr, "2001:db8::10", 3479);
}

/* libnice's nice_agent_generate_local_sdp() shape: proto ICE/SDP, no formats, 4/22 creds. */
static void test_libnice_sdp(void **state)
{
	static const char body[] =
		"m=audio 49152 ICE/SDP\n"
		"c=IN IP4 192.168.1.20\n"
		"a=ice-ufrag:x1Yq\n"
		"a=ice-pwd:3FpXq8vRz0Lk2WnBt6YdHs\n"
		"a=candidate:1 1 UDP 2013266431 192.168.1.20 49152 typ host\n"
		"a=candidate:2 1 TCP 1015022079 192.168.1.20 9 typ host tcptype active\n"
		"a=candidate:3 1 TCP 1010827775 192.168.1.20 53422 typ host tcptype passive\n"
		"m=video 49154 ICE/SDP\n"
		"c=IN IP4 192.168.1.20\n"
		"a=ice-ufrag:Ab+/\n"
		"a=ice-pwd:0000000000000000000000\n"
		"a=candidate:1 1 UDP 2013266431 192.168.1.20 49154 typ host";  /* no final newline */

	(void)state;
	assert_int_equal(parse_str(&sess, body), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_int_equal(sess.n_media, 2);
	assert_string_equal(sess.media[0].proto, "ICE/SDP");
	assert_string_equal(sess.media[0].fmt, "");
	assert_int_equal(sess.media[0].ice.n_cand, 3);
	assert_int_equal(sess.media[0].ice.cand[2].tcptype, SDP_TCPTYPE_PASSIVE);
	assert_string_equal(sess.media[1].ice.params.ufrag, "Ab+/");
	assert_int_equal(sess.media[1].ice.n_cand, 1);
	assert_int_equal(sess.media[1].ice.cand[0].addr.port, 49154);
	assert_false(sess.media[1].ice.params.short_creds);
}

static void test_ipv6_and_hostnames(void **state)
{
	struct sdp_candidate c;
	char buf[512];

	(void)state;
	assert_int_equal(sdp_parse_candidate(&c, "candidate:9 1 UDP 2122260223 fe80::1ff:fe23:4567:890a 55555 typ host"), 0);
	assert_int_equal(c.addr.family, ICE_AF_INET6);
	assert_int_equal(sdp_parse_candidate(&c,
		"candidate:9 1 UDP 1686052607 2001:db8::5 4000 typ srflx raddr ::ffff:192.0.2.1 rport 4001"), 0);
	assert_int_equal(c.raddr.family, ICE_AF_INET6);
	fmt_ok(buf, sizeof(buf), &c, SDP_FORM_RFC8839);
	assert_string_equal(buf, "candidate:9 1 UDP 1686052607 2001:db8::5 4000 typ srflx raddr ::ffff:192.0.2.1 rport 4001");

	/* mDNS host candidate: name kept, not resolved */
	assert_int_equal(sdp_parse_candidate(&c,
		"candidate:1 1 udp 2113937151 4f1e7b6a-2d2c-4b77-9c3e-6a1b0e7c9d21.local 51234 typ host generation 0"), 0);
	assert_int_equal(c.flags & (SDP_CAND_F_HOSTNAME | SDP_CAND_F_MDNS), SDP_CAND_F_HOSTNAME | SDP_CAND_F_MDNS);
	assert_int_equal(c.addr.family, 0);
	assert_int_equal(c.addr.port, 51234);
	assert_string_equal(c.hostname, "4f1e7b6a-2d2c-4b77-9c3e-6a1b0e7c9d21.local");
	fmt_ok(buf, sizeof(buf), &c, SDP_FORM_RFC8839);
	assert_string_equal(buf, "candidate:1 1 UDP 2113937151 4f1e7b6a-2d2c-4b77-9c3e-6a1b0e7c9d21.local 51234 typ host generation 0");
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 turn.example.com 3478 typ relay raddr 0.0.0.0 rport 0"), 0);
	assert_int_equal(c.flags & (SDP_CAND_F_HOSTNAME | SDP_CAND_F_MDNS), SDP_CAND_F_HOSTNAME);
	/* neither an address nor a name */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 1.2.3 3478 typ host"), SDP_E_ADDR);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 300.1.1.1 3478 typ host"), SDP_E_ADDR);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 fe80::1%eth0 3478 typ host"), SDP_E_ADDR);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 -bad-.local 3478 typ host"), SDP_E_ADDR);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 a..local 3478 typ host"), SDP_E_ADDR);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 udp 1 host.local 3478 typ host raddr x.local rport 1"), SDP_E_ADDR);
}

static void test_draft06_lines(void **state)
{
	struct sdp_candidate c;
	char buf[256];

	(void)state;
	assert_int_equal(sdp_parse_candidate(&c, "a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4= 1 Jo/VrHly2zrQfNQt6dRSAA== UDP 1 192.0.2.1 5000"), 0);
	assert_int_equal(c.form, SDP_FORM_DRAFT06);
	assert_int_equal(c.qvalue, 1000);
	assert_string_equal(c.password, "Jo/VrHly2zrQfNQt6dRSAA==");
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 2 pw udp 0.5 192.0.2.1 5001"), 0);
	assert_int_equal(c.qvalue, 500);
	fmt_ok(buf, sizeof(buf), &c, SDP_FORM_DRAFT06);
	assert_string_equal(buf, "candidate:abc 2 pw UDP 0.500 192.0.2.1 5001");
	/* RFC form needs a type and a priority the draft-06 line lacks */
	assert_int_equal(sdp_fmt_candidate(buf, sizeof(buf), &c, SDP_FORM_RFC8839), SDP_E_PRIORITY);
	assert_string_equal(buf, "");
	/* Microsoft TCP tokens in draft-06 lines, and the "typ" forms after the port */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw TCP-PASS 0.190 198.51.100.20 443 typ relay raddr 10.0.0.1 rport 50000"), 0);
	assert_int_equal(c.transport, SDP_TP_TCP_PASS);
	assert_int_equal(c.tcptype, SDP_TCPTYPE_PASSIVE);
	assert_int_equal(c.type, SDP_CAND_RELAY);
	assert_ip(&c.raddr, "10.0.0.1", 50000);
	fmt_ok(buf, sizeof(buf), &c, SDP_FORM_DRAFT06);
	assert_string_equal(buf, "candidate:abc 1 pw TCP-PASS 0.190 198.51.100.20 443 typ relay raddr 10.0.0.1 rport 50000");
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw TCP-ACT 0.0 198.51.100.20 443"), 0);
	assert_int_equal(c.tcptype, SDP_TCPTYPE_ACTIVE);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw TCP-SO 0.001 198.51.100.20 443"), 0);
	assert_int_equal(c.tcptype, SDP_TCPTYPE_SO);
	assert_int_equal(c.qvalue, 1);
	/* q-values out of RFC 3261 §25.1 range */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw UDP 1.5 192.0.2.1 5000"), SDP_E_QVALUE);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw UDP 1.001 192.0.2.1 5000"), SDP_E_QVALUE);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw UDP 0.8300 192.0.2.1 5000"), SDP_E_QVALUE);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw UDP 2 192.0.2.1 5000"), SDP_E_QVALUE);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw UDP .5 192.0.2.1 5000"), SDP_E_QVALUE);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 p:w UDP 0.5 192.0.2.1 5000"), SDP_E_PASSWORD);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:a-c 1 pw UDP 0.5 192.0.2.1 5000"), SDP_E_FOUNDATION);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 0 pw UDP 0.5 192.0.2.1 5000"), SDP_E_COMPONENT);
	assert_int_equal(sdp_parse_candidate(&c, "candidate:abc 1 pw UDP 0.5 192.0.2.1 70000"), SDP_E_PORT);
	/* a draft-06 identifier is longer than an RFC foundation may be */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 1 pw UDP 0.5 192.0.2.1 1"), 0);
	c.type = SDP_CAND_HOST;
	c.priority = 1;
	assert_int_equal(sdp_fmt_candidate(buf, sizeof(buf), &c, SDP_FORM_RFC8839), SDP_E_FOUNDATION);
	memset(c.password, 0, sizeof(c.password));
	assert_int_equal(sdp_fmt_candidate(buf, sizeof(buf), &c, SDP_FORM_DRAFT06), SDP_E_PASSWORD);
}

static void test_rejections(void **state)
{
	static const struct {
		const char *line;
		int err;
	} cases[] = {
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host", 0 },
		{ "", SDP_E_SYNTAX },
		{ "a=ice-ufrag:abcd", SDP_E_SYNTAX },
		{ "candidate:", SDP_E_MISSING },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ", SDP_E_MISSING },
		{ "candidate:1 1 UDP 1 192.0.2.1 1", SDP_E_MISSING },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 host", SDP_E_SYNTAX },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 xyz host", SDP_E_SYNTAX },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host raddr", SDP_E_MISSING },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host raddr 192.0.2.2", SDP_E_MISSING },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host rport 5", SDP_E_MISSING },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host raddr 192.0.2.2 rport -5", SDP_E_PORT },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host generation", SDP_E_MISSING },
		{ "candidate:123456789012345678901234567890123 1 UDP 1 192.0.2.1 1 typ host", SDP_E_FOUNDATION },
		{ "candidate:a_b 1 UDP 1 192.0.2.1 1 typ host", SDP_E_FOUNDATION },
		{ "candidate:1 0 UDP 1 192.0.2.1 1 typ host", SDP_E_COMPONENT },
		{ "candidate:1 257 UDP 1 192.0.2.1 1 typ host", SDP_E_COMPONENT },
		{ "candidate:1 -1 UDP 1 192.0.2.1 1 typ host", SDP_E_COMPONENT },
		{ "candidate:1 0001 UDP 1 192.0.2.1 1 typ host", SDP_E_COMPONENT },
		{ "candidate:1 1 SCTP 1 192.0.2.1 1 typ host", SDP_E_TRANSPORT },
		{ "candidate:1 1 UDP 0 192.0.2.1 1 typ host", SDP_E_PRIORITY },
		{ "candidate:1 1 UDP 4294967296 192.0.2.1 1 typ host", SDP_E_PRIORITY },
		{ "candidate:1 1 UDP 99999999999999999999 192.0.2.1 1 typ host", SDP_E_PRIORITY },
		{ "candidate:1 1 UDP -1 192.0.2.1 1 typ host", SDP_E_PRIORITY },
		{ "candidate:1 1 UDP 0x10 192.0.2.1 1 typ host", SDP_E_PRIORITY },
		{ "candidate:1 1 UDP 4294967295 192.0.2.1 1 typ host", 0 },
		{ "candidate:1 1 UDP 1 192.0.2.1 65536 typ host", SDP_E_PORT },
		{ "candidate:1 1 UDP 1 192.0.2.1 -1 typ host", SDP_E_PORT },
		{ "candidate:1 1 UDP 1 192.0.2.1 1a typ host", SDP_E_PORT },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ lan", SDP_E_TYPE },
		{ "candidate:1 1 UDP 1 192.0.2.1 1 typ host tcptype active", SDP_E_TCPTYPE },
		{ "candidate:1 1 TCP 1 192.0.2.1 1 typ host tcptype sideways", SDP_E_TCPTYPE },
		{ "candidate:1 1 TCP-ACT 1 192.0.2.1 1 typ host tcptype passive", SDP_E_TCPTYPE },
		{ "candidate:1 1 TCP 1 192.0.2.1 1 typ host tcptype active tcptype active", SDP_E_TCPTYPE },
		{ "candidate:1 1 TCP-ACT 1 192.0.2.1 1 typ host tcptype active", 0 },
		{ "candidate:1\t1  UDP 1 192.0.2.1 1 typ host  ", 0 },
	};
	struct sdp_candidate c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = sdp_parse_candidate(&c, cases[i].line);

		if (rc != cases[i].err)
			fail_msg("case %zu \"%s\": got %d (%s), want %d", i, cases[i].line, rc,
				 sdp_strerror(rc), cases[i].err);
		if (rc) {
			/* a failed parse leaves nothing behind */
			static const struct sdp_candidate zero;

			assert_memory_equal(&c, &zero, sizeof(c));
		}
	}
	assert_int_equal(sdp_parse_candidate(NULL, "candidate:1"), SDP_E_INVAL);
	assert_int_equal(sdp_parse_candidate(&c, NULL), SDP_E_INVAL);
	for (int e = SDP_E_ERR_MIN; e <= 0; e++)
		assert_string_not_equal(sdp_strerror(e), "unknown error");
	assert_string_equal(sdp_strerror(1), "unknown error");
	assert_string_equal(sdp_strerror(SDP_E_ERR_MIN - 1), "unknown error");
}

static void test_hostile_lines(void **state)
{
	static char big[SDP_LINE_MAX + 64];
	static const char nul[] = "candidate:1 1 UDP 1 192.0.2.1 1 typ host\0 generation 0";
	struct sdp_candidate c;
	size_t n;

	(void)state;
	n = (size_t)snprintf(big, sizeof(big), "candidate:1 1 UDP 1 192.0.2.1 1 typ host");
	while (n + 4 < SDP_LINE_MAX + 8)
		n += (size_t)snprintf(big + n, sizeof(big) - n, " x y");
	assert_int_equal(sdp_parse_candidate(&c, big), SDP_E_TOO_LONG);
	/* at the limit it parses, extensions beyond the cap are counted, not kept */
	big[SDP_LINE_MAX] = 0;
	while (big[strlen(big) - 1] != ' ')
		big[strlen(big) - 1] = 0;
	big[strlen(big) - 3] = 0;
	assert_int_equal(sdp_parse_candidate(&c, big), 0);
	assert_int_equal(c.n_ext, SDP_EXT_MAX);
	assert_true(c.ext_dropped > 100);
	/* NUL inside the given length */
	assert_int_equal(sdp_parse_candidate_n(&c, nul, sizeof(nul) - 1), SDP_E_SYNTAX);
	assert_int_equal(sdp_parse_candidate_n(&c, nul, strlen(nul)), 0);
	/* a CR inside a line would make a token the emitter cannot write back */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 UDP 1 192.0.2.1 1 typ host ge\rn 0"), SDP_E_SYNTAX);
	assert_int_equal(parse_str(&sess, "m=audio 1 RTP/AVP 0\na=x-candidate-info:1 network-type=W\rLAN\n"), 0);
	assert_int_equal(sess.lines_skipped, 1);
	assert_int_equal(sess.first_error, SDP_E_SYNTAX);
	assert_int_equal(sess.media[0].ice.n_info, 0);
	/* not NUL-terminated: only len bytes are read */
	assert_int_equal(sdp_parse_candidate_n(&c, "candidate:1 1 UDP 1 192.0.2.1 12345 typ hostXXXX",
					       strlen("candidate:1 1 UDP 1 192.0.2.1 12345 typ host")), 0);
	assert_int_equal(c.addr.port, 12345);
	/* over-long extension values are dropped, not truncated */
	assert_int_equal(sdp_parse_candidate(&c, "candidate:1 1 UDP 1 192.0.2.1 1 typ host ufrag "
		"0123456789012345678901234567890123456789012345678901234567890123456789"), 0);
	assert_int_equal(c.n_ext, 0);
	assert_int_equal(c.ext_dropped, 1);
}

static void test_hostile_bodies(void **state)
{
	static char body[200000];
	size_t n = 0;

	(void)state;
	assert_int_equal(sdp_parse(&sess, "", 0), SDP_E_EMPTY);
	assert_int_equal(sdp_parse(&sess, NULL, 0), SDP_E_EMPTY);
	assert_int_equal(sdp_parse(&sess, NULL, 5), SDP_E_INVAL);
	assert_int_equal(sdp_parse(NULL, "v=0", 3), SDP_E_INVAL);
	assert_int_equal(parse_str(&sess, "\r\n\n  \r\n"), SDP_E_EMPTY);

	/* 1000 candidates on one media: 32 kept, the rest counted */
	n += (size_t)snprintf(body + n, sizeof(body) - n, "v=0\r\nm=audio 1 RTP/AVP 0\r\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "a=candidate:%d 1 UDP %d 10.0.%d.%d %d typ host\r\n", i, i + 1,
				      i / 256, i % 256, 1000 + i);
	assert_int_equal(sdp_parse(&sess, body, n), 0);
	assert_int_equal(sess.media[0].ice.n_cand, SDP_CAND_MAX);
	assert_int_equal(sess.media[0].ice.cand_skipped, 1000 - SDP_CAND_MAX);
	assert_int_equal(sess.lines_skipped, 1000 - SDP_CAND_MAX);
	assert_int_equal(sess.first_error, SDP_E_TOO_MANY);
	assert_int_equal(sess.first_error_line, 2 + SDP_CAND_MAX + 1);
	assert_int_equal(sess.media[0].ice.cand[31].addr.port, 1031);

	/* 20 media: 16 kept, the attributes of the others are not mixed into the 16th */
	n = 0;
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "m=audio %d RTP/AVP 0\na=candidate:1 1 UDP 1 192.0.2.1 %d typ host\n",
				      2000 + i, 2000 + i);
	assert_int_equal(sdp_parse(&sess, body, n), 0);
	assert_int_equal(sess.n_media, SDP_MEDIA_MAX);
	assert_int_equal(sess.media_skipped, 4);
	assert_int_equal(sess.media[15].ice.n_cand, 1);
	assert_int_equal(sess.first_error, SDP_E_TOO_MANY_MEDIA);

	/* one bad line among good ones: the body parses, the line is reported */
	assert_int_equal(parse_str(&sess,
		"v=0\r\n"
		"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host\r\n"       /* line 2: session level */
		"m=audio 9 RTP/AVP 0\r\n"
		"a=candidate:1 1 UDP 1 192.0.2.1 1 typ host\r\n"
		"a=candidate:2 1 UDP 99999999999 192.0.2.1 2 typ host\r\n"
		"a=candidate:3 1 UDP 1 192.0.2.1 3 typ host\r\n"
		"a=ice-ufrag:bad ufrag\r\n"
		"a=ice-pwd:" "\r\n"
		"a=remote-candidates:1 192.0.2.1\r\n"
		"a=rtcp:99999\r\n"
		"c=IN IP4 not-an-ip\r\n"
		"garbage\r\n"
		"m=audio -1 RTP/AVP 0\r\n"
		"a=candidate:9 1 UDP 1 192.0.2.1 9 typ host\r\n"      /* belongs to the bad m= */
		"m=video 9\r\n"
		"m=video 10 RTP/AVP 96\r\n"
		"a=candidate:4 1 UDP 1 192.0.2.1 4 typ host"), 0);
	assert_int_equal(sess.first_error, SDP_E_SCOPE);
	assert_int_equal(sess.first_error_line, 2);
	assert_int_equal(sess.lines_skipped, 10);
	assert_int_equal(sess.n_media, 2);
	assert_int_equal(sess.media_skipped, 2);
	assert_int_equal(sess.media[0].ice.n_cand, 2);
	assert_int_equal(sess.media[0].ice.cand_skipped, 1);
	assert_false(sess.media[0].ice.params.has_ufrag);
	assert_false(sess.media[0].ice.params.has_pwd);
	assert_false(sess.media[0].ice.has_remote);
	assert_false(sess.media[0].ice.has_rtcp);
	assert_false(sess.media[0].ice.params.has_conn);
	assert_int_equal(sess.media[1].ice.port, 10);
	assert_int_equal(sess.media[1].ice.n_cand, 1);

	/* NULs and random bytes everywhere must not stop the parse or read past len */
	for (size_t i = 0; i < 4096; i++)
		body[i] = (char)((i * 2654435761u) >> 13);
	memcpy(body + 100, "\nm=audio 1 RTP/AVP 0\n", 21);
	assert_int_equal(sdp_parse(&sess, body, 4096), 0);
	assert_true(sess.lines_skipped > 0);
	assert_int_equal(sess.n_media, 1);

	/* a huge line is skipped, the next one still counts */
	memset(body, 'x', 100000);
	memcpy(body, "a=candidate:", 12);
	n = 100000;
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\nm=audio 5 RTP/AVP 0\na=rtcp-mux");
	assert_int_equal(sdp_parse(&sess, body, n), 0);
	assert_int_equal(sess.first_error, SDP_E_TOO_LONG);
	assert_true(sess.media[0].ice.rtcp_mux);
}

static void test_mline_details(void **state)
{
	(void)state;
	assert_int_equal(parse_str(&sess,
		"m=audio 49170/2 RTP/AVP 0 8   101\n"
		"a=rtcp:53020 IN IP6 2001:db8::9\n"
		"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
		"a=rtcp-mux\n"
		"m=video 0 RTP/AVP 31\n"), 0);
	assert_int_equal(sess.lines_skipped, 0);
	assert_int_equal(sess.n_media, 3);
	assert_int_equal(sess.media[0].n_ports, 2);
	assert_int_equal(sess.media[0].ice.port, 49170);
	assert_string_equal(sess.media[0].fmt, "0 8 101");
	assert_ip(&sess.media[0].ice.rtcp_addr, "2001:db8::9", 53020);
	assert_string_equal(sess.media[1].type, "application");
	assert_string_equal(sess.media[1].fmt, "webrtc-datachannel");
	assert_true(sess.media[1].ice.rtcp_mux);
	assert_int_equal(sess.media[2].ice.port, 0);
	assert_int_equal(sess.media[2].n_ports, 1);
	assert_int_equal(parse_str(&sess, "m=audio 1/0 RTP/AVP 0\n"), 0);
	assert_int_equal(sess.first_error, SDP_E_PORT);
	assert_int_equal(parse_str(&sess, "m=audio 1 RTP/AVP 0\nc=IN IP4 2001:db8::1\n"), 0);
	assert_int_equal(sess.first_error, SDP_E_ADDR);
	assert_int_equal(parse_str(&sess, "m=audio 1 RTP/AVP 0\na=rtcp:5 IN IP4\n"), 0);
	assert_int_equal(sess.first_error, SDP_E_MISSING);
	assert_int_equal(parse_str(&sess, "m=audio 1 RTP/AVP 0\na=remote-candidates:0 192.0.2.1 1\n"), 0);
	assert_int_equal(sess.first_error, SDP_E_COMPONENT);
	assert_int_equal(parse_str(&sess, "m=audio 1 RTP/AVP 0\na=remote-candidate:\n"), 0);
	assert_int_equal(sess.first_error, SDP_E_MISSING);
}

/* Deterministic generator for round trips. */
static uint32_t rng_state = 12345;

static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void rnd_chars(char *dst, size_t n, const char *alphabet)
{
	size_t k = strlen(alphabet);

	for (size_t i = 0; i < n; i++)
		dst[i] = alphabet[rnd() % k];
	dst[n] = 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void rnd_addr(struct ice_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (rnd() % 3 == 0) {
		a->family = ICE_AF_INET6;
		for (int i = 0; i < 16; i++)
			a->ip[i] = (uint8_t)rnd();
	} else {
		ice_addr_set_v4(a, rnd() ^ (rnd() << 16), 0);
	}
	a->port = (uint16_t)rnd();
}

static void rnd_candidate(struct sdp_candidate *c)
{
	memset(c, 0, sizeof(*c));
	c->form = rnd() % 2 ? SDP_FORM_DRAFT06 : SDP_FORM_RFC8839;
	c->component = (uint16_t)(1 + rnd() % 256);
	c->transport = (uint8_t)(SDP_TP_UDP + rnd() % 5);
	switch (c->transport) {
	case SDP_TP_TCP: c->tcptype = (uint8_t)(rnd() % 4); break;
	case SDP_TP_TCP_ACT: c->tcptype = SDP_TCPTYPE_ACTIVE; break;
	case SDP_TP_TCP_PASS: c->tcptype = SDP_TCPTYPE_PASSIVE; break;
	case SDP_TP_TCP_SO: c->tcptype = SDP_TCPTYPE_SO; break;
	default: break;
	}
	if (rnd() % 5 == 0) {
		char label[20];

		rnd_chars(label, 1 + rnd() % 18, "abcdefghijklmnopqrstuvwxyz0123456789");
		snprintf(c->hostname, sizeof(c->hostname), "h%s.%s", label, rnd() % 2 ? "local" : "example.org");
		c->flags |= SDP_CAND_F_HOSTNAME;
		if (strstr(c->hostname, ".local"))
			c->flags |= SDP_CAND_F_MDNS;
		c->addr.port = (uint16_t)rnd();
	} else {
		rnd_addr(&c->addr);
	}
	if (c->form == SDP_FORM_DRAFT06) {
		rnd_chars(c->foundation, 1 + rnd() % SDP_ID_MAX, b64);
		rnd_chars(c->password, 1 + rnd() % SDP_CAND_PWD_MAX, b64);
		c->qvalue = (uint16_t)(rnd() % 1001);
		c->type = (uint8_t)(rnd() % 5);
	} else {
		rnd_chars(c->foundation, 1 + rnd() % SDP_FOUNDATION_MAX, b64);
		c->priority = 1 + rnd() % 0xfffffffeu;
		c->type = (uint8_t)(1 + rnd() % 4);
	}
	if (c->type != SDP_CAND_NONE && rnd() % 2) {
		rnd_addr(&c->raddr);
		c->flags |= SDP_CAND_F_RADDR;
	}
	c->n_ext = (uint8_t)(rnd() % (SDP_EXT_MAX + 1));
	for (unsigned i = 0; i < c->n_ext; i++) {
		/* names that the parser would take as raddr/rport/tcptype/typ are avoided */
		rnd_chars(c->ext[i].name, 1 + rnd() % SDP_EXT_NAME_MAX, "xyzXYZ-_0123456789");
		rnd_chars(c->ext[i].value, 1 + rnd() % SDP_EXT_VALUE_MAX, "abc.,;=!~0123456789");
	}
}

static void test_roundtrip_candidates(void **state)
{
	struct sdp_candidate c, back;
	char buf[1024];

	(void)state;
	for (int i = 0; i < 5000; i++) {
		int n;

		rnd_candidate(&c);
		n = sdp_fmt_candidate(buf, sizeof(buf), &c, (enum sdp_form)c.form);
		assert_true(n > 0);
		assert_int_equal((size_t)n, strlen(buf));
		if (sdp_parse_candidate(&back, buf) != 0)
			fail_msg("iteration %d: cannot parse back \"%s\"", i, buf);
		if (!sdp_candidate_eq(&c, &back))
			fail_msg("iteration %d: \"%s\" did not round-trip", i, buf);
		/* every shorter buffer is refused, never overrun */
		if (i % 50 == 0) {
			for (size_t len = 1; len <= (size_t)n; len++) {
				assert_int_equal(sdp_fmt_candidate(buf, len, &c, (enum sdp_form)c.form), SDP_E_NOSPACE);
				assert_true(strlen(buf) < len);
			}
		}
	}
	/* equality notices a difference */
	rnd_candidate(&c);
	back = c;
	assert_true(sdp_candidate_eq(&c, &back));
	back.addr.port ^= 1;
	assert_false(sdp_candidate_eq(&c, &back));
}

static void test_roundtrip_media(void **state)
{
	static char buf[65536];
	static char body[70000];
	struct sdp_ice_media *m, *b;
	int n;

	(void)state;
	for (int iter = 0; iter < 50; iter++) {
		memset(&sess2, 0, sizeof(sess2));
		m = &sess2.media[0].ice;
		m->port = (uint16_t)(1 + rnd() % 65535);
		snprintf(m->params.ufrag, sizeof(m->params.ufrag), "uf%u", rnd() % 100000);
		m->params.has_ufrag = true;
		rnd_chars(m->params.pwd, 22 + rnd() % 40, b64);
		m->params.has_pwd = true;
		m->params.lite = iter % 2;
		m->params.has_options = true;
		m->params.n_options = 2;
		m->params.opt_flags = SDP_OPT_F_TRICKLE | SDP_OPT_F_ICE2;
		strcpy(m->params.options[0], "trickle");
		strcpy(m->params.options[1], "ice2");
		m->n_cand = (uint8_t)(rnd() % (SDP_CAND_MAX + 1));
		for (unsigned i = 0; i < m->n_cand; i++) {
			rnd_candidate(&m->cand[i]);
			if (m->cand[i].addr.family == ICE_AF_INET6 && rnd() % 2)
				m->cand[i].flags |= SDP_CAND_F_X_IPV6;
			m->forms_seen |= (uint8_t)(1u << m->cand[i].form);
		}
		m->n_info = 2;
		strcpy(m->info[0].foundation, "1");
		strcpy(m->info[0].network_type, "WWAN");
		strcpy(m->info[1].foundation, "2");
		m->params.end_of_candidates = true;
		m->has_remote = true;
		m->n_remote = 2;
		m->remote[0].component = 1;
		rnd_addr(&m->remote[0].addr);
		m->remote[1].component = 2;
		rnd_addr(&m->remote[1].addr);
		strcpy(m->remote_candidate, "Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU");
		m->has_rtcp = true;
		m->rtcp_port = (uint16_t)rnd();
		if (iter % 3) {
			rnd_addr(&m->rtcp_addr);
			m->rtcp_addr.port = m->rtcp_port;
		}
		m->rtcp_mux = true;

		n = sdp_fmt_ice_media(buf, sizeof(buf), m);
		assert_true(n > 0);
		snprintf(body, sizeof(body), "v=0\r\nm=audio %u RTP/AVP 0\r\n%s", m->port, buf);
		assert_int_equal(parse_str(&sess, body), 0);
		if (sess.lines_skipped)
			fail_msg("iter %d: line %u: %s\n%s", iter, sess.first_error_line,
				 sdp_strerror(sess.first_error), body);
		b = &sess.media[0].ice;
		assert_int_equal(b->port, m->port);
		assert_memory_equal(&b->params, &m->params, sizeof(b->params));
		assert_int_equal(b->n_cand, m->n_cand);
		for (unsigned i = 0; i < m->n_cand; i++)
			assert_true(sdp_candidate_eq(&b->cand[i], &m->cand[i]));
		assert_int_equal(b->forms_seen, m->forms_seen);
		assert_int_equal(b->n_info, 2);
		assert_memory_equal(b->info, m->info, sizeof(m->info[0]) * 2);
		assert_int_equal(b->n_remote, 2);
		assert_true(ice_addr_eq(&b->remote[0].addr, &m->remote[0].addr));
		assert_true(ice_addr_eq(&b->remote[1].addr, &m->remote[1].addr));
		assert_string_equal(b->remote_candidate, m->remote_candidate);
		assert_int_equal(b->rtcp_port, m->rtcp_port);
		assert_int_equal(b->rtcp_addr.family, m->rtcp_addr.family);
		if (m->rtcp_addr.family)
			assert_true(ice_addr_eq(&b->rtcp_addr, &m->rtcp_addr));
		assert_true(b->rtcp_mux);
		/* too small a buffer is refused at every length */
		for (int len = 1; len < n; len += 1 + n / 64)
			assert_int_equal(sdp_fmt_ice_media(buf, (size_t)len, m), SDP_E_NOSPACE);
	}
}

static void test_emit_block_text(void **state)
{
	static char buf[4096];

	(void)state;
	assert_int_equal(parse_str(&sess, lync_rfc_part), 0);
	assert_true(sdp_fmt_ice_media(buf, sizeof(buf), &sess.media[0].ice) > 0);
	assert_string_equal(buf,
		"a=ice-ufrag:Q7e+\r\n"
		"a=ice-pwd:Zb3k9/Pq1LmN0xYwVt8uSr2o\r\n"
		"a=candidate:1 1 UDP 2130706431 10.20.30.40 22000 typ host\r\n"
		"a=candidate:1 2 UDP 2130705918 10.20.30.40 22001 typ host\r\n"
		"a=x-candidate-ipv6:2 1 UDP 33553407 2001:db8:5ef5:79fb::7cf9 22004 typ host\r\n"
		"a=x-candidate-ipv6:2 2 UDP 33552894 2001:db8:5ef5:79fb::7cf9 22005 typ host\r\n"
		"a=candidate:3 1 TCP-ACT 1684797951 10.20.30.40 22000 typ srflx raddr 10.20.30.40 rport 22000\r\n"
		"a=candidate:3 2 TCP-ACT 1684797438 10.20.30.40 22000 typ srflx raddr 10.20.30.40 rport 22000\r\n"
		"a=candidate:4 1 TCP-PASS 174455807 198.51.100.20 50014 typ relay raddr 203.0.113.9 rport 50014 MTURNID 71834\r\n"
		"a=x-candidate-info:4 network-type=WLAN\r\n"
		"a=rtcp:22001 IN IP4 10.20.30.40\r\n");
	assert_int_equal(parse_str(&sess, lync_fallback_part), 0);
	sess.media[0].ice.n_cand = 2;
	strcpy(sess.media[0].ice.remote_candidate, "Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU");
	assert_true(sdp_fmt_ice_media(buf, sizeof(buf), &sess.media[0].ice) > 0);
	assert_string_equal(buf,
		"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 1 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21000\r\n"
		"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 2 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21001\r\n"
		"a=remote-candidate:Kav+hZc/qHcNaLieDxMZWLV55DI+zHiw9pX+xEUthZU\r\n"
		"a=rtcp:21001\r\n");
	/* a candidate that cannot be written fails the block */
	sess.media[0].ice.cand[1].password[0] = 0;
	assert_int_equal(sdp_fmt_ice_media(buf, sizeof(buf), &sess.media[0].ice), SDP_E_PASSWORD);
	assert_int_equal(sdp_fmt_ice_media(NULL, 10, &sess.media[0].ice), SDP_E_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8839_lines),
		cmocka_unit_test(test_rfc8839_body),
		cmocka_unit_test(test_merge_media_overrides),
		cmocka_unit_test(test_pjsip_seed),
		cmocka_unit_test(test_lync_draft06_part),
		cmocka_unit_test(test_lync_rfc_part),
		cmocka_unit_test(test_final_offer),
		cmocka_unit_test(test_libnice_sdp),
		cmocka_unit_test(test_ipv6_and_hostnames),
		cmocka_unit_test(test_draft06_lines),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_hostile_lines),
		cmocka_unit_test(test_hostile_bodies),
		cmocka_unit_test(test_mline_details),
		cmocka_unit_test(test_roundtrip_candidates),
		cmocka_unit_test(test_roundtrip_media),
		cmocka_unit_test(test_emit_block_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
