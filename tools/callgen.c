/* icegw-callgen: simulate a call through the gateway and write what the gateway would see
 * (in.pcap), how it is provisioned (legs.conf), and what it must send (expected-out.pcap,
 * expected-trace.txt). Two ICE endpoints (icegw's own agent) talk through a dp_core, the
 * same packet engine the DPDK daemon runs, so a replay of in.pcap must reproduce the rest. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dp_core.h"
#include "dp_legs.h"
#include "dp_pkt.h"
#include "icegw_config.h"
#include "sdp.h"

#define LAT_US 2000
#define MAXQ 4096

struct frame {
	uint64_t at;
	int to;               /* -1 gateway, 0/1 endpoint */
	uint16_t len;
	uint8_t data[1514];
};

struct ep {
	const char *name;
	struct ice_agent agent;
	struct ice_addr addr;
	uint8_t mac[6];
	uint64_t rng;
	uint64_t start_us, next_rtp;
	bool completed, silent;
	uint16_t seq;
	uint32_t ts, ssrc;
	unsigned rtp_sent, rtp_recv, stun_recv;
	char ufrag[8], pwd[32];
};

static struct {
	struct dp_core core;
	struct ep ep[2];
	struct frame q[MAXQ];
	unsigned nq;
	uint64_t now;
	pcap_t *dead;
	pcap_dumper_t *in, *out;
	FILE *trace;
	uint8_t gw_mac[6];
	uint32_t gw_ip;
	unsigned rtp_count;
	uint16_t port[2];         /* the gateway's port of alice's leg and of bob's */
	unsigned call;            /* --call K: names, addresses and MACs of call K */
	char names[2][DP_LEG_NAME];
	bool attacks;
	unsigned dropped_q;
} S;

