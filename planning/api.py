from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kacrm import dates
from kacrm.api import ModelSerializer
from accounts.models import KeyAccount
from org.access import Action
from org.models import User

from . import services
from .forms import MonthField
from .models import AccountPlan, BusinessReview, ForecastMonth, PlanAction, PlanObjective, Target, VisitPlan


# A month of kacrm.dates' range (2000-01 .. 2099-12). Written YYYY-MM or as any day of it (YYYY-MM-DD); read YYYY-MM.
MONTH = {"type": "string", "pattern": r"^20\d{2}-(0[1-9]|1[0-2])$", "example": "2026-11"}
MONTH_OR_DAY = {"anyOf": [MONTH, {"type": "string", "format": "date"}], "description": "YYYY-MM, or a day of that month"}


@extend_schema_field(MONTH_OR_DAY)
class MonthFilter(filters.Filter):
    field_class = MonthField


class ApiMonthField(dates.ApiDateField):
    """A month (its first day inside): written YYYY-MM or YYYY-MM-DD, read YYYY-MM."""

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m", input_formats=["%Y-%m", "%Y-%m-%d"], **kwargs)


class ApiMonthFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ApiMonthField

    def map_serializer_field(self, auto_schema, direction):
        return dict(MONTH) if direction == "response" else dict(MONTH_OR_DAY)


