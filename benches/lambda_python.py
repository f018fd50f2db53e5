#!/usr/bin/env python3
"""The Firehose transformation Lambda logtrim replaces, as a hand-written Python handler does it.

The baseline of `cargo bench -p logtrim-lambda --bench invocation`, which runs it as a subprocess on the
same events as logtrim in the same command. The logic is what such a filter has, and no more: parse the
event, base64-decode each record, parse each of its lines as JSON, drop a line whose `log` is a 2xx
access line or a kubelet probe (one regex), wrap the rest as HEC events with host, source and sourcetype
from the Kubernetes metadata (the time passed as Fluent Bit wrote it: no time parsing, no trimming, no
sampling, no summaries, no budget, no response-size limit), base64-encode them and serialize the
response as the runtime does.

Usage: lambda_python.py EVENT_FILE ITERATIONS
Prints one JSON object: the CPU seconds of the fastest and of the median of ITERATIONS invocations
(after one warm-up invocation), the record data bytes of the event, the response size and the
process's peak RSS.

Usage: lambda_python.py EVENT_FILE --serve
What the bench runs, so that its invocations and logtrim's alternate and both see the machine in the
same state: after the warm-up invocation, one line of JSON with the data bytes; then, for each line
read from stdin, one invocation and a line with its CPU seconds; at the end of stdin, a line of JSON
with the response size and the peak RSS.
"""

import base64
import json
import re
import resource
import sys
import time

# A 2xx access line (`"GET / HTTP/1.1" 200 `) or a kubelet probe.
DROP = re.compile(r'" 2\d\d |kube-probe/')


def transform(record):
    data = base64.b64decode(record["data"])
    events = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        rec = json.loads(line)
        log = rec.get("log")
        if isinstance(log, str) and DROP.search(log):
            continue
        k = rec.get("kubernetes") or {}
        container = k.get("container_name", "")
        events.append(
            json.dumps(
                {
                    "time": rec.get("time"),
                    "host": k.get("host", ""),
                    "source": "%s/%s/%s" % (k.get("namespace_name", ""), k.get("pod_name", ""), container),
                    "sourcetype": "kube:container:" + container,
                    "event": rec,
                },
                separators=(",", ":"),
            )
        )
    if not events:
        return {"recordId": record["recordId"], "result": "Dropped", "data": ""}
    out = base64.b64encode("".join(events).encode()).decode()
    return {"recordId": record["recordId"], "result": "Ok", "data": out}


def handler(event, context=None):
    answers = []
    for r in event["records"]:
        try:
            answers.append(transform(r))
        except (ValueError, KeyError):
            answers.append({"recordId": r.get("recordId"), "result": "ProcessingFailed", "data": r.get("data", "")})
    return {"records": answers}


def invoke(body):
    """One invocation as the Python runtime runs it: the body parsed, the response serialized."""
    return json.dumps(handler(json.loads(body))).encode()


def peak_rss_kib():
    """`VmHWM`: this process's own peak. `ru_maxrss` would carry the peak of the process that started
    this one (Linux keeps it across fork and exec), the bench's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def timed(body):
    start = time.process_time()
    response = invoke(body)
    return time.process_time() - start, response


def serve(body, data_bytes, response):
    print(json.dumps({"data_bytes": data_bytes}), flush=True)
    for _ in sys.stdin:
        seconds, response = timed(body)
        print(seconds, flush=True)
    print(
        json.dumps(
            {"response_bytes": len(response), "peak_rss_kib": peak_rss_kib()}
        ),
        flush=True,
    )


def main():
    path = sys.argv[1]
    with open(path, "rb") as f:
        body = f.read()
    data_bytes = sum(len(base64.b64decode(r["data"])) for r in json.loads(body)["records"])
    response = invoke(body)  # warm-up
    if sys.argv[2] == "--serve":
        return serve(body, data_bytes, response)
    iterations = int(sys.argv[2])
    # Each invocation timed on its own: on a shared machine the fastest is the least disturbed.
    times = []
    for _ in range(iterations):
        seconds, response = timed(body)
        times.append(seconds)
    times.sort()
    print(
        json.dumps(
            {
                "cpu_seconds_min": times[0],
                "cpu_seconds_median": times[len(times) // 2],
                "data_bytes": data_bytes,
                "response_bytes": len(response),
                "peak_rss_kib": peak_rss_kib(),
            }
        )
    )


if __name__ == "__main__":
    main()
