#!/bin/sh
# Written by `updraft provision`: the orchestrator's CLI with the services' environment.
set -a
. /etc/updraft/updraft.env
set +a
exec {{ node_bin }}/node {{ release_dir }}/bin/updraft.js "$@"
