//! The Lua scripts of [`RedisGrantStore`](super::RedisGrantStore): each change that must
//! happen once across instances is one script, which Redis runs atomically.

use redis::Script;

/// Inserts a hash under a cap. KEYS: index (sorted set by expiry), item. ARGV: now, cap,
/// member, expiry, ttl ms, then the hash's field/value pairs. 1, or 0 when full.
const BOUNDED_INSERT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 1
";

/// Marks a code used if it is still the record the caller checked. KEYS: code, codes.
/// ARGV: record JSON, grant id, ttl ms, member, expiry. 1, or 0 when it changed.
const USE_CODE: &str = r"
if redis.call('HGET', KEYS[1], 'rec') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'used', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
";

/// KEYS: grant, its history, its revocation marker. ARGV: marker ttl ms.
const REVOKE_GRANT: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
return 1
";

/// KEYS: revocation marker, grant, history, first refresh record. ARGV: body, expiry,
/// ttl ms, refresh member ('' for none), grant id, client id. 0 when revoked meanwhile.
const CREATE_GRANT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], 'body', ARGV[1], 'expires', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[4], 'gid', ARGV[5], 'client_id', ARGV[6], 'expires', ARGV[2], 'rotated', '0')
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
  redis.call('RPUSH', KEYS[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
return 1
";

/// A refresh record and its grant. KEYS: refresh record. ARGV: the grant key prefix.
const READ_REFRESH: &str = r"
local r = redis.call('HMGET', KEYS[1], 'gid', 'client_id', 'expires', 'rotated')
if not r[1] then return false end
local g = redis.call('HMGET', ARGV[1] .. r[1], 'body', 'expires')
return {r[1], r[2], r[3], r[4], g[1], g[2]}
";

/// Rotates a refresh token unless someone did first. KEYS: old record, new record, grant,
/// history. ARGV: grant id, client id, new expiry, new ttl ms, new member, history cap,
/// refresh key prefix. 'ok', 'rotated' (a reuse) or 'gone'.
const ROTATE: &str = r"
local rotated = redis.call('HGET', KEYS[1], 'rotated')
if not rotated then return 'gone' end
if rotated ~= '0' then return 'rotated' end
if redis.call('EXISTS', KEYS[3]) == 0 then return 'gone' end
redis.call('HSET', KEYS[1], 'rotated', '1')
redis.call('HSET', KEYS[2], 'gid', ARGV[1], 'client_id', ARGV[2], 'expires', ARGV[3], 'rotated', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('RPUSH', KEYS[4], ARGV[5])
while redis.call('LLEN', KEYS[4]) > tonumber(ARGV[6]) do
  redis.call('DEL', ARGV[7] .. redis.call('LPOP', KEYS[4]))
end
if tonumber(ARGV[3]) > tonumber(redis.call('HGET', KEYS[3], 'expires')) then
  redis.call('HSET', KEYS[3], 'expires', ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
end
return 'ok'
";

/// KEYS: login. ARGV: now, attempt cap. 1 when an attempt was reserved.
const BEGIN_ATTEMPT: &str = r"
local v = redis.call('HMGET', KEYS[1], 'attempts', 'expires')
if not v[1] then return 0 end
if tonumber(v[2]) <= tonumber(ARGV[1]) or tonumber(v[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 1
";

/// KEYS: login, pending. ARGV: attempt cap, member. 1 when the login ended.
const LOGIN_FAILED: &str = r"
local a = redis.call('HGET', KEYS[1], 'attempts')
if a and tonumber(a) < tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
";

/// KEYS: login. ARGV: user, auth time.
const SET_USER: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'auth_time', ARGV[2])
if tonumber(redis.call('HGET', KEYS[1], 'attempts')) > 0 then
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
end
return 1
";

/// Deletes a hash and returns it. KEYS: item, index. ARGV: member.
const TAKE_HASH: &str = r"
local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return v end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return v
";

/// KEYS: devices, device, user code. ARGV: now, cap, member, index expiry, ttl ms, client
/// id, scope, user code, expiry, interval ms. 'ok', 'full' or 'taken'.
const INSERT_DEVICE: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'full' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'taken' end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[5])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'client_id', ARGV[6], 'scope', ARGV[7], 'user_code', ARGV[8],
  'expires', ARGV[9], 'interval', ARGV[10], 'state', 'pending')
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 'ok'
";

/// KEYS: device. ARGV: now, user code key prefix, state, user, auth time.
const DECIDE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'state', 'expires', 'user_code')
if v[1] ~= 'pending' or tonumber(v[2]) <= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', ARGV[2] .. v[3])
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'user', ARGV[4], 'auth_time', ARGV[5])
return 1
";

/// One poll; intervals are measured with the Redis server's clock, which every instance
/// shares. KEYS: device. ARGV: client id, now, slow-down step ms.
const POLL: &str = r"
local f = redis.call('HMGET', KEYS[1], 'client_id', 'state', 'expires', 'interval',
  'last_poll', 'user', 'auth_time', 'scope')
if f[1] ~= ARGV[1] then return {'invalid'} end
if f[2] == 'used' then return {'invalid'} end
if tonumber(f[3]) <= tonumber(ARGV[2]) then return {'expired'} end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local soon = f[5] and (ms - tonumber(f[5])) < tonumber(f[4])
redis.call('HSET', KEYS[1], 'last_poll', string.format('%d', ms))
if f[2] == 'approved' then
  redis.call('HSET', KEYS[1], 'state', 'used')
  return {'approved', f[6], f[7], f[8]}
end
if f[2] == 'denied' then return {'denied'} end
if soon then
  redis.call('HINCRBY', KEYS[1], 'interval', ARGV[3])
  return {'slow_down'}
end
return {'pending'}
";

/// KEYS: par, the client's par, item. ARGV: now, cap, per-client cap, member, expiry,
/// ttl ms, item key prefix, client id, request JSON. 1, or 0 when full.
const PUSH: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  redis.call('ZREM', KEYS[2], oldest)
  redis.call('ZREM', KEYS[1], oldest)
  redis.call('DEL', ARGV[7] .. oldest)
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[3], 'client_id', ARGV[8], 'request', ARGV[9], 'expires', ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
for i = 1, 2 do
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
end
return 1
";

/// KEYS: item, par, the presenting client's par. ARGV: now, client id, member. The
/// request JSON, or nil (another client's attempt leaves it in place).
const TAKE_PUSHED: &str = r"
local v = redis.call('HMGET', KEYS[1], 'client_id', 'request', 'expires')
if not v[1] then return false end
if tonumber(v[3]) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return false
end
if v[1] ~= ARGV[2] then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return v[2]
";

/// KEYS: index, item. ARGV: now, cap, member, expiry, ttl ms.
const FIRST_USE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 'replayed' end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'full' end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return 'first'
";

/// Registers a client under a cap. KEYS: the `clients` hash. ARGV: id, record, cap.
/// 1, or 0 when full.
const INSERT_CLIENT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// The scripts, hashed once.
pub(crate) struct Scripts {
    pub(super) bounded_insert: Script,
    pub(super) use_code: Script,
    pub(super) revoke_grant: Script,
    pub(super) create_grant: Script,
    pub(super) read_refresh: Script,
    pub(super) rotate: Script,
    pub(super) begin_attempt: Script,
    pub(super) login_failed: Script,
    pub(super) set_user: Script,
    pub(super) take_hash: Script,
    pub(super) insert_device: Script,
    pub(super) decide: Script,
    pub(super) poll: Script,
    pub(super) push: Script,
    pub(super) take_pushed: Script,
    pub(super) first_use: Script,
    pub(super) insert_client: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            bounded_insert: Script::new(BOUNDED_INSERT),
            use_code: Script::new(USE_CODE),
            revoke_grant: Script::new(REVOKE_GRANT),
            create_grant: Script::new(CREATE_GRANT),
            read_refresh: Script::new(READ_REFRESH),
            rotate: Script::new(ROTATE),
            begin_attempt: Script::new(BEGIN_ATTEMPT),
            login_failed: Script::new(LOGIN_FAILED),
            set_user: Script::new(SET_USER),
            take_hash: Script::new(TAKE_HASH),
            insert_device: Script::new(INSERT_DEVICE),
            decide: Script::new(DECIDE),
            poll: Script::new(POLL),
            push: Script::new(PUSH),
            take_pushed: Script::new(TAKE_PUSHED),
            first_use: Script::new(FIRST_USE),
            insert_client: Script::new(INSERT_CLIENT),
        }
    }
}
