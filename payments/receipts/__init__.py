"""54-FZ fiscal receipts: one row per receipt (payment, settlement, refund),
with the exact payload sent to the provider, retried until it confirms."""
