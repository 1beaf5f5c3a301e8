"""Dossiers of the demo accounts (SPEC §8): profiles, people with their reporting lines, a year of
relationship history with tenders won and lost, and the competitors met in each account.

Dates are relative to the seeding day, so birthdays and overdue contacts always show up on the
dossier. `demo.world.seed_demo_world` calls `save_dossiers`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F
from django.utils import timezone

from accounts.models import (
    Attitude,
    BuyingRole,
    Competitor,
    CompetitorPresence,
    DecisionMaker,
    KeyAccount,
    RelationshipEvent,
)
from accounts.services import save_decision_maker
from stores.models import StoreVisit
from stores.services import correct_visit

DM, BEN, PUR, INT, GATE = (BuyingRole.DECISION_MAKER, BuyingRole.BENEFICIARY, BuyingRole.PURCHASER,
                           BuyingRole.INTERMEDIARY, BuyingRole.GATEKEEPER)
CHAMP, SUPP, NEUT, SCEP, OPP = (Attitude.CHAMPION, Attitude.SUPPORTER, Attitude.NEUTRAL, Attitude.SCEPTIC,
                                Attitude.OPPONENT)
K = RelationshipEvent.Kind
WON, LOST, PENDING = "won", "lost", "pending"


@dataclass(frozen=True)
class P:
    key: str
    name: str
    title: str
    department: str
    role: str
    influence: int
    attitude: str
    boss: str | None = None
    born: tuple[int, int, int] | None = None  # (year, month, day)
    birthday_in: tuple[int, int] | None = None  # (birth year, days from the seeding day): always a reminder
    interests: str = ""
    notes: str = ""
    silent: int | None = None  # days since the last contact when no event names them (None: never)


@dataclass(frozen=True)
class E:
    days_ago: int
    kind: str
    summary: str
    people: tuple[str, ...] = ()
    outcome: str = ""
    reason: str = ""


@dataclass(frozen=True)
class C:
    brand: str
    share: float | None
    strengths: str
    weaknesses: str
    activity: str
    days_ago: int


@dataclass(frozen=True)
class Dossier:
    roles: tuple[str, ...]
    employees: int | None
    founded: int | None
    history: str
    organisation: str
    environment: str
    phone_prefix: str
    people: tuple[P, ...] = ()
    events: tuple[E, ...] = ()
    competitors: tuple[C, ...] = ()
    description: str = ""


DOSSIERS = {
    "valmore": Dossier(
        roles=("lifeblood", "image_maker"), employees=214_000, founded=1962, phone_prefix="+86 21 6288",
        description="Global hypermarket chain; category buying is centralised per country in the national head office. "
                    "Our largest account by potential and the one other chains copy.",
        history="Opened its first Chinese supercenter in Shenzhen in 1996 and its Shanghai head office in 2004. "
                "Moved electronics from store-level to central buying in 2019; since 2023 it trims listings to "
                "three brands per price band.",
        organisation="National merchandising (Shanghai) decides listings and trading terms once a year. "
                     "Category directors own the assortment; buyers place orders and run promotions. Store "
                     "operations (regional directors) execute planograms and report compliance.",
        environment="Online marketplaces took 40% of phone sales in tier-1 cities; the chain answers with "
                    "in-store pick-up and exclusive bundles. Price checks against JD and Tmall every week.",
        people=(
            P("chen", "David Chen", "VP Merchandising, China", "Merchandising", DM, 5, NEUT,
              born=(1971, 3, 14), interests="Golf (Sheshan club), single malts",
              notes="Wants three brands per price band. Decides with data; bring sell-out, not sell-in."),
            P("liu", "Liu Yang", "Category Director, Electronics", "Merchandising", DM, 4, SUPP, boss="chen",
              birthday_in=(1979, 9), interests="Marathon running; daughter studies in Manchester",
              notes="Sponsor of our 2025 listing. Sensitive to stock-outs before holidays."),
            P("zhou", "Zhou Min", "Senior Buyer, Phones & Tablets", "Merchandising", PUR, 3, CHAMP, boss="liu",
              born=(1986, 11, 2), interests="Photography, new gadgets",
              notes="Prefers WeChat over email. Runs the promotion calendar."),
            P("sun", "Sun Lei", "Replenishment Manager", "Supply chain", PUR, 2, NEUT, boss="liu",
              born=(1983, 6, 21), notes="Owns the order forecast; wants EDI order confirmations within 4 hours."),
            P("huang", "Huang Jie", "Store Operations Director, East China", "Operations", BEN, 3, SCEP, boss="chen",
              born=(1975, 1, 30), interests="Football (Shanghai Port)",
              notes="Still remembers the May stock-outs. Measures us on gondola-end compliance."),
            P("wu", "Wu Xia", "Executive Assistant to the VP", "Office of the VP", GATE, 2, SUPP, boss="chen",
              birthday_in=(1990, 24), notes="Books all meetings with David Chen; give two weeks' notice."),
            P("ma", "Ma Jun", "Marketing Manager, Electronics", "Marketing", BEN, 2, OPP, boss="liu",
              born=(1988, 8, 8), notes="Pushes Kaiyo's co-marketing budget; sees us as a price follower.", silent=130),
            P("tang", "Tang Hui", "Procurement Compliance Lead", "Finance", GATE, 2, NEUT, boss="chen",
              born=(1981, 4, 17), notes="Checks every rebate against the trading terms.", silent=None),
        ),
        events=(
            E(330, K.TENDER, "Annual listing tender 2025: phones and tablets, 14 SKUs for all Chinese supercenters.",
              ("chen", "liu", "zhou"), WON,
              "Best sell-out support and 60-day payment terms; Nordex was 3% cheaper but could not guarantee "
              "supply for Singles' Day."),
            E(305, K.CONTRACT, "Signed the 2025 trading terms: 2.5% growth rebate, two gondola ends per hypermarket "
                               "in Q4, quarterly business reviews.", ("chen", "tang")),
            E(250, K.MEETING, "Q1 business review: sell-out +11% against last year, share of shelf up to 24%. "
                              "Agreed a test of promoters in 10 East China stores.", ("liu", "zhou", "sun")),
            E(205, K.COMPLAINT, "Stock-outs of the two best sellers in six East China stores over the May holiday. "
                                "Huang Jie escalated to David Chen.", ("huang", "chen")),
            E(201, K.CALL, "Apology call and recovery plan: safety stock at the Shanghai DC raised to 3 weeks.",
              ("huang", "sun")),
            E(160, K.DELIVERY, "Singles' Day pre-stock delivered to the Shanghai DC: 42 pallets, on time."),
            E(120, K.TENDER, "Regional tender for tablets in South China (38 stores).", ("liu", "zhou"), LOST,
              "Kaiyo offered an exclusive model and in-store promoters it pays for; our bid had neither."),
            E(95, K.VISIT, "Store walk in Pudong and Gubei with Huang Jie: gondola ends in place, price labels "
                           "missing in Gubei, fixed the same day.", ("huang",)),
            E(62, K.MEETING, "Joint business plan 2026, first draft: +8% sell-out target, two exclusive bundles, "
                             "monthly stock reviews.", ("liu", "zhou", "sun")),
            E(33, K.TENDER, "Listing tender 2026: phones and wearables, all Chinese supercenters. Offer sent.",
              ("chen", "liu", "zhou", "tang"), PENDING),
            E(12, K.CALL, "Promotion calendar for Chinese New Year agreed: 2-for-1 on accessories, gondola ends "
                          "in 60 stores.", ("zhou",)),
            E(4, K.MEETING, "Top-to-top with David Chen: he asks for a sell-out guarantee on the new model before "
                            "the tender decision.", ("chen", "wu")),
        ),
        competitors=(
            C("Kaiyo", 0.34, "Exclusive models for the chain; pays its own promoters; strong brand with under-30s.",
              "Slow replenishment outside tier-1 cities; margins below the chain's target.",
              "Won the South China tablet tender; launching a co-marketing fund with Ma Jun.", 20),
            C("Nordex", 0.22, "Lowest prices in the entry band; aggressive rebates.",
              "Supply problems at every holiday peak; weak after-sales service.",
              "Cut prices by 8% on two best sellers last month.", 45),
            C("Brava", 0.09, "Premium design, good margins for the chain.", "Narrow range, few stores carry it.",
              "Testing shop-in-shops in three Shanghai supercenters.", 75),
        ),
    ),
    "sunbright": Dossier(
        roles=("lifeblood", "expert"), employees=58_000, founded=1990, phone_prefix="+86 25 8470",
        history="Started as an air-conditioner shop in Nanjing; listed in Shenzhen in 2004. Closed a quarter of "
                "its stores since 2020 and rebuilt the rest as experience stores with repair counters.",
        organisation="Head office in Nanjing: a purchasing centre per category with a general manager, product "
                     "managers per brand and a pricing committee that meets every Monday. Regional companies "
                     "run the stores.",
        environment="Competes with online platforms and with brand stores of the makers themselves; its staff "
                    "advice is the main reason customers come in.",
        people=(
            P("gao", "Gao Feng", "General Manager, Communications Purchasing Centre", "Purchasing", DM, 5, SUPP,
              born=(1970, 12, 5), interests="Calligraphy, tea", notes="Long-standing relationship; values loyalty."),
            P("lin", "Lin Na", "Product Manager, Phones", "Purchasing", PUR, 4, CHAMP, boss="gao",
              birthday_in=(1987, 3), notes="Our daily contact; asks for training for store staff."),
            P("xu", "Xu Qiang", "Pricing Committee Secretary", "Finance", GATE, 3, SCEP, boss="gao",
              born=(1979, 7, 19), notes="Blocks price changes that cut the chain's margin below 14%."),
            P("he", "He Ping", "Training Manager", "Retail academy", BEN, 2, SUPP, boss="lin",
              born=(1991, 2, 27), interests="Badminton"),
            P("qian", "Qian Bo", "Regional GM, North China", "Regional company", BEN, 3, NEUT, boss="gao",
              born=(1974, 10, 11), silent=140, notes="Decides store-level displays in Beijing and Tianjin."),
        ),
        events=(
            E(280, K.TENDER, "Repair-counter partner tender: spare parts and training for 120 stores.",
              ("gao", "lin"), WON, "Only bidder with certified training in every region."),
            E(240, K.MEETING, "Staff training plan agreed: 2 sessions per store per year.", ("lin", "he")),
            E(170, K.TENDER, "Exclusive mid-range model for the 618 festival.", ("gao", "xu"), LOST,
              "Nordex accepted a 16% margin for the chain; our offer stopped at 13%."),
            E(110, K.CALL, "Price-change request for two models turned down by the pricing committee.", ("xu",)),
            E(45, K.MEETING, "Quarterly review: our share of the chain's phone sales up to 19%; training rated 4.6/5.",
              ("gao", "lin")),
            E(9, K.VISIT, "Visited the Xinjiekou flagship with Lin Na; new demo tables installed.", ("lin",)),
        ),
        competitors=(
            C("Nordex", 0.27, "Generous margins for the chain; fast price moves.", "Little staff training.",
              "Won the 618 exclusive; now pushing a trade-in programme.", 30),
            C("Kaiyo", 0.25, "Brand pull with young buyers.", "Refuses store-level promotions.",
              "Opening its own brand stores next to Sunbright's.", 60),
        ),
    ),
    "huadong-mart": Dossier(
        roles=("prospect",), employees=9_600, founded=2003, phone_prefix="+86 571 8690",
        history="Family-owned chain from Hangzhou; bought two convenience chains in 2018 and 2021.",
        organisation="The founder's son runs buying himself with two category buyers; store managers order "
                     "directly from an approved list.",
        environment="Dense network of small stores near offices and metro stations; sells mostly accessories "
                    "and prepaid phones.",
        people=(
            P("jiang", "Jiang Tao", "Deputy General Manager, Buying", "Management", DM, 5, NEUT,
              born=(1984, 5, 9), interests="Sailing on West Lake", notes="Wants a lower minimum order."),
            P("yu", "Yu Fang", "Category Buyer, Electronics", "Buying", PUR, 3, SUPP, boss="jiang",
              birthday_in=(1992, 17)),
            P("shen", "Shen Hao", "Store Manager, Wulin Square", "Stores", BEN, 1, CHAMP, boss="yu",
              born=(1995, 9, 3), notes="Our best store; use it as a showcase."),
        ),
        events=(
            E(150, K.MEETING, "First listing meeting: 6 accessories and 2 prepaid phones for 40 stores.", ("jiang", "yu")),
            E(100, K.DELIVERY, "First delivery to the chain's warehouse in Xiaoshan."),
            E(41, K.TENDER, "Listing of the full phone range in all stores.", ("jiang", "yu"), LOST,
              "Minimum order too high for small stores; Brava offered consignment stock."),
        ),
        competitors=(
            C("Brava", 0.18, "Consignment stock; no minimum order.", "Few models below 1000 yuan.",
              "Won the full-range listing.", 40),
        ),
    ),
    "east-rail": Dossier(
        roles=("image_maker",), employees=3_200, founded=1998, phone_prefix="+86 21 5180",
        history="Catering and retail arm of the regional railway group; runs shops in 31 stations.",
        organisation="A tender committee chosen by the railway group awards two-year supply contracts; the "
                     "retail department runs the shops.",
        environment="Travellers buy chargers, cables and headphones on impulse; space is scarce and rents are high.",
        people=(
            P("wang", "Wang Li", "Head of Retail", "Retail", DM, 4, SUPP, born=(1976, 2, 22)),
            P("zhao", "Zhao Rui", "Tender Committee Secretary", "Procurement", GATE, 4, NEUT, boss="wang",
              born=(1980, 6, 6), notes="Every contact about the tender must go through her in writing."),
            P("fang", "Fang Yi", "Shop Operations Supervisor", "Retail", BEN, 2, CHAMP, boss="wang",
              birthday_in=(1993, 28)),
        ),
        events=(
            E(700, K.TENDER, "Two-year supply tender for station shops (accessories).", ("wang", "zhao"), WON,
              "Highest service level (weekly refill) and a compact display that fits the kiosks."),
            E(360, K.COMPLAINT, "Displays damaged in Hongqiao station; replaced within 48 hours.", ("fang",)),
            E(20, K.TENDER, "Renewal tender for 2027-2028 published; offer due next month.", ("zhao",), PENDING),
        ),
        competitors=(
            C("Kaiyo", 0.30, "Brand travellers know.", "Does not refill weekly.", "Bidding in the renewal tender.", 15),
        ),
    ),
    "carrefino": Dossier(
        roles=("lifeblood",), employees=97_000, founded=1959, phone_prefix="+34 91 555",
        history="French-Spanish hypermarket group; entered China in 1995 with stores in Beijing.",
        organisation="Listings negotiated once a year in Madrid by the national buying office; the China stores "
                     "buy through a separate team in Beijing.",
        environment="Price war with discounters in Spain; the chain pushes its own label in accessories.",
        people=(
            P("moreno", "Javier Moreno", "Director de Compras, Electrónica", "Compras", DM, 5, NEUT,
              born=(1969, 10, 28), interests="Real Madrid, wine from Ribera del Duero"),
            P("sanz", "Lucía Sanz", "Jefa de Producto, Telefonía", "Compras", PUR, 4, SUPP, boss="moreno",
              birthday_in=(1985, 6)),
            P("iglesias", "Pablo Iglesias Ruiz", "Controller de Márgenes", "Finanzas", GATE, 3, SCEP, boss="moreno",
              born=(1980, 1, 15), silent=120),
        ),
        events=(
            E(300, K.TENDER, "Annual listing 2025 in Madrid.", ("moreno", "sanz"), WON,
              "Best logistics rating of the suppliers; accepted the chain's payment terms."),
            E(90, K.MEETING, "Mid-year review; own-label accessories cut our space by two shelves.", ("sanz",)),
            E(25, K.CALL, "Preparation of the 2026 listing: calendar and documents.", ("sanz",)),
        ),
        competitors=(
            C("Nordex", 0.26, "Lowest prices.", "Poor service levels.", "Offering extra rebates for 2026.", 25),
            C("Brava", 0.11, "Design.", "Narrow range.", "—", 90),
        ),
    ),
    "mercadia": Dossier(
        roles=("prospect",), employees=25_000, founded=1977, phone_prefix="+34 96 555",
        history="Cooperative of regional supermarkets from Valencia; national since 2010.",
        organisation="Central buying in Valencia; regional platforms in Madrid and Barcelona.",
        environment="Neighbourhood supermarkets; electronics are a small, growing impulse category.",
        people=(
            P("vidal", "Marta Vidal", "Responsable de Bazar", "Compras", DM, 4, SUPP, born=(1982, 4, 3)),
            P("ferrer", "Jordi Ferrer", "Comprador", "Compras", PUR, 3, NEUT, boss="vidal", birthday_in=(1990, 11)),
        ),
        events=(
            E(80, K.MEETING, "Presented a checkout-zone range of 12 accessories.", ("vidal", "ferrer")),
            E(18, K.TENDER, "Test listing in 50 stores.", ("vidal",), PENDING),
        ),
        competitors=(C("Nordex", 0.31, "Already listed at the checkouts.", "Low margin for the chain.", "—", 60),),
    ),
    "tiendas-norte": Dossier(
        roles=("prospect",), employees=4_100, founded=1988, phone_prefix="+52 81 5555",
        history="Supermarket chain of Nuevo León, family-owned.",
        organisation="Buying by the owner's family with one electronics buyer.",
        environment="Competes with national chains moving into Monterrey's suburbs.",
        people=(
            P("garza", "Roberto Garza", "Director Comercial", "Comercial", DM, 5, NEUT, born=(1966, 8, 30), silent=200),
            P("trevino", "Ana Treviño", "Compradora de Electrónica", "Compras", PUR, 3, SUPP, boss="garza",
              birthday_in=(1989, 21)),
        ),
        events=(E(60, K.MEETING, "First meeting; asked for prices in pesos with delivery to their DC.", ("trevino",)),),
        competitors=(C("Kaiyo", 0.29, "Brand awareness.", "No local distributor.", "—", 60),),
    ),
    "campus-madrid": Dossier(
        roles=("image_maker",), employees=180, founded=2001, phone_prefix="+34 91 394",
        history="Shops of the university campus, run by the university's services company.",
        organisation="One buyer for all outlets; contracts by public tender every three years.",
        environment="Students buy chargers and headphones; strong seasonality around exams.",
        people=(P("ortega", "Elena Ortega", "Jefa de Compras", "Servicios", DM, 4, SUPP, born=(1978, 12, 12)),),
        events=(
            E(400, K.TENDER, "Three-year supply tender for the campus shops.", ("ortega",), LOST,
              "Price weighted 70% in the award; Nordex was 9% cheaper."),
        ),
        competitors=(C("Nordex", 0.45, "Cheapest bid.", "Slow deliveries.", "Contract ends next year.", 120),),
    ),
}

# Edits made through the services after seeding, so the audit trail shows changes with their author.
EDITS = (
    ("valmore", "ka1", "liu", {"attitude": Attitude.CHAMPION, "influence": 5}),
    ("valmore", "ka1", "huang", {"attitude": Attitude.NEUTRAL, "notes": "Recovered after the Q3 store walk; "
                                 "measures us on gondola-end compliance."}),
    ("sunbright", "ka1", "lin", {"title": "Senior Product Manager, Phones"}),
)


def _birthday(person: P, today: dt.date) -> dt.date | None:
    if person.born:
        return dt.date(*person.born)
    if person.birthday_in:
        year, days = person.birthday_in
        day = today + dt.timedelta(days=days)
        return dt.date(year, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
    return None


def _email(name: str, code: str) -> str:
    local = ".".join(name.lower().split()[:2])
    return "".join(ch for ch in local if ch.isascii() and (ch.isalnum() or ch == ".")) + f"@{code}.example"


def save_dossiers(accounts: dict[str, KeyAccount], users: dict, *, today: dt.date) -> None:
    """Fill the dossiers of the demo accounts (bulk inserts: the seed itself is not an audited change)."""
    brands = sorted({c.brand for d in DOSSIERS.values() for c in d.competitors})
    Competitor.objects.bulk_create([Competitor(name=b) for b in brands], ignore_conflicts=True)
    brand_ids = dict(Competitor.objects.filter(name__in=brands).values_list("name", "id"))
    people, events, presences = {}, [], []
    for code, d in DOSSIERS.items():
        account = accounts.get(code)
        if account is None:
            continue
        KeyAccount.objects.filter(pk=account.pk).update(
            customer_roles=list(d.roles), employees=d.employees, founded=d.founded, history=d.history,
            organisation_structure=d.organisation, business_environment=d.environment,
            **({"description": d.description} if d.description else {}),
        )
        contacted = {}
        for e in d.events:
            if e.kind in RelationshipEvent.CONTACT_KINDS:
                for key in e.people:
                    contacted[key] = min(contacted.get(key, e.days_ago), e.days_ago)
        for n, p in enumerate(d.people):
            days = contacted.get(p.key, p.silent)
            people[(code, p.key)] = DecisionMaker(
                account=account, name=p.name, title=p.title, department=p.department, buying_role=p.role,
                influence=p.influence, attitude=p.attitude, phone=f"{d.phone_prefix} {1000 + 37 * n}",
                email=_email(p.name, code), birthday=_birthday(p, today), interests=p.interests, notes=p.notes,
                last_contacted=None if days is None else today - dt.timedelta(days=days),
            )
        for e in d.events:
            events.append((code, e, RelationshipEvent(
                account=account, date=today - dt.timedelta(days=e.days_ago), kind=e.kind, summary=e.summary,
                outcome=e.outcome, reason=e.reason, recorded_by=account.owner,
            )))
        presences += [
            CompetitorPresence(
                account=account, competitor_id=brand_ids[c.brand], estimated_share=c.share, strengths=c.strengths,
                weaknesses=c.weaknesses, activity=c.activity, updated_on=today - dt.timedelta(days=c.days_ago),
            )
            for c in d.competitors
        ]
    DecisionMaker.objects.bulk_create(people.values())
    bosses = []
    for code, d in DOSSIERS.items():
        for p in d.people:
            if p.boss and (code, p.key) in people:
                person = people[(code, p.key)]
                person.reports_to = people[(code, p.boss)]
                bosses.append(person)
    DecisionMaker.objects.bulk_update(bosses, ["reports_to"])
    RelationshipEvent.objects.bulk_create([event for _, _, event in events])
    through = RelationshipEvent.decision_makers.through
    through.objects.bulk_create([
        through(relationshipevent_id=event.pk, decisionmaker_id=people[(code, key)].pk)
        for code, spec, event in events for key in spec.people
    ])
    CompetitorPresence.objects.bulk_create(presences)
    _audit_as_entered(accounts, people.values(), [event for _, _, event in events], presences, today=today)
    _edit(people, users)


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _audit_as_entered(accounts, people, events, presences, *, today) -> None:
    """Audit rows as if each entry had been typed by the account's KA manager when it happened."""
    year_ago = today - dt.timedelta(days=365)
    fresh = list(KeyAccount.objects.filter(pk__in=[a.pk for a in accounts.values()]).select_related("owner"))
    owners = {a.pk: a.owner for a in fresh}
    for account in fresh:
        account._history_date, account._history_user = _at(year_ago - dt.timedelta(days=30), 9), None
    for person in people:
        person._history_date, person._history_user = _at(year_ago), owners.get(person.account_id)
    for event in events:
        event._history_date, event._history_user = _at(min(event.date, today), 18), owners.get(event.account_id)
    for presence in presences:
        presence._history_date, presence._history_user = _at(presence.updated_on, 17), owners.get(presence.account_id)
    KeyAccount.audit.bulk_history_create(fresh)
    DecisionMaker.audit.bulk_history_create(list(people))
    RelationshipEvent.audit.bulk_history_create(events)
    CompetitorPresence.audit.bulk_history_create(presences)
    for obj in [*fresh, *people, *events, *presences]:
        del obj._history_date, obj._history_user  # later saves are audited as of their own time


def _edit(people, users) -> None:
    for code, username, key, changes in EDITS:
        person = people.get((code, key))
        if person is not None and username in users:
            save_decision_maker(account=person.account, user=users[username], person=person, **changes)
    # rep1 corrects yesterday's own sales at the Valmore store with the most units: the dossier lists it.
    visit = (
        StoreVisit.objects.filter(store__account__code="valmore", rep__username="rep1", total_sales__gt=F("own_sales"))
        .order_by("-date", "-total_sales").first()
    )
    if visit is not None:
        visit._history_user, visit._history_date = users.get("rep1"), _at(visit.date, 16)
        StoreVisit.audit.bulk_history_create([visit])
        del visit._history_date
        correct_visit(visit=visit, own_sales=visit.own_sales + 1,
                      notes="Own sales corrected from the store's till report.")
