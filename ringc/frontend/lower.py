"""Lowering one function body (handler, kernel helper or device function) to typed IR.

The supported syntax is the `ast` node kinds with a handler on `FunctionLowering.stmt` or
`FunctionLowering.expr` (`ringc.ir.dispatch`): any other node fails in one place,
`unsupported`, with a hint. Every error is a `CompileError` at the user's file:line:col.

Every handler is registered here, the larger ones calling a function of the lowering (`fl`)
in a module beside this one: `localtypes` types the locals before the body is lowered,
`operators` lowers the operators and the conditional expression, `faults` try, raise and
the test of a caught fault's reason, `calls` every call, as a value or as a statement. This
module holds the rest: the lowering's state, assignments and stores, loops and branches,
names, attributes and subscripts, and the conversions all of them share.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field

from ..errors import CompileError
from ..ir import nodes as ir
from ..ir.dispatch import Dispatch
from ..ir.types import (
    ADDRESS,
    BOOL,
    CONTAINER_KINDS,
    I32,
    U64,
    AddressType,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    VectorType,
)
from ..ir.walk import MAX_EXPRESSION_DEPTH, walk
from . import names
from .calls import intrinsic_statement, lower_call, vector_store
from .faults import lower_raise, lower_try
from .localtypes import UntypedLocal, assigned_later, infer_locals, iterated
from .operators import (
    BINOPS,
    binary,
    lower_binop,
    lower_boolop,
    lower_compare,
    lower_ifexp,
    lower_unaryop,
)
from .typerules import TypeRuleError, Weak, can_store, default_type, weak_to

# Hints for constructs people reach for first.
HINTS = {
    "ListComp": "use a for loop over range(...)", "GeneratorExp": "use a for loop over range(...)",
    "DictComp": "use a for loop over range(...)", "SetComp": "use a for loop over range(...)",
    "List": "fixed arrays live in state or messages: Array[T, n]",
    "Tuple": "assign one value per statement", "Dict": "use state arrays indexed by key",
    "Set": "use state arrays", "Lambda": "define an @rc.device function or a helper method",
    "TryStar": "use try: ... except rc.Fault as f:",
    "Assert": "check the condition and call rc.fail('reason')",
    "With": "no context managers in handlers", "Import": "import at module level",
    "ImportFrom": "import at module level", "Global": "keep state in the kernel: self.x",
    "Nonlocal": "keep state in the kernel: self.x",
    "Delete": "state cannot be deleted; a map's key goes with self.m.remove(k)",
    "JoinedStr": "strings exist only as rc.fail reasons", "Yield": "handlers return a reply",
    "Await": "handlers are synchronous", "NamedExpr": "assign in its own statement",
    "Starred": "pass arguments one by one", "Pow": "use math.pow(a, b)",
    "MatMult": "no matrix operator: write the loop", "Is": "use ==", "IsNot": "use !=",
    "In": "compare explicitly", "NotIn": "compare explicitly", "Slice": "index one element",
    "FunctionDef": "define helpers as methods of the kernel or @rc.device functions",
    "ClassDef": "define classes at module level", "Match": "use if/elif/else",
    "AsyncFunctionDef": "handlers are synchronous", "AsyncFor": "handlers are synchronous",
}


@dataclass
class FunctionInfo:
    """What a caller needs of a helper or device function, and what lowering found."""
    name: str
    helper: bool                  # a kernel helper (called self.name), else a device function
    params: tuple[ir.Param, ...]
    returns: object               # IR type or None
    node: ast.FunctionDef
    effects: bool = False         # writes state, sends, emits, replies or uses atomics
    lowered: ir.FunctionDef | None = None
    syncs: bool = False           # a synchronisation point of a cooperative kernel's lanes

    @property
    def spelled(self) -> str:
        """How the user calls it: `self.name` or `name`."""
        return f"self.{self.name}" if self.helper else self.name

    def call(self, args: tuple[ir.Expr, ...]) -> ir.Call | ir.HelperCall:
        """The IR call of this function with `args`."""
        node = ir.HelperCall if self.helper else ir.Call
        return node(self.name, args, self.returns)


@dataclass
class Context:
    """What a function body can see; provided by the program builder."""
    file: str
    globals: dict
    builder: object                 # ProgramBuilder: messages, kernels, functions
    kernel: object | None = None    # KernelInfo of the enclosing kernel, None in device fns
    kind: str = "handler"           # handler | helper | device
    state: dict = field(default_factory=dict)   # name -> IR type


class FunctionLowering:
    """Lowers one `ast.FunctionDef` to an `ir.FunctionDef`."""

    stmt = Dispatch()   # (ast.stmt) -> an IR statement, a list of them, or None (nothing)
    expr = Dispatch()   # (ast.expr) -> an IR expression, or a Weak untyped literal

    def __init__(self, ctx: Context, node: ast.FunctionDef, params: tuple[ir.Param, ...],
                 returns: object):
        self.ctx = ctx
        self.node = node
        self.params = params
        self.returns = returns
        self.locals: dict[str, object] = {p.name: p.type for p in params}
        self.param_names = {p.name for p in params}
        self.declared: dict[str, object] = {}   # annotated locals
        self.probing = False
        self.loop_depth = 0
        self.effects = False
        self.inferred_returns: object = None
        self.zero_value: ast.expr | None = None  # the value an assignment stores now
        self.caught: list[str | None] = []       # names of the except blocks around us
        self.sync_ok: ast.expr | None = None     # where a synchronisation point may stand
        self.shared_names: set[str] = set()      # locals that are rc.Shared arrays
        self.fault_names = {h.name for h in ast.walk(node)         # every except's name
                            if isinstance(h, ast.ExceptHandler) and h.name}

    # -- errors --------------------------------------------------------------------------

    def error(self, node: ast.AST, message: str, hint: str | None = None) -> CompileError:
        return CompileError(message, self.loc(node), hint)

    def loc(self, node: ast.AST) -> ir.Loc:
        return ir.Loc(self.ctx.file, getattr(node, "lineno", self.node.lineno),
                      getattr(node, "col_offset", self.node.col_offset) + 1)

    @stmt.otherwise
    @expr.otherwise
    def unsupported_syntax(self, node: ast.AST) -> None:
        raise self.unsupported(node)

    def unsupported(self, node: ast.AST, what: str | None = None,
                    construct: ast.AST | None = None) -> CompileError:
        """The one error for syntax without a handler; `construct` (an operator node,
        which has no location) picks the hint when given."""
        name = type(construct or node).__name__
        return self.error(node, f"{what or name} is not supported in ring kernels",
                          HINTS.get(name, "see the supported subset: ringc docs language"))

    def rule(self, node: ast.AST, exc: TypeRuleError) -> CompileError:
        return self.error(node, exc.message, exc.hint)

    def expect_args(self, call: ast.Call, n: int, form: str) -> None:
        if len(call.args) != n or call.keywords:
            raise self.error(call, f"write {form}")

    # -- entry ---------------------------------------------------------------------------

    def lower(self) -> ir.FunctionDef:
        self.check_nesting()
        infer_locals(self)
        body = self.block(self.node.body)
        local_defs = tuple((ir.SharedDef if n in self.shared_names else ir.LocalDef)(n, t)
                           for n, t in self.locals.items() if n not in self.param_names)
        returns = self.returns
        if returns is None and self.ctx.kind == "handler":
            returns = self.inferred_returns
        if returns is not None and self.ctx.kind != "handler" and not _always_returns(body):
            raise self.error(self.node, f"'{self.node.name}' may reach its end without "
                                        f"returning a {returns}",
                             "return a value on every path, e.g. a return at the end")
        return ir.FunctionDef(self.node.name, self.params, returns, local_defs, body,
                              self.loc(self.node))

    def check_nesting(self) -> None:
        """Refuse an expression nested deeper than the IR allows, before lowering walks it
        recursively (this walk is a loop)."""
        statements = [s for s in ast.walk(self.node) if isinstance(s, ast.stmt)]
        pending = [(root, root, 1) for s in statements for root in ast.iter_child_nodes(s)
                   if not isinstance(root, ast.stmt)]
        while pending:
            root, node, depth = pending.pop()
            if depth > MAX_EXPRESSION_DEPTH:
                raise self.error(root, f"this expression nests more than "
                                       f"{MAX_EXPRESSION_DEPTH} levels deep (ringc's limit)",
                                 "split it into steps with local variables")
            pending.extend((root, child, depth + isinstance(child, ast.expr))
                           for child in ast.iter_child_nodes(node))

    # -- statements ----------------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for stmt in stmts:
            result = self.stmt(stmt)
            if result is None:
                continue
            if isinstance(result, list):
                out.extend(result)
            else:
                out.append(result)
        return tuple(out)

    def assigned_value(self, node: ast.expr):
        """The value of an assignment's right-hand side: something, not a call that
        returns nothing."""
        self.zero_value = node
        value = self.expr(node)
        if not isinstance(value, Weak) and value.type is None:
            raise self.error(node, f"{ast.unparse(node)} returns nothing: there is no value "
                                   "to assign", "call it on a line of its own")
        self.check_alone(value, node, allow_root=True)
        return value

    @stmt.on(ast.Assign)
    def stmt_assign(self, node: ast.Assign) -> list[ir.Stmt]:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self.sync_ok = node.value
        value = self.assigned_value(node.value)
        return [self.store(target, value, node, node.value) for target in node.targets]

    @stmt.on(ast.AnnAssign)
    def stmt_annassign(self, node: ast.AnnAssign):
        if not isinstance(node.target, ast.Name):
            raise self.error(node, "only local variables can be annotated",
                             "state is declared as a class attribute of the kernel")
        if node.value is None:
            return None
        if node.target.id in self.shared_names:
            raise self.error(node.value, f"shared array '{node.target.id}' cannot be given a "
                                         "value where it is declared",
                             "a shared array is zero when each message's handling starts; "
                             "set its elements, then rc.barrier()")
        self.sync_ok = node.value
        value = self.assigned_value(node.value)
        return self.store(node.target, value, node, node.value)

    @stmt.on(ast.AugAssign)
    def stmt_augassign(self, node: ast.AugAssign) -> ir.Stmt:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise self.unsupported(node, f"operator {type(node.op).__name__}", node.op)
        current = self.expr(node.target)       # the visitors read Store targets too
        value = binary(self, op, current, self.expr(node.value), node)
        self.check_alone(value, node.value, allow_root=False)
        return self.store(node.target, value, node, node.value)

    def store(self, target: ast.expr, value, stmt: ast.AST, value_node: ast.AST) -> ir.Stmt:
        if isinstance(target, ast.Name):
            name = target.id
            if name not in self.locals:
                raise self.error(target, f"cannot infer the type of local '{name}'")
            t = self.locals[name]
            if isinstance(t, ArrayType):
                self.check_array_copy(value, t, value_node)
                return ir.Assign(ir.Local(name, t), value, self.loc(stmt))
            converted = self.convert(value, t, value_node, local=name)
            return ir.Assign(ir.Local(name, t), converted, self.loc(stmt))
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            place = self.expr(target)
            if isinstance(place, ir.Member) and isinstance(place.base.type, VectorType):
                self.check_vector_place(place.base, target)
            if isinstance(place, ir.ContainerItem) and place.container.type.key is not None:
                t = place.container.type                 # m[k] = v: a put, as in Python
                converted = self.convert(value, t.item, value_node)
                self.check_state_write(place.container, target)
                return ir.ExprStmt(ir.ContainerCall(place.container, "put",
                                                    (place.index, converted), None),
                                   self.loc(stmt))
            if isinstance(place.type, ArrayType):
                self.check_array_copy(value, place.type, value_node)
            self.check_state_write(place, target)
            converted = self.convert(value, place.type, value_node)
            return ir.Assign(place, converted, self.loc(stmt))
        raise self.unsupported(target, f"assignment to {type(target).__name__}")

    def check_array_copy(self, value, t: ArrayType, node: ast.AST) -> None:
        """A whole array is stored by copying another array place of the same type (or
        zeroed by rc.zeros)."""
        if isinstance(value, ir.Zero) and value.type == t:
            return
        if isinstance(value, Weak) or value.type != t:
            what = "a number" if isinstance(value, Weak) else f"a {value.type}"
            raise self.error(node, f"cannot store {what} in an array of type {t}",
                             "copy an array of the same type, or assign element by element")
        root = value
        while isinstance(root, (ir.Index, ir.Member)):
            root = root.base
        if not isinstance(root, (ir.Local, ir.State)):
            raise self.error(node, "an array value can only be copied from a local, state "
                                   "or message field", "copy element by element in a loop")

    def check_vector_place(self, vector, node: ast.AST) -> None:
        """A component is assigned only in a vector that is a local, state, or a field or
        element of one (not a value computed on the spot)."""
        root = vector
        while isinstance(root, (ir.Index, ir.Member)):
            root = root.base
        if not isinstance(root, (ir.Local, ir.State)):
            raise self.error(node, f"'{ast.unparse(node)}' is a component of a {vector.type} "
                                   "computed on the spot: assigning it would change nothing",
                             "assign a component of a local, state or message field, e.g. "
                             "v = ... then v.x = 1.0")

    def check_state_write(self, place, node: ast.AST) -> None:
        root = place
        while isinstance(root, (ir.Index, ir.Member, ir.ContainerItem, ir.VectorAt)):
            root = root.container if isinstance(root, ir.ContainerItem) else root.base
        if isinstance(root, ir.State):
            self.effects = True
            kernel = self.ctx.kernel
            if kernel is not None and kernel.options.concurrency == "parallel":
                raise self.error(node, f"kernel '{kernel.name}' is concurrency='parallel': "
                                       f"its state may only change through rc.atomic_*",
                                 f"use rc.atomic_add(self.{root.name}, ...) or make the "
                                 "kernel 'ordered'")
        elif isinstance(root, ir.Local) and isinstance(root.type, AddressType):
            raise self.error(node, "an address's fields cannot be assigned")

    @stmt.on(ast.Expr)
    def stmt_expr(self, node: ast.Expr):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None                                   # docstring
        if isinstance(node.value, ast.Call):
            special = intrinsic_statement(self, node.value)
            if special is not None:
                return special
            store = vector_store(self, node.value)
            if store is not None:
                return store
            self.sync_ok = node.value
            value = self.expr(node.value)
            if isinstance(value, (ir.Call, ir.HelperCall, ir.Intrinsic, ir.ContainerCall)):
                self.check_alone(value, node.value, allow_root=True)
                return ir.ExprStmt(value, self.loc(node))
        self.expr(node.value)          # an unsupported construct is reported as such
        raise self.error(node, "this expression has no effect",
                         "assign its value or remove it")

    @stmt.on(ast.If)
    def stmt_if(self, node: ast.If) -> ir.Stmt:
        cond = self.condition(node.test)
        return ir.If(cond, self.block(node.body), self.block(node.orelse), self.loc(node))

    @stmt.on(ast.While)
    def stmt_while(self, node: ast.While) -> ir.Stmt:
        if node.orelse:
            raise self.error(node.orelse[0], "while/else is not supported",
                             "use a flag variable")
        cond = self.condition(node.test)
        self.loop_depth += 1
        body = self.block(node.body)
        self.loop_depth -= 1
        return ir.While(cond, body, self.loc(node))

    @stmt.on(ast.For)
    def stmt_for(self, node: ast.For) -> ir.Stmt:
        if node.orelse:
            raise self.error(node.orelse[0], "for/else is not supported", "use a flag variable")
        call = node.iter
        container = self.container_of(call)
        if container is not None:
            return self.for_each(node, container)
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("items", "keys", "values")
                and self.container_of(call.func.value) is not None):
            raise self.error(node.iter, f"a container has no .{call.func.attr}()",
                             f"for k in {ast.unparse(call.func.value)}: ... visits the keys "
                             f"(of a map) or items; read a value as "
                             f"{ast.unparse(call.func.value)}[k]")
        if not (isinstance(call, ast.Call) and names.resolve(call.func, self.ctx.globals) is range):
            raise self.error(node.iter, "for loops iterate over range(...) or a state "
                                        "container only", "write: for i in range(n)")
        if not isinstance(node.target, ast.Name):
            raise self.error(node.target, "the loop variable must be a plain name")
        if call.keywords or not 1 <= len(call.args) <= 3:
            raise self.error(call, "range takes 1 to 3 positional arguments")
        args = list(call.args)
        step = 1
        if len(args) == 3:
            step_value = self.expr(args[2])
            if not isinstance(step_value, Weak) or step_value.is_float:
                raise self.error(args[2], "the step of range must be an integer constant",
                                 "use a while loop for a computed step")
            step = step_value.value
            if step == 0:
                raise self.error(args[2], "range step must not be zero")
        name = node.target.id
        t = self.locals[name]
        if not (isinstance(t, ScalarType) and t.is_int):
            raise self.error(node.target, f"loop variable '{name}' must be an integer, "
                                          f"but it is also assigned a {t}")
        start = self.convert(self.expr(args[0]), t, args[0]) if len(args) > 1 else ir.Const(0, t)
        stop = self.convert(self.expr(args[-2] if len(args) == 3 else args[-1]), t, node.iter)
        if not t.fits(step):
            raise self.error(args[2], f"step {step} does not fit the loop variable's type {t}")
        self.loop_depth += 1
        body = self.block(node.body)
        self.loop_depth -= 1
        return ir.For(name, start, stop, step, body, self.loc(node))

    def container_of(self, node: ast.expr) -> ir.State | None:
        """The state container `node` names (`self.q`), else None."""
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self" and "self" not in self.locals
                and isinstance(self.ctx.state.get(node.attr), ContainerType)):
            return ir.State(node.attr, self.ctx.state[node.attr])
        return None

    def for_each(self, node: ast.For, container: ir.State) -> ir.Stmt:
        if not isinstance(node.target, ast.Name):
            raise self.error(node.target, "the loop variable must be a plain name")
        name, item = node.target.id, iterated(container.type)
        if self.locals.get(name) != item:
            raise self.error(node.target, f"loop variable '{name}' holds {item} items, but "
                                          f"it is also assigned a {self.locals.get(name)}",
                             "use another name for the loop variable")
        self.loop_depth += 1
        body = self.block(node.body)
        self.loop_depth -= 1
        return ir.ForEach(name, container, body, self.loc(node))

    @stmt.on(ast.Try)
    def stmt_try(self, node: ast.Try) -> ir.Stmt:
        return lower_try(self, node)

    @stmt.on(ast.Raise)
    def stmt_raise(self, node: ast.Raise) -> ir.Stmt:
        return lower_raise(self, node)

    @stmt.on(ast.Break)
    def stmt_break(self, node: ast.Break) -> ir.Stmt:
        self.check_jump(node, "break")
        return ir.Break(self.loc(node))

    @stmt.on(ast.Continue)
    def stmt_continue(self, node: ast.Continue) -> ir.Stmt:
        self.check_jump(node, "continue")
        return ir.Continue(self.loc(node))

    def check_jump(self, node: ast.stmt, word: str) -> None:
        """A break or continue leaves a loop of its own block: Python allows one out of a
        finally block (lower_try sets loop_depth to 0 there), ringc does not."""
        if self.loop_depth == 0:
            raise self.error(node, f"{word} out of a finally block is not supported",
                             f"set a local in the finally block, and {word} after the "
                             "try statement")

    @stmt.on(ast.Pass)
    def stmt_pass(self, node: ast.Pass):
        return None

    @stmt.on(ast.Return)
    def stmt_return(self, node: ast.Return) -> ir.Stmt:
        if node.value is None or (isinstance(node.value, ast.Constant)
                                  and node.value.value is None):
            if self.ctx.kind != "handler" and self.returns is not None:
                raise self.error(node, f"'{self.node.name}' must return a {self.returns}")
            return ir.Return(None, self.loc(node))
        if self.ctx.kind == "helper":
            self.sync_ok = node.value
        value = self.expr(node.value)
        self.check_alone(value, node.value, allow_root=True)
        expected = self.returns
        if self.ctx.kind == "handler":
            if not isinstance(getattr(value, "type", None), MessageType):
                raise self.error(node.value, "a handler returns a message (the reply) or nothing",
                                 "return Reply(field=...)")
            if expected is None:
                if self.inferred_returns not in (None, value.type):
                    raise self.error(node.value, f"handler returns {value.type} here but "
                                                 f"{self.inferred_returns} elsewhere",
                                     "annotate the reply type: -> Msg")
                self.inferred_returns = value.type
                expected = value.type
        elif expected is None:
            raise self.error(node.value, f"'{self.node.name}' has no return annotation "
                                         "but returns a value",
                             f"annotate it: def {self.node.name}(...) -> i32:")
        return ir.Return(self.convert(value, expected, node.value), self.loc(node))

    # -- expressions ---------------------------------------------------------------------

    def typed(self, value, node: ast.AST) -> ir.Expr:
        if isinstance(value, Weak):
            try:
                t = default_type(value)
            except TypeRuleError as exc:
                raise self.rule(node, exc) from None
            return ir.Const(weak_to(value, t), t)
        return value

    def convert(self, value, target, node: ast.AST, local: str | None = None) -> ir.Expr:
        """`value` as `target`, for a store: same_kind conversions only."""
        what = f"local '{local}'" if local else "this place"
        if isinstance(value, Weak):
            if not isinstance(target, ScalarType):
                raise self.error(node, f"a number cannot be stored in {what} of type {target}",
                                 f"write rc.{target}({value.value!r}) for it in every lane"
                                 if isinstance(target, VectorType) else None)
            if local and value.is_float and target.is_int:
                raise self.error(node, f"assigning a float to int {what}",
                                 f"cast explicitly, e.g. {target}(x), or start it as a float")
            try:
                return ir.Const(weak_to(value, target), target)
            except TypeRuleError as exc:
                raise self.rule(node, exc) from None
        source = value.type
        if source == target:
            return value
        if isinstance(source, ScalarType) and isinstance(target, ScalarType):
            if local and source.is_float != target.is_float:
                kind = "float" if source.is_float else "int"
                raise self.error(node, f"assigning a {kind} to {target} {what}",
                                 f"cast explicitly: {target}(...)")
            if can_store(source, target):
                return ir.Cast(value, target)
            raise self.error(node, f"cannot store a {source} in {what} of type {target} "
                                   "implicitly", f"cast explicitly: {target}(...)")
        raise self.error(node, f"cannot store a {source} in {what} of type {target}")

    def operand(self, value, t: ScalarType, node: ast.AST) -> ir.Expr:
        if isinstance(value, Weak):
            try:
                return ir.Const(weak_to(value, t), t)
            except TypeRuleError as exc:
                raise self.rule(node, exc) from None
        return value if value.type == t else ir.Cast(value, t)

    def condition(self, node: ast.expr) -> ir.Expr:
        value = self.truth_of(node)
        self.check_alone(value, node, allow_root=True)
        return value

    def truth_of(self, node: ast.expr) -> ir.Expr:
        """`node` where Python asks for its truth (if/while tests, `not`, the test of a
        conditional expression): numbers test against zero, also inside and/or/not."""
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            values = [self.truth_of(v) for v in node.values]
            result = values[0]
            for value in values[1:]:
                result = ir.Logical(op, result, value, BOOL)
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operand = self.truth_of(node.operand)
            if isinstance(operand, ir.Const):
                return ir.Const(not operand.value, BOOL)
            return ir.Unary("not", operand, BOOL)
        return self.truth(self.expr(node), node)

    def truth(self, value, node: ast.AST) -> ir.Expr:
        if isinstance(value, Weak):
            return ir.Const(bool(value.value), BOOL)
        t = value.type
        if t == BOOL:
            return value
        if isinstance(t, ScalarType):
            return ir.Compare("ne", value, ir.Const(0.0 if t.is_float else 0, t), BOOL)
        raise self.error(node, f"a {t} has no truth value", "compare it explicitly")

    @expr.on(ast.Constant)
    def ex_constant(self, node: ast.Constant):
        v = node.value
        if isinstance(v, bool):
            return ir.Const(v, BOOL)
        if isinstance(v, (int, float)):
            return Weak(v)
        if isinstance(v, str):
            raise self.error(node, "strings are only allowed as rc.fail reasons")
        raise self.error(node, f"constant {v!r} is not supported")

    @expr.on(ast.Name)
    def ex_name(self, node: ast.Name):
        name = node.id
        if name in self.locals:
            return ir.Local(name, self.locals[name])
        obj = names.resolve(node, self.ctx.globals)
        if isinstance(obj, bool):
            return ir.Const(obj, BOOL)
        if isinstance(obj, (int, float)):
            return Weak(obj)
        if self.probing and assigned_later(self, name):
            raise UntypedLocal(name)
        if isinstance(obj, names.Unresolved):
            candidates = (list(self.locals) + [f"self.{k}" for k in self.ctx.state]
                          + [k for k in self.ctx.globals if not k.startswith("_")])
            bare = {c.removeprefix("self."): c for c in reversed(candidates)}
            close = difflib.get_close_matches(name, list(bare), n=1)
            raise self.error(node, f"name '{name}' is not defined",
                             f"did you mean '{bare[close[0]]}'?" if close else None)
        raise self.error(node, f"'{name}' cannot be used as a value here",
                         "module-level names must be int, float or bool constants")

    @expr.on(ast.Attribute)
    def ex_attribute(self, node: ast.Attribute):
        base_node = node.value
        if isinstance(base_node, ast.Name) and base_node.id in self.fault_names \
                and base_node.id not in self.locals:
            where = "" if base_node.id in self.caught else ", inside its except block"
            raise self.error(node, f"a caught fault is only tested{where}: "
                                   f"{base_node.id}.reason == \"literal\"",
                             f'if {base_node.id}.reason == "timeout": ...')
        if isinstance(base_node, ast.Name) and base_node.id == "self" and "self" not in self.locals:
            if self.ctx.kernel is None:
                raise self.error(node, "device functions have no state")
            if node.attr not in self.ctx.state:
                close = difflib.get_close_matches(node.attr, list(self.ctx.state), n=1)
                raise self.error(node, f"kernel '{self.ctx.kernel.name}' has no state "
                                       f"'{node.attr}'",
                                 f"did you mean 'self.{close[0]}'?" if close else
                                 f"declare it in the class: {node.attr}: i32")
            return ir.State(node.attr, self.ctx.state[node.attr])
        obj = names.resolve(node, self.ctx.globals)
        if isinstance(obj, bool):
            return ir.Const(obj, BOOL)
        if isinstance(obj, (int, float)) and not isinstance(obj, names.Unresolved):
            return Weak(obj)
        base = self.expr(base_node)
        t = getattr(base, "type", None)
        if isinstance(t, ContainerType):
            if node.attr == "evictions" and t.kind == "lru":
                return ir.ContainerCall(base, "evictions", (), U64)
            raise self.error(node, f"{CONTAINER_KINDS[t.kind]} has no attribute "
                                   f"'{node.attr}'", "call its methods: "
                             + ", ".join(m for m in ir.CONTAINER_METHODS[t.kind]
                                         if m not in ("len", "contains")))
        if isinstance(t, MessageType):
            fields = self.ctx.builder.message_fields(t.name)
            if node.attr not in fields:
                close = difflib.get_close_matches(node.attr, list(fields), n=1)
                raise self.error(node, f"message {t.name} has no field '{node.attr}'",
                                 f"did you mean '{close[0]}'?" if close else
                                 "fields: " + ", ".join(fields))
            return ir.Member(base, node.attr, fields[node.attr])
        if isinstance(t, VectorType):
            if node.attr not in t.components:
                methods = " and v.store(a, i)" if node.attr != "store" else ""
                raise self.error(node, f"a {t} has no component '{node.attr}'",
                                 f"its components are {' '.join('.' + c for c in t.components)}"
                                 f"{methods}")
            return ir.Member(base, node.attr, t.elem)
        if t == ADDRESS:
            raise self.error(node, "an rc.Address is opaque: its fields cannot be read",
                             "store it, put it in a message, or answer it with rc.reply")
        raise self.error(node, f"'{ast.unparse(node)}' has no attribute '{node.attr}' "
                               "usable in a kernel")

    @expr.on(ast.Subscript)
    def ex_subscript(self, node: ast.Subscript):
        base = self.expr(node.value)
        t = getattr(base, "type", None)
        if isinstance(t, ContainerType) and t.key is not None:     # a map: m[k]
            key = self.convert(self.expr(node.slice), t.key, node.slice)
            if t.kind == "lru":
                self.check_state_write(base, node)       # refreshes the key's recency
            return ir.ContainerItem(base, key, t.item)
        if isinstance(t, ContainerType):
            index = self.expr(node.slice)
            if isinstance(index, Weak):
                if index.is_float or index.value < 0:
                    raise self.error(node.slice, "a container index is a non-negative integer")
                index = ir.Const(index.value, I32)
            elif not (isinstance(index.type, ScalarType) and index.type.is_int):
                raise self.error(node.slice, f"container indices are integers, not {index.type}")
            return ir.ContainerItem(base, index, t.item)
        if not isinstance(t, ArrayType):
            raise self.error(node.value, f"'{ast.unparse(node.value)}' is not an array")
        if isinstance(node.slice, ast.Slice):
            raise self.unsupported(node.slice)
        index = self.expr(node.slice)
        if isinstance(index, Weak):
            if index.is_float:
                raise self.error(node.slice, "array indices must be integers")
            if not 0 <= index.value < t.length:
                raise self.error(node.slice, f"index {index.value} is out of range for "
                                             f"{t} (0..{t.length - 1})")
            index = ir.Const(index.value, I32)
        elif not (isinstance(index.type, ScalarType) and index.type.is_int):
            raise self.error(node.slice, f"array indices must be integers, not {index.type}")
        return ir.Index(base, index, t.elem)

    @expr.on(ast.BinOp)
    def ex_binop(self, node: ast.BinOp):
        return lower_binop(self, node)

    @expr.on(ast.UnaryOp)
    def ex_unaryop(self, node: ast.UnaryOp):
        return lower_unaryop(self, node)

    @expr.on(ast.BoolOp)
    def ex_boolop(self, node: ast.BoolOp):
        return lower_boolop(self, node)

    @expr.on(ast.Compare)
    def ex_compare(self, node: ast.Compare):
        return lower_compare(self, node)

    @expr.on(ast.IfExp)
    def ex_ifexp(self, node: ast.IfExp):
        return lower_ifexp(self, node)

    @expr.on(ast.Call)
    def ex_call(self, node: ast.Call):
        return lower_call(self, node)

    # -- effects -------------------------------------------------------------------------

    def check_alone(self, value, node: ast.AST, allow_root: bool) -> None:
        """A call that changes state must be the whole expression: Python evaluates left
        to right, C does not promise an order, so nothing may be evaluated beside it."""
        if isinstance(value, Weak):
            return
        subexpressions = walk(value)
        if allow_root:
            next(subexpressions)
        for sub in subexpressions:
            if _is_effectful(sub, self.ctx):
                name = (f"self.{sub.function}" if isinstance(sub, ir.HelperCall)
                        else f"self.{sub.container.name}.{sub.method}"
                        if isinstance(sub, ir.ContainerCall) else f"rc.{sub.name}")
                raise self.error(node, f"{name}() changes state or "
                                       "sends, so it must be the whole expression",
                                 "give it its own statement: tmp = " + name + "(...)")


def _always_returns(body: tuple[ir.Stmt, ...]) -> bool:
    """Whether every path through `body` ends in a return (or a fault)."""
    for stmt in body:
        if isinstance(stmt, (ir.Return, ir.Fail, ir.Raise)):
            return True
        if isinstance(stmt, ir.Try) and _always_returns(stmt.body + stmt.orelse) and (
                stmt.handler is None or _always_returns(stmt.handler)):
            return True
        if isinstance(stmt, ir.If) and _always_returns(stmt.then) \
                and _always_returns(stmt.orelse):
            return True
    return False


def _is_effectful(e: ir.Expr, ctx: Context) -> bool:
    if isinstance(e, ir.ContainerCall):     # an LRU get only reorders recency: C keeps
        return ir.CONTAINER_METHODS[e.container.type.kind][e.method][1] and e.method != "get"
    if isinstance(e, ir.Intrinsic):
        return e.name.startswith("atomic_")
    if isinstance(e, ir.HelperCall):
        return ctx.builder.helper_effects(ctx.kernel, e.function)
    return False        # device functions cannot change state or send
