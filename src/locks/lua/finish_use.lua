-- The twin of `finish_use` in src/locks/machine.rs: the same transition, atomic in Redis.
-- KEYS[1]: the lock's key. Runs after unpack.lua (a new lock's string into its hash).
if redis.call('HGET', KEYS[1], 'st') ~= 'burning' then return 0 end
if redis.call('HGET', KEYS[1], 'att') ~= ARGV[1] then return 0 end
if ARGV[2] == 'used' then
  redis.call('HSET', KEYS[1], 'st', 'used', 'ua', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'st', 'locked')
end
redis.call('HDEL', KEYS[1], 'lease', 'att')
return 1
