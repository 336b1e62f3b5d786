-- The twin of MemoryStore::claim (src/locks/memory.rs): a merchant operation claimed once.
-- KEYS[1]: the operation's key.
local st = redis.call('HGET', KEYS[1], 'st')
if not st then
  redis.call('HSET', KEYS[1], 'st', 'pending', 'lease', ARGV[2], 'att', ARGV[3], 'first', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'claimed'}
end
if st == 'done' then return {'done', redis.call('HGET', KEYS[1], 'res') or ''} end
if tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') > tonumber(ARGV[1]) then return {'busy'} end
redis.call('HSET', KEYS[1], 'lease', ARGV[2], 'att', ARGV[3])
return {'resumed', redis.call('HGET', KEYS[1], 'first') or ''}
