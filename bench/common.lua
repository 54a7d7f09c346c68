-- This file contains what both wrk scripts share: a per-thread id (so that
-- labels stay distinct across wrk threads), the number of alerts per body,
-- and a done() that prints one machine-readable BENCH line for bench/run.sh.
local threads = {}
-- Alerts per request body (BENCH_BATCH, default 1); set in every thread.
batch = tonumber(os.getenv("BENCH_BATCH") or "1") or 1

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d non2xx=%d connect_errors=%d read_errors=%d " ..
		"write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
		summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
