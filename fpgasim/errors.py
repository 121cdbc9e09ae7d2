"""The fpgasim error hierarchy.

Every error a user can cause derives from :class:`FpgasimError`; the CLI maps
:class:`ConfigError`, :class:`ShapeError` and :class:`BadArgument` to exit code 2 and
:class:`DoesNotFit` to exit code 3. Anything else is a bug (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "FpgasimError",
    "Problem",
    "ConfigError",
    "ShapeError",
    "BadArgument",
    "FitReport",
    "DoesNotFit",
]


class FpgasimError(Exception):
    """Base of every error fpgasim raises on purpose."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong in one YAML file, with its place.

    Attributes:
        file: path of the YAML file as given by the user.
        line: 1-based line number, or None when the place is unknown.
        column: 1-based column number, or None when the place is unknown.
        key_path: dotted key path inside the document, e.g. ``board.fabric.dsp.count``.
        message: what is wrong, including the value found and what was expected.
    """

    file: str
    line: int | None
    column: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class ConfigError(FpgasimError):
    """One or more problems in user input files; carries all of them at once."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ShapeError(FpgasimError, ValueError):
    """Tensor or layer shapes that do not agree (names the argument, value and expectation)."""


class BadArgument(FpgasimError, ValueError):
    """A Python-API or CLI argument outside its allowed values (names it and what was expected)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FitReport:
    """Why a design does not fit: the resource, the demand, the bound and the gap.

    Attributes:
        resource: the resource that overflows, e.g. ``"DSP"`` or ``"BRAM18"``.
        demand: how many units the design needs.
        bound: how many units the board makes available.
        unit: unit of demand/bound, e.g. ``"slices"`` or ``"blocks"``.
        culprit: the buffer or engine responsible for the largest share of the demand.
        levers: suggestions that would make it fit.
    """

    resource: str
    demand: float
    bound: float
    unit: str
    culprit: str
    levers: tuple[str, ...] = field(default=())

    @property
    def gap(self) -> float:
        """How much the demand exceeds the bound (positive when it does not fit)."""
        return self.demand - self.bound

    def __str__(self) -> str:
        text = (
            f"does not fit: {self.resource} needs {self.demand:g} {self.unit}, "
            f"{self.bound:g} available (over by {self.gap:g}); largest user: {self.culprit}"
        )
        if self.levers:
            text += "; try: " + ", ".join(self.levers)
        return text


class DoesNotFit(FpgasimError):
    """A design or network that does not fit the board; carries the :class:`FitReport`."""

    def __init__(self, report: FitReport):
        self.report = report
        super().__init__(str(report))
