/* nicepeer: one libnice ICE endpoint driven by SDP files, the reference peer for interop
 * tests and for the libnice captures in tests/data (see capture-libnice.sh). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <nice/agent.h>

#define SEND_COUNT 5
#define RECV_NEEDED 3
#define SEND_INTERVAL_MS 100
#define SDP_POLL_MS 50
#define RTP_INTERVAL_MS 20

struct peer {
	GMainLoop *loop;
	NiceAgent *agent;
	guint stream_id;
	const char *remote_sdp;
	gboolean selected;
	gboolean remote_set;
	guint sent;
	guint received;
	guint linger_s;
	gboolean rtp;      /* --rtp: RTP-shaped datagrams (RFC 7983 first byte 0x80), sent all along */
	guint32 ssrc, rx_ssrc;
	guint rtp_other;   /* non-STUN datagrams that were not RTP-shaped */
	guint timeout_id;
	gboolean done;
	int rc;
	char *failure;
};

static void peer_fail(struct peer *p, const char *why)
{
	if (p->failure)
		return;
	p->failure = g_strdup(why);
	p->rc = 1;
	g_main_loop_quit(p->loop);
}

static gboolean linger_done(gpointer data)
{
	struct peer *p = data;

	g_main_loop_quit(p->loop);
	return G_SOURCE_REMOVE;
}

/* Success needs both directions: our datagrams all sent and enough of the peer's seen. */
static void peer_check_done(struct peer *p)
{
	if (p->done || p->failure || !p->selected || p->sent < SEND_COUNT ||
	    p->received < RECV_NEEDED)
		return;
	p->done = TRUE;
	g_source_remove(p->timeout_id);
	printf("received %u\n", p->received);
	fflush(stdout);
	p->rc = 0;
	/* Lingering keeps the agent answering checks and sending keep-alives. */
	if (p->linger_s)
		g_timeout_add_seconds(p->linger_s, linger_done, p);
	else
		g_main_loop_quit(p->loop);
}

/* RFC 7983 §7: a first byte 0..3 is STUN. libnice may hand a retransmitted check
 * (OC2007R2 sends its first one twice) to the data callback. */
static gboolean looks_like_stun(const guint8 *b, guint len)
{
	return len >= 20 && (b[0] == 0x00 || b[0] == 0x01);
}

static void on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
		    gpointer data)
{
	struct peer *p = data;

	(void)agent;
	(void)stream_id;
	(void)component_id;
	if (looks_like_stun((const guint8 *)buf, len))
		return;
	if (p->rtp) {
		const guint8 *b = (const guint8 *)buf;
		if (len < 12 || (b[0] & 0xc0) != 0x80) {
			p->rtp_other++;
			return;
		}
		p->rx_ssrc = (guint32)b[8] << 24 | (guint32)b[9] << 16 | (guint32)b[10] << 8 | b[11];
	}
	p->received++;
	peer_check_done(p);
}

static gboolean send_tick(gpointer data)
{
	struct peer *p = data;
	char msg[64];
	int n;

	if (p->failure)
		return G_SOURCE_REMOVE;
	if (p->rtp) {
		/* RFC 3550 §5.1: V=2, PT 0 (PCMU), seq, 160 samples a packet, our SSRC */
		guint32 seq = p->sent + 1, ts = (p->sent + 1) * 160;
		guint8 h[12] = {0x80, 0x00, (guint8)(seq >> 8), (guint8)seq, (guint8)(ts >> 24),
				(guint8)(ts >> 16), (guint8)(ts >> 8), (guint8)ts,
				(guint8)(p->ssrc >> 24), (guint8)(p->ssrc >> 16), (guint8)(p->ssrc >> 8),
				(guint8)p->ssrc};
		memcpy(msg, h, sizeof(h));
		n = 12 + snprintf(msg + 12, sizeof(msg) - 12, "nicepeer-rtp-%u", p->sent + 1);
	} else {
		n = snprintf(msg, sizeof(msg), "nicepeer-data-%u", p->sent + 1);
	}
	if (nice_agent_send(p->agent, p->stream_id, NICE_COMPONENT_TYPE_RTP, (guint)n, msg) != n) {
		peer_fail(p, "nice_agent_send failed");
		return G_SOURCE_REMOVE;
	}
	p->sent++;
	/* media keeps flowing (also while lingering) so the far end gets its share late too */
	if (p->sent < SEND_COUNT || p->rtp) {
		if (p->sent >= SEND_COUNT)
			peer_check_done(p);
		return G_SOURCE_CONTINUE;
	}
	peer_check_done(p);
	return G_SOURCE_REMOVE;
}

