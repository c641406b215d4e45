-- wrk script of .ci/bench-api: the load it puts on the local platform's HTTP API.
--
-- MIX=api (default): a fixed cycle of 10 requests on one published event, 8 reads and
-- 2 writes, the proportions of an organizer's dashboard with guests looking at the event page:
--   3 x GET /api/events/{id}                      as the organizer
--   2 x GET /api/events/{id}                      as an invited guest (GUEST_TOKENS, rotating)
--   2 x GET /api/events/{id}/invitations?limit=25 the guest list's first page
--   1 x GET /api/events                           the organizer's events
--   2 x PATCH /api/events/{w} {"description"}     a write: one more fact on one of the
--                                                 WRITE_EVENT_IDS, in turn (organizers edit
--                                                 many events at once, not one hot event)
-- MIX=health: GET /health only, through the same counters, so the two rows of the report
-- differ only in what the server does per request.
--
-- Environment: EVENT_ID, WRITE_EVENT_IDS (space separated; default EVENT_ID), TOKEN (the
-- organizer's bearer token), GUEST_TOKENS (space separated; without them the guest reads go
-- out as the organizer).
--
-- done() prints one `bench-result key=value ...` line that the shell script parses; latencies
-- are in microseconds, as wrk records them.

local mix = os.getenv("MIX") or "api"
local event_id = os.getenv("EVENT_ID")
local token = os.getenv("TOKEN")
local write_events = {}
for e in string.gmatch(os.getenv("WRITE_EVENT_IDS") or "", "%S+") do
  table.insert(write_events, e)
end
if #write_events == 0 then
  write_events = { event_id }
end
local guest_tokens = {}
for t in string.gmatch(os.getenv("GUEST_TOKENS") or "", "%S+") do
  table.insert(guest_tokens, t)
end

if mix ~= "api" and mix ~= "health" then
  error("MIX must be api or health, not " .. mix)
end
if mix == "api" and (not event_id or event_id == "" or not token or token == "") then
  error("MIX=api needs EVENT_ID and TOKEN in the environment")
end

-- Runs in the setup environment: hands each thread its number, and keeps the threads so
-- done() can add up their counters.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

-- Per thread, from here on (each wrk thread has its own Lua state).
local cycle = {}
local position = 0
local writes = 0
local patch_headers

function init(args)
  non2xx = 0
  statuses = {}
  if mix == "health" then
    cycle = { wrk.format("GET", "/health") }
    return
  end
  -- wrk.init has put "host:port" in wrk.headers.Host; explicit header tables would
  -- otherwise get wrk.host alone.
  local host = wrk.headers["Host"]
  local function as(bearer)
    return { Host = host, Authorization = "Bearer " .. bearer }
  end
  local organizer = as(token)
  local event_path = "/api/events/" .. event_id
  -- Reads never change, so they are formatted once: the load generator shares the machine
  -- with the server and should spend as little as it can per request.
  local page = wrk.format("GET", event_path, organizer)
  local guest_list = wrk.format("GET", event_path .. "/invitations?limit=25", organizer)
  local mine = wrk.format("GET", "/api/events", organizer)
  local function guest_page(n)
    if #guest_tokens == 0 then
      return page
    end
    local bearer = guest_tokens[(id + n) % #guest_tokens + 1]
    return wrk.format("GET", event_path, as(bearer))
  end
  patch_headers = as(token)
  patch_headers["Content-Type"] = "application/json"
  -- false marks a write, formatted when sent (its body changes each time).
  cycle = { page, guest_page(0), guest_list, false, page, mine, guest_page(1), guest_list, false, page }
  -- Threads start at different points of the cycle, so they do not write in step.
  position = (id * 3) % #cycle
end

function request()
  position = position % #cycle + 1
  local req = cycle[position]
  if req then
    return req
  end
  writes = writes + 1
  -- A new description each time: the same one again would still be a command, but
  -- the thread number keeps the facts of different threads apart in the history.
  local body = string.format('{"description":"load test, thread %d, write %d"}', id, writes)
    local target = write_events[(id * 7 + writes) % #write_events + 1]
  return wrk.format("PATCH", "/api/events/" .. target, patch_headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local non2xx_total = 0
  local by_status = {}
  for _, thread in ipairs(threads) do
    non2xx_total = non2xx_total + thread:get("non2xx")
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  local codes = {}
  for status, count in pairs(by_status) do
    table.insert(codes, string.format("%d:%d", status, count))
  end
  table.sort(codes)
  local e = summary.errors
  io.write(string.format(
    "bench-result mix=%s requests=%d rps=%.1f p50_us=%.0f p99_us=%.0f non2xx=%d socket_errors=%d timeouts=%d statuses=%s\n",
    mix,
    summary.requests,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50),
    latency:percentile(99),
    non2xx_total,
    e.connect + e.read + e.write,
    e.timeout,
    #codes > 0 and table.concat(codes, ",") or "-"
  ))
end
