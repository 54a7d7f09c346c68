/*
 * This file contains main(): the command line. Commands: run, check-config,
 * incidents, replay, playbooks, demo; --version and --help everywhere. Exit codes: 0
 * success, 1 failure (bad config, store error), 2 usage error.
 */
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "playbook.h"
#include "util.h"
#include "version.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
	"usage: nightshift COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  run -c FILE [--ready-file F]   run the bot in the foreground\n"
	"  check-config -c FILE           validate FILE; print every error as file:line\n"
	"  incidents -c FILE [--json] [--limit N]\n"
	"                                 list incidents, newest first\n"
	"  replay -c FILE [--format F] PAYLOAD.json\n"
	"                                 triage and investigate one webhook body; print the\n"
	"                                 report as JSON; post nothing, store nothing\n"
	"  playbooks -c FILE              list the playbooks and what they match\n"
	"  demo [--keep]                  a self-contained demo: a simulated cluster, the bot,\n"
	"                                 realistic alerts, each incident's thread\n"
	"\n"
	"  nightshift --version | --help | COMMAND --help\n";

struct command_help {
	const char *name;
	const char *text;
};

static const struct command_help helps[] = {
	{"run", "usage: nightshift run -c FILE [--ready-file F]\n"
		"Runs the bot in the foreground and logs key=value lines to stderr.\n"
		"SIGTERM/SIGINT: stop accepting, commit and answer what was received, exit 0.\n"
		"SIGHUP: reload FILE; an invalid file is logged and the old one kept.\n"
		"--ready-file F: write the listening port to F once the server is up.\n"},
	{"check-config", "usage: nightshift check-config -c FILE\n"
			 "Prints 'configuration OK' (exit 0) or every error as file:line (exit 1).\n"},
	{"incidents", "usage: nightshift incidents -c FILE [--json] [--limit N]\n"
		      "Lists incidents from the store, newest first (all of them unless --limit).\n"},
	{"playbooks", "usage: nightshift playbooks -c FILE\n"
		      "Lists the playbooks of playbooks.dir, what each matches, its steps and "
		      "findings.\n"},
	{"replay", "usage: nightshift replay -c FILE [--format F] PAYLOAD.json\n"
		   "Parses, triages and investigates one webhook body as the running bot would\n"
		   "(the same playbooks and read tools) and prints each alert's triage and report\n"
		   "as JSON. Posts nothing and changes nothing in the store.\n"
		   "--format: alertmanager, signoz, grafana, uptime-kuma or generic (default: detect).\n"},
	{"demo", "usage: nightshift demo [--keep]\n"
		 "A self-contained demo; needs no accounts, no cluster and no network. It starts a\n"
		 "simulated Kubernetes cluster (simcluster: next to this binary, in its build/\n"
		 "folder or on PATH; `make build/simcluster` builds it) on a free loopback port,\n"
		 "then the bot as `nightshift run` with the console channel, a temporary store and\n"
		 "its kubernetes section pointing at the simulator. It fires realistic alerts\n"
		 "through the bot's webhook (an OOM crash loop, a bad deploy, a pod that already\n"
		 "recovered, a monitor that answers again, a test namespace) and prints each\n"
		 "incident's thread: received, the investigation report (root cause, evidence,\n"
		 "confidence, the command to run), the verdict (escalated or dismissed as noise).\n"
		 "Then a summary, and both processes stop. Ctrl-C stops everything at any time.\n"
		 "--keep: keep the bot and the simulated cluster running until Ctrl-C, and print\n"
		 "how to curl them and how to point kubectl at the simulated cluster.\n"},
};

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "nightshift: %s%s%s\n\n%s", what, arg ? " " : "", arg ? arg : "",
		usage_text);
	return 2;
}

static struct config *load_or_print(const char *path)
{
	char err[8192];
	struct config *cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fprintf(stderr, "%s", err);
	return cfg;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
		{"limit", required_argument, NULL, 'l'},  {"format", required_argument, NULL, 'f'},
		{"keep", no_argument, NULL, 'k'},         {"ready-file", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *cmd, *config_path = NULL, *format = NULL, *ready_file = NULL;
	bool json = false, keep = false, help = false;
	long limit = 0;
	struct config *cfg;
	int c, rc;

	if (argc < 2)
		return usage_error("a command is required", NULL);
	cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("nightshift %s\n", NIGHTSHIFT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "c:jl:f:kr:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'j': json = true; break;
		case 'f': format = optarg; break;
		case 'k': keep = true; break;
		case 'r': ready_file = optarg; break;
		case 'h': help = true; break;
		case 'l':
			limit = strtol(optarg, &end, 10);
			if (*end != '\0' || limit < 0)
				return usage_error("bad --limit", optarg);
			break;
		default: return usage_error("bad option", NULL);
		}
	}
	if (help) {
		for (size_t i = 0; i < ARRAY_LEN(helps); i++) {
			if (strcmp(helps[i].name, cmd) == 0) {
				fputs(helps[i].text, stdout);
				return 0;
			}
		}
		return usage_error("unknown command", cmd);
	}

	curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread starts */
	if (strcmp(cmd, "demo") == 0) {
		rc = cli_demo(keep);
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check-config") != 0 &&
	    strcmp(cmd, "incidents") != 0 && strcmp(cmd, "replay") != 0 &&
	    strcmp(cmd, "playbooks") != 0)
		return usage_error("unknown command", cmd);
	if (config_path == NULL)
		return usage_error("-c FILE is required for", cmd);
	if (strcmp(cmd, "replay") == 0 && optind != argc - 1)
		return usage_error("replay needs exactly one PAYLOAD.json", NULL);
	if (strcmp(cmd, "replay") != 0 && optind != argc)
		return usage_error("unexpected argument", argv[optind]);

	cfg = load_or_print(config_path);
	if (cfg == NULL)
		return 1;
	if (strcmp(cmd, "check-config") == 0) {
		/* Playbooks are configuration too: their errors are file:line like the rest. */
		char err[8192];
		struct playbook_set set;
		rc = playbook_set_load(cfg->playbooks_dir, &set, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "%s%s", err,
				err[0] && err[strlen(err) - 1] == '\n' ? "" : "\n");
			rc = 1;
		} else {
			printf("configuration OK (%zu playbooks)\n", set.n);
		}
		playbook_set_release(&set);
	} else if (strcmp(cmd, "playbooks") == 0) {
		rc = cli_playbooks(cfg);
	} else if (strcmp(cmd, "run") == 0) {
		rc = daemon_run(cfg, ready_file);
	} else if (strcmp(cmd, "incidents") == 0) {
		rc = cli_incidents(cfg, json, (int)limit);
	} else {
		rc = cli_replay(cfg, argv[optind], format);
	}
	config_unref(cfg);
	curl_global_cleanup();
	return rc;
}