static uint64_t xs(void *ctx)
{
	uint64_t *s = ctx, x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void dump(pcap_dumper_t *d, uint64_t at, const uint8_t *f, uint16_t len)
{
	struct pcap_pkthdr h;

	h.ts.tv_sec = (time_t)(at / 1000000);
	h.ts.tv_usec = (suseconds_t)(at % 1000000);
	h.caplen = h.len = len;
	pcap_dump((u_char *)d, &h, f);
}

static void enqueue(uint64_t at, int to, const uint8_t *f, uint16_t len)
{
	struct frame *fr;

	if (S.nq == MAXQ || len > sizeof(fr->data)) {
		S.dropped_q++;
		return;
	}
	fr = &S.q[S.nq++];
	fr->at = at;
	fr->to = to;
	fr->len = len;
	memcpy(fr->data, f, len);
}

/* The gateway sent a frame (reply, relay or its own): record it and route it. */
static void from_gateway(const uint8_t *f, uint16_t len)
{
	uint32_t dip;
	uint16_t dport;

	dump(S.out, S.core.now, f, len);
	if (len < DP_HDRS_LEN || dp_rd16(f + 12) != DP_ETHERTYPE_IP4)
		return; /* ARP replies end here */
	dip = dp_rd32(f + 30);
	dport = dp_rd16(f + 36);
	for (int i = 0; i < 2; i++)
		if (ice_addr_v4(&S.ep[i].addr) == dip && S.ep[i].addr.port == dport)
			enqueue(S.core.now + LAT_US, i, f, len);
}

static void emit_cb(void *ctx, const uint8_t *f, uint16_t len)
{
	(void)ctx;
	from_gateway(f, len);
}

static void trace_cb(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(S.trace, "%s\n", line);
}

/* An endpoint sends a UDP payload to the gateway. */
static void ep_send(struct ep *e, const struct ice_addr *to, const uint8_t *p, uint16_t len,
		    uint32_t src_ip, uint16_t sport)
{
	uint8_t f[1514];
	uint16_t n;

	if (e->silent || len > sizeof(f) - DP_HDRS_LEN)
		return;
	memcpy(f + DP_HDRS_LEN, p, len);
	n = dp_build_udp4(f, S.gw_mac, e->mac, src_ip, sport, ice_addr_v4(to), to->port, len, 0, true);
	enqueue(S.now + LAT_US, -1, f, n);
}

static void ep_drain(struct ep *e)
{
	uint8_t buf[1500];
	struct ice_out out = {.buf = buf, .cap = sizeof(buf)};
	struct ice_event ev;

	while (ice_agent_poll_transmit(&e->agent, S.now, &out) == 1)
		ep_send(e, &out.to, buf, (uint16_t)out.len, ice_addr_v4(&out.from), out.from.port);
	while (ice_agent_poll_event(&e->agent, &ev))
		if (ev.type == ICE_EV_COMPLETED && !e->completed) {
			e->completed = true;
			e->next_rtp = S.now + 20000;
		}
}

static void ep_recv(struct ep *e, const struct frame *fr)
{
	const uint8_t *f = fr->data;
	uint8_t rbuf[1500];
	struct ice_out reply = {.buf = rbuf, .cap = sizeof(rbuf)};
	struct ice_addr local, remote;
	uint16_t ulen = dp_rd16(f + 38);

	if (e->silent)
		return;
	ice_addr_set_v4(&local, dp_rd32(f + 30), dp_rd16(f + 36));
	ice_addr_set_v4(&remote, dp_rd32(f + 26), dp_rd16(f + 34));
	if (ice_agent_recv(&e->agent, S.now, &local, &remote, f + DP_HDRS_LEN, (size_t)(ulen - 8),
			   &reply) == ICE_RX_REPLIED)
		ep_send(e, &reply.to, rbuf, (uint16_t)reply.len, ice_addr_v4(&reply.from),
			reply.from.port);
	else if (f[DP_HDRS_LEN] >= 128)
		e->rtp_recv++;
	else
		e->stun_recv++;
	ep_drain(e);
}

static void ep_rtp(struct ep *e)
{
	uint8_t p[172];
	struct ice_addr lo, re;

	if (ice_agent_selected(&e->agent, 1, &lo, &re) != 0)
		return;
	p[0] = 0x80;
	p[1] = 0; /* PCMU */
	dp_wr16(p + 2, e->seq++);
	dp_wr32(p + 4, e->ts);
	e->ts += 160;
	dp_wr32(p + 8, e->ssrc);
	for (int i = 12; i < 172; i++)
		p[i] = (uint8_t)(0xff ^ (i * 7 + e->rtp_sent));
	ep_send(e, &re, p, sizeof(p), ice_addr_v4(&lo), lo.port);
	ice_agent_note_media_sent(&e->agent, 1, S.now);
	e->rtp_sent++;
	e->next_rtp = e->rtp_sent < S.rtp_count ? S.now + 20000 : UINT64_MAX;
}

static void gw_deliver(const struct frame *fr)
{
	uint8_t f[2048];
	uint16_t len = fr->len;

	dump(S.in, S.now, fr->data, fr->len);
	memcpy(f, fr->data, fr->len);
	dp_core_timers(&S.core, S.now);
	if (dp_core_rx(&S.core, S.now, f, &len, sizeof(f)) == DP_VERDICT_TX)
		from_gateway(f, len);
}

static int write_legs(const char *path, enum ice_dialect d, uint64_t seed)
{
	static const char *dn[] = {"rfc8445", "ms-ice2", "ms-ice"};
	FILE *f = fopen(path, "w");
	char a[ICE_ADDR_STRLEN];

	if (!f)
		return -1;
	fprintf(f, "# written by icegw-callgen: two legs of one call, relayed to each other\n"
		   "[gateway]\nip = 203.0.113.1\nmac = 02:00:00:00:00:01\n"
		   "# the default next hop, until a peer's own MAC is learned\ngw-mac = 02:00:00:00:00:fe\n"
		   "seed = %" PRIu64 "\n", seed);
	for (int i = 0; i < 2; i++) {
		struct ep *e = &S.ep[i];
		struct sdp_candidate sc;
		char line[300];
		memset(&sc, 0, sizeof(sc));
		sc.component = 1;
		sc.transport = SDP_TP_UDP;
		sc.type = SDP_CAND_HOST;
		sc.addr = e->addr;
		if (d == ICE_DIALECT_MSICE) {
			sc.form = SDP_FORM_DRAFT06;
			sc.qvalue = 830;
			ice_agent_local_ms_cred(&e->agent, 0, sc.foundation, sizeof(sc.foundation),
						sc.password, sizeof(sc.password));
		} else {
			sc.form = SDP_FORM_RFC8839;
			sc.priority = e->agent.local[0].prio;
			snprintf(sc.foundation, sizeof(sc.foundation), "%s", e->agent.local[0].fnd_str);
		}
		if (sdp_fmt_candidate(line, sizeof(line), &sc, sc.form) < 0) {
			fclose(f);
			return -1;
		}
		fprintf(f,
			"\n[leg %s]\nport = %u\nrtcp-mux = yes\nice = full\ndialect = %s\n"
			"role = controlled\nufrag = gw%c1\npwd = gatewaypassword-%s-0001\n",
			e->name, S.port[i], dn[d], 'a' + i, e->name);
		if (d != ICE_DIALECT_MSICE)
			fprintf(f, "remote-ufrag = %s\nremote-pwd = %s\n", e->ufrag, e->pwd);
		fprintf(f, "remote-candidate = %s\ndefault-remote = %s\npeer = %s\ntrace = yes\n",
			strncmp(line, "a=", 2) ? line : line + 2, ice_addr_fmt(&e->addr, a, sizeof(a)),
			S.ep[1 - i].name);
	}
	return fclose(f);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: icegw-callgen --out DIR [--dialect rfc8445|ms-ice2|ms-ice] [--seed N]\n"
		   "                     [--rtp N] [--silent-b] [--no-attacks] [--linger-ms N]\n"
		   "                     [--ports A,B] [--call K]\n"
		   "Simulate one call through the gateway and write in.pcap, legs.conf,\n"
		   "expected-out.pcap and expected-trace.txt into DIR.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"out", required_argument, NULL, 'o'}, {"dialect", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'}, {"rtp", required_argument, NULL, 'r'},
		{"silent-b", no_argument, NULL, 'b'}, {"no-attacks", no_argument, NULL, 'n'},
		{"linger-ms", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {"ports", required_argument, NULL, 'p'},
		{"call", required_argument, NULL, 'k'}, {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	enum ice_dialect d = ICE_DIALECT_RFC8445;
	uint64_t seed = 7, end, t0 = 1700000000000000ull;
	unsigned linger_ms = 2000;
	bool silent_b = false;
	char path[4096], err[512];
	struct dp_legs legs;
	int c;

	S.rtp_count = 100;
	S.attacks = true;
	S.port[0] = 20000;
	S.port[1] = 20002;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'd':
			if (!strcmp(optarg, "rfc8445")) d = ICE_DIALECT_RFC8445;
			else if (!strcmp(optarg, "ms-ice2")) d = ICE_DIALECT_MSICE2;
			else if (!strcmp(optarg, "ms-ice")) d = ICE_DIALECT_MSICE;
			else { fprintf(stderr, "icegw-callgen: unknown dialect '%s'\n", optarg); return 64; }
			break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'r': S.rtp_count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': silent_b = true; break;
		case 'n': S.attacks = false; break;
		case 'l': linger_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': {
			/* gateway ports of the two legs (RTP, rtcp-mux); several calls are merged
			 * into one capture to drive several workers (tests/pcap) */
			unsigned a, b;
			char tail;
			if (sscanf(optarg, "%u,%u%c", &a, &b, &tail) != 2 || a < 1024 || b < 1024 ||
			    a > 65534 || b > 65534 || a == b) {
				fprintf(stderr, "icegw-callgen: --ports: want A,B (1024-65534, distinct)\n");
				return 64;
			}
			S.port[0] = (uint16_t)a;
			S.port[1] = (uint16_t)b;
			break;
		}
		case 'k':
			S.call = (unsigned)strtoul(optarg, NULL, 10);
			if (S.call > 50) {
				fprintf(stderr, "icegw-callgen: --call: 0-50\n");
				return 64;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("icegw-callgen %s\n", ICEGW_VERSION); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (!out || optind != argc || S.rtp_count > 100000 || linger_ms > 600000) {
		usage(stderr);
		return 64;
	}
	if (mkdir(out, 0755) && errno != EEXIST) {
		fprintf(stderr, "icegw-callgen: %s: %s\n", out, strerror(errno));
		return 1;
	}

	/* the two endpoints */
	memcpy(S.gw_mac, "\x02\x00\x00\x00\x00\x01", 6);
	S.gw_ip = 0xcb007101; /* 203.0.113.1 */
	for (int i = 0; i < 2; i++) {
		struct ep *e = &S.ep[i];
		struct ice_config cfg;
		memset(&cfg, 0, sizeof(cfg));
		/* call K > 0: its own leg names, endpoint addresses and MACs */
		if (S.call)
			snprintf(S.names[i], sizeof(S.names[i]), "c%u-%s", S.call, i ? "bob" : "alice");
		else
			snprintf(S.names[i], sizeof(S.names[i]), "%s", i ? "bob" : "alice");
		e->name = S.names[i];
		e->rng = seed * 31 + (uint64_t)i + 1;
		snprintf(e->ufrag, sizeof(e->ufrag), "%s", i ? "bobu" : "aliu");
		snprintf(e->pwd, sizeof(e->pwd), "%s", i ? "bobpassword-bobpassword" :
							    "alicepassword-alicepass");
		memcpy(e->mac, i ? "\x02\x00\x00\x00\x00\x0b" : "\x02\x00\x00\x00\x00\x0a", 6);
		ice_addr_parse(&e->addr, i ? "198.51.100.20:50000" : "192.0.2.10:40000");
		e->ssrc = i ? 0xb0b0b0b0 : 0xa11ce000;
		if (S.call) {
			ice_addr_set_v4(&e->addr, ice_addr_v4(&e->addr) + S.call, e->addr.port);
			e->mac[4] = (uint8_t)S.call;
			e->ssrc += S.call;
		}
		e->seq = (uint16_t)(1000 * (i + 1));
		e->next_rtp = UINT64_MAX;
		e->silent = i == 1 && silent_b;
		cfg.dialect = d;
		cfg.role = ICE_ROLE_CONTROLLING;
		cfg.nomination = ICE_NOM_AGGRESSIVE;
		cfg.ncomp = 1;
		cfg.ufrag = e->ufrag;
		cfg.pwd = e->pwd;
		cfg.rng = xs;
		cfg.rng_ctx = &e->rng;
		if (ice_agent_init(&e->agent, &cfg) ||
		    ice_agent_add_local(&e->agent, 1, ICE_CAND_HOST, &e->addr, -1, 65535) < 0) {
			fprintf(stderr, "icegw-callgen: endpoint set-up failed\n");
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/legs.conf", out);
	if (write_legs(path, d, seed)) {
		fprintf(stderr, "icegw-callgen: cannot write %s\n", path);
		return 1;
	}
	if (dp_legs_load(path, &legs, err, sizeof(err))) {
		fprintf(stderr, "icegw-callgen: %s\n", err);
		return 1;
	}

	S.dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_MICRO);
	snprintf(path, sizeof(path), "%s/in.pcap", out);
	S.in = pcap_dump_open(S.dead, path);
	snprintf(path, sizeof(path), "%s/expected-out.pcap", out);
	S.out = pcap_dump_open(S.dead, path);
	snprintf(path, sizeof(path), "%s/expected-trace.txt", out);
	S.trace = fopen(path, "w");
	if (!S.in || !S.out || !S.trace) {
		fprintf(stderr, "icegw-callgen: cannot create output files in %s\n", out);
		return 1;
	}

	/* the gateway, provisioned exactly as the daemon will be, at the first packet's time */
	S.now = t0;
	if (dp_core_init(&S.core, S.gw_ip, S.gw_mac, 64, legs.seed, calloc, t0) < 0)
		return 1;
	S.core.emit = emit_cb;
	S.core.trace_sink = trace_cb;
	{
		/* the first frame the gateway sees: alice asks for its MAC (RFC 826) */
		uint8_t f[42];
		memset(f, 0xff, 6);
		memcpy(f + 6, S.ep[0].mac, 6);
		dp_wr16(f + 12, DP_ETHERTYPE_ARP);
		memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		memcpy(f + 22, S.ep[0].mac, 6);
		dp_wr32(f + 28, ice_addr_v4(&S.ep[0].addr));
		memset(f + 32, 0, 6);
		dp_wr32(f + 38, S.gw_ip);
		dump(S.in, t0, f, sizeof(f));
		S.core.now = t0;
		/* the daemon applies the legs before it handles the first frame */
		if (dp_legs_apply(&legs, &S.core, t0, err, sizeof(err))) {
			fprintf(stderr, "icegw-callgen: %s\n", err);
			return 1;
		}
		{
			uint16_t len = sizeof(f);
			uint8_t buf[64];
			memcpy(buf, f, sizeof(f));
			if (dp_core_rx(&S.core, t0, buf, &len, sizeof(buf)) == DP_VERDICT_TX)
				from_gateway(buf, len);
		}
	}
	dp_legs_free(&legs);
	/* the endpoints learn the gateway's candidates and start 10 ms later */
	for (int i = 0; i < 2; i++) {
		struct ep *e = &S.ep[i];
		struct dp_leg *l = &S.core.legs[i];
		struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST};
		char id[64], pw[32];
		rc.addr = l->agent.local[0].addr;
		rc.prio = l->agent.local[0].prio;
		rc.foundation = l->agent.local[0].fnd_str;
		if (d == ICE_DIALECT_MSICE) {
			ice_agent_local_ms_cred(&l->agent, 0, id, sizeof(id), pw, sizeof(pw));
			rc.ms_id = id;
			rc.ms_pwd = pw;
		} else {
			ice_agent_set_remote_credentials(&e->agent, l->agent.ufrag, l->agent.pwd);
		}
		ice_agent_add_remote(&e->agent, t0, &rc);
		ice_agent_end_of_candidates(&e->agent);
		e->start_us = t0 + 10000;
	}

	end = t0 + 15000000;
	for (unsigned guard = 0; guard < 5000000; guard++) {
		uint64_t next = end, tick = (S.now / 1000 + 1) * 1000;
		int qi = -1;
		bool busy = false;

		for (unsigned i = 0; i < S.nq; i++)
			if (S.q[i].at < next || (S.q[i].at == next && qi < 0)) {
				next = S.q[i].at;
				qi = (int)i;
			}
		for (int i = 0; i < 2; i++) {
			struct ep *e = &S.ep[i];
			uint64_t t = e->start_us ? e->start_us : ice_agent_next_timeout(&e->agent);
			if (t < next) { next = t; qi = -1; }
			if (e->next_rtp < next) { next = e->next_rtp; qi = -1; }
			if (!e->completed || e->next_rtp != UINT64_MAX)
				busy = true;
		}
		if (tick < next) { next = tick; qi = -1; }
		if (!busy && S.nq == 0 && !S.ep[0].silent) {
			/* the call is over: the gateway lingers as the replay will */
			break;
		}
		if (next >= end)
			break;
		if (next > S.now)
			S.now = next;
		dp_core_timers(&S.core, S.now);
		if (qi >= 0) {
			struct frame fr = S.q[qi];
			S.q[qi] = S.q[--S.nq];
			if (fr.to < 0)
				gw_deliver(&fr);
			else
				ep_recv(&S.ep[fr.to], &fr);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			struct ep *e = &S.ep[i];
			if (e->start_us && S.now >= e->start_us) {
				e->start_us = 0;
				ice_agent_start(&e->agent, S.now);
				ep_drain(e);
			}
			if (!e->start_us && ice_agent_next_timeout(&e->agent) <= S.now) {
				ice_agent_handle_timeout(&e->agent, S.now);
				ep_drain(e);
			}
			if (e->next_rtp <= S.now) {
				ep_rtp(e);
				if (S.attacks && i == 0 && e->rtp_sent == S.rtp_count / 2) {
					/* RTP from an address nobody negotiated: must be dropped */
					struct ice_addr to = S.core.legs[0].agent.local[0].addr;
					uint8_t p[20] = {0x80, 0, 0, 1};
					struct ep spoof = *e;
					spoof.silent = false;
					ep_send(&spoof, &to, p, sizeof(p), 0xc0000263 /* 192.0.2.99 */, 40000);
				}
				if (S.attacks && i == 1 && e->rtp_sent == 1) {
					/* a check with the wrong password: 431 and ICEWarn 0x400 */
					struct stun_builder b;
					struct stun_key k;
					uint8_t m[200], tid[16] = {0xde, 0xad};
					char un[80];
					int n;
					struct ice_addr to = S.core.legs[1].agent.local[0].addr;
					stun_key_init(&k, "not-the-password", 16);
					snprintf(un, sizeof(un), "%.32s:%.32s", S.core.legs[1].agent.ufrag, e->ufrag);
					stun_build_init(&b, m, sizeof(m), 0x0001, tid, 0);
					stun_build_u32(&b, ICE_A_PRIORITY, 1);
					stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 1);
					stun_build_str(&b, STUN_A_USERNAME, un);
					stun_build_integrity(&b, &k, STUN_MI_RFC);
					stun_build_fingerprint(&b, false);
					n = stun_build_finish(&b);
					if (d != ICE_DIALECT_MSICE && n > 0)
						ep_send(e, &to, m, (uint16_t)n, ice_addr_v4(&e->addr), e->addr.port);
				}
			}
		}
	}
	/* linger: the replay runs the gateway's timers this long past the last frame it saw */
	{
		uint64_t last = S.now;
		dp_core_timers(&S.core, last + (uint64_t)linger_ms * 1000);
		(void)last;
	}
	pcap_dump_close(S.in);
	pcap_dump_close(S.out);
	pcap_close(S.dead);
	fclose(S.trace);
	printf("icegw-callgen: %s call, %u RTP packets each way; alice got %u RTP, bob got %u RTP; "
	       "gateway completed %" PRIu64 " legs, failed %" PRIu64 "\n",
	       ice_dialect_name(d), S.rtp_count, S.ep[0].rtp_recv, S.ep[1].rtp_recv,
	       S.core.st.ice_completed, S.core.st.ice_failed);
	return 0;
}
