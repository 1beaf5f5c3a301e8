from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from kacrm import dates
from kacrm.api import ModelSerializer
from org.access import Action

from . import services
from .models import AccountScore, AnalyticsRun, PotentialModelFit, StoreScore

AS_OF = OpenApiParameter("as_of", OpenApiTypes.DATE, description="YYYY-MM-DD; default: the latest run")


def as_of_param(request):
    """The `?as_of=` date, or None for the latest; a malformed date is a 400."""
    value = request.query_params.get("as_of")
    if not value:
        return None
    field = dates.ApiDateField()
    try:
        return field.run_validation(value)
    except serializers.ValidationError as error:
        raise ValidationError({"as_of": error.detail})


class StoreScoreSerializer(ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = StoreScore
        fields = [
            "store", "as_of", "obs_days", "observed", "potential", "potential_source", "own_annual", "wallet_share",
            "market_share", "market_share_source", "key_potential", "zone", "abc", "xyz", "trad_ka",
            "missed_attack", "false_ka", "customer_status",
        ]


class StoreScoreFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="store__region__code")
    account = filters.CharFilter(field_name="store__account__code")

    class Meta:
        model = StoreScore
        fields = ["zone", "region", "account", "abc", "xyz", "customer_status", "missed_attack", "false_ka"]


@extend_schema(parameters=[AS_OF])
class StoreScoreViewSet(viewsets.ReadOnlyModelViewSet):
    """Store scores of the latest run (or `?as_of=`), scoped like the stores."""

    queryset = StoreScore.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = StoreScoreSerializer
    filterset_class = StoreScoreFilter
    lookup_field = "store__code"
    lookup_url_kwarg = "code"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return StoreScore.objects.none()
        return (
            StoreScore.objects.visible_to(self.request.user)
            .latest(as_of_param(self.request))
            .select_related("store")
            .order_by("store__code")
        )


class AccountScoreSerializer(ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = AccountScore
        fields = [
            "account", "as_of", "potential", "own_annual", "wallet_share", "coverage", "key_potential", "zone", "abc",
            "trad_ka", "tier", "missed_attack", "false_ka", "lifeblood", "market_share", "market_share_source",
        ]


class AccountScoreFilter(filters.FilterSet):
    class Meta:
        model = AccountScore
        fields = ["zone", "abc", "tier", "key_potential", "trad_ka"]


@extend_schema(parameters=[AS_OF])
class AccountScoreViewSet(viewsets.ReadOnlyModelViewSet):
    """Account-wide scores, summed over all the account's stores: for readers of its dossier (reps and supervisors:
    403; their own stores' figures are `scores/stores?account=`)."""

    queryset = AccountScore.objects.none()
    serializer_class = AccountScoreSerializer
    filterset_class = AccountScoreFilter
    read_action = Action.READ_DOSSIERS
    lookup_field = "account__code"
    lookup_url_kwarg = "code"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AccountScore.objects.none()
        return (
            AccountScore.objects.visible_to(self.request.user)
            .latest(as_of_param(self.request))
            .select_related("account")
            .order_by("account__code")
        )


class PotentialModelSerializer(ModelSerializer):
    class Meta:
        model = PotentialModelFit
        fields = ["as_of", "n", "r2", "r2_adj", "rmse", "press_r2", "usable", "reason", "coefficients"]


class PotentialModelView(APIView):
    """The potential model fitted by the latest run (or `?as_of=`)."""

    @extend_schema(parameters=[AS_OF], responses={
        200: PotentialModelSerializer, 404: OpenApiResponse(description="No analytics run yet, or none on `as_of`"),
    })
    def get(self, request):
        as_of = as_of_param(request)
        fits = PotentialModelFit.objects.all()
        fit = get_object_or_404(fits, as_of=as_of) if as_of else fits.order_by("-as_of").first()
        if fit is None:
            return Response({"detail": _("No analytics run yet.")}, status=404)
        return Response(PotentialModelSerializer(fit).data)


class AnalyticsRunSerializer(ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    as_of = dates.ApiDateField(required=False)

    class Meta:
        model = AnalyticsRun
        fields = [
            "id", "as_of", "status", "requested_by", "created_at", "started_at", "finished_at", "timings", "counts",
            "params", "error",
        ]
        read_only_fields = [f for f in fields if f != "as_of"]

    def validate_as_of(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError(_("A run cannot score a day in the future."))
        return value


class AnalyticsRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Analysts queue recomputes and follow them."""

    queryset = AnalyticsRun.objects.none()
    serializer_class = AnalyticsRunSerializer
    read_action = write_action = Action.RUN_ANALYTICS

    def get_queryset(self):
        return AnalyticsRun.objects.visible_to(self.request.user).select_related("requested_by")

    @extend_schema(responses={
        201: AnalyticsRunSerializer,
        503: OpenApiResponse(
            inline_serializer("RunNotQueued", {"detail": serializers.CharField(), "id": serializers.IntegerField()}),
            description="The task queue is unreachable: the run `id` is recorded as failed, nothing is queued.",
        ),
    })
    def create(self, request, *args, **kwargs):
        try:
            return super().create(request, *args, **kwargs)
        except services.QueueUnavailable as refused:
            detail = _("The task queue is unreachable, so the run was not queued. Try again in a few minutes.")
            return Response({"detail": detail, "id": refused.run.pk}, status=status.HTTP_503_SERVICE_UNAVAILABLE)

    def perform_create(self, serializer):
        serializer.instance = services.queue_run(
            as_of=serializer.validated_data.get("as_of"), requested_by=self.request.user
        )
