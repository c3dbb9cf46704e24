"""Static reference data for the simulated feed: sports and how they are played, countries, names.

Nothing here is random or stateful. The world draws from these tables with its seeded generator;
the market catalog reads a sport's :class:`SportProfile` to decide which markets it offers and how
to price them.

Two kinds of sport exist. *Timed* sports (football, basketball, ...) run a clock through a fixed
number of periods and score through a Poisson process. *Set* sports (tennis, volleyball, darts,
esports maps, snooker frames, ...) are a race to win sets, each set a race to a points target.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["timed", "sets"]
ScoreModel = Literal["poisson", "normal"]
TeamStyle = Literal["club", "player", "pair", "esports"]


@dataclass(frozen=True, slots=True)
class StatSpec:
    """A countable live statistic (corners, cards) that also gets its own totals markets."""

    key: str  # the ``stats`` key, e.g. "corner"
    label: str  # market wording, e.g. "Corners"
    mean: float  # per team per match
    market_type: str  # BasaltKind stem, e.g. "Corners"


@dataclass(frozen=True, slots=True)
class SportProfile:
    """How one sport is shown (id, name, alias, order, type) and how it is played and priced."""

    id: int
    name: str
    alias: str
    order: int
    type: int  # 0 regular; 1 virtual and 4 outright-style ones are filtered out by the hub
    kind: Kind
    weight: float  # share of the world's games
    team_style: TeamStyle
    three_way: bool = False  # a draw is a result (football) rather than decided by overtime
    period_noun: str = "Period"
    score_noun: str = "Points"
    # timed sports
    periods: int = 2
    period_minutes: int = 45
    score_model: ScoreModel = "poisson"
    mean_score: float = 1.0  # per team per match
    score_sd: float = 1.0  # per team per match, normal model only
    points: tuple[tuple[int, float], ...] = ((1, 1.0),)  # points per scoring event, with weights
    added_time: bool = False  # stoppage time shown as ``add_minutes``
    alternate_batting: bool = False  # only one side scores in each period (cricket innings)
    stats: tuple[StatSpec, ...] = ()
    total_step: float = 1.0  # distance between neighbouring total lines
    margin_band: int = 5  # width of a winning-margin band
    # set sports
    sets_to_win: int = 2
    set_target: int = 6
    win_by: int = 2
    set_cap: int = 0  # a set ends at this many points whatever the lead (0: no cap)
    point_seconds: float = 60.0  # mean real seconds per point at time scale 1
    points_per_set: float = 10.0  # pricing: mean points in a set, both sides together
    points_sd: float = 2.0  # pricing: standard deviation of points in a set
    point_spread: float = 0.05  # pricing: spread of a side's chance to win a point around 0.5
    point_markets: bool = True  # offer totals and handicaps on points (not for snooker frames)
    regions: tuple[str, ...] = field(default=())  # countries hosting its competitions

    @property
    def match_minutes(self) -> int:
        return self.periods * self.period_minutes

    @property
    def match_length(self) -> int:
        """Swarm's ``match_length``: minutes for timed sports, best-of sets for set sports."""
        if self.kind == "timed":
            return self.match_minutes
        return 2 * self.sets_to_win - 1

    @property
    def max_periods(self) -> int:
        return self.periods if self.kind == "timed" else 2 * self.sets_to_win - 1

    @property
    def mean_points_per_event(self) -> float:
        total = sum(w for _, w in self.points)
        return sum(p * w for p, w in self.points) / total

    def expected_live_seconds(self) -> float:
        """Mean real duration of a live game at time scale 1 (used to size the prematch horizon)."""
        if self.kind == "timed":
            return (self.match_minutes + (4 if self.added_time else 0)) * 60.0
        mean_sets = self.sets_to_win * 1.5 if self.sets_to_win > 1 else 1.0
        points = mean_sets * max(self.points_per_set, float(self.set_target))
        return points * self.point_seconds


