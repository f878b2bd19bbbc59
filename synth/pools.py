"""Name, place and organisation pools for the synthetic council, split into disjoint train/eval halves.

A model trained on a council generated with ``split="train"`` must be evaluated on names, places and
templates it has never seen, so every pool is partitioned deterministically by a hash of each value:
about a quarter of the values go to ``eval`` and the rest to ``train``, and no value is in both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from faker.providers.person.en_GB import Provider as GBPerson

SPLITS = ("train", "eval")

# Common nicknames and short forms: the name-variant problem the council pilot never solved
# ("Jon, John, Jonny, Johnathan, J"). The generator uses them to write realistic variants; the
# pipeline must not read this map (it has its own alias list), or evaluation would be circular.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "John": ("Jon", "Jonny", "Johnny", "Jack"),
    "Jonathan": ("Jon", "Jonny", "Johnathan"),
    "William": ("Will", "Bill", "Billy", "Liam"),
    "Robert": ("Rob", "Bob", "Robbie", "Bobby"),
    "Richard": ("Rich", "Rick", "Dick", "Richie"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Michael": ("Mike", "Mick", "Mikey"),
    "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris", "Kit"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt", "Matty"),
    "Anthony": ("Tony", "Ant"),
    "Andrew": ("Andy", "Drew"),
    "Stephen": ("Steve", "Stevie"),
    "Steven": ("Steve", "Stevie"),
    "Joseph": ("Joe", "Joey"),
    "Benjamin": ("Ben", "Benny"),
    "Samuel": ("Sam", "Sammy"),
    "Alexander": ("Alex", "Sandy", "Xander"),
    "Edward": ("Ed", "Eddie", "Ted", "Ned"),
    "Nicholas": ("Nick", "Nicky"),
    "Peter": ("Pete",),
    "David": ("Dave", "Davey"),
    "Charles": ("Charlie", "Chas", "Chuck"),
    "Henry": ("Harry", "Hal"),
    "Timothy": ("Tim", "Timmy"),
    "Patrick": ("Pat", "Paddy"),
    "Kenneth": ("Ken", "Kenny"),
    "Ronald": ("Ron", "Ronnie"),
    "Gerald": ("Gerry",),
    "Frederick": ("Fred", "Freddie"),
    "Leonard": ("Len", "Lenny"),
    "Lawrence": ("Larry", "Laurie"),
    "Nathaniel": ("Nat", "Nate"),
    "Joshua": ("Josh",),
    "Zachary": ("Zach", "Zac"),
    "Callum": ("Cal",),
    "Oliver": ("Ollie", "Olly"),
    "Elizabeth": ("Liz", "Beth", "Lizzie", "Betty", "Eliza"),
    "Margaret": ("Maggie", "Peggy", "Meg", "Marge"),
    "Patricia": ("Pat", "Patsy", "Trish"),
    "Katherine": ("Kate", "Kathy", "Katie", "Kat"),
    "Catherine": ("Cath", "Cathy", "Kate"),
    "Jennifer": ("Jen", "Jenny"),
    "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Vicky", "Tori"),
    "Alexandra": ("Alex", "Lexi", "Sandra"),
    "Samantha": ("Sam", "Sammie"),
    "Deborah": ("Debbie", "Deb"),
    "Susan": ("Sue", "Suzy"),
    "Jacqueline": ("Jackie",),
    "Christine": ("Chris", "Chrissie", "Tina"),
    "Abigail": ("Abbie", "Abby"),
    "Charlotte": ("Charlie", "Lottie"),
    "Jessica": ("Jess", "Jessie"),
    "Natalie": ("Nat",),
    "Amanda": ("Mandy",),
    "Josephine": ("Jo", "Josie"),
    "Joanne": ("Jo",),
    "Danielle": ("Dani",),
    "Gemma": ("Gem",),
    "Nicola": ("Nicky", "Nic"),
    "Stephanie": ("Steph",),
    "Frances": ("Fran", "Frankie"),
    "Eleanor": ("Ellie", "Nell"),
    "Theresa": ("Tess", "Terri"),
    "Kimberley": ("Kim",),
    "Louise": ("Lou",),
    "Megan": ("Meg",),
    "Isabella": ("Bella", "Izzy"),
    "Olivia": ("Liv", "Livvy"),
    "Sophie": ("Soph",),
    "Amelia": ("Millie", "Amy"),
    "Evelyn": ("Evie",),
    "Florence": ("Flo", "Florrie"),
    "Matilda": ("Tilly",),
    "Harriet": ("Hattie",),
}

# Names common in the minority ethnic communities of English councils, so a child's or adopter's
# recorded ethnicity and their name are plausible together. Split like every other pool.
EXTRA_FIRST_MALE = (
    "Mohammed",
    "Ahmed",
    "Bilal",
    "Imran",
    "Tariq",
    "Yusuf",
    "Arjun",
    "Rohan",
    "Sanjay",
    "Vikram",
    "Kwame",
    "Kofi",
    "Chidi",
    "Emeka",
    "Tunde",
    "Jamal",
    "Dwayne",
    "Marlon",
    "Wei",
    "Jun",
    "Tomasz",
    "Piotr",
    "Marek",
    "Andrei",
    "Florin",
    "Stefan",
    "Luca",
    "Mateo",
)
EXTRA_FIRST_FEMALE = (
    "Aisha",
    "Fatima",
    "Zainab",
    "Amira",
    "Ayesha",
    "Priya",
    "Anjali",
    "Sunita",
    "Kiran",
    "Nisha",
    "Ama",
    "Abena",
    "Chioma",
    "Ngozi",
    "Folake",
    "Shanice",
    "Keisha",
    "Tanisha",
    "Mei",
    "Ling",
    "Agnieszka",
    "Katarzyna",
    "Magdalena",
    "Ioana",
    "Elena",
    "Sofia",
)
EXTRA_SURNAMES = (
    "Khan",
    "Hussain",
    "Ahmed",
    "Ali",
    "Begum",
    "Iqbal",
    "Patel",
    "Sharma",
    "Singh",
    "Kaur",
    "Mensah",
    "Okafor",
    "Adeyemi",
    "Okonkwo",
    "Boateng",
    "Campbell",
    "Francis",
    "Thompson-Reid",
    "Chen",
    "Wang",
    "Li",
    "Nowak",
    "Kowalski",
    "Wisniewski",
    "Popescu",
    "Ionescu",
    "Horvat",
)

STREET_STEMS = (
    "Mill",
    "Church",
    "Station",
    "High",
    "Park",
    "Victoria",
    "Albert",
    "Queen",
    "King",
    "Manor",
    "Chapel",
    "School",
    "Orchard",
    "Meadow",
    "Willow",
    "Beech",
    "Oak",
    "Ash",
    "Elm",
    "Hawthorn",
    "Castle",
    "Abbey",
    "Bridge",
    "Market",
    "North",
    "South",
    "West",
    "East",
    "Green",
    "Springfield",
    "Riverside",
    "Moor",
    "Dale",
    "Fell",
    "Heather",
    "Bracken",
    "Grange",
    "Priory",
    "Minster",
    "Swaledale",
    "Wensley",
    "Nidd",
    "Ure",
    "Esk",
    "Derwent",
    "Rye",
    "Foss",
    "Ouse",
    "Cleveland",
    "Hambleton",
    "Howard",
    "Wharfe",
    "Aire",
    "Calder",
    "Colne",
    "Skell",
    "Laver",
    "Bishop",
    "Deanery",
    "Garth",
    "Ings",
    "Carr",
    "Holme",
    "Thorpe",
    "Kirk",
    "Ridge",
    "Shaw",
    "Tofts",
)
STREET_SUFFIXES = (
    "Road",
    "Street",
    "Lane",
    "Close",
    "Avenue",
    "Crescent",
    "Drive",
    "Way",
    "Grove",
    "Terrace",
    "Gardens",
    "Court",
    "Place",
    "View",
    "Walk",
    "Rise",
    "Mews",
    "Row",
)
POSTCODES_FILE = Path(__file__).resolve().parent / "data" / "postcodes.csv"


@cache
def _postcodes_by_district() -> dict[str, tuple[str, ...]]:
    by_district: dict[str, list[str]] = {}
    for line in POSTCODES_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        district, postcode, _ = line.split(",")
        by_district.setdefault(district, []).append(postcode)
    return {d: tuple(p) for d, p in by_district.items()}


def real_postcodes(district: str) -> tuple[str, ...]:
    """Real postcodes of an outward district (scripts/extract_real_postcodes.py took them from the ONS-derived
    register the DfE 903 validator bundles): the 903 rules look postcodes up, so fictional ones fail them."""
    return _postcodes_by_district()[district]


TOWNS = (  # East Riding of Yorkshire: its LA code has been stable since 2021, which the DfE 903 validator's data needs
    ("Beverley", "HU17"),
    ("Driffield", "YO25"),
    ("Bridlington", "YO16"),
    ("Goole", "DN14"),
    ("Hornsea", "HU18"),
    ("Pocklington", "YO42"),
    ("Market Weighton", "YO43"),
    ("Howden", "DN14"),
    ("Withernsea", "HU19"),
    ("Hedon", "HU12"),
    ("Cottingham", "HU16"),
    ("Hessle", "HU13"),
    ("Anlaby", "HU10"),
    ("Willerby", "HU10"),
    ("Brough", "HU15"),
    ("Elloughton", "HU15"),
    ("Flamborough", "YO15"),
    ("Leven", "HU17"),
    ("Patrington", "HU12"),
    ("Holme-on-Spalding-Moor", "YO43"),
    ("Stamford Bridge", "YO41"),
    ("Snaith", "DN14"),
    ("Kirk Ella", "HU10"),
    ("Walkington", "HU17"),
    ("Nafferton", "YO25"),
    ("Hutton Cranswick", "YO25"),
    ("North Ferriby", "HU14"),
    ("South Cave", "HU15"),
    ("Swanland", "HU14"),
    ("Aldbrough", "HU11"),
    ("Keyingham", "HU12"),
    ("Burstwick", "HU12"),
)
SCHOOL_STEMS = (
    "St Mary's",
    "St Peter's",
    "Holy Trinity",
    "All Saints",
    "Oakwood",
    "Riverside",
    "Meadowfield",
    "Castle Hill",
    "Hillside",
    "Greenfields",
    "Bishop Monkton",
    "Sowerby",
    "Brompton",
    "Applegarth",
    "Ashfield",
    "Westfield",
    "Moorside",
    "Valley",
    "Abbey Grange",
    "Dales",
    "Kirkby",
    "Highfield",
    "Millbrook",
    "Larchfield",
    "Heathcote",
    "Springwater",
    "Thornton",
    "Fairfax",
    "Roseberry",
)
SCHOOL_KINDS = (
    "Primary School",
    "C of E Primary School",
    "Academy",
    "Community Primary School",
    "High School",
    "Infant School",
    "Junior School",
    "Nursery School",
    "College",
)
GP_STEMS = (
    "Mowbray House",
    "Lambert",
    "Church Lane",
    "Station View",
    "Market Place",
    "Beech Tree",
    "Millfield",
    "Castlegate",
    "Dalesview",
    "Hambleton",
    "Priory",
    "Park Parade",
    "Eastgate",
    "Friary",
    "Minster",
    "Kirkgate",
    "Spring Bank",
    "Harewood",
    "Ryedale",
    "Willowbank",
)
GP_KINDS = ("Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice")
ORGANISATIONS = (
    "Humberside Police",
    "Castle Hill Hospital",
    "Hull Royal Infirmary",
    "Women's Aid",
    "IDAS",
    "Barnardo's",
    "NSPCC",
    "Citizens Advice",
    "Home-Start",
    "Compass REACH",
    "Foodbank",
    "Job Centre Plus",
    "Broadacres Housing",
    "Yorkshire Housing",
    "CAMHS",
    "Probation Service",
    "Youth Justice Service",
    "Early Help Team",
    "Family Support Service",
    "Adult Mental Health Team",
    "Turning Point",
    "The Children's Society",
    "Action for Children",
    "Bridlington Hospital",
    "Health Visiting Team",
    "Sure Start Centre",
    "Relate",
    "Samaritans",
    "St Michael's Hospice",
    "Horizons Recovery Service",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.co.uk")


def split_of(value: str) -> str:
    """The split a pool value belongs to: stable across runs, machines and Python versions."""
    digest = hashlib.sha1(value.encode("utf-8")).digest()
    return "eval" if digest[0] % 4 == 0 else "train"


def _take(values, split: str) -> tuple:
    seen: dict = {}
    for v in values:
        key = v[0] if isinstance(v, tuple) else v
        if split_of(key) == split:
            seen.setdefault(key, v)
    return tuple(seen.values())


@dataclass(frozen=True)
class Pools:
    split: str
    first_male: tuple[str, ...]
    first_female: tuple[str, ...]
    minority_first_male: tuple[str, ...]
    minority_first_female: tuple[str, ...]
    surnames: tuple[str, ...]
    minority_surnames: tuple[str, ...]
    street_stems: tuple[str, ...]
    towns: tuple[tuple[str, str], ...]
    school_stems: tuple[str, ...]
    gp_stems: tuple[str, ...]
    organisations: tuple[str, ...]


@cache
def pools_for(split: str) -> Pools:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    nick_male = {n for n in NICKNAMES if n in set(GBPerson.first_names_male) or n in _MALE_NICK_BASES}
    male = sorted(set(GBPerson.first_names_male) | nick_male)
    female = sorted((set(GBPerson.first_names_female) | set(NICKNAMES)) - set(male))
    return Pools(
        split=split,
        first_male=_take(male, split),
        first_female=_take(female, split),
        minority_first_male=_take(EXTRA_FIRST_MALE, split),
        minority_first_female=_take(EXTRA_FIRST_FEMALE, split),
        surnames=_take(sorted(set(GBPerson.last_names)), split),
        minority_surnames=_take(EXTRA_SURNAMES, split),
        street_stems=_take(STREET_STEMS, split),
        towns=_take(TOWNS, split),
        school_stems=_take(SCHOOL_STEMS, split),
        gp_stems=_take(GP_STEMS, split),
        organisations=_take(ORGANISATIONS, split),
    )


_MALE_NICK_BASES = {
    "John",
    "Jonathan",
    "William",
    "Robert",
    "Richard",
    "James",
    "Michael",
    "Thomas",
    "Christopher",
    "Daniel",
    "Matthew",
    "Anthony",
    "Andrew",
    "Stephen",
    "Steven",
    "Joseph",
    "Benjamin",
    "Samuel",
    "Alexander",
    "Edward",
    "Nicholas",
    "Peter",
    "David",
    "Charles",
    "Henry",
    "Timothy",
    "Patrick",
    "Kenneth",
    "Ronald",
    "Gerald",
    "Frederick",
    "Leonard",
    "Lawrence",
    "Nathaniel",
    "Joshua",
    "Zachary",
    "Callum",
    "Oliver",
}
