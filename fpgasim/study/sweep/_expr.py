"""Safe evaluation of sweep constraint expressions such as ``kernel.parallelism.tm * 2 <= 256``.

Owns: :func:`parse_constraint` (checks the syntax and the names once) and
:func:`eval_constraint`. Only numbers, strings, dotted key names, ``+ - * / // % **``,
comparisons, ``and``/``or``/``not`` and parentheses are allowed; no calls, attributes of
objects, subscripts or lambdas (the expression is parsed with :mod:`ast`, never ``eval``-ed).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

from fpgasim.errors import BadArgument

__all__ = ["parse_constraint", "eval_constraint", "expression_names"]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def expression_names(tree: ast.Expression) -> list[str]:
    """Dotted names the expression reads, in order of first use."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        name = _dotted(node)
        if name is not None:
            if name not in names:
                names.append(name)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree.body)
    return names


def _check(node: ast.AST, text: str) -> None:
    if _dotted(node) is not None or isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return
    allowed = (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.operator, ast.unaryop, ast.boolop,
               ast.cmpop)
    if not isinstance(node, allowed) or isinstance(node, (ast.MatMult, ast.BitAnd, ast.BitOr, ast.BitXor,
                                                           ast.LShift, ast.RShift, ast.Invert)):
        raise BadArgument(f"constraint {text!r}: {type(node).__name__} is not allowed; expected numbers, "
                          "dotted keys, + - * / // % **, comparisons, and/or/not")
    for child in ast.iter_child_nodes(node):
        _check(child, text)


def parse_constraint(text: str) -> ast.Expression:
    """Parse and check one constraint expression.

    Raises:
        BadArgument: a syntax error or a construct that is not allowed (names the text).
    """
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise BadArgument(f"constraint {text!r}: invalid expression ({exc.msg})") from None
    _check(tree.body, text)
    return tree


def eval_constraint(tree: ast.Expression, lookup: Callable[[str], Any]) -> bool:
    """Evaluate a parsed constraint; ``lookup(dotted_name)`` gives each key's value.

    Raises:
        BadArgument: a type error (e.g. a string compared with a number) or division by zero.
    """

    def ev(node: ast.AST) -> Any:
        name = _dotted(node)
        if name is not None:
            return lookup(name)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return (not value) if isinstance(node.op, ast.Not) else (-value if isinstance(node.op, ast.USub) else +value)
        if isinstance(node, ast.BoolOp):
            values = (ev(v) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = ev(right_node)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise BadArgument(f"constraint: {type(node).__name__} is not allowed")  # unreachable after _check

    try:
        return bool(ev(tree.body))
    except (TypeError, ZeroDivisionError) as exc:
        raise BadArgument(f"constraint {ast.unparse(tree)!r}: {exc}") from None
