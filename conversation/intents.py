"""Understanding a caller's words without a model: intents, synonyms and trained-answer matching.

The scripted provider must answer a caller who never uses the client's trained words (the
client trains ``price_too_high``; the caller says "we can't afford it"), so matching works on
*meaning units*, not raw words (:func:`meaning_units`). Everything here is a pure function of
its input, so a turn is answered the same way every time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

# --- normalisation -------------------------------------------------------------------------------

_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bcan'?t\b|\bcannot\b", "can not"),
        (r"\bwon'?t\b", "will not"),
        (r"\bshan't\b", "shall not"),
        (r"\bain't\b", "is not"),
        (r"\b(do|does|did|is|are|was|were|have|has|had|would|should|could|must|need)n'?t\b", r"\1 not"),
        (r"\bdont\b", "do not"),
        # Speech recognition drops apostrophes: "whats", "thats", "youre".
        (r"\b(what|that|there|here|who|where|how|it)s\b(?<!\bits\b)", r"\1 is"),
        (r"\bits\b", "it is"),
        (r"\b(you|they)re\b", r"\1 are"),
        (r"\b(i|you|we|they)ve\b", r"\1 have"),
        (r"\bdoesnt\b", "does not"),
        (r"\bi'm\b|\bim\b", "i am"),
        (r"'re\b", " are"),
        (r"'ll\b", " will"),
        (r"'ve\b", " have"),
        (r"'d\b", " would"),
        (r"\blet's\b|\blets\b", "let us"),
        (r"\b(it|that|what|there|here|he|she|who|where|how|this)'s\b", r"\1 is"),
        (r"'s\b", ""),
        (r"\ba\.\s?m\.", "am"),
        (r"\bp\.\s?m\.", "pm"),
    )
)
_NOT_KEPT = re.compile(r"[^a-z0-9:$%' ]+")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=2048)
def normalize(text: str) -> str:
    """Lower-case ``text``, expand contractions and keep only words, digits and clock colons.

    One normal form lets every pattern in this package be written once ("do not call" also
    catches "don't call" and "DON'T CALL!").
    """
    lowered = (text or "").lower().replace("\u2019", "'").replace("\u2018", "'").replace("-", " ")
    for pattern, replacement in _CONTRACTIONS:
        lowered = pattern.sub(replacement, lowered)
    lowered = re.sub(r"(?<=\d)\.(?=\d)", ":", lowered)  # "4.30" said the British way
    lowered = _NOT_KEPT.sub(" ", lowered).replace("'", " ")
    return _SPACES.sub(" ", lowered).strip()


def _clauses(text: str) -> list[list[str]]:
    """Split into clauses (negation never reaches across "," or "but"), each a list of words."""
    parts = (normalize(part) for part in re.split(r"[.,;!?]+|\bbut\b", (text or "").lower()))
    return [part.split() for part in parts if part]


def _any(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# --- light stemming and the synonym table -------------------------------------------------------


def stem(word: str) -> str:
    """A deliberately light stem: enough to meet "costs"/"cost", "thinking"/"think".

    It only has to be consistent (both sides of a comparison go through it), not correct
    English, so a few crude rules beat a dependency.
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("ly", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            word = word[: -len(suffix)] + replacement
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # "planned" -> "plan", "running" -> "run"
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


# Concept -> words that carry it. Keep each group tight: a loose synonym here makes unrelated
# talk match a trained objection.
_CONCEPT_WORDS: dict[str, tuple[str, ...]] = {
    "price": (
        "price", "pricing", "priced", "pricey", "overpriced", "cost", "costly", "expensive", "afford",
        "affordable", "budget", "cheap", "cheaper", "money", "fee", "charge", "spend", "dollar", "steep",
        "pay", "payment", "bill", "rate", "buck", "bucks", "grand",
    ),
    "provider": ("provider", "vendor", "supplier", "competitor", "competition", "installer", "contractor"),
    "already": ("already", "current", "currently", "existing"),
    "think": ("think", "consider", "decide", "decision", "mull", "ponder", "reflect", "unsure", "undecided"),
    "send": ("send", "email", "mail"),
    "info": ("information", "info", "brochure", "literature", "website", "material", "pamphlet"),
    "consult": ("wife", "husband", "spouse", "partner", "boss", "board", "landlord", "family"),
    "trust": ("trust", "scam", "legit", "legitimate", "reputation", "review", "skeptical", "fraud", "proof"),
    "busy": ("busy", "swamped", "occupied"),
    "want": ("interested", "interest", "want"),
    "contract": ("contract", "commitment", "commit", "lock", "cancel", "cancellation"),
    "quality": ("quality", "reliable", "reliability", "durable", "warranty", "guarantee"),
    "setup": ("install", "installation", "setup", "onboarding", "implementation"),
}  # fmt: skip

# Concepts whose meaning flips under negation ("interested" vs "not interested").
_POLAR_CONCEPTS = frozenset({"want", "busy"})
# Words that only mean something when negated: "we don't need it" is a refusal, "need" alone is not.
_NEGATED_ONLY = {"need": "want", "like": "want"}
_NEGATORS = frozenset({"not", "no", "never", "nothing", "nobody", "neither", "nor", "without"})
_NEGATION_REACH = 3  # words after a negator that it still covers
# "I don't think so" / "I don't believe we can" hedge; they are not about thinking it over.
_HEDGES = frozenset({"think", "believe", "suppose"})

# Fixed phrases that carry a concept the single words do not ("another company" is a provider).
_CONCEPT_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), concept)
    for pattern, concept in (
        (r"\b(another|other|different|a different) (company|provider|vendor|supplier|service|firm|agency|one)\b",
         "provider"),
        (r"\b(someone|somebody) else\b", "provider"),
        (r"\balready (have|use|using|got|work with|working with|signed|go with|with)\b", "provider"),
        (r"\b(happy|satisfied|fine|content|good) with (our|my|the|what|who|them|current)\b", "provider"),
        (r"\b(we|i) (use|are using|am using|work with|go with|buy from)\b", "provider"),
        (r"\btoo (much|high|steep)\b", "price"),
        (r"\b(that|so|this) (much|expensive|pricey)\b|\b(that is|it is|is|seems|sounds like) (quite |a bit "
         r"|way )?a lot\b",
         "price"),
        (r"\bout of (our|my|the) (budget|price range|range|league)\b", "price"),
        (r"\bbreak the bank\b|\bcash is tight\b|\bmoney is tight\b", "price"),
        (r"\bsleep on it\b|\bthink (it|this|that) (over|through)\b|\bget back to you\b", "think"),
        (r"\b(need|want|give me|take) (some|more|a little|a bit of)? ?time\b|\bnot (so |too )?sure\b", "think"),
        (r"\b(no|not have|not have any|not have the|not got) time\b|\bnot a good time\b|\bbad time\b", "busy"),
        (r"\bnot (really )?(for|right for) (me|us)\b|\bno thanks?\b|\bno thank you\b|\b(i|we) will pass\b",
         "not_want"),
        (r"\bno need\b|\bnot looking\b", "not_want"),
        (r"\b(talk|speak|check|discuss|consult|run (it|this|that) by)( it| this| that)? (to|with|by)? ?(my|our) ",
         "consult"),
        (r"\bdecision maker\b|\bnot (my|up to me)\b|\bnot my (call|decision)\b", "consult"),
        (r"\bin writing\b", "info"),
        (r"\btoo good to be true\b|\bnever heard of\b", "trust"),
    )
)  # fmt: skip

