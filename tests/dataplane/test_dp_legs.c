/* Legs file tests (dataplane/dp_legs.c): a good file yields the legs it says, and every
 * malformed line is refused with the file name and the line number in the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dp_legs.h"

#define T0 1700000000000000ull

static const char good[] =
	"# a call: two legs\n"
	"[gateway]\n"
	"ip = 203.0.113.1\n"
	"mac = 02:00:00:00:00:01\n"
	"gw-mac = 02:00:00:00:00:fe\n"
	"seed = 77\n"
	"\n"
	"[leg alice]\n"
	"port = 20000\n"
	"rtcp-mux = no\n"
	"ice = full\n"
	"role = controlling\n"
	"nomination = regular\n"
	"ufrag = gwa1\n"
	"pwd = gatewaypassword-alice-0001\n"
	"remote-ufrag = aliu\n"
	"remote-pwd = alicepassword-alicepass\n"
	"remote-candidate = candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host\n"
	"remote-candidate = candidate:1 2 UDP 2130706430 192.0.2.10 40001 typ host\n"
	"default-remote = 192.0.2.10:40000\n"
	"default-remote-rtcp = 192.0.2.10:40001\n"
	"peer = bob\n"
	"clock = 48000\n"
	"\n"
	"[leg bob]\n"
	"  port = 20002   \n"
	"ice = off\n"
	"; a comment\n"
	"default-remote = 198.51.100.20:50000\n";

static void test_good_file(void **st)
{
	struct dp_legs L;
	char err[256] = "";
	struct dp_core *c = calloc(1, sizeof(*c));
	int a, b;

	(void)st;
	assert_int_equal(dp_legs_parse(good, "good.conf", &L, err, sizeof(err)), 0);
	assert_int_equal(L.ip, 0xcb007101);
	assert_true(L.have_mac && L.have_gw_mac);
	assert_memory_equal(L.mac, "\x02\x00\x00\x00\x00\x01", 6);
	assert_memory_equal(L.gw_mac, "\x02\x00\x00\x00\x00\xfe", 6);
	assert_int_equal(L.seed, 77);
	assert_int_equal(L.nlegs, 2);
	assert_string_equal(L.legs[0].cfg.name, "alice");
	assert_int_equal(L.legs[0].cfg.port, 20000);
	assert_false(L.legs[0].cfg.rtcp_mux);
	assert_true(L.legs[0].cfg.ice);
	assert_int_equal(L.legs[0].cfg.ice_cfg.role, ICE_ROLE_CONTROLLING);
	assert_int_equal(L.legs[0].cfg.ice_cfg.nomination, ICE_NOM_REGULAR);
	assert_string_equal(L.legs[0].ufrag, "gwa1");
	assert_string_equal(L.legs[0].cfg.rpwd, "alicepassword-alicepass");
	assert_int_equal(L.legs[0].nrc, 2);
	assert_int_equal(L.legs[0].rc[1].comp, 2);
	assert_int_equal(L.legs[0].rc[1].addr.port, 40001);
	assert_int_equal(L.legs[0].rc[0].prio, 2130706431u);
	assert_int_equal(L.legs[0].cfg.default_remote[1].port, 40001);
	assert_string_equal(L.legs[0].peer, "bob");
	assert_int_equal(L.legs[0].cfg.clock_hz, 48000);
	assert_int_equal(L.legs[0].line, 8);
	assert_int_equal(L.legs[1].line, 25);
	assert_int_equal(L.legs[1].cfg.port, 20002);
	assert_false(L.legs[1].cfg.ice);
	assert_true(L.legs[1].cfg.rtcp_mux); /* the default */

	assert_int_equal(dp_core_init(c, L.ip, (const uint8_t *)"\0\0\0\0\0\0", 8, L.seed, calloc,
				      T0), 0);
	c->emit = NULL;
	assert_int_equal(dp_legs_apply(&L, c, T0, err, sizeof(err)), 0);
	a = dp_core_find_leg(c, "alice");
	b = dp_core_find_leg(c, "bob");
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(c->legs[a].peer, (uint32_t)b);
	assert_int_equal(c->legs[b].peer, (uint32_t)a);
	assert_int_equal(c->port_map[20000], (uint32_t)a + 1);
	assert_int_equal(c->port_map[20001], (uint32_t)a + 1); /* RTCP without mux */
	assert_int_equal(c->port_map[20002], (uint32_t)b + 1);
	assert_int_equal(c->port_map[20003], 0);
	assert_memory_equal(c->mac, L.mac, 6);
	assert_true(c->have_gw_mac);
	assert_int_equal(c->legs[b].media_state[0], 1); /* default remote known */
	assert_int_equal(ice_agent_state(&c->legs[a].agent), ICE_STATE_RUNNING);
	dp_legs_free(&L);
	dp_core_free(c, free);
	free(c);
}

