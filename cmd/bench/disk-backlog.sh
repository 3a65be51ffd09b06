#!/usr/bin/env bash
# Measures the disk buffer's backlog package: write and read rates (Go
# benchmarks), then a backlog of one million ~1 KB events and the heap in use
# (runtime.ReadMemStats after GC) while filling it, after reopening it and
# while draining it.
#
#   cmd/bench/disk-backlog.sh                 # one million events, in a temporary directory
#   BACKLOG_EVENTS=5000000 BACKLOG_DIR=/data/tmp/backlog cmd/bench/disk-backlog.sh
#
# Needs about 1.4 GB of free disk per million events where BACKLOG_DIR is
# (default: a directory under $TMPDIR), removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "== write and read rates (events of ~1 KB)"
go test ./internal/backlog -run '^$' -bench . -benchtime "${BENCHTIME:-2000x}"

echo
echo "== backlog of ${BACKLOG_EVENTS:-1000000} events: heap in use"
BACKLOG_MEASURE=1 go test ./internal/backlog -count=1 -run '^TestMillionEventBacklogHeap$' -v -timeout 30m |
	grep -E 'heap|filled|read and|PASS|FAIL|ok'
