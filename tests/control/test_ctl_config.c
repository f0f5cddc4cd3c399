/* Tests of control/ctl_config: defaults, a full file, each bad value with its file:line, the
 * command line over a file, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl_config.h"

static struct ctl_config cfg;
static struct ctl_config_err err;

static int parse(const char *text)
{
	ctl_config_defaults(&cfg);
	memset(&err, 0, sizeof(err));
	return ctl_config_parse(&cfg, text, strlen(text), "t.conf", &err);
}

static void assert_ip(const struct ice_addr *a, const char *text)
{
	char buf[ICE_ADDR_STRLEN];

	assert_string_equal(ice_addr_fmt(a, buf, sizeof(buf)), text);
}

static void test_defaults(void **state)
{
	(void)state;
	ctl_config_defaults(&cfg);
	assert_ip(&cfg.listen_ng, "127.0.0.1:2223");
	assert_false(cfg.has_listen_tcp_ng);
	assert_int_equal(cfg.port_min, 30000);
	assert_int_equal(cfg.port_max, 40000);
	assert_int_equal(cfg.log_level, 6);
	assert_int_equal(cfg.max_sessions, 0);
	assert_int_equal(cfg.n_iface, 0);
	/* defaults alone lack an interface */
	assert_int_equal(ctl_config_validate(&cfg, &err), CTL_CFG_E_INVALID);
	assert_non_null(strstr(err.msg, "no interface"));
}

static void test_good_file(void **state)
{
	(void)state;
	assert_int_equal(parse(
		"# icegw.conf\n"
		"[icegw]\n"
		"listen-ng = 127.0.0.1:2223\r\n"
		"listen-tcp-ng = [::1]:2224\n"
		"  interface = pub/192.0.2.10!203.0.113.10\n"
		"interface=priv/10.0.0.1;2001:db8::5\n"
		"; comment\n"
		"\n"
		"port-min = 20000\n"
		"port-max = 20999\n"
		"max-sessions = 5000\n"
		"log-level = debug\n"), 0);
	assert_ip(&cfg.listen_ng, "127.0.0.1:2223");
	assert_true(cfg.has_listen_tcp_ng);
	assert_ip(&cfg.listen_tcp_ng, "[::1]:2224");
	assert_int_equal(cfg.n_iface, 3);
	assert_string_equal(cfg.iface[0].name, "pub");
	assert_ip(&cfg.iface[0].local, "192.0.2.10:0");
	assert_true(cfg.iface[0].has_advertised);
	assert_ip(&cfg.iface[0].advertised, "203.0.113.10:0");
	assert_string_equal(cfg.iface[1].name, "priv");
	assert_false(cfg.iface[1].has_advertised);
	assert_string_equal(cfg.iface[2].name, "default");
	assert_int_equal(cfg.iface[2].local.family, ICE_AF_INET6);
	assert_int_equal(cfg.port_min, 20000);
	assert_int_equal(cfg.port_max, 20999);
	assert_int_equal(cfg.max_sessions, 5000);
	assert_int_equal(cfg.log_level, 7);
	assert_int_equal(ctl_config_validate(&cfg, &err), 0);
	assert_ptr_equal(ctl_config_iface(&cfg, "priv"), &cfg.iface[1]);
	assert_null(ctl_config_iface(&cfg, "nope"));
	/* an rtpengine.conf section name, and a flat file without sections */
	assert_int_equal(parse("[rtpengine]\ninterface = 10.0.0.1\nlog-level = 3\n"), 0);
	assert_int_equal(cfg.log_level, 3);
	assert_int_equal(parse("interface = 10.0.0.1\n"), 0);
	assert_int_equal(cfg.n_iface, 1);
}

/* each bad line is reported with its line number and a reason */
static void bad(const char *text, int code, unsigned line, const char *msg_part)
{
	assert_int_equal(parse(text), code);
	assert_string_equal(err.where, "t.conf");
	assert_int_equal(err.line, line);
	if (!strstr(err.msg, msg_part))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg_part);
}

static void test_bad_file(void **state)
{
	char longline[CTL_CFG_LINE_MAX + 16];

	(void)state;
	bad("[icegw]\nport-min = 0\n", CTL_CFG_E_VALUE, 2, "port-min");
	bad("port-max = 70000\n", CTL_CFG_E_VALUE, 1, "1..65535");
	bad("port-max = 3x\n", CTL_CFG_E_VALUE, 1, "3x");
	bad("port-max = -1\n", CTL_CFG_E_VALUE, 1, "port-max");
	bad("max-sessions = 99999999999\n", CTL_CFG_E_VALUE, 1, "max-sessions");
	bad("log-level = loud\n", CTL_CFG_E_VALUE, 1, "log-level");
	bad("log-level = 8\n", CTL_CFG_E_VALUE, 1, "log-level");
	bad("\n\nlisten-ng = 127.0.0.1\n", CTL_CFG_E_VALUE, 3, "ADDRESS:PORT");
	bad("listen-ng = localhost:2223\n", CTL_CFG_E_VALUE, 1, "localhost");
	bad("interface = pub/\n", CTL_CFG_E_VALUE, 1, "local address");
	bad("interface = /1.2.3.4\n", CTL_CFG_E_VALUE, 1, "name");
	bad("interface = p b/1.2.3.4\n", CTL_CFG_E_VALUE, 1, "bad character");
	bad("interface = pub/1.2.3.4!nat\n", CTL_CFG_E_VALUE, 1, "advertised");
	bad("interface = 1.2.3.4;;\n", CTL_CFG_E_VALUE, 1, "local address");
	bad("foo = bar\n", CTL_CFG_E_KEY, 1, "\"foo\"");
	bad("[icegw]\n[media]\n", CTL_CFG_E_SECTION, 2, "[media]");
	bad("[turn]\n", CTL_CFG_E_SECTION, 1, "not supported yet");
	bad("[icegw\n", CTL_CFG_E_SYNTAX, 1, "[section]");
	bad("interface\n", CTL_CFG_E_SYNTAX, 1, "key = value");
	bad(" = 1\n", CTL_CFG_E_SYNTAX, 1, "missing key");
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "x = ", 4);
	longline[sizeof(longline) - 1] = 0;
	bad(longline, CTL_CFG_E_SYNTAX, 1, "longer");
	{
		char many[2048];
		size_t n = 0;

		for (int i = 0; i <= CTL_IFACE_MAX; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "interface = n%d/10.0.0.%d\n", i, i + 1);
		bad(many, CTL_CFG_E_TOO_MANY, CTL_IFACE_MAX + 1, "more than");
	}
	assert_int_equal(ctl_config_parse(&cfg, "a\0b", 3, "t.conf", &err), CTL_CFG_E_SYNTAX);
	assert_string_equal(ctl_config_strerror(CTL_CFG_E_SECTION), "unknown section");
}

