from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from .access import Action
from .models import Region, Role, Team, User


class UsernameRateThrottle(SimpleRateThrottle):
    """Limits token requests per username, so a password cannot be guessed from many addresses."""

    scope = "login"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"user:{username.lower()}"}


class ObtainTokenView(ObtainAuthToken):
    """POST {"username", "password"} -> {"token"}; throttled per address and per username."""

    throttle_classes = [ScopedRateThrottle, UsernameRateThrottle]
    throttle_scope = "login"


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
    read_action = write_action = Action.MANAGE_PEOPLE
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
    write_action = Action.EDIT_REFERENCE
    lookup_field = "code"
    filterset_class = RegionFilter

    def get_queryset(self):
        return Region.objects.visible_to(self.request.user).prefetch_related("supervisors").order_by("code")


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
    write_action = Action.EDIT_REFERENCE
    lookup_field = "name"
    lookup_value_regex = r"[^/]+"
    filterset_class = TeamFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Team.objects.none()
        members = User.objects.filter(is_active=True).order_by("username")
        if not self.request.user.sees_everything:  # only people the caller may already see
            members = members.filter(region__in=Region.objects.visible_to(self.request.user))
        return (
            Team.objects.visible_to(self.request.user).select_related("region")
            .prefetch_related(Prefetch("members", queryset=members)).order_by("name")
        )
