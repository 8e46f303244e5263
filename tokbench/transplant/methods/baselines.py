"""Baselines that ignore what the new token spells: the mean row, per-dimension random, and Hewitt's
mean-and-covariance sampling. Each draws from the statistics of every matrix it fills on its own."""

from tokbench.transplant.core import Context, Plan
from tokbench.transplant.methods import register


@register("mean", "every new token gets the mean of the old rows")
def mean(ctx: Context) -> Plan:
    return Plan.sampled(len(ctx.targets), "mean", "mean")


@register("random", "normal noise with the old rows' per-dimension mean and std")
def random(ctx: Context) -> Plan:
    return Plan.sampled(len(ctx.targets), "random", "random")


@register("hewitt", "samples from the old rows' mean and full covariance (Hewitt 2021)")
def hewitt(ctx: Context) -> Plan:
    return Plan.sampled(len(ctx.targets), "hewitt", "hewitt")
