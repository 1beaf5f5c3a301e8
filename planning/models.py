from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kacrm.dates import in_range
from accounts.models import KeyAccount
from org import access


def first_of_month(day):
    return day.replace(day=1)


class HandEdited(models.Model):
    """A generated row that a person may set by hand; regeneration keeps hand-set values."""

    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("edited by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True

    @property
    def edited(self) -> bool:
        return self.edited_at is not None

    def mark_edited(self, user) -> list[str]:
        """Record who set the row by hand and when; returns the fields to save."""
        self.edited_by, self.edited_at = user, timezone.now()
        return ["edited_by", "edited_at", "updated_at"]


class TargetQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Targets of the stores the user may see (reps: their stores; supervisors: their regions)."""
        return access.visible(self, user, access.Scope.STORES, "store__")

    def for_month(self, month):
        return self.filter(month=first_of_month(month))


class Target(HandEdited):
    """A store's target of own sales (units) for one month, generated from the latest score (SPEC §6)."""

    store = models.ForeignKey("stores.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="targets")
    month = models.DateField(_("month"), help_text=_("The first day of the month."), validators=[in_range])
    zone = models.CharField(_("zone"), max_length=12)
    score_as_of = models.DateField(_("score as of"), validators=[in_range])
    potential = models.FloatField(_("potential"))
    wallet_share = models.FloatField(_("wallet share"))
    market_share = models.FloatField(_("market share"), null=True)
    generated_own = models.FloatField(_("generated target (units)"))
    target_own = models.FloatField(_("target (units)"))

    objects = TargetQuerySet.as_manager()

    class Meta(HandEdited.Meta):
        ordering = ["month", "store_id"]
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        constraints = [
            models.UniqueConstraint(fields=["store", "month"], name="one_target_per_store_and_month"),
            models.CheckConstraint(condition=Q(target_own__gte=0), name="target_own_not_negative"),
        ]
        indexes = [models.Index(fields=["month", "store"], name="target_month_store_idx")]

    def __str__(self):
        return f"{self.store_id} {self.month:%Y-%m}: {self.target_own:.0f}"


class VisitPlanQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Reps: their own plans; supervisors: their regions'; KA managers: their accounts' stores; analysts: all."""
        if user.is_authenticated and user.is_sales_manager:
            return self.filter(rep=user)
        return access.visible(self, user, access.Scope.STORES, "store__")

    def current(self):
        """Plans that count: an active store still assigned to the plan's rep."""
        return self.filter(store__active=True, store__rep=models.F("rep"))


class VisitPlan(HandEdited):
    """Which weekdays (0 = Monday ... 6 = Sunday) a rep visits a store; defaulted from the zone (SPEC §6)."""

    store = models.OneToOneField(
        "stores.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="visit_plan"
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales manager"), on_delete=models.CASCADE,
        related_name="visit_plans",
    )
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True, help_text=_("0 = Monday ... 6 = Sunday"))
    zone = models.CharField(_("zone"), max_length=12, blank=True, help_text=_("The zone the default came from."))

    objects = VisitPlanQuerySet.as_manager()

    class Meta(HandEdited.Meta):
        ordering = ["rep_id", "store_id"]
        verbose_name = _("visit plan")
        verbose_name_plural = _("visit plans")

    def __str__(self):
        return f"{self.store_id} {self.weekdays}"


class AccountPlanQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The plans of the accounts whose dossier the user may read (none for reps and supervisors)."""
        return self.filter(account__in=KeyAccount.objects.dossier_visible_to(user))

    def editable_by(self, user):
        return self.filter(account__in=KeyAccount.objects.editable_by(user))


class AccountPlan(models.Model):
    """A key account's plan for one calendar year (SPEC §6)."""

    account = models.ForeignKey(
        "accounts.KeyAccount", verbose_name=_("account"), on_delete=models.CASCADE, related_name="plans"
    )
    year = models.PositiveSmallIntegerField(_("year"))
    summary = models.TextField(_("summary"), blank=True, max_length=4000)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = AccountPlanQuerySet.as_manager()

    class Meta:
        ordering = ["account_id", "-year"]
        verbose_name = _("account plan")
        verbose_name_plural = _("account plans")
        constraints = [
            models.UniqueConstraint(fields=["account", "year"], name="one_plan_per_account_and_year"),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100), name="account_plan_year_range"),
        ]

    def __str__(self):
        return f"{self.account_id} {self.year}"


