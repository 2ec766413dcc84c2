# Checkout has no models of its own; orders are managed in the orders admin.
