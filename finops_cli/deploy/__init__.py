"""``finops deploy``: the monitoring stack ``finops`` reads from, rendered from ``manifests/``.

The Prometheus rules, the Prometheus configuration and the Grafana dashboards inside
``manifests/`` are generated from the query library (``finops deploy generate``), so what the
stack records, alerts on and shows is what the CLI computes.
"""
