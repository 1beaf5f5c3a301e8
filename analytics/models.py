from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kacrm.dates import in_range
from accounts.models import KeyAccount
from org import access
from stores.models import Store


class Zone(models.TextChoices):
    UNCLASSIFIED = "unclassified", _("Unclassified")
    MAINTENANCE = "maintenance", _("Maintenance")
    ATTACK = "attack", _("Attack")
    DEFEND = "defend", _("Defend")


class AnalyticsSettings(models.Model):
    """The parameters of §3-§5 the analysts tune; one row. Each run keeps a copy of what it used."""

    params = models.JSONField(_("parameters"), default=dict, blank=True,
                              help_text=_("Only the values that differ from the defaults are needed."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("updated by"))

    class Meta:
        verbose_name = _("analytics parameters")
        verbose_name_plural = _("analytics parameters")

    def __str__(self):
        return str(_("Analytics parameters"))

    @classmethod
    def current(cls):
        from .params import Params

        row = cls.objects.first()
        return Params.from_dict(row.params if row else {})


class AnalyticsRunQuerySet(models.QuerySet):
    def visible_to(self, user):
        return access.visible(self, user, access.Scope.EVERYTHING)


class AnalyticsRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    as_of = models.DateField(_("as of"), validators=[in_range])
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(_("parameters"), default=dict)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("requested by"))
    created_at = models.DateTimeField(_("queued"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    timings = models.JSONField(_("timings (s)"), default=dict, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    parts = models.PositiveSmallIntegerField(
        _("parts"), default=1, help_text=_("Worker tasks that observed the stores, each a group of regions (ANALYTICS_SPLIT).")
    )

    objects = AnalyticsRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("analytics run")
        verbose_name_plural = _("analytics runs")
        constraints = [
            # The lock: at most one run computes at a time, on SQLite and PostgreSQL alike.
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="one_running_analytics_run"),
        ]

    def __str__(self):
        return f"{self.as_of} {self.status}"


class RunPart(models.Model):
    """A split run's per-store half for one group of regions, staged until the run's scoring task reads it.

    The frames are pickled: they are written and read only by the run's own tasks, inside the
    database the product trusts for everything else, and deleted when the run finishes.
    """

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="staged_parts")
    part = models.PositiveSmallIntegerField()
    observed = models.BinaryField()
    suspects = models.BinaryField()
    visits = models.PositiveIntegerField()
    seconds = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "part"], name="one_staged_part_per_run_and_part")]


class VisitMonth(models.Model):
    """One store's visits of one month, packed as `grid.PACKED_ROW` (days counted from the month's first): `months`.

    Read only for months with a `VisitMonthBuilt` marker, which a trigger on the visits table deletes
    when any visit of the month is written (migration 0005).
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField(validators=[in_range])
    blob = models.BinaryField()
    max_total = models.BigIntegerField()

    class Meta:
        # (month, store) serves the run's read of a range of months.
        constraints = [models.UniqueConstraint(fields=["month", "store"], name="one_packed_month_per_store")]


class VisitMonthBuilt(models.Model):
    """A month whose `VisitMonth` rows hold every visit of it: no visit of the month was written since."""

    month = models.DateField(primary_key=True, validators=[in_range])
    built_at = models.DateTimeField(auto_now_add=True)


class StoreScoreQuerySet(models.QuerySet):
    def visible_to(self, user):
        return access.visible(self, user, access.Scope.STORES, "store__")

    def latest(self, as_of=None):
        """The rows of `as_of`, or of the latest day scored."""
        if as_of is None:
            as_of = StoreScore.objects.aggregate(last=models.Max("as_of"))["last"]
        return self.filter(as_of=as_of)


class StoreScore(models.Model):
    # (store, as_of) is unique: that index serves lookups by store, so the FK needs none of its own.
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="scores", verbose_name=_("store"), db_index=False
    )
    as_of = models.DateField(_("as of"), validators=[in_range])
    obs_days = models.PositiveIntegerField(_("valid days"))
    observed = models.BooleanField(_("observed"))
    p_obs = models.FloatField(_("observed potential"), null=True)
    p_model = models.FloatField(_("modelled potential"), null=True)
    extrapolated = models.BooleanField(_("extrapolated"), default=False)
    potential = models.FloatField(_("potential"), null=True)
    potential_source = models.CharField(_("potential source"), max_length=12)
    own_annual = models.FloatField(_("own sales (annual)"))
    wallet_share = models.FloatField(_("wallet share"), null=True)
    market_share = models.FloatField(_("market share"), null=True)
    market_share_source = models.CharField(_("market share source"), max_length=8, blank=True)
    key_potential = models.BooleanField(_("key potential"))
    zone = models.CharField(_("zone"), max_length=12, choices=Zone.choices)
    abc = models.CharField("ABC", max_length=1)
    xyz = models.CharField("XYZ", max_length=1)
    trad_ka = models.BooleanField(_("traditional KA"))
    missed_attack = models.BooleanField(_("missed attack"))
    false_ka = models.BooleanField(_("false KA"))
    recency = models.IntegerField(_("days since last purchase"), null=True)
    customer_status = models.CharField(_("customer status"), max_length=8)

    objects = StoreScoreQuerySet.as_manager()

    class Meta:
        ordering = ["as_of", "store_id"]
        verbose_name = _("store score")
        verbose_name_plural = _("store scores")
        constraints = [models.UniqueConstraint(fields=["store", "as_of"], name="one_score_per_store_and_day")]
        # The scores list and the comparison's audit lists read a day's rows largest potential first (then by
        # store code, an incremental sort of the few ties): an index in that order stops after the page instead of
        # sorting ~100,000 rows; the audit lists' own partial indexes skip the rows they filter out.
        indexes = [
            models.Index(fields=["as_of", "zone"], name="storescore_asof_zone_idx"),
            models.Index("as_of", models.F("potential").desc(nulls_last=True), name="storescore_asof_potential_idx"),
            models.Index("as_of", models.F("potential").desc(nulls_last=True), name="storescore_missed_idx", condition=models.Q(missed_attack=True)),
            models.Index("as_of", models.F("potential").desc(nulls_last=True), name="storescore_false_ka_idx", condition=models.Q(false_ka=True)),
        ]


class AccountScoreQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Account-wide figures (summed over every store, other regions' too) are part of the dossier (SPEC §7)."""
        return access.visible(self, user, access.Scope.DOSSIERS, "account__")

    def latest(self, as_of=None):
        if as_of is None:
            as_of = AccountScore.objects.aggregate(last=models.Max("as_of"))["last"]
        return self.filter(as_of=as_of)


