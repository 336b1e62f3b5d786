-- The twin of `release` in src/locks/machine.rs: the same transition, atomic in Redis.
-- KEYS[1]: the lock's key. Runs after unpack.lua (a new lock's string into its hash).
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {'missing'} end
local now = tonumber(ARGV[1])
if st == 'locked' then
  if tonumber(redis.call('HGET', KEYS[1], 'ea')) <= now then
    redis.call('HSET', KEYS[1], 'st', 'expired')
    return {'expired_now', redis.call('HGETALL', KEYS[1])}
  end
  redis.call('HSET', KEYS[1], 'st', 'released', 'ra', ARGV[1])
  return {'released_now', redis.call('HGETALL', KEYS[1])}
end
if st == 'burning' then
  if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') > now then
    return {'burning'}
  end
  return {'burning_stale'}
end
return {st, redis.call('HGETALL', KEYS[1])}
