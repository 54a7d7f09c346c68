/*
 * This file contains the channels.slack section of the configuration: its
 * key table, the checks that need several keys at once (tokens and channel
 * required when enabled, token kinds), Slack id lists, and freeing. config.c
 * links it in with one line in its channel table.
 */
#include "config.h"

#include "config_yaml.h"
#include "k8s.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* True when s looks like a Slack id: an upper-case letter, then letters and digits. */
static bool slack_id_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 2 && n <= 32 && s[0] >= 'A' && s[0] <= 'Z' &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == n;
}

/* channels.slack.api_url: https (http on loopback only); a trailing / is added. */
static void set_api_url(struct loader *l, const struct key_spec *k, const char *path,
			yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a URL \"https://slack.com/api/\"");
	char why[256];
	char **out = field;
	size_t len;

	(void)k;
	if (s == NULL)
		return;
	if (k8s_check_server(s, why, sizeof(why)) != 0) {
		cfg_errorf(l, cfg_line(n), "%s: %s", path, why);
		return;
	}
	len = strlen(s);
	free(*out);
	*out = len > 0 && s[len - 1] == '/' ? xstrdup(s) : xasprintf("%s/", s);
}

/* channels.slack.channel: a channel id such as C0123ABCD (not a #name). */
static void set_channel_id(struct loader *l, const struct key_spec *k, const char *path,
			   yaml_node_t *n, void *field)
{
	const char *s = cfg_scalar(l, path, n, "a channel id such as C0123ABCD");

	if (s == NULL)
		return;
	if (!slack_id_ok(s)) {
		cfg_errorf(l, cfg_line(n),
			   "%s: \"%.64s\" is not a Slack channel id (e.g. C0123ABCD; open the "
			   "channel's details in Slack to copy it, a #name does not work)",
			   path, s);
		return;
	}
	cfg_set_string(l, k, path, n, field);
}

/* allowed_users / escalation_users: a list of distinct user ids (U… or W…). */
void config_set_users(struct loader *l, const struct key_spec *k, const char *path,
		      yaml_node_t *n, void *field)
{
	struct slack_user_list *list = field;
	size_t len;

	(void)k;
	if (cfg_is_null(n))
		return;
	if (n->type != YAML_SEQUENCE_NODE) {
		cfg_errorf(l, cfg_line(n), "%s: expected a list of user ids, got %s", path,
			   cfg_node_kind(n));
		return;
	}
	len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	list->ids = len ? xcalloc(len, sizeof(char *)) : NULL;
	for (size_t i = 0; i < len; i++) {
		yaml_node_t *item = cfg_node(l, n->data.sequence.items.start[i]);
		const char *s = cfg_scalar(l, path, item, "a user id such as U0123ABCD");
		size_t j;

		if (s == NULL)
			continue;
		if (!slack_id_ok(s) || (s[0] != 'U' && s[0] != 'W')) {
			cfg_errorf(l, cfg_line(item),
				   "%s: \"%.64s\" is not a Slack user id (U… or W…; a member's "
				   "profile has \"Copy member ID\")",
				   path, s);
			continue;
		}
		for (j = 0; j < list->n && strcmp(list->ids[j], s) != 0; j++)
			;
		if (j < list->n) {
			cfg_errorf(l, cfg_line(item), "%s: user \"%s\" is listed twice", path, s);
			continue;
		}
		list->ids[list->n++] = xstrdup(s);
	}
}

#define SLACK(f) offsetof(struct channel_slack_config, f)

/* clang-format off */
const struct key_spec config_slack_keys[] = {
	{.name = "enabled", .fn = cfg_set_bool, .offset = SLACK(enabled)},
	{.name = "api_url", .fn = set_api_url, .offset = SLACK(api_url)},
	{.name = "app_token_env", .fn = cfg_set_secret_env, .offset = SLACK(app_token)},
	{.name = "app_token_file", .fn = cfg_set_secret_file, .offset = SLACK(app_token)},
	{.name = "bot_token_env", .fn = cfg_set_secret_env, .offset = SLACK(bot_token)},
	{.name = "bot_token_file", .fn = cfg_set_secret_file, .offset = SLACK(bot_token)},
	{.name = "channel", .fn = set_channel_id, .offset = SLACK(channel)},
	{.name = "allowed_users", .fn = config_set_users, .offset = SLACK(allowed_users)},
	{.name = "escalation_users", .fn = config_set_users, .offset = SLACK(escalation_users)},
	{.name = "post_interval_ms", .fn = cfg_set_size, .offset = SLACK(post_interval_ms),
	 .min = 0, .max = 60000},
	{0},
};
/* clang-format on */

/* channels.slack: listed means enabled unless enabled: false; then tokens and channel are required.
 */
void config_set_slack(struct loader *l, const struct key_spec *k, const char *path, yaml_node_t *n,
		      void *field)
{
	struct channel_slack_config *s = field;
	int line = cfg_line(n);

	s->enabled = true;
	cfg_parse_map(l, k->sub, path, n, field);
	if (!s->enabled)
		return;
	if (s->app_token.env == NULL && s->app_token.file == NULL)
		cfg_errorf(l, line,
			   "%s: app_token_env or app_token_file is required (the app-level token "
			   "xapp-… with connections:write, for Socket Mode)",
			   path);
	else if (s->app_token.value && !str_has_prefix(s->app_token.value, "xapp-"))
		cfg_errorf(l, line,
			   "%s: the app token does not start with xapp- (is it the bot token?)",
			   path);
	if (s->bot_token.env == NULL && s->bot_token.file == NULL)
		cfg_errorf(l, line,
			   "%s: bot_token_env or bot_token_file is required (the bot token "
			   "xoxb-… from OAuth & Permissions)",
			   path);
	else if (s->bot_token.value && !str_has_prefix(s->bot_token.value, "xoxb-"))
		cfg_errorf(l, line,
			   "%s: the bot token does not start with xoxb- (is it the app token?)",
			   path);
	if (s->channel == NULL)
		cfg_errorf(l, line, "%s: channel is required (the id of the channel to post in)",
			   path);
}

void config_slack_defaults(struct channel_slack_config *s)
{
	s->api_url = xstrdup("https://slack.com/api/");
	s->post_interval_ms = 1000;
}

static void wipe(struct secret *sec)
{
	free(sec->env);
	free(sec->file);
	if (sec->value != NULL)
		explicit_bzero(sec->value, strlen(sec->value));
	free(sec->value);
}

static void users_free(struct slack_user_list *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->ids[i]);
	free(u->ids);
}

void config_slack_free(struct channel_slack_config *s)
{
	free(s->api_url);
	wipe(&s->app_token);
	wipe(&s->bot_token);
	free(s->channel);
	users_free(&s->allowed_users);
	users_free(&s->escalation_users);
}

bool config_slack_user_in(const struct slack_user_list *u, const char *id)
{
	for (size_t i = 0; id != NULL && i < u->n; i++)
		if (strcmp(u->ids[i], id) == 0)
			return true;
	return false;
}
