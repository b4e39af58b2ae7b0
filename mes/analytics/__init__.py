"""The plant analytics dashboard (`/analytics/`, `/api/v1/analytics/`).

It knows no plant model: it draws whatever the plant apps register with
`mes.registry.register_metric` in their `metrics.py`. The contract is in README.md.
"""
