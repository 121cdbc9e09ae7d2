"""``fpgasim boards``: the board library as a table (or JSON with ``--json``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

__all__ = ["register", "run", "board_summary", "format_table"]

JSON_SCHEMA_VERSION = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``boards`` sub-command."""
    parser = subparsers.add_parser(
        "boards", help="list the board library (resources, memory, link ports)",
        description="One row per board file in the boards directory ($FPGASIM_BOARDS_DIR overrides). "
                    "Memory columns give sustained GB/s (peak x efficiency).")
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON document")
    parser.set_defaults(func=run)


def board_summary(board: Any) -> dict[str, Any]:
    """The facts one row shows, as plain data (also the ``--json`` entry)."""
    fabric = board.fabric
    ports = Counter(port.kind.value for port in board.io_ports)
    return {
        "id": board.id,
        "name": board.name,
        "part": board.device.part,
        "dsp": fabric.available_dsp,
        "dsp_type": fabric.dsp.type.value,
        "bram18": fabric.available_bram18,
        "uram": fabric.available_uram,
        "luts": fabric.available_luts,
        "ffs": fabric.available_ffs,
        "memory": [
            {"id": m.id, "attach": m.attach.value, "count": m.count,
             "peak_gbytes_per_s": round(m.total_peak_bytes_per_s / 1e9, 3),
             "sustained_gbytes_per_s": round(m.total_sustained_bytes_per_s / 1e9, 3)}
            for m in board.memory
        ],
        "link_ports": dict(sorted(ports.items())),
        "unverified_values": len(board.unverified),
    }


def _memory_text(row: dict[str, Any]) -> str:
    parts = []
    for m in row["memory"]:
        count = f"{m['count']}x" if m["count"] > 1 else ""
        parts.append(f"{count}{m['id']} {m['sustained_gbytes_per_s']:.1f}")
    return ", ".join(parts) or "-"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render summaries as a fixed-width text table."""
    header = ["id", "part", "DSP", "BRAM18", "URAM", "LUT", "memory (sustained GB/s)", "link ports"]
    body = [[r["id"], r["part"], str(r["dsp"]), str(r["bram18"]), str(r["uram"]), str(r["luts"]),
             _memory_text(r), ", ".join(f"{n}x{k}" for k, n in r["link_ports"].items()) or "-"] for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    numeric = {2, 3, 4, 5}

    def fmt(line: list[str]) -> str:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, body)]) + "\n"


def run(args: argparse.Namespace) -> int:
    """Load every board (all problems of all files are reported together) and print them."""
    from fpgasim.errors import ConfigError
    from fpgasim.hw import board_ids, boards_dir, load_board

    rows, problems = [], []
    for board_id in board_ids():
        try:
            rows.append(board_summary(load_board(board_id)))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    if args.json:
        document = {"schema_version": JSON_SCHEMA_VERSION, "boards_dir": str(boards_dir()), "boards": rows}
        sys.stdout.write(json.dumps(document, sort_keys=True, indent=2) + "\n")
    else:
        sys.stdout.write(format_table(rows))
    return 0
