-- A fixed request rate for wrk, whatever the target's latency, so that
-- every target is measured under the same load: RATE requests/s in all
-- (environment), split evenly over wrk's THREADS threads. Each response
-- reserves its thread's next free slot and waits for it; a target that
-- falls behind is sent requests as fast as it answers (wrk has no open
-- loop), so a stall is counted once, not once per request it delayed.
-- Used by scripts/bench.sh for the latency runs (docs/performance.md).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } obhub_timespec;
int clock_gettime(int clk, obhub_timespec *ts);
]]
local ts = ffi.new("obhub_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval -- ms between two requests of this thread
local slot     -- when this thread's next request may go

function init(args)
  local rate = tonumber(os.getenv("RATE") or "")
  local threads = tonumber(os.getenv("THREADS") or "")
  if not rate or rate <= 0 or not threads or threads <= 0 then
    error("paced.lua needs RATE and THREADS in the environment")
  end
  interval = 1000 * threads / rate
end

-- delay is called before each request; wrk waits that many milliseconds
-- (whole ones) on that connection.
function delay()
  local t = now_ms()
  if slot == nil or slot < t then
    slot = t
  end
  local wait = slot - t
  slot = slot + interval
  return math.floor(wait + 0.5)
end
