-- One benchmark scenario for wrk, chosen by environment variables:
--   KIND   vf_validate | gb_validate | vf_details | gb_details | vf_release | gb_release
--   NAME   the scenario's name in the results
--   OUT    a file the results are appended to (one JSON object per line)
--   REFS   gb_*: a file of lock references; vf_release: a file of session keys
-- Every locking validation uses a new session key, so the simulator takes a
-- new lock each time, as it does behind couponbridge.

local kind = os.getenv("KIND")
local name = os.getenv("NAME") or kind
local out = os.getenv("OUT")
local refs_file = os.getenv("REFS")

local vf_headers = {
  ["X-App-Id"] = "sim-app-id",
  ["X-App-Token"] = "sim-app-token",
  ["Content-Type"] = "application/json",
}
local gb_headers = {
  ["apikey"] = "bench-api-key",
  ["secretkey"] = "bench-secret-key",
  ["Content-Type"] = "application/json",
}

local threads = {}
local counter = 0
local refs = {}
local thread_id = 0

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  if refs_file and #refs_file > 0 then
    for line in io.lines(refs_file) do
      if #line > 0 then table.insert(refs, line) end
    end
  end
end

local function next_ref()
  counter = counter + 1
  return refs[(counter % #refs) + 1]
end

request = function()
  if kind == "vf_validate" then
    counter = counter + 1
    local body = string.format(
      '{"redeemables":[{"object":"voucher","id":"SAVE10"}],"customer":{"source_id":"bench"},' ..
      '"order":{"amount":25000},"session":{"type":"LOCK","key":"bench-%d-%d","ttl":10,"ttl_unit":"MINUTES"}}',
      thread_id, counter)
    return wrk.format("POST", "/v1/validations", vf_headers, body)
  elseif kind == "gb_validate" then
    return wrk.format("POST", "/api/v4.0/integrations/coupons/validate", gb_headers,
      '{"customerId":"bench","coupons":["SAVE10"],"lock":true,"totalPurchaseAmount":250}')
  elseif kind == "vf_details" then
    return wrk.format("GET", "/v1/vouchers/SAVE10", vf_headers)
  elseif kind == "gb_details" then
    return wrk.format("GET", "/api/v4.0/integrations/locks/" .. next_ref(), gb_headers)
  elseif kind == "vf_release" then
    return wrk.format("DELETE", "/v1/vouchers/SAVE10/sessions/" .. next_ref(), vf_headers)
  elseif kind == "gb_release" then
    return wrk.format("DELETE", "/api/v4.0/integrations/coupons/" .. next_ref(), gb_headers)
  end
end

-- A release answers 404 once its session is gone (Voucherify's "already
-- released"), so for vf_release statuses are not counted as errors.
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout
  if kind ~= "vf_release" then errors = errors + e.status end
  local spectrum = {}
  for _, p in ipairs({50, 75, 90, 95, 99, 99.5, 99.9, 99.99}) do
    table.insert(spectrum, string.format("[%s, %.4f]", p, latency:percentile(p) / 1000))
  end
  local line = string.format(
    '{"name": "%s", "kind": "%s", "requests": %d, "seconds": %.3f, "rps": %.1f, ' ..
    '"p50_ms": %.4f, "p99_ms": %.4f, "p999_ms": %.4f, "max_ms": %.4f, "errors": %d, "spectrum": [%s]}\n',
    name, kind, summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, errors, table.concat(spectrum, ", "))
  local f = assert(io.open(out, "a"))
  f:write(line)
  f:close()
end
