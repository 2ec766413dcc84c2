# Checkout owns no tables: it composes the apps below it.
