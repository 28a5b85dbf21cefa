"""Each node's price over a window, to set beside the cloud bill (``finops billing``).

Apart from the other builders because it reads OpenCost's whole-instance price and answers per
node, not per pod or GPU.
"""

from __future__ import annotations

from finops_cli.queries.context import QueryContext
from finops_cli.queries.gpu import GpuQueries
from finops_cli.queries.names import GPU_CAPACITY, NODE_TOTAL_PRICE, POOL_LABELS


class NodeQueries:
    """Each node's price integrated over a window, to set beside the cloud bill.

    A node exists at an instant when OpenCost reports its ``node_gpu_count`` (read exactly, as
    capacity is); its GPU cost is that count times ``node_gpu_hourly_cost`` and its instance cost
    ``node_total_hourly_cost``, both summed over the window's samples on the server. Values are
    per sample: multiply by ``S/3600`` for hours and dollars.
    """

    def __init__(self, ctx: QueryContext, window_s: float) -> None:
        self.ctx = ctx
        # 1 ms short, like over_buckets: the sample at the window's start belongs to the bucket
        # before it, whether the engine's range starts are open (Prometheus 3) or closed (2.x).
        self.gpus = GpuQueries(ctx, window_s - 0.001)

    def _exists(self) -> str:
        return f"max by ({self.ctx.node_join}) ({self.ctx.exact(GPU_CAPACITY)})"

    def samples(self) -> str:
        return self.gpus.over_window("count_over_time", self._exists())

    def gpu_count(self) -> str:
        return self.gpus.over_window("max_over_time", self._exists())

    def gpu_cost(self) -> str:
        per_instant = (
            f"{self._exists()} * on ({self.ctx.node_join}) group_left () {self.ctx.node_price()}"
        )
        return self.gpus.over_window("sum_over_time", per_instant)

    def instance_cost(self) -> str:
        per_instant = (
            f"({self._exists()} > bool -1) * on ({self.ctx.node_join}) group_left () "
            f"{self.ctx.node_price(NODE_TOTAL_PRICE)}"
        )
        return self.gpus.over_window("sum_over_time", per_instant)

    def identity(self) -> str:
        """OpenCost's instance type and provider id of each node seen in the window."""
        by = self.ctx.grouping(["node", "instance_type", "provider_id"])
        read = self.ctx.read(NODE_TOTAL_PRICE, self.gpus.window_s)
        return f"group by ({by}) ({read})"


def node_pools(ctx: QueryContext, window_s: float) -> str:
    """Each node's pool or instance group labels (``POOL_LABELS``) seen in the window: one
    series per node, for ``rightsize``'s capacity advice."""
    by = ctx.grouping(["node", *POOL_LABELS])
    return f"group by ({by}) ({ctx.read('kube_node_labels', window_s)})"