static void test_validate(void **state)
{
	(void)state;
	assert_int_equal(parse("interface = 10.0.0.1\nport-min = 40000\nport-max = 30000\n"), 0);
	assert_int_equal(ctl_config_validate(&cfg, &err), CTL_CFG_E_INVALID);
	assert_non_null(strstr(err.msg, "above port-max"));
	assert_int_equal(parse("interface = 10.0.0.1\nport-min = 40000\nport-max = 40000\n"), 0);
	assert_int_equal(ctl_config_validate(&cfg, &err), CTL_CFG_E_INVALID);
	assert_int_equal(parse("interface = a/10.0.0.1\ninterface = a/10.0.0.1\n"), 0);
	assert_int_equal(ctl_config_validate(&cfg, &err), CTL_CFG_E_INVALID);
	assert_non_null(strstr(err.msg, "a/10.0.0.1 given twice"));
	/* the same address under two names is how rtpengine does round-robin sets: allowed */
	assert_int_equal(parse("interface = a/10.0.0.1\ninterface = b/10.0.0.1\n"), 0);
	assert_int_equal(ctl_config_validate(&cfg, &err), 0);
}

static void test_args(void **state)
{
	char path[] = "/tmp/icegw-cfg-XXXXXX";
	const char text[] = "[icegw]\ninterface = pub/192.0.2.10\ninterface = priv/10.0.0.1\nport-min = 20000\n"
			    "log-level = 4\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	{
		/* the file applies first even when named last; the command line wins */
		char *argv[] = { "icegw", "--log-level=debug", "--port-max", "20100", "--config-file", path, NULL };

		assert_int_equal(ctl_config_from_args(&cfg, 6, argv, &err), 0);
		assert_int_equal(cfg.log_level, 7);
		assert_int_equal(cfg.port_min, 20000);
		assert_int_equal(cfg.port_max, 20100);
		assert_int_equal(cfg.n_iface, 2);
		assert_string_equal(cfg.config_file, path);
	}
	{
		/* command-line interfaces replace the file's */
		char *argv[] = { "icegw", "--config-file=", "--interface=x/198.51.100.1", "--interface", "y/198.51.100.2", NULL };

		argv[1] = malloc(strlen(path) + 16);
		sprintf(argv[1], "--config-file=%s", path);
		assert_int_equal(ctl_config_from_args(&cfg, 5, argv, &err), 0);
		free(argv[1]);
		assert_int_equal(cfg.n_iface, 2);
		assert_string_equal(cfg.iface[0].name, "x");
		assert_string_equal(cfg.iface[1].name, "y");
	}
	{
		char *argv[] = { "icegw", "--interface=10.0.0.1", "--port-min", "abc", NULL };

		assert_int_equal(ctl_config_from_args(&cfg, 4, argv, &err), CTL_CFG_E_VALUE);
		assert_string_equal(err.where, "command line");
		assert_int_equal(err.line, 2);
	}
	{
		char *argv[] = { "icegw", "--interface=10.0.0.1", "stray", NULL };

		assert_int_equal(ctl_config_from_args(&cfg, 3, argv, &err), CTL_CFG_E_SYNTAX);
		assert_int_equal(err.line, 2);
	}
	{
		char *argv[] = { "icegw", "--interface", NULL };

		assert_int_equal(ctl_config_from_args(&cfg, 2, argv, &err), CTL_CFG_E_VALUE);
		assert_non_null(strstr(err.msg, "needs a value"));
	}
	{
		char *argv[] = { "icegw", "--config-file=/nonexistent/icegw.conf", NULL };

		assert_int_equal(ctl_config_from_args(&cfg, 2, argv, &err), CTL_CFG_E_IO);
		assert_string_equal(err.where, "/nonexistent/icegw.conf");
		assert_non_null(strstr(err.msg, "No such file"));
	}
	{
		/* a bad line in the file is reported against the file */
		FILE *f = fopen(path, "w");
		char *argv[] = { "icegw", "--config-file", path, NULL };

		assert_non_null(f);
		fputs("interface = 10.0.0.1\n\nport-max = many\n", f);
		fclose(f);
		assert_int_equal(ctl_config_from_args(&cfg, 3, argv, &err), CTL_CFG_E_VALUE);
		assert_string_equal(err.where, path);
		assert_int_equal(err.line, 3);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_file),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
