/* icepeer: one ICE agent (ice/ice_agent.h) on kernel UDP sockets, with an SDP exchange through
 * files, for interop tests against real peers. The only place in the project with sockets. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ice_agent.h"
#include "ice_warn.h"
#include "sdp.h"
#include "sockaddr_ice.h"

/* Exit codes (sysexits.h values for usage and data errors). */
enum {
	EXIT_OK = 0,
	EXIT_ICE_FAILED = 1,
	EXIT_TIMEOUT = 2,
	EXIT_USAGE = 64,     /* EX_USAGE */
	EXIT_BAD_SDP = 65,   /* EX_DATAERR: the remote SDP cannot be used */
	EXIT_SYSTEM = 71,    /* EX_OSERR: sockets, files */
};

#define SDP_FILE_MAX 65536
#define DATA_INTERVAL_US 20000   /* one test datagram per 20 ms (an RTP packet time) */
#define DATA_NEED 3              /* datagrams to receive from the peer before exiting 0 */
#define LINGER_US 300000         /* keep answering checks briefly so the peer can finish */

struct peer {
	struct ice_agent agent;
	int fd[ICE_MAX_COMPS];
	struct ice_addr bound[ICE_MAX_COMPS];
	uint8_t ncomp;
	uint64_t rng;
	uint64_t t0;
	bool trace;
	bool selected_printed;
	unsigned data_n, data_sent, data_rcvd;
	uint64_t next_data_us, done_at_us;
};

static const char usage_text[] =
	"usage: icepeer --dialect rfc8445|ms-ice2|ms-ice --role controlling|controlled\n"
	"               --bind IP[:PORT] --remote-sdp FILE|- --local-sdp FILE\n"
	"               [--lite] [--timeout S] [--regular-nomination] [--ncomp 1|2]\n"
	"               [--trace] [--seed N] [--data N]\n"
	"Runs one ICE agent over UDP; prints 'selected <local> <remote>' once component 1 is\n"
	"selected, then exchanges N (default 5) datagrams.\n"
	"Exit: 0 success, 1 ICE failed (ICEWarn printed), 2 timeout, 64 usage,\n"
	"      65 unusable remote SDP, 71 system error.\n";

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "icepeer: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return EXIT_USAGE;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t xorshift(void *ctx)
{
	uint64_t *s = ctx, x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/" */
static void random_ice_chars(uint64_t *rng, char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i++)
		out[i] = set[xorshift(rng) % 64];
	out[n] = 0;
}

static void trace_line(void *ctx, uint64_t now, const char *line)
{
	struct peer *p = ctx;
	uint64_t t = now >= p->t0 ? now - p->t0 : 0;

	fprintf(stderr, "%4" PRIu64 ".%03" PRIu64 " %s\n", t / 1000000, (t / 1000) % 1000, line);
}

/* ------------------------------------------------------------------ addresses and sockets */