_STOPWORDS = frozenset(
    (
        "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
        "because", "been", "being", "both", "by", "can", "could", "did", "do", "does", "doing", "for", "from", "had",
        "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it",
        "its", "itself", "just", "me", "more", "most", "my", "myself", "of", "off", "on", "once", "only", "or", "other",
        "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the",
        "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
        "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why",
        "will", "with", "would", "you", "your", "yours", "yourself", "ok", "okay", "yeah", "yes", "yep", "um", "uh",
        "uhm", "er", "hmm", "oh", "well", "like", "really", "actually", "right", "now", "thing", "things", "something",
        "anything", "everything", "stuff", "kind", "sort", "lot", "lots", "much", "many", "get", "got", "go", "going",
        "gonna", "wanna", "let", "us", "say", "said", "tell", "know", "see", "look", "mean", "guess", "maybe", "pretty",
        "quite", "still", "even", "way", "time", "times", "today", "high", "please", "thanks", "thank", "hi", "hello",
        "hey", "sir", "madam", "business", "businesses", "company", "companies", "customer", "customers", "client",
        "clients", "product", "products", "service", "services", "people", "help", "understand", "great", "good",
        "sure", "many", "most", "find", "one", "two", "make"
    )
)  # fmt: skip


def _word_units() -> dict[str, str]:
    table: dict[str, str] = {}
    for concept, words in _CONCEPT_WORDS.items():
        for word in words:
            table[word] = concept
            table[stem(word)] = concept
    return table


_WORD_CONCEPT = _word_units()


@lru_cache(maxsize=2048)
def meaning_units(text: str) -> frozenset[str]:
    """The set of concepts and content stems ``text`` is about.

    - the text is normalised (lower case, contractions expanded: "can't" -> "can not");
    - short phrases with a fixed meaning become a concept first ("another company" -> ``provider``,
      "sleep on it" -> ``think``), then single words go through a small synonym table
      ("expensive", "afford", "budget" -> ``price``), and any other word is reduced to a light stem;
    - stopwords and words every sales call is full of ("business", "customer") are dropped, so two
      sentences only match on what carries meaning;
    - negation matters only where it flips the meaning: "interested" and "not interested" are
      different units (``want`` / ``not_want``); "can't afford" is simply about ``price``.
    """
    units: set[str] = set()
    normalized = normalize(text)
    for pattern, concept in _CONCEPT_PHRASES:
        if pattern.search(normalized):
            units.add(concept)
    for words in _clauses(text):
        negated_until = -1
        for index, word in enumerate(words):
            if word in _NEGATORS:
                negated_until = index + _NEGATION_REACH
                continue
            negated = index <= negated_until
            if word in _NEGATED_ONLY:
                if negated:
                    units.add("not_" + _NEGATED_ONLY[word])
                continue
            if word in _STOPWORDS or not word.isalpha() or (negated and word in _HEDGES):
                continue
            concept = _WORD_CONCEPT.get(word) or _WORD_CONCEPT.get(stem(word))
            if concept is None:
                units.add(stem(word))
            elif concept in _POLAR_CONCEPTS and negated:
                units.add("not_" + concept)
            else:
                units.add(concept)
    return frozenset(units)