def period_name(profile: SportProfile, period: int) -> str:
    """``1st Half``, ``3rd Quarter``, ``2nd Set`` ..."""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(period if period < 20 else period % 10, "th")
    if 11 <= period % 100 <= 13:
        suffix = "th"
    return f"{period}{suffix} {profile.period_noun}"


_FOOTBALL_REGIONS = (
    "England", "Spain", "Germany", "Italy", "France", "Portugal", "Netherlands", "Belgium",
    "Scotland", "Turkey", "Brazil", "Argentina", "USA", "Mexico", "Japan", "Sweden", "Norway",
    "Denmark", "Poland", "Australia", "Greece", "Austria", "Switzerland", "Czech Republic",
)
_EUROPE_CORE = ("Spain", "Germany", "Italy", "France", "Poland", "Turkey", "Greece", "Serbia", "Lithuania")

# The regular sports. Ids follow Swarm's habit of small stable numbers; order is the sidebar order.
SPORTS: tuple[SportProfile, ...] = (
    SportProfile(
        id=1, name="Football", alias="Soccer", order=1, type=0, kind="timed", weight=30.0,
        team_style="club", three_way=True, period_noun="Half", score_noun="Goals", periods=2,
        period_minutes=45, score_model="poisson", mean_score=1.35, added_time=True,
        stats=(
            StatSpec("corner", "Corners", 5.0, "Corners"),
            StatSpec("yellow_card", "Cards", 1.9, "Cards"),
        ),
        margin_band=1, regions=_FOOTBALL_REGIONS,
    ),
    SportProfile(
        id=2, name="Ice Hockey", alias="IceHockey", order=4, type=0, kind="timed", weight=6.0,
        team_style="club", three_way=True, period_noun="Period", score_noun="Goals", periods=3,
        period_minutes=20, score_model="poisson", mean_score=2.9, margin_band=1,
        stats=(StatSpec("shot_on_target", "Shots on Goal", 29.0, "Shots"),),
        regions=("USA", "Canada", "Sweden", "Finland", "Czech Republic", "Germany", "Switzerland", "Slovakia"),
    ),
    SportProfile(
        id=3, name="Basketball", alias="Basketball", order=3, type=0, kind="timed", weight=10.0,
        team_style="club", period_noun="Quarter", score_noun="Points", periods=4, period_minutes=10,
        score_model="normal", mean_score=80.0, score_sd=10.0, points=((1, 0.2), (2, 0.55), (3, 0.25)),
        total_step=1.0, margin_band=5, regions=("USA",) + _EUROPE_CORE + ("Australia", "China"),
    ),
    SportProfile(
        id=4, name="Tennis", alias="Tennis", order=2, type=0, kind="sets", weight=12.0,
        team_style="player", period_noun="Set", score_noun="Games", sets_to_win=2, set_target=6,
        win_by=2, set_cap=7, point_seconds=240.0, points_per_set=9.7, points_sd=1.8, point_spread=0.06,
        regions=("USA", "France", "England", "Australia", "Spain", "Italy", "Germany", "China", "Japan", "Mexico"),
    ),
    SportProfile(
        id=5, name="Volleyball", alias="Volleyball", order=5, type=0, kind="sets", weight=5.0,
        team_style="club", period_noun="Set", score_noun="Points", sets_to_win=3, set_target=25,
        win_by=2, point_seconds=30.0, points_per_set=45.0, points_sd=4.0, point_spread=0.02,
        regions=("Italy", "Poland", "Brazil", "Turkey", "Russia", "Japan", "France", "Germany"),
    ),
    SportProfile(
        id=6, name="Handball", alias="Handball", order=6, type=0, kind="timed", weight=4.0,
        team_style="club", three_way=True, period_noun="Half", score_noun="Goals", periods=2,
        period_minutes=30, score_model="normal", mean_score=28.0, score_sd=4.0, margin_band=2,
        regions=("Germany", "Denmark", "France", "Spain", "Norway", "Sweden", "Hungary", "Poland"),
    ),
    SportProfile(
        id=7, name="Baseball", alias="Baseball", order=9, type=0, kind="timed", weight=4.0,
        team_style="club", period_noun="Inning", score_noun="Runs", periods=9, period_minutes=18,
        score_model="poisson", mean_score=4.5, margin_band=1,
        regions=("USA", "Japan", "South Korea", "Mexico", "Cuba"),
    ),
    SportProfile(
        id=8, name="American Football", alias="AmericanFootball", order=10, type=0, kind="timed",
        weight=2.0, team_style="club", period_noun="Quarter", score_noun="Points", periods=4,
        period_minutes=15, score_model="normal", mean_score=23.0, score_sd=9.0,
        points=((3, 0.4), (7, 0.5), (6, 0.06), (2, 0.04)), margin_band=7, regions=("USA", "Canada"),
    ),
    SportProfile(
        id=9, name="Table Tennis", alias="TableTennis", order=7, type=0, kind="sets", weight=8.0,
        team_style="player", period_noun="Set", score_noun="Points", sets_to_win=3, set_target=11,
        win_by=2, point_seconds=20.0, points_per_set=19.5, points_sd=3.0, point_spread=0.035,
        regions=("China", "Japan", "Germany", "Czech Republic", "Russia", "Ukraine", "Poland"),
    ),
    SportProfile(
        id=10, name="Esports CS2", alias="CounterStrike2", order=8, type=0, kind="sets", weight=4.0,
        team_style="esports", period_noun="Map", score_noun="Rounds", sets_to_win=2, set_target=13,
        win_by=1, point_seconds=100.0, points_per_set=22.0, points_sd=3.0, point_spread=0.05,
        regions=("World", "Europe", "North America", "South America", "Asia"),
    ),
    SportProfile(
        id=11, name="Rugby Union", alias="RugbyUnion", order=11, type=0, kind="timed", weight=2.0,
        team_style="club", three_way=True, period_noun="Half", score_noun="Points", periods=2,
        period_minutes=40, score_model="normal", mean_score=24.0, score_sd=9.0,
        points=((3, 0.35), (5, 0.25), (7, 0.4)), margin_band=7,
        regions=("England", "France", "Ireland", "New Zealand", "South Africa", "Australia", "Wales"),
    ),
    SportProfile(
        id=12, name="Cricket", alias="Cricket", order=12, type=0, kind="timed", weight=2.0,
        team_style="club", period_noun="Innings", score_noun="Runs", periods=2, period_minutes=80,
        score_model="normal", mean_score=160.0, score_sd=22.0,
        points=((1, 0.55), (2, 0.15), (4, 0.2), (6, 0.1)), alternate_batting=True, total_step=2.0,
        margin_band=10, regions=("India", "Australia", "England", "Pakistan", "South Africa", "New Zealand"),
    ),
    SportProfile(
        id=13, name="Darts", alias="Darts", order=13, type=0, kind="sets", weight=2.0,
        team_style="player", period_noun="Set", score_noun="Legs", sets_to_win=4, set_target=3,
        win_by=1, point_seconds=150.0, points_per_set=4.3, points_sd=0.8, point_spread=0.08,
        regions=("England", "Netherlands", "Germany", "Scotland", "Wales"),
    ),
    SportProfile(
        id=14, name="Snooker", alias="Snooker", order=14, type=0, kind="sets", weight=1.5,
        team_style="player", period_noun="Frame", score_noun="Frames", sets_to_win=5, set_target=1,
        win_by=1, point_seconds=900.0, points_per_set=1.0, points_sd=0.1, point_spread=0.1,
        point_markets=False, regions=("England", "China", "Scotland", "Wales", "Germany"),
    ),
    SportProfile(
        id=15, name="Futsal", alias="Futsal", order=15, type=0, kind="timed", weight=2.0,
        team_style="club", three_way=True, period_noun="Half", score_noun="Goals", periods=2,
        period_minutes=20, score_model="poisson", mean_score=3.0, margin_band=1,
        regions=("Spain", "Brazil", "Portugal", "Russia", "Italy", "Kazakhstan"),
    ),
    SportProfile(
        id=16, name="Badminton", alias="Badminton", order=16, type=0, kind="sets", weight=2.0,
        team_style="player", period_noun="Game", score_noun="Points", sets_to_win=2, set_target=21,
        win_by=2, set_cap=30, point_seconds=15.0, points_per_set=39.0, points_sd=4.0, point_spread=0.025,
        regions=("China", "Indonesia", "Malaysia", "Denmark", "Japan", "India", "South Korea"),
    ),
    SportProfile(
        id=17, name="Beach Volleyball", alias="BeachVolleyball", order=17, type=0, kind="sets",
        weight=1.0, team_style="pair", period_noun="Set", score_noun="Points", sets_to_win=2,
        set_target=21, win_by=2, point_seconds=25.0, points_per_set=38.0, points_sd=4.0,
        point_spread=0.025, regions=("Brazil", "USA", "Germany", "Italy", "Netherlands", "Norway"),
    ),
    SportProfile(
        id=18, name="Water Polo", alias="WaterPolo", order=18, type=0, kind="timed", weight=1.0,
        team_style="club", three_way=True, period_noun="Quarter", score_noun="Goals", periods=4,
        period_minutes=8, score_model="normal", mean_score=10.0, score_sd=3.0, margin_band=2,
        regions=("Hungary", "Serbia", "Croatia", "Italy", "Spain", "Greece"),
    ),
)

