-- spread.lua — wrk script: GET /counter/o<k>/ with k cycling over N
-- objects (N is the first script argument, default 1000), so the load is
-- spread over many objects instead of queueing behind one.
--
--   wrk -t2 -c16 -d10s --latency -s bench/spread.lua http://127.0.0.1:PORT -- 1000
--
-- Each wrk thread walks the names in order from its own starting point
-- (thread i starts at i*499 mod N); its connections take turns, so the
-- requests in flight at any moment go to different objects.

local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
end

function init(args)
	n = tonumber(args[1]) or 1000
	-- tid comes from setup(); with N = 1000 and 2 threads they start
	-- about half-way round from each other.
	k = ((tid or 0) * 499) % n
end

function request()
	local path = "/counter/o" .. k .. "/"
	k = (k + 1) % n
	return wrk.format("GET", path)
end
