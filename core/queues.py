"""Which Celery queue each task goes to, and how long it may run.

One queue per workload, so a slow kind of work (a lane's planning, a
merchant's statement, an endpoint that answers in 5 s) never holds up
another (courier scans, the outbox). docker-compose.yml runs one worker per
queue; a worker started without `-Q` consumes all of them (the embedded
`make worker`, the tests).

The soft limit raises SoftTimeLimitExceeded inside the task, so it can roll
back; the hard limit kills the worker process. Every task here is safe to
run again (the sweeps find what a killed one left), so a kill loses nothing.
"""

from __future__ import annotations

from typing import NamedTuple

REALTIME = "realtime"
WEBHOOKS = "webhooks"
EMAIL = "email"
PAYMENTS = "payments"
CARRIERS = "carriers"
BATCH = "batch"
QUEUES = (REALTIME, WEBHOOKS, EMAIL, PAYMENTS, CARRIERS, BATCH)


class Route(NamedTuple):
    queue: str
    soft_seconds: int
    hard_seconds: int


TASKS: dict[str, Route] = {
    # Courier scans and the outbox: small, frequent, latency-sensitive.
    "shipping.pending_events_apply": Route(REALTIME, 120, 150),
    "notifications.outbox_dispatch": Route(REALTIME, 60, 90),
    "notifications.outbox_dispatch_pending": Route(REALTIME, 60, 90),
    "notifications.outbox_sweep": Route(REALTIME, 30, 45),
    # A batch is up to 100 deliveries, each up to WEBHOOK_TIMEOUT_SECONDS.
    "notifications.webhooks_deliver": Route(WEBHOOKS, 240, 300),
    "notifications.webhook_deliver": Route(WEBHOOKS, 30, 45),
    "notifications.events_email": Route(EMAIL, 120, 150),
    "notifications.event_email": Route(EMAIL, 30, 45),
    "notifications.emails_send": Route(EMAIL, 120, 150),
    "notifications.emails_sweep": Route(EMAIL, 30, 45),
    # Provider calls hold no lock while they wait for the acquirer.
    "commands.provider_calls_run": Route(PAYMENTS, 120, 150),
    "commands.sandbox_notification_deliver": Route(PAYMENTS, 30, 45),
    "commands.sandbox_notifications_sweep": Route(PAYMENTS, 30, 45),
    "commands.orders_expire_unpaid": Route(PAYMENTS, 120, 150),
    "payments.rates_refresh": Route(PAYMENTS, 60, 90),
    # Fiscal receipts go to the same provider as the payments they follow.
    "payments.receipts_send": Route(PAYMENTS, 120, 150),
    # Calls to CDEK and Russian Post: a slow carrier API waits here, apart
    # from the payments and the buyers' webhooks.
    "shipping.carrier_shipment_run": Route(CARRIERS, 60, 90),
    "shipping.carrier_shipments_run": Route(CARRIERS, 240, 300),
    "shipping.carrier_tracking_poll": Route(CARRIERS, 540, 600),
    # Whole-table work, minutes long: planning, statements, retention.
    "shipping.lanes_plan": Route(BATCH, 540, 600),
    "shipping.parcels_expire": Route(BATCH, 1500, 1800),
    "payments.payables_release": Route(BATCH, 1500, 1800),
    "payments.statements_weekly": Route(BATCH, 1500, 1800),
    "payments.cod_reconcile": Route(BATCH, 1500, 1800),
    "orders.recipients_anonymise": Route(BATCH, 1500, 1800),
    "core.idempotency_purge": Route(BATCH, 540, 600),
    "accounts.tokens_purge": Route(BATCH, 540, 600),
    "core.partitions_maintain": Route(BATCH, 1500, 1800),
    # Tens of thousands of points per carrier, paged.
    "shipping.pickup_points_sync": Route(BATCH, 1500, 1800),
}

# A task not listed above still runs: on the batch worker, with these limits
# (tests/test_celery_ops.py checks that every task is listed).
DEFAULT = Route(BATCH, 540, 600)

# The longest delay a task is ever queued with (webhook retries and Celery's
# autoretry backoff, whose default cap is 600 s). Waits longer than this are
# left to the sweeps, which read the due time from the row: Redis redelivers
# a message not acknowledged within the visibility timeout, so a message
# that waits for hours in the broker would be delivered twice.
MAX_COUNTDOWN_SECONDS = 600
# Above the longest countdown plus the longest hard limit (a task is
# acknowledged late, after it ran), with room to spare.
VISIBILITY_TIMEOUT_SECONDS = 3 * 3600


def routes() -> dict[str, dict[str, str]]:
    return {name: {"queue": route.queue} for name, route in TASKS.items()}


def time_limits() -> dict[str, dict[str, int]]:
    # No "*" entry: Celery applies it after the task's own, overriding it.
    return {
        name: {"soft_time_limit": route.soft_seconds, "time_limit": route.hard_seconds}
        for name, route in TASKS.items()
    }
