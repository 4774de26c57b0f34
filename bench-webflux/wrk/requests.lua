-- wrk script of Sluice's WebFlux end-to-end benchmark (bench-webflux/run.sh).
--
-- Arguments after wrk's "--": a path prefix and, optionally, a tenant:
--   wrk ... http://127.0.0.1:18080 -- /item/          GET /item/<id>
--   wrk ... http://127.0.0.1:18080 -- /slow/ noisy    GET /slow/<id>?tenant=noisy
-- <id> goes round 1..100, each thread from its own starting point, so that every row is read.
--
-- When wrk is done, one machine-readable line (latencies in microseconds, as wrk measures them; they
-- include the non-2xx answers):
--   RESULT requests=N seconds=S non2xx=N connect=N read=N write=N timeouts=N p50_us=N p99_us=N max_us=N

local ROWS = 100
local prefix = "/item/"
local tenant = nil
local next_id = 1

function init(args)
  if args[1] ~= nil and args[1] ~= "" then
    prefix = args[1]
  end
  if args[2] ~= nil and args[2] ~= "" then
    tenant = args[2]
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  next_id = math.random(1, ROWS)
end

function request()
  local path = prefix .. next_id
  if tenant ~= nil then
    path = path .. "?tenant=" .. tenant
  end
  next_id = next_id % ROWS + 1
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f non2xx=%d connect=%d read=%d write=%d timeouts=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration / 1000000, errors.status, errors.connect, errors.read, errors.write,
    errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
