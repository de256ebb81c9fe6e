//! The demo catalog's vocabulary: the category tree, and per leaf category the
//! kinds of product it sells, with their brands, attributes and price ranges.
//!
//! Everything here is fixed; only the choices made from it depend on the seed.
//! Prices are in rands (ZAR major units) for the reference variant of a kind;
//! [`Values::Sized`], [`Values::PricedWords`] and [`Values::Flag`] scale them.

/// A category of the fixed tree. Parents come before their children.
pub(super) struct CategoryDef {
    pub slug: &'static str,
    pub name: &'static str,
    pub parent: Option<&'static str>,
    /// SKU prefix of products under this root (roots only).
    pub code: &'static str,
}

const fn root(slug: &'static str, name: &'static str, code: &'static str) -> CategoryDef {
    CategoryDef {
        slug,
        name,
        parent: None,
        code,
    }
}

const fn sub(parent: &'static str, slug: &'static str, name: &'static str) -> CategoryDef {
    CategoryDef {
        slug,
        name,
        parent: Some(parent),
        code: "",
    }
}

/// A brand that makes a kind of product, with its product lines and a model
/// number pattern (`#` is a random digit; empty for no model number).
pub(super) struct Offer {
    pub brand: &'static str,
    pub lines: &'static [&'static str],
    pub model: &'static str,
}

const fn o(brand: &'static str, lines: &'static [&'static str], model: &'static str) -> Offer {
    Offer { brand, lines, model }
}

/// The values an attribute takes.
pub(super) enum Values {
    /// One of these words.
    Words(&'static [&'static str]),
    /// One of these words, each scaling the price.
    PricedWords(&'static [(&'static str, f64)]),
    /// One of these numbers.
    Nums(&'static [f64]),
    /// One of these sizes, each scaling the price.
    Sized(&'static [(f64, f64)]),
    /// True with this chance; true scales the price by `markup`.
    Flag { chance: f64, markup: f64 },
    /// An integer in this inclusive range.
    Range(i64, i64),
}

/// One attribute of a kind.
pub(super) struct Attr {
    pub key: &'static str,
    /// How the description mentions it: a noun phrase with `{}` for the value,
    /// or for a flag two sentences `if true|if false` (either may be empty).
    pub phrase: &'static str,
    pub values: Values,
}

const fn w(key: &'static str, phrase: &'static str, values: &'static [&'static str]) -> Attr {
    Attr {
        key,
        phrase,
        values: Values::Words(values),
    }
}
const fn pw(key: &'static str, phrase: &'static str, values: &'static [(&'static str, f64)]) -> Attr {
    Attr {
        key,
        phrase,
        values: Values::PricedWords(values),
    }
}
const fn n(key: &'static str, phrase: &'static str, values: &'static [f64]) -> Attr {
    Attr {
        key,
        phrase,
        values: Values::Nums(values),
    }
}
const fn s(key: &'static str, phrase: &'static str, values: &'static [(f64, f64)]) -> Attr {
    Attr {
        key,
        phrase,
        values: Values::Sized(values),
    }
}
const fn flag(key: &'static str, phrase: &'static str, chance: f64, markup: f64) -> Attr {
    Attr {
        key,
        phrase,
        values: Values::Flag { chance, markup },
    }
}
const fn r(key: &'static str, phrase: &'static str, lo: i64, hi: i64) -> Attr {
    Attr {
        key,
        phrase,
        values: Values::Range(lo, hi),
    }
}

/// A kind of product sold in one leaf category.
pub(super) struct Kind {
    pub leaf: &'static str,
    /// Relative share of the generated products.
    pub weight: u32,
    /// Name template: `{brand}`, `{line}`, `{model}` and `{<attribute key>}`.
    pub name: &'static str,
    /// Price range in rands of the reference variant.
    pub price: (u32, u32),
    /// The description's opening sentence.
    pub blurb: &'static str,
    pub offers: &'static [Offer],
    pub attrs: &'static [Attr],
}

/// The category tree, roots in display order, each followed by its subtree.
pub(super) const CATEGORIES: &[CategoryDef] = &[
    root("paint", "Paint", "PNT"),
    sub("paint", "interior-paint", "Interior Paint"),
    sub("paint", "exterior-paint", "Exterior Paint"),
    sub("paint", "wood-finishes", "Wood Finishes"),
    sub("paint", "spray-paint", "Spray Paint"),
    sub("paint", "painting-tools", "Painting Tools"),
    sub("painting-tools", "paint-brushes", "Paint Brushes"),
    sub("painting-tools", "rollers-trays", "Rollers & Trays"),
    root("tools", "Tools", "TLS"),
    sub("tools", "power-tools", "Power Tools"),
    sub("power-tools", "drills", "Drills & Drivers"),
    sub("power-tools", "saws", "Power Saws"),
    sub("power-tools", "grinders", "Angle Grinders"),
    sub("power-tools", "sanders", "Sanders"),
    sub("tools", "hand-tools", "Hand Tools"),
    sub("hand-tools", "hammers", "Hammers & Mallets"),
    sub("hand-tools", "screwdrivers", "Screwdrivers"),
    sub("hand-tools", "spanners-wrenches", "Spanners & Wrenches"),
    sub("hand-tools", "pliers", "Pliers"),
    sub("tools", "measuring-tools", "Measuring & Levelling"),
    sub("tools", "power-tool-accessories", "Power Tool Accessories"),
    sub("tools", "tool-storage", "Tool Storage"),
    root("garden", "Garden", "GDN"),
    sub("garden", "watering", "Watering"),
    sub("watering", "hoses", "Hoses & Reels"),
    sub("watering", "sprinklers", "Sprinklers & Spray Guns"),
    sub("garden", "lawn-care", "Lawn Care"),
    sub("lawn-care", "lawnmowers", "Lawnmowers"),
    sub("lawn-care", "trimmers", "Trimmers & Brushcutters"),
    sub("garden", "garden-tools", "Garden Tools"),
    sub("garden", "pressure-washers", "Pressure Washers"),
    sub("garden", "braais", "Braais & Outdoor Cooking"),
    root("bathroom", "Bathroom", "BTH"),
    sub("bathroom", "bathroom-taps", "Bathroom Taps & Mixers"),
    sub("bathroom", "showers", "Showers"),
    sub("showers", "shower-heads", "Shower Heads"),
    sub("showers", "shower-doors", "Shower Doors"),
    sub("bathroom", "toilets", "Toilets & Seats"),
    sub("bathroom", "basins", "Basins"),
    sub("bathroom", "bathroom-accessories", "Bathroom Accessories"),
    root("kitchen", "Kitchen", "KIT"),
    sub("kitchen", "kitchen-taps", "Kitchen Taps"),
    sub("kitchen", "sinks", "Kitchen Sinks"),
    sub("kitchen", "cooker-hoods", "Cooker Hoods"),
    sub("kitchen", "worktops", "Worktops"),
    root("plumbing", "Plumbing", "PLB"),
    sub("plumbing", "pipes-fittings", "Pipes & Fittings"),
    sub("pipes-fittings", "pvc-pipes", "PVC Pipes"),
    sub("pipes-fittings", "copper-pipes", "Copper Pipes"),
    sub("pipes-fittings", "pipe-fittings", "Fittings"),
    sub("plumbing", "geysers", "Geysers & Water Heaters"),
    sub("plumbing", "valves", "Valves & Stopcocks"),
    sub("plumbing", "drainage", "Drainage"),
    root("electrical", "Electrical", "ELC"),
    sub("electrical", "cables", "Cables & Wire"),
    sub("electrical", "switches-sockets", "Switches & Sockets"),
    sub("electrical", "extension-leads", "Extension Leads & Adaptors"),
    sub("electrical", "circuit-breakers", "Circuit Breakers & DB Boards"),
    sub("electrical", "backup-power", "Backup Power"),
    sub("backup-power", "inverters", "Inverters & Power Stations"),
    sub("backup-power", "inverter-batteries", "Inverter Batteries"),
    sub("backup-power", "solar-panels", "Solar Panels"),
    root("lighting", "Lighting", "LGT"),
    sub("lighting", "light-bulbs", "Light Bulbs"),
    sub("lighting", "indoor-lighting", "Indoor Lighting"),
    sub("indoor-lighting", "ceiling-lights", "Ceiling Lights"),
    sub("indoor-lighting", "lamps", "Lamps"),
    sub("indoor-lighting", "downlights", "Downlights"),
    sub("lighting", "outdoor-lighting", "Outdoor Lighting"),
    sub("lighting", "rechargeable-lights", "Rechargeable & Emergency Lights"),
    root("flooring", "Flooring", "FLR"),
    sub("flooring", "tiles", "Tiles"),
    sub("tiles", "floor-tiles", "Floor Tiles"),
    sub("tiles", "wall-tiles", "Wall Tiles"),
    sub("flooring", "laminate-flooring", "Laminate Flooring"),
    sub("flooring", "vinyl-flooring", "Vinyl Flooring"),
    sub("flooring", "carpets-rugs", "Carpets & Rugs"),
    sub("flooring", "tile-adhesive-grout", "Tile Adhesive & Grout"),
    root("hardware", "Hardware", "HDW"),
    sub("hardware", "fasteners", "Screws, Nails & Fixings"),
    sub("fasteners", "screws", "Screws"),
    sub("fasteners", "nails", "Nails"),
    sub("fasteners", "wall-plugs", "Wall Plugs & Anchors"),
    sub("hardware", "door-hardware", "Door Handles & Hinges"),
    sub("hardware", "locks-security", "Locks & Security"),
    sub("hardware", "adhesives-sealants", "Adhesives & Sealants"),
    root("storage", "Storage", "STG"),
    sub("storage", "shelving", "Shelving"),
    sub("storage", "storage-boxes", "Storage Boxes"),
    sub("storage", "garage-storage", "Garage Storage"),
];

// Shared vocabularies.

const INTERIOR_COLOURS: &[&str] = &[
    "Brilliant White",
    "Magnolia",
    "Ivory Lace",
    "Grey Mist",
    "Cloud White",
    "Soft Sage",
    "Duck Egg",
    "Warm Taupe",
    "Charcoal",
    "Natural Calico",
];
const EXTERIOR_COLOURS: &[&str] = &[
    "Brilliant White",
    "Magnolia",
    "Stone Grey",
    "Sandstone",
    "Savannah Beige",
    "Terracotta",
    "Olive Grove",
    "Charcoal",
];
const TIN_SIZES: &[(f64, f64)] = &[(1.0, 0.28), (2.5, 0.6), (5.0, 1.0), (20.0, 3.6)];
const WOOD_SHADES: &[&str] = &[
    "Clear",
    "Teak",
    "Imbuia",
    "Oregon",
    "Mahogany",
    "Dark Oak",
    "Light Oak",
    "Walnut",
];
const TAP_FINISHES: &[(&str, f64)] = &[("Chrome", 1.0), ("Brushed Nickel", 1.25), ("Matt Black", 1.3)];
const TOOL_VOLTAGE: &[(f64, f64)] = &[(12.0, 0.75), (18.0, 1.0)];
const BATTERY: Attr = flag(
    "battery_included",
    "Supplied with a battery and fast charger.|Supplied as a bare tool: battery and charger are sold separately.",
    0.5,
    1.7,
);
const BRUSHLESS: Attr = flag(
    "brushless",
    "A brushless motor gives longer runtime and a longer life.|",
    0.4,
    1.25,
);
const LIGHT_FINISHES: &[&str] = &["Black", "White", "Brass", "Chrome", "Satin Nickel", "Rattan"];
const FLOOR_DECORS: &[&str] = &[
    "Natural Oak",
    "Grey Oak",
    "Smoked Oak",
    "White Oak",
    "Walnut",
    "Rustic Pine",
    "Ash",
    "Hickory",
];
const HARDWARE_FINISHES: &[&str] = &[
    "Satin Chrome",
    "Polished Chrome",
    "Matt Black",
    "Antique Brass",
    "Stainless Steel",
];
const SANITARY_BRANDS: &[Offer] = &[
    o("Roca", &["Victoria", "Dama", "The Gap"], ""),
    o("Ideal Standard", &["Concept", "Tempo", "Connect"], ""),
    o("Lecico", &["Atlas", "Cabo", "Sienna"], ""),
    o("Vitra", &["S20", "Integra", "Zentrum"], ""),
];
const BATHROOM_FITTINGS: &[Offer] = &[
    o("Grohe", &["Essentials", "BauCosmopolitan", "Start"], ""),
    o("Hansgrohe", &["Logis", "AddStoris"], ""),
    o("Cobra", &["Vela", "Ambrose", "Aqua"], ""),
    o("Bathroom Butler", &["4600 Series", "Vogue"], ""),
];
const LIGHTING_BRANDS: &[Offer] = &[
    o("Eurolux", &["", "Classic", "Nordic"], ""),
    o("Bright Star", &["", "Luxe"], ""),
    o("Radiant", &["", "Designer"], ""),
    o("Philips", &["", "myLiving"], ""),
];
const TRADE_FIXINGS: &[Offer] = &[
    o("Fischer", &["", "PowerFast"], ""),
    o("Rawlplug", &["", "R-"], ""),
    o("Fragram", &[""], ""),
    o("Spax", &["", "T-STAR plus"], ""),
];

