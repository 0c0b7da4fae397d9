#!/bin/sh
# fieldkit-agent: runs the agent bundle on the Node 24 runtime shipped beside it, never on
# whatever node the system has. Works through symlinks (e.g. /usr/local/bin/fieldkit-agent).
set -eu
self=$(readlink -f "$0")
prefix=$(dirname "$(dirname "$self")")
exec "$prefix/node/bin/node" --enable-source-maps --disable-warning=ExperimentalWarning "$prefix/lib/agent.mjs" "$@"
