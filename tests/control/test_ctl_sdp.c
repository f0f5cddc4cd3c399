/* Tests of control/ctl_sdp: realistic bodies (baresip, WebRTC with BUNDLE, no ICE, hold, libnice,
 * Lync draft-06), the rewrite rules line by line, and hostile bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl_sdp.h"

/* Parsed bodies are large: static. */
static struct ctl_sdp peer, back;
static char out[1 << 16];
static struct ctl_sdp_rewrite rw;
static struct sdp_candidate gw_cand[2];

static void addr(struct ice_addr *a, const char *ip, unsigned port)
{
	assert_int_equal(ice_addr_parse_ip_port(a, ip, port), 0);
}

/* Gateway plan: one host candidate per component on 203.0.113.5 (RFC 5737 documentation). */
static void plan(unsigned n, uint16_t base, bool mux)
{
	memset(&rw, 0, sizeof(rw));
	memset(gw_cand, 0, sizeof(gw_cand));
	for (unsigned c = 0; c < 2; c++) {
		strcpy(gw_cand[c].foundation, "1");
		gw_cand[c].component = (uint16_t)(c + 1);
		gw_cand[c].transport = SDP_TP_UDP;
		gw_cand[c].type = SDP_CAND_HOST;
		gw_cand[c].priority = 2130706431u - c; /* RFC 8445 §5.1.2.1, host, local pref 65535 */
		gw_cand[c].qvalue = 900;
		addr(&gw_cand[c].addr, "203.0.113.5", base + c);
	}
	rw.n_media = n;
	for (unsigned i = 0; i < n; i++) {
		addr(&rw.media[i].addr, "203.0.113.5", base);
		rw.media[i].rtcp_port = mux ? 0 : (uint16_t)(base + 1);
		rw.media[i].rtcp_mux = mux;
		rw.media[i].ufrag = "GwUf";
		rw.media[i].pwd = "GwPwd0123456789abcdefg";
		rw.media[i].cand = gw_cand;
		rw.media[i].n_cand = mux ? 1 : 2;
	}
}

static const char *rewrite(const char *body)
{
	long n = ctl_sdp_rewrite(out, sizeof(out) - 1, &peer, body, strlen(body), &rw);

	if (n < 0)
		fail_msg("rewrite: %s", ctl_sdp_strerror((int)n));
	out[n] = 0;
	return out;
}

static void parse_ok(const char *body)
{
	int rc = ctl_sdp_parse(&peer, body, strlen(body));

	if (rc)
		fail_msg("parse: %s at line %u", ctl_sdp_strerror(rc), peer.err_line);
}

/* baresip 1.0 audio offer with ICE (shape seen on the wire, documentation addresses) */
static const char baresip[] =
	"v=0\r\n"
	"o=- 1402307146 3127546322 IN IP4 10.99.0.1\r\n"
	"s=-\r\n"
	"c=IN IP4 10.99.0.1\r\n"
	"t=0 0\r\n"
	"a=tool:baresip 1.0.0\r\n"
	"m=audio 10000 RTP/AVP 0 8 101\r\n"
	"b=AS:64\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=sendrecv\r\n"
	"a=label:1\r\n"
	"a=rtcp:10001\r\n"
	"a=ssrc:1755012314 cname:e6d8b1f5-8a8c\r\n"
	"a=ice-ufrag:8ZRk\r\n"
	"a=ice-pwd:vGh2tAcJcTIOdjvXQrCN0o\r\n"
	"a=candidate:1 1 UDP 2113932031 10.99.0.1 10000 typ host\r\n"
	"a=candidate:1 2 UDP 2113932030 10.99.0.1 10001 typ host\r\n"
	"a=ptime:20\r\n";

