-- wrk script: POSTs registrations with unique emails.
-- Arguments (after --): run prefix, then the visit slugs to rank (one per request,
-- rotating; all requests rank the same visit when only one is given).
local thread_counter = 0

function setup(thread)
  thread:set("thread_id", thread_counter)
  thread_counter = thread_counter + 1
end

function init(args)
  prefix = args[1] or "run"
  visits = {}
  for i = 2, #args do visits[#visits + 1] = args[i] end
  if #visits == 0 then visits = { "tour-a" } end
  counter = 0
end

function request()
  counter = counter + 1
  local visit = visits[(counter % #visits) + 1]
  local body = string.format(
    '{"first_name":"Load","last_name":"Tester","email":"%s-%d-%d@bench.example",' ..
    '"organisation":"Bench","country":"BE","preferences":["%s"],"consent":true}',
    prefix, thread_id, counter, visit)
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
