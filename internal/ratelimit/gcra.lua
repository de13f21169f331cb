-- GCRA step for one key, atomically. The caller derives the whole Decision
-- from the reply with the same arithmetic; this script only has to make the
-- admission test and record an admitted event, so the two cannot disagree.
--
-- KEYS[1]  the key's theoretical arrival time (TAT), microseconds on Redis's clock
-- ARGV[1]  emission interval (1/rate) in microseconds, integer >= 1
-- ARGV[2]  capacity (burst * interval) in microseconds, integer
-- ARGV[3]  "1" to record the event if it is admitted, "0" to only look
-- Returns  {now, tat}: Redis's time and the TAT before this call (now if unset),
--          both whole numbers in [0, 2^53).
--
-- Time comes from Redis, not from the replicas, so that skewed replica clocks
-- agree. All values stay integral and far below 2^53, so Lua's doubles are
-- exact. Before Redis 5 a script must opt in to effects replication to write
-- after calling TIME; later versions always replicate effects.
if redis.replicate_commands then redis.replicate_commands() end

local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
-- Only a TAT this script wrote is state: a whole number of microseconds
-- below 2^53. Anything else under the key ("nan", "1e300", "-5", "1.5")
-- counts as unset, so the next admitted event replaces it with a TAT and an
-- expiry, instead of the key being denied forever (a value without a TTL)
-- on arithmetic the caller cannot repeat: Redis replies 1e300 as -2^63.
if tat ~= tat or tat < 0 or tat >= 2^53 or tat % 1 ~= 0 then tat = now end

local after = math.max(tat - now, 0) + interval
if ARGV[3] == '1' and after <= capacity then
  -- The key expires exactly when it has fully recovered, as if never seen.
  redis.call('SET', KEYS[1], string.format('%.0f', now + after), 'PX', math.ceil(after / 1000))
end
return {now, tat}