static void test_baresip(void **state)
{
	const struct ctl_sdp_media *m;

	(void)state;
	parse_ok(baresip);
	assert_int_equal(peer.n_media, 1);
	assert_true(peer.has_ice);
	assert_string_equal(peer.eol, "\r\n");
	m = &peer.media[0];
	assert_string_equal(m->sdp->type, "audio");
	assert_string_equal(m->sdp->proto, "RTP/AVP");
	assert_int_equal(m->port, 10000);
	assert_true(m->has_conn);
	assert_int_equal(ice_addr_v4(&m->conn), 0x0a630001);
	assert_false(m->hold);
	assert_int_equal(m->dir, CTL_DIR_SENDRECV);
	assert_true(m->has_rtcp);
	assert_int_equal(m->rtcp_port, 10001);
	assert_false(m->rtcp_mux);
	assert_string_equal(m->ice.ufrag, "8ZRk");
	assert_string_equal(m->ice.pwd, "vGh2tAcJcTIOdjvXQrCN0o");
	assert_int_equal(m->sdp->ice.n_cand, 2);
	assert_int_equal(m->cand_form, SDP_FORM_RFC8839);

	plan(1, 30000, false);
	assert_string_equal(rewrite(baresip),
		"v=0\r\n"
		"o=- 1402307146 3127546322 IN IP4 10.99.0.1\r\n"
		"s=-\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"t=0 0\r\n"
		"a=tool:baresip 1.0.0\r\n"
		"m=audio 30000 RTP/AVP 0 8 101\r\n"
		"b=AS:64\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=sendrecv\r\n"
		"a=label:1\r\n"
		"a=rtcp:30001 IN IP4 203.0.113.5\r\n"
		"a=ssrc:1755012314 cname:e6d8b1f5-8a8c\r\n"
		"a=ptime:20\r\n"
		"a=ice-ufrag:GwUf\r\n"
		"a=ice-pwd:GwPwd0123456789abcdefg\r\n"
		"a=candidate:1 1 UDP 2130706431 203.0.113.5 30000 typ host\r\n"
		"a=candidate:1 2 UDP 2130706430 203.0.113.5 30001 typ host\r\n");

	/* the rewrite is itself a valid body carrying exactly the gateway's ICE */
	assert_int_equal(ctl_sdp_parse(&back, out, strlen(out)), 0);
	assert_int_equal(back.ice.lines_skipped, 0);
	assert_string_equal(back.media[0].ice.ufrag, "GwUf");
	assert_int_equal(back.media[0].sdp->ice.n_cand, 2);
	assert_int_equal(back.media[0].rtcp_port, 30001);

	/* replace origin; ICE remove; ICE-lite and transport override */
	rw.replace_origin = true;
	rw.ice = CTL_ICE_REMOVE;
	rw.proto = "RTP/SAVP";
	rewrite(baresip);
	assert_non_null(strstr(out, "o=- 1402307146 3127546322 IN IP4 203.0.113.5\r\n"));
	assert_non_null(strstr(out, "m=audio 30000 RTP/SAVP 0 8 101\r\n"));
	assert_null(strstr(out, "ice-"));
	assert_null(strstr(out, "candidate"));
	rw.ice = CTL_ICE_FORCE;
	rw.ice_lite = true;
	rewrite(baresip);
	assert_non_null(strstr(out, "a=tool:baresip 1.0.0\r\na=ice-lite\r\nm=audio"));
}

/* Chrome-style audio+video offer: BUNDLE, rtcp-mux, trickle, DTLS */
static const char webrtc[] =
	"v=0\r\n"
	"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"a=group:BUNDLE 0 1\r\n"
	"a=msid-semantic: WMS stream1\r\n"
	"m=audio 54400 UDP/TLS/RTP/SAVPF 111 0\r\n"
	"c=IN IP4 198.51.100.20\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\n"
	"a=candidate:842163049 1 udp 1677729535 198.51.100.20 54400 typ srflx raddr 192.168.1.20 rport 54400 generation 0\r\n"
	"a=candidate:1467250027 1 udp 2122260223 192.168.1.20 54400 typ host generation 0\r\n"
	"a=ice-ufrag:EsAw\r\n"
	"a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
	"a=ice-options:trickle\r\n"
	"a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
	"a=setup:actpass\r\n"
	"a=mid:0\r\n"
	"a=sendrecv\r\n"
	"a=rtcp-mux\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=rtcp-fb:111 transport-cc\r\n"
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6\r\n"
	"m=video 54400 UDP/TLS/RTP/SAVPF 96 97\r\n"
	"c=IN IP4 198.51.100.20\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\n"
	"a=candidate:842163049 1 udp 1677729535 198.51.100.20 54400 typ srflx raddr 192.168.1.20 rport 54400 generation 0\r\n"
	"a=ice-ufrag:EsAw\r\n"
	"a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
	"a=ice-options:trickle\r\n"
	"a=mid:1\r\n"
	"a=recvonly\r\n"
	"a=rtcp-mux\r\n"
	"a=rtcp-rsize\r\n"
	"a=rtpmap:96 VP8/90000\r\n"
	"a=rtcp-fb:96 nack pli\r\n"
	"a=rtpmap:97 rtx/90000\r\n"
	"a=fmtp:97 apt=96\r\n"
	"a=end-of-candidates\r\n";

