from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Competitor, CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent


@admin.register(KeyAccount)
class KeyAccountAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "kind", "tier", "tier_override", "owner"]
    list_filter = ["kind", "tier"]
    list_select_related = ["owner"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["owner"]
    history_list_display = ["name", "tier", "owner"]


@admin.register(DecisionMaker)
class DecisionMakerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "account", "title", "buying_role", "influence", "attitude", "reports_to", "last_contacted"]
    list_filter = ["buying_role", "attitude", "influence"]
    list_select_related = ["account", "reports_to"]
    search_fields = ["name", "title", "department", "account__code", "account__name"]
    raw_id_fields = ["account", "reports_to"]
    history_list_display = ["influence", "attitude", "reports_to"]


@admin.register(RelationshipEvent)
class RelationshipEventAdmin(SimpleHistoryAdmin):
    list_display = ["date", "account", "kind", "outcome", "recorded_by"]
    list_filter = ["kind", "outcome", "date"]
    list_select_related = ["account", "recorded_by"]
    search_fields = ["summary", "reason", "account__code", "account__name"]
    raw_id_fields = ["account", "decision_makers", "recorded_by"]
    date_hierarchy = "date"
    history_list_display = ["kind", "outcome"]


@admin.register(Competitor)
class CompetitorAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(CompetitorPresence)
class CompetitorPresenceAdmin(SimpleHistoryAdmin):
    list_display = ["competitor", "account", "estimated_share", "updated_on"]
    list_filter = ["competitor"]
    list_select_related = ["competitor", "account"]
    search_fields = ["competitor__name", "account__code", "account__name"]
    raw_id_fields = ["account"]
    autocomplete_fields = ["competitor"]
