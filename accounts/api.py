from django.db.models import Prefetch
from django.utils.functional import cached_property
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from kacrm import dates
from kacrm.api import ModelSerializer
from kacrm.schema import AnyOfProxySerializer
from org.access import Action, can
from org.models import Role, User

from . import services
from .models import CompetitorPresence, CustomerRole, DecisionMaker, KeyAccount, RelationshipEvent, check_reports_to


class KeyAccountSerializer(ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(role=Role.KA_MANAGER), allow_null=True, required=False
    )
    tier = serializers.ChoiceField(choices=KeyAccount.Tier.choices, allow_blank=True, allow_null=True, required=False)
    customer_roles = serializers.ListField(
        child=serializers.ChoiceField(choices=CustomerRole.choices), max_length=len(CustomerRole.choices), required=False
    )

    class Meta:
        model = KeyAccount
        fields = [
            "code", "name", "kind", "tier", "owner", "customer_roles", "description", "employees", "founded", "history",
            "organisation_structure", "business_environment", "headquarters", "website",
        ]

    def validate_customer_roles(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Each customer role may appear only once."))
        return value

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", KeyAccount.Kind.CHAIN))
        if attrs.get("tier") and kind != KeyAccount.Kind.CHAIN:
            raise serializers.ValidationError({"tier": ["Only chains have a tier."]})
        if "tier" in attrs:
            # A tier written by a person overrides the one the analytics run derives; blank hands it back.
            attrs["tier"] = attrs["tier"] or ""
            attrs["tier_override"] = bool(attrs["tier"])
        return attrs


class KeyAccountSummarySerializer(ModelSerializer):
    """What reps and supervisors read of an account of their stores: no profile, owner or dossier (SPEC §7)."""

    tier = serializers.ChoiceField(choices=KeyAccount.Tier.choices, allow_blank=True, allow_null=True, read_only=True)

    class Meta:
        model = KeyAccount
        fields = ["code", "name", "kind", "tier"]
        read_only_fields = fields


def _account_or_summary(many=False):
    return AnyOfProxySerializer(
        component_name="KeyAccountOrSummary", serializers=[KeyAccountSerializer, KeyAccountSummarySerializer],
        resource_type_field_name=None, many=many,
    )


class KeyAccountFilter(filters.FilterSet):
    owner = filters.CharFilter(field_name="owner__username")

    class Meta:
        model = KeyAccount
        fields = ["kind", "tier", "owner"]


class KeyAccountSummaryFilter(filters.FilterSet):
    class Meta:
        model = KeyAccount
        fields = ["kind", "tier"]


@extend_schema_view(
    list=extend_schema(responses=_account_or_summary(many=True)),
    retrieve=extend_schema(responses=_account_or_summary()),
)
class KeyAccountViewSet(viewsets.ModelViewSet):
    """Key accounts. Readers of the dossier (its KA manager, analysts, admins) get every field; reps and supervisors
    the summary (`code`, `name`, `kind`, `tier`) of the accounts of their stores, and `owner` does not filter for them.
    The KA manager (and analysts) edit an account; analysts and admins create, delete and reassign."""

    lookup_field = "code"

    @property
    def write_action(self):
        return Action.EDIT_DOSSIERS if self.action in ("update", "partial_update") else Action.MANAGE_ACCOUNTS

    @property
    def reads_dossiers(self):
        # The schema documents the full account (requests, filters); its responses name both shapes.
        return getattr(self, "swagger_fake_view", False) or can(self.request.user, Action.READ_DOSSIERS)

    def get_serializer_class(self):
        return KeyAccountSerializer if self.reads_dossiers else KeyAccountSummarySerializer

    @property
    def filterset_class(self):
        return KeyAccountFilter if self.reads_dossiers else KeyAccountSummaryFilter

    def get_queryset(self):
        user, accounts = self.request.user, KeyAccount.objects
        if not self.reads_dossiers:
            return accounts.visible_to(user).order_by("code")
        return accounts.dossier_visible_to(user).select_related("owner").order_by("code")

    def perform_update(self, serializer):
        new_owner = serializer.validated_data.get("owner", serializer.instance.owner)
        if new_owner != serializer.instance.owner and not can(self.request.user, Action.MANAGE_ACCOUNTS):
            raise PermissionDenied(_("Only analysts and admins reassign an account."))
        serializer.save()


# -- the dossier, nested under /api/v1/accounts/{code}/ ---------------------------------------------


class AccountPersonField(serializers.PrimaryKeyRelatedField):
    """The id of a decision-maker of the account in the URL; any other id reads as not one (no leak)."""

    default_error_messages = {
        "does_not_exist": gettext_lazy("No decision-maker with id {pk_value} in this account; choose one of the same account."),
        "incorrect_type": gettext_lazy("Give a decision-maker id (a number), not {data_type}."),
    }

    def get_queryset(self):
        account = self.context.get("account")
        return DecisionMaker.objects.filter(account=account) if account else DecisionMaker.objects.none()


class DecisionMakerSerializer(ModelSerializer):
    reports_to = AccountPersonField(allow_null=True, required=False)

    class Meta:
        model = DecisionMaker
        fields = [
            "id", "name", "title", "department", "buying_role", "influence", "attitude", "reports_to", "phone", "email",
            "birthday", "interests", "notes", "last_contacted",
        ]

    def validate(self, attrs):
        if "reports_to" in attrs:
            person = self.instance or DecisionMaker(account=self.context["account"])
            check_reports_to(person, attrs["reports_to"])
        return attrs


class RelationshipEventSerializer(ModelSerializer):
    decision_makers = AccountPersonField(many=True, required=False)

    class Meta:
        model = RelationshipEvent
        fields = ["id", "date", "kind", "summary", "outcome", "reason", "decision_makers"]

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        if kind != RelationshipEvent.Kind.TENDER:
            errors = {}
            if attrs.get("outcome", getattr(self.instance, "outcome", "")):
                errors["outcome"] = [_("Only a tender has an outcome; this event is a “%(kind)s”.") % {"kind": kind}]
            if attrs.get("reason", getattr(self.instance, "reason", "")):
                errors["reason"] = [_("Only a tender's outcome has a reason; write it in the summary.")]
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class CompetitorPresenceSerializer(ModelSerializer):
    competitor = serializers.CharField(
        source="competitor.name", max_length=120, help_text=gettext_lazy("The brand's name; a new name adds the brand.")
    )
    estimated_share = serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, required=False,
        help_text=gettext_lazy("The competitor's share of the account's category sales, 0 to 1."),
    )

    class Meta:
        model = CompetitorPresence
        fields = ["id", "competitor", "estimated_share", "strengths", "weaknesses", "activity", "updated_on"]

    def validate_competitor(self, value):
        # Arrives as {"name": ...} through `source`; checked for blanks here, matched by name in the service.
        if not " ".join(value.split()):
            raise serializers.ValidationError(_("Name the competing brand."))
        return value


