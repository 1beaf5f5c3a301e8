from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kacrm.dates import in_range
from org import access
from org.models import Role

MAX_DAILY_UNITS = 10_000_000  # far above any store's day; keeps sums inside 64-bit and typos out


def validate_weekdays(value):
    if not isinstance(value, list) or any(not isinstance(d, int) or isinstance(d, bool) for d in value):
        raise ValidationError(_("Give a list of weekday numbers (0 = Monday ... 6 = Sunday)."))
    if any(d < 0 or d > 6 for d in value):
        raise ValidationError(_("Weekdays go from 0 (Monday) to 6 (Sunday)."))
    if len(set(value)) != len(value):
        raise ValidationError(_("Each weekday may appear only once."))
    if len(value) == 7:
        raise ValidationError(_("A store cannot be closed every day of the week."))


class StoreQuerySet(models.QuerySet):
    def visible_to(self, user):
        return access.visible(self, user, access.Scope.STORES)

    def active(self):
        return self.filter(active=True)


class Store(models.Model):
    class Format(models.TextChoices):
        HYPERMARKET = "hypermarket", _("Hypermarket")
        LARGE = "large", _("Large")
        MEDIUM = "medium", _("Medium")
        SMALL = "small", _("Small")

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(
        "accounts.KeyAccount", verbose_name=_("account"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="stores",
    )
    region = models.ForeignKey("org.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="stores")
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.FloatField(
        _("latitude"), null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("longitude"), null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    format = models.CharField(_("format"), max_length=12, choices=Format.choices, blank=True)
    floor_area_m2 = models.FloatField(_("floor area (m²)"), null=True, blank=True, validators=[MinValueValidator(0)])
    checkouts = models.PositiveIntegerField(_("checkouts"), null=True, blank=True)
    open_24h = models.BooleanField(_("open 24 hours"), null=True, blank=True)
    shelves = models.PositiveIntegerField(_("shelves of the category"), null=True, blank=True)
    closed_weekdays = models.JSONField(
        _("closed weekdays"), default=list, blank=True, validators=[validate_weekdays],
        help_text=_("0 = Monday ... 6 = Sunday"),
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="stores", limit_choices_to={"role": Role.SALES_MANAGER},
    )
    active = models.BooleanField(_("active"), default=True)

    objects = StoreQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        constraints = [
            models.CheckConstraint(condition=Q(floor_area_m2__gte=0), name="store_floor_area_not_negative"),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="store_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="store_longitude_range"),
        ]

    def __str__(self):
        return f"{self.code} {self.name}"


class StoreVisitQuerySet(models.QuerySet):
    def visible_to(self, user):
        return access.visible(self, user, access.Scope.STORES, "store__")

    def valid(self):
        """Visits that count in the analytics (SPEC §3.1): sales recorded and not an unconfirmed suspect."""
        return self.filter(total_sales__gt=0).filter(Q(suspect=False) | Q(suspect_confirmed=True))


class StoreVisit(models.Model):
    # (store, date) is unique: that index serves lookups by store, so the FK needs none of its own.
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="visits", db_index=False
    )
    date = models.DateField(_("date"), validators=[in_range])
    # Lookups by rep read visit_rep_date_idx (rep, date; migration 0005), so the FK needs none of its own.
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="visits", db_index=False,
    )
    total_sales = models.IntegerField(
        _("total category sales (units, all brands)"), validators=[MinValueValidator(0), MaxValueValidator(MAX_DAILY_UNITS)]
    )
    own_sales = models.IntegerField(
        _("our sales (units)"), validators=[MinValueValidator(0), MaxValueValidator(MAX_DAILY_UNITS)]
    )
    display_ok = models.BooleanField(_("display OK"), null=True, blank=True)
    promotion_ok = models.BooleanField(_("promotion OK"), null=True, blank=True)
    staff_ok = models.BooleanField(_("staff OK"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True, max_length=2000)
    suspect = models.BooleanField(_("suspect"), default=False, help_text=_("Flagged by the latest analytics run."))
    suspect_confirmed = models.BooleanField(_("suspect confirmed"), default=False)
    suspect_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("confirmed by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+", db_index=False,  # visit_confirmed_by_idx: the few confirmed
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = StoreVisitQuerySet.as_manager()
    # Who changed which sales figure and when (SPEC §9); services.upsert_visits writes these rows itself.
    # Read by the dossier for corrections only (stores.audit, by store) and by visit id: the audit table keeps the
    # id and history indexes and a partial index on corrections (migration 0007), not one per foreign key, which
    # a bulk batch of 1000 visits of 1000 stores and reps updated at 1000 random pages each.
    # The audit rows keep no database constraint on the user either, like those on the store and reps: a check per row
    # of every bulk batch, for a reference Django already sets to NULL if a user is deleted.
    audit = HistoricalRecords(
        verbose_name=_("historical store visit"), no_db_index=["store", "rep", "suspect_confirmed_by"],
        user_db_constraint=False,
    )

    class Meta:
        ordering = ["-date", "store_id"]
        verbose_name = _("store visit")
        verbose_name_plural = _("store visits")
        constraints = [
            models.UniqueConstraint(fields=["store", "date"], name="one_visit_per_store_and_day"),
            models.CheckConstraint(condition=Q(own_sales__gte=0), name="visit_own_sales_not_negative"),
            models.CheckConstraint(condition=Q(own_sales__lte=F("total_sales")), name="visit_own_within_total"),
        ]
        indexes = [
            # The lists' order (Meta.ordering) straight from the index: a page of the latest visits reads its rows only.
            models.Index(fields=["-date", "store"], name="visit_date_store_idx"),
            # The latest run's suspects are few; a partial index finds them without a table scan.
            models.Index(fields=["store"], condition=Q(suspect=True), name="visit_suspect_idx"),
            # Only confirmed suspects have a confirmer: a new visit adds no entry (a user's deletion finds them here).
            models.Index(
                fields=["suspect_confirmed_by"], condition=Q(suspect_confirmed_by__isnull=False), name="visit_confirmed_by_idx"
            ),
        ]

    def __str__(self):
        return f"{self.store_id} {self.date}"

    def clean(self):
        errors = {}
        if self.date and self.date > timezone.localdate():
            errors["date"] = _("The date cannot be in the future.")
        if self.total_sales is not None and self.own_sales is not None and self.own_sales > self.total_sales:
            errors["own_sales"] = _("Our sales (%(own)s) cannot exceed the total category sales (%(total)s).") % {
                "own": self.own_sales, "total": self.total_sales,
            }
        if errors:
            raise ValidationError(errors)

    @property
    def share(self):
        return self.own_sales / self.total_sales if self.total_sales else None


class MarketShareQuerySet(models.QuerySet):
    def visible_to(self, user):
        # Market shares are reference figures every signed-in role compares against.
        return self.all() if user.is_authenticated else self.none()

    def valid_on(self, day):
        return self.filter(period_start__lte=day, period_end__gte=day)


class MarketShare(models.Model):
    country = models.CharField(_("country"), max_length=2)
    region = models.ForeignKey(
        "org.Region", verbose_name=_("region"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="market_shares", help_text=_("Empty for the whole country."),
    )
    period_start = models.DateField(_("period start"), validators=[in_range])
    period_end = models.DateField(_("period end"), validators=[in_range])
    share = models.FloatField(_("share"), help_text=_("Our market share, between 0 and 1 (0.25 = 25%)."))
    source = models.CharField(_("source"), max_length=200, blank=True)

    objects = MarketShareQuerySet.as_manager()

    class Meta:
        ordering = ["country", "region_id", "-period_start"]
        verbose_name = _("market share")
        verbose_name_plural = _("market shares")
        constraints = [
            models.CheckConstraint(condition=Q(share__gt=0, share__lt=1), name="market_share_between_0_and_1"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="market_share_period_order"),
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="market_share_country_iso_alpha2"),
        ]

    def __str__(self):
        return f"{self.country}/{self.region_id or '*'} {self.period_start}–{self.period_end}: {self.share:.1%}"


class StoreVisitCount(models.Model):
    """How many visits each store has: a tally kept by database triggers on the visits (kacrm.tallies, migration 0007).

    Rows are deltas summed by store (`services.count_visits`), folded nightly. The visit lists' exact `count` for a
    scope is then a sum over its stores' rows instead of a count of every visit (25 million index entries for an
    analyst at 100,000 stores). No database foreign key: a store's visits and its rows are deleted in either order.
    """

    store = models.ForeignKey(Store, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)
    visits = models.BigIntegerField()