# --- intents: fixed patterns on the normalised text ---------------------------------------------

_SCHEDULING_WORDS = (
    r"before|after|until|till|at|on|during|between|in|tomorrow|today|tonight|this|next|right now|now|yet|"
    r"back (later|tomorrow|next|in|on|at)|later|so early|so late|this early|this late"
)
_LIST_TARGET = r"(me|us|my (phone |cell |mobile )?number|my name|my details|my info|this number|this line|this phone)"
_SALES_CALLS = r"(sales|solicitation|marketing|telemarketing|cold|robo|spam) ?calls?"
# Opt-outs phrased with a verb a negation can flip ("stop calling" / "I never said stop calling").
_OPT_OUT_FLIPPABLE = tuple(
    re.compile(pattern)
    for pattern in (
        r"\b(stop|quit|cease) (calling|contacting|phoning|ringing|bothering|texting)\b",
        r"\bcease and desist\b",
        r"\bstop with (the|these|your) calls\b|\benough with (the|these|your) calls\b",
        rf"\b(take|get|scratch|cross|strike|knock) {_LIST_TARGET} off\b",
        rf"\b(remove|delete|erase) {_LIST_TARGET}\b",
        r"\b(want|need|like) (to be )?off (your|the|this|that|whatever) (\w+ )?list\b",
        r"\b(be|get|being|been) (removed|taken off|unsubscribed)\b",
        r"\b(number|phone|line)\b.*\b(remove|delete) (it|that)\b|\b(number|phone|line)\b.*\btake (it|that) off\b",
        r"\b(taken|removed|deleted|wiped) (off|from) (your|the|this|that) (\w+ )?(list|database|system|records|file)\b",
        r"\bunsubscribe (me|us)\b|\bunsubscribe$|^unsubscribe\b|\bopt (me |us )?out\b|\blose (my|this|our) number\b",
        r"\bput (me|us|this number) on (the|your|a) do not call\b",
        r"\b(add|put) (me|us|this number) to (the|your|a) do not call\b",
        r"\b(want|like|need) to be on (the|your|a) do not call\b",
    )
)
# Opt-outs that carry their own negation ("don't call me again", "no more calls").
_OPT_OUT_NEGATIVE = tuple(
    re.compile(pattern)
    for pattern in (
        rf"\b(do not|never|can you not|could you not) (ever )?(call|contact|phone|ring) (me|us|this number|here)\b"
        rf"(?! ({_SCHEDULING_WORDS})\b)",
        r"\b(do not|never|can you not|could you not) (ever )?(call|contact|phone|ring)( me| us| this number| here)? "
        r"(again|anymore|ever|back)\b(?! (before|after|until|till|at|on|in|tomorrow|today|tonight|this|next)\b)",
        r"\b(do not|never) (call|ring|phone) (it|this line|this phone|this number|here|us|me) (for|with) (sales"
        r"|marketing)",
        r"\bdo not call (list|registry)\b|\bdo not call$",
        r"\b(do not|never) want (any )?(more |your |these )?(calls|you to call|you (calling|phoning|ringing"
        r"|contacting))\b",
        r"\b(do not|never) want to hear from (you|your company|you people|you guys) again\b",
        rf"\bno (more )?calls\b|\bno (more )?{_SALES_CALLS}\b|\b(do not|not) (accept|take|want"
        rf"|allow) (any )?{_SALES_CALLS}\b",
        r"\bsick (and tired )?of (these|your|the|all these) calls\b",
        r"\bleave me alone\b|\bhow many times do i have to tell you\b|\b(i will|going to) report you\b",
        r"\bthis is harassment\b|\bno (telemarketing|telemarketers|solicitation|solicitors)\b",
        r"\b(do not|never) want to be (contacted|called|phoned|rung|bothered) (again|anymore|ever)\b",
    )
)
# "I never said stop calling", "no need to take me off", "you don't have to stop calling":
# a negator followed only by these frame words, right before the opt-out, turns it around.
_OPT_OUT_FLIP = re.compile(
    r"\b(do not|does not|did not|not|never|no need to|no reason to|who said anything about)"
    r"( (please|really|ever|even|you|i|we|if|whether|was|were|be|get|being|need to|have to|want(ed)? (you )?to|"
    r"ask(ed|ing)?( you)?( to)?|say|said|going to|to))*"
    r" $"
)
# Said in the same breath, these mean the caller is *not* asking for no calls.
_OPT_OUT_CANCELLED = re.compile(
    r"\b(you are fine|you can (still |keep )?(call|ring)|keep calling|do not mind (the |your )?calls|"
    r"call (me )?(on )?my (cell|mobile|other number|work number|landline|office)|"
    r"not on (the|any|a|your) (national )?do not call|do not call list of my)\b"
)
_PERSON = (
    r"(real |live |actual |human )?(person|human|human being|manager|supervisor|representative|rep|"
    r"operator|agent|staff member|salesperson|sales rep|team member|advisor|adviser|specialist|consultant|colleague)s?"
)
_TRANSFER = _any(
    (
        rf"\b(talk|speak|chat|connect|transfer|put|get|want|need|like|reach)\b(?:(?!\bmy\b).){{0,30}}?"
        rf"\b(a|an|the|your|to|with|some|one of your) {_PERSON}\b",
        rf"\b{_PERSON} (i|we) can (talk|speak) (to|with)\b",
        r"\b(talk|speak) (to|with) (someone|somebody) (real|in charge|from your|at your|who works)\b",
        r"^((a|the|your) )?(real person|live person|human|representative|operator|agent|manager)( please)?$",
        r"\b(connect|transfer|put|pass|patch) (me|us) (through )?(to|with) (your|the|a|an|some|someone|somebody|sales|"
        r"customer service|support|billing)\b",
        r"\b(put|patch) (me|us) through\b|\b(connect|transfer) (me|us)( now| right now| please)?$",
        r"\b(give|get) me (someone|somebody) (real|else|human)\b",
        r"\bis there (anyone|anybody|someone|somebody|a (real )?(human|person))( there)? (i|we) can (actually "
        r"|really )?"
        r"(talk|speak) (to|with)\b",
    )
)
_ASKS_IF_AI = _any(
    (
        r"\bare (you|u) (a |an )?(real |actual |live )?(person|human|robot|bot|machine|computer|ai|artificial|"
        r"recording|automated|real)\b",
        r"\bis this (a |an )?(robot|bot|recording|automated|ai|machine|computer|real person|human|recorded)\b",
        r"\b(am i|are we) (talking|speaking) (to|with) (a |an )?(robot|bot|machine|computer|real person|human|ai)\b",
    )
)
_ASKS_IDENTITY = _any(
    (
        r"\bwho (is this|are you|is calling|is speaking|am i (talking|speaking) (to|with))\b",
        r"\bwhat company\b|\bwhich company\b|\bwhere (are you|is this) calling from\b",
        r"\bwhy are you calling\b|\bwhat is this (about|regarding)\b|\bwhat are you calling (about|for)\b",
        r"\bwho did you say\b",
    )
)
_CALLBACK = _any(
    (
        r"\bcall (me |us )?(back|later|again|another time|some other time|tomorrow|tonight|next|in |on |at |"
        r"this |around |after |when )",
        r"\bcall back\b|\bcallback\b|\bcall me$|\b(i|we) will call (you|ya) back\b",
        r"\b(ring|phone|reach|try|catch|contact) (me|us) (back|later|again|tomorrow|another|next|in |on |at |this )",
        r"\btry (me )?(again )?later\b|\btry again\b",
        r"\b(talk|speak|chat) (later|another time|some other time|tomorrow|next week)\b",
        r"\bgive (me|us) a (call|ring)\b",
        r"\b(can|could|would) you (call|ring|phone)\b",
        r"\b(another|some other|a different|a better) time\b",
    )
)
_BUSY = _any(
    (
        r"\b(i am|we are|i am a bit|i am kind of|i am really|i am very|i am pretty|i am too|kind of|bit) busy\b",
        r"\bbusy (right )?now\b|\bbusy at the moment\b|\bbusy$",
        r"\bin (a|the middle of a|the middle of) (meeting|call|something)\b|\b(i am |i am just )?driving\b",
        r"\bnot a good time\b|\bbad time\b|\bcan not (really )?talk (right )?(now|at the moment)?\b",
        r"\bon the other line\b|\b(i am|we are) at work\b|\bat work right now\b|\bwith a customer\b"
        r"|^not (right )?now\b",
    )
)
_REFUSAL = _any(
    (
        r"\bno thanks?\b|\bno thank you\b|\bnot (really |very |at all |that |even )?interested\b",
        r"\b(i|we) will pass\b|\bnot for (me|us)\b|\bno need\b|\bnot looking\b",
        r"\b(do not|not) (really )?(want|need) (it|this|that|any|your|one)\b",
        r"\b(i|we) do not think so\b|\b(i|we) do not think (i|we) (need|want)\b",
        r"\bwe are (good|fine|all set)\b|\bi am (good|fine|all set)( thank| thanks|$)",
        r"\b(i|we) will (skip|give it a miss|sit this one out|pass)\b|\bgive (it|this|that) a miss\b|"
        r"\b(skip|pass on) (it|this|that)\b",
        r"\bnot (really )?(our|my) (thing|cup of tea)\b|\bnot in the market\b|\b(have|got) to say no\b",
        r"\b(i|we) (am |are )?(gonna|going to) (pass|hold off|give it a miss|skip)\b|\bhold off on\b",
        r"^not at the moment( thanks| thank you)?$|\bnot something (we|i) (need|want)\b",
    )
)
_PLAIN_NO = re.compile(r"^(no|nope|nah|not now|not right now)$")
_GOODBYE = _any(
    (
        r"\b(good ?bye|bye|bye bye|see you|see ya|take care)\b",
        r"\bthat is (all|it|everything)( for now| thank| thanks|$)|\bthat will be all\b|\bnothing else\b",
        r"\bhave a (good|nice|great|wonderful|lovely) (day|one|evening|night|afternoon|weekend)\b",
        r"\bi (have|need) to go\b|\bi got to go\b|\bgotta go\b|\b(talk|speak) to you (later|soon)\b",
    )
)
_CONVERTED = _any(
    (
        r"\bsign (me|us) up\b|\b(i|we) will take (it|one|them)\b|\blet us do (it|this|that)\b",
        r"\bcount (me|us) in\b|\b(i am|we are) in$|\b(i|we) will buy\b|\blet us go (ahead|for it)\b",
        r"\bgo ahead and (sign|set|book)\b|\bi am sold\b|\b(book|set) (me|us) up\b",
        r"\b(it is a|that is a|you have a|you have got a|we have a|sounds like a) deal\b|^deal$",
    )
)
_HOT = _any(
    (
        r"\bhow (do|can|would|should) (i|we) (buy|sign up|get started|order|purchase|subscribe|start|get it|pay|"
        r"proceed|get one|move forward)\b",
        r"\b(ready|want|like|love|wanna|keen) to (buy|sign up|get started|order|purchase|start|move forward|proceed|"
        r"go ahead|try it)\b",
        r"\bwhere do (i|we) sign\b|\bwhat (is|are) the next steps?\b|\bhow soon can (we|i) (start|get)\b",
        r"\bsend (me|us) (the )?(contract|invoice|paperwork|agreement)\b",
        r"\b(can|could|shall) (we|i|you) (set (it|this|that|me|us) up|get (it|this|that|me|us) (set up|installed"
        r"|going))\b",
    )
)
_WARM = _any(
    (
        r"\bsounds (pretty |really |very |quite |actually )?(good|great|interesting|nice|promising|cool|amazing"
        r"|perfect|"
        r"fair|reasonable)\b",
        r"\b(i am|we are|i would be|we would be|i might be|we might be|i could be|could be|may be|might be) "
        r"(very |really |definitely |quite |pretty |somewhat |a bit |a little )?interested\b",
        r"\btell me more\b|\bgo on\b|\bi am listening\b|\bwhat else\b|\bi like (that|it|the sound|what)\b",
        r"\b(that is|it is|that sounds|it sounds|this sounds) (really |very |pretty )?(interesting|great|cool|nice|"
        r"good|helpful|useful|appealing)\b",
        r"\binteresting\b|\bi am curious\b",
        r"\b(something|exactly what|just what) (we|i) (need|want|have been looking for)\b",
        r"\b(we|i) (need|could use|could do with) (something like (this|that)|this|that|one)\b",
        r"\b(we|i) (have been|were|are|was) (just )?(looking (into|at|for)|thinking about|talking about|considering)\b",
        r"\byou have (got )?my attention\b|\bkeep going\b|\bcarry on\b|\btell me (about it|about that|more)\b",
        r"\b(would be|could be|might be|sounds|that is|it is) (really |very |so |quite |pretty )?(useful|helpful"
        r"|handy)\b",
    )
)
_AFFIRMATIVE = re.compile(
    r"^(yes|yeah|yep|yup|yea|sure|ok|okay|absolutely|definitely|of course|please do|go ahead|why not|"
    r"alright|all right|sounds good|certainly|correct|that is right|i would like that|please)\b"
)
_QUESTION_START = re.compile(
    r"^(what|how|why|when|where|who|which|tell me|i would like to know|i want to know|i wonder|"
    r"i was wondering|any idea)\b|^(do|does|did|is|are|can|could|would|will|should|may|have|has)\b(?! not\b)"
)
_CONTENT_QUESTION = re.compile(r"^(what|how|why|when|where|who|which|is there|are there|do you|does it|can it)\b")
_NEGATION_BEFORE = re.compile(r"\b(not|no|never|hardly)( \w+)?( \w+)? $")

