"""The lanes of a cooperative kernel: which values differ between them, and the check that
every synchronisation point stands where all of them reach it.

Every lane of a cooperative kernel's work-group runs the handler; `rc.barrier()`, the group
reductions, `rc.broadcast` and the helpers that call them (synchronisation points) must be
reached by all of them, the same number of times in the same order (docs/language.md,
"Cooperative kernels"). So a synchronisation point may not stand under control flow that
depends on the lane. This is a taint analysis of the IR of each handler of a cooperative
kernel (and of the helpers it calls, once per pattern of lane-dependent arguments):

- lane-dependent values: `rc.lane()`, `rc.now()` and what an `rc.atomic_*` returns; anything
  computed from one; a local assigned one anywhere in the function (flow-insensitive), or
  assigned anything under lane-dependent control; what a helper returns when its return
  depends on the lane (its lane-dependent arguments included) or on lane-dependent control.
  State, shared arrays (read at an index that is not lane-dependent), the message and the
  results of group reductions and broadcasts are the same on every lane;
- lane-dependent control: an `if`, `while` or `for` whose condition or range is
  lane-dependent; everything after a `return` that only some lanes take (to the end of the
  function), and a whole loop with a `break` or `continue` that only some lanes take; every
  block of a `try` statement (a fault ends the body on some lanes only);
- a loop without a synchronisation point in which a lane-dependent operation can fault
  (an index, a `//` or `%` by a lane-dependent value, a call with lane-dependent arguments,
  an `rc.fail` under lane-dependent control) makes the locals it assigns lane-dependent: a
  lane that faults leaves such a loop early (docs/device-program.md, "Cooperative kernels").

Errors are `CompileError`s at the synchronisation point: the statement that holds it (its
assignment or `return`), saying which control flow makes it lane-dependent.

Limits: the analysis is conservative (flow-insensitive locals, helper parameters tainted by
what any call passes), so a program whose lanes would in fact agree can be refused.
"""

from __future__ import annotations

from ..errors import CompileError
from ..ir import nodes as ir
from ..ir.walk import all_stmts, has_sync, is_sync_point, shared_locals, stmt_exprs, walk

__all__ = ["check_cooperative"]

_LANE_INTRINSICS = ("lane", "now", "atomic_add", "atomic_max", "atomic_min", "atomic_cas")


def check_cooperative(kernel: ir.KernelDef) -> None:
    """Raise a located CompileError for a synchronisation point of `kernel` (cooperative)
    that not every lane reaches."""
    analysis = _Analysis(kernel)
    for handler in kernel.handlers:
        analysis.function(handler, (False,) * len(handler.params))


