/*
 * This file contains the channel registry: the one list of channel
 * implementations. Names must be unique (checked by the unit tests).
 */
#include "channel.h"

#include <string.h>

static const struct channel_ops *const registry[] = {
	&console_channel,
	&slack_channel,
};

const struct channel_ops *const *channel_registry(size_t *n)
{
	*n = sizeof(registry) / sizeof(registry[0]);
	return registry;
}

const struct channel_ops *channel_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

size_t channels_enabled(const struct config *cfg, const char **names, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]) && n < max; i++)
		if (registry[i]->enabled(cfg))
			names[n++] = registry[i]->name;
	return n;
}
