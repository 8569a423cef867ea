"""Prometheus metrics, one registry per process."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("crossdesk_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("crossdesk_http_request_seconds", "HTTP request latency", ["method", "route"])
INGESTED = Counter("crossdesk_ingested_messages_total", "Inbound messages ingested", ["channel", "result"])
WEBHOOKS_REJECTED = Counter(
    "crossdesk_webhooks_rejected_total", "Webhooks refused (bad signature, malformed, unknown)", ["status"]
)
INGEST_LATENCY = Histogram(
    "crossdesk_ingest_seconds",
    "Ingest transaction latency",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
SOCKETS = Gauge("crossdesk_connected_sockets", "Agent WebSockets connected to this process")
EVENT_LAG = Histogram(
    "crossdesk_event_lag_seconds",
    "From an event's commit to its fan-out to this process's sockets",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
EVENTS_DELIVERED = Counter("crossdesk_events_delivered_total", "Event frames queued to sockets")
SLOW_CLIENTS = Counter("crossdesk_slow_clients_total", "Sockets closed because they fell too far behind")
OUTBOX_DEPTH = Gauge("crossdesk_outbox_depth", "Outbound messages waiting to be sent")
