-- Due releases, each leased to the caller (scored ARGV[2]) in the same step:
-- one replica takes each, and a crash leaves it due again.
-- KEYS[1]: the tenant's sorted set of pending releases.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], m) end
return due
