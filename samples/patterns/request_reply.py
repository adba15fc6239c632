"""Request-reply between kernels: a client keeps a table of the requests it is waiting for.

`Client` takes a `Call` (from the host here, or any kernel), gives it a request id of its
own and sends a `Request` with that id to `Server`. It keeps a pending table,
`rc.Map[i32, Pending, PENDING]` keyed by its request id, holding what it needs when the
reply comes: who called (`rc.sender()`, a return address), the caller's ticket and the
question. `Server` answers with `return`, which replies to the instance that sent the
request. When a `Response` arrives, the client looks its id up in the table, answers the
caller through the stored address (`rc.reply`) and removes the entry.

A response whose id is not in the table (a duplicate, a late or a forged one) is counted
and dead-lettered with `unknown_request`; a call that finds the table full is refused
with `container_full` before anything is sent. `Waiting` asks the client what it is
waiting for: the number of pending requests and their ids.

The sample sends 10 calls (all matched, table empty after), then 6 while the server is
deactivated (the client is waiting for 6 ids; when the server is activated again all are
answered), then two responses for ids the client never asked for.

Limits: the guide's requests can time out; this client's do not: an entry whose reply
never comes stays in the table until a reply with its id arrives. A reminder the client
sends itself with `rc.send_after` when it asks (or an `@rc.every` sweep by `rc.now()`)
would expire it. Request ids wrap after 2**31 requests.

    python samples/patterns/request_reply.py [opencl|sim]
"""

import sys

import ringc as rc
from ringc import Array, i32, u32

PENDING = 16                     # requests a client can wait for at once


@rc.message
class Call:                      # host -> client: please ask the server about `x`
    ticket: i32                  # the caller's own number for the call
    x: i32


@rc.message
class Request:                   # client -> server
    id: i32                      # the client's request id
    x: i32


@rc.message
class Response:                  # server -> client, matched by `id`
    id: i32
    value: i32


@rc.message
class Answer:                    # client -> caller
    ticket: i32
    request: i32
    x: i32
    value: i32


@rc.message
class Pending:                   # a record: one per request in the client's table
    caller: rc.Address
    ticket: i32
    x: i32


@rc.message
class Waiting:                   # client -> host: what the client is waiting for
    count: i32
    ids: Array[i32, PENDING]
    unknown: u32                 # responses that matched no pending request


@rc.ring_kernel(capacity=64)
class Client:
    pending: rc.Map[i32, Pending, PENDING]
    next_id: i32
    unknown: u32

    def on_call(self, m: Call):
        self.next_id += 1
        # put() faults with container_full when PENDING requests wait: nothing is sent
        self.pending[self.next_id] = Pending(caller=rc.sender(), ticket=m.ticket, x=m.x)
        rc.send(Server, Request(id=self.next_id, x=m.x))

    def on_response(self, m: Response):
        if m.id not in self.pending:
            self.unknown += 1
            rc.fail("unknown_request")
        p = self.pending[m.id]
        self.pending.remove(m.id)
        rc.reply(p.caller, Answer(ticket=p.ticket, request=m.id, x=p.x, value=m.value))

    def on_waiting(self, m: Waiting) -> Waiting:
        w = Waiting(count=len(self.pending), unknown=self.unknown)
        i = 0
        for rid in self.pending:                  # table order: the host sorts them
            w.ids[i] = rid
            i += 1
        return w


@rc.ring_kernel(capacity=64)
class Server:
    def on_request(self, m: Request) -> Response:
        return Response(id=m.id, value=m.x * m.x + 1)       # the service: x^2 + 1


def main(backend: str = "opencl") -> dict:
    """Calls matched through the pending table, a paused server, unknown responses.
    Returns what was matched, what the client waited for and what was dead-lettered."""
    result: dict = {}
    with rc.launch([Client, Server], backend=backend) as rt:
        def waiting() -> tuple[list[int], int]:
            w = rt.request(Client, Waiting(), timeout=10.0)
            return sorted(int(i) for i in w.ids[:w.count]), int(w.unknown)

        def answers(n: int) -> list:
            got = sorted(rt.receive_many(n, timeout=10.0, type=Answer).tolist())    # by ticket
            assert all(value == x * x + 1 for _, _, x, value in got)
            return got

        for t in range(10):
            rt.send(Client, Call(ticket=100 + t, x=t))
        got = answers(10)
        result["matched"] = len(got)
        result["pending_after"] = waiting()[0]
        print(f"10 calls: {len(got)} answers matched to their calls "
              f"(ticket 103 -> request {got[3][1]}, 3^2+1 = {got[3][3]}); "
              f"pending afterwards: {result['pending_after']}")

        rt.deactivate(Server)
        for t in range(6):
            rt.send(Client, Call(ticket=200 + t, x=10 + t))
        result["waiting_for"] = waiting()[0]
        print(f"server paused, 6 calls: the client waits for requests {result['waiting_for']}")
        rt.activate(Server)
        got = answers(6)
        result["late_matched"] = len(got)
        result["pending_at_end"] = waiting()[0]
        print(f"server resumed: {len(got)} answers matched "
              f"(ticket 205 -> request {got[5][1]}, 15^2+1 = {got[5][3]}); "
              f"pending afterwards: {result['pending_at_end']}")

        rt.send(Client, Response(id=4, value=17))          # answered long ago
        rt.send(Client, Response(id=999, value=0))         # never asked
        rt.shutdown(drain=True, timeout=10.0)
        dead = [(int(d.message.id), d.reason) for d in rt.dead_letters()]
        result["dead_letters"] = dead
        result["unknown"] = int(rt.checkpoint(Client)["unknown"])
    print(f"responses for ids 4 (already answered) and 999 (never asked): "
          f"{result['unknown']} counted unknown, dead-lettered "
          + ", ".join(f"id {i} ({reason})" for i, reason in dead))
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