class PlanObjective(models.Model):
    class Metric(models.TextChoices):
        OWN_UNITS = "own_units", _("Our sales (units)")
        WALLET_SHARE = "wallet_share", _("Wallet share (%)")
        STORES_LISTED = "stores_listed", _("Stores listing us")
        PROMOTIONS = "promotions", _("Promotions run")
        OTHER = "other", _("Other")

    plan = models.ForeignKey(AccountPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="objectives")
    title = models.CharField(_("objective"), max_length=200)
    metric = models.CharField(_("metric"), max_length=16, choices=Metric.choices)
    target = models.FloatField(_("target"))
    due = models.DateField(_("due"), validators=[in_range])
    achieved = models.FloatField(_("achieved so far"), null=True, blank=True)

    class Meta:
        ordering = ["due", "pk"]
        verbose_name = _("objective")
        verbose_name_plural = _("objectives")

    def __str__(self):
        return self.title


class PlanAction(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    plan = models.ForeignKey(AccountPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(_("action"), max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="plan_actions",
    )
    due = models.DateField(_("due"), validators=[in_range])
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["due", "pk"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")

    def __str__(self):
        return self.title


class BusinessReview(models.Model):
    """A quarterly business review with the account."""

    plan = models.ForeignKey(AccountPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="reviews")
    quarter = models.PositiveSmallIntegerField(_("quarter"), choices=[(q, f"Q{q}") for q in range(1, 5)])
    date = models.DateField(_("date"), validators=[in_range])
    held = models.BooleanField(_("held"), default=False)
    summary = models.TextField(_("summary and agreements"), blank=True, max_length=4000)

    class Meta:
        ordering = ["quarter"]
        verbose_name = _("quarterly business review")
        verbose_name_plural = _("quarterly business reviews")
        constraints = [models.UniqueConstraint(fields=["plan", "quarter"], name="one_review_per_plan_and_quarter")]

    def __str__(self):
        return f"Q{self.quarter} {self.date}"


class ForecastMonth(models.Model):
    """The account's forecast of our units for one month of the plan's year."""

    plan = models.ForeignKey(AccountPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="forecast")
    month = models.PositiveSmallIntegerField(_("month"), choices=[(m, str(m)) for m in range(1, 13)])
    own_units = models.FloatField(_("forecast (units)"))

    class Meta:
        ordering = ["month"]
        verbose_name = _("forecast month")
        verbose_name_plural = _("forecast months")
        constraints = [
            models.UniqueConstraint(fields=["plan", "month"], name="one_forecast_per_plan_and_month"),
            models.CheckConstraint(condition=Q(own_units__gte=0), name="forecast_not_negative"),
        ]


class StoreMonth(models.Model):
    """A store's valid visit days (SPEC §3.1, as `StoreVisit.objects.valid()`) and their own units in one month.

    A tally (kacrm.tallies) kept by database triggers on stores_storevisit (migrations 0006 and 0008), so every
    writer (the services, the analytics run's suspect flags, the admin, COPY) keeps it exact; never written by
    Python. On PostgreSQL a (store, month) may have several rows of deltas: read it summed (`services.store_months`).
    The account plan's actuals read about 12 rows per store from it instead of every visit of the year.
    """

    # DO_NOTHING: a deleted store's visits are deleted too, and their triggers' deltas bring its months to zero.
    store = models.ForeignKey("stores.Store", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)
    month = models.DateField(validators=[in_range])
    valid_days = models.IntegerField(default=0)
    own_sales = models.BigIntegerField(default=0)