static void on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state,
		     gpointer data)
{
	struct peer *p = data;

	(void)agent;
	printf("state %u/%u %s\n", stream_id, component_id,
	       nice_component_state_to_string((NiceComponentState)state));
	fflush(stdout);
	if (state == NICE_COMPONENT_STATE_FAILED)
		peer_fail(p, "ICE failed");
}

static void on_selected(NiceAgent *agent, guint stream_id, guint component_id,
			NiceCandidate *lcand, NiceCandidate *rcand, gpointer data)
{
	struct peer *p = data;
	char la[NICE_ADDRESS_STRING_LEN], ra[NICE_ADDRESS_STRING_LEN];

	(void)agent;
	(void)stream_id;
	(void)component_id;
	/* Later pair updates (renomination, a higher-priority pair) are not news to tests. */
	if (p->selected)
		return;
	p->selected = TRUE;
	nice_address_to_string(&lcand->addr, la);
	nice_address_to_string(&rcand->addr, ra);
	printf("selected %s:%u %s:%u\n", la, nice_address_get_port(&lcand->addr), ra,
	       nice_address_get_port(&rcand->addr));
	fflush(stdout);
	send_tick(p);
	if (p->sent < SEND_COUNT && !p->failure)
		g_timeout_add(p->rtp ? RTP_INTERVAL_MS : SEND_INTERVAL_MS, send_tick, p);
}

static gboolean on_timeout(gpointer data)
{
	struct peer *p = data;

	if (!p->remote_set)
		peer_fail(p, "timeout waiting for the remote SDP");
	else if (!p->selected)
		peer_fail(p, "timeout before a pair was selected");
	else
		peer_fail(p, "timeout waiting for peer data");
	return G_SOURCE_REMOVE;
}

/*
 * Any SDP with ICE attributes becomes the fragment libnice's parser wants: it needs an
 * m= line naming our stream, splits on LF only and takes "UDP" in upper case. We keep the
 * first media section (ice-ufrag/ice-pwd may also sit at session level, RFC 8839 §5.4)
 * and its component-1 candidates.
 */
static char *sdp_normalize(const char *sdp, char **why)
{
	gchar **lines = g_strsplit(sdp, "\n", -1);
	GString *cands = g_string_new(NULL);
	char *ufrag = NULL, *pwd = NULL, *out = NULL;
	int media = 0;

	for (int i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]);

		if (g_str_has_prefix(l, "m=")) {
			if (++media > 1)
				break;
		} else if (g_str_has_prefix(l, "a=ice-ufrag:")) {
			g_free(ufrag);
			ufrag = g_strdup(l + 12);
		} else if (g_str_has_prefix(l, "a=ice-pwd:")) {
			g_free(pwd);
			pwd = g_strdup(l + 10);
		} else if (g_str_has_prefix(l, "a=candidate:")) {
			/* RFC 8839 §5.1: foundation component transport priority addr port typ ... */
			gchar **t = g_strsplit_set(l + 12, " \t", -1);
			guint n = g_strv_length(t);

			if (n >= 8 && strcmp(t[1], "1") == 0 && g_ascii_strcasecmp(t[2], "udp") == 0) {
				g_string_append_printf(cands, "a=candidate:%s 1 UDP", t[0]);
				for (guint k = 3; k < n; k++)
					if (*t[k])
						g_string_append_printf(cands, " %s", t[k]);
				g_string_append_c(cands, '\n');
			}
			g_strfreev(t);
		}
	}
	if (!ufrag || !pwd)
		*why = "remote SDP has no a=ice-ufrag / a=ice-pwd";
	else if (!cands->len)
		*why = "remote SDP has no UDP component-1 candidate";
	else
		out = g_strdup_printf("m=audio 9 ICE/SDP\na=ice-ufrag:%s\na=ice-pwd:%s\n%s", ufrag,
				      pwd, cands->str);
	g_free(ufrag);
	g_free(pwd);
	g_string_free(cands, TRUE);
	g_strfreev(lines);
	return out;
}

