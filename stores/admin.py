from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import MarketShare, Store, StoreVisit


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "account", "region", "format", "rep", "active"]
    list_filter = ["active", "format", "region"]
    list_select_related = ["account", "region", "rep"]
    search_fields = ["code", "name", "address"]
    autocomplete_fields = ["account", "rep"]


@admin.register(StoreVisit)
class StoreVisitAdmin(SimpleHistoryAdmin):  # "History" on each visit: who changed which figure (SPEC §9)
    list_display = ["store", "date", "total_sales", "own_sales", "rep", "suspect", "suspect_confirmed"]
    list_filter = ["suspect", "suspect_confirmed", "date"]
    list_select_related = ["store", "rep"]
    search_fields = ["store__code", "store__name"]
    date_hierarchy = "date"
    raw_id_fields = ["store"]
    autocomplete_fields = ["rep"]
    readonly_fields = ["created_at", "updated_at", "suspect", "suspect_confirmed_by"]
    history_list_display = ["total_sales", "own_sales", "notes"]


@admin.register(MarketShare)
class MarketShareAdmin(admin.ModelAdmin):
    list_display = ["country", "region", "period_start", "period_end", "share", "source"]
    list_filter = ["country", "region"]