class _Analysis:
    def __init__(self, kernel: ir.KernelDef):
        self.kernel = kernel
        self.helpers = {h.name: h for h in kernel.helpers}
        from ..ir.walk import syncing_helpers
        self.syncing = syncing_helpers(kernel.helpers)
        self.memo: dict[tuple[str, tuple[bool, ...]], bool] = {}
        self.active: set[tuple[str, tuple[bool, ...]]] = set()

    # -- functions --------------------------------------------------------------------------

    def function(self, fn: ir.FunctionDef, taints: tuple[bool, ...],
                 via: str = "") -> bool:
        """Check `fn` called with lane-dependent parameters `taints` (`via`: where, for
        the errors); does what it returns depend on the lane?"""
        key = (fn.name, taints)
        if key in self.memo:
            return self.memo[key]
        if key in self.active:          # recursion is refused elsewhere
            return True
        self.active.add(key)
        frame = _Frame(fn, {p.name for p, t in zip(fn.params, taints) if t},
                       set(shared_locals(fn)))
        frame.via = via
        while True:                     # locals: until no assignment taints another
            before = set(frame.tainted)
            frame.returns = False
            self.block(frame, fn.body, None, check=False)
            if frame.tainted == before:
                break
        frame.returns = False
        self.block(frame, fn.body, None, check=True)
        self.active.discard(key)
        self.memo[key] = frame.returns
        return frame.returns

    # -- statements ---------------------------------------------------------------------------

    def block(self, frame: _Frame, stmts, ctl: str | None, check: bool):
        """Analyse `stmts` under control `ctl` (None: every lane runs them, else why not).
        Returns (why the rest of the function, why the rest of the loop, is
        lane-dependent), None each when it is not."""
        rest_fn = rest_loop = None
        for s in stmts:
            here = ctl or rest_fn or rest_loop
            fn_div, loop_div = self.stmt(frame, s, here, check)
            rest_fn = rest_fn or fn_div
            rest_loop = rest_loop or loop_div
        return rest_fn, rest_loop

    def stmt(self, frame: _Frame, s, ctl: str | None, check: bool):
        frame.at = s.loc
        if isinstance(s, ir.Barrier):
            self.sync(frame, s, "rc.barrier()", ctl, check)
            return None, None
        if isinstance(s, ir.If):
            cond = self.expr(frame, s.cond, check)
            inner = ctl or (f"the if at line {s.loc.line} tests a value that depends on "
                            "rc.lane()" if cond else None)
            a = self.block(frame, s.then, inner, check)
            b = self.block(frame, s.orelse, inner, check)
            return a[0] or b[0], a[1] or b[1]
        if isinstance(s, (ir.While, ir.For)):
            return self.loop(frame, s, ctl, check)
        if isinstance(s, ir.Try):
            if check and has_sync(s.body + (s.handler or ()) + s.orelse + s.finalbody,
                                  self.syncing):
                first = next(x for x in all_stmts(s.body + (s.handler or ()) + s.orelse
                                                  + s.finalbody)
                             if isinstance(x, ir.Barrier) or any(
                                 is_sync_point(n, self.syncing) for e in stmt_exprs(x)
                                 for n in walk(e)))
                raise CompileError("a synchronisation point of the lanes (rc.barrier(), a "
                                   "group reduction, a broadcast) cannot be inside a try "
                                   "statement", first.loc,
                                   "a fault ends the try body on some lanes only: move it "
                                   "out of the try")
            inner = ctl or (f"the try at line {s.loc.line} (a fault ends its body on some "
                            "lanes only)")
            divs = [self.block(frame, b, inner, check)
                    for b in (s.body, s.handler or (), s.orelse, s.finalbody)]
            return (next((d[0] for d in divs if d[0]), None),
                    next((d[1] for d in divs if d[1]), None))
        if isinstance(s, ir.Return):
            if s.value is not None:
                if self.expr(frame, s.value, check):
                    frame.returns = True
                if self.is_sync(s.value):
                    self.sync(frame, s, self.what(s.value), ctl, check)
            if ctl:
                frame.returns = True
                return f"the return at line {s.loc.line} is taken by some lanes only " \
                       f"({ctl})", None
            return None, None
        if isinstance(s, (ir.Break, ir.Continue)):
            word = "break" if isinstance(s, ir.Break) else "continue"
            return None, (f"the {word} at line {s.loc.line} is taken by some lanes only "
                          f"({ctl})" if ctl else None)
        if isinstance(s, (ir.Fail, ir.Raise)):
            if ctl:
                frame.lane_fault = True
            return None, None
        if isinstance(s, ir.Assign):
            value = self.expr(frame, s.value, check)
            if self.is_sync(s.value):
                self.sync(frame, s, self.what(s.value), ctl, check)
            index = any(self.expr(frame, e, check) for e in _target_indices(s.target))
            root = _root(s.target)
            if isinstance(root, ir.Local) and root.name not in frame.shared \
                    and (value or index or ctl):
                frame.tainted.add(root.name)
            return None, None
        for e in stmt_exprs(s):         # ExprStmt, Send, SendAfter, Emit, Reply, ForEach
            self.expr(frame, e, check)
            if isinstance(s, ir.ExprStmt) and self.is_sync(e):
                self.sync(frame, s, self.what(e), ctl, check)
        return None, None

    def loop(self, frame: _Frame, s, ctl: str | None, check: bool):
        if isinstance(s, ir.While):
            varying = self.expr(frame, s.cond, check)
            head = f"the while at line {s.loc.line} tests a value that depends on rc.lane()"
        else:
            varying = self.expr(frame, s.start, check) | self.expr(frame, s.stop, check)
            head = f"the for at line {s.loc.line} runs over a range that depends on rc.lane()"
            if varying or ctl:
                frame.tainted.add(s.var)
        inner = ctl or (head if varying else None)
        faulted, frame.lane_fault = frame.lane_fault, False
        fn_div, loop_div = self.block(frame, s.body, inner, check)
        if loop_div and not inner:      # some lanes leave it early: all of it varies
            if isinstance(s, ir.For):
                frame.tainted.add(s.var)
            fn_div, _ = self.block(frame, s.body, loop_div, check)
        if frame.lane_fault and not has_sync(s.body, self.syncing):
            for x in all_stmts(s.body):     # a lane that faults leaves the loop early
                if isinstance(x, ir.Assign):
                    root = _root(x.target)
                    if isinstance(root, ir.Local) and root.name not in frame.shared:
                        frame.tainted.add(root.name)
                elif isinstance(x, ir.For):
                    frame.tainted.add(x.var)
        frame.lane_fault = frame.lane_fault or faulted
        return fn_div, None

    def sync(self, frame: _Frame, s, what: str, ctl: str | None, check: bool) -> None:
        if check and ctl:
            raise CompileError(f"{what} synchronises the lanes, but not every lane gets "
                               f"here: {ctl}{frame.via}", s.loc,
                               "every lane must reach each rc.barrier(), group reduction and "
                               "broadcast: put it outside control flow that depends on "
                               "rc.lane() (test the lane inside, around the work)")

    def is_sync(self, e) -> bool:
        return is_sync_point(e, self.syncing)

    @staticmethod
    def what(e) -> str:
        if isinstance(e, ir.GroupReduce):
            return f"rc.group_{e.op}()"
        if isinstance(e, ir.Broadcast):
            return "rc.broadcast()"
        return f"self.{e.function}() (it calls rc.barrier() or a group operation)"

    # -- expressions -------------------------------------------------------------------------

    def expr(self, frame: _Frame, e, check: bool) -> bool:
        """Does `e` depend on the lane? (also: note an operation that can fault on some
        lanes only)"""
        if isinstance(e, ir.Local):
            return e.name in frame.tainted and e.name not in frame.shared
        if isinstance(e, (ir.Const, ir.State, ir.Zero, ir.FaultIs)):
            return False
        kids = [self.expr(frame, k, check) for k in _children(e)]
        if isinstance(e, ir.Intrinsic):
            return e.name in _LANE_INTRINSICS or any(kids)
        if isinstance(e, (ir.GroupReduce, ir.Broadcast)):
            if isinstance(e, ir.Broadcast) and kids[1]:
                frame.lane_fault = True        # a lane out of range faults on some lanes
            return False
        if isinstance(e, ir.HelperCall):
            if any(kids):
                frame.lane_fault = True
            if e.function not in self.helpers:
                return any(kids)
            via = frame.via
            if any(kids):
                line = frame.at.line if frame.at else "?"
                via = (f" (self.{e.function}() called at line {line} with an argument that "
                       f"depends on rc.lane()){frame.via}")
            return self.function(self.helpers[e.function], tuple(kids), via)
        if isinstance(e, ir.Call):
            if any(kids):
                frame.lane_fault = True
            return any(kids)
        if isinstance(e, (ir.Index, ir.VectorAt)) and kids[1]:
            frame.lane_fault = True
        if isinstance(e, ir.Binary) and e.op in ("floordiv", "mod") and kids[1]:
            frame.lane_fault = True
        return any(kids)


class _Frame:
    """One function's analysis: its lane-dependent locals and shared arrays."""

    def __init__(self, fn: ir.FunctionDef, tainted: set[str], shared: set[str]):
        self.fn = fn
        self.tainted = tainted
        self.shared = shared
        self.returns = False           # what it returns depends on the lane
        self.lane_fault = False        # an operation that can fault on some lanes only
        self.via = ""                  # the call with lane-dependent arguments (errors)
        self.at = None                 # the statement being analysed


def _children(e):
    from ..ir.walk import expr_children
    return expr_children(e)


def _root(e):
    while isinstance(e, (ir.Member, ir.Index, ir.VectorAt, ir.ContainerItem)):
        e = e.container if isinstance(e, ir.ContainerItem) else e.base
    return e


def _target_indices(e):
    """The index expressions of an assignment's target chain."""
    found = []
    while isinstance(e, (ir.Member, ir.Index, ir.VectorAt)):
        if isinstance(e, (ir.Index, ir.VectorAt)):
            found.append(e.index)
        e = e.base
    return found
