#!/usr/bin/env bash
# What the Go client's transport adds inside an official SDK call (openai-go
# chat.completions over a fake transport: no network, a fixed answer), against
# the bare SDK, in one run: BenchmarkOverheadPaired in clients/go alternates a
# bare call, one over aigw without a meter provider and one over aigw with
# metrics on (OTel SDK MeterProvider + ManualReader), call by call, and reports
# medians (p50) and the medians of the paired differences. Also the transport
# alone (BenchmarkOverhead/transport-only) and the metrics goroutine's own work
# per call (BenchmarkMetricsRecorder). Prints a table.
#   bash benchmarks/go_overhead.sh [CALLS]   (default 20000)
set -euo pipefail
cd "$(dirname "$0")/../clients/go"
calls="${1:-20000}"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
out=$(go test -run '^$' -bench 'OverheadPaired|Overhead/transport-only|MetricsRecorder' -benchmem \
      -benchtime "${calls}x" -count 1 .)
echo "$out" | awk -v calls="$calls" -v load="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')" '
  /^BenchmarkOverheadPaired/ {
    for (i = 1; i <= NF; i++) { if ($(i+1) == "added-ns/call") added = $i;
      if ($(i+1) == "aigw-ns/call") aigw = $i; if ($(i+1) == "bare-ns/call") bare = $i
      if ($(i+1) == "metrics-ns/call") mon = $i; if ($(i+1) == "metrics-added-ns/call") madded = $i }
  }
  /^BenchmarkOverhead\/transport-only/ { t = $3; allocs = $7 }
  /^BenchmarkMetricsRecorder/ { rec = $3; recallocs = $7 }
  END {
    printf "| openai-go chat call, fake transport (%s calls, load %s) | p50 |\n", calls, load
    printf "|---|---|\n"
    printf "| bare SDK | %.1f us |\n", bare / 1000
    printf "| SDK over aigw | %.1f us |\n", aigw / 1000
    printf "| added by aigw (median of paired differences; target <= 5 us) | %.2f us |\n", added / 1000
    printf "| SDK over aigw, metrics on (OTel SDK meter provider) | %.1f us |\n", mon / 1000
    printf "| added by metrics on the request path (median of paired on - off differences) | %.2f us |\n", madded / 1000
    printf "| metrics goroutine per call, mean (usage parsed, 3 records, sums added per 64 calls; %s allocs; off the request path) | %.1f us |\n", recallocs, rec / 1000
    printf "| aigw transport alone, mean (RoundTrip over the fake answer, the request of the caller built too; %s allocs) | %.1f us |\n", allocs, t / 1000
  }'
