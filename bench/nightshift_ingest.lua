-- This file contains the wrk script for nightshift's ingest benchmark: every
-- request is an Alertmanager v4 webhook body to /alerts/alertmanager with a
-- label set never sent before (thread id + counter in pod and instance), so
-- no request is a cheap duplicate. Token: first script argument, else $NS_TOKEN.
-- wrk -t1 -c10 -d10s --latency -s bench/nightshift_ingest.lua http://127.0.0.1:P/alerts/alertmanager -- TOKEN
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
	local id = tid .. "-" .. counter
	local body = string.format(
		'{"receiver":"bench","status":"firing","alerts":[{"status":"firing",' ..
		'"labels":{"alertname":"BenchAlert%d","namespace":"bench","pod":"bench-%s",' ..
		'"instance":"host-%s:9100","job":"node","severity":"warning"},' ..
		'"annotations":{"summary":"bench alert %s","description":"load test"},' ..
		'"startsAt":"2026-11-25T12:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",' ..
		'"generatorURL":"http://prometheus.bench/graph","fingerprint":"%08x%08x"}],' ..
		'"groupLabels":{"alertname":"BenchAlert%d"},"commonLabels":{},"commonAnnotations":{},' ..
		'"externalURL":"http://alertmanager.bench:9093","version":"4",' ..
		'"groupKey":"{}:{alertname=\\"BenchAlert%d\\"}","truncatedAlerts":0}',
		counter % 50, id, id, id, tid, counter, counter % 50, counter % 50)
	return wrk.format("POST", nil, headers, body)
end
