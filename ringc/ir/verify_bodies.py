"""The verifier's checks of one function's body (`FunctionChecker`): its statements and
expressions, each node's type against its operands, and the cooperative rules inside
functions, as the list in verify.py's docstring says.

Limits: one function at a time (`verify` gathers the calls each makes and rejects
recursion across them), and those of verify.py (no analysis of control flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dispatch import Dispatch, UnhandledNode
from .nodes import (
    COMPARE_OPS,
    CONTAINER_METHODS,
    GROUP_OPS,
    INTRINSICS,
    LOGICAL_OPS,
    MATH_FUNCTIONS,
    STMT_KINDS,
    Assign,
    Barrier,
    Binary,
    Break,
    Broadcast,
    Call,
    Cast,
    Compare,
    Const,
    ContainerCall,
    ContainerItem,
    Continue,
    Emit,
    Expr,
    ExprStmt,
    Fail,
    FaultIs,
    For,
    ForEach,
    FunctionDef,
    GroupReduce,
    HelperCall,
    If,
    Index,
    Intrinsic,
    KernelDef,
    Local,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Program,
    Raise,
    Reply,
    Return,
    Select,
    Send,
    SendAfter,
    SharedDef,
    State,
    Stmt,
    Try,
    Unary,
    VectorAt,
    VectorNew,
    While,
    Zero,
)
from .types import (
    ADDRESS,
    BOOL,
    I32,
    I64,
    MAP_KINDS,
    SCALAR_TYPES,
    AddressType,
    ArrayType,
    ContainerType,
    Loc,
    MessageType,
    ScalarType,
    VectorType,
)
from .verify_types import IRVerifyError, check_type, check_value, container_args, container_result
from .walk import MAX_EXPRESSION_DEPTH, expression_depth, stmt_exprs

__all__ = ["FunctionChecker"]

_ADDRESS_FIELDS = {"queue": SCALAR_TYPES["u32"], "reserved": SCALAR_TYPES["u32"],
                   "correlation": SCALAR_TYPES["u64"]}
_ARITHMETIC = ("add", "sub", "mul", "floordiv", "mod")
_BITWISE = ("bitand", "bitor", "bitxor")
_SHIFTS = ("shl", "shr")
_FLOAT_MATH = ("sqrt", "exp", "log", "sin", "cos", "tan", "floor", "ceil", "fabs", "pow",
               "isnan", "isinf", "fma")
_MATH_ARITY = {"pow": 2, "min": 2, "max": 2, "dot": 2, "fma": 3}   # the others take one
_VECTOR_OPS = ("add", "sub", "mul", "div")


# ---------------------------------------------------------------------------------------
# Function bodies
# ---------------------------------------------------------------------------------------

@dataclass
class FunctionChecker:
    """Checks one function's body; `kind` is "handler", "helper" or "device"."""

    program: Program
    messages: dict
    kernels: dict
    devices: dict
    kernel: KernelDef | None
    kind: str
    function: FunctionDef
    calls: set = field(default_factory=set)  # (kernel or None, function) it calls
    scope: dict = field(default_factory=dict)  # parameter and local types by name
    state: dict = field(default_factory=dict)  # state types by name
    loc: Loc | None = None  # of the statement being checked
    loops: int = 0  # loops around it (in a `finally`, only those inside it)
    caught: list = field(default_factory=list)  # names of the except blocks around it
    finals: int = 0  # try statements with a `finally` whose other blocks are around it
    in_finally: int = 0  # `finally` blocks around it
    tries: int = 0  # try statements around it
    whole: bool = False  # the expression being checked is a statement's whole value

    @property
    def cooperative(self) -> bool:
        return self.kernel is not None and self.kernel.options.concurrency == "cooperative"

    def needs_cooperative(self, what: str) -> None:
        if not self.cooperative:
            raise self.error(f"{what} is only in the handlers and helpers of a cooperative "
                             "kernel")

    def sync_value(self, e: Expr) -> None:
        """Check `e`, a value that is a synchronisation point of the lanes."""
        if self.finals or self.caught or self.tries:
            raise self.error("a synchronisation point (barrier, group reduction, broadcast) "
                             "inside a try statement")
        self.whole = True
        self.expr(e)

    def check(self) -> None:
        if any(isinstance(v, SharedDef) for v in self.function.locals):
            self.needs_cooperative("a shared array")
        self.scope = {v.name: v.type for v in self.function.params + self.function.locals}
        self.state = {s.name: s.type for s in self.kernel.state} if self.kernel else {}
        self.loc = self.function.loc
        self.block(self.function.body)

    def error(self, message: str) -> IRVerifyError:
        return IRVerifyError(f"in {self.function.name}: {message}", self.loc)

    def expect(self, e: Expr, t, what: str) -> None:
        """Check `e`, and that its type is `t`."""
        self.expr(e)
        if e.type != t:
            raise self.error(f"{what} must be {t}, not {e.type}")

    def expect_kind(self, e: Expr, test, kind: str, what: str) -> None:
        """Check `e`, and that its type is a scalar passing `test`."""
        self.expr(e)
        if not (isinstance(e.type, ScalarType) and test(e.type)):
            raise self.error(f"{what} must be {kind}, not {e.type}")

    # --- statements -------------------------------------------------------------------

    stmt = Dispatch("the verifier's statements")

    def block(self, stmts: tuple[Stmt, ...]) -> None:
        for stmt in stmts:
            self.loc = getattr(stmt, "loc", self.loc)
            self.nesting(stmt)
            self.stmt(stmt)

    def nesting(self, stmt: Stmt) -> None:
        """Refuse an expression nested deeper than MAX_EXPRESSION_DEPTH, before anything
        walks it recursively (checked iteratively; a statement that is no statement is
        left to `stmt`)."""
        if type(stmt) not in STMT_KINDS:
            return
        for e in stmt_exprs(stmt):
            try:
                depth = expression_depth(e)
            except UnhandledNode:          # not an expression: `stmt` says what is wrong
                return
            if depth > MAX_EXPRESSION_DEPTH:
                raise self.error(f"an expression nests {depth} levels deep; ringc's limit is "
                                 f"{MAX_EXPRESSION_DEPTH} (split it with local variables)")

    @stmt.otherwise
    def not_a_statement(self, stmt: object) -> None:
        raise self.error(f"not a statement: {stmt!r}")

    @stmt.on(Assign)
    def assign(self, stmt: Assign) -> None:
        root = stmt.target
        if isinstance(root, VectorAt):             # a store of a vector into an array
            root = root.base
        while isinstance(root, (Member, Index, ContainerItem)):
            root = root.container if isinstance(root, ContainerItem) else root.base
        if not isinstance(root, (Local, State)):
            raise self.error(f"cannot assign to {type(stmt.target).__name__}: a target is a "
                             "local, state, or a field or element of one")
        if (isinstance(root, State) and self.kernel is not None
                and self.kernel.options.concurrency == "parallel"):
            raise self.error(f"parallel kernel {self.kernel.name!r} writes state "
                             f"{root.name!r}; use rc.atomic_*")
        self.expr(stmt.target)
        if isinstance(stmt.value, Zero):          # only here: the store zeroes the target
            check_type(stmt.value.type, self.messages, self.loc, "zero")
            if not isinstance(stmt.value.type, (ArrayType, MessageType)):
                raise self.error(f"zero of {stmt.value.type}: only arrays and records")
            if stmt.value.type != stmt.target.type:
                raise self.error(f"assigned value must be {stmt.target.type}, not "
                                 f"{stmt.value.type}")
            return
        if isinstance(stmt.value, (GroupReduce, Broadcast)) and isinstance(stmt.target, Local):
            self.sync_value(stmt.value)
            if stmt.value.type != stmt.target.type:
                raise self.error(f"assigned value must be {stmt.target.type}, not "
                                 f"{stmt.value.type}")
            return
        self.expect(stmt.value, stmt.target.type, "assigned value")

    @stmt.on(If)
    def if_(self, stmt: If) -> None:
        self.expect(stmt.cond, BOOL, "if condition")
        self.block(stmt.then)
        self.loc = stmt.loc
        self.block(stmt.orelse)

    @stmt.on(While)
    def while_(self, stmt: While) -> None:
        self.expect(stmt.cond, BOOL, "while condition")
        self.loop(stmt.body)

    @stmt.on(For)
    def for_(self, stmt: For) -> None:
        var_type = self.scope.get(stmt.var)
        if not (isinstance(var_type, ScalarType) and var_type.is_int):
            raise self.error(f"for variable {stmt.var!r} must be an integer local")
        self.expect(stmt.start, var_type, "range start")
        self.expect(stmt.stop, var_type, "range stop")
        step = stmt.step
        if isinstance(step, bool) or not isinstance(step, int) or step == 0:
            raise self.error(f"range step must be a non-zero integer, not {step!r}")
        self.loop(stmt.body)

    @stmt.on(Break, Continue)
    def jump(self, stmt: Break | Continue) -> None:
        if not self.loops:
            raise self.error(f"{type(stmt).__name__.lower()} outside a loop")

    def loop(self, body: tuple[Stmt, ...]) -> None:
        self.loops += 1
        self.block(body)
        self.loops -= 1

    @stmt.on(Try)
    def try_(self, stmt: Try) -> None:
        if stmt.name is not None and stmt.handler is None:
            raise self.error(f"try names the fault {stmt.name!r} but has no except block")
        self.finals += bool(stmt.finalbody)
        self.tries += 1
        self.block(stmt.body)
        if stmt.handler is not None:
            self.caught.append(stmt.name)
            self.block(stmt.handler)
            self.caught.pop()
        self.block(stmt.orelse)
        self.finals -= bool(stmt.finalbody)
        loops, self.loops = self.loops, 0          # no jumps out of a finally
        self.in_finally += 1
        self.block(stmt.finalbody)
        self.in_finally -= 1
        self.tries -= 1
        self.loops = loops

    @stmt.on(Barrier)
    def barrier(self, stmt: Barrier) -> None:
        self.needs_cooperative("rc.barrier()")
        if self.tries:
            raise self.error("a synchronisation point (barrier, group reduction, broadcast) "
                             "inside a try statement")

    @stmt.on(ForEach)
    def for_each(self, stmt: ForEach) -> None:
        container = self.container(stmt.container)
        want = container.key if container.kind in MAP_KINDS else container.item
        if self.scope.get(stmt.var) != want:
            raise self.error(f"foreach variable {stmt.var!r} must be a local of type {want}")
        self.loop(stmt.body)

    def container(self, e: Expr) -> ContainerType:
        """Check `e` is a state container; its type."""
        if not (isinstance(e, State) and isinstance(e.type, ContainerType)):
            raise self.error(f"a container is a state variable, not {e!r}")
        self.expr(e)
        return e.type

    @stmt.on(Raise)
    def raise_(self, stmt: Raise) -> None:
        if not self.caught:
            raise self.error("raise outside an except block: there is no fault to raise "
                             "again")

    @stmt.on(Return)
    def return_(self, stmt: Return) -> None:
        if self.in_finally:
            raise self.error("return in a finally block")
        if self.finals:
            raise self.error("return inside a try statement that has a finally block (not "
                             "supported: return after the try statement)")
        returns = self.function.returns
        if stmt.value is None:
            if returns is not None and self.kind != "handler":
                raise self.error(f"return without a value from a function returning {returns}")
            return
        if returns is None:
            raise self.error("return with a value from a function that returns nothing")
        if isinstance(stmt.value, (GroupReduce, Broadcast)) and self.kind == "helper":
            self.sync_value(stmt.value)
            if stmt.value.type != returns:
                raise self.error(f"returned value must be {returns}, not {stmt.value.type}")
            return
        self.expect(stmt.value, returns, "returned value")

    @stmt.on(ExprStmt)
    def expr_stmt(self, stmt: ExprStmt) -> None:
        self.expr(stmt.expr)

    @stmt.on(Send)
    def send(self, stmt: Send) -> None:
        target = self.kernels.get(stmt.kernel)
        if target is None:
            raise self.error(f"send to unknown kernel {stmt.kernel!r}")
        self.expect_kind(stmt.instance, lambda t: t.is_int, "an integer", "send instance")
        self.expect_message(stmt.message, "sent value")
        if not any(h.params and h.params[0].type == stmt.message.type
                   for h in target.handlers):
            raise self.error(f"kernel {stmt.kernel!r} has no handler for {stmt.message.type}")

    @stmt.on(SendAfter)
    def send_after(self, stmt: SendAfter) -> None:
        self.expect(stmt.delay, I64, "send_after delay")
        self.send(Send(stmt.kernel, stmt.instance, stmt.message, stmt.loc))

    @stmt.on(Emit)
    def emit(self, stmt: Emit) -> None:
        self.expect_message(stmt.message, "emitted value")

    @stmt.on(Reply)
    def reply(self, stmt: Reply) -> None:
        self.expect(stmt.address, ADDRESS, "reply address")
        self.expect_message(stmt.message, "reply value")

    @stmt.on(Fail)
    def fail(self, stmt: Fail) -> None:
        if not isinstance(stmt.reason, str):
            raise self.error(f"fail reason must be a string, not {stmt.reason!r}")

    def expect_message(self, e: Expr, what: str) -> None:
        self.expr(e)
        if not isinstance(e.type, MessageType):
            raise self.error(f"{what} must be a message, not {e.type}")

    # --- expressions ------------------------------------------------------------------

    expr = Dispatch("the verifier's expressions")

    @expr.otherwise
    def not_an_expression(self, e: object) -> None:
        raise self.error(f"not an expression: {e!r}")

    @expr.on(ContainerCall)
    def container_call(self, e: ContainerCall) -> None:
        t = self.container(e.container)
        methods = CONTAINER_METHODS[t.kind]
        if e.method not in methods:
            raise self.error(f"{t} has no method {e.method!r}")
        if len(e.args) != methods[e.method][0]:
            raise self.error(f"{e.method} takes {methods[e.method][0]} argument(s)")
        for arg, want in zip(e.args, container_args(t, e.method), strict=True):
            self.expect(arg, want, f"argument of {e.method}")
        result = container_result(t, e.method)
        if e.type != result:
            raise self.error(f"{e.method} gives {result}, typed {e.type}")

    @expr.on(ContainerItem)
    def container_item(self, e: ContainerItem) -> None:
        t = self.container(e.container)
        if t.kind in MAP_KINDS:
            self.expect(e.index, t.key, "map key")
        else:
            self.expect_kind(e.index, lambda s: s.is_int, "an integer", "container index")
        if e.type != t.item:
            raise self.error(f"an item of {t} is {t.item}, typed {e.type}")

    @expr.on(FaultIs)
    def fault_is(self, e: FaultIs) -> None:
        if e.type != BOOL:
            raise self.error(f"fault_is typed {e.type}, not bool")
        if e.name is None or e.name not in self.caught:
            raise self.error(f"fault_is of {e.name!r}, which no enclosing except block names")
        if not isinstance(e.reason, str) or not e.reason:
            raise self.error(f"fault_is needs a reason string, not {e.reason!r}")

    @expr.on(Zero)
    def zero(self, e: Zero) -> None:
        raise self.error("(zero) is only the whole value of an assignment")

    @expr.on(Const)
    def const(self, e: Const) -> None:
        if not isinstance(e.type, ScalarType):
            raise self.error(f"constant of non-scalar type {e.type}")
        check_value(e.value, e.type, self.loc, f"in {self.function.name}: constant")

    @expr.on(Local)
    def local(self, e: Local) -> None:
        if e.name not in self.scope:
            raise self.error(f"unknown local {e.name!r}")
        if self.scope[e.name] != e.type:
            raise self.error(f"local {e.name!r} is {self.scope[e.name]}, used as {e.type}")

    @expr.on(State)
    def state_read(self, e: State) -> None:
        if self.kernel is None:
            raise self.error(f"device function reads state {e.name!r}: it has none")
        if e.name not in self.state:
            raise self.error(f"unknown state {e.name!r} in kernel {self.kernel.name!r}")
        if self.state[e.name] != e.type:
            raise self.error(f"state {e.name!r} is {self.state[e.name]}, used as {e.type}")

    @expr.on(Member, Index)
    def access(self, e: Member | Index) -> None:
        self.expr(e.base)
        base = e.base.type
        if isinstance(e, Index):
            if not isinstance(base, ArrayType):
                raise self.error(f"indexing a {base}, not an array")
            self.expect_kind(e.index, lambda t: t.is_int, "an integer", "index")
            expected = base.elem
        elif isinstance(base, MessageType):
            fields = {f.name: f.type for f in self.messages[base.name].fields}
            if e.field not in fields:
                raise self.error(f"message {base.name!r} has no field {e.field!r}")
            expected = fields[e.field]
        elif isinstance(base, AddressType):
            if e.field not in _ADDRESS_FIELDS:
                raise self.error(f"an address has no field {e.field!r}")
            expected = _ADDRESS_FIELDS[e.field]
        elif isinstance(base, VectorType):
            if e.field not in base.components:
                raise self.error(f"a {base} has no component {e.field!r}")
            expected = base.elem
        else:
            raise self.error(f"field {e.field!r} of a {base}, not a message or address")
        if e.type != expected:
            raise self.error(f"{type(e).__name__.lower()} is {expected}, typed {e.type}")

    def scalar_result(self, e: Unary | Binary | Compare | Logical | Cast) -> None:
        if not isinstance(e.type, ScalarType):
            raise self.error(f"{type(e).__name__.lower()} of non-scalar type {e.type}")

    def vector_operation(self, e: Unary | Binary) -> None:
        """Lane by lane: `neg`, `add sub mul`, `div` of float vectors; operands of the
        node's vector type."""
        t = e.type
        self.type_ok(t)
        if e.op not in _VECTOR_OPS + ("neg",) or (e.op == "div" and not t.elem.is_float) \
                or (e.op == "neg" and isinstance(e, Binary)):
            raise self.error(f"{type(e).__name__.lower()} {e.op!r} of vector type {t} (vectors "
                             f"have + - * lane by lane, / of floats, and negation)")
        for operand in ((e.operand,) if isinstance(e, Unary) else (e.left, e.right)):
            self.expect(operand, t, f"operand of {e.op!r}")

    def type_ok(self, t) -> None:
        check_type(t, self.messages, self.loc, f"in {self.function.name}")

    @expr.on(VectorNew)
    def vector_new(self, e: VectorNew) -> None:
        if not isinstance(e.type, VectorType):
            raise self.error(f"vector of non-vector type {e.type}")
        self.type_ok(e.type)
        if len(e.args) not in (1, e.type.lanes):
            raise self.error(f"a {e.type} takes {e.type.lanes} values or one, not "
                             f"{len(e.args)}")
        for arg in e.args:
            self.expect(arg, e.type.elem, f"lane of {e.type}")

    @expr.on(VectorAt)
    def vector_at(self, e: VectorAt) -> None:
        t = e.type
        if not isinstance(t, VectorType):
            raise self.error(f"vector_at of non-vector type {t}")
        self.type_ok(t)
        self.expr(e.base)
        base = e.base.type
        if not (isinstance(base, ArrayType) and base.elem == t.elem and base.length >= t.lanes):
            raise self.error(f"a {t} is read from an array of at least {t.lanes} {t.elem}, "
                             f"not {base}")
        root = e.base
        while isinstance(root, (Member, Index)):
            root = root.base
        if not isinstance(root, (Local, State)):
            raise self.error(f"a {t} is read from an array that is a local, state, or a "
                             "field or element of one")
        self.expect_kind(e.index, lambda s: s.is_int, "an integer", "vector index")

    @expr.on(Unary)
    def unary(self, e: Unary) -> None:
        if isinstance(e.type, VectorType):
            return self.vector_operation(e)
        self.scalar_result(e)
        op, t = e.op, e.type
        test, kind = {"neg": (_numeric, "numeric"), "not": (_is_bool, "bool"),
                      "invert": (_is_int, "an integer")}.get(op, (None, ""))
        if test is None or not test(t):
            raise self.error(f"unary {op!r} of type {t} (needs {kind or 'a known op'})")
        self.expect(e.operand, t, f"operand of {op!r}")

    @expr.on(Binary)
    def binary(self, e: Binary) -> None:
        if isinstance(e.type, VectorType):
            return self.vector_operation(e)
        self.scalar_result(e)
        op, t = e.op, e.type
        if op in _ARITHMETIC:
            ok, kind = _numeric(t), "numeric"
        elif op == "div":
            ok, kind = t.is_float, "a float (ints are cast first)"
        elif op in _BITWISE:
            ok, kind = t.is_int or t.is_bool, "an integer or bool"
        elif op in _SHIFTS:
            ok, kind = t.is_int, "an integer"
        else:
            raise self.error(f"unknown binary operator {op!r}")
        if not ok:
            raise self.error(f"binary {op!r} of type {t}; it must be {kind}")
        self.expect(e.left, t, f"left operand of {op!r}")
        self.expect(e.right, t, f"right operand of {op!r}")

    @expr.on(Compare)
    def compare(self, e: Compare) -> None:
        self.scalar_result(e)
        if e.op not in COMPARE_OPS or e.type != BOOL:
            raise self.error(f"compare {e.op!r} of type {e.type} (needs a known op, bool)")
        self.expect_kind(e.left, lambda _: True, "a scalar", f"operand of {e.op!r}")
        self.expect(e.right, e.left.type, f"right operand of {e.op!r}")

    @expr.on(Logical)
    def logical(self, e: Logical) -> None:
        self.scalar_result(e)
        if e.op not in LOGICAL_OPS or e.type != BOOL:
            raise self.error(f"logical {e.op!r} of type {e.type} (needs and/or, bool)")
        self.expect(e.left, BOOL, f"left operand of {e.op!r}")
        self.expect(e.right, BOOL, f"right operand of {e.op!r}")

    @expr.on(Select)
    def select(self, e: Select) -> None:
        self.expect(e.cond, BOOL, "select condition")
        self.expect(e.then, e.type, "select value")
        self.expect(e.orelse, e.type, "select alternative")

    @expr.on(Cast)
    def cast(self, e: Cast) -> None:
        self.scalar_result(e)
        self.expect_kind(e.expr, lambda _: True, "a scalar", "cast operand")

    @expr.on(Call)
    def device_call(self, e: Call) -> None:
        if e.function not in self.devices:
            raise self.error(f"unknown device function {e.function!r}")
        self.calls.add((None, e.function))
        self.arguments(e, e.function, self.devices[e.function])

    @expr.on(HelperCall)
    def helper_call(self, e: HelperCall) -> None:
        spelled = f"self.{e.function}"
        if self.kernel is None:
            raise self.error(f"device function calls kernel helper {spelled!r}")
        helpers = {h.name: h for h in self.kernel.helpers}
        if e.function not in helpers:
            raise self.error(f"kernel {self.kernel.name!r} has no helper {e.function!r}")
        self.calls.add((self.kernel.name, e.function))
        self.arguments(e, spelled, helpers[e.function])

    def arguments(self, e: Call | HelperCall, spelled: str, callee: FunctionDef) -> None:
        """The arguments and type of a call of `callee` (written `spelled`)."""
        if len(e.args) != len(callee.params):
            raise self.error(f"{spelled} takes {len(callee.params)} arguments, "
                             f"given {len(e.args)}")
        for arg, param in zip(e.args, callee.params, strict=True):
            self.expect(arg, param.type, f"argument {param.name!r} of {spelled}")
        if e.type != callee.returns:
            raise self.error(f"{spelled} returns {callee.returns}, call typed {e.type}")

    @expr.on(MathCall)
    def math_call(self, e: MathCall) -> None:
        if e.function not in MATH_FUNCTIONS:
            raise self.error(f"unknown math function {e.function!r}")
        arity = _MATH_ARITY.get(e.function, 1)
        if len(e.args) != arity:
            raise self.error(f"{e.function} takes {arity} arguments, given {len(e.args)}")
        if e.function == "dot":
            self.expr(e.args[0])
            t = e.args[0].type
            if not isinstance(t, VectorType):
                raise self.error(f"dot takes two vectors, not {t}")
            self.expect(e.args[1], t, "argument of dot")
            if e.type != t.elem:
                raise self.error(f"dot gives {t.elem}, typed {e.type}")
            return
        if e.function in _FLOAT_MATH:
            test, kind = _is_float, "a float"
        else:
            test, kind = _numeric, "numeric"
        self.expect_kind(e.args[0], test, kind, f"argument of {e.function}")
        for arg in e.args[1:]:
            self.expect(arg, e.args[0].type, f"argument of {e.function}")
        result = BOOL if e.function in ("isnan", "isinf") else e.args[0].type
        if e.type != result:
            raise self.error(f"{e.function} gives {result}, typed {e.type}")

    @expr.on(MessageNew)
    def message_new(self, e: MessageNew) -> None:
        if e.message not in self.messages:
            raise self.error(f"unknown message {e.message!r}")
        if e.type != MessageType(e.message):
            raise self.error(f"new {e.message} typed {e.type}")
        fields = {f.name: f.type for f in self.messages[e.message].fields}
        given: set[str] = set()
        for name, value in e.fields:
            if name not in fields:
                raise self.error(f"message {e.message!r} has no field {name!r}")
            if name in given:
                raise self.error(f"field {name!r} of {e.message} given twice")
            given.add(name)
            self.expect(value, fields[name], f"field {e.message}.{name}")

    @expr.on(GroupReduce)
    def group_reduce(self, e: GroupReduce) -> None:
        self.collective(e, f"group_{e.op}")
        if e.op not in GROUP_OPS:
            raise self.error(f"unknown group reduction {e.op!r} (there are "
                             f"{', '.join(GROUP_OPS)})")
        if not (_numeric(e.type) and e.type.bits >= 32):
            raise self.error(f"group_{e.op} takes a 32- or 64-bit number, not {e.type}")
        self.expect(e.value, e.type, f"value of group_{e.op}")

    @expr.on(Broadcast)
    def broadcast(self, e: Broadcast) -> None:
        self.collective(e, "broadcast")
        if not isinstance(e.type, ScalarType):
            raise self.error(f"broadcast takes a scalar, not {e.type}")
        self.expect(e.value, e.type, "value of broadcast")
        self.expect(e.lane, I32, "lane of broadcast")

    def collective(self, e: Expr, what: str) -> None:
        """A synchronisation point: only the whole value of what `sync_value` checks."""
        self.needs_cooperative(f"rc.{what}()")
        if not self.whole:
            raise self.error(f"rc.{what}() is a synchronisation point: only a statement's "
                             "whole value (an assignment to a local, a helper's return)")
        self.whole = False

    @expr.on(Intrinsic)
    def intrinsic(self, e: Intrinsic) -> None:
        if e.name not in INTRINSICS:
            raise self.error(f"unknown intrinsic {e.name!r}")
        if len(e.args) != INTRINSICS[e.name]:
            raise self.error(f"{e.name} takes {INTRINSICS[e.name]} arguments, "
                             f"given {len(e.args)}")
        if e.name == "lane":
            self.needs_cooperative(f"rc.{e.name}()")
            if e.type != I32:
                raise self.error(f"{e.name} gives an i32, typed {e.type}")
        elif e.name == "sender":
            if e.type != ADDRESS:
                raise self.error(f"sender gives an address, typed {e.type}")
        elif e.name in ("now", "instance_id"):
            if not _is_int(e.type):
                raise self.error(f"{e.name} gives an integer, typed {e.type}")
        else:
            self.atomic(e)

    def atomic(self, e: Intrinsic) -> None:
        target = e.args[0]
        if not (isinstance(target, State)
                or isinstance(target, Index) and isinstance(target.base, State)):
            raise self.error(f"{e.name} acts on state or an element of state, "
                             f"not {type(target).__name__}")
        self.expect_kind(target, _numeric, "numeric", f"{e.name} target")
        for arg in e.args[1:]:
            self.expect(arg, target.type, f"argument of {e.name}")
        if e.type != target.type:
            raise self.error(f"{e.name} gives {target.type}, typed {e.type}")


def _numeric(t) -> bool:
    return isinstance(t, ScalarType) and (t.is_int or t.is_float)


def _is_int(t) -> bool:
    return isinstance(t, ScalarType) and t.is_int


def _is_float(t) -> bool:
    return isinstance(t, ScalarType) and t.is_float


def _is_bool(t) -> bool:
    return isinstance(t, ScalarType) and t.is_bool