static void test_webrtc(void **state)
{
	(void)state;
	parse_ok(webrtc);
	assert_int_equal(peer.n_media, 2);
	assert_false(peer.has_session_conn);
	assert_string_equal(peer.media[0].mid, "0");
	assert_string_equal(peer.media[1].mid, "1");
	assert_true(peer.media[0].rtcp_mux);
	assert_int_equal(peer.media[0].rtcp_port, 9);
	assert_true(peer.media[0].rtcp_addr.family == ICE_AF_INET);
	assert_int_equal(peer.media[1].dir, CTL_DIR_RECVONLY);
	assert_int_equal(peer.media[0].sdp->ice.n_cand, 2);
	assert_true(peer.media[1].ice.end_of_candidates);

	plan(2, 40000, true);
	rw.media[1].addr.port = 40002;
	assert_string_equal(rewrite(webrtc),
		"v=0\r\n"
		"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"a=group:BUNDLE 0 1\r\n"
		"a=msid-semantic: WMS stream1\r\n"
		"m=audio 40000 UDP/TLS/RTP/SAVPF 111 0\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F\r\n"
		"a=setup:actpass\r\n"
		"a=mid:0\r\n"
		"a=sendrecv\r\n"
		"a=rtcp-mux\r\n"
		"a=rtpmap:111 opus/48000/2\r\n"
		"a=rtcp-fb:111 transport-cc\r\n"
		"a=fmtp:111 minptime=10;useinbandfec=1\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6\r\n"
		"a=ice-ufrag:GwUf\r\n"
		"a=ice-pwd:GwPwd0123456789abcdefg\r\n"
		"a=candidate:1 1 UDP 2130706431 203.0.113.5 40000 typ host\r\n"
		"m=video 40002 UDP/TLS/RTP/SAVPF 96 97\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"a=mid:1\r\n"
		"a=recvonly\r\n"
		"a=rtcp-mux\r\n"
		"a=rtcp-rsize\r\n"
		"a=rtpmap:96 VP8/90000\r\n"
		"a=rtcp-fb:96 nack pli\r\n"
		"a=rtpmap:97 rtx/90000\r\n"
		"a=fmtp:97 apt=96\r\n"
		"a=ice-ufrag:GwUf\r\n"
		"a=ice-pwd:GwPwd0123456789abcdefg\r\n"
		"a=candidate:1 1 UDP 2130706431 203.0.113.5 40000 typ host\r\n");

	/* rtcp-mux demuxed towards this side: a=rtcp-mux goes, a=rtcp names the gateway's port */
	plan(2, 40000, false);
	rewrite(webrtc);
	assert_null(strstr(out, "a=rtcp-mux"));
	assert_non_null(strstr(out, "a=rtcp:40001 IN IP4 203.0.113.5\r\na=fingerprint"));
	assert_non_null(strstr(out, "a=rtcp-rsize\r\n"));
	assert_non_null(strstr(out, "a=rtcp-fb:96 nack pli\r\n"));
}

static const char plain[] =
	"v=0\n"
	"o=user 53655765 2353687637 IN IP4 192.0.2.10\n"
	"s=call\n"
	"c=IN IP4 192.0.2.10\n"
	"t=0 0\n"
	"m=audio 4000 RTP/AVP 8 101\n"
	"a=rtpmap:8 PCMA/8000\n"
	"a=rtpmap:101 telephone-event/8000\n"
	"m=video 0 RTP/AVP 31\n"
	"a=rtpmap:31 H261/90000\n";

