from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from kacrm.permissions import ReadAnyWriteByRole
from planning.models import Role, User

from .models import KeyAccount


class KeyAccountSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(role=Role.KA_MANAGER), allow_null=True, required=False
    )
    tier = serializers.ChoiceField(choices=KeyAccount.Tier.choices, allow_blank=True, allow_null=True, required=False)

    class Meta:
        model = KeyAccount
        fields = ["code", "name", "kind", "tier", "owner", "description", "headquarters", "website"]

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", KeyAccount.Kind.CHAIN))
        if attrs.get("tier") and kind != KeyAccount.Kind.CHAIN:
            raise serializers.ValidationError({"tier": ["Only chains have a tier."]})
        if "tier" in attrs:
            # A tier written by a person overrides the one the analytics run derives; blank hands it back.
            attrs["tier"] = attrs["tier"] or ""
            attrs["tier_override"] = bool(attrs["tier"])
        return attrs


class KeyAccountFilter(filters.FilterSet):
    owner = filters.CharFilter(field_name="owner__username")

    class Meta:
        model = KeyAccount
        fields = ["kind", "tier", "owner"]


class KeyAccountViewSet(viewsets.ModelViewSet):
    serializer_class = KeyAccountSerializer
    permission_classes = [ReadAnyWriteByRole]
    write_roles = (Role.KA_MANAGER,)
    lookup_field = "code"
    filterset_class = KeyAccountFilter

    def get_queryset(self):
        return KeyAccount.objects.visible_to(self.request.user).select_related("owner").order_by("code")

    def perform_create(self, serializer):
        if not self.request.user.sees_everything:
            raise PermissionDenied("Only analysts and admins create key accounts.")
        serializer.save()

    def perform_update(self, serializer):
        user = self.request.user
        if not KeyAccount.objects.editable_by(user).filter(pk=serializer.instance.pk).exists():
            raise PermissionDenied("Only the account's KA manager, analysts and admins edit it.")
        new_owner = serializer.validated_data.get("owner", serializer.instance.owner)
        if new_owner != serializer.instance.owner and not user.sees_everything:
            raise PermissionDenied("Only analysts and admins reassign an account.")
        serializer.save()

    def perform_destroy(self, instance):
        if not self.request.user.sees_everything:
            raise PermissionDenied("Only analysts and admins delete key accounts.")
        instance.delete()