_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "pricing",
        _any(
            (
                r"\bhow much\b",
                r"\b(price|prices|pricing|cost|costs|fee|fees|rates?|plans?|packages?|charge|monthly|payment)\b",
                r"\brun (me|us)\b|\bset (me|us) back\b|\bthe damage\b|\bwhat kind of money\b|\bhow much money\b"
                r"|\bprice ?wise\b",
                r"\b(pay|payment|paying|cost) (up ?front|down)\b|\bup ?front\b|\bdown payment\b",
            )
        ),
    ),
    (
        "features",
        _any(
            (
                r"\bfeatures?\b|\bfunctionality\b|\bcapabilit(y|ies)\b|\bspecs?\b",
                r"\bwhat can (it|this|that|the \w+|your \w+) do\b",
                r"\bwhat do you (offer|provide|have)\b|\bwhat is included\b|\bwhat comes with\b",
                r"\bwhat do (i|we) get\b|\bwhat (is|comes) in (the box|the package)\b|\bwhat is in it$",
                r"\bdoes it (have|include|come with|support|integrate)\b",
            )
        ),
    ),
    (
        "benefits",
        _any(
            (
                r"\bbenefits?\b|\badvantages?\b|\bwhy should (i|we)\b|\bwhat is in it for\b",
                r"\bhow (does|would|will|can|could) (it|this|that) help\b|\bwhy (would|do) (i|we) need\b",
                r"\bwhat is the (point|value)\b|\bwhy (is it|is this) (better|worth)\b",
                r"\bwhy (would|should|do|would not) (i|we) (want|need|buy|get|bother|switch)\b",
                # "What makes you different?": answered from what the training says sets it apart.
                r"\bwhat makes (you|it|this|that|your \w+) (any )?(different|better|special|stand out)\b",
                r"\bhow (are|is) (you|it|this|that|your \w+) (any )?(different|better)\b|\bwhy (choose|pick) you\b",
            )
        ),
    ),
    (
        "description",
        _any(
            (
                r"\bwhat (is|are) (it|this|that|you selling|the product|your product|you offering)\b",
                r"\bwhat do you (guys |folks |people |all )?(sell|do)\b|\bwhat does your (company|business|firm) do\b",
                r"\bwhat (exactly )?(is it|are you) (you are |you )?(exactly )?(selling|offering)\b"
                r"|\bwhat is the product\b",
                r"\bwhat is your (company|business|product|firm|service)( about)?$",
                r"\bwhat (does|will|would) (it|this|that|the \w+|your \w+) (actually |really |exactly )?do\b",
                r"\bhow does (it|this|that) (actually |really )?work\b",
                r"\btell me about (it|this|the product|your product|your company|you|that)\b",
                r"\bwhat is this (product|service|offer)\b|\bwhat are you offering\b",
            )
        ),
    ),
)
# Complaint words turn "the price" from a question into an objection ("the price is too high").
_COMPLAINT = re.compile(
    r"\btoo (much|high|expensive|steep|pricey)\b|\bafford\b|\bbudget\b|\boverpriced\b|\bexpensive\b|"
    r"\bpricey\b|\bcheaper\b|\bripoff\b|\brip off\b|\b(that|so) (much|expensive)\b|\ba lot\b|\bjustify\b|"
    r"\btight\b|\b(go|goes|going) up\b|\bno way\b|\bcan not (pay|spend)\b"
)