/// Every kind of product, by leaf category.
pub(super) const KINDS: &[Kind] = &[
    // ---- paint ----
    Kind {
        leaf: "interior-paint",
        weight: 24,
        name: "{brand} {line} Interior Paint {colour} {volume_l}L",
        price: (450, 780),
        blurb: "A water-based acrylic for walls and ceilings in living areas, low in odour and quick to dry.",
        offers: &[
            o("Dulux", &["Easycare", "Trade", "Maxicover"], ""),
            o("Plascon", &["Wall & All", "Polvin", "Cashmere"], ""),
            o("Prominent", &["Ultra", "Supreme"], ""),
        ],
        attrs: &[
            w("colour", "the colour {}", INTERIOR_COLOURS),
            w("finish", "a {} finish", &["matt", "low sheen", "silk", "eggshell"]),
            s("volume_l", "a {} L tin", TIN_SIZES),
            n(
                "coverage_m2_per_l",
                "coverage of about {} m² per litre",
                &[8.0, 9.0, 10.0, 11.0, 12.0],
            ),
        ],
    },
    Kind {
        leaf: "exterior-paint",
        weight: 20,
        name: "{brand} {line} Exterior Paint {colour} {volume_l}L",
        price: (550, 950),
        blurb: "Made for South African weather: it resists fading, flaking and mould on plastered and brick walls.",
        offers: &[
            o("Dulux", &["Weatherguard", "Weatherguard Plus"], ""),
            o("Plascon", &["Wall & All Exterior", "Micatex"], ""),
            o("Prominent", &["Weatherproof", "Roof & Wall"], ""),
        ],
        attrs: &[
            w("colour", "the colour {}", EXTERIOR_COLOURS),
            w("finish", "a {} finish", &["matt", "low sheen", "sheen"]),
            s("volume_l", "a {} L tin", TIN_SIZES),
            n(
                "coverage_m2_per_l",
                "coverage of about {} m² per litre",
                &[6.0, 7.0, 8.0, 9.0, 10.0],
            ),
        ],
    },
    Kind {
        leaf: "wood-finishes",
        weight: 10,
        name: "{brand} {line} Wood Sealer {shade} {volume_l}L",
        price: (220, 420),
        blurb: "A penetrating sealer that feeds and protects timber while showing off the grain.",
        offers: &[
            o("Woodoc", &["10 Interior", "30 Exterior", "50 Deck"], ""),
            o("Plascon", &["Woodcare"], ""),
            o("Dulux", &["Woodcare"], ""),
        ],
        attrs: &[
            w("shade", "a {} shade", WOOD_SHADES),
            w("finish", "a {} finish", &["matt", "satin", "gloss"]),
            s("volume_l", "a {} L tin", &[(0.5, 0.55), (1.0, 1.0), (5.0, 4.2)]),
            n(
                "coverage_m2_per_l",
                "coverage of about {} m² per litre",
                &[10.0, 12.0, 14.0],
            ),
        ],
    },
    Kind {
        leaf: "wood-finishes",
        weight: 6,
        name: "{brand} {line} Deck Oil {shade} {volume_l}L",
        price: (260, 480),
        blurb: "An oil for decks, garden furniture and outdoor timber that repels water and slows greying.",
        offers: &[
            o("Woodoc", &["", "Outdoor"], ""),
            o("Plascon", &["Woodcare"], ""),
            o("Dulux", &["Ultimate"], ""),
        ],
        attrs: &[
            w("shade", "a {} shade", WOOD_SHADES),
            s("volume_l", "a {} L tin", &[(1.0, 1.0), (2.5, 2.2), (5.0, 4.0)]),
            n(
                "coverage_m2_per_l",
                "coverage of about {} m² per litre",
                &[8.0, 10.0, 12.0],
            ),
        ],
    },
    Kind {
        leaf: "spray-paint",
        weight: 14,
        name: "{brand} {line} Spray Paint {colour} {volume_ml}ml",
        price: (69, 149),
        blurb: "A quick-drying aerosol enamel for metal, wood, plastic and masonry, indoors or out.",
        offers: &[
            o("Rust-Oleum", &["Painter's Touch", "2X Ultra Cover"], ""),
            o("Plasti Kote", &["Fast Dry Enamel", "Metallic", "Super Enamel"], ""),
            o("Dulux", &["Spray"], ""),
        ],
        attrs: &[
            w(
                "colour",
                "the colour {}",
                &[
                    "Gloss Black",
                    "Matt Black",
                    "Gloss White",
                    "Signal Red",
                    "Silver",
                    "Gold",
                    "Royal Blue",
                    "Bright Yellow",
                ],
            ),
            s("volume_ml", "a {} ml can", &[(300.0, 0.8), (400.0, 1.0)]),
            n(
                "touch_dry_min",
                "touch-dry in about {} minutes",
                &[10.0, 15.0, 20.0, 30.0],
            ),
        ],
    },
    Kind {
        leaf: "paint-brushes",
        weight: 10,
        name: "{brand} {line} Paint Brush {width_mm}mm",
        price: (59, 139),
        blurb: "A paint brush that holds plenty of paint and lays it off smoothly, for cutting in and trim.",
        offers: &[
            o("Hamilton's", &["Perfection", "Prestige"], ""),
            o("Academy", &["Professional", "Trade"], ""),
            o("Harris", &["No Loss", "Seriously Good"], ""),
        ],
        attrs: &[
            s(
                "width_mm",
                "a {} mm head",
                &[
                    (25.0, 0.6),
                    (38.0, 0.75),
                    (50.0, 1.0),
                    (63.0, 1.2),
                    (75.0, 1.4),
                    (100.0, 1.8),
                ],
            ),
            w("bristle", "{} bristles", &["synthetic", "natural", "blended"]),
        ],
    },
    Kind {
        leaf: "paint-brushes",
        weight: 5,
        name: "{brand} {line} Paint Brush Set {pieces} Piece",
        price: (99, 249),
        blurb: "A set of brushes in the sizes most painting jobs need, from window frames to walls.",
        offers: &[
            o("Hamilton's", &["Perfection", "Prestige"], ""),
            o("Academy", &["Professional"], ""),
            o("Harris", &["Essentials"], ""),
        ],
        attrs: &[
            s("pieces", "{} brushes", &[(3.0, 0.8), (5.0, 1.0), (10.0, 1.7)]),
            w("bristle", "{} bristles", &["synthetic", "blended"]),
        ],
    },
    Kind {
        leaf: "rollers-trays",
        weight: 9,
        name: "{brand} {line} Paint Roller & Tray Set {width_mm}mm",
        price: (119, 259),
        blurb: "Everything needed to paint a room: a roller frame, a sleeve and a deep-well tray.",
        offers: &[
            o("Hamilton's", &["Perfection", "Prestige"], ""),
            o("Academy", &["", "Trade"], ""),
            o("Harris", &["Seriously Good"], ""),
        ],
        attrs: &[
            s(
                "width_mm",
                "a {} mm roller",
                &[(110.0, 0.7), (180.0, 0.9), (230.0, 1.0), (270.0, 1.15)],
            ),
            w("nap", "a {} sleeve", &["Short Pile", "Medium Pile", "Long Pile"]),
        ],
    },
    Kind {
        leaf: "rollers-trays",
        weight: 5,
        name: "{brand} {line} Roller Refill {width_mm}mm {nap}",
        price: (49, 119),
        blurb: "A replacement roller sleeve that sheds little lint and leaves an even finish.",
        offers: &[
            o("Hamilton's", &["Perfection"], ""),
            o("Academy", &[""], ""),
            o("Harris", &["Trade"], ""),
        ],
        attrs: &[
            s(
                "width_mm",
                "a {} mm width",
                &[(110.0, 0.7), (180.0, 0.9), (230.0, 1.0), (270.0, 1.15)],
            ),
            w("nap", "a {} sleeve", &["Short Pile", "Medium Pile", "Long Pile"]),
        ],
    },
    // ---- tools ----
    Kind {
        leaf: "drills",
        weight: 14,
        name: "{brand} {line} {voltage}V Cordless Drill Driver {model}",
        price: (1299, 2299),
        blurb: "A compact drill driver for drilling wood, metal and plastic and driving screws, with a two-speed \
                gearbox and an adjustable clutch.",
        offers: &[
            o("Makita", &["LXT"], "DDF4##"),
            o("Bosch", &["Professional"], "GSR ###"),
            o("DeWalt", &["XR"], "DCD7##"),
            o("Ryobi", &["ONE+"], "R18DD#"),
            o("Stanley", &["FatMax"], "SFMCD7##"),
        ],
        attrs: &[
            s("voltage", "a {} V battery platform", TOOL_VOLTAGE),
            BATTERY,
            n("chuck_mm", "a {} mm keyless chuck", &[10.0, 13.0]),
            n(
                "torque_nm",
                "{} Nm of maximum torque",
                &[30.0, 40.0, 50.0, 55.0, 60.0, 65.0],
            ),
            BRUSHLESS,
        ],
    },
    Kind {
        leaf: "drills",
        weight: 10,
        name: "{brand} {line} {voltage}V Cordless Hammer Drill {model}",
        price: (1699, 3199),
        blurb: "A hammer drill that bores into brick and block as easily as into timber, for shelves, brackets \
                and curtain rails.",
        offers: &[
            o("Makita", &["LXT"], "DHP4##"),
            o("Bosch", &["Professional"], "GSB ###"),
            o("DeWalt", &["XR"], "DCD9##"),
            o("Ryobi", &["ONE+"], "R18PD#"),
            o("Milwaukee", &["M18 FUEL"], "M18 FPD#"),
        ],
        attrs: &[
            s("voltage", "a {} V battery platform", &[(18.0, 1.0)]),
            BATTERY,
            n("chuck_mm", "a {} mm keyless chuck", &[13.0]),
            n(
                "torque_nm",
                "{} Nm of maximum torque",
                &[50.0, 60.0, 80.0, 90.0, 115.0, 135.0],
            ),
            BRUSHLESS,
        ],
    },
    Kind {
        leaf: "drills",
        weight: 8,
        name: "{brand} {watts}W Impact Drill {model}",
        price: (599, 1199),
        blurb: "A corded impact drill with variable speed and reverse, for drilling masonry, wood and steel.",
        offers: &[
            o("Bosch", &[""], "GSB 1# RE"),
            o("Makita", &[""], "HP1###"),
            o("Ryobi", &[""], "RPD###"),
            o("Black+Decker", &[""], "KR###"),
        ],
        attrs: &[
            s(
                "watts",
                "a {} W motor",
                &[(550.0, 0.8), (650.0, 0.9), (750.0, 1.0), (850.0, 1.15), (1010.0, 1.35)],
            ),
            n("chuck_mm", "a {} mm chuck", &[13.0]),
            n("cable_m", "a {} m cable", &[2.0, 2.5, 4.0]),
        ],
    },
    Kind {
        leaf: "saws",
        weight: 7,
        name: "{brand} {blade_mm}mm Circular Saw {model}",
        price: (1199, 2499),
        blurb: "A circular saw for straight, clean cuts in timber and board, with bevel and depth adjustment.",
        offers: &[
            o("Makita", &[""], "HS7##1"),
            o("Bosch", &[""], "GKS 1##"),
            o("DeWalt", &[""], "DWE5##"),
            o("Ryobi", &[""], "RCS1###"),
        ],
        attrs: &[
            s(
                "blade_mm",
                "a {} mm blade",
                &[(165.0, 0.9), (185.0, 1.0), (190.0, 1.05), (235.0, 1.5)],
            ),
            n("watts", "a {} W motor", &[1200.0, 1400.0, 1600.0, 2000.0]),
            n(
                "max_cut_mm",
                "a maximum cutting depth of {} mm",
                &[55.0, 62.0, 66.0, 85.0],
            ),
        ],
    },
    Kind {
        leaf: "saws",
        weight: 7,
        name: "{brand} Jigsaw {watts}W {model}",
        price: (699, 1899),
        blurb: "A jigsaw for curves and cut-outs in wood, laminate and thin metal.",
        offers: &[
            o("Bosch", &[""], "PST ### E"),
            o("Makita", &[""], "43##FCT"),
            o("DeWalt", &[""], "DW3##K"),
            o("Ryobi", &[""], "RJS###"),
            o("Black+Decker", &[""], "KS###E"),
        ],
        attrs: &[
            s(
                "watts",
                "a {} W motor",
                &[(500.0, 0.8), (650.0, 0.9), (720.0, 1.0), (800.0, 1.2)],
            ),
            n(
                "max_cut_wood_mm",
                "a cutting depth in wood of {} mm",
                &[65.0, 80.0, 90.0, 120.0],
            ),
            flag("pendulum", "Four-stage pendulum action cuts faster.|", 0.7, 1.1),
        ],
    },
    Kind {
        leaf: "saws",
        weight: 3,
        name: "{brand} {blade_mm}mm Sliding Mitre Saw {model}",
        price: (3499, 7999),
        blurb: "A sliding mitre saw for accurate cross, mitre and bevel cuts in skirting, decking and framing.",
        offers: &[
            o("Makita", &[""], "LS1###"),
            o("DeWalt", &[""], "DWS7##"),
            o("Bosch", &[""], "GCM ##SJ"),
            o("Ryobi", &[""], "EMS###SL"),
        ],
        attrs: &[
            s(
                "blade_mm",
                "a {} mm blade",
                &[(210.0, 0.8), (254.0, 1.0), (305.0, 1.35)],
            ),
            n("watts", "a {} W motor", &[1400.0, 1600.0, 1800.0]),
            flag("laser_guide", "A laser guide marks the cut line.|", 0.5, 1.08),
        ],
    },
    Kind {
        leaf: "grinders",
        weight: 9,
        name: "{brand} {disc_mm}mm Angle Grinder {watts}W {model}",
        price: (549, 1399),
        blurb: "An angle grinder for cutting and grinding steel, tile and stone.",
        offers: &[
            o("Makita", &[""], "GA4###"),
            o("Bosch", &[""], "GWS ##-125"),
            o("DeWalt", &[""], "DWE4###"),
            o("Ryobi", &[""], "AG-###"),
            o("Black+Decker", &[""], "G###"),
        ],
        attrs: &[
            s("disc_mm", "a {} mm disc", &[(115.0, 0.85), (125.0, 1.0), (230.0, 1.6)]),
            n("watts", "a {} W motor", &[720.0, 850.0, 900.0, 1200.0, 2200.0]),
            flag(
                "soft_start",
                "Soft start and restart protection for safer use.|",
                0.4,
                1.1,
            ),
        ],
    },
    Kind {
        leaf: "grinders",
        weight: 5,
        name: "{brand} {line} {voltage}V Cordless Angle Grinder {model}",
        price: (1499, 2999),
        blurb: "A cordless angle grinder for cutting rebar, bolts and tile where there is no socket.",
        offers: &[
            o("Makita", &["LXT"], "DGA4##"),
            o("DeWalt", &["XR"], "DCG4##"),
            o("Bosch", &["Professional"], "GWS 18V-##"),
            o("Milwaukee", &["M18 FUEL"], "M18 FSAG#"),
        ],
        attrs: &[
            s("voltage", "a {} V battery platform", &[(18.0, 1.0)]),
            BATTERY,
            n("disc_mm", "a {} mm disc", &[115.0, 125.0]),
            BRUSHLESS,
        ],
    },
    Kind {
        leaf: "sanders",
        weight: 7,
        name: "{brand} 125mm Random Orbit Sander {model}",
        price: (699, 1899),
        blurb: "A random orbit sander that strips and smooths without swirl marks, for furniture and doors.",
        offers: &[
            o("Makita", &[""], "BO5###"),
            o("Bosch", &[""], "GEX 1##-1 AE"),
            o("DeWalt", &[""], "DWE64##"),
            o("Ryobi", &[""], "ROS###"),
            o("Black+Decker", &[""], "KA###"),
        ],
        attrs: &[
            n("watts", "a {} W motor", &[240.0, 300.0, 350.0, 400.0]),
            flag("dust_bag", "A dust bag is included.|", 0.8, 1.05),
            r("orbits_per_min", "up to {} orbits a minute", 10000, 24000),
        ],
    },
    Kind {
        leaf: "sanders",
        weight: 4,
        name: "{brand} Detail Sander {watts}W {model}",
        price: (399, 899),
        blurb: "A detail sander with a pointed pad for corners, edges and tight spots.",
        offers: &[
            o("Bosch", &[""], "PSM ##"),
            o("Black+Decker", &[""], "KA###"),
            o("Ryobi", &[""], "RMS###"),
        ],
        attrs: &[s(
            "watts",
            "a {} W motor",
            &[(80.0, 0.8), (120.0, 0.9), (180.0, 1.0), (220.0, 1.1)],
        )],
    },
    Kind {
        leaf: "hammers",
        weight: 8,
        name: "{brand} {line} Claw Hammer {weight_oz}oz",
        price: (149, 449),
        blurb: "A balanced claw hammer for driving and pulling nails.",
        offers: &[
            o("Stanley", &["FatMax", "Graphite"], ""),
            o("Estwing", &["Sure Strike", "E3"], ""),
            o("Tork Craft", &["", "Pro"], ""),
            o("Lasher", &["", "Fibreglass"], ""),
        ],
        attrs: &[
            s("weight_oz", "a {} oz head", &[(16.0, 1.0), (20.0, 1.2)]),
            w("handle", "a {} handle", &["fibreglass", "steel", "hickory", "graphite"]),
        ],
    },
    Kind {
        leaf: "hammers",
        weight: 4,
        name: "{brand} {line} Rubber Mallet {weight_oz}oz",
        price: (89, 199),
        blurb: "A rubber mallet that knocks paving, tiles and joints into place without marking them.",
        offers: &[
            o("Stanley", &[""], ""),
            o("Tork Craft", &[""], ""),
            o("Lasher", &[""], ""),
        ],
        attrs: &[s("weight_oz", "a {} oz head", &[(16.0, 0.9), (24.0, 1.0), (32.0, 1.2)])],
    },
    Kind {
        leaf: "screwdrivers",
        weight: 9,
        name: "{brand} {line} Screwdriver Set {pieces} Piece",
        price: (199, 699),
        blurb: "A set of screwdrivers with hardened tips and comfortable grips for everyday fixing.",
        offers: &[
            o("Stanley", &["FatMax", "Cushion Grip"], ""),
            o("Wera", &["Kraftform Plus"], ""),
            o("Gedore", &["Red"], ""),
            o("Tork Craft", &["", "Pro"], ""),
        ],
        attrs: &[
            s(
                "pieces",
                "{} pieces",
                &[(6.0, 0.7), (8.0, 0.85), (10.0, 1.0), (12.0, 1.2), (32.0, 1.5)],
            ),
            w(
                "tips",
                "{} tips",
                &["slotted and Phillips", "Phillips and Pozidriv", "Torx", "mixed"],
            ),
            flag("insulated", "VDE-insulated to 1000 V for electrical work.|", 0.25, 1.3),
        ],
    },
    Kind {
        leaf: "spanners-wrenches",
        weight: 6,
        name: "{brand} {line} Combination Spanner Set {pieces} Piece",
        price: (299, 1199),
        blurb: "Chrome vanadium combination spanners with an open end and a ring end for every size.",
        offers: &[
            o("Stanley", &["FatMax", ""], ""),
            o("Gedore", &["Red"], ""),
            o("Tork Craft", &[""], ""),
            o("King Tony", &[""], ""),
        ],
        attrs: &[
            s(
                "pieces",
                "{} spanners",
                &[(8.0, 0.8), (12.0, 1.0), (14.0, 1.15), (22.0, 1.8)],
            ),
            w("size_range", "sizes from {}", &["6-19mm", "8-22mm", "6-32mm"]),
        ],
    },
    Kind {
        leaf: "spanners-wrenches",
        weight: 5,
        name: "{brand} {line} Adjustable Wrench {length_mm}mm",
        price: (129, 449),
        blurb: "An adjustable wrench with a smooth worm gear and jaws that stay put under load.",
        offers: &[
            o("Bahco", &["ERGO", ""], ""),
            o("Stanley", &["FatMax"], ""),
            o("Tork Craft", &[""], ""),
        ],
        attrs: &[s(
            "length_mm",
            "a length of {} mm",
            &[(150.0, 0.8), (200.0, 0.9), (250.0, 1.0), (300.0, 1.2)],
        )],
    },
    Kind {
        leaf: "pliers",
        weight: 8,
        name: "{brand} {line} {type} Pliers {length_mm}mm",
        price: (119, 549),
        blurb: "Forged pliers with induction-hardened cutting edges and non-slip handles.",
        offers: &[
            o("Knipex", &[""], ""),
            o("Stanley", &["FatMax", ""], ""),
            o("Gedore", &["Red"], ""),
            o("Tork Craft", &[""], ""),
        ],
        attrs: &[
            w(
                "type",
                "a {} jaw",
                &["Combination", "Long Nose", "Side Cutting", "Water Pump"],
            ),
            s(
                "length_mm",
                "a length of {} mm",
                &[(160.0, 0.9), (180.0, 1.0), (200.0, 1.1), (250.0, 1.3)],
            ),
        ],
    },
    Kind {
        leaf: "measuring-tools",
        weight: 8,
        name: "{brand} {line} Tape Measure {length_m}m",
        price: (99, 249),
        blurb: "A tape measure with a rigid blade, a true-zero hook and a positive lock.",
        offers: &[
            o("Stanley", &["PowerLock", "FatMax"], ""),
            o("Tork Craft", &[""], ""),
            o("Lufkin", &["Shockforce"], ""),
        ],
        attrs: &[
            s(
                "length_m",
                "a {} m blade",
                &[(3.0, 0.7), (5.0, 1.0), (8.0, 1.4), (10.0, 1.7)],
            ),
            n("blade_width_mm", "a blade {} mm wide", &[19.0, 25.0, 32.0]),
        ],
    },
    Kind {
        leaf: "measuring-tools",
        weight: 6,
        name: "{brand} {line} Spirit Level {length_mm}mm",
        price: (199, 599),
        blurb: "An aluminium spirit level with shock-proof vials, accurate to 0.5 mm per metre.",
        offers: &[
            o("Stanley", &["FatMax", ""], ""),
            o("Stabila", &["70", "80 AS"], ""),
            o("Tork Craft", &[""], ""),
        ],
        attrs: &[
            s(
                "length_mm",
                "a length of {} mm",
                &[(400.0, 0.7), (600.0, 0.85), (1000.0, 1.0), (1200.0, 1.2), (1800.0, 1.6)],
            ),
            n("vials", "{} vials", &[2.0, 3.0]),
        ],
    },
    Kind {
        leaf: "measuring-tools",
        weight: 3,
        name: "{brand} Cross Line Laser Level {model}",
        price: (899, 2999),
        blurb: "A self-levelling cross line laser for hanging pictures, fitting tiles and setting out cupboards.",
        offers: &[
            o("Bosch", &[""], "GLL #-##"),
            o("Makita", &[""], "SK1##"),
            o("Stanley", &[""], "STHT77###"),
            o("DeWalt", &[""], "DCE0##"),
        ],
        attrs: &[
            s(
                "range_m",
                "a working range of {} m",
                &[(10.0, 0.8), (15.0, 0.9), (20.0, 1.0), (30.0, 1.3)],
            ),
            w("beam", "a {} beam", &["red", "green"]),
        ],
    },
    Kind {
        leaf: "power-tool-accessories",
        weight: 10,
        name: "{brand} {line} {material} Drill Bit Set {pieces} Piece",
        price: (149, 449),
        blurb: "A set of drill bits in the common sizes, in a case that keeps them in order.",
        offers: &[
            o("Bosch", &["Professional", "X-Line"], ""),
            o("Makita", &[""], ""),
            o("DeWalt", &["Extreme", ""], ""),
            o("Tork Craft", &[""], ""),
        ],
        attrs: &[
            w(
                "material",
                "{} bits",
                &["HSS", "Masonry", "Mixed", "Titanium-Coated", "Wood"],
            ),
            s(
                "pieces",
                "{} pieces",
                &[(5.0, 0.5), (10.0, 0.8), (15.0, 1.0), (34.0, 1.5), (100.0, 2.5)],
            ),
        ],
    },
    Kind {
        leaf: "power-tool-accessories",
        weight: 6,
        name: "{brand} {line} Circular Saw Blade {diameter_mm}mm {teeth}T",
        price: (199, 599),
        blurb: "A carbide-tipped saw blade that cuts cleanly and stays sharp.",
        offers: &[
            o("Bosch", &["Expert for Wood", "Optiline"], ""),
            o("Makita", &["Specialized", ""], ""),
            o("DeWalt", &["Construction", "Extreme"], ""),
            o("Freud", &[""], ""),
        ],
        attrs: &[
            s(
                "diameter_mm",
                "a diameter of {} mm",
                &[(165.0, 0.8), (185.0, 0.9), (210.0, 1.0), (254.0, 1.3)],
            ),
            n("teeth", "{} teeth", &[24.0, 40.0, 48.0, 60.0]),
        ],
    },
    Kind {
        leaf: "power-tool-accessories",
        weight: 6,
        name: "{brand} Sanding Discs 125mm P{grit} {pieces} Pack",
        price: (59, 189),
        blurb: "Hook-and-loop sanding discs for random orbit sanders.",
        offers: &[
            o("Bosch", &[""], ""),
            o("Makita", &[""], ""),
            o("Flexovit", &[""], ""),
            o("3M", &[""], ""),
        ],
        attrs: &[
            n("grit", "grit P{}", &[40.0, 60.0, 80.0, 120.0, 180.0, 240.0]),
            s(
                "pieces",
                "{} discs",
                &[(5.0, 0.5), (10.0, 0.8), (25.0, 1.0), (50.0, 1.8)],
            ),
        ],
    },
    Kind {
        leaf: "tool-storage",
        weight: 6,
        name: "{brand} {line} {material} Toolbox {length_mm}mm",
        price: (249, 899),
        blurb: "A toolbox with a lift-out tray and organiser lids for small parts.",
        offers: &[
            o("Stanley", &["FatMax", "Essential"], ""),
            o("Keter", &["Pro"], ""),
            o("Tork Craft", &[""], ""),
        ],
        attrs: &[
            pw("material", "a {} body", &[("Plastic", 1.0), ("Metal", 1.3)]),
            s(
                "length_mm",
                "a length of {} mm",
                &[(400.0, 0.7), (480.0, 0.85), (560.0, 1.0), (660.0, 1.3)],
            ),
        ],
    },
    Kind {
        leaf: "tool-storage",
        weight: 4,
        name: "{brand} {line} Tool Bag {length_mm}mm",
        price: (299, 899),
        blurb: "A tough fabric tool bag with pockets inside and out and a padded shoulder strap.",
        offers: &[
            o("Stanley", &["FatMax"], ""),
            o("DeWalt", &["TSTAK", ""], ""),
            o("Makita", &[""], ""),
        ],
        attrs: &[
            s(
                "length_mm",
                "a length of {} mm",
                &[(400.0, 0.8), (450.0, 0.9), (500.0, 1.0), (600.0, 1.2)],
            ),
            r("pockets", "{} pockets", 8, 30),
        ],
    },
    // ---- garden ----
    Kind {
        leaf: "hoses",
        weight: 12,
        name: "{brand} {line} Garden Hose {diameter_mm}mm x {length_m}m",
        price: (349, 699),
        blurb: "A flexible garden hose that resists kinks and UV and stays supple in the sun.",
        offers: &[
            o("Gardena", &["Classic", "Comfort FLEX"], ""),
            o("Karcher", &["PrimoFlex", "PerformancePlus"], ""),
            o("Hozelock", &["Starter", "Ultraflex"], ""),
        ],
        attrs: &[
            s("diameter_mm", "a {} mm bore", &[(12.0, 0.9), (15.0, 1.0), (20.0, 1.4)]),
            s(
                "length_m",
                "a length of {} m",
                &[
                    (10.0, 0.45),
                    (15.0, 0.65),
                    (20.0, 0.8),
                    (25.0, 1.0),
                    (30.0, 1.2),
                    (50.0, 1.9),
                ],
            ),
            flag("kink_resistant", "A braided layer stops it kinking.|", 0.6, 1.15),
        ],
    },
    Kind {
        leaf: "hoses",
        weight: 5,
        name: "{brand} {line} Hose Reel Set {length_m}m",
        price: (499, 1499),
        blurb: "A hose reel with hose, connectors and a spray nozzle, ready to use.",
        offers: &[
            o("Gardena", &["Classic", "RollUp"], ""),
            o("Hozelock", &["Compact", "Auto Reel"], ""),
            o("Karcher", &["HR 3.420", "HT 4.520"], ""),
        ],
        attrs: &[
            s(
                "length_m",
                "a {} m hose",
                &[(15.0, 0.8), (20.0, 0.9), (25.0, 1.0), (30.0, 1.2)],
            ),
            flag(
                "wall_mounted",
                "Mounts on a wall to keep the hose off the ground.|",
                0.5,
                1.1,
            ),
        ],
    },
    Kind {
        leaf: "sprinklers",
        weight: 7,
        name: "{brand} {line} {type} Sprinkler",
        price: (149, 599),
        blurb: "A sprinkler that waters lawns and beds evenly, adjustable to the shape of the garden.",
        offers: &[
            o("Gardena", &["Aquazoom", "Classic", "Comfort"], ""),
            o("Hozelock", &["Plus", ""], ""),
            o("Karcher", &["OS 5.320", "RS 120/2"], ""),
        ],
        attrs: &[
            w("type", "a {} action", &["Oscillating", "Rotating", "Impulse", "Pop-Up"]),
            n(
                "coverage_m2",
                "coverage of up to {} m²",
                &[50.0, 80.0, 120.0, 200.0, 250.0, 350.0],
            ),
        ],
    },
    Kind {
        leaf: "sprinklers",
        weight: 5,
        name: "{brand} {line} Multi-Function Spray Gun",
        price: (99, 299),
        blurb: "A hose-end spray gun with settings from a fine mist to a strong jet.",
        offers: &[
            o("Gardena", &["Classic", "Premium"], ""),
            o("Hozelock", &["Multi", "Pro"], ""),
            o("Karcher", &["Premium", ""], ""),
        ],
        attrs: &[r("spray_patterns", "{} spray patterns", 3, 8)],
    },
    Kind {
        leaf: "lawnmowers",
        weight: 6,
        name: "{brand} {line} Electric Lawnmower {cut_cm}cm {watts}W",
        price: (2499, 4499),
        blurb: "An electric lawnmower, light to push and quiet to run, for small and medium lawns.",
        offers: &[
            o("Bosch", &["Rotak", "ARM"], ""),
            o("Makita", &[""], ""),
            o("Ryobi", &[""], ""),
            o("Gardena", &["PowerMax"], ""),
        ],
        attrs: &[
            s(
                "cut_cm",
                "a {} cm cutting width",
                &[(32.0, 0.7), (34.0, 0.8), (37.0, 0.9), (40.0, 1.0), (43.0, 1.2)],
            ),
            n("watts", "a {} W motor", &[1200.0, 1400.0, 1600.0, 1800.0]),
            n("grass_box_l", "a {} L grass box", &[30.0, 40.0, 45.0, 50.0]),
        ],
    },
    Kind {
        leaf: "lawnmowers",
        weight: 4,
        name: "{brand} {line} Petrol Lawnmower {cut_cm}cm {model}",
        price: (3999, 8999),
        blurb: "A petrol lawnmower for large lawns, with central height adjustment and a mulching plug.",
        offers: &[
            o("Husqvarna", &["LC"], "LC 1##"),
            o("Honda", &["Izy"], "HRG 4##"),
            o("Makita", &[""], "PLM4###"),
            o("Lawnmaster", &["Pro"], "LM###"),
        ],
        attrs: &[
            s(
                "cut_cm",
                "a {} cm cutting width",
                &[(41.0, 0.85), (46.0, 1.0), (51.0, 1.2), (53.0, 1.3)],
            ),
            n("engine_cc", "a {} cc engine", &[125.0, 139.0, 145.0, 166.0, 190.0]),
            flag(
                "self_propelled",
                "Self-propelled, so it climbs slopes without effort.|",
                0.4,
                1.3,
            ),
        ],
    },
    Kind {
        leaf: "lawnmowers",
        weight: 2,
        name: "{brand} {line} Robotic Lawnmower {area_m2}m²",
        price: (11999, 24999),
        blurb: "A robotic lawnmower that cuts a little every day, finds its own way back to charge and works in \
                the rain.",
        offers: &[
            o("Husqvarna", &["Automower"], ""),
            o("Gardena", &["SILENO city", "SILENO life"], ""),
            o("Bosch", &["Indego"], ""),
        ],
        attrs: &[
            s(
                "area_m2",
                "coverage of lawns up to {} m²",
                &[(400.0, 0.7), (600.0, 0.85), (800.0, 1.0), (1200.0, 1.3)],
            ),
            flag("app_control", "Controlled from a phone app.|", 0.7, 1.1),
        ],
    },
    Kind {
        leaf: "trimmers",
        weight: 7,
        name: "{brand} {line} Grass Trimmer {watts}W",
        price: (399, 999),
        blurb: "A lightweight grass trimmer for edges, corners and under shrubs, with automatic line feed.",
        offers: &[
            o("Bosch", &["EasyGrassCut", "UniversalGrassCut"], ""),
            o("Ryobi", &[""], ""),
            o("Gardena", &["ComfortCut", "SmallCut"], ""),
            o("Black+Decker", &[""], ""),
        ],
        attrs: &[
            s(
                "watts",
                "a {} W motor",
                &[(280.0, 0.8), (350.0, 0.9), (450.0, 1.0), (550.0, 1.2)],
            ),
            n("cut_cm", "a {} cm cutting width", &[23.0, 25.0, 26.0, 28.0, 30.0]),
        ],
    },
    Kind {
        leaf: "trimmers",
        weight: 4,
        name: "{brand} {engine_cc}cc Petrol Brushcutter {model}",
        price: (2499, 6999),
        blurb: "A petrol brushcutter that clears long grass and scrub, with a harness for all-day use.",
        offers: &[
            o("Husqvarna", &[""], "1##R"),
            o("Stihl", &[""], "FS ##"),
            o("Makita", &[""], "EM4###"),
            o("Ryobi", &[""], "RBC###"),
        ],
        attrs: &[
            s(
                "engine_cc",
                "a {} cc engine",
                &[(26.0, 0.8), (33.0, 0.9), (43.0, 1.0), (52.0, 1.3)],
            ),
            flag("harness_included", "Supplied with a shoulder harness.|", 0.6, 1.05),
        ],
    },
    Kind {
        leaf: "trimmers",
        weight: 4,
        name: "{brand} {line} Hedge Trimmer {blade_cm}cm",
        price: (799, 2499),
        blurb: "A hedge trimmer with dual-action blades that shape hedges cleanly with little vibration.",
        offers: &[
            o("Bosch", &["EasyHedgeCut", "AdvancedHedgeCut"], ""),
            o("Makita", &["LXT", ""], ""),
            o("Gardena", &["ComfortCut"], ""),
            o("Ryobi", &["ONE+", ""], ""),
        ],
        attrs: &[
            s(
                "blade_cm",
                "a {} cm blade",
                &[(45.0, 0.85), (50.0, 0.95), (55.0, 1.0), (60.0, 1.15)],
            ),
            flag("cordless", "Cordless, for hedges far from a socket.|", 0.5, 1.35),
        ],
    },
    Kind {
        leaf: "garden-tools",
        weight: 9,
        name: "{brand} {line} {tool}",
        price: (199, 599),
        blurb: "A sturdy garden tool with a tempered steel head, made for years of digging and clearing.",
        offers: &[
            o("Lasher", &["", "Fibreglass Handle", "Wooden Handle"], ""),
            o("Fiskars", &["Solid", "Xact"], ""),
            o("Gardena", &["NatureLine", "Classic"], ""),
            o("Spear & Jackson", &["Neverbend", ""], ""),
        ],
        attrs: &[
            w(
                "tool",
                "the classic {} shape",
                &[
                    "Spade",
                    "Square Mouth Shovel",
                    "Round Mouth Shovel",
                    "Garden Fork",
                    "Leaf Rake",
                    "Garden Rake",
                    "Hoe",
                ],
            ),
            n("handle_length_mm", "a {} mm handle", &[710.0, 1000.0, 1200.0, 1400.0]),
        ],
    },
    Kind {
        leaf: "garden-tools",
        weight: 6,
        name: "{brand} {line} {type} Pruning Shears",
        price: (149, 899),
        blurb: "Pruning shears that cut green and dry wood cleanly, with a safety catch and replaceable blades.",
        offers: &[
            o("Gardena", &["Comfort", "B/S"], ""),
            o("Fiskars", &["PowerGear", "Solid"], ""),
            o("Felco", &["No. 2", "No. 6"], ""),
        ],
        attrs: &[
            w("type", "a {} action", &["Bypass", "Anvil"]),
            n(
                "cut_diameter_mm",
                "a cutting capacity of {} mm",
                &[20.0, 22.0, 24.0, 25.0],
            ),
        ],
    },
    Kind {
        leaf: "garden-tools",
        weight: 3,
        name: "{brand} {line} Wheelbarrow {capacity_l}L",
        price: (699, 1499),
        blurb: "A wheelbarrow with a steel pan and a tubular frame, for soil, compost and building rubble.",
        offers: &[
            o("Lasher", &["Builders", "Garden"], ""),
            o("Spear & Jackson", &[""], ""),
        ],
        attrs: &[
            s("capacity_l", "a {} L pan", &[(65.0, 0.8), (85.0, 1.0), (100.0, 1.25)]),
            w("tyre", "a {} tyre", &["pneumatic", "puncture-proof"]),
        ],
    },
    Kind {
        leaf: "pressure-washers",
        weight: 7,
        name: "{brand} {line} Pressure Washer {pressure_bar} bar",
        price: (2499, 4999),
        blurb: "A pressure washer for cars, patios, walls and garden furniture, with a detergent tank.",
        offers: &[
            o(
                "Karcher",
                &["K2 Compact", "K3 Power Control", "K4 Power Control", "K5 Full Control"],
                "",
            ),
            o("Bosch", &["EasyAquatak", "UniversalAquatak", "AdvancedAquatak"], ""),
            o("Ryobi", &[""], ""),
            o("Nilfisk", &["Core", "Excellent"], ""),
        ],
        attrs: &[
            s(
                "pressure_bar",
                "up to {} bar of pressure",
                &[(110.0, 0.7), (120.0, 0.8), (130.0, 1.0), (145.0, 1.3), (160.0, 1.6)],
            ),
            n(
                "flow_l_per_h",
                "a flow of {} L per hour",
                &[360.0, 400.0, 420.0, 500.0, 600.0],
            ),
            n("watts", "a {} W motor", &[1400.0, 1500.0, 1800.0, 2100.0]),
        ],
    },
    Kind {
        leaf: "braais",
        weight: 5,
        name: "{brand} {line} Kettle Braai {diameter_cm}cm {colour}",
        price: (2499, 4999),
        blurb: "A charcoal kettle braai that grills, roasts and smokes, with a one-touch ash cleaning system.",
        offers: &[
            o("Weber", &["Original", "Master-Touch", "Compact"], ""),
            o("Megamaster", &["Kettle", ""], ""),
            o("Cadac", &["Charcoal"], ""),
        ],
        attrs: &[
            s("diameter_cm", "a {} cm grill", &[(47.0, 0.7), (57.0, 1.0), (67.0, 1.7)]),
            w("colour", "a {} enamel finish", &["Black", "Slate Blue", "Red", "Green"]),
        ],
    },
    Kind {
        leaf: "braais",
        weight: 3,
        name: "{brand} {line} {burners} Burner Gas Braai",
        price: (5999, 12999),
        blurb: "A gas braai that lights at the turn of a knob and holds an even heat across the grill.",
        offers: &[
            o("Weber", &["Spirit", "Genesis"], ""),
            o("Cadac", &["Meridian", "Carri Chef"], ""),
            o("Megamaster", &["Classic", "Pro"], ""),
        ],
        attrs: &[
            s(
                "burners",
                "{} burners",
                &[(2.0, 0.7), (3.0, 1.0), (4.0, 1.4), (5.0, 1.8)],
            ),
            flag("side_burner", "A side burner for sauces and pap.|", 0.4, 1.12),
        ],
    },
    Kind {
        leaf: "braais",
        weight: 4,
        name: "{brand} Braai Tool Set {pieces} Piece",
        price: (199, 599),
        blurb: "Stainless steel braai tools with long handles that keep hands away from the coals.",
        offers: &[o("Weber", &[""], ""), o("Megamaster", &[""], ""), o("Cadac", &[""], "")],
        attrs: &[s("pieces", "{} tools", &[(3.0, 0.8), (4.0, 1.0), (5.0, 1.2)])],
    },
    Kind {
        leaf: "braais",
        weight: 5,
        name: "{brand} Charcoal Briquettes {weight_kg}kg",
        price: (99, 229),
        blurb: "Charcoal briquettes that light easily and burn hot and long, with little smoke.",
        offers: &[o("Weber", &[""], ""), o("Megamaster", &[""], ""), o("Cadac", &[""], "")],
        attrs: &[s(
            "weight_kg",
            "a {} kg bag",
            &[(4.0, 0.7), (5.0, 0.8), (8.0, 1.0), (10.0, 1.2)],
        )],
    },
    // ---- bathroom ----
    Kind {
        leaf: "bathroom-taps",
        weight: 9,
        name: "{brand} {line} Basin Mixer {finish}",
        price: (799, 2499),
        blurb: "A single-lever basin mixer with a ceramic cartridge and an aerator that saves water.",
        offers: &[
            o("Grohe", &["Eurosmart", "BauEdge", "Essence"], ""),
            o("Hansgrohe", &["Logis", "Focus", "Talis E"], ""),
            o("Cobra", &["Atlantis", "Aqua", "Ambrose"], ""),
        ],
        attrs: &[
            pw("finish", "a {} finish", TAP_FINISHES),
            n("flow_l_per_min", "a flow of {} L per minute", &[5.0, 6.0, 7.5, 9.0]),
            n("warranty_years", "a {}-year warranty", &[5.0, 10.0]),
        ],
    },
    Kind {
        leaf: "bathroom-taps",
        weight: 5,
        name: "{brand} {line} Bath Mixer {finish}",
        price: (1199, 3499),
        blurb: "A wall-mounted bath mixer with a diverter to the hand shower.",
        offers: &[
            o("Grohe", &["Eurosmart", "BauEdge"], ""),
            o("Hansgrohe", &["Logis", "Focus"], ""),
            o("Cobra", &["Atlantis", "Ambrose"], ""),
        ],
        attrs: &[
            pw("finish", "a {} finish", TAP_FINISHES),
            n("warranty_years", "a {}-year warranty", &[5.0, 10.0]),
        ],
    },
    Kind {
        leaf: "shower-heads",
        weight: 7,
        name: "{brand} {line} Overhead Shower {diameter_mm}mm",
        price: (499, 1999),
        blurb: "An overhead shower with easy-clean nozzles that rub free of limescale.",
        offers: &[
            o("Grohe", &["Tempesta", "Rainshower"], ""),
            o("Hansgrohe", &["Crometta", "Raindance"], ""),
            o("Cobra", &["Rain", "Square"], ""),
        ],
        attrs: &[
            s(
                "diameter_mm",
                "a {} mm spray plate",
                &[(100.0, 0.6), (200.0, 1.0), (250.0, 1.4), (300.0, 1.8)],
            ),
            n("spray_modes", "{} spray modes", &[1.0, 2.0, 3.0]),
            flag("water_saving", "A flow limiter saves water.|", 0.6, 1.05),
        ],
    },
    Kind {
        leaf: "shower-heads",
        weight: 5,
        name: "{brand} {line} Hand Shower Set {spray_modes} Spray",
        price: (399, 1299),
        blurb: "A hand shower with a hose and an adjustable slide rail.",
        offers: &[
            o("Grohe", &["Tempesta", "Euphoria"], ""),
            o("Hansgrohe", &["Crometta", "Croma Select"], ""),
            o("Cobra", &["Bell"], ""),
        ],
        attrs: &[
            s(
                "spray_modes",
                "{} spray modes",
                &[(1.0, 0.8), (2.0, 0.9), (3.0, 1.0), (5.0, 1.3)],
            ),
            n("hose_m", "a {} m hose", &[1.5, 1.75, 2.0]),
        ],
    },
    Kind {
        leaf: "shower-doors",
        weight: 4,
        name: "{brand} {line} {type} Shower Door {width_mm}mm",
        price: (2499, 5999),
        blurb: "A frameless-look shower door in toughened safety glass with an easy-clean coating.",
        offers: &[
            o("Aqualine", &["Classic", "Elite"], ""),
            o("Ideal Standard", &["Connect", "Kubo"], ""),
            o("Showertech", &["", "Pro"], ""),
        ],
        attrs: &[
            w("type", "a {} opening", &["Pivot", "Sliding", "Hinged"]),
            s(
                "width_mm",
                "a width of {} mm",
                &[(760.0, 0.85), (800.0, 0.9), (900.0, 1.0), (1000.0, 1.15), (1200.0, 1.4)],
            ),
            n("glass_mm", "{} mm glass", &[6.0, 8.0]),
        ],
    },
    Kind {
        leaf: "toilets",
        weight: 6,
        name: "{brand} {line} Close-Coupled Toilet Suite",
        price: (1699, 4499),
        blurb: "A close-coupled toilet with a dual-flush cistern, a seat and all the fittings.",
        offers: SANITARY_BRANDS,
        attrs: &[
            w("outlet", "a {} outlet", &["P-pan", "S-pan"]),
            n("flush_l", "a {} L full flush", &[4.5, 6.0]),
            flag(
                "soft_close_seat",
                "The seat closes softly and lifts off for cleaning.|",
                0.5,
                1.1,
            ),
        ],
    },
    Kind {
        leaf: "toilets",
        weight: 5,
        name: "{brand} {line} Toilet Seat {material}",
        price: (249, 899),
        blurb: "A toilet seat that fits most standard pans, with stainless steel hinges.",
        offers: SANITARY_BRANDS,
        attrs: &[
            pw(
                "material",
                "a {} seat",
                &[("Polypropylene", 0.7), ("Thermoset", 1.0), ("Wood", 1.2)],
            ),
            flag("soft_close", "It closes softly and quietly.|", 0.6, 1.3),
        ],
    },
    Kind {
        leaf: "basins",
        weight: 6,
        name: "{brand} {line} {type} Basin {width_mm}mm",
        price: (899, 2999),
        blurb: "A vitreous china basin with a smooth glaze that wipes clean.",
        offers: SANITARY_BRANDS,
        attrs: &[
            w(
                "type",
                "a {} design",
                &["Wall-Hung", "Pedestal", "Vessel", "Counter-Top", "Semi-Recessed"],
            ),
            s(
                "width_mm",
                "a width of {} mm",
                &[(400.0, 0.8), (500.0, 0.9), (550.0, 1.0), (600.0, 1.15)],
            ),
            n("tap_holes", "{} tap hole(s)", &[1.0, 3.0]),
        ],
    },
    Kind {
        leaf: "bathroom-accessories",
        weight: 4,
        name: "{brand} {line} Heated Towel Rail {watts}W",
        price: (1499, 4999),
        blurb: "A heated towel rail that dries towels and takes the chill off the bathroom.",
        offers: &[
            o("Bathroom Butler", &["Vogue", "4600 Series", "8500 Series"], ""),
            o("Hotwire", &["Classic", "Elegance"], ""),
        ],
        attrs: &[
            s(
                "watts",
                "{} W of heat",
                &[(60.0, 0.8), (80.0, 0.9), (100.0, 1.0), (120.0, 1.2)],
            ),
            w("finish", "a {} finish", &["Chrome", "Satin", "White", "Black"]),
            flag("timer", "A built-in timer switches it off.|", 0.4, 1.15),
        ],
    },
    Kind {
        leaf: "bathroom-accessories",
        weight: 6,
        name: "{brand} {line} Towel Rail {length_mm}mm {finish}",
        price: (299, 999),
        blurb: "A wall-mounted towel rail with concealed fixings.",
        offers: BATHROOM_FITTINGS,
        attrs: &[
            s(
                "length_mm",
                "a length of {} mm",
                &[(450.0, 0.8), (600.0, 1.0), (800.0, 1.25)],
            ),
            pw("finish", "a {} finish", TAP_FINISHES),
        ],
    },
    Kind {
        leaf: "bathroom-accessories",
        weight: 5,
        name: "{brand} {line} Toilet Roll Holder {finish}",
        price: (149, 599),
        blurb: "A toilet roll holder that matches the rest of the range, with concealed fixings.",
        offers: BATHROOM_FITTINGS,
        attrs: &[pw("finish", "a {} finish", TAP_FINISHES)],
    },
    // ---- kitchen ----
    Kind {
        leaf: "kitchen-taps",
        weight: 9,
        name: "{brand} {line} Sink Mixer {finish}",
        price: (999, 2999),
        blurb: "A single-lever sink mixer with a high swivel spout that clears the deepest pots.",
        offers: &[
            o("Grohe", &["Eurosmart", "Minta", "BauEdge"], ""),
            o("Hansgrohe", &["Focus M42", "Talis M51"], ""),
            o("Franke", &["Atlas", "Lina"], ""),
            o("Cobra", &["Hydrafit", "Aqua"], ""),
        ],
        attrs: &[
            pw(
                "finish",
                "a {} finish",
                &[("Chrome", 1.0), ("Stainless Steel", 1.2), ("Matt Black", 1.3)],
            ),
            flag(
                "pull_out_spray",
                "A pull-out spray rinses the sink and the vegetables.|",
                0.4,
                1.4,
            ),
            n("warranty_years", "a {}-year warranty", &[5.0, 10.0]),
        ],
    },
    Kind {
        leaf: "sinks",
        weight: 6,
        name: "{brand} {line} {bowls} Bowl Stainless Steel Sink {width_mm}mm",
        price: (1299, 3499),
        blurb: "A stainless steel sink with a sound-deadened underside and a waste kit.",
        offers: &[
            o("Franke", &["Sirius", "Polar", "Maris"], ""),
            o("Teka", &["Stylo", "Classic"], ""),
            o("Blanco", &["Lemis", "Tipo"], ""),
        ],
        attrs: &[
            s("bowls", "{} bowl(s)", &[(1.0, 0.8), (1.5, 1.0), (2.0, 1.2)]),
            s(
                "width_mm",
                "a width of {} mm",
                &[(860.0, 0.9), (1000.0, 1.0), (1200.0, 1.2)],
            ),
            flag("drainer", "A drainer on one side.|", 0.8, 1.05),
        ],
    },
    Kind {
        leaf: "sinks",
        weight: 3,
        name: "{brand} {line} Granite Composite Sink {colour}",
        price: (2999, 6999),
        blurb: "A granite composite sink that resists scratches, stains and heat.",
        offers: &[o("Franke", &["Fragranite"], ""), o("Blanco", &["Silgranit"], "")],
        attrs: &[
            w(
                "colour",
                "the colour {}",
                &["Onyx", "Stone Grey", "Sahara", "Polar White"],
            ),
            s("bowls", "{} bowl(s)", &[(1.0, 0.85), (1.5, 1.0), (2.0, 1.2)]),
        ],
    },
    Kind {
        leaf: "cooker-hoods",
        weight: 5,
        name: "{brand} {line} {width_cm}cm {type} Cooker Hood",
        price: (1999, 6999),
        blurb: "A cooker hood that clears steam and smells, with LED lighting over the hob.",
        offers: &[
            o("Bosch", &["Serie 2", "Serie 4", "Serie 6"], ""),
            o("Franke", &["Smart", "Maris"], ""),
            o("Defy", &[""], ""),
            o("Smeg", &[""], ""),
        ],
        attrs: &[
            w("type", "a {} design", &["Chimney", "Slimline", "Built-In"]),
            s("width_cm", "a width of {} cm", &[(60.0, 1.0), (90.0, 1.3)]),
            n(
                "extraction_m3_per_h",
                "extraction of up to {} m³ per hour",
                &[250.0, 350.0, 450.0, 600.0, 720.0],
            ),
        ],
    },
    Kind {
        leaf: "worktops",
        weight: 5,
        name: "{brand} {line} Laminate Worktop {finish} {length_mm}mm",
        price: (899, 2499),
        blurb: "A laminate worktop with a moisture-resistant core and a rounded front edge.",
        offers: &[
            o("PG Bison", &["SupaWood", "MelaWood"], ""),
            o("Egger", &["Feelwood", "Premium"], ""),
            o("Formica", &["Classic"], ""),
        ],
        attrs: &[
            w(
                "finish",
                "a {} look",
                &["Oak", "Carrara Marble", "Black Granite", "Concrete Grey", "White Gloss"],
            ),
            s(
                "length_mm",
                "a length of {} mm",
                &[(1800.0, 0.75), (2400.0, 0.95), (3000.0, 1.15), (3600.0, 1.35)],
            ),
            n("thickness_mm", "a thickness of {} mm", &[28.0, 32.0, 38.0]),
        ],
    },
    // ---- plumbing ----
    Kind {
        leaf: "pvc-pipes",
        weight: 8,
        name: "{brand} PVC Pressure Pipe {diameter_mm}mm x {length_m}m Class {class}",
        price: (79, 169),
        blurb: "A uPVC pressure pipe for cold water supply and irrigation.",
        offers: &[
            o("Marley", &[""], ""),
            o("DPI Plastics", &[""], ""),
            o("Sizwe", &[""], ""),
        ],
        attrs: &[
            s(
                "diameter_mm",
                "a {} mm outside diameter",
                &[
                    (20.0, 0.5),
                    (25.0, 0.7),
                    (32.0, 1.0),
                    (40.0, 1.4),
                    (50.0, 1.8),
                    (110.0, 4.0),
                ],
            ),
            s("length_m", "a length of {} m", &[(3.0, 0.6), (6.0, 1.0)]),
            n("class", "pressure class {}", &[6.0, 9.0, 12.0, 16.0]),
        ],
    },
    Kind {
        leaf: "copper-pipes",
        weight: 6,
        name: "{brand} Copper Pipe {diameter_mm}mm x {length_m}m Class {class}",
        price: (249, 399),
        blurb: "A copper tube for hot and cold water supply, to SANS 460.",
        offers: &[o("Maksal", &[""], ""), o("Isiflo", &[""], ""), o("Cobra", &[""], "")],
        attrs: &[
            s(
                "diameter_mm",
                "a {} mm diameter",
                &[(15.0, 1.0), (22.0, 1.8), (28.0, 2.5)],
            ),
            s("length_m", "a length of {} m", &[(3.0, 0.55), (5.5, 1.0)]),
            w("class", "class {}", &["0", "1", "2"]),
        ],
    },
    Kind {
        leaf: "pipe-fittings",
        weight: 14,
        name: "{brand} Compression {fitting} {diameter_mm}mm",
        price: (39, 89),
        blurb: "A brass compression fitting that joins copper pipe without soldering.",
        offers: &[o("Isiflo", &[""], ""), o("Cobra", &[""], ""), o("Maksal", &[""], "")],
        attrs: &[
            w(
                "fitting",
                "a {} shape",
                &["Elbow", "Tee", "Straight Coupling", "Reducer", "End Cap", "Wall Elbow"],
            ),
            s("diameter_mm", "a {} mm size", &[(15.0, 1.0), (22.0, 1.6), (28.0, 2.4)]),
        ],
    },
    Kind {
        leaf: "pipe-fittings",
        weight: 10,
        name: "{brand} PVC {fitting} {diameter_mm}mm",
        price: (12, 45),
        blurb: "A uPVC pressure fitting for solvent-weld joints.",
        offers: &[o("Marley", &[""], ""), o("DPI Plastics", &[""], "")],
        attrs: &[
            w(
                "fitting",
                "a {} shape",
                &["Elbow", "Tee", "Coupling", "Reducer", "End Cap", "Adaptor"],
            ),
            s(
                "diameter_mm",
                "a {} mm size",
                &[(20.0, 0.8), (25.0, 1.0), (32.0, 1.3), (40.0, 1.7), (50.0, 2.2)],
            ),
        ],
    },
    Kind {
        leaf: "geysers",
        weight: 4,
        name: "{brand} {line} {capacity_l}L Electric Geyser {kw}kW",
        price: (4999, 7999),
        blurb: "An electric geyser with a thick insulation jacket and a replaceable element, SABS approved.",
        offers: &[
            o("Kwikot", &["Superline", "Essentials"], ""),
            o("Heat Tech", &["Classic", "Ecomax"], ""),
            o("Ariston", &["Pro1", ""], ""),
        ],
        attrs: &[
            s(
                "capacity_l",
                "a {} L tank",
                &[(50.0, 0.6), (100.0, 0.75), (150.0, 0.9), (200.0, 1.0), (250.0, 1.2)],
            ),
            n("kw", "a {} kW element", &[2.0, 3.0, 4.0]),
            w("orientation", "a {} mounting", &["horizontal", "vertical"]),
        ],
    },
    Kind {
        leaf: "geysers",
        weight: 3,
        name: "{brand} {line} {capacity_l_per_min}L/min Gas Water Heater",
        price: (3499, 6999),
        blurb: "A gas water heater that heats water as it flows, so it never runs out and needs no electricity.",
        offers: &[
            o("Bosch", &["Therm 2000", "Therm 4000"], ""),
            o("Cadac", &["Ecolux", ""], ""),
            o("Rinnai", &["Infinity"], ""),
        ],
        attrs: &[s(
            "capacity_l_per_min",
            "a flow of {} L per minute",
            &[(6.0, 0.7), (10.0, 0.9), (12.0, 1.0), (16.0, 1.4), (20.0, 1.8)],
        )],
    },
    Kind {
        leaf: "valves",
        weight: 8,
        name: "{brand} {valve} {diameter_mm}mm",
        price: (79, 399),
        blurb: "A brass valve for isolating and controlling the water supply.",
        offers: &[o("Cobra", &[""], ""), o("Isiflo", &[""], ""), o("Kwikot", &[""], "")],
        attrs: &[
            pw(
                "valve",
                "a {} design",
                &[
                    ("Ball Valve", 0.8),
                    ("Gate Valve", 1.0),
                    ("Stopcock", 0.9),
                    ("Pressure Control Valve", 2.5),
                    ("Vacuum Breaker", 0.7),
                    ("Non-Return Valve", 1.1),
                ],
            ),
            s("diameter_mm", "a {} mm size", &[(15.0, 1.0), (22.0, 1.4), (28.0, 1.9)]),
        ],
    },
    Kind {
        leaf: "drainage",
        weight: 5,
        name: "{brand} {line} Drain Unblocker {volume_ml}ml",
        price: (49, 149),
        blurb: "A thick gel that sinks through standing water and clears hair, grease and soap scum.",
        offers: &[
            o("Drano", &["Max Gel", "Power Foam"], ""),
            o("Mr Muscle", &["Drain Gel", ""], ""),
        ],
        attrs: &[s(
            "volume_ml",
            "a {} ml bottle",
            &[(500.0, 0.7), (750.0, 1.0), (1000.0, 1.25)],
        )],
    },
    Kind {
        leaf: "drainage",
        weight: 6,
        name: "{brand} {trap} Trap {diameter_mm}mm",
        price: (59, 249),
        blurb: "A waste trap that keeps drain smells out of the house and unscrews for cleaning.",
        offers: &[o("Marley", &[""], ""), o("Cobra", &[""], ""), o("McAlpine", &[""], "")],
        attrs: &[
            w("trap", "a {} design", &["Bottle", "P", "S", "Anti-Siphon"]),
            s(
                "diameter_mm",
                "a {} mm connection",
                &[(32.0, 0.9), (40.0, 1.0), (50.0, 1.2)],
            ),
        ],
    },
    Kind {
        leaf: "drainage",
        weight: 4,
        name: "{brand} uPVC Drainage Pipe {diameter_mm}mm x {length_m}m",
        price: (249, 499),
        blurb: "A uPVC soil and waste pipe for drainage above and below ground.",
        offers: &[o("Marley", &[""], ""), o("DPI Plastics", &[""], "")],
        attrs: &[
            s(
                "diameter_mm",
                "a {} mm diameter",
                &[(40.0, 0.5), (50.0, 0.6), (110.0, 1.0), (160.0, 1.8)],
            ),
            s("length_m", "a length of {} m", &[(3.0, 0.6), (6.0, 1.0)]),
        ],
    },
    // ---- electrical ----
    Kind {
        leaf: "cables",
        weight: 8,
        name: "{brand} Surfix Cable {size_mm2}mm² {cores} {length_m}m",
        price: (349, 599),
        blurb: "A flat PVC-insulated cable for fixed wiring of lights and plugs, to SANS 1507.",
        offers: &[
            o("Aberdare", &[""], ""),
            o("Ellies", &[""], ""),
            o("South Ocean", &[""], ""),
        ],
        attrs: &[
            s(
                "size_mm2",
                "{} mm² conductors",
                &[(1.5, 1.0), (2.5, 1.5), (4.0, 2.2), (6.0, 3.2)],
            ),
            pw("cores", "{} cores", &[("Twin & Earth", 1.0), ("3 Core & Earth", 1.35)]),
            s(
                "length_m",
                "a length of {} m",
                &[(5.0, 0.3), (10.0, 0.55), (20.0, 1.0), (50.0, 2.3), (100.0, 4.4)],
            ),
        ],
    },
    Kind {
        leaf: "switches-sockets",
        weight: 12,
        name: "{brand} {line} {type} {finish}",
        price: (49, 129),
        blurb: "A wall plate to SANS 164 with screwless covers, for a neat finish.",
        offers: &[
            o("Crabtree", &["Classic", "Vista"], ""),
            o("Veti", &["Veti 3", "Lumina"], ""),
            o("Legrand", &["Belanko", "Arteor"], ""),
            o("Schneider", &["Ulti", "Lisse"], ""),
        ],
        attrs: &[
            pw(
                "type",
                "a {} configuration",
                &[
                    ("Single Socket", 0.8),
                    ("Double Socket", 1.0),
                    ("Double Socket with USB", 2.6),
                    ("1 Lever Switch", 0.6),
                    ("2 Lever Switch", 0.8),
                    ("Dimmer Switch", 2.2),
                ],
            ),
            w(
                "finish",
                "a {} cover plate",
                &["White", "Ivory", "Black", "Brushed Steel"],
            ),
            n("rating_a", "a {} A rating", &[10.0, 16.0]),
        ],
    },
    Kind {
        leaf: "extension-leads",
        weight: 8,
        name: "{brand} {line} {outlets}-Way Extension Lead {length_m}m",
        price: (149, 299),
        blurb: "An extension lead with SA and Euro outlets and overload protection.",
        offers: &[
            o("Ellies", &["", "Pro"], ""),
            o("Switched", &["Power"], ""),
            o("Major Tech", &[""], ""),
        ],
        attrs: &[
            s(
                "outlets",
                "{} outlets",
                &[(2.0, 0.7), (4.0, 1.0), (6.0, 1.3), (8.0, 1.6)],
            ),
            s("length_m", "a {} m cord", &[(1.0, 0.8), (3.0, 1.0), (5.0, 1.2)]),
            flag(
                "surge_protected",
                "Surge protection guards appliances from spikes when the power returns.|",
                0.5,
                1.3,
            ),
        ],
    },
    Kind {
        leaf: "extension-leads",
        weight: 4,
        name: "{brand} Extension Cable Reel {length_m}m",
        price: (399, 999),
        blurb: "A heavy-duty cable reel with a thermal cut-out, for power tools in the garden and garage.",
        offers: &[
            o("Ellies", &[""], ""),
            o("Major Tech", &[""], ""),
            o("Switched", &[""], ""),
        ],
        attrs: &[
            s(
                "length_m",
                "a {} m cable",
                &[(10.0, 0.6), (20.0, 0.8), (30.0, 1.0), (50.0, 1.4)],
            ),
            n("outlets", "{} outlets", &[2.0, 3.0, 4.0]),
        ],
    },
    Kind {
        leaf: "extension-leads",
        weight: 5,
        name: "{brand} {type} Adaptor",
        price: (29, 99),
        blurb: "A plug adaptor with a fuse, for connecting appliances to SA sockets.",
        offers: &[
            o("Ellies", &[""], ""),
            o("Switched", &[""], ""),
            o("Major Tech", &[""], ""),
        ],
        attrs: &[pw(
            "type",
            "a {} layout",
            &[
                ("2-Way", 0.8),
                ("3-Way", 1.0),
                ("Euro to SA", 0.7),
                ("SA to Euro", 0.7),
                ("Travel", 2.5),
            ],
        )],
    },
    Kind {
        leaf: "circuit-breakers",
        weight: 8,
        name: "{brand} {line} {poles} Pole Circuit Breaker {amps}A",
        price: (89, 199),
        blurb: "A DIN-rail miniature circuit breaker with a type C curve, to SANS 60898.",
        offers: &[
            o("CBI", &["QA", "QF"], ""),
            o("Hager", &["MCN", ""], ""),
            o("Schneider", &["Acti9", "Easy9"], ""),
        ],
        attrs: &[
            s("poles", "{} pole(s)", &[(1.0, 1.0), (2.0, 2.1), (3.0, 3.2)]),
            n("amps", "a rating of {} A", &[10.0, 16.0, 20.0, 32.0, 40.0, 63.0]),
        ],
    },
    Kind {
        leaf: "circuit-breakers",
        weight: 4,
        name: "{brand} {line} Earth Leakage Unit {amps}A 30mA",
        price: (399, 899),
        blurb: "An earth leakage unit that trips at 30 mA to protect people from electric shock.",
        offers: &[
            o("CBI", &["QA", ""], ""),
            o("Hager", &[""], ""),
            o("Schneider", &["Acti9"], ""),
        ],
        attrs: &[
            n("amps", "a rating of {} A", &[40.0, 63.0]),
            n("poles", "{} poles", &[2.0, 4.0]),
        ],
    },
    Kind {
        leaf: "circuit-breakers",
        weight: 3,
        name: "{brand} {ways}-Way DB Board {mount}",
        price: (399, 899),
        blurb: "A distribution board enclosure with a DIN rail, earth and neutral bars and a lockable door.",
        offers: &[o("CBI", &[""], ""), o("Hager", &[""], ""), o("Schneider", &[""], "")],
        attrs: &[
            s(
                "ways",
                "{} ways",
                &[(4.0, 0.6), (8.0, 0.8), (12.0, 1.0), (18.0, 1.4), (24.0, 1.8)],
            ),
            w("mount", "a {} enclosure", &["Surface Mount", "Flush Mount"]),
        ],
    },
    Kind {
        leaf: "inverters",
        weight: 5,
        name: "{brand} {line} {power_kw}kW Hybrid Inverter",
        price: (14999, 29999),
        blurb: "A pure sine wave hybrid inverter that keeps the lights and Wi-Fi on through load shedding and \
                takes solar panels.",
        offers: &[
            o("Victron", &["MultiPlus-II"], ""),
            o("Sunsynk", &["", "ECCO"], ""),
            o("Deye", &["SUN"], ""),
            o("Growatt", &["SPF", "SPH"], ""),
            o("Mecer", &["Axpert"], ""),
        ],
        attrs: &[
            s(
                "power_kw",
                "{} kW of continuous output",
                &[(1.0, 0.35), (3.0, 0.6), (5.0, 1.0), (8.0, 1.6), (10.0, 2.0)],
            ),
            n("mppt_count", "{} solar MPPT input(s)", &[1.0, 2.0]),
            n("battery_v", "a {} V battery bus", &[24.0, 48.0]),
        ],
    },
    Kind {
        leaf: "inverters",
        weight: 5,
        name: "{brand} {line} Portable Power Station {capacity_wh}Wh",
        price: (9999, 17999),
        blurb: "A portable power station with AC, USB-C and car outlets that runs a TV, router and lights through \
                load shedding.",
        offers: &[
            o("EcoFlow", &["River 2", "Delta 2", "Delta Pro"], ""),
            o("Jackery", &["Explorer"], ""),
            o("Gizzu", &["Hero", "Challenger"], ""),
            o("Bluetti", &["EB", "AC"], ""),
        ],
        attrs: &[
            s(
                "capacity_wh",
                "a {} Wh battery",
                &[(256.0, 0.35), (512.0, 0.55), (1024.0, 1.0), (2048.0, 1.8)],
            ),
            n("output_w", "{} W of AC output", &[300.0, 600.0, 1000.0, 1800.0, 2400.0]),
            flag("solar_input", "It charges from solar panels too.|", 0.7, 1.05),
        ],
    },
    Kind {
        leaf: "inverter-batteries",
        weight: 5,
        name: "{brand} {line} {capacity_kwh}kWh {voltage}V Lithium Battery",
        price: (19999, 29999),
        blurb: "A lithium iron phosphate battery with a built-in BMS, made for daily cycling with an inverter.",
        offers: &[
            o("Pylontech", &["", "Force"], ""),
            o("Hubble", &["AM-2", "AM-5"], ""),
            o("Dyness", &["", "PowerBox"], ""),
            o("Freedom Won", &["Lite"], ""),
            o("Sunsynk", &[""], ""),
        ],
        attrs: &[
            s(
                "capacity_kwh",
                "{} kWh of storage",
                &[(2.4, 0.5), (3.5, 0.75), (4.8, 1.0), (5.12, 1.05), (10.24, 2.0)],
            ),
            n("voltage", "a {} V nominal voltage", &[48.0, 51.2]),
            n("cycles", "a rated life of {} cycles", &[4000.0, 6000.0, 8000.0]),
        ],
    },
    Kind {
        leaf: "solar-panels",
        weight: 5,
        name: "{brand} {line} {watts}W Monocrystalline Solar Panel",
        price: (1999, 2999),
        blurb: "A half-cut monocrystalline solar panel with an anodised frame and a 25-year output warranty.",
        offers: &[
            o("JA Solar", &["JAM"], ""),
            o("Canadian Solar", &["HiKu"], ""),
            o("Jinko", &["Tiger Neo"], ""),
            o("LONGi", &["Hi-MO"], ""),
        ],
        attrs: &[
            s(
                "watts",
                "a {} W peak output",
                &[(330.0, 0.7), (410.0, 0.85), (450.0, 0.95), (550.0, 1.1), (585.0, 1.2)],
            ),
            n("efficiency_pct", "{}% efficiency", &[20.5, 21.0, 21.3, 22.0]),
        ],
    },
    // ---- lighting ----
    Kind {
        leaf: "light-bulbs",
        weight: 14,
        name: "{brand} LED {shape} Bulb {watts}W {cap} {colour_temp_k}K {pack} Pack",
        price: (29, 69),
        blurb: "An energy-saving LED bulb that lasts up to 15 000 hours.",
        offers: &[
            o("Eurolux", &[""], ""),
            o("Radiant", &[""], ""),
            o("Philips", &[""], ""),
            o("Osram", &[""], ""),
            o("Ellies", &[""], ""),
        ],
        attrs: &[
            w(
                "shape",
                "a {} shape",
                &["A60", "Candle", "Golf Ball", "Globe", "Filament"],
            ),
            w("cap", "a {} cap", &["E27", "B22", "E14", "B15"]),
            n("watts", "{} W of power draw", &[5.0, 7.0, 9.0, 10.0, 12.0]),
            n(
                "colour_temp_k",
                "a colour temperature of {} K",
                &[2700.0, 4000.0, 6500.0],
            ),
            s("pack", "{} bulb(s) in the pack", &[(1.0, 1.0), (3.0, 2.6), (4.0, 3.3)]),
        ],
    },
    Kind {
        leaf: "light-bulbs",
        weight: 4,
        name: "{brand} {line} Smart Wi-Fi LED Bulb {watts}W {cap}",
        price: (129, 899),
        blurb: "A smart LED bulb that dims and changes colour from a phone app or a voice assistant.",
        offers: &[
            o("Philips", &["Hue White and Colour", "WiZ"], ""),
            o("Eurolux", &["Smart"], ""),
            o("TP-Link", &["Tapo"], ""),
        ],
        attrs: &[
            w("cap", "a {} cap", &["E27", "B22", "GU10"]),
            n("watts", "{} W of power draw", &[5.0, 8.0, 9.0, 10.0]),
        ],
    },
    Kind {
        leaf: "ceiling-lights",
        weight: 7,
        name: "{brand} {line} {style} Ceiling Light {finish}",
        price: (299, 1499),
        blurb: "A ceiling light that takes standard LED bulbs and suits living rooms, bedrooms and passages.",
        offers: LIGHTING_BRANDS,
        attrs: &[
            pw(
                "style",
                "a {} design",
                &[
                    ("Pendant", 1.0),
                    ("Flush Mount", 0.8),
                    ("Semi-Flush", 0.9),
                    ("Chandelier", 2.2),
                    ("Batten", 0.6),
                ],
            ),
            w("finish", "a {} finish", LIGHT_FINISHES),
            n("lamps", "{} lamp holder(s)", &[1.0, 3.0, 5.0]),
        ],
    },
    Kind {
        leaf: "lamps",
        weight: 5,
        name: "{brand} {line} {type} Lamp {finish}",
        price: (249, 1299),
        blurb: "A lamp with a fabric shade and an inline switch, for reading corners and bedsides.",
        offers: LIGHTING_BRANDS,
        attrs: &[
            pw(
                "type",
                "a {} design",
                &[("Floor", 1.3), ("Desk", 0.8), ("Bedside", 0.7), ("Tripod Floor", 1.5)],
            ),
            w("finish", "a {} finish", LIGHT_FINISHES),
        ],
    },
    Kind {
        leaf: "downlights",
        weight: 7,
        name: "{brand} {line} LED Downlight {watts}W {pack} Pack",
        price: (79, 199),
        blurb: "A slim LED downlight with an integrated driver, for ceilings and bathrooms.",
        offers: LIGHTING_BRANDS,
        attrs: &[
            n("watts", "{} W of power draw", &[5.0, 7.0, 9.0, 12.0]),
            n("cutout_mm", "a {} mm cut-out", &[75.0, 85.0, 90.0, 110.0]),
            w("ip_rating", "an {} rating", &["IP20", "IP44", "IP65"]),
            flag("dimmable", "Dimmable with a trailing-edge dimmer.|", 0.5, 1.2),
            s(
                "pack",
                "{} downlight(s) in the pack",
                &[(1.0, 1.0), (3.0, 2.5), (6.0, 4.6)],
            ),
        ],
    },
    Kind {
        leaf: "outdoor-lighting",
        weight: 6,
        name: "{brand} {line} Outdoor Wall Light {finish}",
        price: (199, 899),
        blurb: "A weatherproof outdoor wall light in die-cast aluminium, for entrances and patios.",
        offers: LIGHTING_BRANDS,
        attrs: &[
            w(
                "finish",
                "a {} finish",
                &["Black", "Charcoal", "White", "Stainless Steel"],
            ),
            w("ip_rating", "an {} rating", &["IP44", "IP54", "IP65"]),
            flag(
                "motion_sensor",
                "A motion sensor switches it on when someone approaches.|",
                0.35,
                1.3,
            ),
        ],
    },
    Kind {
        leaf: "outdoor-lighting",
        weight: 6,
        name: "{brand} LED Floodlight {watts}W",
        price: (199, 499),
        blurb: "A slim LED floodlight for driveways, yards and security lighting.",
        offers: &[
            o("Eurolux", &[""], ""),
            o("Radiant", &[""], ""),
            o("Ellies", &[""], ""),
            o("Bright Star", &[""], ""),
        ],
        attrs: &[
            s(
                "watts",
                "{} W of power draw",
                &[(10.0, 0.5), (20.0, 0.7), (30.0, 0.85), (50.0, 1.0), (100.0, 1.7)],
            ),
            flag(
                "motion_sensor",
                "A motion sensor switches it on when someone approaches.|",
                0.4,
                1.25,
            ),
            w("ip_rating", "an {} rating", &["IP65", "IP66"]),
        ],
    },
    Kind {
        leaf: "outdoor-lighting",
        weight: 5,
        name: "{brand} Solar {type} Light {pack} Pack",
        price: (99, 349),
        blurb: "A solar garden light that charges by day and switches on at dusk, with no wiring.",
        offers: &[
            o("Eurolux", &[""], ""),
            o("Gizzu", &[""], ""),
            o("Bright Star", &[""], ""),
        ],
        attrs: &[
            w("type", "a {} design", &["Spike", "Bollard", "String", "Wall", "Fence"]),
            s(
                "pack",
                "{} light(s) in the pack",
                &[(1.0, 0.5), (2.0, 0.8), (4.0, 1.0), (6.0, 1.4)],
            ),
        ],
    },
    Kind {
        leaf: "rechargeable-lights",
        weight: 7,
        name: "{brand} {line} Rechargeable {type} {lumens}lm",
        price: (99, 449),
        blurb: "A rechargeable light for load shedding, camping and emergencies.",
        offers: &[
            o("Gizzu", &["", "Pro"], ""),
            o("Eurolux", &[""], ""),
            o("Ellies", &[""], ""),
            o("Mr Light", &[""], ""),
        ],
        attrs: &[
            w(
                "type",
                "a {} design",
                &["LED Lantern", "Emergency Bulb", "Torch", "Headlamp", "Work Light"],
            ),
            s(
                "lumens",
                "{} lumens",
                &[(100.0, 0.6), (200.0, 0.8), (300.0, 1.0), (500.0, 1.3), (1000.0, 1.8)],
            ),
            n("runtime_h", "up to {} hours of light", &[3.0, 4.0, 6.0, 8.0, 12.0]),
        ],
    },
    // ---- flooring ----
    Kind {
        leaf: "floor-tiles",
        weight: 10,
        name: "{brand} {line} {material} Floor Tile {size_mm}mm {colour}",
        price: (159, 399),
        blurb: "A rectified floor tile with a through-body colour that hides chips.",
        offers: &[
            o("Ceramic Industries", &["Pietra", "Samca", "Urban"], ""),
            o("Porcelanosa", &["Bottega", "Marmol"], ""),
            o("Johnson Tiles", &["Prismatics", "Stone Effect"], ""),
        ],
        attrs: &[
            pw(
                "material",
                "a {} body",
                &[("Ceramic", 1.0), ("Porcelain", 1.3), ("Glazed Porcelain", 1.4)],
            ),
            pw(
                "size_mm",
                "a size of {} mm",
                &[("300x300", 0.7), ("400x400", 0.8), ("600x600", 1.0), ("600x1200", 1.4)],
            ),
            w(
                "colour",
                "a {} look",
                &["Grey", "Beige", "White", "Charcoal", "Wood Effect", "Marble Effect"],
            ),
            w("finish", "a {} surface", &["matt", "polished", "textured", "lappato"]),
            n("box_m2", "{} m² per box", &[1.08, 1.44, 2.16]),
        ],
    },
    Kind {
        leaf: "wall-tiles",
        weight: 8,
        name: "{brand} {line} Ceramic Wall Tile {size_mm}mm {colour}",
        price: (99, 299),
        blurb: "A glazed ceramic wall tile for bathrooms, kitchens and splashbacks.",
        offers: &[
            o("Ceramic Industries", &["Betta", "Samca"], ""),
            o("Porcelanosa", &["Oxford", "Marmol"], ""),
            o("Johnson Tiles", &["Metro", "Prismatics"], ""),
        ],
        attrs: &[
            pw(
                "size_mm",
                "a size of {} mm",
                &[("75x150", 1.2), ("200x250", 0.8), ("250x400", 1.0), ("300x600", 1.3)],
            ),
            w(
                "colour",
                "a {} glaze",
                &["White", "Ivory", "Sage", "Navy", "Grey", "Terracotta", "Black"],
            ),
            w("finish", "a {} surface", &["gloss", "matt", "crackle"]),
            n("box_m2", "{} m² per box", &[1.0, 1.2, 1.5]),
        ],
    },
    Kind {
        leaf: "laminate-flooring",
        weight: 7,
        name: "{brand} {line} Laminate Flooring {decor} {thickness_mm}mm",
        price: (299, 599),
        blurb: "A click-fit laminate floor that goes down without glue over an underlay.",
        offers: &[
            o("Egger", &["Pro", "Home"], ""),
            o("Quick-Step", &["Classic", "Impressive"], ""),
            o("Kronoswiss", &["Swiss Noblesse", ""], ""),
        ],
        attrs: &[
            w("decor", "a {} decor", FLOOR_DECORS),
            s(
                "thickness_mm",
                "a thickness of {} mm",
                &[(7.0, 0.85), (8.0, 1.0), (10.0, 1.25), (12.0, 1.5)],
            ),
            w("ac_rating", "an {} wear rating", &["AC3", "AC4", "AC5"]),
            n("box_m2", "{} m² per box", &[1.99, 2.13, 2.22, 2.4]),
        ],
    },
    Kind {
        leaf: "vinyl-flooring",
        weight: 6,
        name: "{brand} {line} Click Vinyl Plank {decor} {thickness_mm}mm",
        price: (399, 799),
        blurb: "A waterproof vinyl plank for kitchens and bathrooms, warm and quiet underfoot.",
        offers: &[
            o("Quick-Step", &["Alpha", "Livyn"], ""),
            o("Egger", &["Design GreenTec"], ""),
            o("Polyflor", &["Camaro"], ""),
            o("Tarkett", &["iD Inspiration"], ""),
        ],
        attrs: &[
            w("decor", "a {} decor", FLOOR_DECORS),
            s(
                "thickness_mm",
                "a thickness of {} mm",
                &[(4.0, 0.8), (5.0, 1.0), (6.5, 1.3)],
            ),
            n("wear_layer_mm", "a {} mm wear layer", &[0.3, 0.55]),
            n("box_m2", "{} m² per box", &[1.76, 2.2, 2.5]),
        ],
    },
    Kind {
        leaf: "carpets-rugs",
        weight: 5,
        name: "{brand} {line} {style} Rug {size_cm}cm",
        price: (899, 2499),
        blurb: "A rug that adds warmth and colour, with a non-shed pile that stands up to traffic.",
        offers: &[
            o("Hertex", &["Haus", ""], ""),
            o("Nourison", &["Essentials", "Passion"], ""),
            o("Vitrine Home", &[""], ""),
        ],
        attrs: &[
            w(
                "style",
                "a {} style",
                &["Shaggy", "Flatweave", "Persian-Style", "Geometric", "Jute"],
            ),
            pw(
                "size_cm",
                "a size of {} cm",
                &[("120x170", 0.6), ("160x230", 1.0), ("200x290", 1.6)],
            ),
        ],
    },
    Kind {
        leaf: "carpets-rugs",
        weight: 4,
        name: "{brand} {line} Carpet Tiles 500x500mm {colour} {pack} Pack",
        price: (499, 999),
        blurb: "Loose-lay carpet tiles that replace one at a time, for offices, studies and playrooms.",
        offers: &[o("Belgotex", &["Floors", ""], ""), o("Interface", &["Heuga"], "")],
        attrs: &[
            w(
                "colour",
                "a {} colour",
                &["Charcoal", "Slate", "Beige", "Navy", "Stone"],
            ),
            s("pack", "{} tiles in the pack", &[(10.0, 0.6), (20.0, 1.0)]),
        ],
    },
    Kind {
        leaf: "tile-adhesive-grout",
        weight: 6,
        name: "{brand} {line} Tile Adhesive {weight_kg}kg",
        price: (189, 399),
        blurb: "A cement-based tile adhesive for floors and walls, indoors and out.",
        offers: &[
            o("TAL", &["Goldstar", "Keramic", "Rapidset"], ""),
            o("Mapei", &["Keraflex", "Ultralite"], ""),
            o("Sika", &["Ceram"], ""),
        ],
        attrs: &[
            s("weight_kg", "a {} kg bag", &[(5.0, 0.35), (20.0, 1.0)]),
            flag(
                "flexible",
                "Flexible, for underfloor heating and timber substrates.|",
                0.4,
                1.3,
            ),
        ],
    },
    Kind {
        leaf: "tile-adhesive-grout",
        weight: 5,
        name: "{brand} {line} Tile Grout {colour} {weight_kg}kg",
        price: (99, 229),
        blurb: "A fine cementitious grout that resists cracking and staining.",
        offers: &[
            o("TAL", &["", "Flexible"], ""),
            o("Mapei", &["Keracolor"], ""),
            o("Sika", &[""], ""),
        ],
        attrs: &[
            w(
                "colour",
                "the colour {}",
                &["White", "Grey", "Charcoal", "Ivory", "Beige", "Black"],
            ),
            s("weight_kg", "a {} kg bag", &[(1.0, 0.3), (5.0, 1.0)]),
        ],
    },
    // ---- hardware ----
    Kind {
        leaf: "screws",
        weight: 14,
        name: "{brand} {line} {type} Screws {size}mm {pack} Pack",
        price: (49, 129),
        blurb: "Hardened, zinc-plated screws with a sharp point that starts without a pilot hole.",
        offers: TRADE_FIXINGS,
        attrs: &[
            w(
                "type",
                "a {} thread",
                &["Chipboard", "Drywall", "Self-Tapping", "Wood", "Decking", "Roofing"],
            ),
            w(
                "size",
                "a size of {} mm",
                &["3.5x25", "4x30", "4x40", "5x50", "5x70", "6x100"],
            ),
            s(
                "pack",
                "{} screws in the pack",
                &[(100.0, 1.0), (200.0, 1.8), (500.0, 4.0)],
            ),
        ],
    },
    Kind {
        leaf: "nails",
        weight: 8,
        name: "{brand} {type} Nails {length_mm}mm {weight_kg}kg",
        price: (59, 129),
        blurb: "Nails in a resealable box, for framing, fencing and general carpentry.",
        offers: &[
            o("Fragram", &[""], ""),
            o("Tork Craft", &[""], ""),
            o("Steelnail", &[""], ""),
        ],
        attrs: &[
            w(
                "type",
                "a {} head",
                &["Wire", "Clout", "Concrete", "Panel Pin", "Roofing"],
            ),
            n("length_mm", "a length of {} mm", &[25.0, 40.0, 50.0, 75.0, 100.0]),
            s(
                "weight_kg",
                "{} kg in the box",
                &[(0.5, 0.35), (1.0, 0.6), (2.0, 1.0), (5.0, 2.2)],
            ),
        ],
    },
    Kind {
        leaf: "wall-plugs",
        weight: 8,
        name: "{brand} {line} Wall Plugs {size}mm {pack} Pack",
        price: (29, 119),
        blurb: "Nylon wall plugs that expand in brick, block and drywall for a secure hold.",
        offers: &[
            o("Fischer", &["DuoPower", "SX"], ""),
            o("Rawlplug", &["UNO", ""], ""),
            o("Fragram", &[""], ""),
        ],
        attrs: &[
            w("size", "a size of {} mm", &["5x25", "6x30", "8x40", "10x50"]),
            s(
                "pack",
                "{} plugs in the pack",
                &[(20.0, 0.5), (50.0, 1.0), (100.0, 1.7)],
            ),
        ],
    },
    Kind {
        leaf: "wall-plugs",
        weight: 4,
        name: "{brand} {line} Sleeve Anchor M{size} {pack} Pack",
        price: (59, 199),
        blurb: "Steel sleeve anchors for heavy fixings into concrete and brick.",
        offers: &[o("Fischer", &["FSA", ""], ""), o("Rawlplug", &["R-SPL", ""], "")],
        attrs: &[
            s(
                "size",
                "an M{} thread",
                &[(6.0, 0.7), (8.0, 0.85), (10.0, 1.0), (12.0, 1.3)],
            ),
            s(
                "pack",
                "{} anchors in the pack",
                &[(4.0, 0.6), (10.0, 1.0), (25.0, 2.0)],
            ),
        ],
    },
    Kind {
        leaf: "door-hardware",
        weight: 7,
        name: "{brand} {line} Lever Handle {type} {finish}",
        price: (249, 799),
        blurb: "A lever handle on rose with a sprung mechanism that keeps the lever level for years.",
        offers: &[
            o("Yale", &["Fortis", "Vestibule"], ""),
            o("Union", &["Arezzo", "Lumi"], ""),
            o("Eurolock", &[""], ""),
        ],
        attrs: &[
            pw(
                "type",
                "a {} configuration",
                &[("Passage Set", 1.0), ("Bathroom Set", 1.15), ("Lockset", 1.4)],
            ),
            w("finish", "a {} finish", HARDWARE_FINISHES),
        ],
    },
    Kind {
        leaf: "door-hardware",
        weight: 5,
        name: "{brand} Butt Hinge {length_mm}mm {finish} {pack} Pack",
        price: (39, 149),
        blurb: "Steel butt hinges with countersunk holes and screws included.",
        offers: &[o("Yale", &[""], ""), o("Union", &[""], ""), o("Fragram", &[""], "")],
        attrs: &[
            s("length_mm", "a length of {} mm", &[(75.0, 0.8), (100.0, 1.0)]),
            w("finish", "a {} finish", HARDWARE_FINISHES),
            s("pack", "{} hinges in the pack", &[(2.0, 1.0), (3.0, 1.4)]),
        ],
    },
    Kind {
        leaf: "locks-security",
        weight: 7,
        name: "{brand} {line} {material} Padlock {width_mm}mm",
        price: (99, 399),
        blurb: "A padlock with a hardened steel shackle that resists cutting and sawing.",
        offers: &[
            o("Yale", &["Maximum Security", "Standard"], ""),
            o("Master Lock", &["Pro Series", "Excell"], ""),
            o("Union", &[""], ""),
            o("Abus", &["Titalium", ""], ""),
        ],
        attrs: &[
            pw(
                "material",
                "a {} body",
                &[("Brass", 1.0), ("Laminated Steel", 1.1), ("Stainless Steel", 1.3)],
            ),
            s(
                "width_mm",
                "a width of {} mm",
                &[(30.0, 0.6), (40.0, 0.8), (50.0, 1.0), (60.0, 1.3), (70.0, 1.6)],
            ),
            n("keys", "{} keys", &[2.0, 3.0, 4.0]),
        ],
    },
    Kind {
        leaf: "locks-security",
        weight: 3,
        name: "{brand} {line} Smart Door Lock",
        price: (2999, 5999),
        blurb: "A smart lock that opens with a code, a card or a phone, and logs who came in.",
        offers: &[
            o("Yale", &["Conexis L2", "Smart Lock"], ""),
            o("Eurolock", &["Smart"], ""),
        ],
        attrs: &[
            flag("fingerprint", "A fingerprint reader too.|", 0.5, 1.3),
            n(
                "battery_months",
                "up to {} months on a set of batteries",
                &[6.0, 9.0, 12.0],
            ),
        ],
    },
    Kind {
        leaf: "locks-security",
        weight: 3,
        name: "{brand} {line} Safe {volume_l}L",
        price: (999, 3999),
        blurb: "A steel safe with a digital keypad and bolt-down fixings.",
        offers: &[o("Yale", &["Home", "Certified"], ""), o("Master Lock", &[""], "")],
        attrs: &[s(
            "volume_l",
            "a {} L interior",
            &[(8.0, 0.6), (16.0, 0.8), (30.0, 1.0), (50.0, 1.5)],
        )],
    },
    Kind {
        leaf: "adhesives-sealants",
        weight: 8,
        name: "{brand} {line} Silicone Sealant {colour} {volume_ml}ml",
        price: (69, 159),
        blurb: "A silicone sealant that stays flexible and mould-resistant around baths, sinks and windows.",
        offers: &[
            o("Alcolin", &["Bathroom & Kitchen", "Multi-Purpose", "Roof & Gutter"], ""),
            o("Bostik", &["Bathroom & Kitchen", "Clear Glass"], ""),
            o("Pattex", &["Sanitary", ""], ""),
        ],
        attrs: &[
            w("colour", "the colour {}", &["Clear", "White", "Black", "Grey"]),
            s(
                "volume_ml",
                "a {} ml cartridge",
                &[(50.0, 0.35), (280.0, 1.0), (300.0, 1.05)],
            ),
        ],
    },
    Kind {
        leaf: "adhesives-sealants",
        weight: 8,
        name: "{brand} {line} {volume_ml}ml",
        price: (39, 149),
        blurb: "A strong adhesive for repairs and projects around the house.",
        offers: &[
            o("Pratley", &["Quickset Epoxy", "Steel Epoxy", "Putty"], ""),
            o(
                "Alcolin",
                &["Cold Glue", "Super Glue", "Contact Adhesive", "No More Nails"],
                "",
            ),
            o("Bostik", &["Genkem Contact Adhesive", "Wood Glue", "Prestik"], ""),
        ],
        attrs: &[s(
            "volume_ml",
            "{} ml",
            &[(20.0, 0.5), (50.0, 0.8), (100.0, 1.0), (250.0, 1.8)],
        )],
    },
    Kind {
        leaf: "adhesives-sealants",
        weight: 4,
        name: "{brand} {line} Crack Filler {weight_kg}kg",
        price: (59, 179),
        blurb: "A powder filler that mixes smooth, sands easily and takes paint.",
        offers: &[
            o("Polycell", &["Polyfilla Interior", "Polyfilla Exterior"], ""),
            o("Rhinolite", &["Cretestone"], ""),
            o("Alcolin", &["Crack Filler"], ""),
        ],
        attrs: &[s(
            "weight_kg",
            "a {} kg box",
            &[(0.5, 0.5), (1.0, 0.8), (2.0, 1.0), (5.0, 2.0)],
        )],
    },
    // ---- storage ----
    Kind {
        leaf: "shelving",
        weight: 6,
        name: "{brand} {line} {tiers}-Tier {material} Shelving Unit",
        price: (499, 1499),
        blurb: "A free-standing shelving unit that assembles without tools, for garages, pantries and stores.",
        offers: &[
            o("Keter", &["Plus", ""], ""),
            o("Addis", &["", "Heavy Duty"], ""),
            o("Vitrine Home", &[""], ""),
        ],
        attrs: &[
            s(
                "tiers",
                "{} shelves",
                &[(3.0, 0.75), (4.0, 0.9), (5.0, 1.0), (6.0, 1.2)],
            ),
            pw(
                "material",
                "a {} frame",
                &[
                    ("Plastic", 0.7),
                    ("Steel", 1.0),
                    ("Galvanised Steel", 1.15),
                    ("Pine", 1.1),
                ],
            ),
            n(
                "load_per_shelf_kg",
                "a load of {} kg per shelf",
                &[20.0, 40.0, 80.0, 150.0, 200.0],
            ),
        ],
    },
    Kind {
        leaf: "shelving",
        weight: 5,
        name: "{brand} {line} Floating Shelf {length_mm}mm {finish}",
        price: (149, 499),
        blurb: "A floating shelf with a concealed bracket, for books, plants and photos.",
        offers: &[o("Vitrine Home", &["", "Oak Effect"], ""), o("Addis", &[""], "")],
        attrs: &[
            s(
                "length_mm",
                "a length of {} mm",
                &[(600.0, 0.8), (800.0, 0.9), (900.0, 1.0), (1200.0, 1.3)],
            ),
            w("finish", "a {} finish", &["White", "Black", "Oak", "Walnut"]),
        ],
    },
    Kind {
        leaf: "storage-boxes",
        weight: 8,
        name: "{brand} {line} Storage Box with Lid {volume_l}L",
        price: (99, 249),
        blurb: "A stackable storage box with a clip-on lid that keeps dust out.",
        offers: &[
            o("Addis", &["Clip Lock", "Stak"], ""),
            o("Keter", &["Cubby", ""], ""),
            o("Really Useful", &["Box"], ""),
        ],
        attrs: &[
            s(
                "volume_l",
                "a {} L capacity",
                &[(9.0, 0.4), (24.0, 0.6), (50.0, 0.9), (65.0, 1.0), (100.0, 1.5)],
            ),
            flag("wheels", "Castors make it easy to move when full.|", 0.3, 1.2),
        ],
    },
    Kind {
        leaf: "garage-storage",
        weight: 5,
        name: "{brand} {line} Garage Wall Rack {length_mm}mm",
        price: (299, 999),
        blurb: "A wall rack with hooks for garden tools, bikes and ladders, to clear the garage floor.",
        offers: &[
            o("Keter", &[""], ""),
            o("Stanley", &[""], ""),
            o("Vitrine Home", &[""], ""),
        ],
        attrs: &[
            s(
                "length_mm",
                "a length of {} mm",
                &[(600.0, 0.7), (900.0, 0.85), (1200.0, 1.0), (1800.0, 1.4)],
            ),
            r("hooks", "{} hooks", 4, 12),
        ],
    },
    Kind {
        leaf: "garage-storage",
        weight: 3,
        name: "{brand} {line} Steel Garage Cabinet {doors}-Door {height_mm}mm",
        price: (1999, 4999),
        blurb: "A lockable steel cabinet with adjustable shelves, for tools, paint and chemicals.",
        offers: &[
            o("Stanley", &[""], ""),
            o("Vitrine Home", &["Pro"], ""),
            o("Keter", &[""], ""),
        ],
        attrs: &[
            s("doors", "{} doors", &[(1.0, 0.75), (2.0, 1.0)]),
            s("height_mm", "a height of {} mm", &[(900.0, 0.7), (1800.0, 1.0)]),
        ],
    },
];
