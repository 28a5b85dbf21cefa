"""The built-in sample cluster: a deterministic simulation speaking the real metric contract."""

from finops_cli.sample.simulate import SampleCluster, SampleSeries, grid_between

__all__ = ["SampleCluster", "SampleSeries", "grid_between"]
