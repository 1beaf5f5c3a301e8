from django.dispatch import Signal

# Sent inside the transaction of a write of visits that bypasses StoreVisit.save() (the bulk upsert,
# suspect confirmations), with `store_ids`: the stores whose visits it writes. Single saves send
# Django's post_save instead. The apps that react (alerts) connect to it, so stores imports none of them.
visits_saved = Signal()
