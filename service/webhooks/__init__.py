"""CMS notifications: an outbox of signed Standard Webhooks, delivered at least once.

An analysis that ends writes a delivery row in the same transaction (`outbox.py`); a trigger
NOTIFYs the workers, whose dispatcher claims due deliveries with a lease on the database clock
and sends each one on its own (`dispatcher.py`, `delivery.py`), signed with every configured
secret (`signing.py`). Each attempt is recorded one by one; the endpoint is disabled after days
of failures (`endpoint.py`). The CMS API lists, replays and re-enables (`flows.py`).
"""