# Sports the hub filters out with ``sport.type {"@nin":[1,4]}``.
EXTRA_SPORTS: tuple[SportProfile, ...] = (
    SportProfile(
        id=90, name="Virtual Football", alias="VirtualFootball", order=90, type=1, kind="timed",
        weight=2.0, team_style="club", three_way=True, period_noun="Half", score_noun="Goals",
        periods=2, period_minutes=45, score_model="poisson", mean_score=1.4, margin_band=1,
        regions=("England", "Spain", "Germany", "Italy"),
    ),
    SportProfile(
        id=91, name="Virtual Tennis", alias="VirtualTennis", order=91, type=4, kind="sets",
        weight=1.0, team_style="player", period_noun="Set", score_noun="Games", sets_to_win=2,
        set_target=6, win_by=2, set_cap=7, point_seconds=240.0, points_per_set=9.7, points_sd=1.8,
        point_spread=0.06, regions=("World",),
    ),
)


@dataclass(frozen=True, slots=True)
class Country:
    name: str
    alias: str
    cities: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country("England", "England", ("London", "Manchester", "Liverpool", "Leeds", "Birmingham", "Bristol", "Newcastle", "Sheffield", "Brighton", "Nottingham")),
    Country("Spain", "Spain", ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Malaga", "Zaragoza", "Vigo", "Granada")),
    Country("Germany", "Germany", ("Berlin", "Munich", "Hamburg", "Dortmund", "Cologne", "Frankfurt", "Stuttgart", "Bremen", "Leipzig")),
    Country("Italy", "Italy", ("Rome", "Milan", "Turin", "Naples", "Florence", "Bologna", "Genoa", "Verona", "Bergamo")),
    Country("France", "France", ("Paris", "Marseille", "Lyon", "Lille", "Nice", "Bordeaux", "Nantes", "Toulouse", "Rennes")),
    Country("Portugal", "Portugal", ("Lisbon", "Porto", "Braga", "Coimbra", "Faro", "Guimaraes", "Setubal")),
    Country("Netherlands", "Netherlands", ("Amsterdam", "Rotterdam", "Eindhoven", "Utrecht", "Groningen", "Twente", "Breda")),
    Country("Belgium", "Belgium", ("Brussels", "Antwerp", "Bruges", "Ghent", "Liege", "Genk", "Charleroi")),
    Country("Scotland", "Scotland", ("Glasgow", "Edinburgh", "Aberdeen", "Dundee", "Inverness", "Perth")),
    Country("Turkey", "Turkey", ("Istanbul", "Ankara", "Izmir", "Trabzon", "Bursa", "Antalya", "Konya")),
    Country("Brazil", "Brazil", ("Sao Paulo", "Rio de Janeiro", "Porto Alegre", "Belo Horizonte", "Recife", "Salvador", "Curitiba")),
    Country("Argentina", "Argentina", ("Buenos Aires", "Rosario", "Cordoba", "La Plata", "Mendoza", "Tucuman")),
    Country("USA", "USA", ("New York", "Los Angeles", "Chicago", "Boston", "Miami", "Seattle", "Denver", "Dallas", "Atlanta", "Houston")),
    Country("Mexico", "Mexico", ("Mexico City", "Guadalajara", "Monterrey", "Puebla", "Tijuana", "Leon")),
    Country("Japan", "Japan", ("Tokyo", "Osaka", "Yokohama", "Nagoya", "Sapporo", "Kobe", "Fukuoka")),
    Country("Sweden", "Sweden", ("Stockholm", "Gothenburg", "Malmo", "Uppsala", "Orebro", "Linkoping")),
    Country("Norway", "Norway", ("Oslo", "Bergen", "Trondheim", "Stavanger", "Bodo", "Tromso")),
    Country("Denmark", "Denmark", ("Copenhagen", "Aarhus", "Odense", "Aalborg", "Esbjerg", "Randers")),
    Country("Poland", "Poland", ("Warsaw", "Krakow", "Gdansk", "Poznan", "Wroclaw", "Lodz", "Katowice")),
    Country("Australia", "Australia", ("Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Newcastle")),
    Country("Greece", "Greece", ("Athens", "Thessaloniki", "Patras", "Heraklion", "Larissa", "Volos")),
    Country("Austria", "Austria", ("Vienna", "Salzburg", "Graz", "Linz", "Innsbruck", "Klagenfurt")),
    Country("Switzerland", "Switzerland", ("Zurich", "Basel", "Bern", "Geneva", "Lucerne", "Lugano")),
    Country("Czech Republic", "CzechRepublic", ("Prague", "Brno", "Ostrava", "Plzen", "Liberec", "Olomouc")),
    Country("Canada", "Canada", ("Toronto", "Montreal", "Vancouver", "Calgary", "Edmonton", "Ottawa", "Winnipeg")),
    Country("Finland", "Finland", ("Helsinki", "Tampere", "Turku", "Oulu", "Espoo", "Lahti")),
    Country("Slovakia", "Slovakia", ("Bratislava", "Kosice", "Zilina", "Nitra", "Trencin")),
    Country("Serbia", "Serbia", ("Belgrade", "Novi Sad", "Nis", "Kragujevac", "Subotica")),
    Country("Lithuania", "Lithuania", ("Vilnius", "Kaunas", "Klaipeda", "Siauliai", "Panevezys")),
    Country("China", "China", ("Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Wuhan", "Chengdu")),
    Country("Russia", "Russia", ("Moscow", "Saint Petersburg", "Kazan", "Novosibirsk", "Yekaterinburg")),
    Country("Hungary", "Hungary", ("Budapest", "Debrecen", "Szeged", "Pecs", "Gyor")),
    Country("Croatia", "Croatia", ("Zagreb", "Split", "Rijeka", "Osijek", "Zadar")),
    Country("India", "India", ("Mumbai", "Delhi", "Kolkata", "Chennai", "Bangalore", "Hyderabad")),
    Country("Pakistan", "Pakistan", ("Karachi", "Lahore", "Islamabad", "Peshawar", "Multan")),
    Country("South Africa", "SouthAfrica", ("Johannesburg", "Cape Town", "Durban", "Pretoria", "Bloemfontein")),
    Country("New Zealand", "NewZealand", ("Auckland", "Wellington", "Christchurch", "Hamilton", "Dunedin")),
    Country("Ireland", "Ireland", ("Dublin", "Cork", "Limerick", "Galway", "Belfast")),
    Country("Wales", "Wales", ("Cardiff", "Swansea", "Newport", "Llanelli", "Wrexham")),
    Country("South Korea", "SouthKorea", ("Seoul", "Busan", "Incheon", "Daegu", "Gwangju")),
    Country("Cuba", "Cuba", ("Havana", "Santiago", "Camaguey", "Holguin", "Matanzas")),
    Country("Ukraine", "Ukraine", ("Kyiv", "Kharkiv", "Odesa", "Lviv", "Dnipro")),
    Country("Kazakhstan", "Kazakhstan", ("Almaty", "Astana", "Shymkent", "Karaganda", "Aktobe")),
    Country("Indonesia", "Indonesia", ("Jakarta", "Surabaya", "Bandung", "Medan", "Semarang")),
    Country("Malaysia", "Malaysia", ("Kuala Lumpur", "Penang", "Johor Bahru", "Ipoh", "Kuching")),
    Country("World", "World", ("Dubai", "Singapore", "Doha", "Las Vegas", "Monaco")),
    Country("Europe", "Europe", ("Cologne", "Katowice", "Copenhagen", "Malta", "Belgrade")),
    Country("North America", "NorthAmerica", ("Dallas", "Austin", "Atlanta", "Toronto", "Las Vegas")),
    Country("South America", "SouthAmerica", ("Sao Paulo", "Buenos Aires", "Santiago", "Lima", "Bogota")),
    Country("Asia", "Asia", ("Shanghai", "Seoul", "Tokyo", "Bangkok", "Manila")),
)
COUNTRY_BY_NAME: dict[str, Country] = {c.name: c for c in COUNTRIES}
REGION_ID_BASE = 1000  # region id = REGION_ID_BASE + index in COUNTRIES