static void test_no_ice_and_rejected(void **state)
{
	(void)state;
	parse_ok(plain);
	assert_false(peer.has_ice);
	assert_string_equal(peer.eol, "\n");
	assert_int_equal(peer.media[0].rtcp_port, 4001);
	assert_false(peer.media[0].has_rtcp);
	assert_int_equal(peer.media[1].port, 0);

	plan(2, 50000, false);
	/* default: no ICE offered, none added; the rejected video stays rejected */
	assert_string_equal(rewrite(plain),
		"v=0\n"
		"o=user 53655765 2353687637 IN IP4 192.0.2.10\n"
		"s=call\n"
		"c=IN IP4 203.0.113.5\n"
		"t=0 0\n"
		"m=audio 50000 RTP/AVP 8 101\n"
		"a=rtpmap:8 PCMA/8000\n"
		"a=rtpmap:101 telephone-event/8000\n"
		"m=video 0 RTP/AVP 31\n"
		"a=rtpmap:31 H261/90000\n");
	/* RTCP on a port that is not RTP + 1 must be announced (RFC 3605) */
	rw.media[0].rtcp_port = 50010;
	rewrite(plain);
	assert_non_null(strstr(out, "a=rtpmap:101 telephone-event/8000\na=rtcp:50010 IN IP4 203.0.113.5\nm=video 0"));
	/* force: ICE on the active section only */
	rw.media[0].rtcp_port = 50001;
	rw.ice = CTL_ICE_FORCE;
	rewrite(plain);
	assert_non_null(strstr(out, "telephone-event/8000\na=ice-ufrag:GwUf\na=ice-pwd:GwPwd0123456789abcdefg\n"
				    "a=candidate:1 1 UDP 2130706431 203.0.113.5 50000 typ host\n"
				    "a=candidate:1 2 UDP 2130706430 203.0.113.5 50001 typ host\nm=video 0 RTP/AVP 31\n"
				    "a=rtpmap:31 H261/90000\n"));
	/* the gateway rejecting a stream the peer offered */
	rw.media[0].addr.port = 0;
	rw.ice = CTL_ICE_DEFAULT;
	rewrite(plain);
	assert_non_null(strstr(out, "m=audio 0 RTP/AVP 8 101\n"));
	/* plan for a different number of sections */
	rw.n_media = 1;
	assert_int_equal(ctl_sdp_rewrite(out, sizeof(out), &peer, plain, strlen(plain), &rw), CTL_SDP_E_MISMATCH);
	rw.n_media = 2;
	assert_int_equal(ctl_sdp_rewrite(out, sizeof(out), &peer, plain, strlen(plain) - 1, &rw), CTL_SDP_E_MISMATCH);
}

static void test_hold(void **state)
{
	static const char hold[] =
		"v=0\r\n"
		"o=- 1402307146 3127546323 IN IP4 10.99.0.1\r\n"
		"s=-\r\n"
		"c=IN IP4 0.0.0.0\r\n"
		"t=0 0\r\n"
		"m=audio 10000 RTP/AVP 0\r\n"
		"a=sendonly\r\n";
	static const char hold6[] =
		"v=0\r\n"
		"o=- 1 2 IN IP6 2001:db8::1\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"a=inactive\r\n"
		"m=audio 10000 RTP/AVP 0\r\n"
		"c=IN IP6 2001:db8::1\r\n"
		"c=IN IP6 2001:db8::2\r\n"
		"m=audio 10002 RTP/AVP 0\r\n"
		"c=IN IP6 ::\r\n";

	(void)state;
	parse_ok(hold);
	assert_true(peer.media[0].hold);
	assert_int_equal(peer.media[0].dir, CTL_DIR_SENDONLY);
	plan(1, 30000, false);
	assert_string_equal(rewrite(hold),
		"v=0\r\n"
		"o=- 1402307146 3127546323 IN IP4 10.99.0.1\r\n"
		"s=-\r\n"
		"c=IN IP4 0.0.0.0\r\n"
		"t=0 0\r\n"
		"m=audio 30000 RTP/AVP 0\r\n"
		"a=sendonly\r\n");

	/* IPv6 peer, several c= lines, an IPv4 gateway */
	parse_ok(hold6);
	assert_int_equal(peer.media[0].conn.family, ICE_AF_INET6);
	assert_int_equal(peer.media[0].n_conn, 2);
	assert_int_equal(peer.media[0].dir, CTL_DIR_INACTIVE);
	assert_false(peer.media[0].hold);
	assert_true(peer.media[1].hold);
	plan(2, 30000, false);
	rw.replace_origin = true;
	rw.media[1].addr.port = 30002;
	rw.media[1].rtcp_port = 30003;
	assert_string_equal(rewrite(hold6),
		"v=0\r\n"
		"o=- 1 2 IN IP4 203.0.113.5\r\n"
		"s=-\r\n"
		"t=0 0\r\n"
		"a=inactive\r\n"
		"m=audio 30000 RTP/AVP 0\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"m=audio 30002 RTP/AVP 0\r\n"
		"c=IN IP6 ::\r\n");
	/* an IPv6 gateway address */
	addr(&rw.media[0].addr, "2001:db8::99", 30000);
	rewrite(hold6);
	assert_non_null(strstr(out, "o=- 1 2 IN IP6 2001:db8::99\r\n"));
	assert_non_null(strstr(out, "m=audio 30000 RTP/AVP 0\r\nc=IN IP6 2001:db8::99\r\nm=audio 30002"));
}

