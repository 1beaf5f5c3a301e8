import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kacrm import dates, db
from kacrm.api import ModelSerializer, Serializer
from accounts.models import KeyAccount
from org.access import Action
from org.models import Region, Role, User

from . import services
from .models import MarketShare, Store, StoreVisit

MAX_BULK = 5000


class StoreSerializer(ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="code", queryset=KeyAccount.objects.all(), allow_null=True, required=False)
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all())
    rep = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(role=Role.SALES_MANAGER), allow_null=True, required=False
    )
    closed_weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), max_length=6, required=False
    )

    class Meta:
        model = Store
        fields = [
            "code", "name", "account", "region", "format", "floor_area_m2", "checkouts", "open_24h", "shelves",
            "closed_weekdays", "rep", "address", "latitude", "longitude", "active",
        ]

    def validate_closed_weekdays(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Each weekday may appear only once."))
        return sorted(value)


class StoreFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code")
    account = filters.CharFilter(field_name="account__code")
    rep = filters.CharFilter(field_name="rep__username")
    country = filters.CharFilter(field_name="region__country")

    class Meta:
        model = Store
        fields = ["region", "account", "rep", "country", "format", "active"]


class StoreViewSet(viewsets.ModelViewSet):
    serializer_class = StoreSerializer
    write_action = Action.EDIT_REFERENCE
    lookup_field = "code"
    filterset_class = StoreFilter

    def get_queryset(self):
        return Store.objects.visible_to(self.request.user).select_related("account", "region", "rep").order_by("code")


class VisibleStoreField(serializers.SlugRelatedField):
    """A store code the caller may log visits for; anything else reads as unknown (no existence leak)."""

    default_error_messages = {
        "does_not_exist": _("Unknown store code “{value}”, or not a store you may log visits for."),
        "invalid": _("Give the store code as text."),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", **kwargs)

    def get_queryset(self):
        return Store.objects.visible_to(self.context["request"].user).filter(active=True)


class StoreVisitSerializer(ModelSerializer):
    store = VisibleStoreField()
    rep = serializers.SlugRelatedField(slug_field="username", read_only=True)
    notes = serializers.CharField(max_length=2000, allow_blank=True, required=False)

    class Meta:
        model = StoreVisit
        fields = [
            "id", "store", "date", "total_sales", "own_sales", "display_ok", "promotion_ok", "staff_ok",
            "notes", "rep", "suspect", "suspect_confirmed", "created_at", "updated_at",
        ]
        read_only_fields = ["suspect", "suspect_confirmed", "created_at", "updated_at"]
        validators = []  # (store, date) uniqueness is the database's job; see services.log_visit

    def validate(self, attrs):
        if self.instance is not None and "store" in attrs and attrs["store"] != self.instance.store:
            raise serializers.ValidationError({"store": [_("A visit cannot move to another store; delete it and log a new one.")]})
        return attrs


class BulkVisitItemSerializer(Serializer):
    """One item of a bulk batch; the store code is resolved for the whole batch at once."""

    store = serializers.CharField(max_length=32)
    date = dates.ApiDateField()
    total_sales = serializers.IntegerField(min_value=0, max_value=10_000_000)
    own_sales = serializers.IntegerField(min_value=0, max_value=10_000_000)
    display_ok = serializers.BooleanField(allow_null=True, required=False, default=None)
    promotion_ok = serializers.BooleanField(allow_null=True, required=False, default=None)
    staff_ok = serializers.BooleanField(allow_null=True, required=False, default=None)
    notes = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")

    def validate(self, attrs):
        errors = {}
        stores = self.context["stores"]
        if attrs["store"] not in stores:
            errors["store"] = [_("Unknown store code “%(code)s”, or not a store you may log visits for.") % {"code": attrs["store"]}]
        if attrs["date"] > self.context["today"]:
            errors["date"] = [_("The date cannot be in the future.")]
        if attrs["own_sales"] > attrs["total_sales"]:
            errors["own_sales"] = [
                _("Our sales (%(own)s) cannot exceed the total category sales (%(total)s).")
                % {"own": attrs["own_sales"], "total": attrs["total_sales"]}
            ]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["store"] = stores[attrs["store"]]
        return attrs


class PlainBulkCheck:
    """Called with a bulk item: the data `checker` (a BulkVisitItemSerializer) would return, or None.

    Checks the common shape only (a JSON object of a known store code, an ISO date, whole numbers,
    true / false / null, a short text) in plain Python, ~2 us an item against ~100 us through DRF's
    fields. It accepts nothing the serializer would refuse and refuses nothing with its own message:
    every other item goes through the serializer, so every error is the serializer's.
    """

    def __init__(self, checker):
        fields, context = checker.fields, checker.context
        self.stores, self.code_length = context["stores"], fields["store"].max_length
        self.low, self.high = fields["own_sales"].min_value, fields["total_sales"].max_value
        self.first_day, self.last_day = dates.EARLIEST, min(dates.LATEST, context["today"])
        self.notes_length = fields["notes"].max_length

    def __call__(self, item):
        if type(item) is not dict:
            return None
        code, day, total, own = item.get("store"), item.get("date"), item.get("total_sales"), item.get("own_sales")
        if type(code) is not str or type(day) is not str or type(total) is not int or type(own) is not int:
            return None
        store = self.stores.get(code)
        if store is None or len(code) > self.code_length or code != code.strip():
            return None
        if not self.low <= own <= total <= self.high or len(day) != 10 or day[4] != "-" or day[7] != "-":
            return None
        try:
            day = dt.date.fromisoformat(day)  # what DRF's parse_date tries first
        except ValueError:
            return None
        if not self.first_day <= day <= self.last_day:
            return None
        display, promotion, staff = item.get("display_ok"), item.get("promotion_ok"), item.get("staff_ok")
        for flag in (display, promotion, staff):
            if flag is not None and type(flag) is not bool:
                return None
        notes = item.get("notes")
        if notes is None:  # absent, or null for "no notes" (SPEC §7)
            notes = ""
        elif type(notes) is not str:
            return None
        else:
            notes = notes.strip()
            if len(notes) > self.notes_length or "\x00" in notes or not (notes.isascii() or _no_surrogates(notes)):
                return None
        return {"store": store, "date": day, "total_sales": total, "own_sales": own, "display_ok": display,
                "promotion_ok": promotion, "staff_ok": staff, "notes": notes}


def _no_surrogates(text):
    try:
        text.encode()  # UTF-8 refuses exactly the surrogate code points DRF's CharField refuses
    except UnicodeEncodeError:
        return False
    return True


class StoreVisitFilter(filters.FilterSet):
    store = filters.CharFilter(field_name="store__code")
    region = filters.CharFilter(field_name="store__region__code")
    rep = filters.CharFilter(field_name="rep__username")
    date = dates.DateFromToRangeFilter()
    suspect = filters.BooleanFilter()

    class Meta:
        model = StoreVisit
        fields = ["store", "region", "rep", "date", "suspect"]


class StoreVisitViewSet(viewsets.ModelViewSet):
    """Store visits, newest day first. Reps log their own stores, supervisors their regions'; KA managers read."""

    serializer_class = StoreVisitSerializer
    write_action = Action.LOG_VISITS
    filterset_class = StoreVisitFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            return services.listed_visits(self.request.user)
        return StoreVisit.objects.visible_to(self.request.user).select_related("store", "rep")

    def paginate_queryset(self, queryset):
        """The list's count from the stores' visit counters when no filter picks visits themselves (the same number)."""
        stores = self._counted_stores()
        if stores is not None:
            queryset = services.with_counted_visits(queryset, stores)
        return super().paginate_queryset(queryset)

    def _counted_stores(self):
        """The visible stores whose every visit the filters keep (by store or region only), else None."""
        if self.action != "list":
            return None
        filterset = self.filterset_class(self.request.query_params, queryset=StoreVisit.objects.none())
        if not filterset.is_valid():
            return None  # the filter backend answered 400 already
        data = filterset.form.cleaned_data
        if data.get("rep") or data.get("suspect") is not None or (data.get("date") and (data["date"].start or data["date"].stop)):
            return None
        stores = Store.objects.visible_to(self.request.user)
        if data.get("store"):
            stores = stores.filter(code=data["store"])
        if data.get("region"):
            stores = stores.filter(region__code=data["region"])
        return stores

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.log_visit(user=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("store", None)
        serializer.instance = services.correct_visit(visit=serializer.instance, **data)

    @extend_schema(request=None, responses=StoreVisitSerializer)
    @action(detail=True, methods=["post"], url_path="confirm-suspect")
    def confirm_suspect(self, request, pk=None):
        """Confirm a day flagged as a suspect as a real figure (reps and supervisors of the store)."""
        visit = services.confirm_suspect(visit=self.get_object(), user=request.user)
        return Response(self.get_serializer(visit).data)

    @extend_schema(
        request=BulkVisitItemSerializer(many=True),
        responses={200: inline_serializer("BulkResult", {"created": serializers.IntegerField(), "updated": serializers.IntegerField()})},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Upsert up to 5000 visits on (store, date), all or nothing; an empty list changes nothing."""
        items = request.data
        if not isinstance(items, list):
            return Response({"non_field_errors": [_("Send a JSON list of visits.")]}, status=status.HTTP_400_BAD_REQUEST)
        if not items:  # a batch of nothing is valid and changes nothing
            return Response({"created": 0, "updated": 0})
        if len(items) > MAX_BULK:
            return Response(
                {"non_field_errors": [_("At most %(max)s visits per batch; this one has %(n)s.") % {"max": MAX_BULK, "n": len(items)}]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        codes = {item.get("store") for item in items if isinstance(item, dict) and isinstance(item.get("store"), str)}
        # Plain tuples, not model instances: 1000 Store objects cost ~10 ms of a request; the 1000 codes bound
        # server-side, not quoted into the text (~4 ms).
        stores = {
            code: services.StoreKey(pk, rep_id)
            for code, pk, rep_id in db.rows(Store.objects.visible_to(request.user).filter(active=True, code__in=codes)
                                            .values_list("code", "id", "rep_id"))
        }
        context = {"stores": stores, "today": timezone.localdate()}
        # One serializer instance for every item: DRF deep-copies the declared fields for each new
        # instance, ~0.1 ms an item, which was a third of a 1000-visit request. Most items take the
        # plain check instead; the serializer validates the rest and words every error.
        checker = BulkVisitItemSerializer(context=context)
        plain = PlainBulkCheck(checker)
        valid, errors, seen = [], [], {}
        for index, item in enumerate(items):
            data = plain(item)
            if data is None:
                try:
                    data = checker.run_validation(item)
                except serializers.ValidationError as exc:
                    errors.append({"index": index, "errors": serializers.as_serializer_error(exc)})
                    continue
            key = (data["store"].pk, data["date"])
            if key in seen:
                errors.append({"index": index, "errors": {"date": [_("Same store and day as item %(i)s.") % {"i": seen[key]}]}})
                continue
            seen[key] = index
            valid.append(data)
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        created, updated = services.upsert_visits(user=request.user, visits=valid)
        return Response({"created": created, "updated": updated})


class MarketShareSerializer(ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", queryset=Region.objects.all(), allow_null=True, required=False)
    share = serializers.FloatField()

    class Meta:
        model = MarketShare
        fields = ["id", "country", "region", "period_start", "period_end", "share", "source"]

    def validate_share(self, value):
        if not 0 < value < 1:
            raise serializers.ValidationError(_("The share is a fraction strictly between 0 and 1 (0.25 = 25%)."))
        return value

    def validate_country(self, value):
        value = value.upper()
        if len(value) != 2 or not value.isalpha():
            raise serializers.ValidationError(_("Use a two-letter ISO 3166-1 country code, such as CN or ES."))
        return value

    def validate(self, attrs):
        start = attrs.get("period_start", getattr(self.instance, "period_start", None))
        end = attrs.get("period_end", getattr(self.instance, "period_end", None))
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": [_("The period cannot end before it starts.")]})
        region = attrs.get("region", getattr(self.instance, "region", None))
        country = attrs.get("country", getattr(self.instance, "country", None))
        if region and country and region.country != country:
            raise serializers.ValidationError(
                {"region": [_("Region %(code)s is in %(country)s.") % {"code": region.code, "country": region.country}]}
            )
        return attrs


class MarketShareFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code")
    valid_on = dates.DateFilter(method="filter_valid_on")

    class Meta:
        model = MarketShare
        fields = ["country", "region"]

    def filter_valid_on(self, queryset, name, value):
        return queryset.valid_on(value)


class MarketShareViewSet(viewsets.ModelViewSet):
    serializer_class = MarketShareSerializer
    write_action = Action.EDIT_REFERENCE
    filterset_class = MarketShareFilter

    def get_queryset(self):
        return MarketShare.objects.visible_to(self.request.user).select_related("region").order_by("country", "region__code", "-period_start", "id")
