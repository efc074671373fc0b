"""governance.usage.content: the built-in content classifier (offline, rule-based).

``RuleContentClassifier().categories(text)`` names the categories of :data:`CATEGORIES` that
``text`` falls in, and nothing else: never a word of the text.

How it works. The text is normalised to a stream of lower-case words, then rules (compiled
regular expressions) are tried in it:

- normalising (:func:`normalise`): Unicode compatibility decomposition (NFKD: full-width and
  styled letters, ligatures) with accents, zero-width characters and soft hyphens dropped (only
  for text that is not plain ASCII; any other non-ASCII character separates words), lower case,
  apostrophes dropped (``I'll`` → ``ill``), the end of a sentence (``.``, ``!``, ``?`` before a
  space) the word ``|`` (no pattern reaches across it), every other character that is not a
  letter or a digit a space, runs of spaces one space (so spacing and punctuation between words
  do not matter), leetspeak digits inside words folded (``k1ll`` → ``kill``: 0→o 1→i 3→e 4→a
  5→s 7→t @→a $→s; digits on their own are left as they are) and single letters spaced out by
  one character joined (``k i l l``, ``k-i-l-l`` → ``kill``). Non-ASCII text is encoded through an error handler registered with
  :mod:`codecs` under the name ``governance.usage.content``.
- ``violence``: a violent verb aimed at a person, not a bare keyword. A threat (``I will`` /
  ``I'm going to`` / ``let's`` … *verb* *person*), a verb whose only ordinary object is a person
  (stab, strangle, behead, shoot …) followed by a person, a request for how to hurt a person or
  build a weapon (``how do I build a pipe bomb``), an attack on a place where people gather
  (``shoot up the school``). "kill the process", "shoot me an email", "the bomb calorimeter"
  have no person, or name a thing, and pass.
- ``hate``: a protected group followed by a dehumanising predicate (``… are vermin``), a call
  to harm a group (``… should be exterminated``, ``kill all the …``; reported as hate, not
  violence), hatred of a group stated in the first person, and a short list of slurs (kept
  ROT13-encoded below). Reports of history ("the Nazis tried to exterminate the Jews") pass.
- ``sexual``: explicit terms, requests for erotic material, sexual acts described, and any
  sexual term within a few words of a mention of a minor (always reported). Sex as a
  biological attribute, sexual orientation, harassment policy and health pass.
- ``self_harm``: instructions (``how to kill myself``, ``how many pills …``) and intent stated
  in the first person (``I want to end my life``); prevention, statistics and fiction pass.

Speed. A rule (:class:`Rule`) is a *tail* that starts at one of the rule's *anchor* words (a
violent verb, a weapon, a group name, …) and, for some, a *head* that must end right before
it (``I will`` before ``kill you``, ``how do I`` before ``build a pipe bomb``). The words of the
text are intersected with all anchors once; at each anchor found its rules' tails are matched
there (``re.match``), and a head is looked for only behind a tail that matched. So the cost is
one pass over the text plus a little per anchor found, not a scan per rule: ~0.02 ms for 100
bytes and a few tenths of a millisecond for 4 KB (``benchmarks/usage_detectors.py``).
``RuleContentClassifier(gated=False)`` runs every rule, head and tail as one expression, over
the whole text instead; the tests check that both give the same answers.

Limits. This is a baseline, not a moderation model: it knows the English phrasings written
here and close variants, not paraphrases, other languages, sarcasm, quotations or context
across sentences; letters from other scripts that look Latin (Cyrillic "і") are not folded,
and neither are repeated letters ("kiiill"). Idioms that look like threats can be misread ("I'll
kill you at chess" passes for a few named games only) and so can discussions that quote
hateful or violent statements. The rules were written together with
``tests/usage/corpus/content.tsv``: the precision and recall the tests measure there are
agreement with those sentences (including a part written after the rules, as a first held-out
check), not accuracy on real traffic. A deployment that needs more brings its own classifier
through ``governance.usage.detectors.load_content_classifier`` (``package.module:factory``).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

HATE = "hate"
VIOLENCE = "violence"
SEXUAL = "sexual"
SELF_HARM = "self_harm"
CATEGORIES: tuple[str, ...] = (HATE, VIOLENCE, SEXUAL, SELF_HARM)
"""The categories this classifier reports (``detectors.CONTENT_CATEGORIES`` is the same tuple)."""

# ----------------------------------------------------------------------------- normalising

# dropped from text that is not ASCII (after NFKD): combining marks (accents), zero-width
# characters, soft hyphens, typographic apostrophes; any other non-ASCII character is a space
_DROPPED = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad\u180e\u2018\u2019\u02bc\u00b4")
_ENCODE_ERRORS = "governance.usage.content"


def _non_ascii(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeEncodeError)
    chars = error.object[error.start : error.end]
    return "".join("" if c in _DROPPED or unicodedata.combining(c) else " " for c in chars), error.end


codecs.register_error(_ENCODE_ERRORS, _non_ascii)
# bytes: A-Z → a-z, letters, digits, '@' and '$' kept (leetspeak), '.' kept and '!', '?' made '.'
# (sentence ends), every other byte a space
_TO_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if (97 <= c <= 122 or 48 <= c <= 57 or c in b"@$.") else 46 if c in b"!?" else 32
    for c in range(256)
)
SENTENCE_END = "|"
"""The word :func:`normalise` puts where a sentence ends (``.``, ``!`` or ``?`` before a space)."""
# the shape of the text: letter → 'a', leetspeak character → '1', anything else → ' '
_SHAPE = bytes(97 if 97 <= c <= 122 else 49 if c in b"013457@$" else 32 for c in range(256))
_LEET = str.maketrans("013457@$", "oieastas")
_LEET_RUN = re.compile(r"[013457@$]+")
_SPACED = re.compile(r" +[a-z](?: +[a-z]){2,}(?= )")


def _unleet(match: re.Match[str]) -> str:
    run, text, start, end = match.group(), match.string, match.start(), match.end()
    # "k1ll", "mys3lf", "4ll" fold; "2023", "15yo", "5yo" (an age) and "100ms" stay as they are
    if text[start - 1].isalpha() or (
        len(run) == 1 and text[end].isalpha() and not text.startswith(("yo", "yr", "y o"), end)
    ):
        return run.translate(_LEET)
    return run


def _fold_leet(words: str, shape: bytes) -> str:
    """``words`` with leetspeak folded in the words that mix letters and leet characters
    (found in ``shape`` with fast substring searches, not a scan of every character)."""
    spans: set[tuple[int, int]] = set()
    for pair in (b"a1", b"1a"):
        at = shape.find(pair)
        while at != -1:
            start, end = shape.rfind(b" ", 0, at), shape.find(b" ", at)
            spans.add((start, end))
            at = shape.find(pair, end)
    pieces, done = [], 0
    for start, end in sorted(spans):
        # the span is one word with the character before and after it (never a letter)
        pieces += [words[done:start], _LEET_RUN.sub(_unleet, words[start : end + 1])]
        done = end + 1
    pieces.append(words[done:])
    return "".join(pieces)


def _unspace(match: re.Match[str]) -> str:
    return " " + match.group().replace(" ", "")


def _words(text: str) -> list[str]:
    if text.isascii():
        raw = (" " + text + " ").encode("ascii")
    else:
        if not unicodedata.is_normalized("NFKD", text):
            text = unicodedata.normalize("NFKD", text)
        raw = (" " + text + " ").encode("ascii", _ENCODE_ERRORS)
    raw = raw.translate(_TO_WORDS, b"'`")
    shape = raw.translate(_SHAPE)
    words = raw.decode("ascii")
    # (substring searches in the two-letter shape are slowish: the cheapest test goes first)
    if b"1" in shape and (b"a1" in shape or b"1a" in shape):
        words = _fold_leet(words, shape)
    if b"@" in raw or b"$" in raw:
        words = words.replace("@", " ").replace("$", " ")
    if b"." in raw:
        # a dot before a space ends a sentence; any other ("3.11", "k.i.l.l", "example.com") is a space
        words = words.replace(". ", " | ").replace(".", " ")
    if b" a a a " in shape:  # single letters spaced out by one character each: "k i l l", "k-i-l-l"
        words = _SPACED.sub(_unspace, words)
    return words.split()


def normalise(text: str) -> str:
    """``text`` as the rules read it: lower-case words separated by one space, with a space
    at either end (see the module docstring). Only ever used for matching."""
    return " " + " ".join(_words(text)) + " "


# ----------------------------------------------------------------------------- building blocks

_W = "[a-z0-9]+ "  # any one word and its space


def _alt(words: Iterable[str]) -> str:
    """A regex alternative of ``words`` (or phrases of words), longest first."""
    return "(?:" + "|".join(sorted(set(words), key=len, reverse=True)) + ")"


def _any(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


def _heads(phrases: Iterable[str]) -> frozenset[str]:
    """The first word of each phrase."""
    return frozenset(p.split()[0] for p in phrases)


@dataclass(frozen=True)
class Rule:
    """One pattern of a category, read on normalised text. ``tail`` starts at a word of
    ``anchors``; ``head`` (when given) must end right before that word, starting at most
    ``reach`` characters before it, and ends with a space. ``near_minor``: a match counts only
    within :data:`MINOR_REACH` characters of a mention of a minor."""

    category: str
    anchors: frozenset[str]
    tail: str
    head: str = ""
    reach: int = 0
    near_minor: bool = False


_INTENT = _any(
    r"(?:i|we) (?:will|shall|must|am going to|am gonna|are going to|are gonna|want to|wanna|need to|plan to"
    r"|am planning to|intend to|am coming to|are coming to|swear (?:i|we) will|swear (?:ill|well))",
    r"(?:ill|well|im going to|im gonna|im coming to|im planning to|were going to|were gonna|imma|ima|lets)",
)
_THREAT_HEAD = _INTENT + " (?:" + _W + "){0,3}?"
_HOW_TO = _any(
    r"how (?:do|can|could|would|should|might|does|will) (?:i|we|you|one|someone|somebody|a person) (?:best )?",
    r"how to ",
    r"(?:(?:the|a|an) )?(?:(?:most|least) )?(?:best|painless|quickest|quick|easiest|easy|fastest|surest|simplest"
    r"|effective|good|cleanest|safest) (?:way|ways|method|methods) (?:to|of) ",
    r"ways? to ",
    r"(?:tell|show|teach) me (?:how )?to ",
    r"steps? to ",
    r"(?:instructions?|guide|tutorial|recipe) (?:for|on|to) (?:how to )?",
    r"help me ",
)
_HOW_TO_HEAD = _HOW_TO + "(?:" + _W + ")?"
_PERSON_NOUNS = (
    "man men woman women guy guys girl girls boy boys kid kids child children baby babies person persons people "
    "teacher teachers student students classmate classmates coworker coworkers colleague colleagues boss "
    "neighbor neighbors neighbour neighbours wife husband girlfriend boyfriend mom mum mother dad father parents "
    "parent brother sister son daughter family cop cops police policeman policemen officer officers sheriff "
    "president senator mayor judge priest rabbi imam governor minister hostage hostages victim victims stranger "
    "strangers customer customers nurse nurses doctor doctors ex"
).split() + ["co workers", "co worker"]
_THINGS = (
    "process processes thread threads node nodes element elements task tasks job jobs pid pids window windows "
    "class classes object objects item items row rows record records widget widgets tab tabs container containers "
    "pod pods"
).split()
_PERSON = _any(
    r"(?:the|a|an|my|your|his|her|our|their|that|this|those|these|some|every|all|all the|all of the) (?:"
    + _W
    + ")?"
    + _alt(_PERSON_NOUNS)
    + r"\b(?! "
    + _alt(_THINGS)
    + r"\b)",
    r"(?:someone|somebody|anyone|anybody|everyone|everybody|people|a person)\b",
    r"(?:every one|everyone|each one|each|all|some|both|any|the rest) of (?:you|them|yall)\b",
)
_PRONOUN = r"(?:you|u|ya|yall|him|her|them)\b"
_TARGET = _any(_PRONOUN, _PERSON)
_NOT_A_MESSAGE = (
    r"(?! (?:a|an|the|some|over a|over an) (?:quick )?(?:e?mail|message|text|note|line|dm|invite|link|reply"
    r"|update|ping|pic|photo|picture|question|call)s?\b)"
    r"(?! (?:at|in) (?:chess|poker|tennis|pool|darts|golf|bowling|cards|scrabble|checkers|fifa|mario kart"
    r"|this game|the game)\b)"
)
_VIOLENT_VERBS = (
    "kill murder stab shoot strangle choke behead decapitate slaughter butcher torture lynch massacre assassinate "
    "maim mutilate dismember rape hurt harm poison drown burn beat punch kick smash gut stomp"
).split() + ["beat up", "hunt down", "gun down"]
# verbs whose only ordinary object is a person ("stab the process" is not a thing people say)
_HUMAN_ONLY_VERBS = (
    "murder stab shoot strangle behead decapitate torture lynch assassinate maim mutilate dismember rape"
).split() + ["gun down", "beat up"]
_BODY_HARM = (
    r"(?:slit|cut|slash) (?:your|his|her|their) throats?"
    r"|(?:break|snap|smash|crush|shatter) (?:your|his|her|their) (?:legs?|arms?|necks?|face|faces|skulls?|jaws?|bones"
    r"|knees?|kneecaps?|fingers)"
    r"|blow (?:your|his|her|their) (?:brains?|heads?) (?:out|off)"
)
_WEAPONS = (
    "pipe bomb|pipe bombs|nail bomb|nail bombs|car bomb|dirty bomb|letter bomb|fertilizer bomb|fertiliser bomb"
    "|suicide vest|explosives|explosive device|explosive devices|ied|ieds|molotov|molotov cocktail|molotov cocktails"
    "|grenade|grenades|detonator|detonators|napalm|nerve agent|nerve gas|sarin|ricin|mustard gas|chlorine gas"
    "|poison gas|ghost gun|ghost guns|untraceable gun|untraceable guns|untraceable firearm|silencer|silencers"
).split("|")
_MAKE = r"(?:make|making|build|building|assemble|assembling|construct|create|craft|cook|rig|wire|put together|3d print)"
_PLACES = (
    "school schools classroom classrooms campus church churches mosque mosques synagogue synagogues temple temples "
    "mall malls concert concerts stadium stadiums office offices building buildings station stations airport "
    "airports embassy embassies parliament capitol hospital hospitals workplace crowd crowds parade parades festival "
    "festivals subway train trains plane planes clinic clinics courthouse courthouses nightclub nightclubs club "
    "university college"
).split()
_PLACE_ATTACKS = ["shoot up", "blow up", "bomb", "firebomb", "massacre", "burn down", "set fire to"] + [
    f"open fire {p}" for p in ("at", "on", "in")
]
_RULES: list[Rule] = [
    # threats: I will / I'm going to / let's … kill you
    Rule(
        VIOLENCE,
        _heads(_VIOLENT_VERBS),
        _alt(_VIOLENT_VERBS) + " " + _TARGET + _NOT_A_MESSAGE,
        head=_THREAT_HEAD,
        reach=80,
    ),
    Rule(
        VIOLENCE,
        frozenset("slit cut slash break snap smash crush shatter blow".split()),
        "(?:" + _BODY_HARM + r")\b",
        head=_THREAT_HEAD,
        reach=80,
    ),
    # a verb whose only object is a person: stab him, shoot my boss, behead the hostage
    Rule(VIOLENCE, _heads(_HUMAN_ONLY_VERBS), _alt(_HUMAN_ONLY_VERBS) + " " + _TARGET + _NOT_A_MESSAGE),
    # how to hurt a person
    Rule(
        VIOLENCE,
        _heads(_VIOLENT_VERBS),
        _alt(_VIOLENT_VERBS) + " " + _any(_PERSON, r"him\b", r"her\b"),
        head=_HOW_TO_HEAD,
        reach=70,
    ),
    # building or getting a weapon
    Rule(VIOLENCE, _heads(_WEAPONS), _alt(_WEAPONS) + r"\b", head=_MAKE + " (?:" + _W + "){0,2}?", reach=60),
    Rule(
        VIOLENCE,
        frozenset({"bomb", "bombs"}),
        r"bombs?\b(?! (?:calorimeter|proof|shelter|squad|disposal|threat|cyclone|bay|dot)\b)",
        head=_MAKE
        + " (?:"
        + _W
        + "){0,2}?(?:a|an|the|my|your|some|homemade|home made|real|working|small|big|powerful) ",
        reach=70,
    ),
    Rule(
        VIOLENCE,
        _heads(_WEAPONS),
        _alt(_WEAPONS) + r"\b",
        head=_HOW_TO + r"(?:get|buy|obtain|synthesi[sz]e) (?:" + _W + ")?",
        reach=80,
    ),
    # attacks on places where people are
    Rule(
        VIOLENCE,
        _heads(_PLACE_ATTACKS),
        _alt(_PLACE_ATTACKS) + r" (?:the|a|an|my|our|this|that|their|your) (?:" + _W + ")?" + _alt(_PLACES) + r"\b",
    ),
    Rule(
        VIOLENCE,
        frozenset({"plan", "planning", "planned"}),
        r"plan(?:ning|ned)? (?:a|an|the) (?:" + _W + r")?(?:shooting|massacre|bombing|terror attack)\b",
    ),
    # you are going to die / you're dead meat
    Rule(
        VIOLENCE,
        frozenset({"die", "dead"}),
        r"(?:die|dead meat|dead m[ae]n)\b",
        head=r"(?:you are|youre|you r|ur) (?:going to |gonna |a |next to )?",
        reach=20,
    ),
]

# ----------------------------------------------------------------------------- hate

_GROUP_ADJECTIVES = (
    "black white brown asian gay trans transgender queer disabled jewish muslim arab indigenous native".split()
)
_GROUP_NOUNS = (
    "jew jews muslim muslims moslem moslems christian christians catholic catholics hindu hindus sikh sikhs buddhist "
    "buddhists atheists blacks whites asians arab arabs african africans mexican mexicans latino latinos latina "
    "latinas latinx hispanic hispanics immigrant immigrants migrant migrants refugee refugees foreigners gays "
    "lesbian lesbians homosexual homosexuals bisexuals transgenders women men females disabled cripples gypsy "
    "gypsies roma chinese indians pakistanis somalis nigerians haitians palestinians israelis syrians afghans "
    "koreans japanese filipinos aboriginals negroes"
).split()
_SLURS = [
    codecs.decode(word, "rot13")
    for word in (
        "avttre avttref avttn avttnf xvxr xvxrf xlxr xlxrf fcvp fcvpf fcvpx fcvpxf puvax puvaxf snttbg snttbgf "
        "snttbgmf jrgonpx jrgonpxf enturnq enturnqf gbjryurnq gbjryurnqf tbbx tbbxf genaal genaavrf ornare "
        "ornaref cnxv cnxvf qntb qntbf mvccreurnq mvccreurnqf"
    ).split()
]
_GROUP = _any(
    _alt(_GROUP_ADJECTIVES) + r" (?:people|persons|folks?|men|women|kids|children|immigrants)", _alt(_GROUP_NOUNS)
)
_GROUP_ANCHORS = frozenset(_GROUP_NOUNS) | frozenset(_GROUP_ADJECTIVES)
_DEHUMANISING = _alt(
    (
        "vermin subhuman subhumans animals beasts savages rats cockroaches roaches parasites leeches insects maggots "
        "filth scum trash garbage apes monkeys pigs dogs swine freaks degenerates abominations diseased inferior "
        "terrorists criminals rapists pedophiles paedophiles evil disease plague cancer"
    ).split()
    + ["sub human", "sub humans", "an abomination", "a disease", "a plague", "a cancer", "a virus", "an infestation"]
    + ["not human", "not people", "less than human", "genetically inferior", "racially inferior", "mentally inferior"]
)
_HARMED = _alt(
    (
        "exterminated eradicated gassed killed slaughtered burned burnt lynched hanged hung shot eliminated purged "
        "sterilized sterilised executed annihilated culled die burn hang rot suffer"
    ).split()
    + ["wiped out", "wiped off the map", "wiped off the earth", "put down", "locked up in camps"]
)
_HARM_A_GROUP_VERBS = (
    "exterminate eradicate gas kill slaughter lynch purge cleanse eliminate annihilate massacre burn hang shoot".split()
    + ["wipe out", "get rid of"]
)
# "the Nazis tried to exterminate …" reports history; it is not a call to do it
_REPORTED = "".join(
    f"(?<! {verb} to )" for verb in "wanted tried sought attempted planned aimed intended vowed plotted".split()
)
_RULES += [
    # … are vermin / subhuman / a disease
    Rule(
        HATE,
        _GROUP_ANCHORS,
        _GROUP + r" (?:are|is|r) (?:(?:all|just|only|nothing but|no better than|like|basically|such|a bunch of|filthy"
        r"|dirty|disgusting|worthless|lazy|stinking) )*" + _DEHUMANISING + r"\b",
    ),
    # … should be exterminated / deserve to die
    Rule(
        HATE,
        _GROUP_ANCHORS,
        _GROUP
        + r" (?:should|must|need to|needs to|deserve to|ought to|have to|has to|will|shall) (?:all )?(?:be )?"
        + _HARMED
        + r"\b",
    ),
    # I hate all …
    Rule(
        HATE,
        _GROUP_ANCHORS,
        _GROUP + r"\b(?! (?:who|that|which)\b)",
        head=r"(?:i|we) (?:really )?(?:hate|despise|loathe|detest|cant stand) (?:(?:all|the|those|these|every) )*",
        reach=50,
    ),
    # kill all the … (a call to harm a group)
    Rule(
        HATE,
        _GROUP_ANCHORS,
        _GROUP + r"\b",
        head=_REPORTED
        + _alt(_HARM_A_GROUP_VERBS)
        + r" (?:(?:all|every|each|the|those|these|them|of|last|single|more) )*",
        reach=60,
    ),
    # slurs ("a chink in the armour", "the chink of glasses", "Spic and Span", "tranny fluid" are
    # not; words with a common harmless sense, like the British "fag" for a cigarette, are left out)
    Rule(
        HATE,
        frozenset(_SLURS),
        _alt(_SLURS)
        + r"\b(?! (?:in (?:the|his|her|their|your|my|its) armou?r|of|and span|n span|fluid|cooler|oil|shop)\b)",
    ),
]

# ----------------------------------------------------------------------------- sexual

_EXPLICIT = (
    "blowjob blowjobs handjob handjobs rimjob cumshot cumshots creampie creampies gangbang gangbangs deepthroat "
    "deepthroating dildo dildos buttplug masturbate masturbates masturbating masturbated masturbation orgasm orgasms "
    "orgasmic cunnilingus fellatio porn porno pornos pornographic hentai sexting sext sexts nudes tits titties "
    "boobies bdsm threesome erotica"
).split() + (
    "blow job|blow jobs|hand job|hand jobs|cum shot|gang bang|deep throat|butt plug|jerk off|jerk me off|jerking off"
    "|jack off|jacking off|talk dirty|cum on|cum in|cum inside|cum all over"
).split("|")
_EROTIC_QUALIFIERS = (
    "erotic smutty smut nsfw lewd raunchy pornographic steamy dirty sexy kinky naughty sexual".split()
    + ["x rated", "sexually explicit", "explicit sex", "explicit sexual", "graphic sex", "graphic sexual"]
)
_EROTIC_THINGS = (
    r"(?:story|stories|fan ?fics?|fan ?fiction|role ?play|rp|scenes?|chat|talk|texts?|pics?|pictures?|photos?|images?"
    r"|videos?|fantas(?:y|ies)|novels?|poems?|selfies?|dreams?|acts?)"
)
_DESCRIBE = r"(?:describe|description of|write|tell me|narrate|depict|roleplay) (?:" + _W + "){0,6}?"
_BODY_PARTS = "dick cock pussy clit tits boobs nipples balls penis vagina"
_TOUCH = "suck lick ride stroke touch grab rub finger eat"
_RULES += [
    Rule(SEXUAL, _heads(_EXPLICIT), _alt(_EXPLICIT) + r"\b"),
    Rule(SEXUAL, frozenset({"horny"}), r"horny\b(?! (?:toads?|lizards?|beetles?)\b)"),
    Rule(SEXUAL, frozenset({"cum"}), r"cum\b", head=r"(?:make|made|making) (?:me|you|him|her) ", reach=20),
    Rule(SEXUAL, _heads(_EROTIC_QUALIFIERS), _alt(_EROTIC_QUALIFIERS) + " (?:" + _W + ")?" + _EROTIC_THINGS + r"\b"),
    Rule(
        SEXUAL,
        frozenset({"explicit"}),
        r"explicit (?:photos?|pics?|pictures?|images?|videos?|material|stories|story|role ?play|scenes?)\b",
    ),
    Rule(SEXUAL, frozenset({"sex"}), r"sex (?:with|on|in|while)\b", head=r"(?:have|having|had|has) ", reach=10),
    Rule(SEXUAL, frozenset({"sex"}), r"sex with (?:me|you|him|her|them|my|your|a|an|the|his)\b"),
    Rule(
        SEXUAL,
        frozenset({"fuck", "screw", "bang", "shag", "ride"}),
        r"(?:fuck|screw|bang|shag|ride) (?:you|u|me|him|her)\b",
        head=r"(?:want|wanna|going|gonna|like|love|would|let me|d love|dream of|need) (?:to )?",
        reach=20,
    ),
    Rule(SEXUAL, frozenset({"fuck"}), r"fuck me (?:hard|harder|now|right now|please|all night)\b"),
    Rule(
        SEXUAL,
        frozenset(_TOUCH.split()),
        "(?:" + _TOUCH.replace(" ", "|") + r")(?:ing|s)? (?:my|your|his|her|their) (?:" + _W + ")?"
        r"(?:" + _BODY_PARTS.replace(" ", "|") + r")\b",
    ),
    # describe … sexual acts
    Rule(SEXUAL, frozenset({"sex"}), r"sex\b", head=_DESCRIBE + "(?:having|have|has|oral|anal) ", reach=90),
    Rule(
        SEXUAL,
        frozenset("sex intercourse naked nude sexual genitals privates breasts".split()),
        r"(?:sex acts?|intercourse|naked bod(?:y|ies)|nude bod(?:y|ies)|sexual (?:acts?|encounters?)|genitals|privates"
        r"|breasts)\b",
        head=_DESCRIBE,
        reach=90,
    ),
    Rule(
        SEXUAL,
        frozenset("naked breasts genitals privates".split()),
        r"(?:naked|breasts|genitals|privates)\b",
        head=_DESCRIBE + "(?:her|his|their) ",
        reach=90,
    ),
    Rule(
        SEXUAL,
        frozenset({"nude", "naked"}),
        r"(?:nude|naked) (?:pics?|pictures?|photos?|selfies?|videos?)\b",
        head=r"(?:send|show|give) (?:me )?(?:your )?",
        reach=20,
    ),
]
# a sexual word near a mention of a minor; "sex education", "sexual abuse prevention" and "the
# naked eye" are not sexual words here
_NEAR_MINOR_WORDS = (
    "sexy nude nudes erotic erotica porn porno pornographic pornography undress undressing undressed undresses "
    "lingerie intercourse seduce seducing seduction genitals genital orgasm orgasms masturbate masturbating "
    "masturbation lewd nsfw"
).split()
_RULES += [
    Rule(
        SEXUAL,
        frozenset({"sex"}),
        r"sex\b(?! (?:and the city|pistols|education|ed|ratio|differences?|discrimination|abuse|offenders?|trafficking"
        r"|workers?|chromosomes?|hormones?)\b)",
        near_minor=True,
    ),
    Rule(
        SEXUAL,
        frozenset({"sexual", "sexually"}),
        r"sexual(?:ly)?\b(?! (?:abuse|abused|assault|exploitation|health|orientation|development|harassment|education"
        r"|predators?|offenders?|violence)\b)",
        near_minor=True,
    ),
    Rule(SEXUAL, frozenset(_NEAR_MINOR_WORDS), _alt(_NEAR_MINOR_WORDS) + r"\b", near_minor=True),
    Rule(SEXUAL, frozenset({"naked"}), r"naked\b(?! eye\b)", near_minor=True),
    Rule(SEXUAL, frozenset({"strip", "stripping"}), r"strip(?:ping)? (?:for|naked)\b", near_minor=True),
    Rule(
        SEXUAL,
        frozenset({"explicit"}),
        r"explicit (?:photos?|pics?|pictures?|images?|videos?|content|material)\b",
        near_minor=True,
    ),
]
_MINOR = re.compile(
    r" (?:child|children|childs|kids?|minors?|under ?age|under ?aged|preteens?|pre ?teens?|teens?|teenage|teenagers?"
    r"|school ?girls?|school ?boys?|little (?:girl|boy)s?|toddlers?|infants?|lolis?|lolita|shota|jailbait"
    r"|(?:[1-9]|1[0-7]) ?(?:years? ?old|yo|yrs? ?old|y o)|(?:five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|fourteen|fifteen|sixteen|seventeen) years? old)\b"
)
MINOR_REACH = 80
"""Characters either side of a sexual word searched for a mention of a minor."""

# ----------------------------------------------------------------------------- self-harm

_MYSELF = (
    r"myself\b(?! (?:a|an|some|in the foot|up|free|out|together|off (?:the )?(?:hook|list)|laughing"
    r"|with laughter)\b)"
)
_SELF_VERBS = "kill hang shoot poison drown hurt harm cut burn starve suffocate off"
_SELF_ACT = _any(
    "(?:" + _SELF_VERBS.replace(" ", "|") + ") " + _MYSELF,
    r"commit suicide",
    r"end (?:my|my own) life",
    r"end it all",
    r"take my (?:own )?life",
    r"slit my (?:wrists?|throat)",
    r"overdose",
    r"od\b",
    r"die (?:painlessly|quickly|peacefully|without pain|in my sleep)",
    r"bleed (?:myself )?out",
    r"(?:make|tie) (?:a |my own )?noose",
    r"jump off (?:a|the|this|that|my) (?:" + _W + r")?(?:bridge|roof|building|cliff|balcony|tower)",
)
# the first word of each act above
_SELF_ACT_ANCHORS = frozenset(_SELF_VERBS.split()) | frozenset(
    "commit end take slit overdose od die bleed make tie jump".split()
)
_RULES += [
    Rule(SELF_HARM, _SELF_ACT_ANCHORS, _SELF_ACT, head=_HOW_TO_HEAD, reach=70),
    Rule(
        SELF_HARM,
        _SELF_ACT_ANCHORS,
        _any(_SELF_ACT, r"die\b"),
        head=r"(?:i|im|ive|ill|id) (?:"
        + _W
        + "){0,3}?(?:going to|gonna|want to|wanna|plan to|planning to|intend to|decided to|ready to|about to|will"
        r"|need to|have to|should|might|must) (?:just |finally )?",
        reach=90,
    ),
    Rule(
        SELF_HARM,
        frozenset({"live", "alive", "exist", "wake"}),
        r"(?:live|alive|exist|wake up)\b(?: any ?more| ?$| like this)",
        head=r"(?:dont|do not|no longer) want to (?:be )?",
        reach=30,
    ),
    Rule(
        SELF_HARM,
        frozenset("kill killing hang hanging offing".split()),
        r"(?:kill|killing|hang|hanging|offing) " + _MYSELF,
    ),
    Rule(
        SELF_HARM,
        frozenset({"suicidal"}),
        r"suicidal\b",
        head=r"(?:i|im|ive|i am|feeling|feel) (?:" + _W + r")?",
        reach=40,
    ),
    Rule(
        SELF_HARM,
        frozenset({"kill", "hang", "off"}),
        r"(?:kill|hang|off) yourself\b",
        head=r"(?:go|should|just|please|pls|why dont you) (?:" + _W + r")?",
        reach=40,
    ),
    Rule(SELF_HARM, frozenset({"kys"}), r"kys\b"),
    Rule(
        SELF_HARM,
        frozenset("killed hanged hung shot drowned poisoned".split()),
        r"(?:killed|hanged|hung|shot|drowned|poisoned) " + _MYSELF,
        head=r"if i (?:just )?",
        reach=20,
    ),
    Rule(
        SELF_HARM,
        frozenset("pill pills tablet tablets medication medications meds drug drugs poison dose".split()),
        r"(?:pills?|tablets?|medications?|meds|drugs?|poison|dose)\b(?: [a-z0-9]+){0,5}? to (?:die|kill myself|end it"
        r"(?: all)?)\b",
    ),
    Rule(SELF_HARM, frozenset({"bleed"}), r"bleed out\b", head=r"how (?:" + _W + r"){0,6}?to ", reach=80),
    Rule(
        SELF_HARM,
        frozenset({"suicide"}),
        r"suicide (?:methods?|techniques?)\b",
        head=r"(?:tell|give|show|list|teach|explain) (?:me )?(?:" + _W + r"){0,2}?",
        reach=40,
    ),
    Rule(
        SELF_HARM,
        frozenset({"die", "overdose", "od", "kill"}),
        r"(?:die|overdose|od|kill (?:me|myself))\b",
        head=r"how (?:many|much) (?:" + _W + r"){0,3}?(?:to|would|does|do|will|should) (?:it )?(?:take to )?",
        reach=80,
    ),
]
RULES: tuple[Rule, ...] = tuple(_RULES)
"""Every rule of the built-in classifier."""


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    tail: re.Pattern[str]  # matched at the space before the anchor
    head: re.Pattern[str] | None  # searched so that it ends at that space
    whole: re.Pattern[str]  # head and tail, for the ungated mode


_AtAnchor = tuple[
    str,  # category
    Callable[[str, int], "re.Match[str] | None"],  # the tail's match(line, at)
    Callable[[str, int, int], "re.Match[str] | None"] | None,  # the head's search(line, start, end)
    int,  # reach
    bool,  # near_minor
]


def _compiled(rule: Rule) -> _Compiled:
    return _Compiled(
        rule=rule,
        tail=re.compile(" (?:" + rule.tail + ")"),
        head=re.compile(" (?:" + rule.head + ")$") if rule.head else None,
        whole=re.compile(" (?:" + rule.head + ")(?:" + rule.tail + ")")
        if rule.head
        else re.compile(" (?:" + rule.tail + ")"),
    )


class RuleContentClassifier:
    """The built-in classifier (see the module docstring). Stateless after construction and
    safe to share between threads. ``gated=False`` runs every rule over the whole text (slower;
    the tests compare both ways)."""

    def __init__(self, *, gated: bool = True) -> None:
        self._gated = gated
        self._rules = tuple(_compiled(rule) for rule in RULES)
        # per anchor word: (category, tail.match, head.search or None, reach, near_minor) of its rules
        by_anchor: dict[str, list[_AtAnchor]] = {}
        for c in self._rules:
            entry = (c.rule.category, c.tail.match, c.head.search if c.head else None, c.rule.reach, c.rule.near_minor)
            for anchor in c.rule.anchors:
                by_anchor.setdefault(anchor, []).append(entry)
        self._by_anchor = {anchor: tuple(entries) for anchor, entries in by_anchor.items()}
        self._anchors = frozenset(by_anchor)

    def categories(self, text: str) -> frozenset[str]:
        """The categories of :data:`CATEGORIES` found in ``text`` (names only)."""
        words = _words(text)
        line = " " + " ".join(words) + " "
        found: set[str] = set()
        if not self._gated:
            for c in self._rules:
                if c.rule.category not in found and any(_counts(c.rule, line, m) for m in c.whole.finditer(line)):
                    found.add(c.rule.category)
            return frozenset(found)
        for anchor in self._anchors.intersection(words):
            entries = self._by_anchor[anchor]
            key = f" {anchor} "
            at = line.find(key)
            while at != -1:
                # the rules of this anchor whose tail matches here, then their heads behind it
                for category, tail, head, reach, near_minor in entries:
                    if category in found:
                        continue
                    match = tail(line, at)
                    if match is None or (near_minor and not _near_a_minor(line, match)):
                        continue
                    if head is None or head(line, max(0, at - reach), at + 1) is not None:
                        found.add(category)
                at = line.find(key, at + 1)
        return frozenset(found)


def _counts(rule: Rule, line: str, match: re.Match[str]) -> bool:
    return not rule.near_minor or _near_a_minor(line, match)


def _near_a_minor(line: str, match: re.Match[str]) -> bool:
    # the mention of a minor must be in the same sentence, within MINOR_REACH characters
    start = max(0, match.start() - MINOR_REACH, line.rfind(" | ", 0, match.start()))
    end = line.find(" | ", match.end(), match.end() + MINOR_REACH)
    return _MINOR.search(line, start, match.end() + MINOR_REACH if end == -1 else end + 1) is not None