static void test_libnice_and_lync(void **state)
{
	static const char nice[] =
		"v=0\n"
		"m=audio 49152 ICE/SDP\n"
		"c=IN IP4 192.168.1.20\n"
		"a=ice-ufrag:x1Yq\n"
		"a=ice-pwd:3FpXq8vRz0Lk2WnBt6YdHs\n"
		"a=candidate:1 1 UDP 2013266431 192.168.1.20 49152 typ host\n";
	static const char lync[] =
		"v=0\r\n"
		"o=- 0 0 IN IP4 10.20.30.40\r\n"
		"s=session\r\n"
		"c=IN IP4 10.20.30.40\r\n"
		"b=CT:99980\r\n"
		"t=0 0\r\n"
		"m=audio 21000 RTP/SAVP 114 9 0 8 101\r\n"
		"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 1 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21000\r\n"
		"a=candidate:Uj3Bs09BIYJyTRSRugoKyY+CK+wswl8r829HeFfbrD4 2 Jo/VrHly2zrQfNQt6dRSAA UDP 0.830 10.20.30.40 21001\r\n"
		"a=cryptoscale:1 client AES_CM_128_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|2^31|1:1\r\n"
		"a=rtcp:21001\r\n"
		"a=rtpmap:114 x-msrta/16000\r\n";

	(void)state;
	parse_ok(nice);
	assert_string_equal(peer.media[0].sdp->proto, "ICE/SDP");
	assert_true(peer.media[0].has_ice);
	plan(1, 30000, true);
	rw.proto = "RTP/AVP"; /* not an RTP section: left alone */
	assert_string_equal(rewrite(nice),
		"v=0\n"
		"m=audio 30000 ICE/SDP\n"
		"c=IN IP4 203.0.113.5\n"
		"a=rtcp-mux\n"
		"a=ice-ufrag:GwUf\n"
		"a=ice-pwd:GwPwd0123456789abcdefg\n"
		"a=candidate:1 1 UDP 2130706431 203.0.113.5 30000 typ host\n");

	parse_ok(lync);
	assert_int_equal(peer.media[0].cand_form, SDP_FORM_DRAFT06);
	assert_int_equal(peer.media[0].rtcp_port, 21001);
	plan(1, 30000, false);
	rw.media[0].ufrag = "R2F0ZXdheUNhbmRpZGF0ZUlk";
	rw.media[0].pwd = "R3dQYXNzd29yZDAxMjM0NQ";
	assert_string_equal(rewrite(lync),
		"v=0\r\n"
		"o=- 0 0 IN IP4 10.20.30.40\r\n"
		"s=session\r\n"
		"c=IN IP4 203.0.113.5\r\n"
		"b=CT:99980\r\n"
		"t=0 0\r\n"
		"m=audio 30000 RTP/SAVP 114 9 0 8 101\r\n"
		"a=cryptoscale:1 client AES_CM_128_HMAC_SHA1_80 inline:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|2^31|1:1\r\n"
		"a=rtcp:30001 IN IP4 203.0.113.5\r\n"
		"a=rtpmap:114 x-msrta/16000\r\n"
		"a=candidate:R2F0ZXdheUNhbmRpZGF0ZUlk 1 R3dQYXNzd29yZDAxMjM0NQ UDP 0.900 203.0.113.5 30000\r\n"
		"a=candidate:R2F0ZXdheUNhbmRpZGF0ZUlk 2 R3dQYXNzd29yZDAxMjM0NQ UDP 0.900 203.0.113.5 30001\r\n");
	/* the draft-06 lines we wrote parse back in that form */
	assert_int_equal(ctl_sdp_parse(&back, out, strlen(out)), 0);
	assert_int_equal(back.media[0].cand_form, SDP_FORM_DRAFT06);
	assert_int_equal(back.media[0].sdp->ice.n_cand, 2);
	assert_int_equal(back.ice.lines_skipped, 0);

	/* credentials that cannot go into an attribute line */
	rw.media[0].pwd = "bad pwd";
	assert_int_equal(ctl_sdp_rewrite(out, sizeof(out), &peer, lync, strlen(lync), &rw), CTL_SDP_E_CANDIDATE);
}

