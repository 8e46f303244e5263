"""ZeTT: a trained hypernetwork (`tokbench hypernet train`) predicts each unique new token's rows from the old
tokenizer's split of its bytes. Shared and special tokens are handled by the transplant core as for every method."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tokbench.errors import UsageError, param
from tokbench.transplant.core import Context, Plan
from tokbench.transplant.methods import register


@dataclass
class DensePlan(Plan):
    """A Plan whose rows for given old matrices are predicted outright (not combinations of old rows). Any other
    matrix (an output bias) falls back to the subword-mean combination the Plan also carries."""

    dense: list = field(default_factory=list)  # [(old matrix, predicted rows)]

    def apply(self, matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for old, rows in self.dense:
            if matrix is old or (np.shape(matrix) == np.shape(old) and np.array_equal(matrix, old)):
                return rows
        if np.ndim(matrix) == 2 and self.dense and np.shape(matrix) == np.shape(self.dense[0][0]):
            raise UsageError("zett: the model has untied output embeddings, but the hypernetwork was trained for a "
                             "tied model (or the transplant passed no output matrix): its output rows cannot be predicted")
        return super().apply(matrix, rng)


@register("zett", "a trained hypernetwork predicts each new token's rows from its old pieces (needs --hypernet)")
def zett(ctx: Context) -> Plan:
    from tokbench.transplant import hypernet as hn

    folder = ctx.params.get("hypernet")
    if not folder:
        raise UsageError(f"method zett needs a trained hypernetwork: {param('hypernet')} FOLDER "
                         "(see `tokbench hypernet train`)")
    old_out = getattr(ctx, "old_out", None)  # the untied output matrix, where the transplant core passes it
    net, _ = hn.load(folder)
    if not net.cfg.tied and old_out is None:
        raise UsageError(f"{folder}: hypernetwork is for an untied model, but the transplant gave no output matrix")
    if net.cfg.tied and old_out is not None:
        raise UsageError(f"zett: the model has untied output embeddings, but {folder} was trained for a tied model: "
                         "its output rows cannot be predicted")
    hn.check_matrices(net.cfg, folder, ctx.old_in, old_out if not net.cfg.tied else None)
    rows_in, rows_out = hn.predict_rows(net, ctx.old_tok, ctx.old_in, old_out, list(ctx.target_bytes))
    rows, source = [], []
    for ids in ctx.pieces:  # the subword-mean weights: used for an output bias, and to name what each row came from
        n = len(ids)
        rows.append((ids, np.full(n, 1.0 / n, dtype=np.float32) if n else np.zeros(0, np.float32)))
        source.append("zett" if n >= 2 else ("zett:single-piece" if n == 1 else "fallback:mean"))
    plan = Plan.from_lists(rows, source, sampler="mean")
    dense = [(ctx.old_in, rows_in)] + ([] if old_out is None else [(old_out, rows_out)])
    return DensePlan(plan.indptr, plan.indices, plan.weights, plan.source, plan.sampler, dense=dense)
