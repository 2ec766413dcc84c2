"""The shipping app's admin pages live in its packages; importing them here
registers them."""

import shipping.customs.admin
import shipping.fulfilment.admin
import shipping.lastmile.admin
import shipping.linehaul.admin
import shipping.tracking.admin  # noqa: F401