class TargetSerializer(ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    month = ApiMonthField(read_only=True)
    edited_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    target_own = serializers.FloatField(min_value=0, max_value=10_000_000_000)
    actual_own = serializers.FloatField(read_only=True, allow_null=True)
    visit_days = serializers.IntegerField(read_only=True)

    class Meta:
        model = Target
        fields = [
            "id", "store", "month", "zone", "score_as_of", "potential", "wallet_share", "market_share",
            "generated_own", "target_own", "edited_by", "edited_at", "actual_own", "visit_days",
        ]
        read_only_fields = [
            "zone", "score_as_of", "potential", "wallet_share", "market_share", "generated_own", "edited_at",
        ]


class TargetFilter(filters.FilterSet):
    month = MonthFilter(field_name="month")
    store = filters.CharFilter(field_name="store__code")
    region = filters.CharFilter(field_name="store__region__code")
    rep = filters.CharFilter(field_name="store__rep__username")
    account = filters.CharFilter(field_name="store__account__code")
    edited = filters.BooleanFilter(field_name="edited_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Target
        fields = ["month", "store", "region", "rep", "account", "zone", "edited"]


class TargetSummaryQuery(serializers.Serializer):
    group = serializers.ChoiceField(choices=sorted(services.GROUPS))
    month = ApiMonthField(required=False)


class TargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Monthly targets of own units per store (SPEC §6) with the month's actual; supervisors and analysts edit them.

    The list shows one month: `?month=YYYY-MM`, this month by default.

    `actual_own` is the mean own units per valid visit day of the target's month times the days in the month.
    """

    serializer_class = TargetSerializer
    write_action = Action.EDIT_PLANNING
    filterset_class = TargetFilter
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        targets = Target.objects.visible_to(self.request.user).select_related("store", "edited_by")
        if "pk" in self.kwargs:  # a detail: its own month's actual
            pk = self.kwargs["pk"]
            month = Target.objects.filter(pk=pk).values_list("month", flat=True).first() if pk.isdigit() else None
            return services.with_actuals(targets, month or timezone.localdate())
        month = self._month()
        return services.with_actuals(targets.filter(month=month), month).order_by("store__code")

    def _month(self):
        """The `month` asked for, else this month (a bad value is the filterset's 400)."""
        try:
            month = MonthField(required=False).clean(self.request.query_params.get("month", ""))
        except DjangoValidationError:
            month = None
        return month or timezone.localdate().replace(day=1)

    def perform_update(self, serializer):
        if "target_own" in serializer.validated_data:  # a PATCH without it changes nothing
            services.edit_target(target=serializer.instance, target_own=serializer.validated_data["target_own"],
                                 user=self.request.user)

    @extend_schema(parameters=[TargetSummaryQuery], responses=inline_serializer("TargetSummary", {
        "key": serializers.IntegerField(allow_null=True), "label": serializers.CharField(allow_null=True),
        "stores": serializers.IntegerField(), "covered": serializers.IntegerField(),
        "target": serializers.FloatField(), "covered_target": serializers.FloatField(),
        "actual": serializers.FloatField(allow_null=True), "attainment": serializers.FloatField(allow_null=True),
    }, many=True))
    @action(detail=False, methods=["get"])
    def summary(self, request):
        """Target versus actual per `group` (`rep`, `region`, `account`) for `month` (default: this month)."""
        query = TargetSummaryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        month = query.validated_data.get("month") or timezone.localdate()
        targets = Target.objects.visible_to(request.user)
        return Response(services.summarize_targets(targets, month, query.validated_data["group"]))


class VisitPlanSerializer(ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    rep = serializers.SlugRelatedField(slug_field="username", read_only=True)
    edited_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6), max_length=7)

    class Meta:
        model = VisitPlan
        fields = ["id", "store", "rep", "weekdays", "zone", "edited_by", "edited_at"]
        read_only_fields = ["zone", "edited_at"]

    def validate_weekdays(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Each weekday may appear only once."))
        closed = set(self.instance.store.closed_weekdays or ()) if self.instance else set()
        if closed & set(value):
            raise serializers.ValidationError(_("The store is closed on some of these weekdays."))
        return sorted(value)


class VisitPlanFilter(filters.FilterSet):
    store = filters.CharFilter(field_name="store__code")
    region = filters.CharFilter(field_name="store__region__code")
    rep = filters.CharFilter(field_name="rep__username")
    edited = filters.BooleanFilter(field_name="edited_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = VisitPlan
        fields = ["store", "region", "rep", "zone", "edited"]


class VisitPlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                       viewsets.GenericViewSet):
    """Which weekdays (0 = Monday ... 6 = Sunday) each store is visited (SPEC §6); supervisors and analysts edit."""

    serializer_class = VisitPlanSerializer
    write_action = Action.EDIT_PLANNING
    filterset_class = VisitPlanFilter
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return (
            VisitPlan.objects.visible_to(self.request.user)
            .select_related("store", "rep", "edited_by").order_by("store__code")
        )

    def perform_update(self, serializer):
        if "weekdays" in serializer.validated_data:  # a PATCH without them changes nothing
            services.edit_visit_plan(plan=serializer.instance, weekdays=serializer.validated_data["weekdays"],
                                     user=self.request.user)


class PlanObjectiveSerializer(ModelSerializer):
    class Meta:
        model = PlanObjective
        fields = ["id", "title", "metric", "target", "due", "achieved"]
        read_only_fields = ["id"]


class PlanActionSerializer(ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), allow_null=True, required=False
    )

    class Meta:
        model = PlanAction
        fields = ["id", "title", "owner", "due", "status"]
        read_only_fields = ["id"]


class BusinessReviewSerializer(ModelSerializer):
    class Meta:
        model = BusinessReview
        fields = ["id", "quarter", "date", "held", "summary"]
        read_only_fields = ["id"]


class ForecastMonthSerializer(ModelSerializer):
    own_units = serializers.FloatField(min_value=0, max_value=10_000_000_000)

    class Meta:
        model = ForecastMonth
        fields = ["month", "own_units"]


class EditableAccountField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": _("Unknown account code “{value}”, or not an account you may plan.")}

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self):
        return KeyAccount.objects.editable_by(self.context["request"].user)


def _unique(items, key, message):
    values = [item[key] for item in items]
    if len(set(values)) != len(values):
        raise serializers.ValidationError(message)
    return items


class AccountPlanSerializer(ModelSerializer):
    account = EditableAccountField()
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    objectives = PlanObjectiveSerializer(many=True, required=False)
    actions = PlanActionSerializer(many=True, required=False)
    reviews = BusinessReviewSerializer(many=True, required=False)
    forecast = ForecastMonthSerializer(many=True, required=False)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AccountPlan
        fields = ["id", "account", "year", "summary", "objectives", "actions", "reviews", "forecast",
                  "updated_by", "updated_at"]
        read_only_fields = ["id", "updated_at"]
        validators = []  # the (account, year) uniqueness is checked in validate(), as a `year` error

    def validate_reviews(self, value):
        return _unique(value, "quarter", _("One review per quarter."))

    def validate_forecast(self, value):
        return _unique(value, "month", _("One forecast per month."))

    def validate(self, attrs):
        account, year = attrs.get("account", getattr(self.instance, "account", None)), attrs.get(
            "year", getattr(self.instance, "year", None))
        taken = AccountPlan.objects.filter(account=account, year=year)
        if self.instance:
            taken = taken.exclude(pk=self.instance.pk)
        if account and year and taken.exists():
            raise serializers.ValidationError({"year": [_("This account already has a plan for %(year)s.") % {"year": year}]})
        return attrs

    def create(self, validated_data):
        plan = AccountPlan(account=validated_data.pop("account"), year=validated_data.pop("year"))
        return services.save_account_plan(plan=plan, data=validated_data, user=self.context["request"].user)

    def update(self, instance, validated_data):
        return services.save_account_plan(plan=instance, data=validated_data, user=self.context["request"].user)


class AccountPlanFilter(filters.FilterSet):
    account = filters.CharFilter(field_name="account__code")

    class Meta:
        model = AccountPlan
        fields = ["account", "year"]


class AccountPlanViewSet(viewsets.ModelViewSet):
    """Key-account plans per year (SPEC §6) with nested objectives, actions, reviews and forecast; a write replaces
    each nested list it sends. Readers: whoever reads the account's dossier (reps and supervisors: 403); writers: its
    KA manager and analysts."""

    serializer_class = AccountPlanSerializer
    read_action = Action.READ_DOSSIERS
    write_action = Action.EDIT_DOSSIERS
    filterset_class = AccountPlanFilter

    def get_queryset(self):
        return (
            AccountPlan.objects.visible_to(self.request.user).select_related("account", "updated_by")
            .prefetch_related("objectives", "actions__owner", "reviews", "forecast").order_by("account__code", "-year")
        )

    @extend_schema(responses=inline_serializer("ForecastVsActual", {
        "month": serializers.DateField(), "forecast": serializers.FloatField(allow_null=True),
        "actual": serializers.FloatField(allow_null=True), "gap": serializers.FloatField(allow_null=True),
    }, many=True))
    @action(detail=True, methods=["get"], url_path="forecast-vs-actual")
    def forecast_vs_actual(self, request, pk=None):
        """The plan year's 12 months: forecast, actual (as for targets, summed over the account's stores), gap."""
        return Response(services.forecast_vs_actual(self.get_object()))
