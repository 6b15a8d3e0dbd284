"""The words the emulator "recognises": concepts, topics, names and speech material."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GKG_ALPHABET = "0123456789bcdfghjklmnpqrstvwxyz_"


@dataclass(frozen=True)
class Concept:
    """A recognisable concept; its Valossa ids are the same in every job."""

    label: str
    tags: tuple[str, ...]

    @property
    def cid(self) -> str:
        """The 12-character Valossa concept id, derived from the label."""
        digest = hashlib.sha256(b"cid:" + self.label.encode()).digest()
        return "".join(_BASE62[b % 62] for b in digest[:12])

    @property
    def gkg_id(self) -> str:
        """A Google Knowledge Graph style machine id ("/m/0…")."""
        digest = hashlib.sha256(b"gkg:" + self.label.encode()).digest()
        return "/m/0" + "".join(_GKG_ALPHABET[b % 32] for b in digest[:5])


def _concepts(table: str) -> tuple[Concept, ...]:
    rows = (line.split("|") for line in table.strip().splitlines())
    return tuple(
        Concept(label.strip(), tuple(t for t in tags.split(",") if t)) for label, tags in rows
    )


#: visual.context concepts, most common first (a detection's prominence follows this order loosely).
VISUAL_CONCEPTS = _concepts("""
person|human_basic
medium shot|style
man|human_basic
woman|human_basic
close-up|style
face|human_features
hair|human_features
hairstyle|human_features,fashion_wear
interior design|home_garden,buildings_architecture
darkness|lights_effects
speech|human_basic
official|human_basic
suit|fashion_wear
performance art|
room|home_garden
street|buildings_architecture
building|buildings_architecture
car|automotive
window|buildings_architecture
night|time
smile|human_features
conversation|human_basic
city|buildings_architecture
table|home_garden
chair|home_garden
tree|flora
sky|
crowd|human_basic
door|buildings_architecture
lamp|home_garden
glasses|fashion_wear
drinking glass|food_drink
wine|food_drink
restaurant|food_drink,buildings_architecture
kitchen|home_garden
bedroom|home_garden
stairs|buildings_architecture
hotel|buildings_architecture
office|buildings_architecture
telephone|consumer_electronics
computer|computers_video_games,consumer_electronics
television|consumer_electronics
newspaper|
book|
painting|graphics
text|graphics
logo|graphics,brand_product
poster|graphics
dress|fashion_wear
hat|fashion_wear
coat|fashion_wear
tie|fashion_wear
jewellery|fashion_wear
child|children_family_play,human_basic
family|children_family_play,human_basic
dog|fauna,pets
cat|fauna,pets
horse|fauna
bird|fauna
flower|flora
garden|flora,home_garden
park|flora
water|
river|
sea|
beach|
boat|boats_ships
ship|boats_ships
airplane|aviation
airport|aviation,buildings_architecture
train|
railway station|buildings_architecture
bus|automotive
bicycle|
motorcycle|automotive
road|
bridge|buildings_architecture
mountain|
snow|
skiing|
forest|flora
rain|
sunlight|lights_effects
sunset|lights_effects,time
fire|
smoke|
explosion|
gun|content_compliance
fight|content_compliance
running|human_basic
walking|human_basic
dancing|human_basic,celebrations_holidays
singing|human_basic
musical instrument|
piano|
guitar|
stage|
concert|celebrations_holidays
party|celebrations_holidays
christmas tree|celebrations_holidays
cake|food_drink,celebrations_holidays
food|food_drink
coffee|food_drink
bottle|food_drink
market|
shop|
money|
police|
uniform|fashion_wear
soldier|
church|buildings_architecture
tower|buildings_architecture
monument|buildings_architecture
sculpture|graphics
museum|buildings_architecture
theatre|buildings_architecture
cinema|buildings_architecture
elevator|buildings_architecture
corridor|buildings_architecture
balcony|buildings_architecture
roof|buildings_architecture
""")

#: audio.context concepts (sounds and music).
AUDIO_CONCEPTS = _concepts("""
speech|human_basic
music|
male speech|human_basic
female speech|human_basic
background music|
orchestra|
piano music|
laughter|human_basic
applause|celebrations_holidays
crowd noise|
footsteps|
door slam|
car engine|automotive
siren|
telephone ringing|consumer_electronics
dog barking|fauna,pets
birdsong|fauna
wind|
rain sound|
water flow|
gunshot|content_compliance
explosion sound|content_compliance
whistle|
bell|
run|human_basic
breathing|human_basic
scream|
knock|
clock ticking|time
typing|computers_video_games
silence|
""")
#: audio.context concepts placed only where the media has speech, and the one for silence.
SPEECH_SOUNDS = frozenset({"speech", "male speech", "female speech"})
SILENCE = "silence"

#: Logos for visual.object.localized (fictional brands).
LOGOS = _concepts("""
Northwind|brand_product
Contoso|brand_product
Fabrikam|brand_product
Tailspin|brand_product,aviation
Litware|brand_product
Adatum|brand_product
""")

#: IAB v1 categories: (id, labels_hierarchy).
IAB_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("IAB1", ("Arts & Entertainment",)),
    ("IAB1-5", ("Arts & Entertainment", "Movies")),
    ("IAB2", ("Automotive",)),
    ("IAB3", ("Business",)),
    ("IAB6", ("Family & Parenting",)),
    ("IAB8", ("Food & Drink",)),
    ("IAB9", ("Hobbies & Interests",)),
    ("IAB11", ("Law, Gov't & Politics",)),
    ("IAB12", ("News",)),
    ("IAB14", ("Society",)),
    ("IAB17", ("Sports",)),
    ("IAB19", ("Technology & Computing",)),
    ("IAB20", ("Travel",)),
)

#: Invented names and places for the generated speech and keywords.
PERSON_NAMES = (
    "Ada Holloway",
    "Marcus Lindqvist",
    "Nora Castellanos",
    "Felix Okafor",
    "Irene Vasquez",
    "Tomas Brandt",
    "Leila Haddad",
    "Oskar Maki",
)
LOCATIONS = ("Lisbon", "Helsinki", "Vienna", "Toronto", "Nairobi", "Osaka", "Valencia")
ORGANIZATIONS = (
    "City Council",
    "Harbour Authority",
    "Northern Railways",
    "Civic Museum",
    "Evening Post",
)
NOVELTY_WORDS = (
    "stamps",
    "inheritance",
    "embassy",
    "auction",
    "passport",
    "telegram",
    "gold",
    "envelope",
    "carousel",
    "funeral",
    "ticket",
    "briefcase",
    "luggage",
)

#: Sentence templates for speech: {p} person, {l} location, {o} organization, {n} novelty word.
SPEECH_TEMPLATES = (
    "I told you {p} would be waiting in {l}.",
    "Nobody at the {o} knows about the {n}.",
    "Where did you put the {n}?",
    "We have to leave {l} before tomorrow morning.",
    "Do you really think {p} is telling the truth?",
    "The {o} called again this afternoon.",
    "I don't know what you're talking about.",
    "Let's go for a walk along the river.",
    "She said the {n} was never found.",
    "You can trust me, I promise.",
    "Have you ever been to {l}?",
    "That's exactly what {p} wanted us to believe.",
    "It's getting late, we should go back.",
    "Someone from the {o} is following us.",
    "I think we've met somewhere before.",
    "Give me the {n} and nobody gets hurt.",
)

_STOPWORD_TEXT = """
    a an and are as at be been but by can could did do does for
    from had has have he her his how i if in into is it its just
    me my no not of on or our she so than that the their them then
    there these they this those to too up us was we were what when where which
    who why will with would you your about after again all also any because before being
    between both each few more most other over same some such only own very video
"""
#: Words that never become keywords of a title, a description or a transcript.
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