static int bind_udp(const struct ice_addr *want, struct ice_addr *got)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(want, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char as[ICE_ADDR_STRLEN];

	if (fd < 0) {
		fprintf(stderr, "icepeer: socket: %s\n", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		fprintf(stderr, "icepeer: bind %s: %s\n", ice_addr_fmt(want, as, sizeof(as)),
			strerror(errno));
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || !from_sockaddr(&ss, got)) {
		fprintf(stderr, "icepeer: getsockname: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void send_from(struct peer *p, const struct ice_addr *from, const struct ice_addr *to,
		      const uint8_t *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(to, &ss);
	int fd = -1;

	for (unsigned c = 0; c < p->ncomp; c++)
		if (ice_addr_eq(&p->bound[c], from))
			fd = p->fd[c];
	if (fd < 0)
		return; /* not one of our sockets: the agent only names host bases */
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl) < 0 && p->trace)
		fprintf(stderr, "icepeer: sendto: %s\n", strerror(errno));
}

/* ------------------------------------------------------------------ SDP files */

/* Written to FILE.tmp and renamed, so that a peer polling for FILE never reads half of it. */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int local_sdp(struct peer *p, bool lite, char *out, size_t cap)
{
	static struct sdp_ice_media m; /* ~35 KB: not on the stack */
	struct ice_agent *a = &p->agent;
	char ip[ICE_ADDR_STRLEN];
	const char *ipv = p->bound[0].family == ICE_AF_INET6 ? "IP6" : "IP4";
	int n, k;

	memset(&m, 0, sizeof(m));
	if (a->cfg.dialect != ICE_DIALECT_MSICE) {
		/* RFC 8839 §5.4 */
		snprintf(m.params.ufrag, sizeof(m.params.ufrag), "%s", a->ufrag);
		snprintf(m.params.pwd, sizeof(m.params.pwd), "%s", a->pwd);
		m.params.has_ufrag = m.params.has_pwd = true;
	}
	m.params.lite = lite;
	for (unsigned i = 0; i < a->nlocal && m.n_cand < SDP_CAND_MAX; i++) {
		struct sdp_candidate *c = &m.cand[m.n_cand++];
		c->component = a->local[i].comp;
		c->transport = SDP_TP_UDP;
		c->type = SDP_CAND_HOST;
		c->addr = a->local[i].addr;
		if (a->cfg.dialect == ICE_DIALECT_MSICE) {
			/* [MS-ICE] draft-06 form: per-candidate identifier and password */
			c->form = SDP_FORM_DRAFT06;
			c->qvalue = (uint16_t)a->local[i].prio;
			if (ice_agent_local_ms_cred(a, (int)i, c->foundation, sizeof(c->foundation),
						    c->password, sizeof(c->password)) != 0)
				return -1;
		} else {
			c->form = SDP_FORM_RFC8839;
			c->priority = a->local[i].prio;
			snprintf(c->foundation, sizeof(c->foundation), "%s", a->local[i].fnd_str);
		}
	}
	if (p->ncomp == 2) {
		m.has_rtcp = true; /* RFC 3605 */
		m.rtcp_port = p->bound[1].port;
	}
	ice_addr_fmt_ip(&p->bound[0], ip, sizeof(ip));
	n = snprintf(out, cap,
		     "v=0\r\no=- %" PRIu64 " 1 IN %s %s\r\ns=icepeer\r\nc=IN %s %s\r\nt=0 0\r\n"
		     "m=audio %u RTP/AVP 0\r\n",
		     p->rng % 1000000000u, ipv, ip, ipv, ip, p->bound[0].port);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	k = sdp_fmt_ice_media(out + n, cap - (size_t)n, &m);
	if (k < 0) {
		fprintf(stderr, "icepeer: cannot format local SDP: %s\n", sdp_strerror(k));
		return -1;
	}
	return n + k;
}

/* Waits (bounded by deadline) for FILE to exist and hold a complete body, or reads stdin. */
static int read_remote(const char *path, uint64_t deadline, char *buf, size_t cap, size_t *len)
{
	int fd;
	size_t n = 0;

	if (strcmp(path, "-") == 0) {
		for (;;) {
			struct pollfd pfd = {.fd = 0, .events = POLLIN};
			uint64_t t = now_us();
			ssize_t r;
			if (t >= deadline)
				return EXIT_TIMEOUT;
			if (poll(&pfd, 1, (int)((deadline - t) / 1000 + 1)) <= 0)
				continue;
			if (n + 1 >= cap) {
				fprintf(stderr, "icepeer: remote SDP longer than %zu bytes\n", cap - 1);
				return EXIT_BAD_SDP;
			}
			r = read(0, buf + n, cap - 1 - n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				fprintf(stderr, "icepeer: stdin: %s\n", strerror(errno));
				return EXIT_SYSTEM;
			}
			if (r == 0)
				break;
			n += (size_t)r;
		}
		buf[n] = 0;
		*len = n;
		return 0;
	}
	for (;;) {
		struct stat st;
		if (stat(path, &st) == 0 && st.st_size > 0) {
			if (!S_ISREG(st.st_mode)) {
				fprintf(stderr, "icepeer: %s: not a regular file\n", path);
				return EXIT_BAD_SDP;
			}
			if ((size_t)st.st_size >= cap) {
				fprintf(stderr, "icepeer: %s: longer than %zu bytes\n", path, cap - 1);
				return EXIT_BAD_SDP;
			}
			break;
		}
		if (now_us() >= deadline) {
			fprintf(stderr, "icepeer: timed out waiting for %s\n", path);
			return EXIT_TIMEOUT;
		}
		usleep(20000);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "icepeer: %s: %s\n", path, strerror(errno));
		return EXIT_SYSTEM;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || n + (size_t)r >= cap - 1) {
			if (r > 0)
				n += (size_t)r;
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return 0;
}

/* RFC 4648 §4 base64 without padding, as draft-06 SDP carries identifiers and passwords. */
static void b64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		out[o++] = t[v >> 18];
		out[o++] = t[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = t[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = t[v & 63];
	}
	out[o] = 0;
}

static enum ice_cand_type cand_type(uint8_t t)
{
	switch (t) {
	case SDP_CAND_SRFLX: return ICE_CAND_SRFLX;
	case SDP_CAND_PRFLX: return ICE_CAND_PRFLX;
	case SDP_CAND_RELAY: return ICE_CAND_RELAY;
	default: return ICE_CAND_HOST;
	}
}

/*
 * Feeds the first media section to the agent. An SDP in the other dialect's grammar is
 * still fed, so that a dialect mismatch fails the way it does on the wire (checks nobody
 * answers) rather than in this parser: an RFC agent facing draft-06 lines borrows the first
 * candidate's identifier and password as ufrag/pwd; an MS-ICE agent facing RFC lines uses
 * each foundation as identifier and the first 16 bytes of ice-pwd as password.
 */
static int feed_remote(struct peer *p, const char *body, size_t len)
{
	static struct sdp_session s; /* ~560 KB: never on the stack */
	struct ice_agent *a = &p->agent;
	struct sdp_ice_media *m;
	const char *ufrag, *pwd;
	unsigned used = 0, skipped = 0;
	char ms_id[ICE_MS_ID_MAX * 2], ms_pwd[ICE_MS_PWD_MAX * 2];
	bool ms = a->cfg.dialect == ICE_DIALECT_MSICE;
	int r;

	r = sdp_parse(&s, body, len);
	if (r < 0) {
		fprintf(stderr, "icepeer: remote SDP: %s\n", sdp_strerror(r));
		return EXIT_BAD_SDP;
	}
	if (s.lines_skipped)
		fprintf(stderr, "icepeer: remote SDP: %u line(s) skipped, first at line %u: %s\n",
			s.lines_skipped, s.first_error_line, sdp_strerror(s.first_error));
	if (s.n_media == 0) {
		fprintf(stderr, "icepeer: remote SDP has no usable m= section\n");
		return EXIT_BAD_SDP;
	}
	m = &s.media[0].ice;
	sdp_ice_merge(&m->params, &s.params);
	ufrag = m->params.has_ufrag ? m->params.ufrag : NULL;
	pwd = m->params.has_pwd ? m->params.pwd : NULL;
	if (!ms && (!ufrag || !pwd)) {
		char id[ICE_UFRAG_MAX + 1];
		if (m->n_cand == 0 || m->cand[0].form != SDP_FORM_DRAFT06) {
			fprintf(stderr, "icepeer: remote SDP has no a=ice-ufrag/a=ice-pwd\n");
			return EXIT_BAD_SDP;
		}
		fprintf(stderr, "icepeer: remote SDP is in the draft-06 form (MS-ICE peer?); "
				"using its first candidate's credentials\n");
		memcpy(id, m->cand[0].foundation, ICE_UFRAG_MAX);
		id[ICE_UFRAG_MAX] = 0;
		r = ice_agent_set_remote_credentials(a, id, m->cand[0].password);
	} else if (!ms) {
		r = ice_agent_set_remote_credentials(a, ufrag, pwd);
	}
	if (!ms && r != 0) {
		fprintf(stderr, "icepeer: remote credentials refused: %s\n", ice_strerror(r));
		return EXIT_BAD_SDP;
	}
	if (m->params.lite)
		ice_agent_set_remote_lite(a, true);
	for (unsigned i = 0; i < m->n_cand; i++) {
		const struct sdp_candidate *c = &m->cand[i];
		struct ice_remote_cand rc = {
			.comp = (uint8_t)c->component,
			.type = (uint8_t)cand_type(c->type),
			.prio = c->form == SDP_FORM_DRAFT06 ? c->qvalue : c->priority,
			.addr = c->addr,
			.foundation = c->foundation,
		};
		if (c->transport != SDP_TP_UDP || (c->flags & SDP_CAND_F_HOSTNAME) ||
		    c->addr.family != p->bound[0].family || c->component > p->ncomp) {
			skipped++;
			continue;
		}
		if (ms && c->form == SDP_FORM_DRAFT06) {
			rc.ms_id = c->foundation;
			rc.ms_pwd = c->password;
		} else if (ms) {
			size_t fl = strnlen(c->foundation, ICE_MS_ID_MAX);
			size_t pl = pwd ? strnlen(pwd, ICE_MS_PWD_MAX) : 0;
			if (!pl) {
				skipped++;
				continue;
			}
			b64((const uint8_t *)c->foundation, fl, ms_id);
			b64((const uint8_t *)pwd, pl, ms_pwd);
			rc.ms_id = ms_id;
			rc.ms_pwd = ms_pwd;
			if (!used && !skipped)
				fprintf(stderr, "icepeer: remote SDP is in the RFC 8839 form (not an "
						"MS-ICE peer?); deriving candidate credentials\n");
		}
		if (rc.prio == 0)
			rc.prio = 1;
		r = ice_agent_add_remote(a, now_us(), &rc);
		if (r < 0) {
			skipped++;
			fprintf(stderr, "icepeer: remote candidate %u refused: %s\n", i + 1,
				ice_strerror(r));
			continue;
		}
		used++;
	}
	if (!used)
		fprintf(stderr, "icepeer: no usable remote candidate (UDP, same address family, "
				"component <= %u): ICE will fail\n", p->ncomp);
	printf("remote-sdp candidates=%u skipped=%u%s\n", used, skipped,
	       m->params.lite ? " lite" : "");
	ice_agent_end_of_candidates(a);
	if (m->remote_candidate[0] && ms)
		ice_agent_ms_final_offer(a, now_us(), m->remote_candidate);
	return 0;
}

/* ------------------------------------------------------------------ the loop */

static void print_warn(const struct ice_agent *a)
{
	char w[512];

	ice_warn_format(w, sizeof(w), ice_agent_warn(a));
	printf("ICEWarn=0x%x (%s)\n", ice_agent_warn(a), w);
}

static void flush_agent(struct peer *p, uint64_t now)
{
	uint8_t buf[1500];
	struct ice_out out = {.buf = buf, .cap = sizeof(buf)};

	while (ice_agent_poll_transmit(&p->agent, now, &out) == 1)
		send_from(p, &out.from, &out.to, buf, out.len);
}

/* Returns -1 to go on, or an exit code. */
static int handle_events(struct peer *p, uint64_t now)
{
	struct ice_event ev;
	char l[ICE_ADDR_STRLEN], r[ICE_ADDR_STRLEN];

	while (ice_agent_poll_event(&p->agent, &ev)) {
		struct ice_addr la, ra;
		switch (ev.type) {
		case ICE_EV_PAIR_VALID: {
			const struct ice_pair *pp = &p->agent.pairs[ev.pair];
			printf("pair valid comp=%u %s %s\n", ev.comp,
			       ice_addr_fmt(&p->agent.local[pp->local].addr, l, sizeof(l)),
			       ice_addr_fmt(&p->agent.remote[pp->remote].addr, r, sizeof(r)));
			break;
		}
		case ICE_EV_SELECTED:
			if (ice_agent_selected(&p->agent, ev.comp, &la, &ra) != 0)
				break;
			if (ev.comp == 1 && !p->selected_printed) {
				p->selected_printed = true;
				printf("selected %s %s\n", ice_addr_fmt(&la, l, sizeof(l)),
				       ice_addr_fmt(&ra, r, sizeof(r)));
				p->next_data_us = now;
			} else {
				printf("component %u selected %s %s\n", ev.comp,
				       ice_addr_fmt(&la, l, sizeof(l)), ice_addr_fmt(&ra, r, sizeof(r)));
			}
			break;
		case ICE_EV_COMPLETED:
			printf("state completed\n");
			break;
		case ICE_EV_FAILED:
			printf("state failed\n");
			print_warn(&p->agent);
			return EXIT_ICE_FAILED;
		case ICE_EV_CONSENT_LOST:
			printf("consent lost comp=%u\n", ev.comp);
			print_warn(&p->agent);
			return EXIT_ICE_FAILED;
		case ICE_EV_ROLE_CHANGED:
			printf("role %s\n", ice_agent_role(&p->agent) == ICE_ROLE_CONTROLLING ?
						    "controlling" : "controlled");
			break;
		case ICE_EV_FINAL_OFFER:
			printf("final-offer comp=%u\n", ev.comp);
			break;
		default:
			break;
		}
	}
	return -1;
}

static void receive(struct peer *p, unsigned c, uint64_t now)
{
	uint8_t buf[2048], rbuf[1500];

	for (int guard = 0; guard < 64; guard++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct ice_addr from;
		struct ice_out reply = {.buf = rbuf, .cap = sizeof(rbuf)};
		ssize_t n = recvfrom(p->fd[c], buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return; /* EAGAIN, or an ICMP error reported on the socket */
		if (!from_sockaddr(&ss, &from))
			continue;
		switch (ice_agent_recv(&p->agent, now, &p->bound[c], &from, buf, (size_t)n, &reply)) {
		case ICE_RX_REPLIED:
			send_from(p, &reply.from, &reply.to, rbuf, reply.len);
			break;
		case ICE_RX_NOT_STUN:
			if (c == 0) {
				p->data_rcvd++;
				if (p->data_rcvd <= DATA_NEED || p->trace) {
					char fs[ICE_ADDR_STRLEN];
					printf("data from %s: %.*s\n", ice_addr_fmt(&from, fs, sizeof(fs)),
					       (int)(n > 40 ? 40 : n), (const char *)buf);
				}
			}
			break;
		default:
			break;
		}
	}
}

static void send_data(struct peer *p, uint64_t now)
{
	struct ice_addr la, ra;
	char msg[64];
	int n;

	if (!p->selected_printed || p->data_sent >= p->data_n || now < p->next_data_us)
		return;
	if (ice_agent_selected(&p->agent, 1, &la, &ra) != 0)
		return;
	n = snprintf(msg, sizeof(msg), "icepeer-data-%u", p->data_sent + 1);
	send_from(p, &la, &ra, (const uint8_t *)msg, (size_t)n);
	ice_agent_note_media_sent(&p->agent, 1, now);
	p->data_sent++;
	p->next_data_us = now + DATA_INTERVAL_US;
}

static int run(struct peer *p, uint64_t deadline)
{
	printf("state running\n");
	for (;;) {
		uint64_t now = now_us(), wake;
		struct pollfd pfd[ICE_MAX_COMPS];
		int rc;

		if (ice_agent_next_timeout(&p->agent) <= now)
			ice_agent_handle_timeout(&p->agent, now);
		flush_agent(p, now);
		if ((rc = handle_events(p, now)) >= 0)
			return rc;
		send_data(p, now);
		if (!p->done_at_us && p->selected_printed && p->data_sent >= p->data_n &&
		    p->data_rcvd >= (p->data_n ? DATA_NEED : 0u)) {
			p->done_at_us = now;
			printf("data sent=%u received=%u\n", p->data_sent, p->data_rcvd);
		}
		if (p->done_at_us && now >= p->done_at_us + LINGER_US)
			return EXIT_OK;
		if (now >= deadline) {
			printf("timeout state=%d sent=%u received=%u\n", ice_agent_state(&p->agent),
			       p->data_sent, p->data_rcvd);
			print_warn(&p->agent);
			return EXIT_TIMEOUT;
		}
		wake = deadline;
		if (ice_agent_next_timeout(&p->agent) < wake)
			wake = ice_agent_next_timeout(&p->agent);
		if (p->selected_printed && p->data_sent < p->data_n && p->next_data_us < wake)
			wake = p->next_data_us;
		if (p->done_at_us && p->done_at_us + LINGER_US < wake)
			wake = p->done_at_us + LINGER_US;
		for (unsigned c = 0; c < p->ncomp; c++)
			pfd[c] = (struct pollfd){.fd = p->fd[c], .events = POLLIN};
		rc = poll(pfd, p->ncomp, wake > now ? (int)((wake - now + 999) / 1000) : 0);
		if (rc < 0 && errno != EINTR) {
			fprintf(stderr, "icepeer: poll: %s\n", strerror(errno));
			return EXIT_SYSTEM;
		}
		now = now_us();
		for (unsigned c = 0; c < p->ncomp && rc > 0; c++)
			if (pfd[c].revents & (POLLIN | POLLERR))
				receive(p, c, now);
	}
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && !*end && *v <= max;
}

int main(int argc, char **argv)
{
	static struct peer p;
	static char body[SDP_FILE_MAX];
	static const struct option opts[] = {
		{"dialect", required_argument, NULL, 'd'},
		{"role", required_argument, NULL, 'r'},
		{"bind", required_argument, NULL, 'b'},
		{"remote-sdp", required_argument, NULL, 'R'},
		{"local-sdp", required_argument, NULL, 'L'},
		{"lite", no_argument, NULL, 'l'},
		{"timeout", required_argument, NULL, 't'},
		{"regular-nomination", no_argument, NULL, 'n'},
		{"ncomp", required_argument, NULL, 'c'},
		{"trace", no_argument, NULL, 'T'},
		{"seed", required_argument, NULL, 's'},
		{"data", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ice_config cfg = {.nomination = ICE_NOM_AGGRESSIVE, .ncomp = 1};
	const char *bind_s = NULL, *remote_path = NULL, *local_path = NULL;
	bool have_dialect = false, have_role = false, have_seed = false;
	unsigned long timeout_s = 30, v;
	struct ice_addr want;
	char ufrag[9], pwd[25], text[8192];
	uint64_t deadline;
	size_t blen;
	int o, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	p.data_n = 5;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			have_dialect = true;
			if (!strcmp(optarg, "rfc8445"))
				cfg.dialect = ICE_DIALECT_RFC8445;
			else if (!strcmp(optarg, "ms-ice2"))
				cfg.dialect = ICE_DIALECT_MSICE2;
			else if (!strcmp(optarg, "ms-ice"))
				cfg.dialect = ICE_DIALECT_MSICE;
			else
				return usage("unknown dialect '%s'", optarg);
			break;
		case 'r':
			have_role = true;
			if (!strcmp(optarg, "controlling"))
				cfg.role = ICE_ROLE_CONTROLLING;
			else if (!strcmp(optarg, "controlled"))
				cfg.role = ICE_ROLE_CONTROLLED;
			else
				return usage("unknown role '%s'", optarg);
			break;
		case 'b': bind_s = optarg; break;
		case 'R': remote_path = optarg; break;
		case 'L': local_path = optarg; break;
		case 'l': cfg.lite = true; break;
		case 'n': cfg.nomination = ICE_NOM_REGULAR; break;
		case 'T': p.trace = true; break;
		case 't':
			if (!parse_uint(optarg, 3600, &timeout_s) || timeout_s == 0)
				return usage("--timeout wants 1..3600 seconds, not '%s'", optarg);
			break;
		case 'c':
			if (!parse_uint(optarg, 2, &v) || v < 1)
				return usage("--ncomp wants 1 or 2, not '%s'", optarg);
			cfg.ncomp = (uint8_t)v;
			break;
		case 's':
			if (!parse_uint(optarg, ULONG_MAX, &v))
				return usage("--seed wants a number, not '%s'", optarg);
			p.rng = v;
			have_seed = true;
			break;
		case 'D':
			if (!parse_uint(optarg, 100000, &v))
				return usage("--data wants 0..100000, not '%s'", optarg);
			p.data_n = (unsigned)v;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		default:
			return usage("%s", "bad option");
		}
	}
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	if (!have_dialect || !have_role || !bind_s || !remote_path || !local_path)
		return usage("%s", "--dialect, --role, --bind, --remote-sdp and --local-sdp are required");
	if (ice_addr_parse(&want, bind_s) != 0)
		return usage("--bind wants IP[:PORT], not '%s'", bind_s);
	{
		static const uint8_t zero[16];
		if (!memcmp(want.ip, zero, want.family == ICE_AF_INET ? 4 : 16))
			return usage("--bind needs a specific address (a host candidate), not '%s'",
				     bind_s);
	}
	if (want.port == 65535 && cfg.ncomp == 2)
		return usage("--bind port '%s' leaves no room for component 2", bind_s);

	deadline = now_us() + (uint64_t)timeout_s * 1000000u;
	if (!have_seed && getrandom(&p.rng, sizeof(p.rng), 0) != (ssize_t)sizeof(p.rng))
		p.rng = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32);
	if (!p.rng)
		p.rng = 0x9e3779b97f4a7c15ull;
	/* RFC 8445 §5.3: ufrag at least 24 bits, pwd at least 128 bits of randomness */
	random_ice_chars(&p.rng, ufrag, 8);
	random_ice_chars(&p.rng, pwd, 24);

	p.ncomp = cfg.ncomp;
	for (unsigned c = 0; c < p.ncomp; c++) {
		struct ice_addr w = want;
		if (c > 0)
			w.port = want.port ? (uint16_t)(want.port + c) : 0;
		p.fd[c] = bind_udp(&w, &p.bound[c]);
		if (p.fd[c] < 0)
			return EXIT_SYSTEM;
	}
	cfg.ufrag = ufrag;
	cfg.pwd = pwd;
	cfg.rng = xorshift;
	cfg.rng_ctx = &p.rng;
	cfg.name = "icepeer";
	if (p.trace) {
		cfg.trace = trace_line;
		cfg.trace_ctx = &p;
	}
	p.t0 = now_us();
	r = ice_agent_init(&p.agent, &cfg);
	if (r != 0) {
		fprintf(stderr, "icepeer: agent: %s\n", ice_strerror(r));
		return EXIT_USAGE;
	}
	for (unsigned c = 0; c < p.ncomp; c++) {
		r = ice_agent_add_local(&p.agent, (uint8_t)(c + 1), ICE_CAND_HOST, &p.bound[c], -1,
					65535);
		if (r < 0) {
			fprintf(stderr, "icepeer: local candidate: %s\n", ice_strerror(r));
			return EXIT_SYSTEM;
		}
	}
	r = local_sdp(&p, cfg.lite, text, sizeof(text));
	if (r < 0 || write_atomic(local_path, text, (size_t)r) != 0) {
		fprintf(stderr, "icepeer: cannot write %s: %s\n", local_path,
			r < 0 ? "SDP too long" : strerror(errno));
		return EXIT_SYSTEM;
	}
	{
		char bs[ICE_ADDR_STRLEN];
		printf("local-sdp %s bound %s\n", local_path, ice_addr_fmt(&p.bound[0], bs, sizeof(bs)));
	}
	r = read_remote(remote_path, deadline, body, sizeof(body), &blen);
	if (r != 0) {
		if (r == EXIT_TIMEOUT)
			printf("timeout waiting for the remote SDP\n");
		return r;
	}
	r = feed_remote(&p, body, blen);
	if (r != 0)
		return r;
	r = ice_agent_start(&p.agent, now_us());
	if (r != 0) {
		fprintf(stderr, "icepeer: cannot start the agent: %s\n", ice_strerror(r));
		return EXIT_BAD_SDP;
	}
	r = run(&p, deadline);
	if (p.trace)
		ice_agent_dump(&p.agent, now_us());
	for (unsigned c = 0; c < p.ncomp; c++)
		close(p.fd[c]);
	return r;
}