def _matches_without_negation(pattern: re.Pattern[str], text: str) -> bool:
    """True when ``pattern`` occurs in ``text`` and is not preceded by a negator ("not good")."""
    text = re.sub(r"\bwhy not\b", "why yes", text)  # "sure, why not" agrees (same length: offsets hold)
    return any(not _NEGATION_BEFORE.search(text[: found.start()]) for found in pattern.finditer(text))


def is_opt_out(text: str) -> bool:
    """The caller asked not to be called again. Checked before anything else: the law says stop.

    Opting out is a legal matter both ways: a missed one risks fines, a false one loses a
    customer. So an opt-out verb right after a negation frame ("I didn't ask to be removed",
    "no need to take me off anything") does not count, nor does one said together with a
    permission ("don't call this number, call my cell").
    """
    normalized = normalize(text)
    if _OPT_OUT_CANCELLED.search(normalized):
        return False
    for pattern in _OPT_OUT_FLIPPABLE:
        if any(not _OPT_OUT_FLIP.search(normalized[: found.start()]) for found in pattern.finditer(normalized)):
            return True
    for pattern in _OPT_OUT_NEGATIVE:
        for found in pattern.finditer(normalized):
            if not re.search(
                r"\b(never|did not|not) (said|say|ask|asked|asking)( you)?( to)? $", normalized[: found.start()]
            ):
                return True
    return False


