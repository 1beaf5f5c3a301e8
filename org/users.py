"""Removing and demoting people (README "Users"): the rules the users API and the Django admin share."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from .models import User

ADMINS = Q(is_active=True) & (Q(is_staff=True) | Q(is_superuser=True))  # org.access: staff and superusers are admins
# What goes with a user and is no record of their work: credentials, permissions, their own inbox.
NOT_HISTORY = {"authtoken.Token", "alerts.Notification"}


@transaction.atomic
def check_admin_kept(*, user: User, by: User, is_active: bool, is_staff: bool, is_superuser: bool) -> None:
    """Raise ValidationError if these flags would take away `by`'s own admin rights or the last admin's.

    Call it in the transaction that saves: it locks the admins' rows (in id order, so two admins demoting
    each other at once are served one after the other and the second finds itself the last one).
    """
    admins = list(User.objects.select_for_update().filter(ADMINS).order_by("pk").values_list("pk", flat=True))
    if user.pk not in admins or (is_active and (is_staff or is_superuser)):
        return  # not an admin now, or still one
    field = "is_active" if not is_active else "is_staff"
    if user.pk == by.pk:
        raise ValidationError({field: _("You cannot deactivate yourself; ask another admin.") if not is_active
                               else _("You cannot remove your own admin rights; ask another admin.")})
    if admins == [user.pk]:
        raise ValidationError({field: _("%(username)s is the last admin; make someone else an admin first.")
                               % {"username": user.username}})


def check_removable(*, user: User, by: User) -> None:
    """Raise ValidationError if `by` may not delete or deactivate `user`: themselves, or the last admin."""
    if user.pk == by.pk:
        raise ValidationError(_("You cannot delete or deactivate yourself; ask another admin."))
    try:
        check_admin_kept(user=user, by=by, is_active=False, is_staff=False, is_superuser=False)
    except ValidationError as error:
        raise ValidationError(error.messages) from None  # about the user, not one field of theirs


def history_of(user: User) -> list[str]:
    """The kinds of rows that refer to `user` (visits, audit trail, alerts, plans, ...): empty if none do."""
    kinds = []
    for relation in user._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and relation.is_relation and not relation.concrete):
            continue
        model = relation.related_model
        if model._meta.auto_created or model._meta.label in NOT_HISTORY:
            continue  # auto_created: a many-to-many table, asked through its ManyToManyRel
        name = str(model._meta.verbose_name_plural)
        if name not in kinds and model._base_manager.filter(**{relation.field.name: user}).exists():
            kinds.append(name)
    return kinds


@transaction.atomic
def remove_user(*, user: User, by: User) -> bool:
    """Delete `user`, or deactivate them when rows refer to them; True if deleted. Never `by` or the last admin."""
    check_removable(user=user, by=by)
    if history_of(user):
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        return False
    user.delete()
    return True