/* Found by fuzz_ctl_sdp: ice/sdp.c reads attribute names case-insensitively, so the peer's
 * "a=Candidate" must be stripped too, or the peer's addresses leak past ICE=remove. */
static void test_case_insensitive_ice(void **state)
{
	static const char odd[] =
		"v=0\r\n"
		"m=audio 5000 RTP/AVP 0\r\n"
		"c=IN IP4 192.0.2.1\r\n"
		"a=ICE-UFRAG:abcd\r\n"
		"a=Ice-Pwd:abcdefghijklmnopqrstuv\r\n"
		"a=Candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host\r\n";

	(void)state;
	parse_ok(odd);
	assert_true(peer.media[0].has_ice);
	plan(1, 30000, false);
	rw.ice = CTL_ICE_REMOVE;
	assert_string_equal(rewrite(odd),
		"v=0\r\n"
		"m=audio 30000 RTP/AVP 0\r\n"
		"c=IN IP4 203.0.113.5\r\n");
}

static void test_nospace(void **state)
{
	long full;

	(void)state;
	parse_ok(baresip);
	plan(1, 30000, false);
	full = ctl_sdp_rewrite(out, sizeof(out), &peer, baresip, strlen(baresip), &rw);
	assert_true(full > 0);
	for (long cap = 0; cap < full; cap++)
		assert_int_equal(ctl_sdp_rewrite(out, (size_t)cap, &peer, baresip, strlen(baresip), &rw),
				 CTL_SDP_E_NOSPACE);
}

static int parse_str(const char *s)
{
	return ctl_sdp_parse(&peer, s, strlen(s));
}

static void test_hostile(void **state)
{
	static char big[CTL_SDP_BODY_MAX + 2];
	char many[4096];
	size_t n = 0;

	(void)state;
	assert_int_equal(parse_str(""), CTL_SDP_E_EMPTY);
	assert_int_equal(parse_str("\r\n\r\n"), CTL_SDP_E_EMPTY);
	assert_int_equal(parse_str("o=- 1 1 IN IP4 1.2.3.4\r\n"), CTL_SDP_E_VERSION);
	assert_int_equal(peer.err_line, 1);
	assert_int_equal(parse_str("v=1\r\n"), CTL_SDP_E_VERSION);
	assert_int_equal(parse_str("v=0\r\ns=-\r\nhello\r\n"), CTL_SDP_E_SYNTAX);
	assert_int_equal(peer.err_line, 3);
	assert_int_equal(parse_str("v=0\r\nX=1\r\n"), CTL_SDP_E_SYNTAX);
	assert_int_equal(parse_str("v=0\r\ns=a\rb\r\n"), CTL_SDP_E_BINARY);
	assert_int_equal(parse_str("v=0\r\ns=\x01\r\n"), CTL_SDP_E_BINARY);
	assert_int_equal(peer.err_line, 2);
	assert_int_equal(ctl_sdp_parse(&peer, "v=0\r\ns=\0\r\n", 9), CTL_SDP_E_BINARY);
	/* UTF-8 session name is text */
	assert_int_equal(parse_str("v=0\r\ns=Caf\xc3\xa9\r\n"), 0);
	assert_int_equal(parse_str("v=0\r\nm=audio\r\n"), CTL_SDP_E_MEDIA);
	assert_int_equal(peer.err_line, 2);
	assert_int_equal(parse_str("v=0\r\nm=audio 70000 RTP/AVP 0\r\n"), CTL_SDP_E_MEDIA);
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "v=0\r\ns=", 7);
	assert_int_equal(ctl_sdp_parse(&peer, big, sizeof(big) - 1), CTL_SDP_E_TOO_BIG);
	n += (size_t)snprintf(many, sizeof(many), "v=0\r\n");
	for (int i = 0; i <= CTL_SDP_MEDIA_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "m=audio %d RTP/AVP 0\r\n", 1000 + 2 * i);
	assert_int_equal(parse_str(many), CTL_SDP_E_MEDIA);
	assert_int_equal(peer.err_line, CTL_SDP_MEDIA_MAX + 2);
	assert_int_equal(ctl_sdp_parse(NULL, "v=0", 3), CTL_SDP_E_INVAL);
	assert_string_equal(ctl_sdp_strerror(CTL_SDP_E_BINARY), "SDP body contains binary data");
	assert_string_equal(ctl_sdp_strerror(CTL_SDP_E_CANDIDATE),
			    "gateway ICE credentials or candidate cannot be written");
	assert_string_equal(ctl_sdp_strerror(-1), "unknown SDP error");
}