class DecisionMakerFilter(filters.FilterSet):
    influence_min = filters.NumberFilter(field_name="influence", lookup_expr="gte")
    reports_to = filters.NumberFilter(field_name="reports_to")
    department = filters.CharFilter(lookup_expr="icontains")
    q = filters.CharFilter(field_name="name", lookup_expr="icontains", label=gettext_lazy("Name contains"))

    class Meta:
        model = DecisionMaker
        fields = ["buying_role", "attitude", "influence", "influence_min", "reports_to", "department", "q"]


class RelationshipEventFilter(filters.FilterSet):
    date = dates.DateFromToRangeFilter()
    decision_maker = filters.NumberFilter(field_name="decision_makers", label=gettext_lazy("Decision-maker id"))

    class Meta:
        model = RelationshipEvent
        fields = ["kind", "outcome", "date", "decision_maker"]


class CompetitorPresenceFilter(filters.FilterSet):
    competitor = filters.CharFilter(field_name="competitor__name", lookup_expr="iexact")

    class Meta:
        model = CompetitorPresence
        fields = ["competitor"]


ACCOUNT_CODE = OpenApiParameter(
    "account_code", OpenApiTypes.STR, OpenApiParameter.PATH, description="The key account's code."
)


class AccountNestedViewSet(viewsets.ModelViewSet):
    """Base of the dossier resources: the rows of the account in the URL. Reps and supervisors may not read a
    dossier (403); an account whose dossier the caller may not read is a 404."""

    read_action = Action.READ_DOSSIERS
    write_action = Action.EDIT_DOSSIERS

    @cached_property
    def account(self):
        accounts = KeyAccount.objects.dossier_visible_to(self.request.user)
        return get_object_or_404(accounts, code=self.kwargs["account_code"])

    def get_serializer_context(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no account in the URL
            return super().get_serializer_context()
        return {**super().get_serializer_context(), "account": self.account}

    def scoped(self, queryset):
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        return queryset.filter(account=self.account)


@extend_schema(parameters=[ACCOUNT_CODE])
class DecisionMakerViewSet(AccountNestedViewSet):
    """The decision-makers of an account, with `reports_to` for the org chart."""

    serializer_class = DecisionMakerSerializer
    filterset_class = DecisionMakerFilter

    def get_queryset(self):
        return self.scoped(DecisionMaker.objects.order_by("name", "id"))

    def perform_create(self, serializer):
        serializer.instance = services.save_decision_maker(
            account=self.account, user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.save_decision_maker(
            account=self.account, user=self.request.user, person=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_decision_maker(person=instance, user=self.request.user)


@extend_schema(parameters=[ACCOUNT_CODE])
class RelationshipEventViewSet(AccountNestedViewSet):
    """The relationship timeline of an account: meetings, calls, tenders with their outcome, ..."""

    serializer_class = RelationshipEventSerializer
    filterset_class = RelationshipEventFilter

    def get_queryset(self):
        return self.scoped(RelationshipEvent.objects.order_by("-date", "-id").prefetch_related(
            Prefetch("decision_makers", queryset=DecisionMaker.objects.only("id").order_by("id"))
        ))

    def perform_create(self, serializer):
        serializer.instance = services.save_event(account=self.account, user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.save_event(
            account=self.account, user=self.request.user, event=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_event(event=instance, user=self.request.user)


@extend_schema(parameters=[ACCOUNT_CODE])
class CompetitorPresenceViewSet(AccountNestedViewSet):
    """The competing brands in an account; `competitor` is the brand's name."""

    serializer_class = CompetitorPresenceSerializer
    filterset_class = CompetitorPresenceFilter

    def get_queryset(self):
        return self.scoped(CompetitorPresence.objects.select_related("competitor").order_by("competitor__name", "id"))

    def _save(self, serializer, presence=None):
        data = dict(serializer.validated_data)
        brand = data.pop("competitor", None)
        serializer.instance = services.save_competitor_presence(
            account=self.account, user=self.request.user, presence=presence,
            competitor=brand["name"] if brand else None, **data,
        )

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, presence=serializer.instance)

    def perform_destroy(self, instance):
        services.delete_competitor_presence(presence=instance, user=self.request.user)
