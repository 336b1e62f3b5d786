-- The prologue of every lock transition: a new lock written as one string
-- (SET … PX … NX, see create in src/locks/redis/mod.rs) becomes the hash
-- the scripts work on, keeping its expiry.
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  local packed = redis.call('GET', KEYS[1])
  local ttl = redis.call('PTTL', KEYS[1])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], unpack(cjson.decode(packed)))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