/* ctl_sdp_parse and sdp_parse clear a section when its m= line starts, no longer the whole
 * ~570 KiB struct (that was most of a call set-up): a parse into a struct that held a richer
 * body must still see nothing of it. */
static void test_reuse_clears(void **state)
{
	static const char rich[] =
		"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		"a=ice-ufrag:rich\r\na=ice-pwd:richpasswordrichpassword\r\na=ice-lite\r\n"
		"m=audio 4000 RTP/AVP 0\r\na=mid:0\r\na=rtcp:4009 IN IP4 192.0.2.9\r\na=rtcp-mux\r\n"
		"a=sendonly\r\n"
		"a=candidate:1 1 UDP 2130706431 192.0.2.1 4000 typ host\r\n"
		"a=candidate:2 1 UDP 1694498815 198.51.100.1 4000 typ srflx raddr 192.0.2.1 rport 4000\r\n"
		"m=video 4002 RTP/AVP 96\r\nc=IN IP4 192.0.2.2\r\n"
		"a=candidate:1 1 UDP 2130706431 192.0.2.2 4002 typ host\r\n";
	static const char plain2[] =
		"v=0\r\no=- 2 2 IN IP4 198.51.100.7\r\ns=-\r\nt=0 0\r\n"
		"m=audio 5000 RTP/AVP 8\r\nc=IN IP4 198.51.100.7\r\n";
	(void)state;

	assert_int_equal(ctl_sdp_parse(&peer, rich, strlen(rich)), 0);
	assert_int_equal(peer.n_media, 2);
	assert_true(peer.has_ice && peer.has_session_conn && peer.media[0].rtcp_mux);
	assert_int_equal(ctl_sdp_parse(&peer, plain2, strlen(plain2)), 0);
	assert_int_equal(peer.n_media, 1);
	assert_int_equal(peer.ice.n_media, 1);
	assert_false(peer.has_ice);
	assert_false(peer.has_session_conn);
	assert_int_equal(peer.err_line, 0);
	assert_false(peer.media[0].has_ice);
	assert_false(peer.media[0].rtcp_mux);
	assert_false(peer.media[0].has_rtcp);
	assert_int_equal(peer.media[0].rtcp_port, 5001);
	assert_int_equal(peer.media[0].rtcp_addr.family, 0);
	assert_int_equal(peer.media[0].n_conn, 1);
	assert_int_equal(peer.media[0].dir, CTL_DIR_SENDRECV);
	assert_string_equal(peer.media[0].mid, "");
	assert_int_equal(peer.media[0].sdp->ice.n_cand, 0);
	assert_false(peer.media[0].ice.has_ufrag);
	assert_false(peer.media[0].ice.lite);
	assert_false(peer.ice.params.has_ufrag);
	assert_string_equal(peer.media[0].sdp->type, "audio");
	assert_int_equal(peer.media[0].port, 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baresip),
		cmocka_unit_test(test_webrtc),
		cmocka_unit_test(test_no_ice_and_rejected),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_libnice_and_lync),
		cmocka_unit_test(test_case_insensitive_ice),
		cmocka_unit_test(test_nospace),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_reuse_clears),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