def wants_human(text: str) -> bool:
    """The caller asked to speak with a person (not merely asked whether we are one)."""
    return bool(_TRANSFER.search(normalize(text)))


def asks_if_ai(text: str) -> bool:
    """ "Are you a robot?": always answered honestly."""
    return bool(_ASKS_IF_AI.search(normalize(text)))


def asks_identity(text: str) -> bool:
    """ "Who is this?", "what company?", "what is this about?"."""
    return bool(_ASKS_IDENTITY.search(normalize(text)))


def asks_for_callback(text: str) -> bool:
    """The caller asked to be called at another time ("call me back tomorrow")."""
    return bool(_CALLBACK.search(normalize(text)))


def is_busy(text: str) -> bool:
    """The caller cannot talk now ("I'm busy right now", "I'm driving")."""
    return bool(_BUSY.search(normalize(text)))


_PLEASANTRY = re.compile(r"\bhow (are|about) you\b|\bhow is (it going|your day)\b|\band (you|yourself)$")


def is_refusal(text: str) -> bool:
    """A plain no to the offer ("no thanks", "not interested", "we'll give it a miss").

    "I'm good, thanks, how are you?" answers a greeting; it refuses nothing.
    """
    normalized = normalize(text)
    return bool(_REFUSAL.search(normalized)) and not _PLEASANTRY.search(normalized)


