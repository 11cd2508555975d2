"""Barq's Grafana dashboards, as code (grafana-foundation-sdk).

Each module builds one dashboard; :func:`dashboards.build.build_all`
returns them all and ``barq dashboards build`` writes them as JSON into
``dashboards/json/``, where Grafana's provisioning
(``dashboards/provisioning/``) reads them. The JSON is committed; a test
rebuilds it and fails on any difference, and another evaluates every
panel's query against a real Prometheus.
"""
