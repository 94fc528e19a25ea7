-- wrk script: POSTs registrations with unique emails (run prefix, wrk thread, counter).
--
-- Arguments (after --): a run prefix, then the event's visit slugs.
-- Environment:
--   LOAD=realistic (default)  each registration ranks three distinct visits, in the six
--                             orders of the first three slugs in turn (with fewer slugs,
--                             all of them), and the country cycles through 20 ISO codes;
--                             the same cycle as benches/registration_baseline.rs.
--   LOAD=friendly             the load before issue 15: one choice (the slugs in turn),
--                             everyone from BE.
--   REGISTRATIONS=N           the flash crowd: N registrations in all, split evenly over
--   THREADS=T                 wrk's T threads (say the same as -t). Each thread notes when
--   DONE_DIR=DIR              each answer came, writes DIR/done-<thread> once it has all
--                             its answers and stops; the caller then interrupts wrk (whose
--                             main thread sleeps for -d whatever happens), and done()
--                             prints the rates over the first and the last 1,000.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } rp_timespec;
  int clock_gettime(int clock, rp_timespec *time);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("rp_timespec")

-- Seconds on a clock every thread of the process shares.
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local COUNTRIES = {
  "BE", "IT", "PT", "PL", "DE", "FR", "ES", "NL", "AT", "SE",
  "DK", "FI", "IE", "CZ", "HU", "RO", "BG", "GR", "SK", "SI",
}
local ORDERS = { { 1, 2, 3 }, { 1, 3, 2 }, { 2, 1, 3 }, { 2, 3, 1 }, { 3, 1, 2 }, { 3, 2, 1 } }

local load = os.getenv("LOAD") or "realistic"
if load ~= "realistic" and load ~= "friendly" then
  error("LOAD must be realistic or friendly, not " .. load)
end
local total = tonumber(os.getenv("REGISTRATIONS") or "")
local thread_count = tonumber(os.getenv("THREADS") or "2")
local done_dir = os.getenv("DONE_DIR")

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  prefix = args[1] or "run"
  visits = {}
  for i = 2, #args do visits[#visits + 1] = args[i] end
  if #visits == 0 then visits = { "aperam-chatelet", "biopark-charleroi", "district-cleantech-porte-ouest" } end
  counter = 0
  -- wrk calls thread 0's request() once before the run, only to check the request's
  -- shape; that call must not count as a registration sent.
  verifying = thread_id == 0
  if total then
    -- Thread 0 takes the remainder, so that the threads send exactly `total`.
    quota = math.floor(total / thread_count)
    if thread_id == 0 then quota = quota + total % thread_count end
    answered, non2xx, answers = 0, 0, {}
  end
end

-- The JSON list of slugs registration `n` ranks, best first.
local function ranking(n)
  if load == "friendly" or #visits == 1 then
    return '"' .. visits[(n % #visits) + 1] .. '"'
  end
  local order = ORDERS[(math.floor(n / 20) % 6) + 1]
  local slugs = {}
  for _, i in ipairs(order) do
    if visits[i] then slugs[#slugs + 1] = '"' .. visits[i] .. '"' end
  end
  return table.concat(slugs, ",")
end

local function registration(n)
  local country = load == "friendly" and "BE" or COUNTRIES[(n % 20) + 1]
  local body = string.format(
    '{"first_name":"Load","last_name":"Tester","email":"%s-%d-%d@bench.example",' ..
    '"organisation":"Bench","country":"%s","preferences":[%s],"consent":true}',
    prefix, thread_id, n, country, ranking(n))
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end

-- A request that writes nothing, for a connection whose thread has sent its quota while
-- the connection was already due to send (it answers 404 and is not counted).
local function padding()
  return wrk.format("GET", "/bench-padding-not-a-registration")
end

function request()
  if verifying then
    verifying = false
    return registration(counter)
  end
  if total and counter >= quota then return padding() end
  if total and counter == 0 then started = now() end
  local body = registration(counter)
  counter = counter + 1
  return body
end

if total then
  -- Connections of a thread that has sent its quota stay idle until wrk stops.
  function delay()
    if counter >= quota then return 3600000 end
    return 0
  end

  function response(status, headers, body)
    if status == 404 then return end
    answered = answered + 1
    answers[answered] = now()
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
    if answered == quota then
      if done_dir then
        local marker = io.open(done_dir .. "/done-" .. thread_id, "w")
        marker:write(answered, "\n")
        marker:close()
      end
      wrk.thread:stop()
    end
  end

  function done(summary, latency, requests)
    local times, first_sent, all_non2xx = {}, math.huge, 0
    for _, thread in ipairs(threads) do
      for _, t in ipairs(thread:get("answers") or {}) do times[#times + 1] = t end
      first_sent = math.min(first_sent, thread:get("started") or math.huge)
      all_non2xx = all_non2xx + (thread:get("non2xx") or 0)
    end
    table.sort(times)
    local n = #times
    if n < 2000 then
      io.write(string.format("flash rates: answered=%d non2xx=%d (fewer than 2,000 answers: no rates)\n", n, all_non2xx))
      return
    end
    -- The first 1,000 answers from the first request sent; the last 1,000 after the
    -- 1,000th before the end.
    local all = n / (times[n] - first_sent)
    local first = 1000 / (times[1000] - first_sent)
    local last = 1000 / (times[n] - times[n - 1000])
    io.write(string.format(
      "flash rates: answered=%d non2xx=%d all=%.1f/s first1000=%.1f/s last1000=%.1f/s ratio=%.2f\n",
      n, all_non2xx, all, first, last, last / first))
  end
end
