from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Prefetch
from django_filters import rest_framework as filters
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response

from kacrm.api import ModelSerializer

from . import signin, users
from .access import Action
from .models import Region, Role, Team, User


class TokenRequestSerializer(AuthTokenSerializer):
    def validate(self, attrs):
        """The user, through org.signin (which raises LockedOut while the username or address is locked)."""
        user = signin.sign_in(self.context["request"], username=attrs["username"], password=attrs["password"])
        if user is None:
            raise serializers.ValidationError(_("Unable to log in with provided credentials."), code="authorization")
        return {**attrs, "user": user}


class LockedOutSerializer(serializers.Serializer):
    detail = serializers.CharField()
    retry_after = serializers.IntegerField(help_text="Seconds until a sign-in is looked at again (also the Retry-After header).")


@method_decorator(never_cache, name="dispatch")  # a token in a response is never kept by any cache
class ObtainTokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}; the lockout of the login page applies (org.signin)."""

    serializer_class = TokenRequestSerializer
    authentication_classes = ()  # credentials come in the body; a stale token header must not make this a 401

    @extend_schema(
        request=TokenRequestSerializer,
        auth=[],
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: OpenApiResponse(
                inline_serializer("TokenRequestError", {
                    name: serializers.ListField(child=serializers.CharField(), required=False)
                    for name in ("username", "password", "non_field_errors")
                }),
                description="Missing fields, or a wrong username or password",
            ),
            429: OpenApiResponse(LockedOutSerializer, description="Too many failed attempts: wait `retry_after` seconds"),
        },
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except signin.LockedOut as locked:
            return Response(
                {"detail": locked.message, "retry_after": locked.wait},
                status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(locked.wait)},
            )


class UserSerializer(ModelSerializer):
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
    read_action = write_action = Action.MANAGE_PEOPLE
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"
    filterset_class = UserFilter
    queryset = User.objects.select_related("region", "team").order_by("username")

    def perform_update(self, serializer):
        user = serializer.instance
        with transaction.atomic():
            users.check_admin_kept(  # the API never sets is_staff / is_superuser: only is_active can demote
                user=user, by=self.request.user, is_active=serializer.validated_data.get("is_active", user.is_active),
                is_staff=user.is_staff, is_superuser=user.is_superuser,
            )
            serializer.save()

    @extend_schema(
        responses={
            200: OpenApiResponse(UserSerializer, description="Kept and deactivated (`is_active` false): rows such as "
                                 "visits, the audit trail, alerts handled or plans refer to the user"),
            204: OpenApiResponse(description="Deleted: nothing referred to the user"),
            400: OpenApiResponse(
                inline_serializer("UserNotRemoved", {"non_field_errors": serializers.ListField(child=serializers.CharField())}),
                description="Yourself, or the last admin",
            ),
        },
    )
    def destroy(self, request, *args, **kwargs):
        """Delete a user nothing refers to; deactivate one with history. Never yourself or the last admin."""
        user = self.get_object()
        if users.remove_user(user=user, by=request.user):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.get_serializer(user).data)


class RegionSerializer(ModelSerializer):
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
    write_action = Action.EDIT_REFERENCE
    lookup_field = "code"
    filterset_class = RegionFilter

    def get_queryset(self):
        return Region.objects.visible_to(self.request.user).prefetch_related("supervisors").order_by("code")


class TeamSerializer(ModelSerializer):
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
    write_action = Action.EDIT_REFERENCE
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    filterset_class = TeamFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Team.objects.none()
        # Only the usernames are shown: a page of 50 teams holds ~1,400 members at 100,000 stores, and full User rows
        # (dates parsed, 14 fields set) were most of the request.
        members = User.objects.filter(is_active=True).only("pk", "username", "team").order_by("username")
        if not self.request.user.sees_everything:  # only people the caller may already see
            members = members.filter(region__in=Region.objects.visible_to(self.request.user))
        return (
            Team.objects.visible_to(self.request.user).select_related("region")
            .prefetch_related(Prefetch("members", queryset=members)).order_by("name")
        )
