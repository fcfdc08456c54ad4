"""The replication options that `simulate`, `compare` and `plan` share (typer annotations only)."""

from __future__ import annotations

from typing import Annotated

import typer

Replications = Annotated[int | None, typer.Option(
    help="Independent replications (default 1; 30 when the scenario has [uncertain] inputs). Replication i uses "
         "the i-th child of SeedSequence(seed), the same in every variant (common random numbers).")]
Workers = Annotated[int | None, typer.Option(help="Parallel processes (default: one per core).")]
Sampling = Annotated[str, typer.Option(help="How [uncertain] inputs are drawn across replications: lhs (Latin "
                                            "hypercube) or random.")]
Confidence = Annotated[float, typer.Option(help="Level of the Student-t intervals, e.g. 0.95.")]
Precision = Annotated[float | None, typer.Option(
    help="Add replications (up to --replications) until each interval's half-width is within this share of "
         "its mean, e.g. 0.02.")]