struct bad {
	const char *text;
	const char *msg; /* expected as a substring, with "FILE:LINE: " in front */
};

static void test_errors(void **st)
{
	static const struct bad bad[] = {
		{"[gateway]\nip = 1.2.3.4\n\n[leg a]\nport = 1\ncolour = red\n", "t.conf:6: unknown key 'colour'"},
		{"\n\n[gateway]\nmtu = 9000\n", "t.conf:4: unknown key 'mtu'"},
		{"# hi\n[legs a]\n", "t.conf:2: unknown section [legs a]"},
		{"[leg a]\nice = off\n\nport = 0\n", "t.conf:4: port must be 1-65535"},
		{"[leg a]\nice = off\nport = 65536\n", "t.conf:3: port must be 1-65535"},
		{"[leg a]\nice = off\nport = 12x\n", "t.conf:3: port must be 1-65535"},
		{"[leg a]\nice = off\nport = -1\n", "t.conf:3: port must be 1-65535"},
		{"[leg a]\nice = off\nport = 1000\n\n# b\n[leg a]\nice = off\nport = 1002\n",
		 "t.conf:6: leg a defined twice"},
		{"\n[leg a]\nport = 1000\npwd = gatewaypassword-0001\n", "t.conf:2: leg a needs ufrag and pwd"},
		{"[leg a]\nport = 1000\nufrag = abcd\n", "t.conf:1: leg a needs ufrag and pwd"},
		{"[leg a]\nport = 1000\n\nremote-candidate = candidate:1 1 UDP 1 192.0.2.1 typ host\n",
		 "t.conf:4: bad remote-candidate"},
		{"[leg a]\nremote-candidate = candidate:1 1 TCP 1 192.0.2.1 9 typ host tcptype active\n",
		 "t.conf:2: bad remote-candidate"},
		{"[leg a]\nremote-candidate = candidate:1 1 UDP 1 2001:db8::1 9 typ host\n",
		 "t.conf:2: bad remote-candidate"},
		{"# no section yet\n\nport = 1000\n", "t.conf:3: key outside a section"},
		{"[leg a]\nport 1000\n", "t.conf:2: expected key = value"},
		{"[leg a\n", "t.conf:1: bad section header"},
		{"[gateway]\nip = 1.2.3.4:5\n", "t.conf:2: ip must be an IPv4 address"},
		{"[gateway]\n\n\nmac = 02:00:00:00:00\n", "t.conf:4: mac must be"},
		{"[leg a]\nice = maybe\n", "t.conf:2: ice must be full, lite or off"},
		{"[leg a]\ndefault-remote = 192.0.2.1\n", "t.conf:2: default-remote must be IPv4:PORT"},
		{"[leg a]\nufrag = a:b\n", "t.conf:2: ufrag must be"},
		{"[leg a]\niface = 8\n", "t.conf:2: iface must be 0-7"},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dp_legs L;
		char err[256] = "";
		int r = dp_legs_parse(bad[i].text, "t.conf", &L, err, sizeof(err));
		if (r != -1 || !strstr(err, bad[i].msg))
			fail_msg("case %zu: r=%d err '%s', expected '%s'", i, r, err, bad[i].msg);
		assert_null(L.legs);
		assert_int_equal(L.nlegs, 0);
	}
}

