-- This file contains the wrk script for nightshift's ingest benchmark: every
-- request is an Alertmanager v4 webhook body to /alerts/alertmanager holding
-- BENCH_BATCH alerts (default 1; Alertmanager sends every alert of a group in
-- one body), each with a label set never sent before (thread id + counter in
-- pod and instance), so no alert is a cheap duplicate. Token: first script
-- argument, else $NS_TOKEN.
-- BENCH_BATCH=10 wrk -t1 -c10 -d10s --latency -s bench/nightshift_ingest.lua http://127.0.0.1:P/alerts/alertmanager -- TOKEN
package.path = "bench/?.lua;" .. package.path
require("common")

local counter = 0
local headers

function init(args)
	local token = args[1] or os.getenv("NS_TOKEN") or ""
	headers = { ["Content-Type"] = "application/json" }
	if token ~= "" then headers["Authorization"] = "Bearer " .. token end
end

function request()
	counter = counter + 1
	local group = counter % 50
	local alerts = {}
	for i = 1, batch do
		local id = tid .. "-" .. counter .. "-" .. i
		alerts[i] = string.format(
			'{"status":"firing",' ..
			'"labels":{"alertname":"BenchAlert%d","namespace":"bench","pod":"bench-%s",' ..
			'"instance":"host-%s:9100","job":"node","severity":"warning"},' ..
			'"annotations":{"summary":"bench alert %s","description":"load test"},' ..
			'"startsAt":"2026-11-25T12:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",' ..
			'"generatorURL":"http://prometheus.bench/graph","fingerprint":"%08x%08x%04x"}',
			group, id, id, id, tid, counter, i)
	end
	local body = string.format(
		'{"receiver":"bench","status":"firing","alerts":[%s],' ..
		'"groupLabels":{"alertname":"BenchAlert%d"},"commonLabels":{},"commonAnnotations":{},' ..
		'"externalURL":"http://alertmanager.bench:9093","version":"4",' ..
		'"groupKey":"{}:{alertname=\\"BenchAlert%d\\"}","truncatedAlerts":0}',
		table.concat(alerts, ","), group, group)
	return wrk.format("POST", nil, headers, body)
end
