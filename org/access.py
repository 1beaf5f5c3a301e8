"""The access policy of SPEC §1 and §7, written once.

Two questions, answered here and nowhere else:

- **Which rows may a user see?** `scope(user, Scope.X, prefix)` gives a `Q` on the row reached
  through `prefix` (None: every row). Every `visible_to()` QuerySet method is a one-line call to it,
  and every page, endpoint, filter and export starts from `visible_to()`.
- **What may a user do?** `can(user, Action.X)`, from the table `GRANTS`. Analysts and admins may do
  everything; each other role exactly what its row lists. Views raise 403 (pages) or DRF answers
  403 through `org.permissions.ActionPermission` when `can()` is false.
"""
from __future__ import annotations

from enum import Enum

from django.db.models import Q

NOBODY = Q(pk__in=[])


class Scope(Enum):
    STORES = "stores"  # stores and what hangs off one store: visits, scores, targets, plans
    REGIONS = "regions"
    ACCOUNTS = "accounts"  # a key account's code, name, kind and tier
    # The rest of an account: profile, people, events, competitors, plans and account-wide scores
    # (figures summed over all its stores, other regions' included). Its KA manager, analysts, admins.
    DOSSIERS = "dossiers"
    ALERTS = "alerts"
    EVERYTHING = "everything"  # analysts and admins only: runs, model fits, parameters


class Action(Enum):
    LOG_VISITS = "log_visits"  # log and correct visits, confirm suspect days
    SEE_REPS = "see_reps"  # the rep list
    HANDLE_ALERTS = "handle_alerts"  # the alert inbox: acknowledge, follow up, resolve
    EDIT_PLANNING = "edit_planning"  # targets and visit plans of stores in scope; compliance
    READ_DOSSIERS = "read_dossiers"  # read dossiers (Scope.DOSSIERS) and account-wide scores; else the summary
    EDIT_DOSSIERS = "edit_dossiers"  # edit own accounts' profiles, dossiers and account plans
    MANAGE_ACCOUNTS = "manage_accounts"  # create, delete and reassign key accounts
    EDIT_REFERENCE = "edit_reference"  # stores, regions, market shares, teams
    RUN_ANALYTICS = "run_analytics"  # recompute, parameters, the model's run history
    MANAGE_PEOPLE = "manage_people"  # the users API


# Roles by name, so this module stays below org.models (Role is defined there from these values).
SALES_MANAGER, SUPERVISOR, KA_MANAGER, ANALYST = "sales_manager", "supervisor", "ka_manager", "analyst"

GRANTS: dict[str, frozenset[Action]] = {
    SALES_MANAGER: frozenset({Action.LOG_VISITS}),
    SUPERVISOR: frozenset({Action.LOG_VISITS, Action.SEE_REPS, Action.HANDLE_ALERTS, Action.EDIT_PLANNING}),
    KA_MANAGER: frozenset({Action.READ_DOSSIERS, Action.EDIT_DOSSIERS}),
    ANALYST: frozenset(Action) - {Action.MANAGE_PEOPLE},
}


def sees_everything(user) -> bool:
    """Analysts and admins see every row."""
    return user.is_authenticated and (user.is_superuser or user.is_staff or user.role == ANALYST)


def role_of(user) -> str | None:
    """The role that decides access: None for anonymous users, "admin" for staff, else the user's role."""
    if not user.is_authenticated:
        return None
    if user.is_superuser or user.is_staff:
        return "admin"
    return user.role


def can(user, action: Action) -> bool:
    role = role_of(user)
    if role is None:
        return False
    if role == "admin":
        return True
    return action in GRANTS.get(role, frozenset())


def _store_q(user, role: str, prefix: str) -> Q:
    if role == SALES_MANAGER:
        return Q(**{f"{prefix}rep": user})
    if role == SUPERVISOR:
        return Q(**{f"{prefix}region__supervisors": user})
    if role == KA_MANAGER:
        return Q(**{f"{prefix}account__owner": user})
    return NOBODY


def scope(user, what: Scope, prefix: str = "") -> Q | None:
    """The rows of kind `what` that `user` may see, as a Q on the row reached through `prefix`; None: all."""
    if not user.is_authenticated:
        return NOBODY
    if sees_everything(user):
        return None
    role = user.role
    if what is Scope.STORES:
        return _store_q(user, role, prefix)
    if what is Scope.ALERTS:
        return _store_q(user, role, prefix + "store__") if role == SUPERVISOR else NOBODY
    if what is Scope.REGIONS:
        if role == SUPERVISOR:
            return Q(**{f"{prefix}supervisors": user})
        if role == SALES_MANAGER:
            return Q(**{f"{prefix}pk": user.region_id}) | Q(**{f"{prefix}stores__rep": user})
        if role == KA_MANAGER:
            return Q(**{f"{prefix}stores__account__owner": user})
        return NOBODY
    if what is Scope.ACCOUNTS:
        if role == KA_MANAGER:
            return Q(**{f"{prefix}owner": user})
        if role in (SUPERVISOR, SALES_MANAGER):
            return _store_q(user, role, prefix + "stores__")
        return NOBODY
    if what is Scope.DOSSIERS:
        # Exactly the roles granted READ_DOSSIERS, on exactly their Scope.ACCOUNTS rows: a KA manager's own
        # accounts. Reps and supervisors see an account of their stores as its summary only (code, name, kind, tier).
        return Q(**{f"{prefix}owner": user}) if role == KA_MANAGER else NOBODY
    return NOBODY  # Scope.EVERYTHING


def joins_many(what: Scope, user) -> bool:
    """Whether `scope()` follows a to-many relation for this user, so a queryset needs `.distinct()`."""
    if not user.is_authenticated or sees_everything(user):
        return False
    return what is Scope.REGIONS or (what is Scope.ACCOUNTS and user.role in (SUPERVISOR, SALES_MANAGER))


def visible(queryset, user, what: Scope, prefix: str = ""):
    """`queryset` narrowed to what `user` may see; the body of every `visible_to()`."""
    q = scope(user, what, prefix)
    if q is None:
        return queryset.all()
    if q is NOBODY:
        return queryset.none()
    if joins_many(what, user) and not prefix:
        # A semi-join instead of DISTINCT over the joined rows: as a subquery (`region__in=Region.objects.visible_to(u)`)
        # a DISTINCT made PostgreSQL hash every store of the scope (a KA manager's regions: 15-25 ms at 100,000 stores),
        # where the semi-join stops at each region's first store (1-2 ms).
        return queryset.filter(pk__in=queryset.model._base_manager.filter(q).values("pk"))
    return queryset.filter(q)
