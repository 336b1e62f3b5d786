-- The twin of `begin_use` in src/locks/machine.rs: the same transition, atomic in Redis.
-- KEYS[1]: the lock's key. Runs after unpack.lua (a new lock's string into its hash).
-- ARGV: now, lease_until, attempt, order ('' keeps the previous), transaction id
local function take_over()
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[1], 'by', ARGV[4])
    if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'tx', ARGV[5]) else redis.call('HDEL', KEYS[1], 'tx') end
  end
end
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {'missing'} end
local now = tonumber(ARGV[1])
if st == 'locked' then
  if tonumber(redis.call('HGET', KEYS[1], 'ea')) <= now then
    redis.call('HSET', KEYS[1], 'st', 'expired')
    return {'expired_now', redis.call('HGETALL', KEYS[1])}
  end
  redis.call('HSET', KEYS[1], 'st', 'burning', 'lease', ARGV[2], 'att', ARGV[3])
  take_over()
  return {'started', redis.call('HGETALL', KEYS[1])}
end
if st == 'burning' then
  if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') > now then return {'busy'} end
  local previous = redis.call('HGETALL', KEYS[1])
  redis.call('HSET', KEYS[1], 'lease', ARGV[2], 'att', ARGV[3])
  take_over()
  return {'resumed', previous}
end
return {'refused', redis.call('HGETALL', KEYS[1])}
