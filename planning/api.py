from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from kacrm.permissions import ReadAnyWriteByRole

from . import services
from .forms import MonthField
from .models import Region, Role, Target, Team, User, VisitPlan


class UserSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), allow_null=True, required=False)
    team = serializers.SlugRelatedField(slug_field="name", queryset=Team.objects.all(), allow_null=True, required=False)
    role = serializers.ChoiceField(choices=Role.choices)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = ["username", "role", "region", "team", "email", "is_active", "password"]

    def validate(self, attrs):
        password = attrs.get("password")
        if password:
            candidate = self.instance or User(username=attrs.get("username", ""), email=attrs.get("email", ""))
            try:
                validate_password(password, candidate)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": list(error.messages)})
        return attrs

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        user.set_password(password) if password else user.set_unusable_password()
        user.save()
        return user

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        user = super().update(instance, validated_data)
        if password:
            user.set_password(password)
            user.save(update_fields=["password"])
        return user


class UserFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code")

    class Meta:
        model = User
        fields = ["role", "region", "is_active"]


class UserViewSet(viewsets.ModelViewSet):
    """People, synced by HR or identity systems. Admins only."""

    serializer_class = UserSerializer
    permission_classes = [IsAdminUser]
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"
    filterset_class = UserFilter
    queryset = User.objects.select_related("region", "team").order_by("username")


class RegionSerializer(serializers.ModelSerializer):
    supervisors = serializers.SlugRelatedField(
        slug_field="username", many=True, required=False, queryset=User.objects.filter(role=Role.SUPERVISOR)
    )

    class Meta:
        model = Region
        fields = ["code", "name", "country", "supervisors"]

    def validate_country(self, value):
        value = value.upper()
        if len(value) != 2 or not value.isalpha():
            raise serializers.ValidationError("Use a two-letter ISO 3166-1 country code, such as CN or ES.")
        return value


class RegionFilter(filters.FilterSet):
    class Meta:
        model = Region
        fields = ["country"]


class RegionViewSet(viewsets.ModelViewSet):
    serializer_class = RegionSerializer
    permission_classes = [ReadAnyWriteByRole]
    write_roles = ()
    lookup_field = "code"
    filterset_class = RegionFilter

    def get_queryset(self):
        return Region.objects.visible_to(self.request.user).prefetch_related("supervisors").order_by("code")


class MonthFilter(filters.Filter):
    field_class = MonthField


class TargetSerializer(serializers.ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    month = serializers.DateField(read_only=True, format="%Y-%m")
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
    month = serializers.DateField(required=False, input_formats=["%Y-%m", "%Y-%m-%d"])


class TargetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Monthly targets of own units per store (SPEC §6) with the month's actual; supervisors and analysts edit them.

    The list shows one month: `?month=YYYY-MM`, this month by default.

    `actual_own` is the mean own units per valid visit day of the target's month times the days in the month.
    """

    serializer_class = TargetSerializer
    permission_classes = [ReadAnyWriteByRole]
    write_roles = (Role.SUPERVISOR,)
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


class VisitPlanSerializer(serializers.ModelSerializer):
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
    permission_classes = [ReadAnyWriteByRole]
    write_roles = (Role.SUPERVISOR,)
    filterset_class = VisitPlanFilter
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return (
            VisitPlan.objects.visible_to(self.request.user)
            .select_related("store", "rep", "edited_by").order_by("store__code")
        )

    def perform_update(self, serializer):
        services.edit_visit_plan(plan=serializer.instance, weekdays=serializer.validated_data["weekdays"],
                                 user=self.request.user)


class TeamSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), allow_null=True, required=False)
    kind = serializers.ChoiceField(choices=Team.Kind.choices)
    members = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["name", "kind", "region", "members"]


class TeamFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code")

    class Meta:
        model = Team
        fields = ["kind", "region"]


class TeamViewSet(viewsets.ModelViewSet):
    """Hunters (attack stores) and farmers (defend stores); members are set on `users` (`team`). Analysts write."""

    serializer_class = TeamSerializer
    permission_classes = [ReadAnyWriteByRole]
    write_roles = ()
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    filterset_class = TeamFilter

    def get_queryset(self):
        members = User.objects.filter(is_active=True).order_by("username")
        if not self.request.user.sees_everything:  # only people the caller may already see
            members = members.filter(region__in=Region.objects.visible_to(self.request.user))
        return (
            Team.objects.visible_to(self.request.user).select_related("region")
            .prefetch_related(Prefetch("members", queryset=members)).order_by("name")
        )
