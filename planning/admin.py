from django.contrib import admin

from .models import (
    AccountPlan, BusinessReview, ForecastMonth, PlanAction, PlanObjective, Target, VisitPlan,
)


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ["store", "month", "zone", "generated_own", "target_own", "edited_by", "edited_at"]
    list_filter = ["month", "zone"]
    list_select_related = ["store", "edited_by"]
    search_fields = ["store__code", "store__name"]
    raw_id_fields = ["store"]
    readonly_fields = ["edited_by", "edited_at"]

    def save_model(self, request, obj, form, change):
        if change and "target_own" in form.changed_data:
            obj.mark_edited(request.user)
        super().save_model(request, obj, form, change)


@admin.register(VisitPlan)
class VisitPlanAdmin(admin.ModelAdmin):
    list_display = ["store", "rep", "weekdays", "zone", "edited_by", "edited_at"]
    list_filter = ["zone"]
    list_select_related = ["store", "rep", "edited_by"]
    search_fields = ["store__code", "store__name", "rep__username"]
    raw_id_fields = ["store", "rep"]
    readonly_fields = ["edited_by", "edited_at"]

    def save_model(self, request, obj, form, change):
        if change and "weekdays" in form.changed_data:
            obj.mark_edited(request.user)
        super().save_model(request, obj, form, change)


class PlanObjectiveInline(admin.TabularInline):
    model = PlanObjective
    extra = 0


class PlanActionInline(admin.TabularInline):
    model = PlanAction
    extra = 0
    raw_id_fields = ["owner"]


class BusinessReviewInline(admin.TabularInline):
    model = BusinessReview
    extra = 0


class ForecastMonthInline(admin.TabularInline):
    model = ForecastMonth
    extra = 0


@admin.register(AccountPlan)
class AccountPlanAdmin(admin.ModelAdmin):
    list_display = ["account", "year", "updated_by", "updated_at"]
    list_filter = ["year"]
    list_select_related = ["account", "updated_by"]
    search_fields = ["account__code", "account__name"]
    raw_id_fields = ["account"]
    readonly_fields = ["updated_by"]
    inlines = [PlanObjectiveInline, PlanActionInline, BusinessReviewInline, ForecastMonthInline]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
