from django.contrib import admin

from .models import Alert, FollowUp, Notification, PendingEvaluation


class FollowUpInline(admin.TabularInline):
    model = FollowUp
    extra = 0
    fields = ["date", "display_ok", "promotion_ok", "staff_ok", "actions", "notes", "recorded_by"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Read-only: the lifecycle runs through the alert pages and the API, which keep its rules."""

    list_display = ["store", "status", "opened_on", "fsi_at_open", "fsi_latest", "latest_on", "closed_on"]
    list_filter = ["status", "market_share_source", "store__region"]
    list_select_related = ["store"]
    search_fields = ["store__code", "store__name"]
    date_hierarchy = "opened_on"
    inlines = [FollowUpInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "alert", "created_at", "read_at"]
    list_filter = ["kind", "read_at"]
    list_select_related = ["user", "alert__store"]
    raw_id_fields = ["alert"]


@admin.register(PendingEvaluation)
class PendingEvaluationAdmin(admin.ModelAdmin):
    list_display = ["store", "requested_at"]
    list_select_related = ["store"]
    raw_id_fields = ["store"]
