"""Spanish common names for some of the 102 flowers, and how a flower's name is shown.

The dataset's class names are English and stay the reference: in Spanish the app shows
"Sunflower (girasol)", never a Spanish name alone.

Source and review status: the list was written for this project from the standard common
names used in general Spanish dictionaries (RAE) and garden references, and reviewed once by
its author. It is deliberately PARTIAL: a flower is listed only when its Spanish common name is
unambiguous across Spain and Latin America. Names that vary by region (sweet pea: guisante de
olor / arvejilla; poinsettia: flor de Pascua / nochebuena; arum lily: cala / alcatraz), names
that are literal translations rather than real common names (tiger lily, bearded iris) and
cultivar or trade names (bolero deep blue, bishop of llandaff) are left out on purpose. Add a
name only after a native speaker has checked it; never guess.
"""

from __future__ import annotations

from flowerdash.data.classes import title_case
from flowerdash.i18n import get_language

SPANISH_NAMES: dict[str, str] = {
    "anthurium": "anturio",
    "artichoke": "alcachofa",
    "azalea": "azalea",
    "barbeton daisy": "gerbera",
    "bird of paradise": "ave del paraíso",
    "bougainvillea": "buganvilla",
    "bromelia": "bromelia",
    "californian poppy": "amapola de California",
    "camellia": "camelia",
    "carnation": "clavel",
    "clematis": "clemátide",
    "columbine": "aguileña",
    "common dandelion": "diente de león",
    "corn poppy": "amapola",
    "cyclamen": "ciclamen",
    "daffodil": "narciso",
    "desert-rose": "rosa del desierto",
    "english marigold": "caléndula",
    "foxglove": "dedalera",
    "gazania": "gazania",
    "geranium": "geranio",
    "hibiscus": "hibisco",
    "lotus lotus": "loto",
    "magnolia": "magnolia",
    "mallow": "malva",
    "monkshood": "acónito",
    "passion flower": "pasionaria",
    "petunia": "petunia",
    "primula": "prímula",
    "purple coneflower": "equinácea",
    "rose": "rosa",
    "sunflower": "girasol",
    "sweet william": "clavel del poeta",
    "sword lily": "gladiolo",
    "thorn apple": "estramonio",
    "wallflower": "alhelí",
    "water lily": "nenúfar",
    "watercress": "berro",
    "wild pansy": "pensamiento silvestre",
}


def display_name(name: str, lang: str | None = None) -> str:
    """A class name for people: 'Sunflower', or 'Sunflower (girasol)' in Spanish when known."""
    english = name.strip()
    shown = title_case(english)
    if (lang or get_language()) == "es":
        spanish = SPANISH_NAMES.get(english.lower())
        if spanish:
            return f"{shown} ({spanish})"
    return shown
