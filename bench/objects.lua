-- objects.lua — wrk script: METHOD /<ns>/o<k>/<suffix> with k cycling over
-- N objects, so that reads and increments go through the same script (the
-- same Lua cost per request) whether the load is on one object or many.
--
--   wrk -t2 -c16 -d10s --latency -s bench/objects.lua http://127.0.0.1:PORT \
--       -- METHOD NS N [SUFFIX]
--
--   GET  counter 1            GET  /counter/o0/         (one object)
--   POST counter 1000 incr    POST /counter/o<k>/incr   (k = 0..999)
--   POST counter 1000 alarm?in_ms=9 uniq
--                             POST /counter/o<k>/alarm?in_ms=9&name=u<j>
--                             (j counts requests: a new alarm name each)
--
-- A POST carries an empty body (Content-Length: 0). As in spread.lua, each
-- wrk thread walks the names in order from its own starting point (thread
-- i starts at i*499 mod N), so the requests in flight go to different
-- objects.

local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
end

function init(args)
	method = args[1] or "GET"
	ns = args[2] or "counter"
	n = tonumber(args[3]) or 1
	suffix = args[4] or ""
	uniq = args[5] == "uniq"
	j = 0
	if method == "GET" then body = nil else body = "" end
	k = ((tid or 0) * 499) % n
end

function request()
	local path = "/" .. ns .. "/o" .. k .. "/" .. suffix
	if uniq then
		path = path .. "&name=u" .. (tid or 0) .. "-" .. j
		j = j + 1
	end
	k = (k + 1) % n
	return wrk.format(method, path, nil, body)
end
