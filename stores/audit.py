"""Reading the audit trail of store visits (SPEC §9): the corrections of sales figures, for a page."""
from django.utils.translation import gettext_lazy as _

from accounts.audit import Change, Names, changed_fields, display, with_previous
from accounts.models import KeyAccount
from org import access

from .models import StoreVisit


def visit_corrections(account: KeyAccount, user, *, limit: int = 10) -> list[Change]:
    """The latest corrections of sales figures at the account's stores the user may see (SPEC §9)."""
    history = StoreVisit.audit.filter(store__account=account, history_type="~")
    history = access.visible(history, user, access.Scope.STORES, "store__")
    history = history.select_related("store")
    names = Names()
    changes = []
    for record in with_previous(history, limit):
        diff = changed_fields(record, StoreVisit)
        changes.append(Change(
            when=record.history_date, who=record.history_user, action="~", what=str(_("visit")),
            label=f"{record.store.name if record.store_id else '#'} {record.date.isoformat()}",
            fields=[(str(f.verbose_name), display(f, old, names), display(f, new, names)) for f, old, new in diff],
            reason=record.history_change_reason or "",
        ))
    return changes
