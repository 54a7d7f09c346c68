-- This file contains the wrk script for the reference: Prometheus
-- Alertmanager's own ingest, POST /api/v2/alerts with a JSON array of
-- BENCH_BATCH alerts {labels, annotations, startsAt} (default 1), labels
-- distinct for every alert exactly as in nightshift_ingest.lua.
-- BENCH_BATCH=10 wrk -t1 -c10 -d10s --latency -s bench/alertmanager_ingest.lua http://127.0.0.1:P/api/v2/alerts
package.path = "bench/?.lua;" .. package.path
require("common")

local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
	counter = counter + 1
	local alerts = {}
	for i = 1, batch do
		local id = tid .. "-" .. counter .. "-" .. i
		alerts[i] = string.format(
			'{"labels":{"alertname":"BenchAlert%d","namespace":"bench","pod":"bench-%s",' ..
			'"instance":"host-%s:9100","job":"node","severity":"warning"},' ..
			'"annotations":{"summary":"bench alert %s","description":"load test"},' ..
			'"startsAt":"2026-11-25T12:00:00.000Z","generatorURL":"http://prometheus.bench/graph"}',
			counter % 50, id, id, id)
	end
	return wrk.format("POST", nil, headers, "[" .. table.concat(alerts, ",") .. "]")
end
