"""A card provider for development and tests, with documented test tokens.

| token                    | result                          |
|--------------------------|---------------------------------|
| tok_approve              | approved and captured           |
| tok_mir_approve          | approved and captured (Mir)     |
| tok_decline              | declined: card_declined         |
| tok_insufficient_funds   | declined: insufficient_funds    |
| tok_expired_card         | declined: expired_card          |

Any other token is rejected as invalid before a payment is attempted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

APPROVE = {"tok_approve", "tok_mir_approve"}
DECLINE = {
    "tok_decline": "card_declined",
    "tok_insufficient_funds": "insufficient_funds",
    "tok_expired_card": "expired_card",
}
TOKENS = APPROVE | set(DECLINE)


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    reference: str
    decline_code: str = ""


class SandboxProvider:
    name = "sandbox"

    def charge(
        self, *, token: str, amount: Decimal, currency: str, idempotence_key: str
    ) -> ChargeResult:
        # The same idempotence key always gives the same reference, as real providers do.
        reference = "sbx_" + hashlib.sha256(idempotence_key.encode()).hexdigest()[:24]
        if token in APPROVE:
            return ChargeResult(approved=True, reference=reference)
        return ChargeResult(approved=False, reference=reference, decline_code=DECLINE[token])

    def refund(
        self, *, reference: str, amount: Decimal, currency: str, idempotence_key: str
    ) -> str:
        """Refund part or all of a charge; returns the refund's reference. The
        same idempotence key always gives the same refund, as real providers do."""
        digest = hashlib.sha256(f"{reference}:{idempotence_key}".encode()).hexdigest()
        return "sbx_rf_" + digest[:24]
