"""An untouched stub, read without running it: which of its functions are sure to raise the
stub's own "not started" error, and what its answers() returns, so that a submission's checks
can say "not started" without starting a worker (student.Student.stub_outcomes). A worker spends
seconds importing what the file imports (Keras, for a model exercise) only to raise.

The rule, for the same report as a worker's: the file is the course's stub (made by the caller
from the reference solution), up to comments, layout, the values of its top-level settings
(`NAME = literal`) and the texts answers() returns. Anything that could run, or change what a
stub function does, leaves the file to its worker.
"""

from __future__ import annotations

import ast
import inspect
import json
import tempfile
from pathlib import Path
from typing import Any

from mnist_course.course import not_started_message

from . import _child, reply


def _literal(node: ast.AST) -> bool:
    """Whether an expression is a plain value (ast.literal_eval's): evaluating it runs nothing."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        return False
    return True


def _body(function: ast.FunctionDef) -> list[ast.stmt]:
    """A function's statements below its docstring."""
    first = function.body[0]
    return function.body[1:] if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str) else function.body


def _returned_literal(node: ast.stmt) -> ast.expr | None:
    """The plain value a top-level function's body only returns (below its docstring), or None."""
    if not isinstance(node, ast.FunctionDef) or len(_body(node)) != 1:
        return None
    (statement,) = _body(node)
    return statement.value if isinstance(statement, ast.Return) and statement.value is not None and _literal(statement.value) else None


def _signature(arguments: ast.arguments) -> inspect.Signature:
    """A def's parameters, for binding a call's arguments to them (a default's value does not matter here)."""
    kinds = inspect.Parameter
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults = [False] * (len(positional) - len(arguments.defaults)) + [True] * len(arguments.defaults)
    parameters = [kinds(a.arg, kinds.POSITIONAL_ONLY if i < len(arguments.posonlyargs) else kinds.POSITIONAL_OR_KEYWORD,
                        **({"default": None} if has else {})) for i, (a, has) in enumerate(zip(positional, defaults))]
    if arguments.vararg:
        parameters.append(kinds(arguments.vararg.arg, kinds.VAR_POSITIONAL))
    parameters += [kinds(a.arg, kinds.KEYWORD_ONLY, **({"default": None} if d is not None else {}))
                   for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults)]
    if arguments.kwarg:
        parameters.append(kinds(arguments.kwarg.arg, kinds.VAR_KEYWORD))
    return inspect.Signature(parameters)


def stub_outcomes(source: bytes, stub: bytes) -> dict[str, tuple[inspect.Signature, Any]]:
    """What calling a function of `source` is sure to give, read without running it, where
    `source` is the course's stub as it ships, up to comments, layout, the values of its settings
    (a `NAME = literal` at the top level, such as a variant's CONSTRAINT) and the values its
    functions return as plain literals (a filled-in answers()). {function: (its signature, what
    it gives)}: NotImplementedError for the stub's own "not started" error (a body that is only
    `raise NotImplementedError(...)`), or the value of a body that is only `return {"name": "text", …}`,
    as a worker's reply would carry it.
    Empty where `source` is anything else. The caller makes sure that no other file of the
    submission can run beside it, and that the call's arguments bind to the signature."""
    def shape(tree: ast.Module) -> list[str]:
        statements = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets) and _literal(node.value):
                node = ast.Assign(targets=node.targets, value=ast.Constant(None))
            elif _returned_literal(node) is not None:
                node = ast.FunctionDef(node.name, node.args, [*node.body[:len(node.body) - 1], ast.Return(ast.Constant(None))],
                                       node.decorator_list, node.returns, node.type_comment)
            statements.append(ast.dump(node))
        return statements

    try:
        mine, theirs = ast.parse(source), ast.parse(stub)
        if shape(mine) != shape(theirs):
            return {}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    # Names the file binds: a function bound twice, or NotImplementedError bound at all, is left to the worker.
    bound = [t.id for node in ast.walk(mine) for t in getattr(node, "targets", ()) if isinstance(t, ast.Name)]
    bound += [node.name for node in ast.walk(mine) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    bound += [(alias.asname or alias.name).split(".")[0] for node in ast.walk(mine) if isinstance(node, (ast.Import, ast.ImportFrom))
              for alias in node.names]
    if "NotImplementedError" in bound:
        return {}
    known = {}
    for node in mine.body:
        if not isinstance(node, ast.FunctionDef) or node.decorator_list or bound.count(node.name) != 1 or len(_body(node)) != 1:
            continue
        bare = ast.Raise(exc=ast.Call(func=ast.Name("NotImplementedError", ast.Load()), args=[ast.Constant(not_started_message(node.name))], keywords=[]))
        if ast.dump(_body(node)[0]) == ast.dump(bare):
            known[node.name] = (_signature(node.args), NotImplementedError(not_started_message(node.name)))
        elif (returned := _returned_literal(node)) is not None:
            value = ast.literal_eval(returned)
            if type(value) is dict and len(value) <= _child.MAX_ITEMS and all(type(k) is str and type(v) is str for k, v in value.items()):
                known[node.name] = (_signature(node.args), _as_replied(value))  # answers() and its texts
    return known


def _as_replied(value: Any) -> Any:
    """`value` as a worker's reply carries it: encoded by its runner (_child._encode), a JSON line
    each way, decoded by the grader (reply.decode), which cuts and cleans its texts."""
    folder = Path(tempfile.mkdtemp(prefix="mnist-stub-reply-"))
    budget = reply.Budget(folder, keep=folder)
    try:
        return reply.decode(json.loads(json.dumps(_child._encode(value, str(folder), []))), budget)
    finally:
        budget.close()  # the folder with it
