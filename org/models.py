"""People and access: the bottom of the app stack (every other app may import it; it imports none)."""
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import access


class Role(models.TextChoices):
    SALES_MANAGER = "sales_manager", _("Sales manager")
    SUPERVISOR = "supervisor", _("Supervisor")
    KA_MANAGER = "ka_manager", _("KA manager")
    ANALYST = "analyst", _("Analyst")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.SALES_MANAGER)
    region = models.ForeignKey(
        "org.Region", verbose_name=_("region"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="members",
    )
    team = models.ForeignKey(
        "org.Team", verbose_name=_("team"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="members",
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        db_table = "planning_user"  # the table from before the move to org (SPEC §2's custom user)

    @property
    def sees_everything(self) -> bool:
        """Analysts and admins see every store, account and visit."""
        return access.sees_everything(self)

    @property
    def is_sales_manager(self) -> bool:
        return access.role_of(self) == Role.SALES_MANAGER

    @property
    def is_supervisor(self) -> bool:
        return access.role_of(self) == Role.SUPERVISOR

    @property
    def is_ka_manager(self) -> bool:
        return access.role_of(self) == Role.KA_MANAGER

    def can(self, action: access.Action) -> bool:
        return access.can(self, action)


class RegionQuerySet(models.QuerySet):
    def visible_to(self, user):
        return access.visible(self, user, access.Scope.REGIONS)


class Region(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166-1 alpha-2 code"))
    supervisors = models.ManyToManyField(
        User, verbose_name=_("supervisors"), blank=True, related_name="supervised_regions",
        limit_choices_to={"role": Role.SUPERVISOR},
    )

    objects = RegionQuerySet.as_manager()

    class Meta:
        db_table = "planning_region"
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        constraints = [
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="region_country_iso_alpha2",
            ),
        ]

    def __str__(self):
        return f"{self.code} ({self.name})"


class TeamQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Reps: their own team; others: the teams of the regions they see (analysts: all)."""
        if user.is_authenticated and user.sees_everything:
            return self.all()
        if user.is_authenticated and user.is_sales_manager:
            return self.filter(pk=user.team_id)
        return self.filter(region__in=Region.objects.visible_to(user))


class Team(models.Model):
    class Kind(models.TextChoices):
        HUNTERS = "hunters", _("Hunters (attack stores)")
        FARMERS = "farmers", _("Farmers (defend stores)")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.SET_NULL, related_name="teams"
    )

    objects = TeamQuerySet.as_manager()

    class Meta:
        db_table = "planning_team"
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return self.name


class LoginFailure(models.Model):
    """One failed sign-in (the login page or the token endpoint), kept while it counts towards a lockout (org.signin)."""

    username = models.CharField(_("username"), max_length=150)  # as typed, lower-cased: it need not name a user
    address = models.CharField(_("address"), max_length=64)  # the client's address (an IPv6 address's /64)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("failed sign-in")
        verbose_name_plural = _("failed sign-ins")
        indexes = [
            models.Index(fields=["username", "address", "at"], name="loginfailure_pair_at"),
            models.Index(fields=["address", "at"], name="loginfailure_address_at"),
            models.Index(fields=["at"], name="loginfailure_at"),  # dropping expired rows
        ]

    def __str__(self):
        return f"{self.username} from {self.address} at {self.at:%Y-%m-%d %H:%M:%S}"