static void test_apply_errors(void **st)
{
	static const struct bad bad[] = {
		{"[leg a]\nice = off\nport = 1000\n\n[leg b]\nice = off\nport = 1002\npeer = c\n",
		 "line 5: leg b: peer leg 'c' does not exist"},
		{"[leg a]\nice = off\nport = 1000\nrtcp-mux = no\n\n[leg b]\nice = off\nport = 1001\n",
		 "line 6: leg b: cannot create leg"},
		{"[leg a]\nice = off\nrtcp-mux = no\nport = 65535\n", "line 1: leg a: cannot create leg"},
		/* interface 1 is not configured on this core */
		{"[leg a]\nice = off\nport = 1000\niface = 1\n", "line 1: leg a: cannot create leg"},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dp_legs L;
		struct dp_core *c = calloc(1, sizeof(*c));
		char err[256] = "";
		assert_int_equal(dp_legs_parse(bad[i].text, "t.conf", &L, err, sizeof(err)), 0);
		assert_int_equal(dp_core_init(c, 0x01020304, (const uint8_t *)"\0\0\0\0\0\1", 8, 1,
					      calloc, T0), 0);
		if (dp_legs_apply(&L, c, T0, err, sizeof(err)) != -1 || !strstr(err, bad[i].msg))
			fail_msg("case %zu: err '%s', expected '%s'", i, err, bad[i].msg);
		dp_legs_free(&L);
		dp_core_free(c, free);
		free(c);
	}
}

/* Legs on a worker of several: only those whose port it owns, each in its file slot; a pair
 * split over two workers is refused with both owners named. */
static void test_apply_worker(void **st)
{
	static const char text[] =
		"[leg a]\nice = off\nport = 1000\npeer = b\n\n[leg b]\nice = off\nport = 1004\n"
		"\n[leg c]\nice = off\nport = 1002\niface = 1\n";
	struct dp_legs L;
	struct dp_core c0, c1;
	char err[256] = "";

	(void)st;
	assert_int_equal(dp_legs_parse(text, "t.conf", &L, err, sizeof(err)), 0);
	assert_int_equal(L.legs[2].cfg.iface, 1);
	for (int w = 0; w < 2; w++) {
		struct dp_core *c = w ? &c1 : &c0;
		assert_int_equal(dp_core_init(c, 0x01020304, (const uint8_t *)"\0\0\0\0\0\1", 8, 1,
					      calloc, T0), 0);
		assert_int_equal(dp_core_add_addr(c, 0x01020305), 1);
		if (dp_legs_apply_worker(&L, c, (unsigned)w, 2, T0, err, sizeof(err)))
			fail_msg("worker %d: %s", w, err);
	}
	/* (1000 / 2) % 2 = 0 and (1004 / 2) % 2 = 0: a, b on worker 0; c on worker 1 */
	assert_int_equal(c0.active, 2);
	assert_int_equal(c1.active, 1);
	assert_string_equal(c0.legs[0].name, "a");
	assert_string_equal(c0.legs[1].name, "b");
	assert_int_equal(c0.legs[0].peer, 1);
	assert_string_equal(c1.legs[2].name, "c"); /* its file slot */
	assert_int_equal(c1.legs[2].iface, 1);
	assert_int_equal(c1.port_maps[1][1002], 3);
	assert_int_equal(c1.port_maps[0][1002], 0);
	dp_legs_free(&L);
	dp_core_free(&c0, free);
	dp_core_free(&c1, free);

	assert_int_equal(dp_legs_parse("[leg a]\nice = off\nport = 1000\npeer = b\n\n"
				       "[leg b]\nice = off\nport = 1002\n", "t.conf", &L, err,
				       sizeof(err)), 0);
	assert_int_equal(dp_core_init(&c0, 0x01020304, (const uint8_t *)"\0\0\0\0\0\1", 8, 1,
				      calloc, T0), 0);
	assert_int_equal(dp_legs_apply_worker(&L, &c0, 0, 2, T0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: leg a: peer leg 'b' is on worker 1, this leg on 0"));
	dp_legs_free(&L);
	dp_core_free(&c0, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_apply_errors),
		cmocka_unit_test(test_apply_worker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