# Real competition names where we know them; other countries get generic names.
FOOTBALL_COMPETITIONS: dict[str, tuple[str, ...]] = {
    "England": ("Premier League", "Championship", "League One", "FA Cup"),
    "Spain": ("LaLiga", "LaLiga 2", "Copa del Rey"),
    "Germany": ("Bundesliga", "2. Bundesliga", "DFB Pokal"),
    "Italy": ("Serie A", "Serie B", "Coppa Italia"),
    "France": ("Ligue 1", "Ligue 2", "Coupe de France"),
    "Portugal": ("Primeira Liga", "Liga Portugal 2"),
    "Netherlands": ("Eredivisie", "Eerste Divisie"),
    "Belgium": ("Pro League",),
    "Scotland": ("Premiership", "Championship"),
    "Turkey": ("Super Lig", "1. Lig"),
    "Brazil": ("Serie A", "Serie B", "Copa do Brasil"),
    "Argentina": ("Liga Profesional", "Primera Nacional"),
    "USA": ("MLS", "USL Championship"),
    "Mexico": ("Liga MX",),
    "Japan": ("J1 League", "J2 League"),
    "Sweden": ("Allsvenskan", "Superettan"),
    "Norway": ("Eliteserien",),
    "Denmark": ("Superliga",),
    "Poland": ("Ekstraklasa",),
    "Australia": ("A-League",),
    "Greece": ("Super League",),
    "Austria": ("Bundesliga",),
    "Switzerland": ("Super League",),
    "Czech Republic": ("First League",),
}
OTHER_COMPETITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "Basketball": {"USA": ("NBA", "NCAA"), "Spain": ("Liga ACB",), "Turkey": ("BSL",), "Lithuania": ("LKL",)},
    "Ice Hockey": {"USA": ("NHL", "AHL"), "Sweden": ("SHL",), "Finland": ("Liiga",), "Germany": ("DEL",)},
    "Baseball": {"USA": ("MLB",), "Japan": ("NPB",), "South Korea": ("KBO",)},
    "American Football": {"USA": ("NFL", "NCAAF"), "Canada": ("CFL",)},
    "Cricket": {"India": ("IPL",), "Australia": ("Big Bash League",), "England": ("T20 Blast",)},
    "Darts": {"England": ("Premier League", "PDC World Championship"), "Netherlands": ("Dutch Open",)},
    "Esports CS2": {"World": ("Major", "Pro League"), "Europe": ("ESL Challenger",)},
    "Rugby Union": {"England": ("Premiership Rugby",), "France": ("Top 14",), "Ireland": ("United Rugby Championship",)},
}
GENERIC_COMPETITIONS: dict[str, tuple[str, ...]] = {
    "club": ("{country} Super League", "{country} Division 1", "{country} Cup"),
    "player": ("{city} Open", "{city} Masters", "{city} Challenger"),
    "pair": ("{city} Open", "{city} Elite 16"),
    "esports": ("{region} Masters", "{region} Open Qualifier"),
}

