from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kacrm.api import ModelSerializer
from org.access import Action

from . import lifecycle
from .models import Alert, FollowUp


class FollowUpSerializer(ModelSerializer):
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    actions = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    notes = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    display_ok = serializers.BooleanField(allow_null=True, required=False, default=None)
    promotion_ok = serializers.BooleanField(allow_null=True, required=False, default=None)
    staff_ok = serializers.BooleanField(allow_null=True, required=False, default=None)

    class Meta:
        model = FollowUp
        fields = ["id", "date", "display_ok", "promotion_ok", "staff_ok", "actions", "notes", "recorded_by", "created_at"]
        read_only_fields = ["created_at"]


class AlertSerializer(ModelSerializer):
    store = serializers.SlugRelatedField(slug_field="code", read_only=True)
    store_name = serializers.CharField(source="store.name", read_only=True)
    region = serializers.CharField(source="store.region.code", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    follow_ups = FollowUpSerializer(many=True, read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id", "store", "store_name", "region", "status", "opened_on", "fsi_at_open", "fsi_week_before",
            "fsi_latest", "store_share", "market_share", "market_share_source", "valid_days", "latest_on",
            "acknowledged_at", "acknowledged_by", "closed_on", "resolved_at", "resolved_by", "follow_ups",
        ]
        read_only_fields = fields


class AlertFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Alert.Status.choices)
    region = filters.CharFilter(field_name="store__region__code")
    store = filters.CharFilter(field_name="store__code")

    class Meta:
        model = Alert
        fields = ["status", "region", "store"]


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts of SPEC §5, worst FSI first: supervisors see their regions', analysts and admins all.

    Whoever sees an alert may act on it; anyone else gets a 404, as for any object out of scope.
    """

    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    write_action = Action.HANDLE_ALERTS

    def get_queryset(self):
        return (
            Alert.objects.visible_to(self.request.user)
            .select_related("store__region", "acknowledged_by", "resolved_by")
            .prefetch_related(Prefetch("follow_ups", queryset=FollowUp.objects.select_related("recorded_by")))
            .order_by("fsi_latest", "-opened_on", "id")
        )

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Open -> acknowledged (someone is on it)."""
        alert = lifecycle.acknowledge_alert(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=alert.pk)).data)

    @extend_schema(request=FollowUpSerializer, responses={201: AlertSerializer})
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request, pk=None):
        """Record the check at the store: date, display / promotion / staff findings, actions, notes."""
        alert = self.get_object()
        check = FollowUpSerializer(data=request.data)
        check.is_valid(raise_exception=True)
        lifecycle.record_follow_up(alert=alert, user=request.user, **check.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=alert.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Acknowledged -> resolved; refused (400) before a follow-up check is recorded."""
        alert = lifecycle.resolve_alert(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=alert.pk)).data)

