"""The scenarios, one module each. A scenario module has NUMBER, KEY (its part of results.json),
RETRYABLE (may simply run again when something else disturbed it) and `run(bench)`; and, given its
results and all of results.json, `section` (its part of the report), `targets` ((target, result,
met) rows of the report's one Targets table, None where a figure is missing) and, where an unmet
target needs explaining, `held_back`."""

from . import catalog, docker, gc, hub, manifest, memory, pull, push, scale, startup, tags

ALL = (push, pull, manifest, tags, catalog, docker, memory, startup, hub, scale, gc)  # report order
WHILE_RUNNING = (push, pull, manifest, tags, catalog, memory, docker)  # run order, registries up
AFTER_STOP = (startup, hub, scale, gc)  # run order, after the registries have stopped (hub, scale, gc: servers of their own)