static gboolean try_remote_sdp(gpointer data)
{
	struct peer *p = data;
	gchar *sdp = NULL, *norm;
	gsize len = 0;
	char *why = NULL;
	int n;

	if (strcmp(p->remote_sdp, "-") == 0) {
		GString *s = g_string_new(NULL);
		char buf[4096];
		size_t r;

		while ((r = fread(buf, 1, sizeof(buf), stdin)) > 0)
			g_string_append_len(s, buf, (gssize)r);
		len = s->len;
		sdp = g_string_free(s, FALSE);
	} else if (!g_file_get_contents(p->remote_sdp, &sdp, &len, NULL) || len == 0) {
		g_free(sdp);
		return G_SOURCE_CONTINUE; /* not written yet */
	}
	norm = sdp_normalize(sdp, &why);
	g_free(sdp);
	if (!norm) {
		peer_fail(p, why);
		return G_SOURCE_REMOVE;
	}
	n = nice_agent_parse_remote_sdp(p->agent, norm);
	g_free(norm);
	if (n <= 0) {
		peer_fail(p, "nice_agent_parse_remote_sdp rejected the remote SDP");
		return G_SOURCE_REMOVE;
	}
	p->remote_set = TRUE;
	printf("remote %d candidate(s)\n", n);
	fflush(stdout);
	return G_SOURCE_REMOVE;
}

