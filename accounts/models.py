from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from planning.models import Role


class KeyAccountQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.sees_everything:
            return self.all()
        if user.role == Role.KA_MANAGER:
            return self.filter(owner=user)
        if user.role == Role.SUPERVISOR:
            return self.filter(stores__region__supervisors=user).distinct()
        if user.role == Role.SALES_MANAGER:
            return self.filter(stores__rep=user).distinct()
        return self.none()

    def editable_by(self, user):
        """Accounts whose dossier the user may change: owners and analysts."""
        if not user.is_authenticated:
            return self.none()
        if user.sees_everything:
            return self.all()
        if user.role == Role.KA_MANAGER:
            return self.filter(owner=user)
        return self.none()


class KeyAccount(models.Model):
    class Kind(models.TextChoices):
        CHAIN = "chain", _("Chain")
        INSTITUTION = "institution", _("Institution")
        INDEPENDENT = "independent", _("Independent")

    class Tier(models.TextChoices):
        GKA = "GKA", _("Global key account")
        NKA = "NKA", _("National key account")
        LKA = "LKA", _("Local key account")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CHAIN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="key_accounts",
        limit_choices_to={"role": Role.KA_MANAGER},
    )
    tier = models.CharField(
        _("tier"), max_length=3, choices=Tier.choices, blank=True,
        help_text=_("Set by the analytics run from the store footprint unless overridden."),
    )
    tier_override = models.BooleanField(_("tier set by hand"), default=False)
    description = models.TextField(_("description"), blank=True)
    website = models.URLField(_("website"), blank=True)
    headquarters = models.CharField(_("headquarters"), max_length=200, blank=True)

    objects = KeyAccountQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("key account")
        verbose_name_plural = _("key accounts")

    def __str__(self):
        return self.name
