-- The twin of MemoryStore::settle (src/locks/memory.rs): a merchant operation claimed once.
-- KEYS[1]: the operation's key.
if redis.call('HGET', KEYS[1], 'st') ~= 'pending' then return 0 end
if redis.call('HGET', KEYS[1], 'att') ~= ARGV[1] then return 0 end
if ARGV[2] == 'done' then
  redis.call('HSET', KEYS[1], 'st', 'done', 'res', ARGV[3])
  redis.call('HDEL', KEYS[1], 'lease', 'att')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
