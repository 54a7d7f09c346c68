/*
 * This file contains the tool registry declared in tool.h: the list of every
 * tool (the Kubernetes read tools, http_probe, and history / playbook from
 * bot/tools_core.c), lookup by name and the string-argument accessor. Adding
 * a tool is one extern line and one entry below; names must be unique
 * (tests/unit/tools/registry.c checks it).
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "tool.h"
#include "util.h"

extern const struct tool k8s_pods_tool, k8s_pod_tool, k8s_logs_tool, k8s_events_tool;
extern const struct tool k8s_deployment_tool, k8s_rollout_history_tool, k8s_nodes_tool;
extern const struct tool k8s_pvcs_tool, k8s_job_tool, http_probe_tool;
extern const struct tool history_tool, playbook_tool; /* bot/tools_core.c */

static const struct tool *const tools[] = {
	&history_tool,	      &playbook_tool,	    &k8s_pods_tool,  &k8s_pod_tool,
	&k8s_logs_tool,	      &k8s_events_tool,	    &k8s_deployment_tool,
	&k8s_rollout_history_tool, &k8s_nodes_tool, &k8s_pvcs_tool,  &k8s_job_tool,
	&http_probe_tool,
};

const struct tool *const *tool_registry(size_t *n)
{
	*n = ARRAY_LEN(tools);
	return tools;
}

const struct tool *tool_lookup(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(tools); i++)
		if (strcmp(tools[i]->name, name) == 0)
			return tools[i];
	return NULL;
}

const char *tool_arg(const cJSON *args, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}
