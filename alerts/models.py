from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kacrm.dates import in_range
from org import access


class AlertQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Supervisors see the alerts of their regions, analysts and admins all; nobody else any."""
        return access.visible(self, user, access.Scope.ALERTS)

    def active(self):
        return self.filter(status__in=Alert.ACTIVE)


class Alert(models.Model):
    """A store whose share fell below the market share (SPEC §5); at most one active per store."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")
        RECOVERED = "recovered", _("Recovered")

    class Source(models.TextChoices):
        REGION = "region", _("Region")
        COUNTRY = "country", _("Country")
        PANEL = "panel", _("Panel")

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)

    store = models.ForeignKey("stores.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="alerts")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    # The reading that opened it: FSI(t) and FSI(t - 7) of SPEC §5 at t = opened_on.
    opened_on = models.DateField(_("opened on"), validators=[in_range])
    fsi_at_open = models.FloatField(_("FSI at opening"))
    fsi_week_before = models.FloatField(_("FSI a week before opening"))
    # The latest sufficient reading while the alert was active (the opening one to begin with).
    latest_on = models.DateField(_("latest reading on"), validators=[in_range])
    fsi_latest = models.FloatField(_("latest FSI"))
    store_share = models.FloatField(_("store share"), help_text=_("CS: own / total over the 28 days to the latest reading."))
    market_share = models.FloatField(_("market share"), help_text=_("MS at the latest reading."))
    market_share_source = models.CharField(_("market share source"), max_length=8, choices=Source.choices)
    valid_days = models.PositiveIntegerField(_("valid days"), help_text=_("Valid visit days behind the latest reading."))
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("acknowledged by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    closed_on = models.DateField(_("closed on"), null=True, blank=True, validators=[in_range])
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("resolved by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["fsi_latest", "-opened_on", "id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # Never two active alerts for one store, whichever worker evaluates first.
            models.UniqueConstraint(
                fields=["store"], condition=Q(status__in=["open", "acknowledged"]), name="one_active_alert_per_store"
            ),
        ]
        indexes = [models.Index(fields=["status", "fsi_latest"], name="alert_status_fsi_idx")]

    def __str__(self):
        return f"{self.store_id} {self.opened_on} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def store_share_pct(self) -> float:
        return 100 * self.store_share

    @property
    def market_share_pct(self) -> float:
        return 100 * self.market_share


class FollowUp(models.Model):
    """The supervisor's check at the store: findings, actions taken, notes (SPEC §5)."""

    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="follow_ups")
    # The store again, so the cool-down of SPEC §5 is one indexed lookup per evaluation.
    store = models.ForeignKey("stores.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="follow_ups")
    date = models.DateField(_("date of the check"), validators=[in_range])
    display_ok = models.BooleanField(_("display OK"), null=True, blank=True)
    promotion_ok = models.BooleanField(_("promotion OK"), null=True, blank=True)
    staff_ok = models.BooleanField(_("staff OK"), null=True, blank=True)
    actions = models.TextField(_("actions taken"), blank=True, max_length=2000)
    notes = models.TextField(_("notes"), blank=True, max_length=2000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["date", "id"]
        verbose_name = _("follow-up check")
        verbose_name_plural = _("follow-up checks")
        indexes = [models.Index(fields=["store", "date"], name="follow_up_store_date_idx")]

    def __str__(self):
        return f"{self.alert_id} {self.date}"


class NotificationQuerySet(models.QuerySet):
    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """An in-app message to one user; the text is rendered from the alert in the reader's language."""

    class Kind(models.TextChoices):
        ALERT_OPENED = "alert_opened", _("Alert opened")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ALERT_OPENED)
    alert = models.ForeignKey(Alert, verbose_name=_("alert"), on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread_idx")]

    def __str__(self):
        return f"{self.user_id} {self.kind} {self.alert_id}"


class PendingEvaluation(models.Model):
    """A request to evaluate a store whose visits changed, not handled yet.

    Written in the visit's transaction, so it survives a broker outage; the task that evaluates the
    store deletes the rows it read, and the periodic sweep and the nightly run pick up what is left.
    Insert-only: a store may have several rows, so concurrent batches of the same stores never wait
    for each other's row (an upsert of one row per store held it until commit: 30 ms of a batch).
    """

    # A work queue, not data: no database constraint, whose check would lock each store once more per visit a
    # bulk batch writes; Django still deletes a store's rows with the store, and an evaluation of a store that is
    # gone finds no visits.
    store = models.ForeignKey(
        "stores.Store", verbose_name=_("store"), on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    requested_at = models.DateTimeField(_("requested"))

    class Meta:
        verbose_name = _("pending evaluation")
        verbose_name_plural = _("pending evaluations")

    def __str__(self):
        return f"{self.store_id} {self.requested_at}"
