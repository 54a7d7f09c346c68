-- This file contains the wrk script for the reference: Prometheus
-- Alertmanager's own ingest, POST /api/v2/alerts with a JSON array of one
-- alert {labels, annotations, startsAt}, labels distinct on every request
-- exactly as in nightshift_ingest.lua.
-- wrk -t1 -c10 -d10s --latency -s bench/alertmanager_ingest.lua http://127.0.0.1:P/api/v2/alerts
package.path = "bench/?.lua;" .. package.path
require("common")

local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
	counter = counter + 1
	local id = tid .. "-" .. counter
	local body = string.format(
		'[{"labels":{"alertname":"BenchAlert%d","namespace":"bench","pod":"bench-%s",' ..
		'"instance":"host-%s:9100","job":"node","severity":"warning"},' ..
		'"annotations":{"summary":"bench alert %s","description":"load test"},' ..
		'"startsAt":"2026-11-25T12:00:00.000Z","generatorURL":"http://prometheus.bench/graph"}]',
		counter % 50, id, id, id)
	return wrk.format("POST", nil, headers, body)
end