CLUB_SUFFIXES = ("FC", "United", "City", "Athletic", "Rovers", "SC", "Wanderers", "Sporting", "Town", "Dynamo", "Real", "Olympic")
NICKNAMES = ("Tigers", "Eagles", "Wolves", "Bears", "Lions", "Sharks", "Falcons", "Storm", "Knights", "Titans", "Hawks", "Rangers")
FIRST_INITIALS = "ABCDEFGHIJKLMNOPRSTVWYZ"
SURNAMES = (
    "Smith", "Garcia", "Muller", "Rossi", "Martin", "Silva", "Jansen", "Peeters", "Novak", "Kowalski",
    "Nielsen", "Andersson", "Johansson", "Hansen", "Virtanen", "Horvat", "Popescu", "Ivanov", "Petrov", "Tanaka",
    "Suzuki", "Kim", "Park", "Wang", "Li", "Zhang", "Chen", "Singh", "Kumar", "Khan",
    "Santos", "Ferreira", "Lopez", "Gonzalez", "Hernandez", "Fischer", "Weber", "Schmidt", "Moreau", "Laurent",
    "Bianchi", "Romano", "Costa", "Oliveira", "Nowak", "Dvorak", "Svoboda", "Kovacs", "Nagy", "Papadopoulos",
    "Yilmaz", "Demir", "Murphy", "Kelly", "Walsh", "Brown", "Wilson", "Taylor", "Evans", "Clarke",
    "OConnor", "Fraser", "Campbell", "Stewart", "Jensen", "Berg", "Lund", "Meyer", "Wagner", "Becker",
)
ESPORTS_ADJECTIVES = ("Crimson", "Silent", "Iron", "Neon", "Frozen", "Golden", "Shadow", "Rapid", "Cosmic", "Savage", "Lucky", "Royal")
ESPORTS_NOUNS = ("Wolves", "Vipers", "Ravens", "Titans", "Phantoms", "Dragons", "Spartans", "Hornets", "Owls", "Jackals", "Comets", "Panthers")
SHIRT_COLORS = (
    "FF0000", "0000FF", "FFFFFF", "000000", "FFFF00", "008000", "FFA500", "800080", "87CEEB", "8B0000",
    "00008B", "C0C0C0", "FFC0CB", "006400", "A52A2A", "00CED1",
)


def included_sports(count: int, extras: bool) -> tuple[SportProfile, ...]:
    """The first ``count`` regular sports by sidebar order, plus the filtered-out extras if asked."""
    regular = tuple(sorted(SPORTS, key=lambda s: s.order)[:count])
    chosen = regular + (EXTRA_SPORTS if extras else ())
    return tuple(sorted(chosen, key=lambda s: s.id))
