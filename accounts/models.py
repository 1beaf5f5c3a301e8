import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from kacrm.dates import birthday_range, in_range
from org import access
from org.models import Role

# The audit trail lives under `audit`, not simple-history's default `history`: a key account's
# profile has a `history` field of its own (SPEC §2).
AUDIT = "audit"

FIRST_FOUNDING_YEAR = 1600


class CustomerRole(models.TextChoices):
    LIFEBLOOD = "lifeblood", _("Lifeblood")
    PROSPECT = "prospect", _("Prospect")
    IMAGE_MAKER = "image_maker", _("Image maker")
    EXPERT = "expert", _("Expert")


def validate_customer_roles(value):
    allowed = set(CustomerRole.values)
    if not isinstance(value, list) or any(not isinstance(role, str) or role not in allowed for role in value):
        raise ValidationError(
            _("Give a list of customer roles from: %(roles)s.") % {"roles": ", ".join(CustomerRole.values)}
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Each customer role may appear only once."))


def validate_founding_year(value):
    if value is not None and value > timezone.localdate().year:
        raise ValidationError(_("The founding year cannot be in the future."))


class KeyAccountQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Accounts whose code, name, kind and tier the user may read (SPEC §7)."""
        return access.visible(self, user, access.Scope.ACCOUNTS)

    def dossier_visible_to(self, user):
        """Accounts whose dossier (profile, people, events, competitors, plans, account-wide scores) the user
        may read: a KA manager's own, every one for analysts and admins, none for reps and supervisors."""
        return access.visible(self, user, access.Scope.DOSSIERS)

    def editable_by(self, user):
        """Accounts whose dossier the user may change: the same rows as `dossier_visible_to()`."""
        return access.visible(self, user, access.Scope.DOSSIERS)


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
    customer_roles = models.JSONField(
        _("customer roles"), default=list, blank=True, validators=[validate_customer_roles],
        help_text=_("Several allowed: lifeblood, prospect, image maker, expert."),
    )
    description = models.TextField(_("description"), blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    founded = models.PositiveSmallIntegerField(
        _("founded (year)"), null=True, blank=True,
        validators=[MinValueValidator(FIRST_FOUNDING_YEAR), validate_founding_year],
    )
    history = models.TextField(_("history"), blank=True)
    organisation_structure = models.TextField(_("organisation structure"), blank=True)
    business_environment = models.TextField(_("business environment"), blank=True)
    headquarters = models.CharField(_("headquarters"), max_length=200, blank=True)
    website = models.URLField(_("website"), blank=True)

    objects = KeyAccountQuerySet.as_manager()
    audit = HistoricalRecords(verbose_name=_("historical key account"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("key account")
        verbose_name_plural = _("key accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(founded__isnull=True) | Q(founded__gte=FIRST_FOUNDING_YEAR), name="account_founded_plausible"
            ),
        ]

    def __str__(self):
        return self.name

    def get_customer_roles_display(self) -> list[str]:
        labels = dict(CustomerRole.choices)
        return [labels.get(role, role) for role in self.customer_roles]


class BuyingRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("Decision-maker")
    BENEFICIARY = "beneficiary", _("Beneficiary")
    PURCHASER = "purchaser", _("Purchaser")
    INTERMEDIARY = "intermediary", _("Intermediary")
    GATEKEEPER = "gatekeeper", _("Gatekeeper")


class Attitude(models.TextChoices):
    CHAMPION = "champion", _("Champion")
    SUPPORTER = "supporter", _("Supporter")
    NEUTRAL = "neutral", _("Neutral")
    SCEPTIC = "sceptic", _("Sceptic")
    OPPONENT = "opponent", _("Opponent")


class DecisionMaker(models.Model):
    account = models.ForeignKey(
        KeyAccount, verbose_name=_("account"), on_delete=models.CASCADE, related_name="decision_makers"
    )
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    department = models.CharField(_("department"), max_length=200, blank=True)
    buying_role = models.CharField(_("buying role"), max_length=16, choices=BuyingRole.choices)
    influence = models.PositiveSmallIntegerField(
        _("influence"), default=3, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 (little) to 5 (decides)."),
    )
    attitude = models.CharField(_("attitude"), max_length=10, choices=Attitude.choices, default=Attitude.NEUTRAL)
    reports_to = models.ForeignKey(
        "self", verbose_name=_("reports to"), null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True, validators=[birthday_range])
    interests = models.TextField(_("interests"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    last_contacted = models.DateField(_("last contacted"), null=True, blank=True, validators=[in_range])

    audit = HistoricalRecords(verbose_name=_("historical decision-maker"))

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("decision-maker")
        verbose_name_plural = _("decision-makers")
        constraints = [
            models.CheckConstraint(condition=Q(influence__gte=1, influence__lte=5), name="decision_maker_influence_1_to_5"),
            models.CheckConstraint(
                condition=Q(reports_to__isnull=True) | ~Q(reports_to=F("id")), name="decision_maker_not_own_boss"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.reports_to_id is not None and self.account_id is not None:
            check_reports_to(self, self.reports_to)


def check_reports_to(person: DecisionMaker, boss: DecisionMaker | None) -> None:
    """Raise a ValidationError on `reports_to` unless `boss` is a decision-maker of the same account
    whose chain of bosses does not lead back to `person` (no reporting cycles)."""
    if boss is None:
        return
    if boss.account_id != person.account_id:
        raise ValidationError({"reports_to": _("Choose a decision-maker of the same account.")})
    if person.pk is None:
        return  # a new person has no reports yet, so no chain can lead back to them
    if boss.pk == person.pk:
        raise ValidationError({"reports_to": _("A decision-maker cannot report to themselves.")})
    # One query for the whole account: an org chart has tens of people, not thousands.
    bosses = dict(DecisionMaker.objects.filter(account_id=person.account_id).values_list("pk", "reports_to_id"))
    seen, current = set(), boss.pk
    while current is not None and current not in seen:
        if current == person.pk:
            raise ValidationError({
                "reports_to": _("%(boss)s already reports to %(person)s, directly or through others: that would be a reporting cycle.")
                % {"boss": boss.name, "person": person.name}
            })
        seen.add(current)
        current = bosses.get(current)


# Kept at module level: services.save_event records one history row per write through it.
EVENT_AUDIT = HistoricalRecords(verbose_name=_("historical relationship event"), m2m_fields=["decision_makers"])


class RelationshipEventQuerySet(models.QuerySet):
    def tenders(self):
        return self.filter(kind=RelationshipEvent.Kind.TENDER)


class RelationshipEvent(models.Model):
    class Kind(models.TextChoices):
        MEETING = "meeting", _("Meeting")
        CALL = "call", _("Call")
        VISIT = "visit", _("Visit")
        DELIVERY = "delivery", _("Delivery")
        TENDER = "tender", _("Tender")
        CONTRACT = "contract", _("Contract")
        COMPLAINT = "complaint", _("Complaint")
        OTHER = "other", _("Other")

    class Outcome(models.TextChoices):
        WON = "won", _("Won")
        LOST = "lost", _("Lost")
        PENDING = "pending", _("Pending")

    # Events in which the people involved were in touch with us (a delivery is not a conversation).
    CONTACT_KINDS = (Kind.MEETING, Kind.CALL, Kind.VISIT, Kind.TENDER, Kind.CONTRACT, Kind.COMPLAINT, Kind.OTHER)

    account = models.ForeignKey(KeyAccount, verbose_name=_("account"), on_delete=models.CASCADE, related_name="events")
    date = models.DateField(_("date"), validators=[in_range])
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    summary = models.TextField(_("summary"))
    decision_makers = models.ManyToManyField(
        DecisionMaker, verbose_name=_("decision-makers involved"), blank=True, related_name="events"
    )
    outcome = models.CharField(
        _("tender outcome"), max_length=8, choices=Outcome.choices, blank=True, help_text=_("Tenders only.")
    )
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why the tender was won or lost."))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = RelationshipEventQuerySet.as_manager()
    audit = EVENT_AUDIT

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("relationship event")
        verbose_name_plural = _("relationship events")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="tender") | Q(outcome="", reason=""), name="event_outcome_only_on_tenders"
            ),
        ]
        indexes = [models.Index(fields=["account", "-date"], name="event_account_date_idx")]

    def __str__(self):
        return f"{self.date} {self.get_kind_display()}"

    def clean(self):
        if self.kind != self.Kind.TENDER:
            errors = {}
            if self.outcome:
                errors["outcome"] = _("Only a tender has an outcome.")
            if self.reason:
                errors["reason"] = _("Only a tender's outcome has a reason; write it in the summary.")
            if errors:
                raise ValidationError(errors)
        if self.date and self.date > timezone.localdate() + dt.timedelta(days=366):
            raise ValidationError({"date": _("The date is more than a year ahead.")})


class Competitor(models.Model):
    """A competing brand; the same brand appears in many accounts."""

    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("competitor")
        verbose_name_plural = _("competitors")
        constraints = [models.UniqueConstraint(Lower("name"), name="competitor_name_unique_ci")]

    def __str__(self):
        return self.name


class CompetitorPresence(models.Model):
    account = models.ForeignKey(
        KeyAccount, verbose_name=_("account"), on_delete=models.CASCADE, related_name="competitor_presences"
    )
    competitor = models.ForeignKey(
        Competitor, verbose_name=_("competitor"), on_delete=models.PROTECT, related_name="presences"
    )
    estimated_share = models.FloatField(
        _("estimated share"), null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("The competitor's share of the account's category sales, 0 to 1 (0.25 = 25%)."),
    )
    strengths = models.TextField(_("strengths"), blank=True)
    weaknesses = models.TextField(_("weaknesses"), blank=True)
    activity = models.TextField(_("recent activity"), blank=True)
    updated_on = models.DateField(_("updated on"), default=timezone.localdate, validators=[in_range])

    audit = HistoricalRecords(verbose_name=_("historical competitor presence"))

    class Meta:
        ordering = ["account", "competitor__name"]
        verbose_name = _("competitor presence")
        verbose_name_plural = _("competitor presences")
        constraints = [
            models.UniqueConstraint(fields=["account", "competitor"], name="one_presence_per_competitor_and_account"),
            models.CheckConstraint(
                condition=Q(estimated_share__isnull=True) | Q(estimated_share__gte=0, estimated_share__lte=1),
                name="presence_share_between_0_and_1",
            ),
        ]

    def __str__(self):
        return f"{self.competitor} @ {self.account}"