def is_plain_no(text: str) -> bool:
    """A bare "no": an answer to the last question, not necessarily a refusal of the offer."""
    return bool(_PLAIN_NO.match(normalize(text)))


_VOICEMAIL = _any(
    (
        r"\b(after|at) the (tone|beep)\b",
        r"\b(leave|record) (a|your) (brief |short |detailed |quick )?(message|name|voicemail)\b",
        r"\byou have reached\b|\bthe voice ?mail (of|box)\b|\bvoice ?mail ?box\b|\bvoice messaging system\b",
        r"\bmailbox is full\b",
        r"\bthe (person|number|party|subscriber|wireless customer|customer|mobile customer) you (are calling|have "
        r"(dialed|dialled|called|reached))\b",
    )
)
_CALL_VERB = re.compile(
    r"\b(call|ring|phone|buzz|reach|try|catch|contact) (me|us)\b|\bgive (me|us) a (call|ring|buzz|bell|shout)\b|"
    r"\bcall (back|again)\b"
)


def is_voicemail_greeting(text: str) -> bool:
    """An answering machine's greeting read out as speech ("you've reached John, leave a message
    after the tone"): answering-machine detection missed it, so it must not be pitched to."""
    return bool(_VOICEMAIL.search(normalize(text)))


def mentions_calling_me(text: str) -> bool:
    """ "call me", "give me a ring", "try us": with a time, the caller is booking a callback."""
    return bool(_CALL_VERB.search(normalize(text)))


_HEARING_CHECK = re.compile(r"\b(can|do) you hear me\b|\bare you (still )?there\b|^hello$|^hello hello$")
_WILL_CALL_BACK = re.compile(r"\b(i|we) will (call|ring|phone) (you|ya) (back|later)\b|\b(i|we) will call back\b")


def is_hearing_check(text: str) -> bool:
    """ "Can you hear me?", "hello?": the line, not the offer, is in question."""
    return bool(_HEARING_CHECK.search(normalize(text)))


def will_call_back(text: str) -> bool:
    """The caller says *they* will call us back ("I'll call you back")."""
    return bool(_WILL_CALL_BACK.search(normalize(text)))


def is_goodbye(text: str) -> bool:
    """The caller is done ("bye", "that's all", "have a good day")."""
    return bool(_GOODBYE.search(normalize(text)))


def is_affirmative(text: str) -> bool:
    """The utterance starts with a yes ("yes", "sure", "okay, go ahead")."""
    return bool(_AFFIRMATIVE.match(normalize(text)))


_FILLERS = re.compile(r"^((um|uh|uhm|er|erm|hmm|so|ok|okay|well|and|yeah|oh|alright|right|like|actually|just|but) )+")
_QUESTION_INSIDE = re.compile(
    r"\b(what|how|why|which) (is|are|was|do|does|did|would|will|can|could|about|kind|sort|much|long|many|exactly)\b"
)


def without_fillers(text: str) -> str:
    """The normalised words without the "um, so, okay" a spoken sentence starts with."""
    return _FILLERS.sub("", normalize(text))


def is_question(text: str) -> bool:
    """Asked as a question: a question mark, a question word at the start (after the fillers
    speech recognition keeps), or a question after a discourse marker ("hold on, what is...")."""
    if "?" in (text or ""):
        return True
    words = without_fillers(text)
    return bool(_QUESTION_START.match(words) or _QUESTION_INSIDE.search(words))


def is_content_question(text: str) -> bool:
    """A question that asks for information ("what...", "is there..."), not "can you hear me"."""
    words = without_fillers(text)
    return bool(_CONTENT_QUESTION.match(words) or _QUESTION_INSIDE.search(words))


def is_complaint(text: str) -> bool:
    """Words that make a price remark an objection rather than a question."""
    return bool(_COMPLAINT.search(normalize(text)))


def interest_signal(text: str) -> str | None:
    """The interest level the caller's words show: "converted", "hot", "warm" or None.

    Only positive signals are read here; a refusal is its own intent, and a neutral sentence
    returns None so interest is never lowered by accident.
    """
    normalized = normalize(text)
    if _matches_without_negation(_CONVERTED, normalized):
        return "converted"
    if _matches_without_negation(_HOT, normalized):
        return "hot"
    if _matches_without_negation(_WARM, normalized) and not is_refusal(normalized):
        return "warm"
    return None