/* Write-then-rename so the peer never reads half a file. */
static int write_atomic(const char *path, const char *text, GError **err)
{
	gchar *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
	int ok = g_file_set_contents(tmp, text, -1, err);

	if (ok && rename(tmp, path) != 0) {
		g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "rename %s: %s", tmp,
			    g_strerror(errno));
		ok = 0;
	}
	if (!ok)
		unlink(tmp);
	g_free(tmp);
	return ok;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nicepeer --mode rfc5245|oc2007r2 --role controlling|controlled --bind IP\n"
		"                --local-sdp FILE --remote-sdp FILE|- [--timeout S]\n"
		"                [--regular-nomination] [--lite] [--port-range LO-HI] [--linger S]\n"
		"                [--rtp]\n");
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *role = NULL, *bind_ip = NULL, *local_sdp = NULL;
	guint timeout_s = 10, port_lo = 0, port_hi = 0;
	gboolean regular = FALSE, lite = FALSE;
	NiceCompatibility compat;
	NiceAgentOption opts = NICE_AGENT_OPTION_NONE;
	struct peer p = {.rc = 1};
	NiceAddress addr;
	GError *err = NULL;
	gchar *sdp;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		gboolean takes = TRUE;

		if (strcmp(a, "--regular-nomination") == 0) {
			regular = TRUE;
			takes = FALSE;
		} else if (strcmp(a, "--lite") == 0) {
			lite = TRUE;
			takes = FALSE;
		} else if (strcmp(a, "--rtp") == 0) {
			p.rtp = TRUE;
			takes = FALSE;
		} else if (!v) {
			usage();
			return 2;
		} else if (strcmp(a, "--mode") == 0) {
			mode = v;
		} else if (strcmp(a, "--role") == 0) {
			role = v;
		} else if (strcmp(a, "--bind") == 0) {
			bind_ip = v;
		} else if (strcmp(a, "--local-sdp") == 0) {
			local_sdp = v;
		} else if (strcmp(a, "--remote-sdp") == 0) {
			p.remote_sdp = v;
		} else if (strcmp(a, "--timeout") == 0) {
			timeout_s = (guint)strtoul(v, NULL, 10);
		} else if (strcmp(a, "--linger") == 0) {
			p.linger_s = (guint)strtoul(v, NULL, 10);
		} else if (strcmp(a, "--port-range") == 0) {
			if (sscanf(v, "%u-%u", &port_lo, &port_hi) != 2 || !port_lo ||
			    port_hi < port_lo || port_hi > 65535) {
				fprintf(stderr, "nicepeer: bad --port-range %s\n", v);
				return 2;
			}
		} else {
			usage();
			return 2;
		}
		if (takes)
			i++;
	}
	if (!mode || !role || !bind_ip || !local_sdp || !p.remote_sdp || !timeout_s) {
		usage();
		return 2;
	}
	if (strcmp(mode, "rfc5245") == 0) {
		compat = NICE_COMPATIBILITY_RFC5245;
	} else if (strcmp(mode, "oc2007r2") == 0) {
		compat = NICE_COMPATIBILITY_OC2007R2;
	} else {
		fprintf(stderr, "nicepeer: unknown mode %s\n", mode);
		return 2;
	}
	if (strcmp(role, "controlling") != 0 && strcmp(role, "controlled") != 0) {
		fprintf(stderr, "nicepeer: unknown role %s\n", role);
		return 2;
	}
	if (!nice_address_set_from_string(&addr, bind_ip)) {
		fprintf(stderr, "nicepeer: bad address %s\n", bind_ip);
		return 2;
	}
	if (regular)
		opts |= NICE_AGENT_OPTION_REGULAR_NOMINATION;
	if (lite)
		opts |= NICE_AGENT_OPTION_LITE_MODE;

	if (p.rtp) {
		p.ssrc = g_random_int();
		printf("rtp ssrc 0x%08x\n", p.ssrc);
	}
	p.loop = g_main_loop_new(NULL, FALSE);
	p.agent = nice_agent_new_full(g_main_loop_get_context(p.loop), compat, opts);
	if (!p.agent) {
		fprintf(stderr, "nicepeer: nice_agent_new_full failed\n");
		return 1;
	}
	g_object_set(p.agent, "ice-tcp", FALSE, "upnp", FALSE, "controlling-mode",
		     strcmp(role, "controlling") == 0, NULL);
	g_signal_connect(p.agent, "component-state-changed", G_CALLBACK(on_state), &p);
	g_signal_connect(p.agent, "new-selected-pair-full", G_CALLBACK(on_selected), &p);

	if (!nice_agent_add_local_address(p.agent, &addr)) {
		fprintf(stderr, "nicepeer: cannot add local address %s\n", bind_ip);
		return 1;
	}
	p.stream_id = nice_agent_add_stream(p.agent, 1);
	if (!p.stream_id || !nice_agent_set_stream_name(p.agent, p.stream_id, "audio")) {
		fprintf(stderr, "nicepeer: cannot add the stream\n");
		return 1;
	}
	if (port_lo)
		nice_agent_set_port_range(p.agent, p.stream_id, NICE_COMPONENT_TYPE_RTP, port_lo,
					  port_hi);
	nice_agent_attach_recv(p.agent, p.stream_id, NICE_COMPONENT_TYPE_RTP,
			       g_main_loop_get_context(p.loop), on_recv, &p);
	if (!nice_agent_gather_candidates(p.agent, p.stream_id)) {
		printf("failed: cannot gather candidates on %s\n", bind_ip);
		return 1;
	}
	sdp = nice_agent_generate_local_sdp(p.agent);
	if (sdp && lite) {
		/* libnice's SDP never says it is lite: without RFC 8839 §5.3 a=ice-lite a
		 * full peer told to be controlled would wait for a nomination that never comes */
		gchar *l = g_strconcat(sdp, "a=ice-lite\n", NULL);
		g_free(sdp);
		sdp = l;
	}
	if (!sdp || !write_atomic(local_sdp, sdp, &err)) {
		printf("failed: cannot write local SDP: %s\n", err ? err->message : "no SDP");
		return 1;
	}
	g_free(sdp);

	p.timeout_id = g_timeout_add_seconds(timeout_s, on_timeout, &p);
	if (try_remote_sdp(&p) == G_SOURCE_CONTINUE)
		g_timeout_add(SDP_POLL_MS, try_remote_sdp, &p);
	/* A quit before the loop runs is lost: a bad remote SDP on stdin fails right here. */
	if (!p.failure)
		g_main_loop_run(p.loop);

	if (p.rtp)
		printf("rtp sent %u received %u from ssrc 0x%08x, other %u\n", p.sent, p.received,
		       p.rx_ssrc, p.rtp_other);
	if (p.failure)
		printf("failed: %s\n", p.failure);
	fflush(stdout);
	g_free(p.failure);
	g_object_unref(p.agent);
	g_main_loop_unref(p.loop);
	return p.rc;
}
