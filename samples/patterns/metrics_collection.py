"""Metrics collection: a running pipeline scraped by Prometheus.

The guide's collector copies each kernel's throughput, latency, queue utilisation and
processed count into a monitoring system by hand. With ringc, `rt.serve_metrics(port)`
serves them in Prometheus' text format on http://127.0.0.1:port/metrics (names, labels and
types: docs/metrics.md; `ringc.prometheus.RingcCollector(rt)` goes into a registry of
your own instead), so a Prometheus server, or `curl`, reads them while the program runs.
Rates and averages are Prometheus' to compute from the counters and the latency
histogram (`rate(ringc_messages_processed_total[1m])`).

The sample runs a two-stage pipeline (`Scorer` replies to each reading and sends the
score to `Record`), serves its metrics on a free port, sends three bursts of requests, and
after each one scrapes the endpoint over HTTP and parses it with prometheus_client's own
parser: the processed counters and the latency histogram's count move with the traffic,
and equal what `rt.status()` says. The server stops with the program.

Needs prometheus_client (`pip install 'ringc[prometheus]'`).

    python samples/patterns/metrics_collection.py [opencl|sim]
"""

import sys
import time
import urllib.request

import ringc as rc
from ringc import f32, i32, i64


@rc.message
class Reading:
    sensor: i32
    value: f32


@rc.message
class Score:
    sensor: i32
    score: f32


@rc.ring_kernel(capacity=128)
class Record:
    kept: i64
    total: f32

    def on_score(self, m: Score):
        self.kept += 1
        self.total += m.score


@rc.ring_kernel(capacity=128)
class Scorer:
    def on_reading(self, m: Reading) -> Score:
        score = Score(sensor=m.sensor, score=m.value * m.value)
        rc.send(Record, score)
        return score


def scrape(url: str) -> dict:
    """The samples of a scrape: {(name, ((label, value), ...)): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(url, timeout=10).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def main(backend: str = "opencl") -> dict:
    """Three bursts of requests, a scrape after each; returns what each scrape said."""
    burst = 50 if backend == "sim" else 500
    scrapes = []
    with rc.launch(Scorer, backend=backend) as rt:
        server = rt.serve_metrics(0)                 # port 0: a free port
        print(f"metrics at {server.url}")
        for n in range(1, 4):
            for i in range(burst):
                rt.request(Scorer, Reading(sensor=i % 8, value=i * 0.5), timeout=30.0)
            deadline = time.monotonic() + 30.0           # until Record kept them all
            while rt.status(Record).processed < n * burst and time.monotonic() < deadline:
                time.sleep(0.01)
            seen = scrape(server.url)
            label = (("instance", "0"), ("kernel", "Scorer"))
            processed = {k: seen[("ringc_messages_processed_total",
                                  (("instance", "0"), ("kernel", k)))]
                         for k in ("Scorer", "Record")}
            requests = seen[("ringc_request_latency_seconds_count", label)]
            status = {k: rt.status(k).processed for k in ("Scorer", "Record")}
            agree = all(processed[k] == status[k] for k in processed)
            print(f"after burst {n}: processed Scorer {processed['Scorer']:,.0f}, Record "
                  f"{processed['Record']:,.0f}; {requests:,.0f} request latencies in the "
                  f"histogram; equal to rt.status(): {'yes' if agree else 'NO'}")
            scrapes.append({"processed": processed, "requests": requests, "agree": agree})
    return {"scrapes": scrapes, "burst": burst}


if __name__ == "__main__":
    main(*sys.argv[1:])