class AccountScore(models.Model):
    account = models.ForeignKey(
        KeyAccount, on_delete=models.CASCADE, related_name="scores", verbose_name=_("account"), db_index=False
    )
    as_of = models.DateField(_("as of"), validators=[in_range])
    potential = models.FloatField(_("potential"), null=True)
    own_annual = models.FloatField(_("own sales (annual)"), null=True)
    wallet_share = models.FloatField(_("wallet share"), null=True)
    active_stores = models.PositiveIntegerField(_("active stores"))
    known_stores = models.PositiveIntegerField(_("stores with known potential"))
    coverage = models.FloatField(_("coverage"), null=True)
    market_share = models.FloatField(_("market share"), null=True)
    market_share_source = models.CharField(_("market share source"), max_length=8, blank=True)
    key_potential = models.BooleanField(_("key potential"))
    zone = models.CharField(_("zone"), max_length=12, choices=Zone.choices)
    abc = models.CharField("ABC", max_length=1)
    trad_ka = models.BooleanField(_("traditional KA"))
    missed_attack = models.BooleanField(_("missed attack"))
    false_ka = models.BooleanField(_("false KA"))
    lifeblood = models.BooleanField(_("lifeblood suggested"))
    tier = models.CharField(_("tier"), max_length=3, blank=True)

    objects = AccountScoreQuerySet.as_manager()

    class Meta:
        ordering = ["as_of", "account_id"]
        verbose_name = _("account score")
        verbose_name_plural = _("account scores")
        constraints = [models.UniqueConstraint(fields=["account", "as_of"], name="one_score_per_account_and_day")]


class PotentialModelFit(models.Model):
    as_of = models.DateField(_("as of"), unique=True, validators=[in_range])
    n = models.PositiveIntegerField("n")
    m = models.PositiveIntegerField(_("predictors"))
    r2 = models.FloatField("R²", null=True)
    r2_adj = models.FloatField(_("adjusted R²"), null=True)
    rmse = models.FloatField("RMSE", null=True)
    press_r2 = models.FloatField(_("PRESS R²"), null=True)
    usable = models.BooleanField(_("usable"))
    reason = models.CharField(_("why not usable"), max_length=300, blank=True)
    coefficients = models.JSONField(_("coefficients"), default=dict)
    ranges = models.JSONField(_("training ranges"), default=dict)

    class Meta:
        ordering = ["-as_of"]
        verbose_name = _("potential model")
        verbose_name_plural = _("potential models")

    def __str__(self):
        return f"{self.as_of} n={self.n}"
