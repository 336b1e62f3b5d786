-- The twin of `relock` in src/locks/machine.rs: the same transition, atomic in Redis.
-- KEYS[1]: the lock's key. Runs after unpack.lua (a new lock's string into its hash).
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return {'missing'} end
if st ~= 'burning' or redis.call('HGET', KEYS[1], 'att') ~= ARGV[1] then
  return {'not_locked'}
end
redis.call('HSET', KEYS[1], 'codes', ARGV[2], 'ea', ARGV[4], 'st', 'locked')
redis.call('HDEL', KEYS[1], 'lease', 'att')
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'amt') else redis.call('HSET', KEYS[1], 'amt', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'updated'}
