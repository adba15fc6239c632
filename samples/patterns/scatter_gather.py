"""Scatter-gather: split a job over worker instances, gather the parts, answer when all are in.

`Coordinator` takes a `Job` of up to MAX_VALUES values, cuts it into fragments of
FRAGMENT values (as many as the job needs) and scatters them over WORKERS `Worker`
instances, taking the workers in turn. For each job in flight it keeps a `Gather` record
in `rc.Map[i32, Gather, JOBS]` keyed by job id: the caller's return address, how many
fragments there are, how many came back, and the list of partial results (an array in
the record, one place per fragment). A worker's `return` sends its `FragmentResult` back
to the coordinator, which files it under its job and fragment; when the last one is in, it
combines the partials in fragment order, answers the caller (`rc.reply`) and removes the
job from the table.

Several jobs are in flight at once and their fragments interleave at every worker, and
partial results may come back in any order: the record's list is indexed by fragment, so
the result does not depend on the order. The sample sends six jobs of different sizes
while the workers are deactivated (the coordinator then holds all six, 26 fragments out),
resends one id still in flight (dead-lettered `job_in_flight`), then lets the workers run.

Limits: the guide's lists grow; here a job has at most MAX_VALUES values, so at most
MAX_FRAGMENTS fragments, and at most JOBS jobs are in flight (a seventh is refused with
`container_full`). A job whose worker never answers stays in the table: a deadline (an
`rc.send_after` reminder the coordinator sends itself) is not shown.

    python samples/patterns/scatter_gather.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, u32

WORKERS = 4
FRAGMENT = 4                               # values per fragment
MAX_FRAGMENTS = 8
MAX_VALUES = FRAGMENT * MAX_FRAGMENTS      # 32
JOBS = 6                                   # jobs in flight at once


@rc.message
class Job:                                 # host -> coordinator
    id: i32
    count: i32                             # values used, 1..MAX_VALUES
    values: Array[f32, MAX_VALUES]


@rc.message
class Fragment:                            # coordinator -> worker
    job: i32
    index: i32                             # which fragment of the job
    count: i32                             # values used, 1..FRAGMENT
    values: Array[f32, FRAGMENT]


@rc.message
class FragmentResult:                      # worker -> coordinator
    job: i32
    index: i32
    value: f32                             # the fragment's sum of squares


@rc.message
class Gather:                              # a record: one per job in flight
    caller: rc.Address
    fragments: i32
    received: i32
    partials: Array[f32, MAX_FRAGMENTS]


@rc.message
class JobDone:                             # coordinator -> caller
    id: i32
    fragments: i32
    total: f32                             # the job's sum of squares
    partials: Array[f32, MAX_FRAGMENTS]


@rc.message
class InFlight:                            # host asks; the coordinator answers
    jobs: i32
    fragments_out: i32


@rc.ring_kernel(capacity=128)
class Coordinator:
    jobs: rc.Map[i32, Gather, JOBS]
    next_worker: i32

    def on_job(self, m: Job):
        if m.id in self.jobs:
            rc.fail("job_in_flight")
        if m.count < 1 or m.count > MAX_VALUES:
            rc.fail("bad_count")
        fragments = (m.count + FRAGMENT - 1) // FRAGMENT
        self.jobs[m.id] = Gather(caller=rc.sender(), fragments=fragments)   # container_full
        for f in range(fragments):
            part = Fragment(job=m.id, index=f, count=min(FRAGMENT, m.count - f * FRAGMENT))
            for i in range(part.count):
                part.values[i] = m.values[f * FRAGMENT + i]
            rc.send(Worker, part, instance=self.next_worker)
            self.next_worker = (self.next_worker + 1) % WORKERS

    def on_fragment_result(self, m: FragmentResult):
        # jobs[k] faults key_not_found for a job that is not in flight
        self.jobs[m.job].partials[m.index] = m.value
        self.jobs[m.job].received += 1
        g = self.jobs[m.job]
        if g.received == g.fragments:
            done = JobDone(id=m.job, fragments=g.fragments)
            for f in range(g.fragments):            # in fragment order, whatever came first
                done.total += g.partials[f]
            done.partials = g.partials
            self.jobs.remove(m.job)
            rc.reply(g.caller, done)

    def on_in_flight(self, m: InFlight) -> InFlight:
        out = InFlight(jobs=len(self.jobs))
        for job in self.jobs:
            out.fragments_out += self.jobs[job].fragments - self.jobs[job].received
        return out


@rc.ring_kernel(instances=WORKERS, capacity=64)
class Worker:
    handled: u32

    def on_fragment(self, m: Fragment) -> FragmentResult:
        self.handled += 1
        total = f32(0.0)
        for i in range(m.count):
            total += m.values[i] * m.values[i]
        return FragmentResult(job=m.job, index=m.index, value=total)


def main(backend: str = "opencl") -> dict:
    """Six jobs of 3 to 32 values in flight at once. Returns each job's result, how many
    jobs and fragments the coordinator held, the dead letter and the fragments per worker."""
    sizes = [12, 32, 5, 20, 3, 27]                 # values per job
    jobs = np.zeros(len(sizes), Job.dtype)
    for j, n in enumerate(sizes):
        jobs[j]["id"] = 10 + j
        jobs[j]["count"] = n
        jobs[j]["values"][:n] = np.arange(1, n + 1) + j
    result: dict = {}
    with rc.launch(Coordinator, backend=backend) as rt:
        rt.deactivate(Worker)
        rt.send(Coordinator, jobs)
        held = rt.request(Coordinator, InFlight(), timeout=10.0)
        result["held"] = (int(held.jobs), int(held.fragments_out))
        print(f"workers paused: the coordinator holds {held.jobs} jobs, "
              f"{held.fragments_out} fragments out")
        try:
            rt.request(Coordinator, Job.from_record(jobs[1]), timeout=10.0)
        except rc.DeadLettered as exc:
            result["resent"] = exc.dead_letter.reason
            print(f"job 11 sent again while in flight: dead-lettered ({result['resent']})")
        rt.activate(Worker)
        done = {int(d["id"]): d for d in rt.receive_many(len(sizes), timeout=10.0,
                                                         type=JobDone)}
        after = rt.request(Coordinator, InFlight(), timeout=10.0)
        result["after"] = (int(after.jobs), int(after.fragments_out))
        per_worker = [int(rt.checkpoint(Worker, instance=w)["handled"])
                      for w in range(WORKERS)]
    result["jobs"] = {}
    correct = True
    for j, n in enumerate(sizes):
        d = done[10 + j]
        expected = float((jobs[j]["values"][:n].astype(np.float64) ** 2).sum())
        partials = " + ".join(f"{p:g}" for p in d["partials"][:d["fragments"]])
        result["jobs"][10 + j] = (int(d["fragments"]), float(d["total"]))
        correct = correct and float(d["total"]) == expected
        print(f"job {10 + j}: {n:2} values, sum of squares {partials} = {d['total']:g}")
    result["correct"] = correct
    print(f"every job's sum equals the host's: {'yes' if correct else 'NO'}")
    result["per_worker"] = per_worker
    print(f"afterwards: {result['after'][0]} jobs in flight; fragments per worker: "
          + ", ".join(f"worker {w}: {c}" for w, c in enumerate(per_worker)))
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