def product_topic(text: str) -> str | None:
    """Which part of the product the caller asks about: pricing, features, benefits or description.

    Only questions count, and a price remark with a complaint in it ("it costs too much") is
    an objection, not a pricing question.
    """
    if not is_question(text):
        return None
    normalized = normalize(text)
    for topic, pattern in _TOPICS:
        if pattern.search(normalized):
            if topic == "pricing" and is_complaint(normalized):
                return None
            return topic
    return None


# --- matching trained objections and FAQ ----------------------------------------------------------

KEY_WEIGHT = 3  # a unit of the objection key itself ("price" in price_too_high)
ANSWER_WEIGHT = 1  # a unit that only the trained answer text mentions
MIN_OBJECTION_SCORE = 3  # one key unit, or three answer units: random talk scores 0-2
_WEAK_KEY_UNITS = frozenset({"already"})  # "I already told you" is not a provider objection

# Built-in objection kinds, by the slug the client would most likely have trained them under.
# Used to record an objection the client never trained, and to match a trained key by its slug.
BUILTIN_OBJECTIONS: dict[str, frozenset[str]] = {
    "price_too_high": frozenset({"price"}),
    "already_have_provider": frozenset({"provider"}),
    "need_to_think": frozenset({"think"}),
    "send_info": frozenset({"send", "info"}),
    "need_to_consult": frozenset({"consult"}),
    "trust_concern": frozenset({"trust"}),
    "contract_concern": frozenset({"contract"}),
    "not_interested": frozenset({"not_want"}),
    "no_time": frozenset({"busy"}),
}


@dataclass(frozen=True)
class ObjectionMatch:
    key: str
    score: int


def _key_text(key: str) -> str:
    return re.sub(r"[_\-]+", " ", key)


def objection_score(text: str, key: str, answer: str) -> int:
    """How strongly ``text`` is about the trained objection ``key`` (see :func:`match_objection`)."""
    return _objection_score(meaning_units(text), key, answer)


def _objection_score(utterance_units: frozenset[str], key: str, answer: str) -> int:
    key_units = meaning_units(_key_text(key))
    answer_units = meaning_units(answer) - key_units
    score = 0
    for unit in utterance_units & key_units:
        score += ANSWER_WEIGHT if unit in _WEAK_KEY_UNITS else KEY_WEIGHT
    return score + ANSWER_WEIGHT * len(utterance_units & answer_units)


def match_objection(text: str, objection_responses: Mapping[str, str]) -> ObjectionMatch | None:
    """The trained objection ``text`` is about, scored on meaning units, or None.

    Score = 3 per unit shared with the key (1 for weak ones such as "already") + 1 per unit
    shared only with the trained answer; below :data:`MIN_OBJECTION_SCORE` nothing matches,
    so small talk never triggers a canned rebuttal. Ties go to the key trained first.
    """
    units = meaning_units(text)
    if not units:
        return None
    best: ObjectionMatch | None = None
    for key, answer in objection_responses.items():
        score = _objection_score(units, key, answer or "")
        if score >= MIN_OBJECTION_SCORE and (best is None or score > best.score):
            best = ObjectionMatch(key=key, score=score)
    return best


def is_concept(unit: str) -> bool:
    """A meaning unit that stands for a concept ("price", "not_want"), not a plain word stem."""
    return unit in _CONCEPT_WORDS or unit.startswith("not_") or unit in ("consult", "not_want")


def is_price_remark_only(text: str, key: str, answer: str) -> bool:
    """Matched a price objection ``key`` on a price word with no complaint: "our bill is two
    hundred a month" states a fact, "that's a lot for us" objects."""
    return "price" in meaning_units(_key_text(key)) and "price" in meaning_units(text) and not is_complaint(text)


def builtin_objection(text: str) -> str | None:
    """The built-in objection kind ``text`` raises (see :data:`BUILTIN_OBJECTIONS`), or None."""
    units = meaning_units(text)
    for slug, needed in BUILTIN_OBJECTIONS.items():
        if units & needed:
            return slug
    return None


@dataclass(frozen=True)
class FaqMatch:
    question: str
    answer: str
    overlap: int
    coverage: float  # share of the FAQ question's units the caller used

    @property
    def strong(self) -> bool:
        """Clear enough to prefer over the generic product facts."""
        return self.overlap >= 2 or self.coverage >= 1.0


def match_faq(text: str, faq: Mapping[str, str]) -> FaqMatch | None:
    """The trained FAQ entry whose question shares the most meaning units with ``text``.

    A match needs at least half of the FAQ question's units (or two of them); ties go to the
    entry trained first, so the same words always get the same answer.
    """
    units = meaning_units(text)
    best: FaqMatch | None = None
    for question, answer in faq.items():
        question_units = meaning_units(question)
        if not question_units or not answer:
            continue
        overlap = len(units & question_units)
        coverage = overlap / len(question_units)
        if overlap == 0 or (overlap < 2 and coverage < 0.5):
            continue
        candidate = FaqMatch(question=question, answer=answer, overlap=overlap, coverage=coverage)
        if best is None or (overlap, coverage) > (best.overlap, best.coverage):
            best = candidate
    return best
