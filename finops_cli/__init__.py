"""finops: GPU cost visibility for AI/ML workloads on Kubernetes."""

__version__ = "0.1.0"
