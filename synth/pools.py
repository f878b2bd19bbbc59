"""Name, place and organisation pools for the synthetic council, split into disjoint train/eval halves.

A model trained on a council generated with ``split="train"`` must be evaluated on names, places and
templates it has never seen, so every pool is partitioned deterministically by a hash of each value:
about a quarter of the values go to ``eval`` and the rest to ``train``, and no value is in both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

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
    "Mohammed", "Ahmed", "Bilal", "Imran", "Tariq", "Yusuf", "Arjun", "Rohan", "Sanjay", "Vikram",
    "Kwame", "Kofi", "Chidi", "Emeka", "Tunde", "Jamal", "Dwayne", "Marlon", "Wei", "Jun", "Tomasz",
    "Piotr", "Marek", "Andrei", "Florin", "Stefan", "Luca", "Mateo",
)  # fmt: skip
EXTRA_FIRST_FEMALE = (
    "Aisha", "Fatima", "Zainab", "Amira", "Ayesha", "Priya", "Anjali", "Sunita", "Kiran", "Nisha",
    "Ama", "Abena", "Chioma", "Ngozi", "Folake", "Shanice", "Keisha", "Tanisha", "Mei", "Ling",
    "Agnieszka", "Katarzyna", "Magdalena", "Ioana", "Elena", "Sofia",
)  # fmt: skip
EXTRA_SURNAMES = (
    "Khan", "Hussain", "Ahmed", "Ali", "Begum", "Iqbal", "Patel", "Sharma", "Singh", "Kaur",
    "Mensah", "Okafor", "Adeyemi", "Okonkwo", "Boateng", "Campbell", "Francis", "Thompson-Reid",
    "Chen", "Wang", "Li", "Nowak", "Kowalski", "Wisniewski", "Popescu", "Ionescu", "Horvat",
)  # fmt: skip

STREET_STEMS = (
    "Mill", "Church", "Station", "High", "Park", "Victoria", "Albert", "Queen", "King", "Manor",
    "Chapel", "School", "Orchard", "Meadow", "Willow", "Beech", "Oak", "Ash", "Elm", "Hawthorn",
    "Castle", "Abbey", "Bridge", "Market", "North", "South", "West", "East", "Green", "Springfield",
    "Riverside", "Moor", "Dale", "Fell", "Heather", "Bracken", "Grange", "Priory", "Minster",
    "Swaledale", "Wensley", "Nidd", "Ure", "Esk", "Derwent", "Rye", "Foss", "Ouse", "Cleveland",
    "Hambleton", "Howard", "Wharfe", "Aire", "Calder", "Colne", "Skell", "Laver", "Bishop",
    "Deanery", "Garth", "Ings", "Carr", "Holme", "Thorpe", "Kirk", "Ridge", "Shaw", "Tofts",
)  # fmt: skip
STREET_SUFFIXES = (
    "Road", "Street", "Lane", "Close", "Avenue", "Crescent", "Drive", "Way", "Grove", "Terrace",
    "Gardens", "Court", "Place", "View", "Walk", "Rise", "Mews", "Row",
)  # fmt: skip
TOWNS = (
    ("Thirsk", "YO7"), ("Northallerton", "DL6"), ("Bedale", "DL8"), ("Ripon", "HG4"),
    ("Harrogate", "HG1"), ("Knaresborough", "HG5"), ("Skipton", "BD23"), ("Settle", "BD24"),
    ("Selby", "YO8"), ("Tadcaster", "LS24"), ("Malton", "YO17"), ("Pickering", "YO18"),
    ("Scarborough", "YO11"), ("Whitby", "YO21"), ("Filey", "YO14"), ("Richmond", "DL10"),
    ("Catterick", "DL9"), ("Leyburn", "DL8"), ("Easingwold", "YO61"), ("Stokesley", "TS9"),
    ("Great Ayton", "TS9"), ("Boroughbridge", "YO51"), ("Sherburn", "LS25"), ("Helmsley", "YO62"),
    ("Masham", "HG4"), ("Pateley Bridge", "HG3"), ("Hawes", "DL8"), ("Ingleton", "LA6"),
    ("Eastfield", "YO11"), ("Norton", "YO17"), ("Sowerby", "YO7"), ("Brompton", "DL6"),
)  # fmt: skip
SCHOOL_STEMS = (
    "St Mary's", "St Peter's", "Holy Trinity", "All Saints", "Oakwood", "Riverside", "Meadowfield",
    "Castle Hill", "Hillside", "Greenfields", "Bishop Monkton", "Sowerby", "Brompton", "Applegarth",
    "Ashfield", "Westfield", "Moorside", "Valley", "Abbey Grange", "Dales", "Kirkby", "Highfield",
    "Millbrook", "Larchfield", "Heathcote", "Springwater", "Thornton", "Fairfax", "Roseberry",
)  # fmt: skip
SCHOOL_KINDS = (
    "Primary School", "C of E Primary School", "Academy", "Community Primary School",
    "High School", "Infant School", "Junior School", "Nursery School", "College",
)  # fmt: skip
GP_STEMS = (
    "Mowbray House", "Lambert", "Church Lane", "Station View", "Market Place", "Beech Tree",
    "Millfield", "Castlegate", "Dalesview", "Hambleton", "Priory", "Park Parade", "Eastgate",
    "Friary", "Minster", "Kirkgate", "Spring Bank", "Harewood", "Ryedale", "Willowbank",
)  # fmt: skip
GP_KINDS = ("Surgery", "Medical Centre", "Health Centre", "Medical Practice", "Family Practice")
ORGANISATIONS = (
    "North Yorkshire Police", "Harrogate District Hospital", "Friarage Hospital",
    "Women's Aid", "IDAS", "Barnardo's", "NSPCC", "Citizens Advice", "Home-Start",
    "Compass REACH", "Foodbank", "Job Centre Plus", "Broadacres Housing", "Yorkshire Housing",
    "CAMHS", "Probation Service", "Youth Justice Service", "Early Help Team",
    "Family Support Service", "Adult Mental Health Team", "Turning Point", "The Children's Society",
    "Action for Children", "Scarborough Hospital", "Health Visiting Team", "Sure Start Centre",
    "Relate", "Samaritans", "St Michael's Hospice", "Horizons Recovery Service",
)  # fmt: skip
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
    "John", "Jonathan", "William", "Robert", "Richard", "James", "Michael", "Thomas", "Christopher",
    "Daniel", "Matthew", "Anthony", "Andrew", "Stephen", "Steven", "Joseph", "Benjamin", "Samuel",
    "Alexander", "Edward", "Nicholas", "Peter", "David", "Charles", "Henry", "Timothy", "Patrick",
    "Kenneth", "Ronald", "Gerald", "Frederick", "Leonard", "Lawrence", "Nathaniel", "Joshua",
    "Zachary", "Callum", "Oliver",
}  # fmt: skip
