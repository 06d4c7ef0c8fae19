-- wrk script for `make bench`: one POST per request, each with a fresh f010 where the body asks for one.
-- Settings come from the environment (set by bench/load.py):
--   BENCH_PATH    request path            BENCH_BODY    JSON body; __F010__ is replaced per request
--   BENCH_AUTH    Authorization header    BENCH_APP_ID  App-ID header (empty for a Bearer token)
--   BENCH_PREFIX  f010 prefix, unique per run, so every f010 is new to the database
-- done() prints one line "BENCH_JSON {...}" with the counts and latency percentiles (microseconds).

local next_thread = 0

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  sent = 0
  prefix = (os.getenv("BENCH_PREFIX") or "wrk") .. "-" .. tostring(thread_no) .. "-"
  path = os.getenv("BENCH_PATH") or "/"
  body = os.getenv("BENCH_BODY") or "{}"
  headers = { ["Content-Type"] = "application/json" }
  local auth = os.getenv("BENCH_AUTH") or ""
  if auth ~= "" then headers["Authorization"] = auth end
  local app_id = os.getenv("BENCH_APP_ID") or ""
  if app_id ~= "" then headers["App-ID"] = app_id end
end

function request()
  sent = sent + 1
  local this_body = string.gsub(body, "__F010__", prefix .. sent)
  return wrk.format("POST", path, headers, this_body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d},"latency_us":{"p50":%.0f,"p90":%.0f,"p99":%.0f,"mean":%.1f,"max":%.0f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
